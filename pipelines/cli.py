"""The `latepay` command line. Commands parse options and hand off to `pipelines.jobs`."""

from __future__ import annotations

import importlib.util
import json
import math
import shutil
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Annotated

import pandas as pd
import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from features.runner import data_end, export_features
from pipelines.ingest import IngestError, LoadResult
from pipelines.settings import Settings
from pipelines.synthetic import generate_book, write_book
from pipelines.warehouse import WarehouseLocked, connect


def _lazy(name: str) -> ModuleType:
    """Import `name` on first use: `latepay ingest` need not load MLflow and scikit-learn
    (4 s of a command that should start at once). importlib's documented lazy-import recipe."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    return module


jobs = _lazy("pipelines.jobs")
scoring = _lazy("pipelines.scoring")
tracking = _lazy("pipelines.tracking")

app = typer.Typer(
    help="latepay: predict late payments and tell collectors whom to contact first.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()

AsOf = Annotated[
    datetime | None,
    typer.Option(
        "--as-of",
        formats=["%Y-%m-%d"],
        help="As-of date (YYYY-MM-DD): facts dated before it are used. "
        "Default: the day after the last invoice or payment in the warehouse.",
    ),
]


def _day(value: datetime | None) -> date | None:
    return value.date() if value else None


def _fail(message: str) -> typer.Exit:
    console.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code=1)


@app.command()
def generate(
    out: Annotated[Path, typer.Option(help="Folder to write the book into.")],
    customers: Annotated[int, typer.Option(help="Number of customers.")] = 1500,
    invoices: Annotated[int, typer.Option(help="Number of invoices.")] = 40_000,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same book).")] = 0,
    end_date: Annotated[
        datetime, typer.Option(formats=["%Y-%m-%d"], help="Last date of the book.")
    ] = datetime(2026, 10, 31),
    years: Annotated[float, typer.Option(help="Years of history.")] = 3.0,
) -> None:
    """Write a synthetic receivables book: customers, invoices, payments and oracle.csv."""
    started = time.perf_counter()
    book = generate_book(customers, invoices, seed=seed, end_date=end_date.date(), years=years)
    paths = write_book(book, out)
    console.print(
        f"Wrote {len(book.customers):,} customers, {len(book.invoices):,} invoices, "
        f"{len(book.payments):,} payments to {out} in {time.perf_counter() - started:.1f} s"
    )
    for path in paths.values():
        console.print(f"  {path}")


@app.command()
def ingest(
    paths: Annotated[
        list[Path], typer.Argument(help="CSV, Excel (.xlsx) or Parquet files, or folders.")
    ],
    mapping: Annotated[
        Path | None,
        typer.Option(help="Column mapping file (TOML): see README, 'Input format'."),
    ] = None,
    load_date: Annotated[
        datetime | None,
        typer.Option(
            formats=["%Y-%m-%d"], help="Rows dated after this day are rejected. Default: today."
        ),
    ] = None,
) -> None:
    """Load customers, invoices and payments files into the warehouse."""
    settings = Settings()
    try:
        results = jobs.ingest(settings, paths, mapping, _day(load_date))
    except (IngestError, WarehouseLocked) as exc:
        raise _fail(str(exc)) from exc
    _print_loads(results)


def _print_loads(results: list[LoadResult]) -> None:
    table = Table(title="Reconciliation: rows read = loaded + pending + rejected")
    for column in ("file", "kind", "read", "loaded", "pending", "rejected", ""):
        numeric = column in ("read", "loaded", "pending", "rejected")
        table.add_column(
            column, justify="right" if numeric else "left", overflow="fold", no_wrap=numeric
        )
    for r in results:
        notes = []
        if r.skipped:
            notes.append("already loaded: unchanged")
        if r.rows_updated:
            notes.append(f"{r.rows_updated:,} updated (previous versions kept)")
        if r.payments_derived:
            notes.append(f"{r.payments_derived:,} payments from settlement dates")
        if r.payments_matched:
            notes.append(f"{r.payments_matched:,} pending payments matched")
        table.add_row(
            str(r.file),
            r.kind,
            f"{r.rows_read:,}",
            f"{r.rows_loaded:,}",
            f"{r.rows_pending:,}",
            f"{r.rows_rejected:,}",
            "; ".join(notes),
        )
    console.print(table)
    for r in results:
        if r.source_format and not r.skipped:
            console.print(f"{r.file}: read as {r.source_format}", markup=False, soft_wrap=True)
    for r in results:
        if r.rows_rejected and not r.skipped:
            rules = ", ".join(f"{rule} {n:,}" for rule, n in r.rejects_by_rule)
            console.print(f"[bold]{r.file}[/]: rejected by rule: {rules}")
            for example in r.reject_examples:
                console.print(f"  {r.file}: {example}", markup=False, soft_wrap=True)
    if any(r.rows_rejected and not r.skipped for r in results):
        console.print(
            "Every rejected row, with its file, line, rule, message and original text, is in "
            "the warehouse table `rejects`."
        )
    if any(r.rows_pending and not r.skipped for r in results):
        console.print(
            "Pending payments name invoices not loaded yet; they wait in "
            "`staging.pending_payments` and are matched when the invoice arrives."
        )


@app.command()
def features(
    out: Annotated[Path, typer.Option(help="Output file: .parquet or .csv.")],
    as_of: AsOf = None,
) -> None:
    """Write the features of every invoice open at the as-of date."""
    settings = Settings()
    with connect(settings.warehouse_path) as con:
        day = _day(as_of) or data_end(con)
        rows = export_features(con, day, out, grace_days=settings.late_grace_days)
    console.print(f"Wrote features of {rows:,} open invoices to {out}")


def _write_table(frame: pd.DataFrame, path: Path) -> None:
    """Parquet, or CSV when the file name ends in .csv."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path, index=False)


