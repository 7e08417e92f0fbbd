"""Prefect flows: thin wiring of `pipelines.jobs`, for scheduled and observed runs.

Each flow reads the settings and calls named jobs in order; the jobs hold the logic and run (and
are tested) without Prefect. The CLI calls the jobs directly, so a one-off command does not start
Prefect's temporary server.
"""

from __future__ import annotations

import os

# No network here: keep Prefect's server from trying to send analytics.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

from datetime import date
from pathlib import Path

from prefect import flow, serve, task
from prefect.cache_policies import NO_CACHE
from prefect.deployments.runner import RunnerDeployment
from prefect.schedules import Cron
from prefect.settings import get_current_settings

from pipelines import jobs, scoring
from pipelines.settings import Settings


@task(cache_policy=NO_CACHE)
def ingest_files(
    settings: Settings, paths: list[Path], mapping: Path | None
) -> list[jobs.LoadResult]:
    return jobs.ingest(settings, paths, mapping)


@task(cache_policy=NO_CACHE)
def train_model(settings: Settings, force_promote: bool, tune_trials: int) -> jobs.TrainResult:
    return jobs.train(settings, force_promote=force_promote, tune_trials=tune_trials)


@task(cache_policy=NO_CACHE)
def score_open_invoices(settings: Settings, as_of: date | None) -> scoring.ScoreResult:
    return scoring.score(settings, as_of)


@task(cache_policy=NO_CACHE)
def load_inbox(settings: Settings, today: date) -> list[jobs.LoadResult]:
    loads, _ = scoring.load_inbox(settings, today)
    return loads


@task(cache_policy=NO_CACHE)
def score_and_publish(settings: Settings, as_of: date) -> scoring.ScoreResult:
    # the caller holds the run lock
    return scoring.score_without_lock(settings, as_of)


@flow(name="ingest")
def ingest_flow(paths: list[str], mapping: str | None = None) -> list[jobs.LoadResult]:
    """Load customers, invoices and payments exports (with an optional mapping file)."""
    return ingest_files(Settings(), [Path(p) for p in paths], Path(mapping) if mapping else None)


@flow(name="train")
def train_flow(force_promote: bool = False, tune_trials: int = 0) -> str:
    """Backtest, train, register (after choosing the LightGBM settings among `tune_trials`, if
    any); returns the registered model version."""
    return train_model(Settings(), force_promote, tune_trials).registered.version


@flow(name="score")
def score_flow(as_of: date | None = None) -> str:
    """Score open invoices as of `as_of` (default today) and publish; returns the folder."""
    return str(score_open_invoices(Settings(), as_of).output_dir)


@flow(name="nightly")
def nightly_flow(as_of: date | None = None) -> str:
    """Load the exports dropped in the inbox, then score open invoices as of `as_of` (default
    today) and publish the worklist; returns the published folder. Fails, leaving the previous
    outputs in place, when the inputs look broken."""
    settings = Settings()
    today = date.today()
    with scoring.run_lock(settings):
        load_inbox(settings, today)
        return str(score_and_publish(settings, as_of or today).output_dir)


def nightly_deployment(settings: Settings) -> RunnerDeployment:
    """The nightly flow on its cron schedule, one run at a time."""
    return nightly_flow.to_deployment(
        name="nightly",
        schedules=[Cron(settings.nightly_cron, timezone=settings.nightly_timezone)],
        description="Load the inbox, score open invoices, publish the worklist.",
        tags=["latepay"],
    )


def require_server() -> None:
    """A schedule needs a Prefect server that outlives this process: without PREFECT_API_URL,
    Prefect's temporary server would stop with it."""
    if not get_current_settings().api.url:
        raise RuntimeError(
            "latepay serve needs a running Prefect server: start one with `prefect server start` "
            "and set PREFECT_API_URL=http://127.0.0.1:4200/api (see README, For operations)"
        )


def serve_nightly(settings: Settings) -> None:
    """Serve the nightly deployment until stopped (`latepay serve`)."""
    require_server()
    serve(nightly_deployment(settings), limit=1)
