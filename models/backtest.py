"""Rolling-origin backtest: train before each cut date with labels known at the cut, test on the
snapshots up to the next cut, against the aging list and the customer's prior late rate.

Pure: it takes the snapshot table built once per training run (`TrainingData`) and returns
metrics and predictions; the warehouse and MLflow stay in `pipelines/jobs/`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import pandas as pd

from features.catalog import CATEGORICAL_FEATURES
from features.runner import model_feature_columns
from models.days_late import days_late_at_issue
from models.evaluate import evaluate, prior_late_rate, split_at
from models.labels import LABEL_COLUMNS
from models.train import InsufficientData, RiskModel, fit_risk_model

DEFAULT_TEST_DAYS = 180  # length of each rolling-origin test period
# A book with fewer invoices than this is backtested over the same 2 x DEFAULT_TEST_DAYS, with
# a cut every SMALL_BOOK_CUT_DAYS (6 models, each trained on all it could know then): retrained as
# often as a small book can afford, its figure depends less on one model's luck.
SMALL_BOOK_INVOICES, SMALL_BOOK_CUT_DAYS = 20_000, 60


@dataclass(frozen=True)
class TrainingConfig:
    """The label rules and the seed every fit of one training run shares."""

    grace_days: int = 0  # late = settled more than this many days after the due date
    serious_days: int = 30  # seriously late = unpaid this many days after due (or as-of)
    seed: int = 0


@dataclass
class TrainingData:
    """The snapshots of one training run, built once: the backtest slices them by cut date and
    the final fit labels them at the end of the data (see models.labels.snapshot_labels)."""

    # one row per (invoice_id, as_of): keys, descriptive columns, model features (categorical
    # ones as categories) and the invoice's final settled_date (never a feature)
    features: pd.DataFrame
    outcomes: pd.DataFrame  # invoice_id, due_date, settled_date of the invoices in `features`
    first_as_of: date
    data_end: date
    sample_one_in: int = 1  # customers kept: one in this many (see models.sampling)
    # (invoice, as_of) rows kept: each invoice's first, and one in this many of the others
    snapshot_one_in: int = 1


@dataclass
class BacktestResult:
    cuts: list[date]
    data_end: date
    per_cut: dict[str, dict]  # cut date (ISO) -> models.evaluate.evaluate() blocks
    overall: dict  # the same blocks on all test snapshots of all cuts
    train_rows: int  # training snapshots of the last cut
    test_rows: int
    # test snapshots: invoice_id, customer_id, as_of, age_days, days_past_due, open_amount,
    # late, late_30, days_to_pay (as known at the end of the data; NaN when unknown), the
    # predictions, and the cut they were tested after
    predictions: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)

    def flat_metrics(self) -> dict[str, float]:
        """Overall metrics as flat MLflow names, e.g. backtest_late_30_model_auc."""
        flat: dict[str, float] = {}
        for population, blocks in self.overall.items():
            for block, values in blocks.items():
                if isinstance(values, dict):
                    flat.update(
                        {f"backtest_{population}_{block}_{k}": v for k, v in values.items()}
                    )
                else:
                    flat[f"backtest_{population}_{block}"] = values
        return flat


def default_cuts(end: date) -> list[date]:
    """Rolling origin: two test periods of DEFAULT_TEST_DAYS days each, ending at `end`."""
    return [end - timedelta(days=2 * DEFAULT_TEST_DAYS), end - timedelta(days=DEFAULT_TEST_DAYS)]


def backtest_cuts(data: TrainingData) -> list[date]:
    """The default cut dates: default_cuts, or for a book of fewer than SMALL_BOOK_INVOICES
    invoices one cut every SMALL_BOOK_CUT_DAYS over the same period (same first cut)."""
    if data.features["invoice_id"].nunique() >= SMALL_BOOK_INVOICES:
        return default_cuts(data.data_end)
    first = default_cuts(data.data_end)[0]
    count = 2 * DEFAULT_TEST_DAYS // SMALL_BOOK_CUT_DAYS
    return [first + timedelta(days=SMALL_BOOK_CUT_DAYS * i) for i in range(count)]


def fit_model(
    train: pd.DataFrame, config: TrainingConfig, params: dict[str, object] | None = None
) -> RiskModel:
    """The risk model on labelled snapshots, with every model feature of the table."""
    return fit_risk_model(
        train,
        [c for c in model_feature_columns(train) if c not in LABEL_COLUMNS],
        list(CATEGORICAL_FEATURES),
        grace_days=config.grace_days,
        seed=config.seed,
        params=params,
    )


def backtest(
    data: TrainingData,
    config: TrainingConfig,
    cuts: list[date] | None = None,
    params: dict[str, object] | None = None,
    intervals: bool = True,
) -> BacktestResult:
    """For each cut date: train on snapshots before it (labels known at the cut), test on the
    snapshots up to the next cut (the last one: up to the end of the data). `intervals`: the
    overall AUCs' bootstrap intervals (models.evaluate.with_auc_intervals)."""
    cuts = sorted(cuts or backtest_cuts(data))
    per_cut, tested, train_rows = {}, [], 0
    for i, cut in enumerate(cuts):
        split = split_at(
            data.features,
            cut=cut,
            data_end=data.data_end,
            test_end=cuts[i + 1] if i + 1 < len(cuts) else None,
            grace_days=config.grace_days,
            serious_days=config.serious_days,
        )
        if split.train.empty or split.test.empty:
            raise InsufficientData(
                f"cut date {cut} leaves {len(split.train)} training and {len(split.test)} test "
                f"snapshots; choose cut dates between {data.first_as_of} and {data.data_end}"
            )
        model = fit_model(split.train, config, params)
        predictions = model.predict(split.test)
        fallback = float(split.train["late"].astype(float).mean())
        per_cut[cut.isoformat()] = evaluate(
            split.test, predictions, fallback_late_rate=fallback, grace_days=config.grace_days
        )
        test = split.test.assign(share_paid_late=prior_late_rate(split.test, fallback), cut=cut)
        tested.append(test.join(predictions))
        train_rows = len(split.train)
    pooled = pd.concat(tested, ignore_index=True)
    overall = evaluate(
        pooled,
        pooled,
        fallback_late_rate=0.0,
        grace_days=config.grace_days,
        interval_seed=config.seed if intervals else None,
    )
    # the payment-date forecast at issue, against the customer's median (models/days_late.py)
    overall["days_late_at_issue"] = days_late_at_issue(pooled, data.outcomes, data.data_end)
    keep = ["invoice_id", "customer_id", "as_of", "cut", "days_past_due", "open_amount"]
    labels = ["late", "late_30", "days_to_pay"]
    rows = pooled[keep + labels + list(predictions.columns)].assign(
        age_days=pooled["days_since_issue"]
    )
    return BacktestResult(cuts, data.data_end, per_cut, overall, train_rows, len(pooled), rows)
