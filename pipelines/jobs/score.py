"""Scoring: every invoice open at a date scored by the champion, customers ranked into the
collectors' worklist, reasons for the rows people read, stored in `scoring.*` and published.

A run either publishes a complete, consistent set of files or leaves the previous ones in place:
inputs are checked first (refused with the reasons, non-zero exit), the files are written into a
fresh folder, the tables are replaced in one transaction, and the date's folder is switched to
the new one in a single rename (pipelines/publish). One run at a time (pipelines/warehouse/locks).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cache
from importlib import resources
from pathlib import Path

import duckdb
import pandas as pd

from features.catalog import CATEGORICAL_FEATURES
from features.receivables import unapplied_credit
from features.runner import build_features
from models.explain import group_reasons
from models.train import RiskModel
from models.worklist import (
    REASON_COLUMNS,
    WorklistPolicy,
    coming_up,
    not_reached,
    plan_invoices,
    rank_customers,
    todays_list,
)
from pipelines import publish, tracking
from pipelines.publish import collectors, report
from pipelines.publish.book import with_credit
from pipelines.publish.drafts import DraftContext
from pipelines.publish.files import write_worklist_csv
from pipelines.settings import Settings
from pipelines.warehouse import connect
from pipelines.warehouse import scoring as store
from pipelines.warehouse.locks import run_lock


class RefusedToPublish(RuntimeError):
    """The inputs look broken: the run stops before publishing and says why."""


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


def policy(settings: Settings) -> WorklistPolicy:
    return WorklistPolicy(
        capacity_per_collector=settings.capacity_per_collector,
        high_risk_threshold=settings.high_risk_threshold,
        rates=ecb_rates(),
        recovery_fee=settings.recovery_fee,
        french_law=frozenset(_countries(settings.french_law_countries)),
        country=settings.business_country,
        ledger_start=pd.Timestamp(settings.ledger_start) if settings.ledger_start else None,
    )


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
    with run_lock(settings.warehouse_path):
        return score_locked(settings, as_of or date.today())


def backfill(settings: Settings, start: date, end: date) -> Iterator[ScoreResult]:
    """Score and publish every date from `start` to `end` (inclusive) with today's champion,
    each in its own folder; yields each date's result as it is published."""
    day = start
    while day <= end:
        yield score(settings, day)
        day += timedelta(days=1)


def score_locked(settings: Settings, as_of: date) -> ScoreResult:
    """`score` for a caller that already holds the run lock (the nightly job)."""
    model, version = tracking.load_champion(settings.mlflow_tracking_uri, settings.model_name)
    run_id = f"{datetime.now():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
    with connect(settings.warehouse_path) as con:
        try:
            features = _checked_features(con, settings, model, as_of)
            return _rank_and_publish(settings, con, model, version, run_id, as_of, features)
        except RefusedToPublish as exc:
            store.record_run(con, run_id, as_of, version, "refused", message=str(exc))
            raise
        except PublishFailed as exc:
            store.record_run(con, run_id, as_of, version, "failed", message=str(exc))
            raise


class PublishFailed(RuntimeError):
    """The run's files could not be written or switched in: nothing published."""


def _checked_features(
    con: duckdb.DuckDBPyConnection, settings: Settings, model: RiskModel, as_of: date
) -> pd.DataFrame:
    problems = check_inputs(con, as_of, settings.max_stale_days)
    if problems:
        raise RefusedToPublish(_refusal(as_of, problems))
    if settings.dask_address:  # features and predictions per partition, on the cluster
        from pipelines.cluster.jobs import score_features

        features = score_features(con, settings, model, as_of)
    else:
        features = build_features(con, [as_of], grace_days=settings.late_grace_days)
    if features.empty:
        raise RefusedToPublish(_refusal(as_of, ["no invoice is open: nothing to score"]))
    problems = check_features(features, model.feature_names)
    if problems:
        raise RefusedToPublish(_refusal(as_of, problems))
    return features


def _refusal(as_of: date, problems: list[str]) -> str:
    lines = "\n".join(f"  - {p}" for p in problems)
    return f"refused to publish the worklist of {as_of}; the previous one stays in place:\n{lines}"


