"""Metrics of a ranking of open invoices, as a collector and a finance team read them.
Pure functions over arrays and DataFrames; missing labels are left out."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

METRIC_NAMES = ("auc", "pr_auc", "brier", "ece", "capture_top10", "capture_top20")


def expected_calibration_error(
    labels: np.ndarray, probabilities: np.ndarray, bins: int = 10
) -> float:
    """Mean |observed rate − mean probability| over equal-width probability bins, weighted by the
    bins' sizes."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(probabilities, edges[1:-1]), 0, bins - 1)
    error = 0.0
    for b in range(bins):
        in_bin = which == b
        if in_bin.any():
            error += in_bin.mean() * abs(labels[in_bin].mean() - probabilities[in_bin].mean())
    return float(error)


def capture(frame: pd.DataFrame, ranking: pd.Series, outcome: pd.Series, *, top: float) -> float:
    """Share of the amount that turned out late caught in the top `top` share of each day's list.

    Each as_of date is one list (what a collector sees that morning), ordered by `ranking` (higher
    first; ties by open amount); the top ceil(top × n) invoices of each list are "worked". The
    result is the late open amount among worked invoices over all late open amount.
    """
    late_amount = frame["open_amount"].to_numpy() * outcome.to_numpy()
    work = pd.DataFrame(
        {
            "as_of": frame["as_of"].to_numpy(),
            "rank_key": ranking.to_numpy(),
            "amount": frame["open_amount"].to_numpy(),
            "late_amount": late_amount,
        }
    ).sort_values(["as_of", "rank_key", "amount"], ascending=[True, False, False])
    position = work.groupby("as_of").cumcount()
    size = work.groupby("as_of")["as_of"].transform("size")
    worked = position < np.ceil(top * size)
    total = work["late_amount"].sum()
    return float(work.loc[worked, "late_amount"].sum() / total) if total > 0 else float("nan")


def ranking_metrics(
    frame: pd.DataFrame,
    labels: pd.Series,
    scores: pd.Series,
    ranking: pd.Series,
    *,
    probabilistic: bool = True,
) -> dict[str, float]:
    """AUC, PR-AUC, Brier, ECE of `scores` against `labels`, and the amount captured in the top
    10% / 20% of each day's list ordered by `ranking`. Brier and ECE only for probabilities."""
    known = labels.notna() & scores.notna()
    y = labels[known].astype(int).to_numpy()
    p = scores[known].astype(float).to_numpy()
    out = dict.fromkeys(METRIC_NAMES, float("nan"))
    out["n"] = int(known.sum())
    if out["n"] == 0:
        return out
    if len(np.unique(y)) == 2:
        out["auc"] = float(roc_auc_score(y, p))
        out["pr_auc"] = float(average_precision_score(y, p))
    if probabilistic:
        out["brier"] = float(brier_score_loss(y, np.clip(p, 0, 1)))
        out["ece"] = expected_calibration_error(y, np.clip(p, 0, 1))
    subset = frame[known]
    outcome = labels[known].astype(float)
    out["capture_top10"] = capture(subset, ranking[known], outcome, top=0.10)
    out["capture_top20"] = capture(subset, ranking[known], outcome, top=0.20)
    return out


def auc_interval(
    labels: pd.Series,
    scores: pd.Series,
    groups: pd.Series,
    *,
    resamples: int = 200,
    level: float = 0.90,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval (`level`, two-sided) of the AUC of `scores` against
    `labels`, resampling whole `groups` (customers) with replacement: the snapshots of one
    customer are not independent, so resampling them one by one would give too narrow an interval.
    Each resample weighs a row by the number of times its group was drawn (the weighted AUC of
    weighted_auc, as sklearn's roc_auc_score with sample_weight, in one pass over the rows);
    resamples with one class only are skipped. NaN when fewer than 10 resamples have both
    classes. Deterministic for a given `seed`."""
    known = labels.notna() & scores.notna()
    y = labels[known].astype(int).to_numpy()
    levels = np.unique(scores[known].astype(float).to_numpy(), return_inverse=True)[1]
    codes, uniques = pd.factorize(groups[known])
    rng = np.random.default_rng(seed)
    aucs = []
    for _ in range(resamples):
        drawn = np.bincount(rng.integers(0, len(uniques), len(uniques)), minlength=len(uniques))
        auc = weighted_auc(y, levels, drawn[codes].astype(float))
        if not np.isnan(auc):
            aucs.append(auc)
    if len(aucs) < 10:
        return float("nan"), float("nan")
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(aucs, [tail, 100 - tail])
    return float(low), float(high)


def weighted_auc(y: np.ndarray, levels: np.ndarray, weights: np.ndarray) -> float:
    """AUC of 0/1 labels `y` ranked by `levels` (integer ranks of the scores: equal scores, equal
    level), each row counting `weights` times; ties count one half. NaN with one class."""
    positives = np.bincount(levels, weights=weights * y)
    negatives = np.bincount(levels, weights=weights * (1 - y))
    total_pos, total_neg = positives.sum(), negatives.sum()
    if total_pos == 0 or total_neg == 0:
        return float("nan")
    below = np.cumsum(negatives) - negatives  # negative weight at strictly lower levels
    return float((positives * (below + negatives / 2)).sum() / (total_pos * total_neg))


def interval_metrics(
    days: pd.Series, p10: pd.Series, p50: pd.Series, p90: pd.Series
) -> dict[str, float]:
    """MAE of the median prediction of days to pay, and the share inside [P10, P90]."""
    known = days.notna()
    if not known.any():
        return {"mae_days": float("nan"), "p10_p90_coverage": float("nan"), "n": 0}
    d = days[known].astype(float)
    inside = (d >= p10[known]) & (d <= p90[known])
    return {
        "mae_days": float((d - p50[known]).abs().mean()),
        "p10_p90_coverage": float(inside.mean()),
        "n": int(known.sum()),
    }
