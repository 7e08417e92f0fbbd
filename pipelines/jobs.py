"""The workloads latepay runs, as plain functions of the settings: the CLI and the Prefect flows
both call these. Each opens the warehouse, calls `features/` and `models/`, and writes results."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pandas as pd
from sklearn.model_selection import ParameterSampler

from features.catalog import CATEGORICAL_FEATURES
from features.runner import build_features, data_end, model_feature_columns
from models.dataset import (
    LABEL_COLUMNS,
    attach_outcomes,
    compact_features,
    label_snapshots,
    snapshot_dates,
)
from models.evaluate import evaluate, prior_late_rate, split_at
from models.train import DEFAULT_PARAMS, InsufficientData, RiskModel, fit_risk_model
from pipelines import tracking
from pipelines.ingest import LoadResult, ingest_files
from pipelines.settings import Settings
from pipelines.warehouse import connect

# Training snapshots start once customers have some history behind them.
WARMUP_DAYS = 90
DEFAULT_TEST_DAYS = 180  # length of each rolling-origin test period
# A new model becomes champion only if its backtest is at least as good on this metric.
GATE_METRIC = "backtest_late_30_model_auc"
# ...measured on the same test snapshots: as many of them (see champion_backtest).
TEST_ROWS_METRIC = "backtest_late_30_model_n"
# Memory of the training set build (training stage ≤ 8 GB at 10M invoices): DuckDB works within
# this much and spills to disk beyond it (its default, 80% of the machine, is what made the
# 10M training stage peak at 13.75 GB), and the snapshot dates are built in batches of about
# this many snapshots, each batch made compact before the next one is built.
TRAINING_DUCKDB_MEMORY = "3GB"
SNAPSHOTS_PER_BATCH = 2_500_000


def ingest(
    settings: Settings,
    paths: list[Path],
    mapping: Path | None = None,
    load_date: date | None = None,
) -> list[LoadResult]:
    """Load exports; rows dated after `load_date` (default: today) are rejected as future."""
    with connect(settings.warehouse_path) as con:
        return ingest_files(con, paths, mapping, load_date=load_date or date.today())


@dataclass
class TrainingData:
    """The snapshots of one training run, built once: the backtest slices them by cut date and
    the final fit labels them at the end of the data (see models.dataset.snapshot_labels)."""

    # one row per (invoice_id, as_of): keys, descriptive columns, model features (categorical
    # ones as categories) and the invoice's final settled_date (never a feature)
    features: pd.DataFrame
    outcomes: pd.DataFrame  # invoice_id, due_date, settled_date of the invoices in `features`
    first_as_of: date
    data_end: date
    sample_one_in: int = 1  # customers kept: one in this many (see training_sample)
    # (invoice, as_of) rows kept: each invoice's first, and one in this many of the others
    snapshot_one_in: int = 1


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
    end = data_end(con)
    first_issue = con.execute("select min(issue_date) from staging.invoices").fetchall()[0][0]
    first = first_issue + timedelta(days=WARMUP_DAYS)
    dates = snapshot_dates(first, end - timedelta(days=1), settings.snapshot_every_days)
    if len(dates) < 8:
        raise InsufficientData(
            f"the book spans {(end - first_issue).days} days; training needs at least "
            f"{WARMUP_DAYS + 8 * settings.snapshot_every_days} days of invoices "
            f"({WARMUP_DAYS} days of warm-up history, then 8 snapshot dates)"
        )
    [(memory_limit,)] = con.execute("select current_setting('memory_limit')").fetchall()
    con.execute(f"set memory_limit = '{TRAINING_DUCKDB_MEMORY}'")
    try:
        estimate, invoices = estimated_snapshots(con, dates, settings)
        snapshot_one_in, sample_one_in = training_sample(
            estimate, invoices, settings.max_training_snapshots
        )
        rows = training_rows(estimate, invoices, snapshot_one_in, sample_one_in)
        batches = max(1, math.ceil(rows / snapshots_per_batch))
        frames = [
            _compact(
                build_features(
                    con,
                    batch,
                    grace_days=settings.late_grace_days,
                    sample_one_in=sample_one_in,
                    snapshot_one_in=snapshot_one_in,
                    first_snapshot_days=settings.snapshot_every_days,
                )
            )
            for batch in _batches(dates, batches)
        ]
        frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
        del frames
        outcomes = snapshot_outcomes(con, frame["invoice_id"].unique())
    finally:
        _restore_memory_limit(con, memory_limit)
    return TrainingData(
        attach_outcomes(frame, outcomes), outcomes, dates[0], end, sample_one_in, snapshot_one_in
    )


def _restore_memory_limit(con: duckdb.DuckDBPyConnection, memory_limit: str) -> None:
    """Back to the connection's limit (DuckDB prints it rounded: reset when it was the default)."""
    con.execute("reset memory_limit")
    [(default,)] = con.execute("select current_setting('memory_limit')").fetchall()
    if default != memory_limit:
        con.execute(f"set memory_limit = '{memory_limit}'")


