"""LightGBM payment-delay models: pure functions from labelled snapshots to a fitted `RiskModel`.

- `p_late`: probability the invoice is settled after its due date (+ grace); learnt from snapshots
  not yet past due (once past due, lateness is decided).
- `p_late_30`: probability of serious lateness (see models.labels.label_snapshots).
- P10/P50/P90 of days from as_of to payment (quantile regression, capped at the horizon).
Probabilities are calibrated (Platt scaling fitted out of time, on the latest training dates), so
that a 30% means 3 in 10 on the snapshots collectors see; invoices issued in the last YOUNG_DAYS
days get their own slope and shift (a fresh invoice's risk drifts with the book's most recent
months, which the boosters see least).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from models.labels import not_yet_late
from models.sampling import per_invoice_mask

# probability target -> label column
TARGETS = {"p_late": "late", "p_late_30": "late_30"}
QUANTILES = {"days_to_pay_p10": 0.1, "days_to_pay_p50": 0.5, "days_to_pay_p90": 0.9}
# Share of the latest training dates held out to fit the calibration.
CALIBRATION_SHARE = 0.2
# Snapshots at most this many days after issue are calibrated with their own slope and shift.
YOUNG_DAYS = 7
# Training snapshots drawn per invoice and target (see models.sampling.sample_per_invoice).
SNAPSHOTS_PER_INVOICE = 2
# The calibration's stand-in booster (see _platt) is fitted on one snapshot per invoice: half the
# boosting time, and the same calibration error on the 1M book, a lower one on the sample
# (benchmarks/RESULTS.md, 2026-12-04).
CALIBRATION_SNAPSHOTS_PER_INVOICE = 1

DEFAULT_PARAMS: dict[str, object] = {
    "objective": "binary",
    "learning_rate": 0.08,
    "num_leaves": 31,
    "min_data_in_leaf": 50,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 1.0,
    # 63 histogram bins and row-wise histograms: 35% faster boosting at 1M invoices, the same
    # AUCs (benchmarks/RESULTS.md, 2026-12-03); row-wise alone changes no prediction
    "max_bin": 63,
    "force_row_wise": True,
    "num_threads": 2,
    "verbose": -1,
}
# Features whose increase may never lower the risk: LightGBM monotone constraints on the
# lateness classifiers (not on the payment-date quantiles: LightGBM refuses them there). Without
# them 19% of open invoices got a lower risk from a worse payment history; with them the sample's
# backtest AUCs moved by less than 0.001. The invoice's age is left free: constraining it too
# cost 0.005 of AUC (serious lateness) on the sample.
MONOTONE_INCREASING: tuple[str, ...] = (
    "days_past_due",
    "share_paid_late",
    "share_paid_late_365d",
    "share_paid_late_90d",
    "state_p_late",
    "avg_days_late",
    "avg_days_late_365d",
    "avg_days_late_90d",
    "avg_days_late_last5",
)
DEFAULT_ROUNDS = 200
NO_CALIBRATION = (1.0, 0.0, 0.0, 0.0)
QUANTILE_ROUNDS = 100
# Size rule (see size_params): from this many training invoices on, DEFAULT_PARAMS and
# DEFAULT_ROUNDS as they are; below it, fewer leaves, smaller leaves and fewer rounds in proportion,
# down to these floors (a book of 100 customers and 2,500 invoices trains on 900-2,300 invoices).
FULL_SIZE_INVOICES = 8_000
MIN_LEAVES, MIN_LEAF_ROWS, MIN_ROUNDS = 4, 20, 50
# The young terms of the calibration are fitted only with at least this many young snapshots of
# each class in the calibration slice (fewer: an unpenalised slope on a few hundred rows can even
# reverse the ranking of fresh invoices).
MIN_YOUNG_PER_CLASS = 100
# With OpenMP's PASSIVE wait (pipelines/__init__.py) LightGBM's threads sleep and wake at every
# split: on a fit of fewer rows than this, one thread is faster than two (the test suite's book
# of 6,000 invoices: its backtest 23 s -> 8.5 s; on 64 random features the two break even between
# 50,000 and 80,000 rows: benchmarks/lightgbm_threads.py, RESULTS.md 2026-12-06).
THREADED_FROM_ROWS = 50_000


def size_params(invoices: int) -> tuple[dict[str, object], int]:
    """LightGBM's leaves and minimum leaf size, and the boosting rounds, for a training set of
    `invoices` invoices: DEFAULT_PARAMS and DEFAULT_ROUNDS from FULL_SIZE_INVOICES on; below,
    each scaled by invoices / FULL_SIZE_INVOICES (rounded), down to MIN_LEAVES, MIN_LEAF_ROWS and
    MIN_ROUNDS: a small book gets shallow trees and a short ensemble, which overfit less."""
    scale = min(1.0, invoices / FULL_SIZE_INVOICES)
    leaves = max(MIN_LEAVES, round(int(DEFAULT_PARAMS["num_leaves"]) * scale))
    leaf_rows = max(MIN_LEAF_ROWS, round(int(DEFAULT_PARAMS["min_data_in_leaf"]) * scale))
    rounds = max(MIN_ROUNDS, round(DEFAULT_ROUNDS * scale))
    return {"num_leaves": leaves, "min_data_in_leaf": leaf_rows}, rounds


class InsufficientData(ValueError):
    """Too little labelled history to train a target; the message says what is missing."""


@dataclass
class RiskModel:
    """Fitted boosters with the exact feature list and categorical levels they were trained on."""

    feature_names: list[str]
    categories: dict[str, list[str]]
    boosters: dict[str, lgb.Booster]
    grace_days: int = 0
    params: dict[str, object] = field(default_factory=dict)
    # target -> (slope, intercept, young slope, young shift) on the booster's log-odds: the
    # young terms are added for snapshots at most YOUNG_DAYS after issue
    calibration: dict[str, tuple[float, ...]] = field(default_factory=dict)
    quantile_boosters: dict[str, lgb.Booster] = field(default_factory=dict)

    def matrix(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The model's input matrix for feature rows (unseen categories become missing), as a
        DataFrame with categorical columns (SHAP plots and reasons read it)."""
        x = frame[self.feature_names].copy()
        for column, levels in self.categories.items():
            x[column] = pd.Categorical(x[column].astype("object"), categories=levels)
        for column in x.columns:
            if column not in self.categories:
                x[column] = pd.to_numeric(x[column], errors="coerce").astype("float64")
        return x

    def array(self, frame: pd.DataFrame) -> np.ndarray:
        """The model's input matrix as one float64 array (what the boosters are fitted on):
        numeric features as they are, categorical ones as the code of their level in
        `categories` (NaN when missing or unseen), the columns in `feature_names` order."""
        x = np.empty((len(frame), len(self.feature_names)), dtype=np.float64)
        for j, column in enumerate(self.feature_names):
            values = frame[column]
            if column in self.categories:
                codes = _category_codes(values, self.categories[column])
                x[:, j] = np.where(codes < 0, np.nan, codes)
            else:
                x[:, j] = pd.to_numeric(values, errors="coerce").to_numpy(
                    dtype=np.float64, na_value=np.nan
                )
        return x

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        """p_late, p_late_30 and the days-to-pay quantiles, one row per feature row.

        An invoice already past due + grace is late: p_late = 1. Quantiles are sorted so that
        P10 <= P50 <= P90.
        """
        x = self.array(frame)
        out = pd.DataFrame(index=frame.index)
        young = _young(frame)
        undecided = not_yet_late(frame, self.grace_days).to_numpy()
        for target, booster in self.boosters.items():
            # p_late is 1 for an invoice already past due + grace: its booster reads the others
            rows = undecided if target == "p_late" else np.ones(len(x), dtype=bool)
            values = np.ones(len(x))
            if rows.any():
                raw = booster.predict(x if rows.all() else x[rows], raw_score=True)
                values[rows] = self._calibrated(target, raw, young[rows])
            out[target] = values
        if self.quantile_boosters:
            values = np.column_stack([b.predict(x) for b in self.quantile_boosters.values()])
            values = np.sort(np.clip(values, 0, None), axis=1)
            for i, name in enumerate(self.quantile_boosters):
                out[name] = values[:, i]
        return out

    def _calibrated(self, target: str, raw: np.ndarray, young: np.ndarray) -> np.ndarray:
        """The probability of `target` from its booster's raw scores (log-odds)."""
        # (models saved before the young terms existed have two numbers)
        calibration = (*self.calibration.get(target, NO_CALIBRATION), 0.0, 0.0)
        slope, intercept, young_slope, young_shift = calibration[:4]
        logit = (slope + young_slope * young) * raw + intercept + young_shift * young
        return 1.0 / (1.0 + np.exp(-logit))


