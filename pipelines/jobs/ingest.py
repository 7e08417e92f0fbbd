"""Load exports into the warehouse, and export what features make of them."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from features import runner
from features.runner import data_end
from pipelines.ingest import LoadResult, ingest_files
from pipelines.settings import Settings
from pipelines.warehouse import connect


def ingest(
    settings: Settings,
    paths: list[Path],
    mapping: Path | None = None,
    load_date: date | None = None,
    open_items: bool = False,
) -> list[LoadResult]:
    """Load exports; rows dated after `load_date` (default: today) are rejected as future.
    `open_items`: the invoices file is the open-items export of that day."""
    with connect(settings.warehouse_path) as con:
        return ingest_files(
            con, paths, mapping, load_date=load_date or date.today(), open_items=open_items
        )


def load_sample_if_empty(settings: Settings) -> bool:
    """Load the sample book (settings.sample_dir) into the warehouse when it holds no invoices,
    so a notebook runs on a fresh checkout; True when it loaded. `make demo` loads the same."""
    with connect(settings.warehouse_path) as con:
        [(invoices,)] = con.execute("select count(*) from staging.invoices").fetchall()
    if invoices:
        return False
    ingest(settings, [settings.sample_dir])
    return True


def export_features(settings: Settings, as_of: date | None, out: Path) -> int:
    """Write the features of every invoice open at `as_of` (default: the day after the last
    fact in the warehouse) to Parquet or CSV; returns the number of rows."""
    with connect(settings.warehouse_path) as con:
        day = as_of or data_end(con)
        return runner.export_features(con, day, out, grace_days=settings.late_grace_days)
