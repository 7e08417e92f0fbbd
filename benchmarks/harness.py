"""Running one benchmark stage as a child process, and measuring it.

Each stage is its own process, in its own session (a kill reaches its children too), with its
stdout and stderr in `<logs>/<stage>.out` and `<logs>/<stage>.err`. While it runs, the harness
polls it every 0.1 s and kills its process group past the timeout, or when its resident memory
(VmRSS, read from /proc) exceeds the memory cap. RLIMIT_AS is not used: DuckDB and the allocators
reserve far more address space than they touch, and under a 20 GiB RLIMIT_AS the 1M `train`
stage died of MemoryError at 8.6 GB RSS.

Wall time is measured around the child; its CPU time (user + sys) and peak RSS come from
`os.wait4`. A stage that fails, times out or is killed keeps the end of its error output.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from resource import struct_rusage

POLL_S = 0.1
# What a child's stderr says when it ran out of memory below the cap.
OUT_OF_MEMORY = re.compile(r"MemoryError|bad_alloc|Out of Memory|OutOfMemory")


@dataclass
class StageResult:
    name: str
    status: str  # ok | cached | failed (exit N) | timeout | killed: memory cap | skipped: why
    wall_s: float | None = None
    cpu_s: float | None = None
    peak_rss_gb: float | None = None
    note: str = ""
    extra: dict[str, float] = field(default_factory=dict)
    stderr_tail: str = ""

    @property
    def ok(self) -> bool:
        return self.status in ("ok", "cached")


def run_stage(
    name: str,
    argv: list[str],
    *,
    env: dict[str, str],
    cwd: Path,
    logs: Path,
    timeout_s: float,
    mem_cap_gb: float,
) -> StageResult:
    """Run one child process under a timeout and a memory cap; measure it with os.wait4.

    The cap is a watchdog on the child's resident memory (VmRSS, polled every 0.1 s), not
    RLIMIT_AS: DuckDB and the allocators reserve far more address space than they use, and under
    a 20 GiB RLIMIT_AS the 1M `train` stage died of MemoryError at 8.6 GB RSS.
    """
    logs.mkdir(parents=True, exist_ok=True)
    out_path, err_path = logs / f"{name}.out", logs / f"{name}.err"
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(
            argv, env=env, cwd=cwd, stdout=out, stderr=err, start_new_session=True
        )
        status, usage, killed = wait_watched(proc.pid, started, timeout_s, mem_cap_gb)
        wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)  # keep Popen from waiting again
    stderr_tail = _tail(err_path)
    result = StageResult(
        name,
        exit_status(killed, proc.returncode, stderr_tail),
        wall_s=wall,
        cpu_s=usage.ru_utime + usage.ru_stime,
        peak_rss_gb=usage.ru_maxrss / 1024**2,  # KiB on Linux
    )
    if not result.ok:
        result.stderr_tail = stderr_tail or _tail(out_path)
    return result


def wait_watched(
    pid: int, started: float, timeout_s: float, mem_cap_gb: float
) -> tuple[int, struct_rusage, str]:
    """Wait for the child, killing its process group once it passes the timeout or the memory
    cap (and again at every poll until it is gone).

    Returns its wait status, its resource usage and why it was killed ("" when it was not).
    """
    killed = ""
    while True:
        done, status, usage = os.wait4(pid, os.WNOHANG)
        if done:
            return status, usage, killed
        if not killed:
            killed = limit_exceeded(pid, time.perf_counter() - started, timeout_s, mem_cap_gb)
        if killed:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
        time.sleep(POLL_S)


def limit_exceeded(pid: int, elapsed_s: float, timeout_s: float, mem_cap_gb: float) -> str:
    """The status of a child that went past the timeout or the memory cap; "" while within both."""
    if elapsed_s > timeout_s:
        return f"timeout after {timeout_s:.0f} s"
    if _rss_gib(pid) > mem_cap_gb:
        return f"killed: memory cap ({mem_cap_gb:g} GB RSS)"
    return ""


def exit_status(killed: str, returncode: int, stderr_tail: str) -> str:
    """The stage's status from how it ended: ok, killed (timeout or cap) or failed (why)."""
    if killed:
        return killed
    if returncode == 0:
        return "ok"
    why = f"signal {-returncode}" if returncode < 0 else f"exit {returncode}"
    if OUT_OF_MEMORY.search(stderr_tail):
        why += ", out of memory under the cap"
    return f"failed ({why})"


def _rss_gib(pid: int) -> float:
    """Current resident memory of a process (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024**2
    except (OSError, ValueError):
        pass
    return 0.0


def _tail(path: Path, lines: int = 12) -> str:
    """The last lines of a log file ("" when it cannot be read)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.rstrip().splitlines()[-lines:])
