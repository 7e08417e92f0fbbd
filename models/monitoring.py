"""How good were the lists latepay published, and is the book still the one the model learnt?

- **Realised accuracy**: each published list's scores against what happened, counted only where
  the outcome is known at the monitoring date (lateness once the due date + grace has passed,
  serious lateness once its 30-day horizon has: models.labels.snapshot_labels), beside the aging
  list (most days past due first) on the same invoices; per list date and pooled over rolling
  windows of 4 and 13 weeks.
- **Drift**: the population stability index (PSI) of each model feature between the champion's
  training snapshots (a profile logged with the model: quantile bins, level shares, missing
  share) and today's open invoices, and today's share of missing values.
- **Alerts**: realised AUC over 4 weeks more than 0.05 below the champion's backtest, or a PSI
  above 0.25 — and above twice the feature's own week-to-week variation in the training weeks —
  on one of the model's 10 most important features (calendar features excepted).

Pure functions over DataFrames: the scores, outcomes and profile are passed in.
"""

from __future__ import annotations

import itertools
from datetime import date

import numpy as np
import pandas as pd
from sklearn.metrics import brier_score_loss, roc_auc_score

from models.labels import snapshot_labels
from models.metrics import capture

PROFILE_BINS = 10
# The profile is of the training snapshots of the last weeks of training: the open invoices of
# those dates are the population closest to tonight's (a profile of two years of snapshots
# differs from any single date's book by construction: tenure grows, history accumulates).
PROFILE_WEEKS = 4
# Features that change with the calendar by design: measured, never an alert.
SEASONAL_FEATURES = ("due_month", "due_day_of_month", "due_is_month_end")
WINDOWS_WEEKS = (4, 13)
AUC_DROP_ALERT = 0.05
PSI_ALERT = 0.25
# ... and more than this many times the feature's own week-to-week PSI in the training weeks
NOISE_FACTOR = 2.0
TOP_FEATURES = 10
MISSING = "(missing)"
REALISED_COLUMNS = [
    "list_date", "window", "target", "n", "auc", "auc_aging", "brier", "observed", "predicted",
    "capture_top10", "capture_top20", "capture_top20_aging",
]  # fmt: skip


def labelled_scores(
    scores: pd.DataFrame, outcomes: pd.DataFrame, known_at: date, *, grace_days: int = 0,
    serious_days: int = 30,
) -> pd.DataFrame:  # fmt: skip
    """The published scores (as_of, invoice_id, open_amount, days_past_due, p_late, p_late_30)
    with their outcomes (invoice_id, due_date, settled_date) and the labels known at `known_at`
    (late, late_30: NaN while unknown)."""
    frame = scores.drop(columns=["due_date", "settled_date"], errors="ignore").merge(
        outcomes[["invoice_id", "due_date", "settled_date"]], on="invoice_id", how="left"
    )
    labels = snapshot_labels(
        frame, known_at=known_at, grace_days=grace_days, serious_days=serious_days
    )
    return frame.assign(late=labels["late"], late_30=labels["late_30"])


def realised(frame: pd.DataFrame, *, grace_days: int = 0) -> pd.DataFrame:
    """REALISED_COLUMNS per list date and per rolling window (ending at the last list date with
    known outcomes), for serious lateness (all listed invoices) and lateness (those not yet due
    when listed). `frame`: a labelled_scores result."""
    rows = []
    targets = {"late_30": ("p_late_30", None), "late": ("p_late", grace_days)}
    for target, (score, not_due_by) in targets.items():
        known = frame[frame[target].notna()]
        if not_due_by is not None:
            known = known[known["days_past_due"] <= not_due_by]
        for list_date, group in known.groupby("as_of", sort=True):
            rows.append(_metrics(group, target, score, pd.Timestamp(list_date), "day"))
        if known.empty:
            continue
        last = pd.Timestamp(known["as_of"].max())
        for weeks in WINDOWS_WEEKS:
            window = known[pd.to_datetime(known["as_of"]) > last - pd.Timedelta(weeks=weeks)]
            rows.append(_metrics(window, target, score, last, f"{weeks} weeks"))
    return pd.DataFrame(rows, columns=REALISED_COLUMNS)


def _metrics(group: pd.DataFrame, target: str, score: str, list_date, window: str) -> dict:
    y = group[target].astype(float)
    p = group[score].astype(float)
    two = y.nunique() == 2
    aging = group["days_past_due"].astype(float)
    return {
        "list_date": list_date,
        "window": window,
        "target": target,
        "n": len(group),
        "auc": roc_auc_score(y, p) if two else np.nan,
        "auc_aging": roc_auc_score(y, aging) if two else np.nan,
        "brier": brier_score_loss(y, p) if len(y) else np.nan,
        "observed": float(y.mean()) if len(y) else np.nan,
        "predicted": float(p.mean()) if len(p) else np.nan,
        "capture_top10": capture(group, p * group["open_amount"], y, top=0.1),
        "capture_top20": capture(group, p * group["open_amount"], y, top=0.2),
        "capture_top20_aging": capture(group, aging, y, top=0.2),
    }


