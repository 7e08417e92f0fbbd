"""Days late at issue: the payment-date forecast measured as collectors use it.

For each invoice at its first snapshot of the backtest's test period, taken within
FIRST_SNAPSHOT_DAYS of its issue, the predicted days late (the P50 payment date − the due date)
against the actual days late (the settlement date − the due date); the P10 and P90 payment dates
give the interval. Days late are 0 when the invoice is paid on time (as the history features
count them). The baseline is the customer's median days late over its invoices settled before
the snapshot (the `median_days_late` feature, point in time); a customer with no settled invoice
yet is expected on time (0 days).

Censoring. An invoice still open at the end of the data has no actual days late, and dropping it
would leave the early payers only. So every figure is on days late **capped at CAP_DAYS**, over
the invoices due at least CAP_DAYS before the end of the data: for each of them the capped value
is known (an invoice unpaid CAP_DAYS after its due date counts as CAP_DAYS late, and so does a
prediction beyond it), and which invoices are in depends only on their due date, never on when
they were paid. `censored` is the share of them unpaid at the cap.

Pure: frames in, a dict of figures out.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

FIRST_SNAPSHOT_DAYS = 7  # a first snapshot at most this many days after issue (weekly snapshots)
CAP_DAYS = 90  # days late are capped here (the censoring above)
WITHIN_DAYS = 3  # "within ±3 days"


def days_late_at_issue(
    snapshots: pd.DataFrame, outcomes: pd.DataFrame, data_end: date, cap_days: int = CAP_DAYS
) -> dict[str, object]:
    """Figures of the model and of the baseline on the first snapshots of `snapshots` (test
    snapshots with invoice_id, as_of, days_since_issue, median_days_late and the predictions
    days_to_pay_p10/p50/p90); `outcomes`: invoice_id, due_date, settled_date (NaT while open)
    as known at `data_end`.

    Returns {"model": {mae_days, within_3_days, p10_p90_coverage}, "baseline_customer_median":
    {mae_days, within_3_days}, "n", "censored", "cap_days"}; NaN figures when n = 0."""
    first = _first_snapshots(snapshots, outcomes, data_end, cap_days)
    n = len(first)
    out: dict[str, object] = {"n": n, "cap_days": cap_days}
    if n == 0:
        nan = float("nan")
        out["model"] = {"mae_days": nan, "within_3_days": nan, "p10_p90_coverage": nan}
        out["baseline_customer_median"] = {"mae_days": nan, "within_3_days": nan}
        out["censored"] = nan
        return out
    as_of = pd.to_datetime(first["as_of"])
    due = pd.to_datetime(first["due_date"])
    actual = _capped((pd.to_datetime(first["settled_date"]) - due).dt.days, cap_days)

    def predicted(column: str) -> np.ndarray:
        days = (as_of - due).dt.days + first[column].astype(float)
        return _capped(days, cap_days)

    p10, p50, p90 = (predicted(f"days_to_pay_{q}") for q in ("p10", "p50", "p90"))
    baseline = _capped(first["median_days_late"].astype(float).fillna(0.0), cap_days)
    out["model"] = {
        **_errors(p50, actual),
        "p10_p90_coverage": float(np.mean((p10 <= actual) & (actual <= p90))),
    }
    out["baseline_customer_median"] = _errors(baseline, actual)
    out["censored"] = float(np.mean(first["settled_date"].isna()))
    return out


def _first_snapshots(
    snapshots: pd.DataFrame, outcomes: pd.DataFrame, data_end: date, cap_days: int
) -> pd.DataFrame:
    """Each invoice's first snapshot, if within FIRST_SNAPSHOT_DAYS of issue and due at least
    `cap_days` before `data_end`, with its due and settled dates (settled after the cap:
    as unpaid)."""
    ordered = snapshots.sort_values(["invoice_id", "as_of"], kind="stable")
    first = ordered.drop_duplicates("invoice_id")
    first = first[first["days_since_issue"] <= FIRST_SNAPSHOT_DAYS]
    dates = outcomes[["invoice_id", "due_date", "settled_date"]]
    first = first.drop(columns=["due_date", "settled_date"], errors="ignore").merge(
        dates, on="invoice_id", how="inner"
    )
    cap = pd.to_datetime(first["due_date"]) + pd.Timedelta(days=cap_days)
    first = first.assign(settled_date=pd.to_datetime(first["settled_date"]))
    first["settled_date"] = first["settled_date"].mask(first["settled_date"] > cap)
    return first[cap <= pd.Timestamp(data_end)]


def _capped(days: pd.Series, cap_days: int) -> np.ndarray:
    """Days late between 0 (on time) and the cap; unknown (unpaid) = the cap."""
    return days.astype(float).fillna(cap_days).clip(0, cap_days).to_numpy()


def _errors(predicted: np.ndarray, actual: np.ndarray) -> dict[str, float]:
    error = np.abs(predicted - actual)
    return {
        "mae_days": float(error.mean()),
        "within_3_days": float(np.mean(error <= WITHIN_DAYS)),
    }
