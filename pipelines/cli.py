"""The `latepay` command line. Commands parse options and hand off to `pipelines.jobs`."""

from __future__ import annotations

import shutil
import time
from datetime import date, datetime
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from pipelines import jobs
from pipelines.ingest import IngestError, LoadResult
from pipelines.settings import Settings
from pipelines.synthetic import generate_book, write_book
from pipelines.tracking import NoChampion
from pipelines.warehouse import WarehouseLocked, connect

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
    paths: Annotated[list[Path], typer.Argument(help="CSV files or folders of them.")],
) -> None:
    """Load customers, invoices and payments files into the warehouse."""
    settings = Settings()
    try:
        results = jobs.ingest(settings, paths)
    except (IngestError, WarehouseLocked) as exc:
        raise _fail(str(exc)) from exc
    _print_loads(results)


def _print_loads(results: list[LoadResult]) -> None:
    table = Table(title="Rows read = loaded + rejected")
    for column in ("file", "kind", "read", "loaded", "rejected", ""):
        table.add_column(
            column, justify="right" if column in ("read", "loaded", "rejected") else "left"
        )
    for r in results:
        table.add_row(
            str(r.file),
            r.kind,
            f"{r.rows_read:,}",
            f"{r.rows_loaded:,}",
            f"{r.rows_rejected:,}",
            "already loaded: unchanged" if r.skipped else "",
        )
    console.print(table)
    if any(r.rows_rejected and not r.skipped for r in results):
        console.print(
            "Rejected rows, with the rule each broke, are in the warehouse table `rejects`."
        )


@app.command()
def features(
    out: Annotated[Path, typer.Option(help="Output file: .parquet or .csv.")],
    as_of: AsOf = None,
) -> None:
    """Write the features of every invoice open at the as-of date."""
    path, rows = jobs.write_features(Settings(), _day(as_of), out)
    console.print(f"Wrote features of {rows:,} open invoices to {path}")


@app.command()
def backtest(
    cutoff: Annotated[
        list[datetime] | None,
        typer.Option(formats=["%Y-%m-%d"], help="Cut date(s); default: 180 days before the end."),
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
        results = [jobs.backtest(settings, data, c.date()) for c in cutoff or [None]]
    except jobs.InsufficientData as exc:
        raise _fail(str(exc)) from exc
    for result in results:
        _print_backtest(result)
    if predictions:
        rows = pd.concat([r.predictions.assign(cut=r.cut) for r in results], ignore_index=True)
        jobs.write_table(rows, predictions)
        console.print(f"Wrote {len(rows):,} test snapshots with predictions to {predictions}")


def _print_backtest(result: jobs.BacktestResult) -> None:
    table = Table(
        title=f"Backtest: train before {result.cut}, test {result.cut} → {result.data_end}"
    )
    for column in (
        "target",
        "test rows",
        "late share",
        "model AUC",
        "prior late rate AUC",
        "aging AUC",
    ):
        table.add_column(column, justify="right")
    names = {"late": "paid after due date", "late_30": "seriously late (30 d)"}
    for target, m in result.metrics.items():
        table.add_row(
            names[target],
            f"{m['n']:,}",
            f"{m['late_share']:.1%}",
            f"{m['model_auc']:.3f}",
            f"{m['baseline_prior_late_rate_auc']:.3f}",
            f"{m['baseline_aging_auc']:.3f}" if "baseline_aging_auc" in m else "–",
        )
    console.print(table)


@app.command()
def train(
    force_promote: Annotated[
        bool, typer.Option(help="Make the new model champion whatever its backtest.")
    ] = False,
) -> None:
    """Backtest, train on all history, log to MLflow and register the model."""
    settings = Settings()
    try:
        result = jobs.train(settings, force_promote=force_promote)
    except jobs.InsufficientData as exc:
        raise _fail(str(exc)) from exc
    _print_backtest(result.backtest)
    _print_registered(settings, result)


def _print_registered(settings: Settings, result: jobs.TrainResult) -> None:
    r = result.registered
    status = "now champion" if r.promoted else "not promoted: the champion's backtest is better"
    console.print(
        f"Model '{settings.model_name}' version {r.version} ({status}); "
        f"trained on {result.training_rows:,} snapshots; MLflow run {r.run_id}"
    )


@app.command()
def score(as_of: AsOf = None) -> None:
    """Score open invoices with the champion model and publish the worklist."""
    settings = Settings()
    try:
        result = jobs.score(settings, _day(as_of))
    except (NoChampion, jobs.InsufficientData, WarehouseLocked) as exc:
        raise _fail(str(exc)) from exc
    _print_worklist(result)


def _print_worklist(result: jobs.ScoreResult, rows: int = 10) -> None:
    table = Table(title=f"Worklist as of {result.as_of}: top {rows} of {len(result.worklist):,}")
    for column in ("#", "customer", "collector", "open", "overdue", "risk", "at risk", "why"):
        table.add_column(
            column,
            justify="right" if column in ("#", "open", "overdue", "risk", "at risk") else "left",
        )
    for row in result.worklist.head(rows).itertuples():
        table.add_row(
            str(row.rank),
            f"{row.name} ({row.customer_id})",
            str(row.collector),
            f"{row.open_amount:,.0f}",
            f"{row.overdue_amount:,.0f}",
            f"{row.risk_probability:.0%}",
            f"{row.expected_amount_at_risk:,.0f}",
            row.reason.split("; ")[0],
        )
    console.print(table)
    console.print(
        f"Scored {result.invoices_scored:,} open invoices with model version "
        f"{result.model_version}; worklist: {result.worklist_path}"
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
        scored = jobs.score(settings)
        progress.update(task, completed=1)

    _print_loads(loads)
    _print_backtest(result)
    late = result.metrics["late"]
    console.print(
        f"On the later period, the model ranks invoices that will be paid late with AUC "
        f"[bold]{late['model_auc']:.3f}[/] against [bold]{late['baseline_prior_late_rate_auc']:.3f}[/] "
        "for the customer's prior late rate."
    )
    _print_registered(settings, trained)
    _print_worklist(scored)
    console.print(
        f"\nDone in {time.perf_counter() - started:.0f} s. Look at:\n"
        f"  worklist      {scored.worklist_path}\n"
        f"  warehouse     {settings.warehouse_path} (tables staging.*, scoring.worklist, rejects, loads)\n"
        f"  MLflow        mlflow ui --backend-store-uri {settings.mlflow_tracking_uri}"
    )


if __name__ == "__main__":
    app()
