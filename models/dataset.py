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


# Label columns added by label_snapshots (never model inputs).
LABEL_COLUMNS = ("settled_date", "late", "late_30", "days_to_pay")
# Days to pay are observed up to this horizon; longer delays count as the horizon.
DAYS_TO_PAY_HORIZON = 180


def label_snapshots(
    features: pd.DataFrame,
    outcomes: pd.DataFrame,
    *,
    known_at: date,
    grace_days: int = 0,
    serious_days: int = 30,
) -> pd.DataFrame:
    """Add the labels known at `known_at` to feature snapshots.

    A label is set only when its whole horizon lies before `known_at`, so whether a snapshot is
    labelled never depends on its outcome (keeping only the invoices already paid would bias
    recent snapshots towards early payers). Otherwise the label is NaN: an invoice whose outcome
    is not yet known is never labelled on time.
    - `late`: 1 if not settled by its due date + `grace_days`. Known once that date is before T.
    - `late_30` (serious lateness): 1 if still unpaid `serious_days` after the later of its due
      date and as_of: paid that late when not yet due at as_of, or still unpaid `serious_days`
      from now when already past due. Known once that horizon is on or before T.
    - `days_to_pay`: days from as_of to settlement, capped at DAYS_TO_PAY_HORIZON (an invoice
      unpaid by then counts as the horizon). Known once as_of + horizon is on or before T.
    `outcomes`: invoice_id, settled_date (final; null while unpaid). Rows keep their order.
    """
    frame = features.merge(
        outcomes[["invoice_id", "settled_date"]], on="invoice_id", how="left", validate="m:1"
    )
    t = pd.Timestamp(known_at)
    as_of = pd.to_datetime(frame["as_of"])
    due = pd.to_datetime(frame["due_date"])
    settled = pd.to_datetime(frame["settled_date"])

    def paid_before(deadline: pd.Series) -> pd.Series:
        return settled.notna() & (settled < deadline)

    late_by = due + pd.Timedelta(days=grace_days + 1)  # paid on due + grace is on time
    frame["late"] = np.where(late_by <= t, ~paid_before(late_by), np.nan)

    horizon = np.maximum(as_of, due) + pd.Timedelta(days=serious_days)
    frame["late_30"] = np.where(horizon <= t, ~paid_before(horizon), np.nan)

    cap = as_of + pd.Timedelta(days=DAYS_TO_PAY_HORIZON)
    days = (settled - as_of).dt.days.clip(upper=DAYS_TO_PAY_HORIZON)
    frame["days_to_pay"] = np.where(
        cap <= t, np.where(paid_before(cap), days, DAYS_TO_PAY_HORIZON), np.nan
    )
    return frame


def sample_per_invoice(frame: pd.DataFrame, per_invoice: int, seed: int = 0) -> pd.DataFrame:
    """At most `per_invoice` snapshots of each invoice, drawn at random (deterministic for a seed
    and row order): every invoice counts about the same in training, however many weeks it stayed
    open, and training cost grows with invoices, not with how long they stay unpaid."""
    key = np.random.default_rng(seed).random(len(frame))
    order = (
        pd.Series(key, index=frame.index)
        .groupby(frame["invoice_id"].to_numpy())
        .rank(method="first")
    )
    return frame[order <= per_invoice]


def not_yet_late(frame: pd.DataFrame, grace_days: int = 0) -> pd.Series:
    """Snapshots where lateness is still undecided at as_of (due date + grace not yet passed):
    the population the `late` target is trained and measured on."""
    return frame["days_past_due"] <= grace_days
