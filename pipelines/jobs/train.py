"""Training: the snapshot table built once, the rolling-origin backtest, optional tuning, the
final fit, MLflow logging, registration and the champion gate."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta

import duckdb
import pandas as pd

from features.catalog import CATEGORICAL_FEATURES
from features.runner import build_features, data_end, estimated_snapshots, snapshot_outcomes
from models import backtest as backtesting
from models.backtest import BacktestResult, TrainingConfig, TrainingData, fit_model
from models.labels import attach_outcomes, compact_features, label_snapshots, snapshot_dates
from models.monitoring import feature_profile
from models.promotion import GATE_METRIC, TEST_ROWS_METRIC, same_backtest, should_promote
from models.sampling import training_rows, training_sample
from models.train import InsufficientData, RiskModel
from models.tune import Tuning, tune
from pipelines import tracking
from pipelines.jobs import Step, no_step
from pipelines.publish import figures
from pipelines.settings import Settings
from pipelines.warehouse import connect, tuned

# Training snapshots start once customers have some history behind them.
WARMUP_DAYS = 90
# Memory of the training set build (training stage ≤ 8 GB at 10M invoices): DuckDB works within
# this much and spills to disk beyond it (its default, 80% of the machine, is what made the
# 10M training stage peak at 13.75 GB), and the snapshot dates are built in batches of about
# this many snapshots, each batch made compact before the next one is built.
TRAINING_DUCKDB_MEMORY = "3GB"
SNAPSHOTS_PER_BATCH = 2_500_000

__all__ = [
    "GATE_METRIC",
    "TEST_ROWS_METRIC",
    "BacktestResult",
    "InsufficientData",
    "TrainResult",
    "TrainingData",
    "Tuning",
    "backtest",
    "register",
    "run_backtest",
    "train",
    "training_data",
]


def config(settings: Settings) -> TrainingConfig:
    return TrainingConfig(settings.late_grace_days, settings.serious_late_days, settings.seed)


def training_data(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    *,
    snapshots_per_batch: int = SNAPSHOTS_PER_BATCH,
) -> TrainingData:
    """Features of open invoices at every snapshot date of the book, with their outcomes.

    Memory: DuckDB works within TRAINING_DUCKDB_MEMORY; the dates are built in consecutive
    batches of about `snapshots_per_batch` snapshots, each made compact before the next (the
    result does not depend on the batching)."""
    dates, end = training_dates(con, settings)
    with tuned(con, memory_limit=TRAINING_DUCKDB_MEMORY):
        estimate, invoices = estimated_snapshots(con, dates, settings.snapshot_every_days)
        snapshot_one_in, sample_one_in = training_sample(
            estimate, invoices, settings.max_training_snapshots
        )
        rows = training_rows(estimate, invoices, snapshot_one_in, sample_one_in)
        batches = max(1, math.ceil(rows / snapshots_per_batch))
        frames = [
            compact_features(
                build_features(
                    con,
                    batch,
                    grace_days=settings.late_grace_days,
                    sample_one_in=sample_one_in,
                    snapshot_one_in=snapshot_one_in,
                    first_snapshot_days=settings.snapshot_every_days,
                ),
                list(CATEGORICAL_FEATURES),
            )
            for batch in _batches(dates, batches)
        ]
        frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
        del frames
        outcomes = snapshot_outcomes(con, frame["invoice_id"].unique())
    return TrainingData(
        attach_outcomes(frame, outcomes), outcomes, dates[0], end, sample_one_in, snapshot_one_in
    )


def training_dates(con: duckdb.DuckDBPyConnection, settings: Settings) -> tuple[list[date], date]:
    """(the snapshot dates of the training set, the end of the data)."""
    first_issue = con.execute("select min(issue_date) from staging.invoices").fetchall()[0][0]
    if first_issue is None:
        raise InsufficientData(
            f"the warehouse {settings.warehouse_path} holds no invoice: load the exports first "
            "(latepay ingest PATH...)"
        )
    end = data_end(con)
    first = first_issue + timedelta(days=WARMUP_DAYS)
    dates = snapshot_dates(first, end - timedelta(days=1), settings.snapshot_every_days)
    if len(dates) < 8:
        raise InsufficientData(
            f"the book spans {(end - first_issue).days} days; training needs at least "
            f"{WARMUP_DAYS + 8 * settings.snapshot_every_days} days of invoices "
            f"({WARMUP_DAYS} days of warm-up history, then 8 snapshot dates)"
        )
    return dates, end


def _batches(dates: list[date], count: int) -> list[list[date]]:
    """`dates` (sorted) cut into `count` consecutive runs of nearly equal length."""
    size = math.ceil(len(dates) / count)
    return [dates[i : i + size] for i in range(0, len(dates), size)]


def backtest(
    settings: Settings,
    data: TrainingData,
    cuts: list[date] | None = None,
    params: dict[str, object] | None = None,
) -> BacktestResult:
    """The rolling-origin backtest (models.backtest) with the settings' label rules and seed."""
    return backtesting.backtest(data, config(settings), cuts, params)


