"""Time-ordered evaluation: train before a cut date, test after it, against the baselines a
collector already has. Pure functions over DataFrames."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from models.dataset import label_snapshots, not_yet_late


@dataclass(frozen=True)
class BacktestSplit:
    cut: date
    train: pd.DataFrame  # snapshots before the cut, labels as known at the cut
    test: pd.DataFrame  # snapshots from the cut on, labels as known at the end of the data


def split_at(
    features: pd.DataFrame,
    outcomes: pd.DataFrame,
    *,
    cut: date,
    data_end: date,
    grace_days: int = 0,
    serious_days: int = 30,
) -> BacktestSplit:
    """Split snapshots at `cut`. Training labels are those known at the cut: an outcome learnt
    after the cut is the future, even for an old snapshot."""
    as_of = pd.to_datetime(features["as_of"])
    before = features[as_of < pd.Timestamp(cut)]
    after = features[as_of >= pd.Timestamp(cut)]
    labels = {"grace_days": grace_days, "serious_days": serious_days}
    return BacktestSplit(
        cut,
        label_snapshots(before, outcomes, known_at=cut, **labels),
        label_snapshots(after, outcomes, known_at=data_end, **labels),
    )


def auc(labels: pd.Series, scores: pd.Series) -> float:
    """ROC AUC on rows with a known label; NaN when only one class is present."""
    known = labels.notna() & scores.notna()
    y = labels[known].astype(int)
    if y.nunique() < 2:
        return float("nan")
    return float(roc_auc_score(y, scores[known]))


def prior_late_rate(frame: pd.DataFrame, fallback: float) -> pd.Series:
    """Baseline (b): the customer's share of invoices paid late before as_of; customers with no
    history get `fallback` (the training population's late rate)."""
    return frame["share_paid_late"].astype(float).fillna(fallback)


def compare_with_baselines(
    test: pd.DataFrame, predictions: pd.DataFrame, *, fallback_late_rate: float, grace_days: int = 0
) -> dict[str, dict[str, float]]:
    """AUC of the model and of the baselines on the test snapshots, per target.

    `late` is measured on snapshots not yet past due (where it is still undecided); `late_30` on
    all snapshots, where the aging baseline (most days past due first) applies too.
    """
    prior = prior_late_rate(test, fallback_late_rate)
    aging = test["days_past_due"].astype(float)
    pending = not_yet_late(test, grace_days)
    late, late_30 = test["late"], test["late_30"]
    return {
        "late": {
            "n": int(late[pending].notna().sum()),
            "late_share": float(np.nanmean(late[pending].astype(float))),
            "model_auc": auc(late[pending], predictions["p_late"][pending]),
            "baseline_prior_late_rate_auc": auc(late[pending], prior[pending]),
        },
        "late_30": {
            "n": int(late_30.notna().sum()),
            "late_share": float(np.nanmean(late_30.astype(float))),
            "model_auc": auc(late_30, predictions["p_late_30"]),
            "baseline_prior_late_rate_auc": auc(late_30, prior),
            "baseline_aging_auc": auc(late_30, aging),
        },
    }
