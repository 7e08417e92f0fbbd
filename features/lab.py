"""The feature lab (notebook 03): run a candidate feature's SQL at snapshot dates, join it to the
feature snapshots, and check its signal before any model sees it."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import duckdb
import pandas as pd

from features.runner import KEY_COLUMNS


def candidate_feature(
    con: duckdb.DuckDBPyConnection,
    sql: str,
    dates: Iterable[date],
    params: dict[str, object] | None = None,
) -> pd.DataFrame:
    """Run a candidate feature's SQL at each date. The SQL reads the dates from a table
    `as_of_dates(as_of)`, as features/sql does, and returns one row per (customer_id, as_of) or
    (invoice_id, as_of) with the new column(s); it must use only facts dated before as_of."""
    dates_frame = pd.DataFrame({"as_of": pd.to_datetime(sorted(set(dates))).date})
    con.register("as_of_dates", dates_frame)
    try:
        frame = con.execute(sql, params).df()
    finally:
        con.unregister("as_of_dates")
    frame["as_of"] = pd.to_datetime(frame["as_of"])
    return frame


def add_feature(features: pd.DataFrame, candidate: pd.DataFrame) -> pd.DataFrame:
    """Feature snapshots with a candidate's columns joined on its keys (those of invoice_id,
    customer_id, as_of it has); rows keep their order and index; a missing match is NaN."""
    keys = [k for k in KEY_COLUMNS if k in candidate.columns]
    new = [c for c in candidate.columns if c not in keys]
    clash = [c for c in new if c in features.columns]
    if "as_of" not in keys or not new or clash:
        raise ValueError(
            f"a candidate needs as_of, a key and new columns; keys {keys}, new {new}, "
            f"already features: {clash}"
        )
    right = candidate.assign(
        as_of=pd.to_datetime(candidate["as_of"]).astype(features["as_of"].dtype)
    )
    merged = features.merge(right, on=keys, how="left", validate="m:1")
    merged.index = features.index
    return merged


def signal_by_quantile(
    frame: pd.DataFrame, column: str, label: str = "late_30", q: int = 10
) -> pd.DataFrame:
    """Share labelled 1 per quantile band of `column` (missing values as their own band), over
    rows with a known label: is there a signal before the model sees it?"""
    known = frame[frame[label].notna()]
    bands = pd.qcut(known[column], q, duplicates="drop").astype(str)
    bands = bands.where(known[column].notna(), "missing")
    return (
        known.groupby(bands, sort=False)
        .agg(
            low=(column, "min"),
            snapshots=(label, "size"),
            observed=(label, "mean"),
        )
        .sort_values("low", na_position="last")
        .rename_axis("band")
        .reset_index()
    )