def _batches(dates: list[date], count: int) -> list[list[date]]:
    """`dates` (sorted) cut into `count` consecutive runs of nearly equal length."""
    size = math.ceil(len(dates) / count)
    return [dates[i : i + size] for i in range(0, len(dates), size)]


def _compact(frame: pd.DataFrame) -> pd.DataFrame:
    return compact_features(frame, list(CATEGORICAL_FEATURES))


def snapshot_outcomes(con: duckdb.DuckDBPyConnection, invoice_ids: object) -> pd.DataFrame:
    """Final outcome (due_date, settled_date; null while unpaid) of the given invoices only: the
    outcomes of a whole 10M-invoice book would take about 1 GB in pandas. Labels only."""
    con.register("snapshot_invoices", pd.DataFrame({"invoice_id": invoice_ids}))
    try:
        return con.execute(
            """
            select i.invoice_id, i.due_date, s.settled_date
            from staging.invoices as i
            join staging.invoice_settlements as s using (invoice_id)
            semi join snapshot_invoices as k using (invoice_id)
            """
        ).df()
    finally:
        con.unregister("snapshot_invoices")


def estimated_snapshots(
    con: duckdb.DuckDBPyConnection, dates: list[date], settings: Settings
) -> tuple[float, int]:
    """About how many (invoice, as_of) snapshots the book has at these dates (every customer),
    and how many invoices they come from."""
    [(estimate, invoices)] = con.execute(
        """
        with spans as (
            select greatest(
                least(coalesce(s.settled_date, $last), $last) - greatest(i.issue_date, $first), 0
            ) as open_days
            from staging.invoices as i
            join staging.invoice_settlements as s using (invoice_id)
            where i.amount > 0
        )
        select coalesce(sum(open_days), 0) / $every, count(*) filter (where open_days > 0)
        from spans
        """,
        {"first": dates[0], "last": dates[-1], "every": settings.snapshot_every_days},
    ).fetchall()
    return float(estimate), int(invoices)


def training_sample(estimate: float, invoices: int, max_snapshots: int) -> tuple[int, int]:
    """(snapshot_one_in, sample_one_in): how to keep a training set of `estimate` snapshots from
    `invoices` invoices within `max_snapshots`; (1, 1), everything, when it fits.

    Every invoice's first snapshot (at most snapshot_every_days after its issue: the age-0 case
    the literature reports) is kept, and about half as many of the later ones, by hash; whole
    customers are sampled only when that is still too many. Training draws at most two
    snapshots per invoice (models.train.SNAPSHOTS_PER_INVOICE) and its time grows with them:
    more later snapshots cost time and gained nothing measurable, while keeping the first ones
    gained 0.0015 of AUC at age 1 over a hashed share of all rows (benchmarks/RESULTS.md). The
    1M-invoice book trains on every customer, the 10M book on one in 8."""
    if estimate <= max_snapshots:
        return 1, 1
    first = min(float(invoices), estimate)
    later = estimate - first
    kept_later = min(later, first / 2)
    sample_one_in = max(1, math.ceil((first + kept_later) / max_snapshots))
    snapshot_one_in = max(1, math.ceil(later / kept_later)) if later > 0 else 1
    return snapshot_one_in, sample_one_in


def training_rows(
    estimate: float, invoices: int, snapshot_one_in: int, sample_one_in: int
) -> float:
    """About how many snapshots training_sample's choice keeps."""
    first = min(float(invoices), estimate)
    return (first + (estimate - first) / snapshot_one_in) / sample_one_in