def _category_codes(values: pd.Series, levels: list[str]) -> np.ndarray:
    """Codes of `values` among `levels` (-1 when missing or not a level), as LightGBM numbers a
    pandas categorical column fitted with these levels. A column with no category at all (every
    value missing: no customers file) or none among `levels` gives -1 everywhere."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        # map the (few) categories, not the rows; a missing value's code, -1, picks the -1
        # appended last (so an empty set of categories needs no special case)
        lookup = pd.Index(levels, dtype=object).get_indexer(values.cat.categories.astype(str))
        return np.append(lookup, -1)[values.cat.codes.to_numpy()].astype(np.int64)
    text = values.astype("object").where(values.notna(), None)
    return pd.Index(levels, dtype=object).get_indexer(text).astype(np.int64)


def _rows_for(train: pd.DataFrame, target: str, grace_days: int) -> pd.Series:
    rows = train[TARGETS[target]].notna()
    if target == "p_late":
        rows &= not_yet_late(train, grace_days)
    return rows


def check_sufficient(train: pd.DataFrame, *, grace_days: int = 0, min_rows: int = 200) -> None:
    """Raise InsufficientData, saying what is missing and how much more is needed, when a target
    has too few labelled snapshots or only one class."""
    for target, label in TARGETS.items():
        y = train.loc[_rows_for(train, target, grace_days), label]
        if len(y) < min_rows:
            raise InsufficientData(
                f"{target}: {len(y)} snapshots with a known outcome; at least {min_rows} are "
                f"needed ({min_rows - len(y)} more): load more settled invoices or a longer history"
            )
        positives = int(y.sum())
        if positives == 0 or positives == len(y):
            kind = "late" if positives == 0 else "on-time"
            raise InsufficientData(
                f"{target}: all {len(y)} known outcomes are of one class: no {kind} invoice yet; "
                "the model needs both late and on-time payments in the history"
            )


def fit_risk_model(
    train: pd.DataFrame,
    feature_names: list[str],
    categorical: list[str],
    *,
    grace_days: int = 0,
    seed: int = 0,
    params: dict[str, object] | None = None,
    num_boost_round: int | None = None,
    calibrate: bool = True,
) -> RiskModel:
    """Fit the classifiers, their calibration and the quantile models on labelled snapshots
    (rows with a missing label are left out of that target), at most SNAPSHOTS_PER_INVOICE
    snapshots of each invoice per target, so invoices open for months do not dominate.

    `train` is only read: its rows are copied once, as one float64 array, and binned once."""
    check_sufficient(train, grace_days=grace_days)
    # numbers: grouping them to draw the per-invoice samples is 3x faster than grouping text
    invoice_ids, invoices = pd.factorize(train["invoice_id"])
    # leaves, leaf size and rounds: size_params, unless `params` or `num_boost_round` say
    merged, rounds = _settings(len(invoices), params, num_boost_round, seed)
    categories = {c: _levels(train[c]) for c in categorical}
    model = RiskModel(feature_names, categories, {}, grace_days, {**merged, "rounds": rounds})
    categorical_columns = [feature_names.index(c) for c in categories if c in feature_names]

    # every row binned once (bins from a sample of the whole training set); each fit takes a
    # subset of the binned rows and its own labels
    x = model.array(train)
    binned = lgb.Dataset(
        x,
        label=np.zeros(len(train)),
        feature_name=feature_names,
        categorical_feature=categorical_columns,
        params=merged,
    ).construct()

    def dataset(rows: np.ndarray, label: str) -> lgb.Dataset:
        """The rows at positions `rows` of `train`, labelled with column `label`."""
        subset = binned.subset(rows).construct()
        subset.set_label(train[label].to_numpy(dtype=float)[rows])
        return subset

    monotone = _monotone(feature_names)

    def fit(rows: np.ndarray, label: str, objective: dict, rounds: int) -> lgb.Booster:
        """Fit on the rows at positions `rows` of `train`."""
        settings = {**merged, **monotone, **objective, **_threads(len(rows))}
        return lgb.train(settings, dataset(rows, label), num_boost_round=rounds)

    for target, label in TARGETS.items():
        rows = np.flatnonzero(_rows_for(train, target, grace_days).to_numpy())
        if calibrate:
            platt = _platt(train, x, invoice_ids, rows, label, fit, rounds, seed)
            model.calibration[target] = platt
        model.boosters[target] = fit(_sample(invoice_ids, rows, seed), label, {}, rounds)

    if "days_to_pay" in train:
        rows = _sample(invoice_ids, np.flatnonzero(train["days_to_pay"].notna().to_numpy()), seed)
        model.quantile_boosters = _fit_quantiles(dataset(rows, "days_to_pay"), merged)
    return model


def _settings(
    invoices: int, params: dict[str, object] | None, rounds: int | None, seed: int
) -> tuple[dict[str, object], int]:
    """LightGBM's settings and rounds for a fit on `invoices` invoices: DEFAULT_PARAMS with
    size_params' choice, then `params` (a saved model's params, its "rounds" among them) and
    `rounds` when given."""
    given = dict(params or {})
    sized, sized_rounds = size_params(invoices)
    rounds = rounds or int(given.pop("rounds", sized_rounds))  # type: ignore[call-overload]
    return {**DEFAULT_PARAMS, **sized, **given, "seed": seed}, rounds


def _threads(rows: int) -> dict[str, object]:
    """One LightGBM thread for a fit of fewer than THREADED_FROM_ROWS rows; else the settings'."""
    return {"num_threads": 1} if rows < THREADED_FROM_ROWS else {}


