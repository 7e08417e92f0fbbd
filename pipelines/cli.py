"""The `latepay` command line. Commands parse options, call one workload of `pipelines.jobs`
and print its result (`pipelines.console`); heavy imports (MLflow, LightGBM) happen inside the
commands that need them, so `latepay ingest` starts at once."""

from __future__ import annotations

import json
import math
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from pipelines import console
from pipelines.console import error, plain
from pipelines.settings import Settings, invalid_settings

app = typer.Typer(
    help="latepay: predict late payments and tell collectors whom to contact first.",
    no_args_is_help=True,
    add_completion=False,
)
T = TypeVar("T")

Day = Annotated[
    datetime | None,
    typer.Option(formats=["%Y-%m-%d"], help="Score as of this date (default: today)."),
]


def _day(value: datetime | None) -> date | None:
    return value.date() if value else None


# The faults a workload names (module, class): one line and exit code 1. Looked up among the
# modules already imported, so that `latepay ingest` or `features` never import MLflow or
# LightGBM only to catch their faults (a module not imported raised none).
KNOWN_FAULTS = (
    ("pipelines.tracking", "NoChampion"),
    ("pipelines.tracking", "TrackingStoreUnreadable"),
    ("pipelines.tracking", "ChampionUnreadable"),
    ("pipelines.jobs.score", "RefusedToPublish"),
    ("pipelines.jobs.score", "PublishFailed"),
    ("pipelines.warehouse.locks", "RunLocked"),
    ("models.train", "InsufficientData"),
    ("pipelines.warehouse", "WarehouseLocked"),
    ("pipelines.warehouse", "WarehouseUnreadable"),
    ("pipelines.ingest", "IngestError"),
    ("pipelines.jobs.demo", "NotADemoWarehouse"),
    ("builtins", "FileNotFoundError"),
    ("pipelines.cluster", "ClusterError"),
)


def _run(work: Callable[[], T]) -> T:
    """Run a workload; a fault it names (no champion, inputs refused, locked, too little data,
    a file it cannot load) is one line and exit code 1, never a traceback."""
    try:
        return work()
    except Exception as exc:
        if not isinstance(exc, known_faults()):
            raise
        error(str(exc))
        raise typer.Exit(code=1) from exc


def _settings() -> Settings:
    """The settings from the environment and .env; a value that is not valid is one line naming
    its LATEPAY_ variable, exit code 1 (pydantic printed a traceback)."""
    from pydantic import ValidationError

    try:
        return Settings()
    except ValidationError as exc:
        error(invalid_settings(exc))
        raise typer.Exit(code=1) from exc


def _output_file(option: str, path: Path | None) -> None:
    """Refuse, before the work, an output path that cannot be written as a file: a folder, a
    path under a file, a folder latepay cannot write to."""
    if path is None:
        return
    # the nearest folder that exists (the command makes the ones missing below it)
    found = next((p for p in path.parents if p.exists() or p.is_symlink()), Path("."))
    problem = None
    if path.is_dir():
        problem = "is a folder"
    elif not found.is_dir():
        problem = f"is under {found}, which is a file"
    elif not os.access(found, os.W_OK | os.X_OK):
        problem = f"is under {found}, which latepay cannot write to"
    if problem:
        error(f"{option} {path} {problem}: give a file path in a folder latepay can write to")
        raise typer.Exit(code=1)