@dataclass
class BacktestResult:
    cuts: list[date]
    data_end: date
    per_cut: dict[str, dict]  # cut date (ISO) -> models.evaluate.evaluate() blocks
    overall: dict  # the same blocks on all test snapshots of all cuts
    train_rows: int  # training snapshots of the last cut
    test_rows: int
    # test snapshots: invoice_id, customer_id, as_of, age_days, days_past_due, open_amount,
    # late, late_30, days_to_pay (as known at the end of the data; NaN when unknown), the
    # predictions, and the cut they were tested after
    predictions: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)

    def flat_metrics(self) -> dict[str, float]:
        """Overall metrics as flat MLflow names, e.g. backtest_late_30_model_auc."""
        flat: dict[str, float] = {}
        for population, blocks in self.overall.items():
            for block, values in blocks.items():
                if isinstance(values, dict):
                    flat.update(
                        {f"backtest_{population}_{block}_{k}": v for k, v in values.items()}
                    )
                else:
                    flat[f"backtest_{population}_{block}"] = values
        return flat


def default_cuts(end: date) -> list[date]:
    """Rolling origin: two test periods of DEFAULT_TEST_DAYS days each, ending at `end`."""
    return [end - timedelta(days=2 * DEFAULT_TEST_DAYS), end - timedelta(days=DEFAULT_TEST_DAYS)]


def backtest(
    settings: Settings,
    data: TrainingData,
    cuts: list[date] | None = None,
    params: dict[str, object] | None = None,
) -> BacktestResult:
    """For each cut date: train on snapshots before it (labels known at the cut), test on the
    snapshots up to the next cut (the last one: up to the end of the data)."""
    cuts = sorted(cuts or default_cuts(data.data_end))
    per_cut, tested, train_rows = {}, [], 0
    for i, cut in enumerate(cuts):
        split = split_at(
            data.features,
            cut=cut,
            data_end=data.data_end,
            test_end=cuts[i + 1] if i + 1 < len(cuts) else None,
            grace_days=settings.late_grace_days,
            serious_days=settings.serious_late_days,
        )
        if split.train.empty or split.test.empty:
            raise InsufficientData(
                f"cut date {cut} leaves {len(split.train)} training and {len(split.test)} test "
                f"snapshots; choose cut dates between {data.first_as_of} and {data.data_end}"
            )
        model = _fit(settings, split.train, params)
        predictions = model.predict(split.test)
        fallback = float(split.train["late"].astype(float).mean())
        per_cut[cut.isoformat()] = evaluate(
            split.test,
            predictions,
            fallback_late_rate=fallback,
            grace_days=settings.late_grace_days,
        )
        test = split.test.assign(share_paid_late=prior_late_rate(split.test, fallback), cut=cut)
        tested.append(test.join(predictions))
        train_rows = len(split.train)
    pooled = pd.concat(tested, ignore_index=True)
    overall = evaluate(pooled, pooled, fallback_late_rate=0.0, grace_days=settings.late_grace_days)
    keep = ["invoice_id", "customer_id", "as_of", "cut", "days_past_due", "open_amount"]
    labels = ["late", "late_30", "days_to_pay"]
    rows = pooled[keep + labels + [c for c in predictions.columns]].assign(
        age_days=pooled["days_since_issue"]
    )
    return BacktestResult(cuts, data.data_end, per_cut, overall, train_rows, len(pooled), rows)


# `latepay train --tune`: the LightGBM settings tried (DEFAULT_PARAMS first, then random draws).
TUNING_SPACE: dict[str, list[object]] = {
    "learning_rate": [0.04, 0.06, 0.08, 0.12],
    "num_leaves": [15, 31, 63, 127],
    "min_data_in_leaf": [20, 50, 100, 200, 400],
    "feature_fraction": [0.6, 0.8, 1.0],
    "lambda_l2": [0.0, 1.0, 10.0],
}
# Tuning scores each trial by the mean of these (validation before the first backtest cut).
TUNING_METRICS = ("backtest_late_model_auc", "backtest_late_30_model_auc")


@dataclass
class Tuning:
    params: dict[str, object]  # the best trial's settings (TUNING_SPACE keys)
    cut: date  # validation: trained before this date, tested from it
    end: date  # up to here (the first backtest cut); labels known at this date
    trials: pd.DataFrame  # one row per trial: its settings, TUNING_METRICS and score


def tune(settings: Settings, data: TrainingData, trials: int) -> Tuning:
    """Choose LightGBM settings on data the backtest never tests: each trial trains before a
    validation cut and is tested from it up to the first backtest cut, with outcomes as known at
    that cut (nothing later is seen), so the backtest stays an honest measure of the choice."""
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
    defaults = {k: DEFAULT_PARAMS[k] for k in TUNING_SPACE}
    drawn = ParameterSampler(TUNING_SPACE, n_iter=trials, random_state=settings.seed)
    candidates = [defaults, *(p for p in drawn if p != defaults)][:trials]
    rows = []
    for params in candidates:
        metrics = backtest(settings, validation, [cut], params=params).flat_metrics()
        scores = {name: metrics[name] for name in TUNING_METRICS}
        rows.append({**params, **scores, "score": sum(scores.values()) / len(scores)})
    table = pd.DataFrame(rows)
    best = int(table["score"].idxmax())
    return Tuning(candidates[best], cut, end, table)