@app.command()
def backtest(
    cutoff: Annotated[
        list[datetime] | None,
        typer.Option(
            formats=["%Y-%m-%d"],
            help="Cut date(s), repeatable; default: 360 and 180 days before the end of the data.",
        ),
    ] = None,
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Write the metrics per cut date and overall.")
    ] = None,
    predictions: Annotated[
        Path | None,
        typer.Option(help="Write the test snapshots with their predictions (.parquet or .csv)."),
    ] = None,
) -> None:
    """Train before each cut date and evaluate on the period after, against baselines."""
    settings = Settings()
    try:
        with connect(settings.warehouse_path) as con:
            data = jobs.training_data(con, settings)
        result = jobs.backtest(settings, data, [c.date() for c in cutoff or []] or None)
    except jobs.InsufficientData as exc:
        raise _fail(str(exc)) from exc
    _print_backtest(result)
    if json_path:
        summary = {
            "data_end": result.data_end.isoformat(),
            "per_cut": {cut: _summary(blocks) for cut, blocks in result.per_cut.items()},
            "overall": _summary(result.overall),
        }
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(summary, indent=2))
        console.print(f"Wrote the backtest summary to {json_path}")
    if predictions:
        _write_table(result.predictions, predictions)
        console.print(f"Wrote {len(result.predictions):,} test snapshots to {predictions}")


def _summary(blocks: dict) -> dict:
    """The collector's target (serious lateness) blocks `model`, `baseline_aging`,
    `baseline_prior_late_rate` at the top, every population below; NaN as null."""

    def clean(value: object) -> object:
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        return None if isinstance(value, float) and math.isnan(value) else value

    return clean({**blocks["late_30"], "populations": blocks})


def _print_backtest(result: jobs.BacktestResult) -> None:
    cuts = ", ".join(c.isoformat() for c in result.cuts)
    table = Table(title=f"Backtest, rolling origin: cuts {cuts}; data end {result.data_end}")
    for column in ("ranking", "AUC", "PR-AUC", "Brier", "ECE", "top 10%", "top 20%"):
        table.add_column(column, justify="left" if column == "ranking" else "right")
    names = {
        "model": "latepay",
        "baseline_aging": "aging list",
        "baseline_prior_late_rate": "prior late rate",
    }
    from models.evaluate import POPULATIONS

    for population, label in POPULATIONS.items():
        blocks = result.overall[population]
        table.add_section()
        table.add_row(f"[bold]{label}[/], n={blocks['model']['n']:,}")
        for block, name in names.items():
            m = blocks[block]
            table.add_row(
                f"  {name}",
                *(_fmt(m[k]) for k in ("auc", "pr_auc", "brier", "ece")),
                *(_fmt(m[k], "{:.0%}") for k in ("capture_top10", "capture_top20")),
            )
    console.print(table)
    if "days_to_pay" in result.overall:
        d = result.overall["days_to_pay"]
        console.print(
            f"Days to pay: median error {d['mae_days']:.1f} days; "
            f"{d['p10_p90_coverage']:.0%} of payments fell inside the P10–P90 interval (n={d['n']:,})."
        )
    console.print("top 10% / 20%: share of the late amount in the top of each day's list.")


def _fmt(value: float, pattern: str = "{:.3f}") -> str:
    return "–" if value is None or math.isnan(value) else pattern.format(value)


