"""Training examples: (invoice, as_of) snapshots of open invoices, labelled with what happened after.

Labels are only set where the outcome is known at `known_at` (DESIGN.md "Honest outcome"); where it
is not, the label is missing (NaN) and the snapshot must not be used to train or test that target.
Pure functions over DataFrames: no warehouse, files or clock.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd


def snapshot_dates(first: date, last: date, every_days: int) -> list[date]:
    """As-of dates every `every_days` days, counted back from `last`, none before `first`."""
    if last < first:
        return []
    count = (last - first).days // every_days
    return [last - timedelta(days=every_days * k) for k in range(count, -1, -1)]


def label_snapshots(
    features: pd.DataFrame,
    outcomes: pd.DataFrame,
    *,
    known_at: date,
    grace_days: int = 0,
    serious_days: int = 30,
) -> pd.DataFrame:
    """Add the labels known at `known_at` to feature snapshots.

    - `late`: 1 if the invoice was (or will be) settled more than `grace_days` after its due date.
      Known at T if it was settled before T, or its due date + grace is before T and it was still
      unpaid then (already late). NaN otherwise: an invoice unpaid and not yet due at T is never
      labelled on time.
    - `late_30` (serious lateness): 1 if the invoice was still unpaid `serious_days` after the
      later of its due date and as_of: paid that late when not yet due at as_of, or still unpaid
      `serious_days` from now when already past due. Known at T if settled before T, or that
      horizon is on or before T.
    `outcomes`: invoice_id, settled_date (final; null while unpaid). Rows keep their order.
    """
    frame = features.merge(
        outcomes[["invoice_id", "settled_date"]], on="invoice_id", how="left", validate="m:1"
    )
    t = pd.Timestamp(known_at)
    as_of = pd.to_datetime(frame["as_of"])
    due = pd.to_datetime(frame["due_date"])
    settled = pd.to_datetime(frame["settled_date"])
    settled_known = settled.notna() & (settled < t)

    late_when_settled = settled > due + pd.Timedelta(days=grace_days)
    late_known = settled_known | (due + pd.Timedelta(days=grace_days) < t)
    frame["late"] = np.where(late_known, np.where(settled_known, late_when_settled, True), np.nan)

    horizon = np.maximum(as_of, due) + pd.Timedelta(days=serious_days)
    late_30_known = settled_known | (horizon <= t)
    frame["late_30"] = np.where(
        late_30_known, np.where(settled_known, settled >= horizon, True), np.nan
    )
    return frame


def snapshot_weights(frame: pd.DataFrame) -> pd.Series:
    """1 / (number of snapshots of the same invoice): each invoice weighs the same in training,
    so invoices open for months do not dominate the weekly snapshots."""
    counts = frame.groupby("invoice_id")["invoice_id"].transform("size")
    return 1.0 / counts


def not_yet_late(frame: pd.DataFrame, grace_days: int = 0) -> pd.Series:
    """Snapshots where lateness is still undecided at as_of (due date + grace not yet passed):
    the population the `late` target is trained and measured on."""
    return frame["days_past_due"] <= grace_days
