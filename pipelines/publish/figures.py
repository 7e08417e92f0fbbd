"""Every chart latepay draws: the report's, the ones logged with each MLflow training run
(calibration, importance, SHAP summary) and the notebooks'. Each takes tables or a model and
returns a matplotlib Figure; `svg` inlines one in the report.

Figures are built with matplotlib's object API (`Figure`), which needs no GUI backend; only the
SHAP summary goes through pyplot (shap draws there) and is closed by its caller.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter
from sklearn.calibration import calibration_curve

from features.receivables import AGE_BUCKETS
from models.evaluate import BLOCKS, POPULATIONS
from models.explain import shap_values
from models.train import RiskModel


def svg(fig: Figure) -> str:
    """A matplotlib figure as inline SVG markup (no XML prologue)."""
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight")
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def aged_balance_figure(over_time: pd.DataFrame) -> Figure:
    """Stacked areas of open amount by age bucket over time (an aged_balance_over_time result)."""
    fig = Figure(figsize=(9, 4.5))
    ax = fig.subplots()
    x = pd.to_datetime(over_time.index)
    colors = ["#4c9f70", "#f2c14e", "#f78154", "#d1495b", "#6b2737"]
    ax.stackplot(x, *(over_time[b] for b in AGE_BUCKETS), labels=list(AGE_BUCKETS), colors=colors)
    ax.set(title="Aged balance over time", ylabel="open amount")
    ax.legend(loc="upper left", title="days past due")
    fig.tight_layout()
    return fig


def bar_figure(
    frame: pd.DataFrame, x: str, y: str, *, title: str, ylabel: str | None = None
) -> Figure:
    """One bar per row of `frame`: `x` as labels, `y` as heights."""
    fig = Figure(figsize=(8, 4))
    ax = fig.subplots()
    ax.bar(frame[x].astype(str), frame[y].to_numpy(dtype=float), color="#3b6ea5")
    ax.set(title=title, ylabel=ylabel or y)
    ax.tick_params(axis="x", labelrotation=30)
    fig.tight_layout()
    return fig


def line_figure(frame: pd.DataFrame, x: str, y: str, *, title: str, ylabel: str) -> Figure:
    """One line of `y` against `x`."""
    fig = Figure(figsize=(9, 4))
    ax = fig.subplots()
    ax.plot(frame[x], frame[y], marker="o", color="#3b6ea5")
    ax.set(title=title, ylabel=ylabel)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def days_late_figure(lateness: pd.DataFrame, clip: int = 120) -> Figure:
    """Histogram of days late (settlement − due date) of settled invoices, clipped to ±`clip`
    days; late payments to the right of the dashed line."""
    settled = lateness.loc[lateness["settled"], "days_late"].clip(-clip, clip)
    fig = Figure(figsize=(9, 4))
    ax = fig.subplots()
    ax.hist(settled, bins=range(-clip, clip + 5, 5), color="#3b6ea5")
    ax.axvline(0.5, ls="--", color="grey")
    ax.set(
        title=f"Days late of {len(settled):,} settled invoices (clipped at ±{clip})",
        xlabel="settlement date − due date (days)",
        ylabel="invoices",
    )
    fig.tight_layout()
    return fig


def backtest_figure(table: pd.DataFrame, metric: str = "auc") -> Figure:
    """One panel per population: `metric` of each ranking at each cut (a backtest_table)."""
    populations = list(POPULATIONS)
    fig = Figure(figsize=(4 * len(populations), 4))
    axes = fig.subplots(1, len(populations), sharey=True)
    for ax, population in zip(axes, populations, strict=True):
        wide = table[table["population"] == population].pivot(
            index="cut", columns="ranking", values=metric
        )[list(BLOCKS)]
        positions = np.arange(len(wide))
        for i, ranking in enumerate(BLOCKS):
            ax.bar(positions + (i - 1) * 0.27, wide[ranking], width=0.27, label=ranking)
        ax.set_xticks(positions, wide.index, rotation=20)
        ax.set(title=POPULATIONS[population], ylabel=metric)
    axes[0].legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    return fig


def shap_dependence_figure(
    model: RiskModel,
    frame: pd.DataFrame,
    features: Sequence[str],
    target: str = "p_late_30",
    rows: int = 2000,
    seed: int = 0,
) -> Figure:
    """SHAP dependence: each feature's value against its contribution (log-odds) on a sample
    of rows, one panel per feature; categorical features by level."""
    sample = frame.sample(min(rows, len(frame)), random_state=seed)
    values = shap_values(model, target, sample)
    fig = Figure(figsize=(4.2 * len(features), 3.8))
    axes = np.atleast_1d(fig.subplots(1, len(features)))
    for ax, feature in zip(axes, features, strict=True):
        x = sample[feature]
        if feature in model.categories:
            codes = pd.Categorical(x.astype("object"), categories=model.categories[feature])
            ax.scatter(codes.codes, values[feature], s=4, alpha=0.3)
            ax.set_xticks(range(len(codes.categories)), codes.categories, rotation=30)
        else:
            ax.scatter(x, values[feature], s=4, alpha=0.3)
        ax.axhline(0, color="grey", lw=0.5)
        ax.set(xlabel=feature, ylabel="SHAP (log-odds)")
    fig.suptitle(f"SHAP dependence ({target})")
    fig.tight_layout()
    return fig


def contributions_figure(explained: pd.DataFrame, title: str) -> Figure:
    """Horizontal bars of an explain_invoice result: red raises the risk, blue lowers it."""
    frame = explained.iloc[::-1]
    fig = Figure(figsize=(8, 0.4 * len(frame) + 1.2))
    ax = fig.subplots()
    colors = ["#d1495b" if v > 0 else "#3b6ea5" for v in frame["shap"]]
    ax.barh(frame["feature"], frame["shap"], color=colors)
    ax.axvline(0, color="grey", lw=0.5)
    ax.set(title=title, xlabel="SHAP contribution (log-odds)")
    fig.tight_layout()
    return fig


def error_figure(tables: dict[str, pd.DataFrame]) -> Figure:
    """Observed against predicted share per group, one panel per `error_by` table (keyed by the
    column it groups by): where the bars differ, the model is miscalibrated for that group."""
    fig = Figure(figsize=(4.5 * len(tables), 4))
    axes = np.atleast_1d(fig.subplots(1, len(tables), sharey=True))
    for ax, (by, table) in zip(axes, tables.items(), strict=True):
        positions = np.arange(len(table))
        ax.bar(positions - 0.2, table["observed"], width=0.4, label="observed")
        ax.bar(positions + 0.2, table["predicted"], width=0.4, label="predicted")
        ax.set_xticks(positions, table[by].astype(str), rotation=30)
        ax.set(title=by, ylabel="share late")
    axes[0].legend()
    fig.tight_layout()
    return fig


def comparison_figure(
    comparison: pd.DataFrame, metrics: Sequence[str] = ("auc", "brier")
) -> Figure:
    """The change of each metric (a compare_backtests result), one panel per metric, one bar per
    population. AUC: higher is better; Brier and ECE: lower is better."""
    fig = Figure(figsize=(4.5 * len(metrics), 3.8))
    axes = np.atleast_1d(fig.subplots(1, len(metrics)))
    for ax, metric in zip(axes, metrics, strict=True):
        rows = comparison[comparison["metric"] == metric]
        colors = [
            "#4c9f70" if (v > 0) == (metric.startswith(("auc", "pr_auc", "capture"))) else "#d1495b"
            for v in rows["change"]
        ]
        ax.bar(rows["population"], rows["change"], color=colors)
        ax.axhline(0, color="grey", lw=0.5)
        ax.set(title=f"change of {metric}", ylabel=metric)
        ax.tick_params(axis="x", labelrotation=20)
    fig.tight_layout()
    return fig


def cash_in_figure(
    weeks: pd.DataFrame,
    labels: Sequence[str],
    *,
    title: str,
    legend: Sequence[str],
    tick: Callable[[float], str],
) -> Figure:
    """Cash expected per week in one currency (rows of a book.cash_in table with a week):
    stacked bars, the invoices being worked below, those in dispute and at the agency above;
    `labels` name the weeks, `legend` the three parts, `tick` writes an amount on the axis."""
    fig = Figure(figsize=(9, 3.6))
    ax = fig.subplots()
    x = np.arange(len(weeks))
    bottom = np.zeros(len(weeks))
    colors = ("#3b6ea5", "#f2a65a", "#8e7cc3")
    for column, label, color in zip(
        ("expected", "disputed", "agency"), legend, colors, strict=True
    ):
        values = weeks[column].to_numpy(dtype=float)
        if values.any() or column == "expected":
            ax.bar(x, values, bottom=bottom, color=color, label=label)
        bottom = bottom + values
    ax.set_xticks(x, labels, rotation=35, ha="right")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: tick(value)))
    ax.set(title=title)
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(frameon=False)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------- MLflow runs


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
    import shap  # 0.4 s to import: only training draws this figure, not the nightly's report

    sample = frame.sample(min(rows, len(frame)), random_state=seed)
    values = shap_values(model, target, sample)
    x = model.matrix(sample)
    for column in model.categories:
        x[column] = x[column].cat.codes.replace(-1, np.nan)
    # (its own generator for the dots' jitter: the same plot whatever seeded NumPy's global one)
    shap.summary_plot(
        values.to_numpy(), x, show=False, max_display=15, rng=np.random.default_rng(seed)
    )
    fig = plt.gcf()
    fig.suptitle(f"SHAP values ({target}, log-odds)")
    fig.tight_layout()
    return fig
