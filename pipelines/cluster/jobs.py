"""The jobs' cluster halves (pipelines.jobs.train / score call these when `dask_address` is set):
the client, the training snapshots, the backtest, the final fit, scoring; and the Prefect task
runner of the flows."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from functools import partial
from typing import Any

import duckdb
import numpy as np
import pandas as pd
from distributed import Client, Future, LocalCluster, get_worker, worker_client

from features.catalog import CATEGORICAL_FEATURES
from models.backtest import BacktestResult, TrainingConfig, TrainingData, backtest_cuts
from models.days_late import days_late_at_issue
from models.evaluate import evaluate, prior_late_rate
from pipelines.cluster import ClusterError
from pipelines.cluster.partitions import Export, exported
from pipelines.cluster.tasks import (
    labelled,
    partition_scores,
    partition_snapshots,
    test_predictions,
)
from pipelines.cluster.training import fit_on_cluster
from pipelines.settings import Settings

LOCAL = "local"
CONNECT_TIMEOUT = "30s"


@contextmanager
def cluster_client(settings: Settings) -> Iterator[Client]:
    """A client of the settings' cluster: inside a Dask task (the flows' Dask task runner), the
    cluster running it (the task leaves its worker thread while it waits); `local`, a
    LocalCluster of `dask_local_workers` worker processes of one thread each, for this block;
    otherwise the scheduler at `dask_address`."""
    try:
        get_worker()
    except ValueError:
        pass
    else:
        with worker_client() as client:
            yield client
        return
    if settings.dask_address == LOCAL:
        with (
            LocalCluster(
                n_workers=settings.dask_local_workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=":0",
            ) as cluster,
            Client(cluster) as client,
        ):
            yield client
    else:
        try:
            client = Client(settings.dask_address, timeout=CONNECT_TIMEOUT)
        except OSError as exc:  # (distributed raises OSError subclasses on a failed connect)
            raise ClusterError(
                f"cannot reach the Dask scheduler at {settings.dask_address} "
                f"(LATEPAY_DASK_ADDRESS): {exc}; start it (`dask scheduler`) or unset the address"
            ) from exc
        with client:
            yield client


def task_runner(settings: Settings):
    """The flows' task runner on the cluster (prefect-dask), None without `dask_address`."""
    if not settings.dask_address:
        return None
    from prefect_dask import DaskTaskRunner

    if settings.dask_address == LOCAL:
        return DaskTaskRunner(
            cluster_kwargs={"n_workers": settings.dask_local_workers, "threads_per_worker": 1}
        )
    return DaskTaskRunner(address=settings.dask_address)


def _threads(client: Client) -> int:
    return max(1, min(client.nthreads().values()))


@contextmanager
def exported_book(con: duckdb.DuckDBPyConnection, settings: Settings) -> Iterator[Export]:
    with exported(con, settings.shared_dir, settings.dask_partitions) as export:
        yield export


def scores(client: Client, export: Export, settings: Settings, model, as_of: date) -> pd.DataFrame:
    """Features and predictions of every invoice open at `as_of`, scored partition by
    partition, in build_features' order (as_of, invoice_id); empty when none is open."""
    on_workers = client.scatter(model, broadcast=True)
    parts = client.gather(
        client.map(
            partition_scores,
            [export] * export.partitions,
            range(export.partitions),
            as_of=as_of,
            grace_days=settings.late_grace_days,
            model=on_workers,
            threads=_threads(client),
            pure=False,
        )
    )
    parts = [p for p in parts if not p.empty]
    if not parts:
        return pd.DataFrame()
    frame = pd.concat(parts, ignore_index=True)
    return frame.sort_values(["as_of", "invoice_id"], ignore_index=True)


def score_features(con: duckdb.DuckDBPyConnection, settings: Settings, model, as_of: date):
    """pipelines.jobs.score's hook: export the book, score it on the cluster."""
    with cluster_client(settings) as client, exported_book(con, settings) as export:
        return scores(client, export, settings, model, as_of)


def snapshots(
    client: Client, export: Export, settings: Settings, dates: list[date]
) -> list[Future]:
    """Every training snapshot (no sampling), one frame per partition, kept on the workers."""
    return client.map(
        partition_snapshots,
        [export] * export.partitions,
        range(export.partitions),
        dates=dates,
        grace_days=settings.late_grace_days,
        threads=_threads(client),
        pure=False,
    )