def feature_profile(frame: pd.DataFrame, features: list[str], categorical: list[str]) -> dict:
    """The distribution of each feature in the training snapshots of the last PROFILE_WEEKS
    weeks of `frame`, to compare later ones with: numeric features by deciles (edges and
    shares), categorical ones by level share; the share of missing values; and `noise`, the
    largest PSI of one of those weeks' snapshots against the week before: how much the book moves
    from one week to the next by itself (customer-level features move many invoices at once).
    JSON-ready."""
    dates = pd.to_datetime(frame["as_of"])
    frame = frame[dates > dates.max() - pd.Timedelta(weeks=PROFILE_WEEKS)]
    profile = {name: _profile(frame[name], name in categorical) for name in features}
    weeks = [week for _, week in frame.groupby("as_of")]
    noise = [
        drift({n: _profile(before[n], n in categorical) for n in features}, after).set_index(
            "feature"
        )["psi"]
        for before, after in itertools.pairwise(weeks)
    ]
    worst = pd.concat(noise, axis=1).max(axis=1) if noise else pd.Series(dtype=float)
    for name in features:
        profile[name]["noise"] = float(worst.get(name, 0.0))
    return profile


def _profile(values: pd.Series, categorical: bool) -> dict:
    missing = float(values.isna().mean())
    if categorical:
        shares = values.astype("object").fillna(MISSING).value_counts(normalize=True)
        return {
            "kind": "categorical",
            "missing": missing,
            "n": len(values),
            "shares": {str(k): float(v) for k, v in shares.items()},
        }
    known = values.dropna().astype(float)
    quantiles = np.linspace(0, 1, PROFILE_BINS + 1)[1:-1]
    edges = np.unique(np.quantile(known, quantiles)) if len(known) else np.array([])
    return {
        "kind": "numeric",
        "missing": missing,
        "n": len(values),
        "edges": [float(e) for e in edges],
        "shares": _shares(values, edges).tolist(),
    }


def _shares(values: pd.Series, edges: np.ndarray) -> np.ndarray:
    """Shares of `values` in the bins cut at `edges` (right-closed), the last bin for missing."""
    numeric = pd.to_numeric(values, errors="coerce")
    known = numeric.notna().to_numpy()
    which = np.searchsorted(edges, numeric.to_numpy()[known], side="left")
    counts = np.bincount(which, minlength=len(edges) + 1).astype(float)
    counts = np.append(counts, (~known).sum())
    return counts / max(len(values), 1)


def psi(
    expected: np.ndarray, actual: np.ndarray, n_expected: float = np.inf, n_actual: float = np.inf
) -> float:
    """Population stability index Σ (a − e) × ln(a / e) over bins of shares. With the sample
    sizes, each share is smoothed by one pseudo-row per bin ((count + 1) / (n + bins)): an empty
    bin in a few hundred rows is noise, not a new population."""
    e, a = np.asarray(expected, dtype=float), np.asarray(actual, dtype=float)
    bins = len(e)
    e = (e * n_expected + 1) / (n_expected + bins) if np.isfinite(n_expected) else e
    a = (a * n_actual + 1) / (n_actual + bins) if np.isfinite(n_actual) else a
    e, a = np.maximum(e, 1e-6), np.maximum(a, 1e-6)
    return float(np.sum((a - e) * np.log(a / e)))


def drift(profile: dict, today: pd.DataFrame) -> pd.DataFrame:
    """Per profiled feature: psi (today's open invoices against the profile), missing_share
    today, missing_share_trained; most drifting first."""
    rows = []
    for name, ref in profile.items():
        if name not in today:
            continue
        values = today[name]
        if ref["kind"] == "categorical":
            levels = [*ref["shares"]]
            now = values.astype("object").fillna(MISSING).astype(str).value_counts(normalize=True)
            other = float(now.drop(index=levels, errors="ignore").sum())
            expected = [*ref["shares"].values(), 0.0]
            actual = [float(now.get(level, 0.0)) for level in levels] + [other]
        else:
            expected = ref["shares"]
            actual = _shares(values, np.asarray(ref["edges"])).tolist()
        rows.append(
            {
                "feature": name,
                "psi": psi(np.array(expected), np.array(actual), ref.get("n", np.inf), len(values)),
                "missing_share": float(values.isna().mean()),
                "missing_share_trained": ref["missing"],
                "noise": ref.get("noise", 0.0),
            }
        )
    columns = ["feature", "psi", "missing_share", "missing_share_trained", "noise"]
    table = pd.DataFrame(rows, columns=columns)
    return table.sort_values("psi", ascending=False, ignore_index=True)


def alerts(
    realised_table: pd.DataFrame,
    drift_table: pd.DataFrame,
    *,
    backtest_auc: float | None,
    important: list[str],
) -> list[str]:
    """Plain-words warnings: realised AUC (serious lateness, 4 weeks) more than AUC_DROP_ALERT
    below the champion's backtest; a top feature's PSI above PSI_ALERT. Each ends with what to
    do."""
    out = []
    four = realised_table[
        (realised_table["window"] == "4 weeks") & (realised_table["target"] == "late_30")
    ]
    if backtest_auc is not None and len(four) and four["auc"].notna().all():
        auc = float(four["auc"].iloc[0])
        if auc < backtest_auc - AUC_DROP_ALERT:
            out.append(
                f"the lists of the last 4 weeks ranked serious lateness with AUC {auc:.3f}, "
                f"against {backtest_auc:.3f} in the champion's backtest: retrain "
                "(`latepay train`); the champion gate decides whether the new model replaces it"
            )
    watched = [f for f in important if f not in SEASONAL_FEATURES][:TOP_FEATURES]
    top = drift_table[drift_table["feature"].isin(watched)]
    threshold = np.maximum(PSI_ALERT, NOISE_FACTOR * top["noise"])
    for row in top[top["psi"] > threshold].itertuples():
        out.append(
            f"the book has drifted on '{row.feature}' (PSI {row.psi:.2f} against the training "
            f"snapshots; above {PSI_ALERT} and {NOISE_FACTOR:g}x its week-to-week variation "
            f"of {row.noise:.2f}): retrain (`latepay train`)"
        )
    return out
