"""Figures logged with each training run: calibration, feature importance, SHAP summary."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import shap
from sklearn.calibration import calibration_curve

from models.explain import shap_values
from models.train import RiskModel


def calibration_figure(predictions: pd.DataFrame) -> plt.Figure:
    """Observed late share against predicted probability, on the backtest's test snapshots."""
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], ls="--", color="grey", label="perfectly calibrated")
    for target, label in (("p_late", "late"), ("p_late_30", "late_30")):
        known = predictions[label].notna()
        if known.sum() > 50:
            observed, predicted = calibration_curve(
                predictions.loc[known, label].astype(int), predictions.loc[known, target], n_bins=10
            )
            ax.plot(predicted, observed, marker="o", label=target)
    ax.set(xlabel="predicted probability", ylabel="observed share", title="Calibration (backtest)")
    ax.legend()
    fig.tight_layout()
    return fig


def importance_figure(model: RiskModel, target: str = "p_late_30", top: int = 20) -> plt.Figure:
    """Total gain of the `top` most useful features."""
    gain = pd.Series(
        model.boosters[target].feature_importance("gain"), index=model.feature_names
    ).nlargest(top)[::-1]
    fig, ax = plt.subplots(figsize=(7, 6))
    ax.barh(gain.index, gain.to_numpy())
    ax.set(xlabel="total gain", title=f"Feature importance ({target})")
    fig.tight_layout()
    return fig


def shap_summary_figure(
    model: RiskModel,
    frame: pd.DataFrame,
    target: str = "p_late_30",
    rows: int = 1000,
    seed: int = 0,
) -> plt.Figure:
    """SHAP summary (beeswarm) on a sample of rows; categorical features coloured by code."""
    sample = frame.sample(min(rows, len(frame)), random_state=seed)
    values = shap_values(model, target, sample)
    x = model.matrix(sample)
    for column in model.categories:
        x[column] = x[column].cat.codes.replace(-1, np.nan)
    shap.summary_plot(values.to_numpy(), x, show=False, max_display=15)
    fig = plt.gcf()
    fig.suptitle(f"SHAP values ({target}, log-odds)")
    fig.tight_layout()
    return fig
