"""Time-ordered evaluation (rolling origin): train before each cut date, test on the period after
it, against the baselines a collector already has. Pure functions over DataFrames."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd

from models.labels import label_snapshots, not_yet_late
from models.metrics import auc_interval, interval_metrics, ranking_metrics

# What each block of a backtest measures, in the order the CLI prints them.
POPULATIONS = {
    "late_30": "seriously late (all open invoices)",
    "late": "late (invoices not yet due)",
    "late_age_1": "late (issued the day before)",
}
BLOCKS = ("model", "baseline_aging", "baseline_prior_late_rate")
# AUC intervals (see with_auc_intervals): 200 resamples of customers, percentile 90% interval;
# not computed above this many test snapshots (the 1M book's interval is a few thousandths wide,
# and 200 resamples of millions of rows would cost minutes).
BOOTSTRAP_RESAMPLES, BOOTSTRAP_LEVEL, BOOTSTRAP_MAX_ROWS = 200, 0.90, 100_000


@dataclass(frozen=True)
class BacktestSplit:
    cut: date
    train: pd.DataFrame  # snapshots before the cut, labels as known at the cut
    test: pd.DataFrame  # snapshots in [cut, test_end), labels as known at the end of the data


def split_at(
    snapshots: pd.DataFrame,
    outcomes: pd.DataFrame | None = None,
    *,
    cut: date,
    data_end: date,
    test_end: date | None = None,
    grace_days: int = 0,
    serious_days: int = 30,
) -> BacktestSplit:
    """Split snapshots at `cut`. Training labels are those known at the cut: an outcome learnt
    after the cut is the future, even for an old snapshot. `outcomes` as in label_snapshots (None
    when the snapshots carry settled_date): the one snapshot set of a training run is sliced
    here, never rebuilt."""
    as_of = pd.to_datetime(snapshots["as_of"])
    before = snapshots[as_of < pd.Timestamp(cut)]
    after = snapshots[(as_of >= pd.Timestamp(cut)) & (as_of < pd.Timestamp(test_end or data_end))]
    labels = {"grace_days": grace_days, "serious_days": serious_days}
    return BacktestSplit(
        cut,
        label_snapshots(before, outcomes, known_at=cut, **labels),
        label_snapshots(after, outcomes, known_at=data_end, **labels),
    )


def prior_late_rate(frame: pd.DataFrame, fallback: float) -> pd.Series:
    """Baseline (b): the customer's share of invoices paid late before as_of; customers with no
    history get `fallback` (the training population's late rate)."""
    return frame["share_paid_late"].astype(float).fillna(fallback)


def evaluate(
    test: pd.DataFrame,
    predictions: pd.DataFrame,
    *,
    fallback_late_rate: float,
    grace_days: int = 0,
    interval_seed: int | None = None,
) -> dict[str, dict]:
    """Metrics of the model and both baselines on test snapshots, per population; with
    `interval_seed`, each AUC's bootstrap interval too (`auc_low`, `auc_high`: see
    with_auc_intervals).

    Rankings (for the capture metrics): the model by expected late amount (probability × open
    amount); the aging list by days past due (most overdue first, then larger amounts); the prior
    late rate by rate × open amount. Brier and ECE are not defined for the aging list (not a
    probability).
    """
    prior = prior_late_rate(test, fallback_late_rate)
    aging = test["days_past_due"].astype(float)
    amount = test["open_amount"].astype(float)
    pending = not_yet_late(test, grace_days)
    populations = {
        "late_30": (test.index == test.index, "late_30", "p_late_30"),
        "late": (pending, "late", "p_late"),
        "late_age_1": (pending & (test["days_since_issue"] == 1), "late", "p_late"),
    }
    out: dict[str, dict] = {}
    for name, (rows, label, column) in populations.items():
        frame, labels = test[rows], test.loc[rows, label]
        score = predictions.loc[rows, column]
        out[name] = {
            "model": ranking_metrics(frame, labels, score, score * amount[rows]),
            "baseline_aging": ranking_metrics(
                frame, labels, aging[rows], aging[rows], probabilistic=False
            ),
            "baseline_prior_late_rate": ranking_metrics(
                frame, labels, prior[rows], prior[rows] * amount[rows]
            ),
        }
        if interval_seed is not None:
            scores = {
                "model": score,
                "baseline_aging": aging[rows],
                "baseline_prior_late_rate": prior[rows],
            }
            bootstrap = len(test) <= BOOTSTRAP_MAX_ROWS
            with_auc_intervals(out[name], frame, labels, scores, interval_seed, bootstrap)
    if "days_to_pay_p50" in predictions:
        out["days_to_pay"] = interval_metrics(
            test["days_to_pay"],
            predictions["days_to_pay_p10"],
            predictions["days_to_pay_p50"],
            predictions["days_to_pay_p90"],
        )
    return out


def with_auc_intervals(
    blocks: dict[str, dict],
    frame: pd.DataFrame,
    labels: pd.Series,
    scores: dict,
    seed: int,
    bootstrap: bool = True,
) -> None:
    """Add `auc_low` and `auc_high` to each block: the percentile BOOTSTRAP_LEVEL interval of its
    AUC over BOOTSTRAP_RESAMPLES resamples of the test customers (models.metrics.auc_interval);
    NaN without `bootstrap` (evaluate: above BOOTSTRAP_MAX_ROWS test snapshots)."""
    for block, score in scores.items():
        low = high = float("nan")
        if bootstrap:
            low, high = auc_interval(
                labels,
                score,
                frame["customer_id"],
                resamples=BOOTSTRAP_RESAMPLES,
                level=BOOTSTRAP_LEVEL,
                seed=seed,
            )
        blocks[block].update(auc_low=low, auc_high=high)
