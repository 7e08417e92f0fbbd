"""`latepay train --tune`: choose LightGBM settings on data the backtest never tests.

Each trial trains before a validation cut and is tested from it up to the first backtest cut,
with outcomes as known at that cut, so the backtest stays an honest measure of the choice.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date, timedelta

import pandas as pd
from sklearn.model_selection import ParameterSampler

from models.backtest import (
    DEFAULT_TEST_DAYS,
    TrainingConfig,
    TrainingData,
    backtest,
    default_cuts,
)
from models.train import DEFAULT_PARAMS, InsufficientData, size_params

# The LightGBM settings tried (DEFAULT_PARAMS with size_params' choice for the validation's
# training set first, then random draws).
TUNING_SPACE: dict[str, list[object]] = {
    "learning_rate": [0.04, 0.06, 0.08, 0.12],
    "num_leaves": [15, 31, 63, 127],
    "min_data_in_leaf": [20, 50, 100, 200, 400],
    "feature_fraction": [0.6, 0.8, 1.0],
    "lambda_l2": [0.0, 1.0, 10.0],
}
# Each trial is scored by the mean of these (validation before the first backtest cut).
TUNING_METRICS = ("backtest_late_model_auc", "backtest_late_30_model_auc")


@dataclass
class Tuning:
    params: dict[str, object]  # the best trial's settings (TUNING_SPACE keys)
    cut: date  # validation: trained before this date, tested from it
    end: date  # up to here (the first backtest cut); labels known at this date
    trials: pd.DataFrame  # one row per trial: its settings, TUNING_METRICS and score


def tune(data: TrainingData, config: TrainingConfig, trials: int) -> Tuning:
    """The best of `trials` settings (the defaults and random draws of TUNING_SPACE)."""
    end = default_cuts(data.data_end)[0]
    cut = end - timedelta(days=DEFAULT_TEST_DAYS // 2)
    before = data.features[data.features["as_of"] < pd.Timestamp(end)]
    if before.empty or (before["as_of"] < pd.Timestamp(cut)).sum() == 0:
        raise InsufficientData(
            f"tuning validates from {cut} to {end} (before the first backtest cut) and trains "
            f"before {cut}; the snapshots start at {data.first_as_of}: "
            "tune on a longer history, or train without --tune"
        )
    validation = dataclasses.replace(data, features=before, data_end=end)
    trained = before.loc[before["as_of"] < pd.Timestamp(cut), "invoice_id"].nunique()
    sized = {**DEFAULT_PARAMS, **size_params(trained)[0]}
    defaults = {k: sized[k] for k in TUNING_SPACE}
    drawn = ParameterSampler(TUNING_SPACE, n_iter=trials, random_state=config.seed)
    candidates = [defaults, *(p for p in drawn if p != defaults)][:trials]
    rows = []
    for params in candidates:
        metrics = backtest(validation, config, [cut], params, intervals=False).flat_metrics()
        scores = {name: metrics[name] for name in TUNING_METRICS}
        rows.append({**params, **scores, "score": sum(scores.values()) / len(scores)})
    table = pd.DataFrame(rows)
    best = int(table["score"].idxmax())
    return Tuning(candidates[best], cut, end, table)