def _labelled(client, parts, config: TrainingConfig, known_at, start, end) -> list[Future]:
    return client.map(
        labelled,
        parts,
        known_at=known_at,
        start=start,
        end=end,
        grace_days=config.grace_days,
        serious_days=config.serious_days,
        pure=False,
    )


def _late_sum_count(frame: pd.DataFrame) -> tuple[float, int]:
    late = frame["late"].astype(float)
    return float(late.sum()), int(late.notna().sum())


def _rows_between(frame: pd.DataFrame, start: date, end: date) -> int:
    as_of = pd.to_datetime(frame["as_of"])
    return int(((as_of >= pd.Timestamp(start)) & (as_of < pd.Timestamp(end))).sum())


def _count(client: Client, parts: list[Future], start: date, end: date) -> list[Future]:
    return client.map(_rows_between, parts, start=start, end=end, pure=False)


def _invoice_count(frame: pd.DataFrame) -> int:
    return int(frame["invoice_id"].nunique())


def _default_cuts(client: Client, parts: list[Future], data_end: date) -> list[date]:
    """models.backtest.backtest_cuts of the snapshots (it reads their invoice count: an
    invoice is in one partition, so the partitions' counts add up)."""
    invoices = sum(client.gather(client.map(_invoice_count, parts)))
    stand_in = pd.DataFrame({"invoice_id": np.arange(invoices)})
    return backtest_cuts(TrainingData(stand_in, stand_in, data_end, data_end))


def backtest(
    client: Client,
    parts: list[Future],
    config: TrainingConfig,
    data_end: date,
    cuts: list[date] | None = None,
    params: dict | None = None,
    outcomes: Callable[[np.ndarray], pd.DataFrame] | None = None,
) -> BacktestResult:
    """models.backtest.backtest on the cluster: for each cut, fit on the snapshots before it
    (labels known at the cut), test up to the next cut; the metrics on the gathered test rows
    (TEST_COLUMNS and predictions only). `outcomes`: the due and settlement dates of given
    invoices (features.runner.snapshot_outcomes), for the payment-date figures at issue."""
    from models.train import InsufficientData

    cuts = sorted(cuts or _default_cuts(client, parts, data_end))
    per_cut, tested, train_rows = {}, [], 0
    for i, cut in enumerate(cuts):
        test_end = cuts[i + 1] if i + 1 < len(cuts) else data_end
        # (the labelled copies of one side at a time on the workers: they are the largest)
        train = _labelled(client, parts, config, cut, None, cut)
        train_rows = sum(client.gather(client.map(len, train)))
        test_rows = sum(client.gather(_count(client, parts, cut, test_end)))
        if not train_rows or not test_rows:
            raise InsufficientData(
                f"cut date {cut} leaves {train_rows} training and {test_rows} test "
                "snapshots; choose other cut dates"
            )
        model = fit_on_cluster(client, train, config, list(CATEGORICAL_FEATURES), params)
        late = client.gather(client.map(_late_sum_count, train))
        fallback = sum(s for s, _ in late) / max(1, sum(n for _, n in late))
        del train
        test = _labelled(client, parts, config, data_end, cut, test_end)
        on_workers = client.scatter(model, broadcast=True)
        frame = pd.concat(
            client.gather(client.map(test_predictions, test, model=on_workers)),
            ignore_index=True,
        )
        del test
        per_cut[cut.isoformat()] = evaluate(
            frame, frame, fallback_late_rate=fallback, grace_days=config.grace_days
        )
        tested.append(frame.assign(share_paid_late=prior_late_rate(frame, fallback), cut=cut))
    pooled = pd.concat(tested, ignore_index=True)
    overall = evaluate(pooled, pooled, fallback_late_rate=0.0, grace_days=config.grace_days)
    if outcomes is not None:  # as on one machine (models/days_late.py)
        known = outcomes(pooled["invoice_id"].unique())
        overall["days_late_at_issue"] = days_late_at_issue(pooled, known, data_end)
    keep = ["invoice_id", "customer_id", "as_of", "cut", "days_past_due", "open_amount"]
    predicted = [c for c in pooled.columns if c.startswith(("p_late", "days_to_pay_"))]
    rows = pooled[[*keep, "late", "late_30", "days_to_pay", *predicted]].assign(
        age_days=pooled["days_since_issue"]
    )
    return BacktestResult(cuts, data_end, per_cut, overall, train_rows, len(pooled), rows)