def _write(option: str, path: Path, write: Callable[[], None]) -> None:
    """Write an output file an option names; a failure is one line naming it, exit code 1."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write()
    except OSError as exc:
        error(f"could not write {option} {path} ({exc.strerror or exc}): give a file path in a "
              "folder latepay can write to")  # fmt: skip
        raise typer.Exit(code=1) from exc


def known_faults() -> tuple[type[Exception], ...]:
    """The classes of KNOWN_FAULTS whose module is imported."""
    return tuple(
        getattr(sys.modules[module], name) for module, name in KNOWN_FAULTS if module in sys.modules
    )


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
    shape: Annotated[
        str,
        typer.Option(
            help="The files written, as an ERP exports them: full (every table), invoice_list, "
            "no_customers, no_disputes, no_currency, one_segment, one_off_customers, fr_ledger "
            "(README, 'Input format')."
        ),
    ] = "full",
) -> None:
    """Write a synthetic receivables book: customers, invoices, payments and oracle.csv."""
    from synthetic import generate_book, write_book
    from synthetic.shapes import SHAPES

    if shape not in SHAPES:
        raise typer.BadParameter(
            f"{shape!r} is not one of {', '.join(SHAPES)}", param_hint="--shape"
        )
    started = time.perf_counter()
    book = generate_book(customers, invoices, seed=seed, end_date=end_date.date(), years=years)
    paths = write_book(book, out, shape=shape)
    plain(
        f"Wrote {len(book.customers):,} customers, {len(book.invoices):,} invoices, "
        f"{len(book.payments):,} payments to {out} in {time.perf_counter() - started:.1f} s"
    )
    for path in paths.values():
        plain(f"  {path}")


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
    open_items: Annotated[
        bool,
        typer.Option(
            "--open-items",
            help="The invoices file is the complete list of invoices open on the load date: "
            "those of the previous open-items export now absent are settled on that date.",
        ),
    ] = False,
) -> None:
    """Load customers, invoices, payments and promises files into the warehouse."""
    from pipelines.jobs.ingest import ingest as ingest_job

    results = _run(lambda: ingest_job(_settings(), paths, mapping, _day(load_date), open_items))
    console.loads(results)


@app.command()
def features(
    out: Annotated[Path, typer.Option(help="Output file: .parquet or .csv.")],
    as_of: Annotated[
        datetime | None,
        typer.Option(
            formats=["%Y-%m-%d"],
            help="As-of date (YYYY-MM-DD): facts dated before it are used. "
            "Default: the day after the last invoice or payment in the warehouse.",
        ),
    ] = None,
) -> None:
    """Write the features of every invoice open at the as-of date."""
    from pipelines.jobs.ingest import export_features

    _output_file("--out", out)
    rows = _run(lambda: export_features(_settings(), _day(as_of), out))
    plain(f"Wrote features of {rows:,} open invoices to {out}")


@app.command()
def backtest(
    cutoff: Annotated[
        list[datetime] | None,
        typer.Option(
            formats=["%Y-%m-%d"],
            help="Cut date(s), repeatable; default: 360 and 180 days before the end of the data "
            "(under 20,000 invoices: every 60 days from 360 days before).",
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
    from pipelines.jobs.train import run_backtest
    from pipelines.publish.files import write_table

    cuts = [c.date() for c in cutoff or []] or None
    _output_file("--json", json_path)
    _output_file("--predictions", predictions)
    result = _run(lambda: run_backtest(_settings(), cuts))
    console.backtest(result)
    if json_path:
        summary = json.dumps(backtest_summary(result), indent=2)
        _write("--json", json_path, lambda: json_path.write_text(summary))
        plain(f"Wrote the backtest summary to {json_path}")
    if predictions:
        _write("--predictions", predictions, lambda: write_table(result.predictions, predictions))
        plain(f"Wrote {len(result.predictions):,} test snapshots to {predictions}")


def backtest_summary(result) -> dict:
    """The `--json` summary: per cut and overall, the collector's target (serious lateness)
    blocks `model`, `baseline_aging`, `baseline_prior_late_rate` at the top, every population
    below; NaN as null."""

    def clean(value: object) -> object:
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        return None if isinstance(value, float) and math.isnan(value) else value

    def blocks(of: dict) -> dict:
        return clean({**of["late_30"], "populations": of})

    return {
        "data_end": result.data_end.isoformat(),
        "per_cut": {cut: blocks(values) for cut, values in result.per_cut.items()},
        "overall": blocks(result.overall),
    }


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
    from pipelines.jobs.train import train as train_job

    settings = _settings()
    result = _run(lambda: train_job(settings, force_promote=force_promote, tune_trials=tune))
    if result.tuning is not None:
        console.tuning(result.tuning)
    console.backtest(result.backtest)
    console.registered(settings.model_name, result)


@app.command()
def score(as_of: Day = None) -> None:
    """Score open invoices with the champion model and publish the worklist, the collectors'
    workbooks and the report in data/outputs/<as_of>/."""
    from pipelines.jobs.score import score as score_job

    console.worklist(_run(lambda: score_job(_settings(), _day(as_of))))


@app.command()
def nightly(as_of: Day = None) -> None:
    """The nightly job without Prefect: load the exports dropped in the inbox, then score and
    publish. Exits non-zero, leaving yesterday's outputs in place, when the inputs look broken."""
    from pipelines.jobs.nightly import nightly as nightly_job

    settings = _settings()
    result = _run(lambda: nightly_job(settings, _day(as_of)))
    if result.loads:
        console.loads(result.loads)
        plain(f"Loaded files moved to {result.moved_to}")
    else:
        plain(f"Nothing new in the inbox ({settings.inbox_dir}).")
    console.worklist(result.score)
    if result.monitoring is not None:
        console.monitoring(result.monitoring)


