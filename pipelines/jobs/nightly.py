"""The nightly job: load what was dropped in the inbox, then score and publish today's list.

A night either publishes a correct list or changes nothing: an inbox that cannot be loaded is
moved to inbox/failed/<date>/ and the run refuses (yesterday's list stays in place)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from pipelines.ingest import IngestError, LoadResult
from pipelines.ingest.inbox import inbox_files, move_files
from pipelines.jobs.ingest import ingest
from pipelines.jobs.monitor import MonitorResult, monitor
from pipelines.jobs.score import RefusedToPublish, ScoreResult, score_locked
from pipelines.settings import Settings
from pipelines.warehouse import WarehouseLocked, WarehouseUnreadable
from pipelines.warehouse.locks import run_lock

FAILED_REASON = "REASON.txt"  # beside the files of a night that could not load them


@dataclass
class NightlyResult:
    loads: list[LoadResult]
    moved_to: Path | None  # where the loaded inbox files went; None when the inbox was empty
    score: ScoreResult
    monitoring: MonitorResult | None = None  # how the earlier lists did; its alerts


def nightly(settings: Settings, as_of: date | None = None) -> NightlyResult:
    """Load the inbox, then score and publish as of `as_of` (default today), under the run lock;
    then measure the earlier lists against what happened and warn when the model needs
    retraining (the published list does not depend on it)."""
    today = date.today()
    with run_lock(settings.warehouse_path):
        loads, moved = load_inbox(settings, today)
        scored = score_locked(settings, as_of or today)
        # the drift of today's open invoices: the features the scoring built
        measured = monitor(settings, as_of or today, features=scored.scores)
        return NightlyResult(loads, moved, scored, measured)


def load_inbox(settings: Settings, today: date) -> tuple[list[LoadResult], Path | None]:
    """Load every file dropped in the inbox (one ingest, so invoices load before payments), then
    move them to inbox/loaded/<today>/; on a load error move them to inbox/failed/<today>/ and
    refuse. Nothing in the inbox: nothing to load. Loads are idempotent (a file already loaded
    is recognised by its hash), so dropping a file twice does no harm."""
    inbox = settings.inbox_dir
    files = inbox_files(inbox)
    if not files:
        return [], None
    try:
        loads = ingest(settings, files, settings.inbox_mapping, today)
    except (WarehouseLocked, WarehouseUnreadable):
        raise  # not the files' fault: they stay for the next night
    except Exception as exc:  # any file that breaks the load must not block the next nights
        reason = str(exc) if isinstance(exc, IngestError) else f"{type(exc).__name__}: {exc}"
        failed = move_files(files, inbox / "failed" / today.isoformat())
        with (failed / FAILED_REASON).open("a", encoding="utf-8") as note:
            note.write(f"{', '.join(p.name for p in files)}: {reason}\n")
        raise RefusedToPublish(
            f"could not load the inbox ({reason}); its files were moved to {failed}, with the "
            f"reason in {FAILED_REASON}. Fix them and drop them again; yesterday's list stays in "
            "place."
        ) from exc
    return loads, move_files(files, inbox / "loaded" / today.isoformat())
