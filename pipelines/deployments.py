"""The nightly schedule: the nightly flow as a Prefect deployment (`latepay serve`)."""

from __future__ import annotations

from prefect import serve
from prefect.deployments.runner import RunnerDeployment
from prefect.schedules import Cron
from prefect.settings import get_current_settings

from pipelines.flows import nightly_flow, on_cluster
from pipelines.settings import Settings


def nightly_deployment(settings: Settings) -> RunnerDeployment:
    """The nightly flow on its cron schedule, one run at a time (on the Dask cluster's task
    runner when `dask_address` is set)."""
    return on_cluster(nightly_flow, settings).to_deployment(
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
    """Serve the nightly deployment until stopped."""
    require_server()
    serve(nightly_deployment(settings), limit=1)
