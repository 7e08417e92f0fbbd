"""LightGBM risk models: pure functions from labelled snapshots to a fitted `RiskModel`."""

from __future__ import annotations

from dataclasses import dataclass, field

import lightgbm as lgb
import pandas as pd

from models.dataset import not_yet_late, snapshot_weights

# target name -> label column
TARGETS = {"p_late": "late", "p_late_30": "late_30"}

DEFAULT_PARAMS: dict[str, object] = {
    "objective": "binary",
    "learning_rate": 0.08,
    "num_leaves": 31,
    "min_data_in_leaf": 50,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 1.0,
    "num_threads": 2,
    "verbose": -1,
}
DEFAULT_ROUNDS = 200


@dataclass
class RiskModel:
    """Fitted boosters with the exact feature list and categorical levels they were trained on."""

    feature_names: list[str]
    categories: dict[str, list[str]]
    boosters: dict[str, lgb.Booster]
    grace_days: int = 0
    params: dict[str, object] = field(default_factory=dict)

    def matrix(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The model's input matrix for feature rows (unseen categories become missing)."""
        x = frame[self.feature_names].copy()
        for column, levels in self.categories.items():
            x[column] = pd.Categorical(x[column].astype("object"), categories=levels)
        for column in x.columns:
            if column not in self.categories:
                x[column] = pd.to_numeric(x[column], errors="coerce").astype("float64")
        return x

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        """p_late and p_late_30 per row. An invoice already past due + grace is late: p_late = 1."""
        x = self.matrix(frame)
        out = pd.DataFrame(index=frame.index)
        for target, booster in self.boosters.items():
            out[target] = booster.predict(x)
        if "p_late" in out:
            out.loc[~not_yet_late(frame, self.grace_days), "p_late"] = 1.0
        return out


def fit_risk_model(
    train: pd.DataFrame,
    feature_names: list[str],
    categorical: list[str],
    *,
    grace_days: int = 0,
    seed: int = 0,
    params: dict[str, object] | None = None,
    num_boost_round: int = DEFAULT_ROUNDS,
) -> RiskModel:
    """Fit one booster per target on labelled snapshots (rows with a missing label are left out).

    `p_late` learns only from snapshots not yet past due (past due, lateness is already decided);
    `p_late_30` learns from every snapshot. Each invoice weighs the same (snapshot_weights).
    """
    merged = {**DEFAULT_PARAMS, **(params or {}), "seed": seed}
    categories = {c: sorted(train[c].dropna().astype(str).unique().tolist()) for c in categorical}
    model = RiskModel(feature_names, categories, {}, grace_days, merged)
    for target, label in TARGETS.items():
        rows = train[label].notna()
        if target == "p_late":
            rows &= not_yet_late(train, grace_days)
        subset = train[rows]
        y = subset[label].astype(int)
        if y.nunique() < 2:
            raise ValueError(
                f"cannot train {target}: all {len(y)} known labels are {y.iloc[0] if len(y) else '-'}"
            )
        dataset = lgb.Dataset(
            model.matrix(subset),
            label=y.to_numpy(),
            weight=snapshot_weights(subset).to_numpy(),
            categorical_feature=list(categories),
            free_raw_data=True,
        )
        model.boosters[target] = lgb.train(merged, dataset, num_boost_round=num_boost_round)
    return model
