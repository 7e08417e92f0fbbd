"""Monitoring (models/monitoring.py): the realised accuracy of published lists with outcomes only
once known, PSI on hand distributions, the drift of a profile, the alerts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.monitoring import alerts, drift, feature_profile, labelled_scores, psi, realised


def test_psi_on_hand_distributions():
    # (0.25 − 0.5) ln(0.25 / 0.5) + (0.75 − 0.5) ln(0.75 / 0.5) = 0.17329 + 0.10137
    assert psi(np.array([0.5, 0.5]), np.array([0.25, 0.75])) == pytest.approx(0.274653, abs=1e-6)
    assert psi(np.array([0.2, 0.8]), np.array([0.2, 0.8])) == 0.0


# Two published lists, a week apart; outcomes known at Monday 2026-11-30.
LISTS = pd.DataFrame(
    [
        # as_of, invoice, open, days past due, p_late, p_late_30
        ("2026-11-02", "A", 1000.0, -5, 0.9, 0.8),  # due 11-07, paid 11-20: late, not late_30
        ("2026-11-02", "B", 1000.0, -5, 0.2, 0.1),  # due 11-07, paid 11-06: on time
        (
            "2026-11-02",
            "C",
            500.0,
            10,
            1.0,
            0.7,
        ),  # due 10-23, unpaid: late_30 (11-02 + 30 = 12-02: not known yet)
        ("2026-11-09", "D", 2000.0, -2, 0.3, 0.6),  # due 11-11, unpaid on 11-30: late (known)
        ("2026-11-09", "E", 100.0, -25, 0.1, 0.05),  # due 12-04: nothing known yet
    ],
    columns=["as_of", "invoice_id", "open_amount", "days_past_due", "p_late", "p_late_30"],
).assign(as_of=lambda f: pd.to_datetime(f["as_of"]))
OUTCOMES = pd.DataFrame(
    {
        "invoice_id": ["A", "B", "C", "D", "E"],
        "due_date": pd.to_datetime(
            ["2026-11-07", "2026-11-07", "2026-10-23", "2026-11-11", "2026-12-04"]
        ),
        "settled_date": pd.to_datetime(["2026-11-20", "2026-11-06", None, None, None]),
    }
)


def test_no_outcome_is_used_before_it_is_known():
    frame = labelled_scores(LISTS, OUTCOMES, pd.Timestamp("2026-11-30").date())
    late = frame.set_index("invoice_id")["late"]
    # A, B, D are past their due dates on 11-30; E is not: unknown, never "on time"
    assert late.to_dict() == pytest.approx(
        {"A": 1.0, "B": 0.0, "C": 1.0, "D": 1.0, "E": np.nan}, nan_ok=True
    )
    late_30 = frame.set_index("invoice_id")["late_30"]
    # A: due 11-07 + 30 = 12-07 not yet passed; C: listed 11-02 past due, horizon 12-02: unknown
    assert late_30.isna().all()


def test_realised_accuracy_per_list_and_window():
    frame = labelled_scores(LISTS, OUTCOMES, pd.Timestamp("2026-11-30").date())
    table = realised(frame)
    day = table[(table["target"] == "late") & (table["window"] == "day")].set_index("list_date")
    # list of 11-02, invoices not yet due (A, B): A late (p 0.9), B on time (p 0.2): AUC 1;
    # the aging list ties them (both −5): 0.5; Brier ((0.9−1)² + (0.2−0)²) / 2 = 0.025
    first = day.loc[pd.Timestamp("2026-11-02")]
    assert (first["n"], first["auc"], first["auc_aging"]) == (2, 1.0, 0.5)
    assert first["brier"] == pytest.approx(0.025)
    # the late money in the top 20% of the list (one invoice of two: A): all of it
    assert first["capture_top20"] == 1.0
    # list of 11-09: D only (one class): no AUC, n counted
    second = day.loc[pd.Timestamp("2026-11-09")]
    assert second["n"] == 1 and np.isnan(second["auc"])
    window = table[(table["target"] == "late") & (table["window"] == "4 weeks")].iloc[0]
    assert window["n"] == 3 and window["list_date"] == pd.Timestamp("2026-11-09")


def test_drift_names_the_feature_that_moved():
    rng = np.random.default_rng(0)
    # training snapshots of 10 weekly dates: only the last 4 weeks' make the profile
    trained = pd.DataFrame(
        {
            "as_of": np.repeat(pd.date_range("2026-08-24", periods=10, freq="7D"), 500),
            "x": rng.normal(0, 1, 5000),
            "y": rng.normal(0, 1, 5000),
            "c": rng.choice(["a", "b"], 5000),
        }
    )
    # the old weeks' y was elsewhere: it must not weigh in the profile
    trained.loc[trained["as_of"] < pd.Timestamp("2026-10-05"), "y"] += 5
    profile = feature_profile(trained, ["x", "y", "c"], ["c"])
    today = pd.DataFrame(
        {
            "x": rng.normal(0, 1, 2000),
            "y": rng.normal(1.5, 1, 2000),
            "c": rng.choice(["a", "b"], 2000),
        }
    )
    table = drift(profile, today)
    assert table.iloc[0]["feature"] == "y" and table.iloc[0]["psi"] > 0.25
    assert table.set_index("feature").loc[["x", "c"], "psi"].max() < 0.02
    warnings = alerts(
        pd.DataFrame(columns=["window", "target", "auc"]),
        table,
        backtest_auc=None,
        important=["y", "x"],
    )
    assert len(warnings) == 1 and "'y'" in warnings[0] and "latepay train" in warnings[0]