def rank_with_reasons(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    model: RiskModel,
    as_of: date,
    features: pd.DataFrame,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(invoices with scores, currency and plan, ranked worklist with reasons for the listed
    customers, in the words of `settings.locale`)."""
    # (features scored on a cluster carry their predictions: pipelines/cluster)
    scored = "p_late_30" in features
    currencies, customers, promises, actions = _of_scored(con, features, as_of)
    scores = (features if scored else features.join(model.predict(features))).merge(
        currencies, on="invoice_id", how="left"
    )
    rules = policy(settings)
    invoices = plan_invoices(
        scores, customers, as_of, promises=promises, actions=actions, policy=rules
    )
    worklist = rank_customers(invoices, customers, as_of, policy=rules)
    by_customer = _reasons(model, scores, worklist[worklist["in_todays_list"]], settings.locale)
    for i, column in enumerate(REASON_COLUMNS):
        # (a lookup per listed customer: a loop over 400,000 customers took a third of a second)
        reason = {c: r[i] for c, r in by_customer.items() if len(r) > i}
        worklist[column] = worklist["customer_id"].map(reason).fillna("").tolist()
    return invoices, worklist


def _reasons(
    model: RiskModel, scores: pd.DataFrame, listed: pd.DataFrame, locale: str
) -> dict[str, list[str]]:
    """Customer -> the reasons of its row: what raises the risk of the row's invoices
    (`action_invoices`), in the words of the riskiest of them (`driver_invoice_id`)."""
    about = listed[["customer_id", "action_invoices"]].assign(
        invoice_id=listed["action_invoices"].str.split(", ")
    )
    about = about.explode("invoice_id")[["customer_id", "invoice_id"]]
    rows = scores.merge(about, on=["customer_id", "invoice_id"])
    if rows.empty:
        return {}
    position = pd.Series(rows.index, index=rows["invoice_id"])
    drivers = pd.Series(
        position.reindex(listed["driver_invoice_id"]).to_numpy(), index=listed["customer_id"]
    )
    return group_reasons(
        model, "p_late_30", rows, rows["customer_id"], drivers, k=len(REASON_COLUMNS),
        locale=locale,
    )  # fmt: skip


def _of_scored(
    con: duckdb.DuckDBPyConnection, scored: pd.DataFrame, as_of: date
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """What the plan and the ranking of the `scored` invoices (customer_id, invoice_id) read of
    the warehouse: (their currencies: invoice_id, currency, null when the export had none; their
    customers; their promises; the ledger actions dated before `as_of` about a scored invoice
    or, invoice_id empty, on a scored invoice's whole customer). On the 10M book that is
    532,000 of 2.8 million actions (the rest are about invoices paid since)."""
    con.register("scored", scored[["customer_id", "invoice_id"]])
    try:
        currencies = con.execute(
            "select invoice_id, currency from staging.invoices semi join scored using (invoice_id)"
        ).df()
        customers = con.execute(
            "select * from staging.customers semi join scored using (customer_id)"
        ).df()
        promises = con.execute(
            "select invoice_id, promised_on, promised_date from staging.promises "
            "semi join scored using (invoice_id)"
        ).df()
        actions = con.execute(
            """
            select a.customer_id, a.invoice_id, a.action_date, a.action
            from staging.actions as a
            where a.action_date < $as_of and case
                when coalesce(a.invoice_id, '') = ''
                    then a.customer_id in (select customer_id from scored)
                else a.invoice_id in (select invoice_id from scored)
            end
            """,
            {"as_of": as_of},
        ).df()
    finally:
        con.unregister("scored")
    return currencies, customers, promises, actions


def _rank_and_publish(
    settings: Settings,
    con: duckdb.DuckDBPyConnection,
    model: RiskModel,
    version: str,
    run_id: str,
    as_of: date,
    features: pd.DataFrame,
) -> ScoreResult:
    invoices, worklist = rank_with_reasons(con, settings, model, as_of, features)
    # the customers' credit notes and payments on account not yet applied, netted in their
    # balance (not in the ranking), in the list and in the report's aged balance
    credits = unapplied_credit(con, as_of)
    worklist = with_credit(worklist, credits)
    published = todays_list(worklist)
    waiting = not_reached(worklist)
    context = report.context(
        con, as_of, invoices, published, model_version=version,
        champion=tracking.champion_run(settings.mlflow_tracking_uri, settings.model_name),
        capacity=settings.capacity_per_collector, credits=credits, locale=settings.locale,
        french_law=_countries(settings.french_law_countries), not_reached=waiting,
    )  # fmt: skip
    collectors_files = _collectors_files(
        con, settings, as_of, invoices, worklist, published, waiting
    )
    # the run is recorded as published only once its folder is switched in (then committed)
    con.execute("begin transaction")
    try:
        with (
            publish.staged(settings.outputs_dir, as_of.isoformat()) as folder,
            collectors.writing(folder, collectors_files, settings.publish_processes),
        ):
            write_worklist_csv(published, folder / "worklist.csv")
            (folder / "report.html").write_text(report.render(context), encoding="utf-8")
            store.store_run(con, run_id, as_of, version, invoices, worklist, context["dso"])
        con.execute("commit")
    except BaseException as exc:
        con.execute("rollback")
        if isinstance(exc, OSError):  # the outputs folder cannot be written or switched in
            raise PublishFailed(
                f"could not publish the worklist of {as_of}: {exc}; LATEPAY_OUTPUTS_DIR "
                f"({settings.outputs_dir}) must be a folder latepay can write to. Nothing was "
                "published; the run is recorded as failed"
            ) from exc
        raise
    return ScoreResult(
        as_of=as_of,
        run_id=run_id,
        model_version=version,
        invoices_scored=len(invoices),
        worklist=worklist,
        published=published,
        output_dir=settings.outputs_dir / as_of.isoformat(),
        scores=invoices,
    )


def _collectors_files(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    as_of: date,
    invoices: pd.DataFrame,
    worklist: pd.DataFrame,
    published: pd.DataFrame,
    waiting: pd.DataFrame,
) -> collectors.CollectorsFiles:
    """What the collectors' workbooks and drafts are written from (`waiting`: the customers
    with work due the lists could not hold)."""
    behind = invoices[invoices["customer_id"].isin(published["customer_id"])]
    drafts = draft_context(con, settings, as_of, behind)
    until = as_of + timedelta(days=settings.coming_up_days)
    per_collector = waiting["collector"].astype(str).value_counts()
    return collectors.CollectorsFiles(
        published, behind, coming_up(worklist, until), drafts, as_of, settings.locale, until,
        not_reached={str(c): int(n) for c, n in per_collector.items()},
    )  # fmt: skip


RATES_FILE = "ecb_main_refinancing_rate.csv"


@cache
def ecb_rates() -> pd.DataFrame:
    """The ECB main refinancing rate per half-year (pipelines/publish/data): the statutory
    interest of the worklist and of the letters alike. Read once per process (never changed
    by its readers)."""
    return pd.read_csv(resources.files("pipelines.publish").joinpath("data", RATES_FILE))


def draft_context(
    con: duckdb.DuckDBPyConnection, settings: Settings, as_of: date, invoices: pd.DataFrame
) -> DraftContext:
    """What the drafts of the customers of `invoices` (those listed today) need from the
    warehouse and the settings: the customers, their invoices' currencies, the ledger, the ECB
    rate table (pipelines/publish/data), the company."""
    con.register("draft_customers", pd.DataFrame({"customer_id": invoices["customer_id"].unique()}))
    try:
        listed = "semi join draft_customers using (customer_id)"
        currencies = con.execute(
            f"select invoice_id, coalesce(currency, 'EUR') as currency from staging.invoices {listed}"
        ).df()
        customers = con.execute(
            f"select customer_id, name, country from staging.customers {listed}"
        ).df()
        history = con.execute(
            "select customer_id, invoice_id, action_date, action, channel, note "
            f"from staging.actions {listed} where action_date < $as_of",
            {"as_of": as_of},
        ).df()
    finally:
        con.unregister("draft_customers")
    rates = ecb_rates()
    return DraftContext(
        as_of=pd.Timestamp(as_of),
        company={
            "name": settings.company_name,
            "address": [a.strip() for a in settings.company_address.split(";") if a.strip()],
            "siren": settings.company_siren,
            "iban": settings.company_iban,
            "email": settings.company_email,
            "signature": settings.company_signature,
        },
        customers=customers,
        invoices=invoices.drop(columns=["currency"], errors="ignore").merge(
            currencies, on="invoice_id", how="left"
        ),
        history=history,
        rates=rates,
        french_law=_countries(settings.french_law_countries),
        french_language=_countries(settings.french_language_countries),
        deadline_days=settings.payment_deadline_days,
        templates_dir=settings.templates_dir,
    )


def _countries(text: str) -> set[str]:
    return {c.strip().upper() for c in text.split(",") if c.strip()}