@app.command()
def train(
    force_promote: Annotated[
        bool, typer.Option(help="Make the new model champion whatever its backtest.")
    ] = False,
    tune: Annotated[
        int,
        typer.Option(
            min=0,
            metavar="TRIALS",
            help="First choose the LightGBM settings among TRIALS (the defaults and random draws), "
            "validated before the first backtest cut.",
        ),
    ] = 0,
) -> None:
    """Backtest, train on all history, log to MLflow and register the model."""
    settings = Settings()
    try:
        result = jobs.train(settings, force_promote=force_promote, tune_trials=tune)
    except jobs.InsufficientData as exc:
        raise _fail(str(exc)) from exc
    if result.tuning is not None:
        _print_tuning(result.tuning)
    _print_backtest(result.backtest)
    _print_registered(settings, result)


def _print_tuning(tuning: jobs.Tuning) -> None:
    table = Table(
        title=f"Tuning: trained before {tuning.cut}, validated up to {tuning.end} "
        "(before the backtest's test periods)"
    )
    columns = [c for c in tuning.trials.columns if c not in jobs.TUNING_METRICS]
    for column in ["trial", *columns]:
        table.add_column(column.replace("_", " "), justify="right")
    best = tuning.trials["score"].idxmax()
    for i, row in tuning.trials.iterrows():
        cells = [str(i + 1), *(f"{row[c]:g}" if c != "score" else f"{row[c]:.4f}" for c in columns)]
        table.add_row(*cells, style="bold" if i == best else None)
    console.print(table)
    console.print(
        f"score: mean AUC of lateness (not yet due) and serious lateness; trial {best + 1} chosen "
        "(the first is the defaults)."
    )


def _print_registered(settings: Settings, result: jobs.TrainResult) -> None:
    r = result.registered
    status = "now champion" if r.promoted else "not promoted: the champion's backtest is better"
    if result.champion_score is not None:
        new = result.backtest.flat_metrics()[jobs.GATE_METRIC]
        console.print(
            f"Champion gate ({jobs.GATE_METRIC}, same backtest): new model {new:.4f}, "
            f"current champion {result.champion_score:.4f}"
        )
    console.print(
        f"Model '{settings.model_name}' version {r.version} ({status}); "
        f"trained on {result.training_rows:,} snapshots; MLflow run {r.run_id}"
    )


@app.command()
def score(
    as_of: Annotated[
        datetime | None,
        typer.Option(formats=["%Y-%m-%d"], help="Score as of this date (default: today)."),
    ] = None,
) -> None:
    """Score open invoices with the champion model and publish the worklist, the collectors'
    workbooks and the report in data/outputs/<as_of>/."""
    _print_worklist(_run_scoring(lambda: scoring.score(Settings(), _day(as_of))))


@app.command()
def nightly(
    as_of: Annotated[
        datetime | None,
        typer.Option(formats=["%Y-%m-%d"], help="Score as of this date (default: today)."),
    ] = None,
) -> None:
    """The nightly job without Prefect: load the exports dropped in the inbox, then score and
    publish. Exits non-zero, leaving yesterday's outputs in place, when the inputs look broken."""
    settings = Settings()
    result = _run_scoring(lambda: scoring.nightly(settings, _day(as_of)))
    if result.loads:
        _print_loads(result.loads)
        console.print(f"Loaded files moved to {result.moved_to}")
    else:
        console.print(f"Nothing new in the inbox ({settings.inbox_dir}).")
    _print_worklist(result.score)


@app.command()
def backfill(
    start: Annotated[datetime, typer.Argument(formats=["%Y-%m-%d"], help="First as-of date.")],
    end: Annotated[datetime, typer.Argument(formats=["%Y-%m-%d"], help="Last as-of date.")],
) -> None:
    """Score and publish every date from START to END (inclusive) with the current champion."""
    settings = Settings()
    day = start.date()
    while day <= end.date():
        result = _run_scoring(lambda d=day: scoring.score(settings, d))
        console.print(
            f"{day}: {result.invoices_scored:,} invoices scored, "
            f"{len(result.published):,} customers listed -> {result.output_dir}"
        )
        day += timedelta(days=1)


