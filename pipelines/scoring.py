"""Nightly scoring: every invoice open at a date scored by the champion, customers ranked into the
collectors' worklist, reasons for the rows people read, stored in `scoring.*` and published.

A run either publishes a complete, consistent set of files or leaves the previous ones in place:
inputs are checked first (refused with the reasons, non-zero exit), the files are written into a
fresh folder, the tables are replaced in one transaction, and the date's folder is switched to
the new one in a single rename (pipelines/publish.py). One run at a time: a lock file beside the
warehouse.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import pandas as pd

from features.catalog import CATEGORICAL_FEATURES
from features.runner import build_features
from models.explain import top_reasons
from models.worklist import (
    REASON_COLUMNS,
    WorklistPolicy,
    plan_invoices,
    rank_customers,
    todays_list,
)
from pipelines import jobs, publish, report, tracking
from pipelines.ingest import IngestError, LoadResult
from pipelines.settings import Settings
from pipelines.warehouse import connect


class RefusedToPublish(RuntimeError):
    """The inputs look broken: the run stops before publishing and says why."""


class RunLocked(RuntimeError):
    """Another latepay scoring run holds the lock."""


@dataclass
class ScoreResult:
    as_of: date
    run_id: str
    model_version: str
    invoices_scored: int
    worklist: pd.DataFrame = field(repr=False)  # every customer with open invoices, ranked
    published: pd.DataFrame = field(repr=False)  # today's list: the capacity cut
    output_dir: Path
    scores: pd.DataFrame = field(repr=False)  # one row per open invoice, with its plan

    @property
    def worklist_path(self) -> Path:
        return self.output_dir / "worklist.csv"


@dataclass
class NightlyResult:
    loads: list[LoadResult]
    moved_to: Path | None
    score: ScoreResult


def policy(settings: Settings) -> WorklistPolicy:
    return WorklistPolicy(
        capacity_per_collector=settings.capacity_per_collector,
        high_risk_threshold=settings.high_risk_threshold,
        annual_interest_rate=settings.late_interest_rate,
        recovery_fee=settings.recovery_fee,
    )


@contextmanager
def run_lock(settings: Settings) -> Iterator[None]:
    """Hold `<warehouse>.lock` for the length of a run; a second run fails at once, clearly."""
    path = Path(f"{settings.warehouse_path}.lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            raise RunLocked(
                f"another latepay run holds {path} ({holder}); wait for it to finish and run "
                "again (two runs at once could publish a mixed list)"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}, started {datetime.now():%Y-%m-%d %H:%M:%S}")
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle, fcntl.LOCK_UN)


def check_inputs(con: duckdb.DuckDBPyConnection, as_of: date, max_stale_days: int) -> list[str]:
    """What makes the warehouse unfit to score at `as_of`; empty when all is well."""
    [(invoices, last_issue, payments, last_payment)] = con.execute(
        """
        select
            (select count(*) from staging.invoices),
            (select max(issue_date) from staging.invoices where issue_date < $as_of),
            (select count(*) from staging.payments),
            (select max(payment_date) from staging.payments where payment_date < $as_of)
        """,
        {"as_of": as_of},
    ).fetchall()
    if not invoices:
        return ["the warehouse holds no invoices: load exports first (`latepay ingest`)"]
    problems = []
    oldest_allowed = as_of - timedelta(days=max_stale_days)
    if not payments:
        problems.append(
            "invoices are loaded but no payments at all: is the payments export missing?"
        )
    elif last_payment is None or last_payment < oldest_allowed:
        problems.append(
            f"no payment dated in the {max_stale_days} days before {as_of} (the latest is "
            f"{last_payment}): the payments export is probably missing or late. Score an earlier "
            "date with --as-of, or raise LATEPAY_MAX_STALE_DAYS if this is expected"
        )
    if last_issue is None or last_issue < oldest_allowed:
        problems.append(
            f"no invoice issued in the {max_stale_days} days before {as_of} (the latest is "
            f"{last_issue}): the invoices export is probably missing or late"
        )
    return problems


def check_features(features: pd.DataFrame, feature_names: list[str]) -> list[str]:
    """Refuse features that cannot be right: missing model inputs, or most of them all null."""
    missing = [name for name in feature_names if name not in features]
    if missing:
        return [f"the champion model expects features the warehouse does not give: {missing}"]
    numeric = [n for n in feature_names if n not in CATEGORICAL_FEATURES]
    empty = [n for n in numeric if features[n].isna().all()]
    if len(empty) > len(numeric) / 2:
        return [
            f"{len(empty)} of {len(numeric)} numeric features are null for every open invoice "
            f"({', '.join(empty[:8])}{', …' if len(empty) > 8 else ''}): the history tables "
            "look empty or broken"
        ]
    return []


def score(settings: Settings, as_of: date | None = None) -> ScoreResult:
    """Score every invoice open at `as_of` (default today) and publish the worklist, or raise
    RefusedToPublish / NoChampion / RunLocked and leave the previous outputs untouched."""
    as_of = as_of or date.today()
    with run_lock(settings):
        return score_without_lock(settings, as_of)


def score_without_lock(settings: Settings, as_of: date) -> ScoreResult:
    """`score` for a caller that already holds `run_lock` (the nightly job and flow)."""
    model, version = tracking.load_champion(settings.mlflow_tracking_uri, settings.model_name)
    run_id = f"{datetime.now():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
    with connect(settings.warehouse_path) as con:
        con.execute(RUNS_DDL)
        try:
            problems = check_inputs(con, as_of, settings.max_stale_days)
            if problems:
                raise RefusedToPublish(_refusal(as_of, problems))
            features = build_features(con, [as_of], grace_days=settings.late_grace_days)
            if features.empty:
                raise RefusedToPublish(_refusal(as_of, ["no invoice is open: nothing to score"]))
            problems = check_features(features, model.feature_names)
            if problems:
                raise RefusedToPublish(_refusal(as_of, problems))
            result = _rank_and_publish(settings, con, model, version, run_id, as_of, features)
        except RefusedToPublish as exc:
            _record_run(con, run_id, as_of, version, "refused", message=str(exc))
            raise
    return result


def _rank_and_publish(settings, con, model, version, run_id, as_of, features) -> ScoreResult:
    scores = features.join(model.predict(features))
    customers = con.execute("select * from staging.customers").df()
    invoices = plan_invoices(
        scores, customers, as_of, promises=_promises(con), policy=policy(settings)
    )
    worklist = rank_customers(invoices, customers, as_of, policy=policy(settings))
    listed = worklist.loc[worklist["in_todays_list"], "customer_id"].tolist()
    # the reasons explain each listed customer's driver invoice (the one carrying most risk)
    driver_ids = worklist.loc[worklist["in_todays_list"], "driver_invoice_id"]
    drivers = scores[scores["invoice_id"].isin(driver_ids)]
    reasons = top_reasons(model, "p_late_30", drivers, k=len(REASON_COLUMNS))
    by_customer = dict(zip(drivers["customer_id"], reasons, strict=True))
    for i, column in enumerate(REASON_COLUMNS):
        worklist[column] = [
            r[i] if len(r := by_customer.get(c, [])) > i else "" for c in worklist["customer_id"]
        ]
    published = todays_list(worklist)
    context = report.context(
        con,
        as_of,
        invoices,
        published,
        model_version=version,
        champion=tracking.champion_run(settings.mlflow_tracking_uri, settings.model_name),
        capacity=settings.capacity_per_collector,
        dso_history=con.execute(
            """
            select as_of, dso from scoring.runs
            where status = 'published' and as_of < $as_of and dso is not null
            qualify row_number() over (partition by as_of order by finished_at desc) = 1
            order by as_of
            """,
            {"as_of": as_of},
        ).df(),
    )
    behind = invoices[invoices["customer_id"].isin(listed)]
    with publish.staged(settings.outputs_dir, as_of.isoformat()) as folder:
        publish.write_worklist_csv(published, folder / "worklist.csv")
        publish.write_collector_workbooks(published, behind, folder, as_of)
        (folder / "report.html").write_text(report.render(context), encoding="utf-8")
        _store(con, run_id, as_of, version, invoices, worklist, context["dso"])
    return ScoreResult(
        as_of=as_of,
        run_id=run_id,
        model_version=version,
        invoices_scored=len(scores),
        worklist=worklist,
        published=published,
        output_dir=settings.outputs_dir / as_of.isoformat(),
        scores=invoices,
    )


def _refusal(as_of: date, problems: list[str]) -> str:
    lines = "\n".join(f"  - {p}" for p in problems)
    return f"refused to publish the worklist of {as_of}; the previous one stays in place:\n{lines}"


def _promises(con: duckdb.DuckDBPyConnection) -> pd.DataFrame | None:
    """staging.promises when the warehouse has it (promises are an optional export)."""
    [(exists,)] = con.execute(
        "select count(*) from duckdb_tables() where schema_name = 'staging' "
        "and table_name = 'promises'"
    ).fetchall()
    if not exists:
        return None
    return con.execute("select invoice_id, promised_on, promised_date from staging.promises").df()


RUNS_DDL = """
create table if not exists scoring.runs (
    run_id varchar primary key,
    as_of date not null,
    model_version varchar,
    status varchar not null,          -- published | refused
    finished_at timestamp not null,
    invoices_scored bigint,
    customers_listed bigint,
    message varchar
);
alter table scoring.runs add column if not exists receivables double;
alter table scoring.runs add column if not exists sales_90d double;
alter table scoring.runs add column if not exists dso double;
"""


def _record_run(con, run_id, as_of, version, status, **values) -> None:
    row = {
        "run_id": run_id,
        "as_of": as_of,
        "model_version": version,
        "status": status,
        "finished_at": datetime.now(),
        **values,
    }
    columns = ", ".join(row)
    marks = ", ".join(f"${k}" for k in row)
    con.execute(f"insert into scoring.runs ({columns}) values ({marks})", row)


INVOICE_SCORE_COLUMNS = [
    "invoice_id",
    "customer_id",
    "open_amount",
    "days_past_due",
    "p_late",
    "p_late_30",
    "days_to_pay_p10",
    "days_to_pay_p50",
    "days_to_pay_p90",
    "predicted_payment_date",
    "payment_date_p10",
    "payment_date_p90",
    "dunning_stage",
    "next_action",
    "next_action_date",
    "late_interest",
    "recovery_fee",
]


def _store(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    as_of: date,
    version: str,
    invoices: pd.DataFrame,
    worklist: pd.DataFrame,
    dso: dict,
) -> None:
    """Replace this date's rows of scoring.invoice_scores and scoring.worklist with this run's,
    in one transaction. Grain: (run_id, invoice_id) and (run_id, customer_id); one run per
    as_of is kept (the latest published)."""
    keys = {"run_id": run_id, "as_of": as_of, "model_version": version}
    tables = {
        "invoice_scores": invoices[INVOICE_SCORE_COLUMNS].assign(**keys),
        "worklist": worklist.assign(**keys),
    }
    con.execute("begin transaction")
    try:
        for name, frame in tables.items():
            con.register("frame", frame)
            con.execute(f"create table if not exists scoring.{name} as select * from frame limit 0")
            _add_missing_columns(con, f"scoring.{name}")
            con.execute(f"delete from scoring.{name} where as_of = $d", {"d": as_of})
            con.execute(f"insert into scoring.{name} by name select * from frame")
            con.unregister("frame")
        _record_run(
            con,
            run_id,
            as_of,
            version,
            "published",
            invoices_scored=len(invoices),
            customers_listed=int(worklist["in_todays_list"].sum()),
            receivables=dso["receivables"],
            sales_90d=dso["sales"],
            dso=dso["dso"],
        )
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise


def _add_missing_columns(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """Migrate a table made by an earlier version: add the columns `frame` has and it lacks."""
    have = {row[0] for row in con.execute(f"describe {table}").fetchall()}
    for name, kind, *_ in con.execute("describe frame").fetchall():
        if name not in have:
            con.execute(f'alter table {table} add column "{name}" {kind}')


def load_inbox(settings: Settings, today: date) -> tuple[list[LoadResult], Path | None]:
    """Load every file dropped in the inbox (one ingest, so invoices load before payments), then
    move them to inbox/loaded/<today>/; on a load error move them to inbox/failed/<today>/ and
    refuse. Nothing in the inbox: nothing to load. Loads are idempotent (a file already loaded
    is recognised by its hash), so dropping a file twice does no harm."""
    inbox = settings.inbox_dir
    files = sorted(p for p in inbox.glob("*") if p.is_file() and not p.name.startswith("."))
    if not files:
        return [], None
    try:
        loads = jobs.ingest(settings, files, settings.inbox_mapping, today)
    except IngestError as exc:
        failed = _move(files, inbox / "failed" / today.isoformat())
        raise RefusedToPublish(
            f"could not load the inbox ({exc}); its files were moved to {failed}. "
            "Fix them and drop them again; yesterday's list stays in place."
        ) from exc
    return loads, _move(files, inbox / "loaded" / today.isoformat())


def _move(files: list[Path], folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for path in files:
        shutil.move(path, folder / path.name)
    return folder


def nightly(settings: Settings, as_of: date | None = None) -> NightlyResult:
    """The nightly job: load the inbox, then score and publish as of `as_of` (default today)."""
    today = date.today()
    with run_lock(settings):
        loads, moved = load_inbox(settings, today)
        return NightlyResult(loads, moved, score_without_lock(settings, as_of or today))
