"""The risk model fitted by LightGBM's Dask estimators on snapshots that stay on the workers.

The same model as models.train.fit_risk_model: the same targets, rows, per-invoice draws
(SNAPSHOTS_PER_INVOICE per target, drawn within each partition: an invoice never spans two),
parameters, monotone constraints on the lateness classifiers, categorical levels (the sorted
union over the partitions) and codes (RiskModel.array), out-of-time Platt calibration with its
young terms, and P10/P50/P90 quantile boosters. The result is a plain RiskModel (local boosters):
scoring, reasons and MLflow treat it as any other. It is not the same booster to the bit: LightGBM's
data-parallel learner builds each worker's histograms from its rows and finds the bin boundaries
of each feature on one worker's rows (tests/e2e/test_cluster.py measures the agreement).
"""

from __future__ import annotations

import dask.dataframe as dd
import lightgbm as lgb
import numpy as np
import pandas as pd
from distributed import Client, Future

from models.backtest import TrainingConfig
from models.labels import LABEL_COLUMNS
from models.train import (
    CALIBRATION_SHARE,
    CALIBRATION_SNAPSHOTS_PER_INVOICE,
    DEFAULT_PARAMS,
    NO_CALIBRATION,
    QUANTILE_ROUNDS,
    QUANTILES,
    TARGETS,
    InsufficientData,
    RiskModel,
    _levels,
    _monotone,
    _rows_for,
    _sample,
    _young,
    platt_calibration,
    size_params,
)

MIN_ROWS = 200  # as models.train.check_sufficient


def _positions(
    frame: pd.DataFrame,
    rows: str,
    grace_days: int,
    seed: int,
    per_invoice: int | None,
    before: np.datetime64 | None = None,
    after: np.datetime64 | None = None,
) -> np.ndarray:
    """Positions of a target's rows (`rows`: a TARGETS key, or "days_to_pay"), as_of < `before`
    or >= `after` when given, drawn `per_invoice` per invoice (None: all)."""
    if rows == "days_to_pay":
        mask = frame["days_to_pay"].notna().to_numpy(dtype=bool, copy=True)
    else:
        mask = _rows_for(frame, rows, grace_days).to_numpy(dtype=bool, copy=True)
    as_of = pd.to_datetime(frame["as_of"]).to_numpy()
    if before is not None:
        mask &= as_of < before
    if after is not None:
        mask &= as_of >= after
    positions = np.flatnonzero(mask)
    if per_invoice is None:
        return positions
    return _sample(pd.factorize(frame["invoice_id"])[0], positions, seed, per_invoice)


def _xy(frame: pd.DataFrame, model: RiskModel, label: str, select: dict) -> pd.DataFrame:
    """The model's float64 inputs (RiskModel.array) and the label of the selected rows."""
    positions = _positions(frame, **select)
    rows = frame.iloc[positions]
    out = pd.DataFrame(model.array(rows), columns=model.feature_names)
    out["label"] = rows[label].to_numpy(dtype=float)
    return out


def _raw_late(frame: pd.DataFrame, booster: lgb.Booster, model: RiskModel, select: dict, label):
    """(raw score, young, label) of the selected rows: the calibration's inputs."""
    rows = frame.iloc[_positions(frame, **select)]
    raw = booster.predict(model.array(rows), raw_score=True) if len(rows) else np.empty(0)
    return pd.DataFrame({"raw": raw, "young": _young(rows), "y": rows[label].to_numpy(dtype=float)})


def _levels_of(frame: pd.DataFrame, categorical: list[str]) -> dict[str, list[str]]:
    return {c: _levels(frame[c]) for c in categorical}


def _dates_of(frame: pd.DataFrame, target: str, grace_days: int) -> np.ndarray:
    """The as_of dates of a target's rows."""
    as_of = pd.to_datetime(frame["as_of"]).to_numpy()
    return np.unique(as_of[_positions(frame, target, grace_days, 0, None)])


def _target_counts(frame: pd.DataFrame, grace_days: int) -> dict[str, tuple[int, int]]:
    out = {}
    for target, label in TARGETS.items():
        y = frame.loc[_rows_for(frame, target, grace_days), label]
        out[target] = (len(y), int(y.sum()))
    return out