def _fit(
    settings: Settings, train: pd.DataFrame, params: dict[str, object] | None = None
) -> RiskModel:
    return fit_risk_model(
        train,
        [c for c in model_feature_columns(train) if c not in LABEL_COLUMNS],
        list(CATEGORICAL_FEATURES),
        grace_days=settings.late_grace_days,
        seed=settings.seed,
        params=params,
    )


@dataclass
class TrainResult:
    backtest: BacktestResult
    model: RiskModel
    registered: tracking.RegisteredModel
    training_rows: int
    champion_score: float | None = None  # the previous champion's GATE_METRIC, same backtest
    tuning: Tuning | None = None


def train(settings: Settings, *, force_promote: bool = False, tune_trials: int = 0) -> TrainResult:
    """Backtest, then fit on all labelled snapshots, log to MLflow and register (see `register`).
    With `tune_trials`, the LightGBM settings are first chosen among that many (see `tune`)."""
    with connect(settings.warehouse_path) as con:
        data = training_data(con, settings)
    tuning = tune(settings, data, tune_trials) if tune_trials else None
    params = tuning.params if tuning else None
    result = backtest(settings, data, params=params)
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
    move the champion alias to it when it is the first, when forced, or when its backtest AUC
    (serious lateness) is at least the champion's."""
    labelled = label_snapshots(
        data.features,
        None,  # the snapshots carry settled_date: the backtest's set, labelled at the end
        known_at=data.data_end,
        grace_days=settings.late_grace_days,
        serious_days=settings.serious_late_days,
    )
    model = _fit(settings, labelled, tuning.params if tuning else None)
    metrics = result.flat_metrics()
    champion_score = champion_backtest(settings, data, result)
    promote = force_promote or champion_score is None or metrics[GATE_METRIC] >= champion_score
    if champion_score is not None:
        metrics[f"champion_{GATE_METRIC}"] = champion_score
    registered = tracking.log_and_register(
        model,
        tracking_uri=settings.mlflow_tracking_uri,
        experiment=settings.experiment_name,
        artifacts_dir=settings.mlflow_artifacts_dir,
        model_name=settings.model_name,
        params={
            "data_first_as_of": data.first_as_of.isoformat(),
            "data_end": data.data_end.isoformat(),
            "backtest_cuts": ",".join(c.isoformat() for c in result.cuts),
            "snapshot_every_days": settings.snapshot_every_days,
            "late_grace_days": settings.late_grace_days,
            "serious_late_days": settings.serious_late_days,
            "training_rows": len(labelled),
            "customer_sample_one_in": data.sample_one_in,
            "snapshot_sample_one_in": data.snapshot_one_in,
            "n_features": len(model.feature_names),
            "tuning_trials": len(tuning.trials) if tuning else 0,
        },
        metrics=metrics,
        example=labelled,
        backtest={"per_cut": result.per_cut, "overall": result.overall},
        backtest_predictions=result.predictions,
        promote=promote,
        tuning=tuning.trials if tuning else None,
    )
    return TrainResult(result, model, registered, len(labelled), champion_score, tuning)


def champion_backtest(
    settings: Settings, data: TrainingData, result: BacktestResult
) -> float | None:
    """The current champion's GATE_METRIC on the same backtest as `result`: read from its run
    when it was backtested on the same data end, cut dates and number of test snapshots (a
    training set sampled otherwise tests other snapshots), otherwise measured again by
    backtesting the champion's LightGBM parameters on this data. None without a champion."""
    champion = tracking.champion_run(settings.mlflow_tracking_uri, settings.model_name)
    if champion is None:
        return None
    params, metrics = champion
    same = (
        params.get("data_end") == data.data_end.isoformat()
        and params.get("backtest_cuts") == ",".join(c.isoformat() for c in result.cuts)
        and metrics.get(TEST_ROWS_METRIC) == result.flat_metrics()[TEST_ROWS_METRIC]
    )
    if same and GATE_METRIC in metrics:
        return metrics[GATE_METRIC]
    model, _ = tracking.load_champion(settings.mlflow_tracking_uri, settings.model_name)
    rerun = backtest(settings, data, result.cuts, params=model.params)
    return rerun.flat_metrics()[GATE_METRIC]
