"""The demo: the whole job on the bundled sample book, as a newcomer's first command.

It loads the sample into a fresh warehouse, trains (backtest, fit, MLflow, champion) and scores
the day after the sample's last date. It never deletes a warehouse it did not create: the
warehouse it makes is marked (`meta.demo`), and an existing warehouse without that mark stops
the demo with a message instead of being replaced."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from features.runner import data_end
from pipelines.ingest import LoadResult
from pipelines.jobs import Step, no_step
from pipelines.jobs.ingest import ingest
from pipelines.jobs.score import ScoreResult, score
from pipelines.jobs.train import TrainResult, train
from pipelines.settings import Settings
from pipelines.warehouse import WarehouseLocked, connect

DEMO_MARK = "meta.demo"


class NotADemoWarehouse(RuntimeError):
    """The configured warehouse holds data the demo did not load."""


@dataclass
class DemoResult:
    loads: list[LoadResult]
    trained: TrainResult
    scored: ScoreResult


def demo(settings: Settings, step: Step = no_step) -> DemoResult:
    """Ingest the sample into a fresh warehouse, train and register the champion, score."""
    if not (settings.sample_dir / "invoices.csv").exists():
        raise FileNotFoundError(
            f"no sample book in {settings.sample_dir} (run from the repository root)"
        )
    with step("Loading the sample book into a fresh warehouse"):
        _remove_demo_warehouse(settings.warehouse_path)
        loads = ingest(settings, [settings.sample_dir])
        with connect(settings.warehouse_path) as con:
            con.execute(f"create table {DEMO_MARK} as select current_localtimestamp() as made_at")
            as_of = data_end(con)
    trained = train(settings, force_promote=True, step=step)
    with step("Scoring open invoices and publishing the worklist"):
        scored = score(settings, as_of)
    return DemoResult(loads, trained, scored)


def _remove_demo_warehouse(path: Path) -> None:
    """Delete the warehouse at `path` if the demo made it; refuse if it holds other data."""
    if not path.exists():
        return
    try:
        with connect(path, read_only=True) as con:
            [(marked,)] = con.execute(
                "select count(*) from duckdb_tables() "
                "where schema_name = 'meta' and table_name = 'demo'"
            ).fetchall()
    except WarehouseLocked:
        raise
    except duckdb.Error:  # not a DuckDB file, or a damaged one: not the demo's either
        marked = 0
    if not marked:
        raise NotADemoWarehouse(
            f"{path} holds data the demo did not load, and the demo starts from a fresh "
            "warehouse: point LATEPAY_WAREHOUSE_PATH (and LATEPAY_OUTPUTS_DIR, "
            "LATEPAY_MLFLOW_TRACKING_URI) elsewhere for the demo, or move that file yourself"
        )
    path.unlink()
    Path(f"{path}.wal").unlink(missing_ok=True)