class ClusterFit:
    """One fit of the risk model on labelled snapshot partitions (futures on the workers)."""

    def __init__(
        self, client: Client, parts: list[Future], config: TrainingConfig, params: dict | None
    ):
        self.client, self.parts, self.config = client, parts, config
        # leaves, leaf size and rounds by size_params on the training invoices (an invoice is in
        # one partition: the partitions' counts add up), unless `params` says otherwise
        given = dict(params or {})
        invoices = sum(client.gather(client.map(_invoices, parts)))
        sized, rounds = size_params(invoices)
        self.rounds = int(given.pop("rounds", rounds))
        self.params = {**DEFAULT_PARAMS, **sized, **given, "seed": config.seed}
        # LightGBM's Dask estimators use each worker's own threads
        self.params.pop("num_threads", None)

    def model(self, feature_names: list[str], categorical: list[str]) -> RiskModel:
        self._check_sufficient()
        levels = self.client.gather(
            self.client.map(_levels_of, self.parts, categorical=categorical)
        )
        categories = {c: sorted(set().union(*(lv[c] for lv in levels))) for c in categorical}
        model = RiskModel(feature_names, categories, {}, self.config.grace_days, self.params)
        model.params = {**self.params, "rounds": self.rounds}
        for target, label in TARGETS.items():
            model.calibration[target] = self._platt(model, target, label)
            model.boosters[target] = self._booster(
                model, label, {"rows": target, "per_invoice": 2}, monotone=True
            )
        model.quantile_boosters = {
            name: self._booster(
                model,
                "days_to_pay",
                {"rows": "days_to_pay", "per_invoice": 2},
                objective={"objective": "quantile", "alpha": alpha},
                rounds=QUANTILE_ROUNDS,
            )
            for name, alpha in QUANTILES.items()
        }
        return model

    def _check_sufficient(self) -> None:
        counts = self.client.gather(
            self.client.map(_target_counts, self.parts, grace_days=self.config.grace_days)
        )
        for target in TARGETS:
            n = sum(c[target][0] for c in counts)
            positives = sum(c[target][1] for c in counts)
            if n < MIN_ROWS:
                raise InsufficientData(
                    f"{target}: {n} snapshots with a known outcome; at least {MIN_ROWS} are needed"
                )
            if positives in (0, n):
                raise InsufficientData(f"{target}: all {n} known outcomes are of one class")

    def _select(self, select: dict) -> dict:
        return {"grace_days": self.config.grace_days, "seed": self.config.seed, **select}

    def _booster(
        self,
        model: RiskModel,
        label: str,
        select: dict,
        *,
        monotone: bool = False,
        objective: dict | None = None,
        rounds: int | None = None,
    ) -> lgb.Booster:
        """A booster fitted by DaskLGBMClassifier (DaskLGBMRegressor with `objective`) on the
        selected rows of every partition."""
        parts = self.client.map(
            _xy, self.parts, model=model, label=label, select=self._select(select)
        )
        sizes = self.client.gather(self.client.map(len, parts))
        parts = [p for p, n in zip(parts, sizes, strict=True) if n]
        meta = pd.DataFrame(
            {c: pd.Series(dtype="float64") for c in [*model.feature_names, "label"]}
        )
        frame = dd.from_delayed(parts, meta=meta, verify_meta=False)
        params = {**self.params, **(_monotone(model.feature_names) if monotone else {})}
        params.update(objective or {})
        estimator = (lgb.DaskLGBMRegressor if objective else lgb.DaskLGBMClassifier)(
            client=self.client, n_estimators=rounds or self.rounds, **params
        )
        categorical = [model.feature_names.index(c) for c in model.categories]
        estimator.fit(frame[model.feature_names], frame["label"], categorical_feature=categorical)
        booster = estimator.booster_
        # fitted on float columns (categories as codes): as a booster fitted on an array, which
        # RiskModel.matrix's categorical frames (reasons, SHAP) are checked against
        booster.pandas_categorical = None
        return booster

    def _platt(self, model: RiskModel, target: str, label: str) -> tuple[float, ...]:
        """models.train._platt on the cluster: a booster on the earlier dates, mapped to the
        observed rates of every snapshot of the latest CALIBRATION_SHARE of dates."""
        dates = self.client.gather(
            self.client.map(_dates_of, self.parts, target=target, grace_days=self.config.grace_days)
        )
        dates = np.unique(np.concatenate(dates)) if dates else np.array([])
        if len(dates) <= 4:
            return NO_CALIBRATION
        cut = dates[int(len(dates) * (1 - CALIBRATION_SHARE))]
        early = {"rows": target, "per_invoice": CALIBRATION_SNAPSHOTS_PER_INVOICE, "before": cut}
        late = self._select({"rows": target, "per_invoice": None, "after": cut})
        booster = self._booster(model, label, early, monotone=True)
        scored = pd.concat(
            self.client.gather(
                self.client.map(
                    _raw_late, self.parts, booster=booster, model=model, select=late, label=label
                )
            ),
            ignore_index=True,
        )
        raw, young, y = scored["raw"].to_numpy(), scored["young"].to_numpy(), scored["y"].to_numpy()
        if len(np.unique(y)) < 2:
            return NO_CALIBRATION
        return platt_calibration(raw, young, y.astype(int))


def _invoices(frame: pd.DataFrame) -> int:
    return int(frame["invoice_id"].nunique())


def _columns(frame: pd.DataFrame) -> list[str]:
    return list(frame.columns)


def feature_names(client: Client, parts: list[Future]) -> list[str]:
    """The model features of the snapshots (models.backtest.fit_model's choice)."""
    from features.runner import model_feature_columns

    columns = client.submit(_columns, parts[0]).result()
    frame = pd.DataFrame(columns=columns)
    return [c for c in model_feature_columns(frame) if c not in LABEL_COLUMNS]


def fit_on_cluster(
    client: Client,
    parts: list[Future],
    config: TrainingConfig,
    categorical: list[str],
    params: dict | None = None,
) -> RiskModel:
    """The risk model on labelled snapshot partitions (futures of frames on the workers)."""
    return ClusterFit(client, parts, config, params).model(
        feature_names(client, parts), categorical
    )
