"""What each benchmark stage runs, and the order the stages run in.

Every stage but `window_pass` runs the real CLI (`latepay generate/ingest/features/train/backtest/
nightly`) through `harness.run_stage`, in a child whose warehouse, MLflow store and outputs live
in `<root>/work/<N>-<seed>/`; books are cached in `<root>/books/<N>-<seed>/`. `window_pass`, the
references (`plain_load`, `window_pass`, `bare_predict`: references.py) run `run.py --reference`.

A stage whose prerequisite failed is skipped, and says which; the others still run. When `train`
did not succeed, `score` borrows the champion of the run with a tenth of the invoices (or of
`--champion-from`) and says so.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from harness import StageResult, run_stage
from quality import QUALITY_AGE_DAYS, quality

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RUN_SCRIPT = HERE / "run.py"
VENV_BIN = Path(sys.executable).parent

STAGES = (
    "generate",
    "ingest",
    "plain_load",
    "features",
    "window_pass",
    "train",
    "backtest_quality",
    "score",
    "bare_predict",
    "ingest_day",
)
# A day's exports for `ingest_day`: this share of the book's invoices, new, half of them paid.
DAY_SHARE = 1 / 700
# The book's last date (the generator's default) and the first date with no facts.
BOOK_END = date(2026, 10, 31)
DATA_END = BOOK_END + timedelta(days=1)
# The backtest's default cut (jobs.DEFAULT_TEST_DAYS before the end of the data).
BACKTEST_CUT = DATA_END - timedelta(days=180)
# The generated book's shape: invoices per customer (the customers' histories' length). The
# per-customer work dominates features, so both 50 and 25 are measured.
INVOICES_PER_CUSTOMER = 50


@dataclass
class Bench:
    """One run's book, work folder and limits, and what its stages found so far."""

    invoices: int
    seed: int
    root: Path
    code: Path
    timeout_s: float
    mem_cap_gb: float
    champion_from: str | None = None
    invoices_per_customer: int = INVOICES_PER_CUSTOMER
    results: dict[str, StageResult] = field(default_factory=dict)
    quality: dict | None = None

    @property
    def customers(self) -> int:
        return max(1, self.invoices // self.invoices_per_customer)

    @property
    def name(self) -> str:
        """`<N>-<seed>`, and `-per<k>` when the book has other than 50 invoices per customer."""
        shape = "" if self.invoices_per_customer == INVOICES_PER_CUSTOMER else "-per"
        return f"{self.invoices}-{self.seed}{shape}{self.invoices_per_customer if shape else ''}"

    @property
    def book(self) -> Path:
        return self.root / "books" / self.name

    @property
    def work(self) -> Path:
        return self.root / "work" / self.name

    @property
    def logs(self) -> Path:
        return self.work / "logs"

    @property
    def warehouse(self) -> Path:
        return self.work / "warehouse.duckdb"

    def latepay(self, *args: str) -> list[str]:
        """The `latepay` command line for the source tree this run times."""
        return latepay_argv(self.code, *args)

    def run(self, name: str, argv: list[str], tracking_dir: Path | None = None) -> StageResult:
        """Run one stage's child in the work folder, under the run's timeout and memory cap."""
        return run_stage(
            name,
            argv,
            env=child_env(self.work, self.code, tracking_dir),
            cwd=self.work,
            logs=self.logs,
            timeout_s=self.timeout_s,
            mem_cap_gb=self.mem_cap_gb,
        )


# --------------------------------------------------------------------------------------------
# The children's command line and environment.
# --------------------------------------------------------------------------------------------
def latepay_argv(code: Path, *args: str) -> list[str]:
    """The `latepay` command; `python -m pipelines.cli` (the same app) for another source tree."""
    if code == REPO:
        return [str(VENV_BIN / "latepay"), *args]
    return [sys.executable, "-m", "pipelines.cli", *args]


def child_env(work: Path, code: Path, tracking_dir: Path | None = None) -> dict[str, str]:
    """The environment of a stage's child: the work folder's warehouse, MLflow store (or the one
    in `tracking_dir`) and outputs, and `code` first on PYTHONPATH."""
    tracking_dir = tracking_dir or work
    pythonpath = [str(code), *filter(None, [os.environ.get("PYTHONPATH")])]
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(pythonpath),
        "LATEPAY_WAREHOUSE_PATH": str(work / "warehouse.duckdb"),
        "LATEPAY_MLFLOW_TRACKING_URI": f"sqlite:///{tracking_dir / 'mlflow.db'}",
        "LATEPAY_MLFLOW_ARTIFACTS_DIR": str(tracking_dir / "mlartifacts"),
        "LATEPAY_OUTPUTS_DIR": str(work / "outputs"),
        "LATEPAY_INBOX_DIR": str(work / "inbox"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "MPLBACKEND": "Agg",
        "PYTHONUNBUFFERED": "1",
        "COLUMNS": "200",  # rich: do not wrap the CLI's messages, which the harness reads
    }


# --------------------------------------------------------------------------------------------
# The stages.
# --------------------------------------------------------------------------------------------
def book_ready(book: Path) -> bool:
    """Whether the book was generated to the end (a cached book is used as it is)."""
    return (book / "oracle.csv").exists() and (book / ".complete").exists()


def generate(bench: Bench) -> StageResult:
    """`latepay generate` into a .partial folder, renamed when complete; `cached` when the book
    already exists."""
    book = bench.book
    if book_ready(book):
        return StageResult("generate", "cached", note=f"book in {book}")
    partial = book.with_name(book.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    argv = bench.latepay(
        "generate",
        f"--customers={bench.customers}",
        f"--invoices={bench.invoices}",
        f"--seed={bench.seed}",
        f"--end-date={BOOK_END.isoformat()}",
        f"--out={partial}",
    )
    r = bench.run("generate", argv)
    if r.ok:
        shutil.rmtree(book, ignore_errors=True)
        partial.rename(book)
        (book / ".complete").write_text("ok\n", encoding="ascii")
        r.note = f"book in {book}"
    return r


def ingest(bench: Bench) -> StageResult:
    """`latepay ingest` of the book into the work folder's warehouse."""
    return bench.run("ingest", bench.latepay("ingest", str(bench.book)))


def features(bench: Bench) -> StageResult:
    """`latepay features` as of the day after the book ends."""
    out = bench.work / "features.parquet"
    argv = bench.latepay("features", f"--as-of={DATA_END.isoformat()}", f"--out={out}")
    r = bench.run("features", argv)
    if r.ok:
        r.note = f"{_parquet_rows(out):,} open invoices as of {DATA_END}"
    return r


def plain_load(bench: Bench) -> StageResult:
    """The ingest's reference: DuckDB loading the book's files into a new database."""
    return reference(bench, "plain_load", str(bench.book), str(bench.work / "plain.duckdb"))


def window_pass(bench: Bench) -> StageResult:
    """The features' reference: one window pass over invoices with payments, as of DATA_END."""
    return reference(bench, "window_pass", str(bench.warehouse), DATA_END.isoformat())


def bare_predict(bench: Bench) -> StageResult:
    """With the window pass, the nightly run's reference: the champion's booster predicting the
    open invoices of the features stage's file (the champion `score` used)."""
    features = bench.work / "features.parquet"
    if not features.exists():
        return StageResult("bare_predict", "skipped: no features file (run features)")
    tracking = champion_store(bench)
    if tracking is None:
        return StageResult("bare_predict", "skipped: no champion model (train did not succeed)")
    return reference(bench, "bare_predict", str(features), tracking=tracking)


def reference(bench: Bench, name: str, *args: str, tracking: Path | None = None) -> StageResult:
    """Run one reference of references.py as `run.py --reference NAME ARGS`; its last stdout
    line holds the timed part's seconds and rows."""
    argv = [sys.executable, str(RUN_SCRIPT), "--reference", name, *args]
    r = bench.run(name, argv, tracking)
    if r.ok:
        figures = json.loads((bench.logs / f"{name}.out").read_text().strip().splitlines()[-1])
        r.extra = {"query_s": figures["query_s"]}
        r.note = f"timed part {figures['query_s']:.2f} s, {figures['rows']:,.0f} rows"
    return r


def train(bench: Bench) -> StageResult:
    """`latepay train --force-promote`: the training set, training, and the champion."""
    r = bench.run("train", bench.latepay("train", "--force-promote"))
    if r.ok:
        r.note = _grep(bench.logs / "train.out", r"trained on ([\d,]+) snapshots", "{} snapshots")
    return r


def backtest_quality(bench: Bench) -> StageResult:
    """`latepay backtest --predictions`, then the model's AUC against the oracle's."""
    preds = bench.work / "predictions.parquet"
    # one explicit cut date: the same test period at every size and commit
    argv = bench.latepay(
        "backtest", f"--cutoff={BACKTEST_CUT.isoformat()}", f"--predictions={preds}"
    )
    r = bench.run("backtest_quality", argv)
    if not r.ok:
        return r
    try:
        q = quality(preds, bench.book / "oracle.csv")
    except Exception as exc:  # reported, never hidden
        r.status = "failed (quality)"
        r.stderr_tail = f"{type(exc).__name__}: {exc}"
    else:
        bench.quality = q
        r.note = (
            f"AUC at age {QUALITY_AGE_DAYS}: model {q['model_auc']:.3f}, oracle "
            f"{q['oracle_auc']:.3f} ({q['rows']:,.0f} rows, {q['late_share']:.0%} late)"
        )
    return r


def score(bench: Bench) -> StageResult:
    """The nightly job (empty inbox): features as of the day after the book, score, rank,
    reasons for the published rows, the collectors' workbooks and the report."""
    tracking = champion_store(bench)
    if tracking is None:
        return StageResult("score", "skipped: no champion model (train did not succeed)")
    note = ""
    if tracking != bench.work:
        note = f"champion borrowed from {tracking.name} (no model trained in this run); "
    r = bench.run("score", bench.latepay("nightly", f"--as-of={DATA_END.isoformat()}"), tracking)
    r.note = note
    if r.ok:
        r.note += _grep(
            bench.logs / "score.out", r"Scored ([\d,]+) open invoices", "{} invoices scored"
        )
    return r


def ingest_day(bench: Bench) -> StageResult:
    """A night's own load: a day's new invoices (DAY_SHARE of the book's, their ids renamed)
    and payments of half of them, `latepay ingest` into a copy of the warehouse (the copy and
    the files made outside the timed child, the copy removed after)."""
    day = bench.work / "day"
    shutil.rmtree(day, ignore_errors=True)
    (day / "exports").mkdir(parents=True)
    n = max(1, int(bench.invoices * DAY_SHARE))
    paid = _day_exports(bench.book, day / "exports", n)
    shutil.copy(bench.warehouse, day / "warehouse.duckdb")
    env = {
        **child_env(bench.work, bench.code),
        "LATEPAY_WAREHOUSE_PATH": str(day / "warehouse.duckdb"),
    }
    argv = bench.latepay("ingest", str(day / "exports"))
    try:
        r = run_stage("ingest_day", argv, env=env, cwd=bench.work, logs=bench.logs,
                      timeout_s=bench.timeout_s, mem_cap_gb=bench.mem_cap_gb)  # fmt: skip
    finally:
        shutil.rmtree(day, ignore_errors=True)
    r.note = f"{n:,} new invoices, {paid:,} payments, into {bench.invoices:,}"
    return r


def _day_exports(book: Path, folder: Path, n: int) -> int:
    """invoices.csv: the book's last `n` invoices as new ones (ids prefixed DAY-); payments.csv:
    every other one paid in full on its issue date. Returns the payments written."""
    import duckdb

    con = duckdb.connect()
    con.execute(
        "create table day as select * replace ('DAY-' || invoice_id as invoice_id) "
        "from (select * from read_csv(?, header = true) order by issue_date desc, invoice_id "
        "limit ?)",
        [str(book / "invoices.csv"), n],
    )
    con.execute(f"copy day to '{folder / 'invoices.csv'}' (header)")
    [(paid,)] = con.execute(
        f"copy (select 'PAY-' || invoice_id as payment_id, invoice_id, issue_date as "
        f"payment_date, amount from day where amount > 0 qualify row_number() over "
        f"(order by invoice_id) % 2 = 1) to '{folder / 'payments.csv'}' (header)"
    ).fetchall()
    con.close()
    return paid


def champion_store(bench: Bench) -> Path | None:
    """The work folder whose MLflow store holds the champion: this run's when it trained one,
    else a borrowed one (None when there is none)."""
    trained = bench.results.get("train")
    if (trained is None or trained.ok) and (bench.work / "mlflow.db").exists():
        return bench.work
    return borrowed_champion(bench)


def borrowed_champion(bench: Bench) -> Path | None:
    """The work folder whose MLflow store `score` uses when this run trained no model:
    `--champion-from`, else the run with a tenth of the invoices, else the run of as many
    invoices with 50 per customer (None when none has one)."""
    candidates = [Path(bench.champion_from)] if bench.champion_from else []
    candidates.append(bench.root / "work" / f"{bench.invoices // 10}-{bench.seed}")
    candidates.append(bench.root / "work" / f"{bench.invoices}-{bench.seed}")
    found = [c.resolve() for c in candidates if (c / "mlflow.db").exists()]
    return found[0] if found else None


RUNNERS: dict[str, Callable[[Bench], StageResult]] = {
    "ingest": ingest,
    "plain_load": plain_load,
    "features": features,
    "window_pass": window_pass,
    "train": train,
    "backtest_quality": backtest_quality,
    "score": score,
    "bare_predict": bare_predict,
    "ingest_day": ingest_day,
}


# --------------------------------------------------------------------------------------------
# The sequence.
# --------------------------------------------------------------------------------------------
def chosen_stages(spec: str) -> list[str]:
    """The stages of a comma-separated list; SystemExit on an unknown one."""
    stages = [s.strip() for s in spec.split(",") if s.strip()]
    unknown = sorted(set(stages) - set(STAGES))
    if unknown:
        raise SystemExit(f"unknown stage(s) {', '.join(unknown)}; choose among {', '.join(STAGES)}")
    return stages


def prepare_work(bench: Bench, stages: list[str]) -> None:
    """A fresh work folder (warehouse, MLflow store) when the run ingests; else keep it."""
    if "ingest" in stages and bench.work.exists():
        shutil.rmtree(bench.work)
    bench.work.mkdir(parents=True, exist_ok=True)


def run_stages(bench: Bench, stages: list[str], console: Any) -> list[dict]:
    """Run the chosen stages in order (the book first when it is missing), printing each result
    as it comes; the figures of every stage that ran, in STAGES order."""

    def record(result: StageResult) -> None:
        bench.results[result.name] = result
        print_result(console, result)

    if "generate" in stages or not book_ready(bench.book):
        record(generate(bench))
    for name in stages:
        if name == "generate":
            continue
        why = why_skipped(bench, name)
        record(StageResult(name, why) if why else RUNNERS[name](bench))
    return [asdict(bench.results[s]) for s in STAGES if s in bench.results]


def why_skipped(bench: Bench, name: str) -> str | None:
    """The reason a stage cannot run (a prerequisite failed, or no warehouse); None if it can."""
    if name in ("ingest", "plain_load"):
        return blocked_by(bench.results, "generate")
    why = blocked_by(bench.results, "generate", "ingest")
    if not why and not bench.warehouse.exists():
        why = "skipped: no warehouse (run ingest)"
    return why


def blocked_by(results: dict[str, StageResult], *needs: str) -> str | None:
    """The status `skipped: <stage> <status>` for the first of `needs` that ran and failed."""
    for need in needs:
        r = results.get(need)
        if r is not None and not r.ok:
            return f"skipped: {need} {r.status.split(' (')[0]}"
    return None


def print_result(console: Any, result: StageResult) -> None:
    """One line per stage as it ends (and the end of its error output when it failed)."""
    shown = f"{result.wall_s:.1f} s" if result.wall_s is not None else ""
    colour = "green" if result.ok else "red"
    console.print(f"  {result.name:<17} [{colour}]{result.status}[/] {shown} {result.note}")
    if result.stderr_tail:
        console.print(result.stderr_tail, style="dim", markup=False, highlight=False)


def _parquet_rows(path: Path) -> int:
    import pyarrow.parquet as pq

    return pq.ParquetFile(path).metadata.num_rows


def _grep(path: Path, pattern: str, template: str) -> str:
    match = re.search(pattern, path.read_text(encoding="utf-8", errors="replace"))
    return template.format(match.group(1)) if match else ""
