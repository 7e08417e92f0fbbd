"""MLflow at the edge: log a training run, register the model, move the `champion` alias, load the
champion for scoring. Nothing in `models/` touches MLflow."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import mlflow
import pandas as pd
from matplotlib.figure import Figure
from mlflow.models import ModelSignature
from mlflow.tracking import MlflowClient
from mlflow.types import ColSpec, Schema

from models.train import RiskModel

if TYPE_CHECKING:
    from pipelines.settings import Settings

CHAMPION = "champion"
# The distribution of each feature in the training snapshots (models.monitoring.feature_profile).
PROFILE_ARTIFACT = "feature_profile.json"
# MLflow's progress bars and INFO logs would interleave with the CLI's own output.
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
logging.getLogger("mlflow").setLevel(logging.ERROR)
logging.getLogger("alembic").setLevel(logging.WARNING)


class NoChampion(RuntimeError):
    """No model carries the champion alias yet."""


class TrackingStoreUnreadable(RuntimeError):
    """The MLflow store cannot be read (not a store, damaged, unreachable)."""


class ChampionUnreadable(RuntimeError):
    """The champion is registered but its files cannot be loaded (moved, deleted, damaged)."""


_READABLE: set[str] = set()  # the stores found readable by this process


def use_store(tracking_uri: str) -> None:
    """Point MLflow at `tracking_uri`; TrackingStoreUnreadable, in one line, when it cannot be
    read (checked once per process: one query)."""
    mlflow.set_tracking_uri(tracking_uri)
    if tracking_uri in _READABLE:
        return
    try:
        MlflowClient().search_experiments(max_results=1)
    except Exception as exc:  # sqlite, SQLAlchemy, MLflow or OS errors: the store's fault
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise TrackingStoreUnreadable(
            f"the MLflow store {tracking_uri} cannot be read ({reason}); "
            "LATEPAY_MLFLOW_TRACKING_URI must name a store latepay made, or a new file: move "
            "the damaged one away and run `latepay train`"
        ) from exc
    _READABLE.add(tracking_uri)


class RiskModelPyfunc(mlflow.pyfunc.PythonModel):
    """The MLflow form of a RiskModel: feature rows in, p_late and p_late_30 out."""

    def __init__(self, model: RiskModel) -> None:
        self.model = model

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        return self.model.predict(model_input)


@dataclass(frozen=True)
class RegisteredModel:
    run_id: str
    version: str
    promoted: bool


@dataclass(frozen=True)
class Destination:
    """Where runs and models go: the tracking store, experiment, artifacts and model name."""

    tracking_uri: str
    experiment: str
    artifacts_dir: Path
    model_name: str

    @classmethod
    def of(cls, settings: Settings) -> Destination:
        return cls(
            settings.mlflow_tracking_uri,
            settings.experiment_name,
            settings.mlflow_artifacts_dir,
            settings.model_name,
        )


def _setup(to: Destination) -> None:
    use_store(to.tracking_uri)
    if mlflow.get_experiment_by_name(to.experiment) is None:
        to.artifacts_dir.mkdir(parents=True, exist_ok=True)
        mlflow.create_experiment(
            to.experiment, artifact_location=to.artifacts_dir.resolve().as_uri()
        )
    mlflow.set_experiment(to.experiment)


def log_and_register(
    model: RiskModel,
    to: Destination,
    *,
    params: dict[str, object],
    metrics: dict[str, float],
    example: pd.DataFrame,
    promote: bool,
    backtest: dict[str, object] | None = None,
    figures: dict[str, Figure] | None = None,
    tuning: pd.DataFrame | None = None,
    profile: dict | None = None,
) -> RegisteredModel:
    """Log a training run with its parameters, metrics, backtest, figures (artifact path ->
    figure, closed here) and model; register the model; move the champion alias to it when
    `promote`."""
    _setup(to)
    with mlflow.start_run() as run:
        mlflow.log_params({k: v for k, v in params.items() if v is not None})
        mlflow.log_metrics({k: v for k, v in metrics.items() if pd.notna(v)})
        mlflow.log_dict({"features": model.feature_names}, "features.json")
        mlflow.log_text(json.dumps(model.params, indent=2, default=str), "lightgbm_params.json")
        if backtest is not None:
            mlflow.log_text(json.dumps(backtest, indent=2, default=str), "backtest.json")
        if tuning is not None:
            mlflow.log_table(tuning, "tuning.json")
        if profile is not None:
            mlflow.log_dict(profile, PROFILE_ARTIFACT)
        for path, figure in (figures or {}).items():
            mlflow.log_figure(figure, path)
            plt.close(figure)
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=RiskModelPyfunc(model),
            input_example=_signature_example(model, example),
            signature=_signature(model),
            registered_model_name=to.model_name,
            pip_requirements=["lightgbm", "pandas", "scikit-learn"],
        )
    version = str(info.registered_model_version)
    if promote:
        MlflowClient().set_registered_model_alias(to.model_name, CHAMPION, version)
    return RegisteredModel(run.info.run_id, version, promote)


def _signature_example(model: RiskModel, example: pd.DataFrame) -> pd.DataFrame:
    """Five rows in the signature's types: text categoricals and float64 numbers (training sets
    hold categories and float32)."""
    rows = example[model.feature_names].head(5)
    return pd.DataFrame(
        {
            name: rows[name].astype("object").where(rows[name].notna(), None)
            if name in model.categories
            else rows[name].astype("float64")
            for name in model.feature_names
        },
        index=rows.index,
    )


def _signature(model: RiskModel) -> ModelSignature:
    """Every feature optional (history is missing for new customers); text for categoricals."""
    inputs = Schema(
        [
            ColSpec("string" if name in model.categories else "double", name, required=False)
            for name in model.feature_names
        ]
    )
    outputs = Schema([ColSpec("double", target) for target in model.boosters])
    return ModelSignature(inputs=inputs, outputs=outputs)


def load_champion(tracking_uri: str, model_name: str) -> tuple[RiskModel, str]:
    """The champion RiskModel and its registry version."""
    use_store(tracking_uri)
    try:
        found = MlflowClient().get_model_version_by_alias(model_name, CHAMPION)
    except mlflow.exceptions.MlflowException as exc:
        raise NoChampion(
            f"no '{CHAMPION}' model named '{model_name}' in {tracking_uri}: "
            "run `latepay train` first"
        ) from exc
    try:
        loaded = mlflow.pyfunc.load_model(f"models:/{model_name}@{CHAMPION}")
        return loaded.unwrap_python_model().model, str(found.version)
    except Exception as exc:  # missing or damaged files: MLflow, OS or unpickling errors
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ChampionUnreadable(
            f"the champion (version {found.version} of '{model_name}') cannot be loaded from "
            f"{_files_of(model_name, found.version)} ({reason}): its files under LATEPAY_MLFLOW_ARTIFACTS_DIR were "
            "moved or deleted; put them back, or run `latepay train --force-promote`"
        ) from exc


def _files_of(model_name: str, version: str) -> str:
    """Where the registry keeps a model version's files (its source when it cannot say)."""
    try:
        return MlflowClient().get_model_version_download_uri(model_name, version)
    except mlflow.exceptions.MlflowException:
        return f"models:/{model_name}/{version}"


def champion_run(tracking_uri: str, model_name: str) -> tuple[dict, dict] | None:
    """Params and metrics of the champion's training run; None when there is no champion."""
    use_store(tracking_uri)
    client = MlflowClient()
    try:
        run_id = client.get_model_version_by_alias(model_name, CHAMPION).run_id
    except mlflow.exceptions.MlflowException:
        return None
    data = client.get_run(run_id).data
    return dict(data.params), dict(data.metrics)


def champion_profile(tracking_uri: str, model_name: str) -> dict | None:
    """The champion's training feature profile; None without a champion or one trained before
    profiles were logged."""
    use_store(tracking_uri)
    client = MlflowClient()
    try:
        run_id = client.get_model_version_by_alias(model_name, CHAMPION).run_id
        return mlflow.artifacts.load_dict(f"runs:/{run_id}/{PROFILE_ARTIFACT}")
    except (mlflow.exceptions.MlflowException, OSError):
        return None
