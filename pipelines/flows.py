"""Prefect flows: each a table of contents over `pipelines.jobs`, for scheduled and observed runs.

The flows read the settings and call the same workload functions the CLI calls; the schedule is
in `pipelines/deployments.py`. The CLI calls the jobs directly, so a one-off command does not
start Prefect's temporary server.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from prefect import Flow, flow, task
from prefect.cache_policies import NO_CACHE

from pipelines.jobs import ingest, nightly, score, train
from pipelines.settings import Settings

# Connections and frames cannot be hashed for Prefect's cache: tasks run every time.
ingest_files = task(ingest.ingest, name="ingest", cache_policy=NO_CACHE)
train_model = task(train.train, name="train", cache_policy=NO_CACHE)
score_date = task(score.score, name="score", cache_policy=NO_CACHE)
nightly_job = task(nightly.nightly, name="nightly", cache_policy=NO_CACHE)


def on_cluster(chosen: Flow, settings: Settings) -> Flow:
    """The flow with prefect-dask's task runner on the settings' Dask cluster (its tasks run on
    the workers: pipelines/cluster); unchanged without `dask_address`."""
    from pipelines.cluster.jobs import task_runner  # (distributed is imported only when used)

    runner = task_runner(settings)
    return chosen if runner is None else chosen.with_options(task_runner=runner)


@flow(name="ingest")
def ingest_flow(
    paths: list[str], mapping: str | None = None, load_date: date | None = None
) -> list[ingest.LoadResult]:
    """Load exports (with an optional mapping file); rows dated after `load_date` (default
    today) are rejected as future."""
    return ingest_files(
        Settings(), [Path(p) for p in paths], Path(mapping) if mapping else None, load_date
    )


@flow(name="train")
def train_flow(force_promote: bool = False, tune_trials: int = 0) -> str:
    """Backtest, train, register (after choosing the LightGBM settings among `tune_trials`, if
    any); returns the registered model version."""
    result = train_model(Settings(), force_promote=force_promote, tune_trials=tune_trials)
    return result.registered.version


@flow(name="score")
def score_flow(as_of: date | None = None) -> str:
    """Score open invoices as of `as_of` (default today) and publish; returns the folder."""
    return str(score_date(Settings(), as_of).output_dir)


@flow(name="nightly")
def nightly_flow(as_of: date | None = None) -> str:
    """Load the exports dropped in the inbox, then score open invoices as of `as_of` (default
    today) and publish the worklist; returns the published folder. Fails, leaving the previous
    outputs in place, when the inputs look broken."""
    return str(nightly_job(Settings(), as_of).score.output_dir)


@flow(name="backfill")
def backfill_flow(start: date, end: date) -> list[str]:
    """Score and publish every date from `start` to `end` with today's champion, one task run
    per date; returns the published folders."""
    settings = Settings()
    days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    return [str(score_date(settings, day).output_dir) for day in days]
