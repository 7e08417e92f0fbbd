"""The run lock: one scoring or nightly run at a time per warehouse (`<warehouse>.lock`).

DuckDB already refuses a second writer (WarehouseLocked), but a run opens and closes the
warehouse several times and writes files in between: this lock spans the whole run."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path


class RunLocked(RuntimeError):
    """Another latepay scoring run holds the lock."""


@contextmanager
def run_lock(warehouse_path: Path) -> Iterator[None]:
    """Hold `<warehouse>.lock` for the length of a run; a second run fails at once, clearly."""
    path = Path(f"{warehouse_path}.lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            raise RunLocked(
                f"another latepay run holds {path} ({holder}); wait for it to finish and run "
                "again (two runs at once could publish a mixed list)"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}, started {datetime.now():%Y-%m-%d %H:%M:%S}")
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle, fcntl.LOCK_UN)
