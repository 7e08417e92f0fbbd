"""Small books: the size rule of LightGBM's settings, the calibration that never reverses the
ranking, the AUC's bootstrap interval and the backtest's extra cuts (hand-made inputs)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from models.backtest import TrainingData, backtest_cuts, default_cuts
from models.metrics import auc_interval, weighted_auc
from models.train import DEFAULT_PARAMS, DEFAULT_ROUNDS, YOUNG_DAYS, _platt, size_params


@pytest.mark.parametrize(
    ("invoices", "leaves", "leaf_rows", "rounds"),
    [
        (500, 4, 20, 50),  # the floors
        (900, 4, 20, 50),  # a 100-customer book's first backtest cut
        (2_500, 10, 20, 62),  # 0.3125 of full size: 9.7 leaves, 15.6 rows (floor 20), 62.5
        (4_000, 16, 25, 100),  # half size (15.5 leaves rounds to even)
        (8_000, 31, 50, 200),  # full size: the defaults
        (2_000_000, 31, 50, 200),  # big books: the defaults, unchanged
    ],
)
def test_size_params_scale_trees_and_rounds_with_the_training_invoices(
    invoices, leaves, leaf_rows, rounds
):
    assert size_params(invoices) == ({"num_leaves": leaves, "min_data_in_leaf": leaf_rows}, rounds)


def test_size_params_give_the_defaults_back_from_full_size():
    sized, rounds = size_params(8_000)
    assert {**DEFAULT_PARAMS, **sized} == DEFAULT_PARAMS and rounds == DEFAULT_ROUNDS


def _calibration_slice(young_reversed: bool, young_rows: int) -> tuple:
    """60 invoices x 10 weekly dates; in the last two dates (the calibration slice), `young_rows`
    snapshots are young, and the booster's score ranks their labels backwards when
    `young_reversed` (older snapshots are ranked the right way)."""
    rng = np.random.default_rng(1)
    n_inv, n_dates = 200, 10
    dates = pd.date_range("2024-01-01", periods=n_dates, freq="7D")
    train = pd.DataFrame(
        {
            "invoice_id": np.repeat([f"I{i}" for i in range(n_inv)], n_dates),
            "as_of": np.tile(dates, n_inv),
            "days_since_issue": 30,
            "late": rng.integers(0, 2, n_inv * n_dates).astype(float),
        }
    )
    last = np.flatnonzero(train["as_of"] >= dates[-2])
    train.loc[last[:young_rows], "days_since_issue"] = YOUNG_DAYS
    score = train["late"].to_numpy() * 2 - 1 + rng.normal(0, 1, len(train))
    young = (train["days_since_issue"] <= YOUNG_DAYS).to_numpy()
    if young_reversed:
        score[young] = -score[young]

    class Booster:
        def predict(self, rows, raw_score):
            return rows[:, 0]

    x = score.reshape(-1, 1)
    ids = pd.factorize(train["invoice_id"])[0]
    return train, x, ids, lambda rows, label, objective, rounds: Booster()


def test_the_calibration_never_reverses_the_ranking_of_young_invoices():
    train, x, ids, fit = _calibration_slice(young_reversed=True, young_rows=400)
    slope, _, young_slope, _ = _platt(train, x, ids, np.arange(len(train)), "late", fit, 10, 0)
    # fitted freely, the young slope would be negative: young terms dropped, order kept
    assert slope > 0 and young_slope == 0.0


def test_young_terms_need_enough_young_snapshots_of_each_class():
    train, x, ids, fit = _calibration_slice(young_reversed=False, young_rows=400)
    every = np.arange(len(train))
    assert _platt(train, x, ids, every, "late", fit, 10, 0)[2:] != (0.0, 0.0)
    train, x, ids, fit = _calibration_slice(young_reversed=False, young_rows=150)
    assert _platt(train, x, ids, every, "late", fit, 10, 0)[2:] == (0.0, 0.0)


def _predictions() -> pd.DataFrame:
    """30 customers x 10 snapshots; the score ranks the labels with some noise."""
    rng = np.random.default_rng(0)
    customer = np.repeat([f"C{i}" for i in range(30)], 10)
    late = rng.integers(0, 2, 300).astype(float)
    return pd.DataFrame(
        {"customer_id": customer, "late": late, "score": late + rng.normal(0, 1.2, 300)}
    )


def test_auc_interval_holds_the_estimate_and_is_the_same_for_the_same_seed():
    p = _predictions()
    auc = roc_auc_score(p["late"], p["score"])
    low, high = auc_interval(p["late"], p["score"], p["customer_id"], seed=3)
    assert low < auc < high and 0.05 < high - low < 0.3
    assert auc_interval(p["late"], p["score"], p["customer_id"], seed=3) == (low, high)
    assert auc_interval(p["late"], p["score"], p["customer_id"], seed=4) != (low, high)
    # a 50% interval is inside the 90% one
    low50, high50 = auc_interval(p["late"], p["score"], p["customer_id"], level=0.5, seed=3)
    assert low < low50 < high50 < high


def test_auc_interval_resamples_customers_not_rows():
    """Ten copies of each row: row by row the interval would shrink; by customer it does not."""
    p = _predictions()
    tenfold = pd.concat([p] * 10, ignore_index=True)
    low, high = auc_interval(p["late"], p["score"], p["customer_id"], seed=0)
    low10, high10 = auc_interval(tenfold["late"], tenfold["score"], tenfold["customer_id"], seed=0)
    assert (high10 - low10) == pytest.approx(high - low, abs=0.02)


def test_auc_interval_is_missing_with_one_class():
    p = _predictions().assign(late=1.0)
    low, high = auc_interval(p["late"], p["score"], p["customer_id"])
    assert np.isnan(low) and np.isnan(high)


def _data(invoices: int) -> TrainingData:
    features = pd.DataFrame({"invoice_id": np.arange(invoices)})
    return TrainingData(features, pd.DataFrame(), date(2024, 11, 1), date(2026, 11, 1))


def test_a_small_book_is_backtested_at_a_cut_every_60_days():
    cuts = backtest_cuts(_data(2_500))
    assert cuts == [
        date(2025, 11, 6),
        date(2026, 1, 5),
        date(2026, 3, 6),
        date(2026, 5, 5),
        date(2026, 7, 4),
        date(2026, 9, 2),
    ]
    assert cuts[0] == default_cuts(date(2026, 11, 1))[0]  # the same test period


def test_a_large_book_keeps_its_two_cuts():
    assert backtest_cuts(_data(20_000)) == default_cuts(date(2026, 11, 1))


def test_weighted_auc_is_sklearns_with_sample_weights_and_ties():
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, 500)
    score = rng.integers(0, 20, 500).astype(float)  # many ties
    weights = rng.integers(0, 4, 500).astype(float)
    levels = np.unique(score, return_inverse=True)[1]
    expected = roc_auc_score(y, score, sample_weight=weights)
    assert weighted_auc(y, levels, weights) == pytest.approx(expected, abs=1e-12)
    assert np.isnan(weighted_auc(np.ones(5, dtype=int), np.arange(5), np.ones(5)))