def run_backtest(settings: Settings, cuts: list[date] | None = None) -> BacktestResult:
    """`latepay backtest`: the snapshots of the warehouse, backtested at `cuts` (default: two
    periods of 180 days before the end of the data)."""
    if settings.dask_address:  # every snapshot, on the cluster's workers (pipelines/cluster)
        from pipelines.cluster import jobs as cluster

        return cluster.run_backtest(settings, cuts)
    with connect(settings.warehouse_path) as con:
        data = training_data(con, settings)
    return backtest(settings, data, cuts)


@dataclass
class TrainResult:
    backtest: BacktestResult
    model: RiskModel
    registered: tracking.RegisteredModel
    training_rows: int
    champion_score: float | None = None  # the previous champion's GATE_METRIC, same backtest
    tuning: Tuning | None = None


def train(
    settings: Settings,
    *,
    force_promote: bool = False,
    tune_trials: int = 0,
    step: Step = no_step,
) -> TrainResult:
    """Build the snapshots once, backtest, then fit on all labelled snapshots, log to MLflow and
    register (see `register`). With `tune_trials`, the LightGBM settings are first chosen among
    that many (models.tune)."""
    # a store that cannot be read is said now, not after minutes of backtest
    tracking.use_store(settings.mlflow_tracking_uri)
    if settings.dask_address:  # every snapshot, on the cluster's workers (pipelines/cluster)
        from pipelines.cluster import jobs as cluster

        return cluster.train(
            settings, force_promote=force_promote, tune_trials=tune_trials, step=step
        )
    with (
        step("Building point-in-time features at weekly snapshot dates"),
        connect(settings.warehouse_path) as con,
    ):
        data = training_data(con, settings)
    tuning = None
    if tune_trials:
        with step(f"Tuning: {tune_trials} LightGBM settings tried before the backtest"):
            tuning = tune(data, config(settings), tune_trials)
    with step("Backtest: training before the cut date, testing after it"):
        result = backtest(settings, data, params=tuning.params if tuning else None)
    with step("Training on all history; logging and registering in MLflow"):
        return register(settings, data, result, force_promote=force_promote, tuning=tuning)


def register(
    settings: Settings,
    data: TrainingData,
    result: BacktestResult,
    *,
    force_promote: bool = False,
    tuning: Tuning | None = None,
) -> TrainResult:
    """Fit on every snapshot whose labels are known at the end of the data (with the settings
    `tuning` chose, if any), log the run with its backtest to MLflow, register the model, and
    move the champion alias to it when models.promotion.should_promote says so."""
    labelled = label_snapshots(
        data.features,
        None,  # the snapshots carry settled_date: the backtest's set, labelled at the end
        known_at=data.data_end,
        grace_days=settings.late_grace_days,
        serious_days=settings.serious_late_days,
    )
    model = fit_model(labelled, config(settings), tuning.params if tuning else None)
    try:
        champion_score = champion_backtest(settings, data, result)
    except tracking.ChampionUnreadable:
        if not force_promote:
            raise  # (its message says to put the files back or to force the promotion)
        champion_score = None  # promoted whatever it scores: the old one cannot be loaded
    return log_model(settings, data, result, model, labelled, champion_score, force_promote, tuning)