def final_fit(
    client: Client, parts: list[Future], config: TrainingConfig, data_end: date, params=None
):
    """(model on every snapshot labelled at the end of the data, its row count, an example:
    the labelled snapshots of the first non-empty partition, a hashed 1/partitions of the
    customers, for MLflow's signature, the figures and the monitoring profile)."""
    labelled_parts = _labelled(client, parts, config, data_end, None, None)
    model = fit_on_cluster(client, labelled_parts, config, list(CATEGORICAL_FEATURES), params)
    sizes = client.gather(client.map(len, labelled_parts))
    first = next(i for i, n in enumerate(sizes) if n)
    return model, sum(sizes), labelled_parts[first].result()


@contextmanager
def _training_run(
    settings: Settings,
) -> Iterator[tuple[Client, list[Future], list[date], date, Any]]:
    """(client, every training snapshot on the workers, the snapshot dates, the data end, the
    invoices' outcomes by id: features.runner.snapshot_outcomes on the warehouse)."""
    from features.runner import snapshot_outcomes
    from pipelines.jobs.train import training_dates
    from pipelines.warehouse import connect

    with cluster_client(settings) as client, connect(settings.warehouse_path) as con:
        dates, end = training_dates(con, settings)
        with exported_book(con, settings) as export:
            parts = snapshots(client, export, settings, dates)
            client.gather(client.map(len, parts))  # built before the export is removed
            yield client, parts, dates, end, partial(snapshot_outcomes, con)


def run_backtest(settings: Settings, cuts: list[date] | None = None) -> BacktestResult:
    """`latepay backtest` on the cluster."""
    from pipelines.jobs.train import config

    with _training_run(settings) as (client, parts, _, end, outcomes):
        return backtest(client, parts, config(settings), end, cuts, outcomes=outcomes)


def train(settings: Settings, *, force_promote: bool = False, tune_trials: int = 0, step=None):
    """pipelines.jobs.train.train on the cluster: every snapshot of every customer, the backtest
    and the final fit by LightGBM's Dask estimators; logged and registered as on one machine.
    Tuning is not done on the cluster (yet): `tune_trials` is refused."""
    from models.promotion import GATE_METRIC, TEST_ROWS_METRIC, same_backtest
    from pipelines import tracking
    from pipelines.jobs import no_step
    from pipelines.jobs.train import config, log_model

    if tune_trials:
        raise ClusterError("tuning runs on one machine only: unset LATEPAY_DASK_ADDRESS to tune")
    step = step or no_step
    with (
        step("Building point-in-time features on the cluster, every snapshot"),
        _training_run(settings) as (client, parts, dates, end, outcomes),
    ):
        with step("Backtest on the cluster"):
            result = backtest(client, parts, config(settings), end, outcomes=outcomes)
        with step("Training on all history on the cluster"):
            model, rows, example = final_fit(client, parts, config(settings), end)
        champion = tracking.champion_run(settings.mlflow_tracking_uri, settings.model_name)
        champion_score = None
        if champion is not None:
            params, metrics = champion
            test_rows = result.flat_metrics()[TEST_ROWS_METRIC]
            if same_backtest(params, metrics, data_end=end, cuts=result.cuts, test_rows=test_rows):
                champion_score = metrics[GATE_METRIC]
            else:
                try:
                    old, _ = tracking.load_champion(
                        settings.mlflow_tracking_uri, settings.model_name
                    )
                except tracking.ChampionUnreadable:
                    if not force_promote:
                        raise  # (its message says to put the files back or to force it)
                else:  # (forced: promoted whatever it scores, the old one cannot be loaded)
                    rerun = backtest(client, parts, config(settings), end, result.cuts, old.params)
                    champion_score = rerun.flat_metrics()[GATE_METRIC]
    data = TrainingData(example, example[["invoice_id"]], dates[0], end)
    return log_model(
        settings, data, result, model, example, champion_score, force_promote, training_rows=rows
    )
