"""What one partition does on a worker: the single-machine entry points on an in-memory DuckDB
holding that partition (partitions.open_partition). Each function takes and returns plain
values (an Export, dates, frames, a RiskModel), so Dask can ship them to any worker."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from features.catalog import CATEGORICAL_FEATURES
from features.runner import build_features, snapshot_outcomes
from models.labels import attach_outcomes, compact_features, label_snapshots
from models.train import RiskModel
from pipelines.cluster.partitions import Export, open_partition

# The columns of a backtest's test snapshots that the metrics read (models.evaluate).
TEST_COLUMNS = (
    "invoice_id",
    "customer_id",
    "as_of",
    "days_past_due",
    "open_amount",
    "days_since_issue",
    "share_paid_late",
    "median_days_late",
    "late",
    "late_30",
    "days_to_pay",
)


def partition_features(
    export: Export, part: int, dates: list[date], grace_days: int, threads: int = 1
) -> pd.DataFrame:
    """`build_features` of the partition's open invoices at `dates` (every customer)."""
    con = open_partition(export, part, threads)
    try:
        return build_features(con, dates, grace_days=grace_days)
    finally:
        con.close()


def partition_snapshots(
    export: Export, part: int, dates: list[date], grace_days: int, threads: int = 1
) -> pd.DataFrame:
    """The partition's training snapshots at `dates`, every customer and snapshot (no sampling),
    compact, with each invoice's final settled_date (as pipelines.jobs.train.training_data)."""
    con = open_partition(export, part, threads)
    try:
        frame = compact_features(
            build_features(con, dates, grace_days=grace_days), list(CATEGORICAL_FEATURES)
        )
        outcomes = snapshot_outcomes(con, frame["invoice_id"].unique())
    finally:
        con.close()
    return attach_outcomes(frame, outcomes)


def partition_scores(
    export: Export, part: int, as_of: date, grace_days: int, model: RiskModel, threads: int = 1
) -> pd.DataFrame:
    """The partition's open invoices at `as_of`: features and the model's predictions."""
    features = partition_features(export, part, [as_of], grace_days, threads)
    if features.empty:
        return features
    return features.join(model.predict(features))


def labelled(
    snapshots: pd.DataFrame,
    *,
    known_at: date,
    start: date | None,
    end: date | None,
    grace_days: int,
    serious_days: int,
) -> pd.DataFrame:
    """The snapshots with start <= as_of < end (None: unbounded), labelled as known at `known_at`
    (models.labels.label_snapshots), index reset."""
    as_of = pd.to_datetime(snapshots["as_of"])
    keep = np.ones(len(snapshots), dtype=bool)
    if start is not None:
        keep &= (as_of >= pd.Timestamp(start)).to_numpy()
    if end is not None:
        keep &= (as_of < pd.Timestamp(end)).to_numpy()
    frame = label_snapshots(
        snapshots[keep].reset_index(drop=True),
        None,
        known_at=known_at,
        grace_days=grace_days,
        serious_days=serious_days,
    )
    return frame


def test_predictions(frame: pd.DataFrame, model: RiskModel) -> pd.DataFrame:
    """The columns the backtest metrics read (TEST_COLUMNS) with the model's predictions."""
    if frame.empty:
        return pd.DataFrame(columns=[*TEST_COLUMNS])
    return frame[list(TEST_COLUMNS)].join(model.predict(frame))