def log_model(
    settings: Settings,
    data: TrainingData,
    result: BacktestResult,
    model: RiskModel,
    labelled: pd.DataFrame,
    champion_score: float | None,
    force_promote: bool = False,
    tuning: Tuning | None = None,
    training_rows: int | None = None,
) -> TrainResult:
    """`register`'s second half: log the fitted model with its backtest, register it, promote
    it when should_promote says so. `labelled`: its training snapshots (on a cluster, an example
    of them: then `training_rows` says how many it was fitted on)."""
    metrics = result.flat_metrics()
    promote = should_promote(metrics[GATE_METRIC], champion_score, force=force_promote)
    if champion_score is not None:
        metrics[f"champion_{GATE_METRIC}"] = champion_score
    registered = tracking.log_and_register(
        model,
        tracking.Destination.of(settings),
        params=_run_params(settings, data, result, labelled, model, tuning, training_rows),
        metrics=metrics,
        example=labelled,
        backtest={"per_cut": result.per_cut, "overall": result.overall},
        figures=_run_figures(model, labelled, result.predictions),
        # what the monitor compares today's open invoices with (models.monitoring)
        profile=feature_profile(labelled, model.feature_names, list(CATEGORICAL_FEATURES)),
        promote=promote,
        tuning=tuning.trials if tuning else None,
    )
    rows = training_rows or len(labelled)
    return TrainResult(result, model, registered, rows, champion_score, tuning)


def _run_params(
    settings: Settings,
    data: TrainingData,
    result: BacktestResult,
    labelled: pd.DataFrame,
    model: RiskModel,
    tuning: Tuning | None,
    training_rows: int | None = None,
) -> dict[str, object]:
    return {
        "data_first_as_of": data.first_as_of.isoformat(),
        "data_end": data.data_end.isoformat(),
        "backtest_cuts": ",".join(c.isoformat() for c in result.cuts),
        "snapshot_every_days": settings.snapshot_every_days,
        "late_grace_days": settings.late_grace_days,
        "serious_late_days": settings.serious_late_days,
        "training_rows": training_rows or len(labelled),
        "customer_sample_one_in": data.sample_one_in,
        "snapshot_sample_one_in": data.snapshot_one_in,
        "n_features": len(model.feature_names),
        "tuning_trials": len(tuning.trials) if tuning else 0,
        # LightGBM's size, chosen by models.train.size_params from the training invoices
        **{k: model.params.get(k) for k in ("num_leaves", "min_data_in_leaf", "rounds")},
    }


def _run_figures(model: RiskModel, example: pd.DataFrame, predictions: pd.DataFrame) -> dict:
    """The figures logged with the run: importance, SHAP summary, calibration (backtest)."""
    drawn = {
        "plots/feature_importance.png": figures.importance_figure(model),
        "plots/shap_summary.png": figures.shap_summary_figure(model, example),
    }
    if not predictions.empty:
        drawn["plots/calibration.png"] = figures.calibration_figure(predictions)
    return drawn


def champion_backtest(
    settings: Settings, data: TrainingData, result: BacktestResult
) -> float | None:
    """The current champion's GATE_METRIC on the same backtest as `result`: read from its run
    when it tested the same snapshots (models.promotion.same_backtest), otherwise measured again
    by backtesting the champion's LightGBM parameters on this data. None without a champion."""
    champion = tracking.champion_run(settings.mlflow_tracking_uri, settings.model_name)
    if champion is None:
        return None
    params, metrics = champion
    test_rows = result.flat_metrics()[TEST_ROWS_METRIC]
    if same_backtest(
        params, metrics, data_end=data.data_end, cuts=result.cuts, test_rows=test_rows
    ):
        return metrics[GATE_METRIC]
    model, _ = tracking.load_champion(settings.mlflow_tracking_uri, settings.model_name)
    rerun = backtest(settings, data, result.cuts, params=model.params)
    return rerun.flat_metrics()[GATE_METRIC]
