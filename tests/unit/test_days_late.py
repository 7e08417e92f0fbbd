"""Days late at issue, on hand-written first snapshots: exact figures, the point-in-time baseline
and censoring (models/days_late.py)."""

from __future__ import annotations

import math
from datetime import date

import pandas as pd
import pytest

from models.days_late import days_late_at_issue

END = date(2026, 6, 30)


def _snapshots(rows: list[tuple]) -> pd.DataFrame:
    columns = ["invoice_id", "as_of", "days_since_issue", "median_days_late"]
    frame = pd.DataFrame(rows, columns=[*columns, "p10", "p50", "p90"])
    frame["as_of"] = pd.to_datetime(frame["as_of"])
    return frame.rename(columns={q: f"days_to_pay_{q}" for q in ("p10", "p50", "p90")})


def _outcomes(rows: list[tuple]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["invoice_id", "due_date", "settled_date"])
    return frame.assign(
        due_date=pd.to_datetime(frame["due_date"]),
        settled_date=pd.to_datetime(frame["settled_date"]),
    )


def test_exact_figures_for_the_model_and_the_baseline():
    # as_of 2026-01-05, due 2026-02-01 (27 days later)
    snapshots = _snapshots(
        [
            # predicted 27 + 10 - 27 = 10 days late; paid 12 days late; baseline 5
            ("A", "2026-01-05", 4, 5.0, 30.0, 37.0, 60.0),
            # a later snapshot of A: never the first
            ("A", "2026-01-12", 11, 5.0, 0.0, 0.0, 0.0),
            # predicted on time (P50 before the due date: 0), paid 2 days early (0); no history
            ("B", "2026-01-05", 1, None, 10.0, 20.0, 25.0),
        ]
    )
    outcomes = _outcomes([("A", "2026-02-01", "2026-02-13"), ("B", "2026-02-01", "2026-01-30")])
    d = days_late_at_issue(snapshots, outcomes, END)
    assert d["n"] == 2 and d["censored"] == 0.0
    # errors: A |10 - 12| = 2, B |0 - 0| = 0
    assert d["model"]["mae_days"] == pytest.approx(1.0)
    assert d["model"]["within_3_days"] == 1.0
    # A: [3, 33] contains 12; B: [0, 0] contains 0
    assert d["model"]["p10_p90_coverage"] == 1.0
    # baseline: A 5 (error 7), B no history: on time, 0 (error 0)
    assert d["baseline_customer_median"]["mae_days"] == pytest.approx(3.5)
    assert d["baseline_customer_median"]["within_3_days"] == 0.5


def test_an_invoice_unpaid_at_the_cap_counts_as_censored_not_dropped():
    snapshots = _snapshots(
        [
            # predicted 10 days late, never paid: actual capped at 90
            ("A", "2026-01-05", 4, 0.0, 37.0, 37.0, 200.0),
            # paid 100 days late, beyond the cap: 90, as a prediction of 150 days late is
            ("B", "2026-01-05", 4, 0.0, 10.0, 177.0, 180.0),
        ]
    )
    outcomes = _outcomes([("A", "2026-02-01", None), ("B", "2026-02-01", "2026-05-12")])
    d = days_late_at_issue(snapshots, outcomes, END)
    assert d["n"] == 2
    assert d["censored"] == 1.0  # both unpaid at the cap (B was paid after it)
    assert d["model"]["mae_days"] == pytest.approx((80 + 0) / 2)
    # A: P90 reaches past the cap (covered); B: P10 = 0 ≤ 90 ≤ P90 capped at 90 (covered)
    assert d["model"]["p10_p90_coverage"] == 1.0
    assert d["baseline_customer_median"]["mae_days"] == pytest.approx(90.0)


def test_only_first_snapshots_near_issue_and_due_early_enough_to_know_the_capped_outcome():
    snapshots = _snapshots(
        [
            ("old", "2026-01-05", 40, 0.0, 1.0, 1.0, 1.0),  # first seen 40 days after issue
            ("young", "2026-05-01", 3, 0.0, 1.0, 1.0, 1.0),  # due 2026-06-01 + 90 > END
        ]
    )
    outcomes = _outcomes([("old", "2026-01-10", None), ("young", "2026-06-01", None)])
    d = days_late_at_issue(snapshots, outcomes, END)
    assert d["n"] == 0
    assert math.isnan(d["model"]["mae_days"]) and math.isnan(d["censored"])
