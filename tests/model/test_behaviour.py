"""Model behaviour on a small generated book: monotone in the obvious directions, row by row;
blind to names; calibrated young invoices apart."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from features.runner import build_features
from models.train import YOUNG_DAYS
from pipelines.warehouse import connect

# The lateness classifiers are constrained to be monotone in these (models.train): no row may
# move against the direction, beyond floating-point noise.
TOLERATED_SHARE = 0.0


def test_more_days_overdue_never_lowers_risk(model, open_now):
    before = model.predict(open_now)["p_late_30"]
    later = open_now.assign(days_past_due=open_now["days_past_due"] + 30)
    after = model.predict(later)["p_late_30"]
    lower = after < before - 1e-9
    assert lower.mean() <= TOLERATED_SHARE, f"{lower.sum()} of {len(lower)} rows lowered"
    # older as well as more overdue (the age is not constrained): higher on average
    older = later.assign(days_since_issue=open_now["days_since_issue"] + 30)
    assert model.predict(older)["p_late_30"].mean() >= before.mean()


def test_a_worse_history_never_lowers_risk(model, open_now):
    before = model.predict(open_now)
    worse = open_now.copy()
    # the state model's estimate summarises the same history: it worsens with it. A missing
    # history (a new customer) stays missing: "none" is not less than a value.
    for column in (
        "share_paid_late",
        "share_paid_late_365d",
        "share_paid_late_90d",
        "state_p_late",
    ):
        worse[column] = np.minimum(worse[column] + 0.3, 1.0)
    for column in (
        "avg_days_late",
        "avg_days_late_365d",
        "avg_days_late_90d",
        "avg_days_late_last5",
    ):
        worse[column] = worse[column] + 15
    after = model.predict(worse)
    pending = open_now["days_past_due"] <= 0
    for target, rows in (("p_late", pending), ("p_late_30", slice(None))):
        lower = (after[target] < before[target] - 1e-9)[rows]
        assert lower.mean() <= TOLERATED_SHARE, (target, f"{lower.sum()} of {len(lower)} lowered")


def test_already_overdue_invoices_are_late(model, open_now):
    overdue = open_now["days_past_due"] > 0
    assert overdue.any()
    assert (model.predict(open_now)["p_late"][overdue] == 1.0).all()


def test_renaming_customers_and_invoices_changes_nothing(book_copy, trained_book, model, open_now):
    with connect(book_copy.warehouse_path) as con:
        for table, columns in {
            "staging.customers": ["customer_id"],
            "staging.invoices": ["invoice_id", "customer_id"],
            "staging.payments": ["invoice_id"],
            "staging.disputes": ["invoice_id"],
            "staging.invoice_settlements": ["invoice_id", "customer_id"],
        }.items():
            sets = ", ".join(f"{c} = 'renamed-' || {c}" for c in columns)
            con.execute(f"update {table} set {sets}")
        renamed = build_features(con, [trained_book.data.data_end])
    assert (renamed["invoice_id"] == "renamed-" + open_now["invoice_id"]).all()
    pd.testing.assert_frame_equal(model.predict(renamed), model.predict(open_now))


def test_young_snapshots_have_their_own_calibration(model, open_now):
    """Invoices at most YOUNG_DAYS old get the young slope and shift on top of the others; a
    model saved with two numbers per target still predicts as it did."""
    young = (open_now["days_since_issue"] <= YOUNG_DAYS).to_numpy()
    assert 0 < young.sum() < len(open_now)
    plain = dataclasses.replace(model, calibration={"p_late": (1.0, 0.0, 0.0, 0.0)})
    shifted = dataclasses.replace(model, calibration={"p_late": (1.0, 0.0, 0.0, 1.0)})
    legacy = dataclasses.replace(model, calibration={"p_late": (1.0, 0.0)})
    p, q = plain.predict(open_now)["p_late"], shifted.predict(open_now)["p_late"]
    pending = (open_now["days_past_due"] <= 0).to_numpy()

    def logit(x):
        return np.log(x / (1 - x))

    np.testing.assert_allclose(logit(q[young & pending]), logit(p[young & pending]) + 1.0)
    assert q[~young].equals(p[~young])
    assert legacy.predict(open_now)["p_late"].equals(p)
    # the fitted calibration of the small book does use them
    assert model.calibration["p_late"][2:] != (0.0, 0.0)


def test_a_level_never_seen_in_training_or_no_level_at_all_is_scored(model, open_now):
    """A customer in a new country or segment, or no customers file at all (every categorical
    value missing): scored as a missing level, never an error."""
    categorical = list(model.categories)
    assert categorical, "the model has categorical features"
    unseen = open_now.copy()
    for column in categorical:
        unseen[column] = "never seen in training"
    missing = open_now.copy()
    for column in categorical:
        missing[column] = pd.Categorical([None] * len(missing))  # no category at all
    as_missing = open_now.copy()
    for column in categorical:
        as_missing[column] = None
    expected = model.predict(as_missing)
    pd.testing.assert_frame_equal(model.predict(unseen), expected)
    pd.testing.assert_frame_equal(model.predict(missing), expected)
    assert expected["p_late"].between(0, 1).all()


def test_a_small_fit_runs_on_one_thread_and_a_large_one_on_the_settings(
    model, trained_book, monkeypatch
):
    """LightGBM's threads cost more than they save on a small fit (models.train
    THREADED_FROM_ROWS): the trained book's boosters were fitted on one; a fit at least that large
    takes DEFAULT_PARAMS' threads."""
    import models.train as train
    from models.backtest import TrainingConfig, fit_model
    from models.labels import label_snapshots

    boosters = {**model.boosters, **model.quantile_boosters}
    assert {name: b.params["num_threads"] for name, b in boosters.items()} == dict.fromkeys(
        boosters, 1
    )
    labelled = label_snapshots(
        trained_book.data.features, None, known_at=trained_book.data.data_end
    )
    monkeypatch.setattr(train, "THREADED_FROM_ROWS", 1)
    large = fit_model(labelled, TrainingConfig(), {"rounds": 2})
    threads = train.DEFAULT_PARAMS["num_threads"]
    assert {
        b.params["num_threads"]
        for b in (*large.boosters.values(), *large.quantile_boosters.values())
    } == {threads}