def _fit_quantiles(days: lgb.Dataset, params: dict[str, object]) -> dict[str, lgb.Booster]:
    """The P10/P50/P90 boosters of days to pay, on one binned dataset."""
    params = {**params, **_threads(days.num_data())}
    return {
        name: lgb.train({**params, "objective": "quantile", "alpha": alpha}, days, QUANTILE_ROUNDS)
        for name, alpha in QUANTILES.items()
    }


def _monotone(feature_names: list[str]) -> dict[str, object]:
    """LightGBM's monotone constraints for MONOTONE_INCREASING among these features."""
    if not any(name in feature_names for name in MONOTONE_INCREASING):
        return {}
    return {
        "monotone_constraints": [int(n in MONOTONE_INCREASING) for n in feature_names],
        "monotone_constraints_method": "intermediate",
    }


def _levels(values: pd.Series) -> list[str]:
    """The sorted text levels present in a column."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        present = values.cat.categories[np.unique(values.cat.codes[values.cat.codes >= 0])]
        return sorted(present.astype(str).tolist())
    return sorted(values.dropna().astype(str).unique().tolist())


def _sample(
    invoice_ids: np.ndarray, rows: np.ndarray, seed: int, per_invoice: int = SNAPSHOTS_PER_INVOICE
) -> np.ndarray:
    """The positions among `rows` that sample_per_invoice keeps of those rows."""
    return rows[per_invoice_mask(invoice_ids[rows], per_invoice, seed)]


def _platt(
    train, x, invoice_ids, rows, label, fit, rounds: int, seed: int
) -> tuple[float, float, float, float]:
    """Calibration out of time: fit a booster on the earlier dates (at most
    CALIBRATION_SNAPSHOTS_PER_INVOICE snapshots of each invoice), map its log-odds to observed
    rates on every snapshot of the latest CALIBRATION_SHARE of dates (each snapshot counts, as in
    the daily lists collectors see)."""
    as_of = train["as_of"].to_numpy()[rows]
    dates = np.sort(np.unique(as_of))
    if len(dates) <= 4:
        return NO_CALIBRATION
    cut = dates[int(len(dates) * (1 - CALIBRATION_SHARE))]
    early, late = rows[as_of < cut], rows[as_of >= cut]
    y = train[label].to_numpy()
    y_early, y_late = y[early].astype(int), y[late].astype(int)
    if len(np.unique(y_early)) < 2 or len(np.unique(y_late)) < 2:
        return NO_CALIBRATION
    sample = _sample(invoice_ids, early, seed, CALIBRATION_SNAPSHOTS_PER_INVOICE)
    booster = fit(sample, label, {}, rounds)
    raw = booster.predict(x[late], raw_score=True)
    return platt_calibration(raw, _young(train.iloc[late]), y_late)


def platt_calibration(
    raw: np.ndarray, young: np.ndarray, y: np.ndarray
) -> tuple[float, float, float, float]:
    """(slope, intercept, young slope, young shift) mapping raw scores to the observed rates `y`
    (0/1): the young terms only with MIN_YOUNG_PER_CLASS young snapshots of each class and slopes
    that keep the order; else one slope, or none when it would reverse the ranking."""
    young_labels = y[young == 1]
    if min((young_labels == 1).sum(), (young_labels == 0).sum()) >= MIN_YOUNG_PER_CLASS:
        platt = LogisticRegression(C=1e6).fit(np.column_stack([raw, raw * young, young]), y)
        slope, young_slope, young_shift = platt.coef_[0]
        # a calibration maps scores to rates; it never reverses their order
        if slope > 0 and slope + young_slope > 0:
            calibration = (slope, platt.intercept_[0], young_slope, young_shift)
            return tuple(float(v) for v in calibration)  # type: ignore[return-value]
    platt = LogisticRegression(C=1e6).fit(raw.reshape(-1, 1), y)
    if platt.coef_[0, 0] <= 0:  # the booster does not rank the latest dates: leave it as it is
        return NO_CALIBRATION
    return (float(platt.coef_[0, 0]), float(platt.intercept_[0]), 0.0, 0.0)


def _young(frame: pd.DataFrame) -> np.ndarray:
    """1.0 for snapshots at most YOUNG_DAYS after issue, else 0.0."""
    return (frame["days_since_issue"].to_numpy(dtype=float) <= YOUNG_DAYS).astype(float)