@app.command()
def backfill(
    start: Annotated[datetime, typer.Argument(formats=["%Y-%m-%d"], help="First as-of date.")],
    end: Annotated[datetime, typer.Argument(formats=["%Y-%m-%d"], help="Last as-of date.")],
) -> None:
    """Score and publish every date from START to END (inclusive) with the current champion."""
    from pipelines.jobs.score import backfill as backfill_job

    def each() -> None:
        for result in backfill_job(_settings(), start.date(), end.date()):
            plain(
                f"{result.as_of}: {result.invoices_scored:,} invoices scored, "
                f"{len(result.published):,} customers listed -> {result.output_dir}"
            )

    _run(each)


@app.command()
def monitor(
    as_of: Annotated[
        datetime | None,
        typer.Option(formats=["%Y-%m-%d"], help="Outcomes known up to this date (default: today)."),
    ] = None,
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Write the realised accuracy and the drift.")
    ] = None,
) -> None:
    """How well the published lists caught the late money (AUC, Brier, late money in the top 20%,
    beside the aging list), and whether the book has drifted from the champion's training."""
    from pipelines.jobs.monitor import monitor as monitor_job

    _output_file("--json", json_path)
    result = _run(lambda: monitor_job(_settings(), _day(as_of)))
    console.monitoring(result)
    if json_path:
        summary = json.dumps(result.summary(), indent=2)
        _write("--json", json_path, lambda: json_path.write_text(summary))
        plain(f"Wrote the monitoring summary to {json_path}")


@app.command()
def serve() -> None:
    """Run the nightly schedule (LATEPAY_NIGHTLY_CRON in LATEPAY_NIGHTLY_TIMEZONE, default 02:00
    Europe/Paris) as a Prefect deployment until stopped. Point PREFECT_API_URL at a running
    `prefect server start` to see the runs in the Prefect UI."""
    # no network here: keep Prefect's server from trying to send analytics
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    from pipelines import deployments  # Prefect loads only for this command

    settings = _settings()
    try:
        deployments.require_server()
    except RuntimeError as exc:
        error(str(exc))
        raise typer.Exit(code=1) from exc
    plain(
        f"Serving the nightly deployment: cron '{settings.nightly_cron}' "
        f"({settings.nightly_timezone}); Ctrl+C to stop."
    )
    deployments.serve_nightly(settings)


@app.command()
def demo() -> None:
    """Run latepay end to end on the bundled sample: a fresh warehouse, ingest, backtest, train,
    register in MLflow, score, publish the worklist."""
    from pipelines.jobs.demo import demo as demo_job

    settings = _settings()
    started = time.perf_counter()
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, console=console.console, transient=False) as progress:

        @contextmanager
        def step(description: str) -> Iterator[None]:
            task = progress.add_task(description, total=1)
            yield
            progress.update(task, completed=1)

        result = _run(lambda: demo_job(settings, step))
    console.loads(result.loads)
    console.backtest(result.trained.backtest)
    late = result.trained.backtest.overall["late"]
    console.console.print(
        f"On the later periods, the model ranks invoices that will be paid late with AUC "
        f"[bold]{late['model']['auc']:.3f}[/] against "
        f"[bold]{late['baseline_prior_late_rate']['auc']:.3f}[/] for the customer's prior late rate."
    )
    console.registered(settings.model_name, result.trained)
    console.worklist(result.scored)
    scored = result.scored
    plain(
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