@app.command()
def serve() -> None:
    """Run the nightly schedule (LATEPAY_NIGHTLY_CRON in LATEPAY_NIGHTLY_TIMEZONE, default 02:00
    Europe/Paris) as a Prefect deployment until stopped. Point PREFECT_API_URL at a running
    `prefect server start` to see the runs in the Prefect UI."""
    from pipelines import flows  # Prefect loads only for this command

    settings = Settings()
    try:
        flows.require_server()
    except RuntimeError as exc:
        raise _fail(str(exc)) from exc
    console.print(
        f"Serving the nightly deployment: cron '{settings.nightly_cron}' "
        f"({settings.nightly_timezone}); Ctrl+C to stop."
    )
    flows.serve_nightly(settings)


def _run_scoring(run):
    try:
        return run()
    except (
        tracking.NoChampion,
        scoring.RefusedToPublish,
        scoring.RunLocked,
        jobs.InsufficientData,
        WarehouseLocked,
    ) as exc:
        raise _fail(str(exc)) from exc


def _date_text(value) -> str:
    return "–" if pd.isna(value) else f"{value:%Y-%m-%d}"


def _print_worklist(result: scoring.ScoreResult, rows: int = 10) -> None:
    listed = result.published
    table = Table(
        title=f"Worklist as of {result.as_of}: top {min(rows, len(listed))} of {len(listed):,} "
        f"customers listed today ({len(result.worklist):,} with open invoices)"
    )
    for column in ("#", "customer", "collector", "at risk", "next action"):
        table.add_column(column, justify="right" if column in ("#", "at risk") else "left")
    table.add_column("why", overflow="fold")
    for row in listed.head(rows).itertuples():
        table.add_row(
            str(row.rank),
            str(row.name),
            str(row.collector),
            f"{row.expected_amount_at_risk:,.0f} ({row.risk_probability:.0%})",
            f"{row.next_action} ({_date_text(row.next_action_date)}, {row.next_action_channel})",
            row.reason_1,
        )
    console.print(table)
    files = sorted(p.name for p in result.output_dir.iterdir())
    console.print(
        f"Scored {result.invoices_scored:,} open invoices with model version "
        f"{result.model_version} (run {result.run_id}). Published in {result.output_dir}/: "
        + ", ".join(files),
        soft_wrap=True,
    )


@app.command()
def demo() -> None:
    """Run latepay end to end on the bundled sample: a fresh warehouse, ingest, backtest, train,
    register in MLflow, score, publish the worklist."""
    settings = Settings()
    if not (settings.sample_dir / "invoices.csv").exists():
        raise _fail(f"no sample book in {settings.sample_dir} (run from the repository root)")
    started = time.perf_counter()
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as progress:

        def step(description: str):
            return progress.add_task(description, total=1)

        task = step("Loading the sample book into a fresh warehouse")
        settings.warehouse_path.unlink(missing_ok=True)
        shutil.rmtree(settings.outputs_dir, ignore_errors=True)
        loads = jobs.ingest(settings, [settings.sample_dir])
        progress.update(task, completed=1)

        task = step("Building point-in-time features at weekly snapshot dates")
        with connect(settings.warehouse_path) as con:
            data = jobs.training_data(con, settings)
        progress.update(task, completed=1)

        task = step("Backtest: training before the cut date, testing after it")
        result = jobs.backtest(settings, data)
        progress.update(task, completed=1)

        task = step("Training on all history; logging and registering in MLflow")
        trained = jobs.register(settings, data, result, force_promote=True)
        progress.update(task, completed=1)

        task = step("Scoring open invoices and publishing the worklist")
        with connect(settings.warehouse_path) as con:
            as_of = data_end(con)
        scored = scoring.score(settings, as_of)
        progress.update(task, completed=1)

    _print_loads(loads)
    _print_backtest(result)
    late = result.overall["late"]
    console.print(
        f"On the later periods, the model ranks invoices that will be paid late with AUC "
        f"[bold]{late['model']['auc']:.3f}[/] against "
        f"[bold]{late['baseline_prior_late_rate']['auc']:.3f}[/] for the customer's prior late rate."
    )
    _print_registered(settings, trained)
    _print_worklist(scored)
    console.print(
        f"\nDone in {time.perf_counter() - started:.0f} s. Look at:\n"
        f"  worklist      {scored.worklist_path} (today's list: {settings.capacity_per_collector} "
        "customers per collector)\n"
        f"  collectors    {scored.output_dir}/worklist_<collector>.xlsx\n"
        f"  managers      {scored.output_dir / 'report.html'}\n"
        f"  warehouse     {settings.warehouse_path} (staging.*, scoring.worklist, "
        "scoring.invoice_scores, scoring.runs, rejects, loads)\n"
        f"  MLflow        mlflow ui --backend-store-uri {settings.mlflow_tracking_uri}"
    )


if __name__ == "__main__":
    app()
