"""The record of a run: the machine it ran on, the table printed at the end, and the section
appended to `benchmarks/RESULTS.md`.

Each section is Markdown for people (the machine, the book, the commit, one row per stage, the
targets, the scaling against the run with a tenth of the invoices, the per-archetype AUCs, the
end of the error output of any stage that failed) and ends with a machine-readable record of the
run (an HTML comment holding its figures as JSON), which later runs read to find their base.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from quality import quality_table
from targets import evaluate_targets, scaling

REPO = Path(__file__).resolve().parent.parent

RESULTS_HEADER = """# Benchmark results

Each section below is one run of `benchmarks/run.py`, appended by the harness: the machine, the
book (N invoices, N/50 customers unless the run says otherwise, seed), the git commit ("+dirty" when the working tree had
uncommitted changes), then one row per stage. Every stage is a separate process running the real
`latepay` command; *wall* is elapsed time, *CPU* is user + system time of that process (CPU > wall
means several cores were busy), *peak RSS* is its maximum resident memory. A stage that failed,
timed out or was killed by the memory cap says so, with the end of its error output. `cached`
means the book already existed and was not generated again.

- The references (`benchmarks/references.py`), each the least work its stage could do:
  `plain_load` (DuckDB loading the same CSV files into tables, against `ingest`), `window_pass`
  (invoices joined to their payments, then a running window per customer, against `features`),
  `bare_predict` (the champion's booster predicting the open invoices; with the window pass,
  against the nightly `score`). Ratios divide by their timed part alone (without the child's
  start). Runs before 2026-12-05 had a window over invoices only, and no other reference.
- `backtest_quality` runs `latepay backtest --predictions` and compares, on test snapshots one day
  after issue (age 1, the closest to "age 0": facts dated on the as-of date are invisible) with a
  known outcome, the AUC of the model's `p_late` with the AUC of the generator's true probability.
- The targets (2 cores): ingest ≤ 3× the plain load; features ≤ 3× the window pass; nightly ≤ 2×
  (window pass + bare predict); training set + training ≤ 10 min; peak RSS ≤ 8 GB; AUC gap at age 1 ≥ −0.03; 10× the
  invoices costs ≤ 12× the time (shown when a run with N/10 invoices is recorded above).

Reproduce: `make bench` (1M invoices), or
`.venv/bin/python benchmarks/run.py --invoices 10000000` (see `--help`; books are cached in
`benchmarks/books/`, work files go to `benchmarks/work/`).
"""
RECORD_TAG = "<!-- bench-record "


# --------------------------------------------------------------------------------------------
# Machine and repository.
# --------------------------------------------------------------------------------------------
def ram_gb() -> float:
    """Total memory of the machine, GB."""
    with open("/proc/meminfo", encoding="ascii") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024**2
    return float("nan")


def git_commit() -> str:
    """Short HEAD commit, plus "+dirty" when the working tree has uncommitted changes."""

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=False)
        return done.stdout.strip() if done.returncode == 0 else ""

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    return commit + ("+dirty" if git("status", "--porcelain") else "")


# --------------------------------------------------------------------------------------------
# The RESULTS.md section (a pure function of the figures).
# --------------------------------------------------------------------------------------------
def format_section(run: dict, base: dict | None = None) -> str:
    """The Markdown section appended to RESULTS.md for one run (a pure function of `run`)."""
    lines = [*run_header_lines(run), "", *stage_table_lines(run), ""]
    lines += ["| target | limit | figure | verdict |", "|---|---|---|---|"]
    lines += [_md_row(row) for row in evaluate_targets(run)]
    if base is not None:
        lines += scaling_lines(run, base)
    if (run.get("quality") or {}).get("by_archetype"):
        lines += ["", quality_table(run["quality"])]
    lines += failure_lines(run)
    if run.get("observations"):
        lines += ["", *run["observations"]]
    lines += ["", record_line(run), ""]
    return "\n".join(lines)


def run_header_lines(run: dict) -> list[str]:
    """The section's title and the machine, book, commit and command of the run."""
    return [
        f"## {run['invoices']:,} invoices, seed {run['seed']} — {run['date']}",
        "",
        f"- machine: {run['cores']} cores, {run['ram_gb']:.1f} GB RAM, load average "
        f"{run['load_avg']:.2f} at start; memory cap {run['mem_cap_gb']:g} GB, "
        f"timeout {run['timeout_s']:.0f} s per stage",
        f"- book: {run['invoices']:,} invoices, {run['customers']:,} customers "
        f"({run.get('invoices_per_customer', 50)} invoices each), seed {run['seed']}",
        f"- commit: `{run['commit']}`",
        f"- command: `{run['command']}`",
    ]


def stage_table_lines(run: dict) -> list[str]:
    """One Markdown row per stage: status, wall, CPU, peak RSS and notes."""
    lines = [
        "| stage | status | wall s | CPU s | peak RSS GB | notes |",
        "|---|---|---:|---:|---:|---|",
    ]
    for s in run["stages"]:
        note = s["note"].replace("|", "/").replace("\n", " ")
        lines.append(
            f"| {s['name']} | {s['status']} | {_fmt(s['wall_s'], 1)} | {_fmt(s['cpu_s'], 1)} "
            f"| {_fmt(s['peak_rss_gb'], 2)} | {note} |"
        )
    return lines


def scaling_lines(run: dict, base: dict) -> list[str]:
    """The scaling table against the base run (a tenth of the invoices)."""
    return [
        "",
        f"Scaling against the run of {base['invoices']:,} invoices ({base['date']}, "
        f"`{base['commit']}`):",
        "",
        "| stage | limit | ratio | verdict |",
        "|---|---|---|---|",
        *(_md_row(row) for row in scaling(run, base)),
    ]


def failure_lines(run: dict) -> list[str]:
    """The end of the error output of every stage that kept one."""
    lines: list[str] = []
    for s in run["stages"]:
        if s.get("stderr_tail"):
            lines += ["", f"`{s['name']}` {s['status']}; end of its error output:", "", "```"]
            lines += s["stderr_tail"].splitlines()[-8:]
            lines += ["```"]
    return lines


def record_line(run: dict) -> str:
    """The machine-readable record: the run's figures without observations or error output."""
    record = {k: v for k, v in run.items() if k != "observations"}
    record["stages"] = [{k: v for k, v in s.items() if k != "stderr_tail"} for s in run["stages"]]
    return RECORD_TAG + json.dumps(record, sort_keys=True) + " -->"


def _md_row(row: tuple[str, str, str, str]) -> str:
    return "| {} | {} | {} | {} |".format(*row)


def _fmt(value: float | None, digits: int) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


# --------------------------------------------------------------------------------------------
# RESULTS.md.
# --------------------------------------------------------------------------------------------
def recorded_runs(path: Path) -> list[dict]:
    """The machine-readable records of the runs in RESULTS.md, oldest first."""
    if not path.exists():
        return []
    runs = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith(RECORD_TAG) and line.endswith("-->"):
            runs.append(json.loads(line[len(RECORD_TAG) : -3]))
    return runs


def base_run(path: Path, invoices: int, seed: int, per_customer: int = 50) -> dict | None:
    """The latest recorded run with a tenth of the invoices, the same seed and book shape."""
    if invoices % 10:
        return None
    same = [
        r
        for r in recorded_runs(path)
        if r["invoices"] * 10 == invoices
        and r["seed"] == seed
        and r.get("invoices_per_customer", 50) == per_customer
    ]
    return same[-1] if same else None


def append_section(path: Path, section: str) -> None:
    """Append a run's section to the results file (written with its header when new)."""
    if not path.exists():
        path.write_text(RESULTS_HEADER, encoding="utf-8")
    with open(path, "a", encoding="utf-8") as f:
        f.write("\n" + section)


# --------------------------------------------------------------------------------------------
# The table printed at the end of a run.
# --------------------------------------------------------------------------------------------
def print_table(run: dict, base: dict | None) -> None:
    """Print the stages and the targets (and the scaling, with a base run) as rich tables."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(title=f"latepay benchmark: {run['invoices']:,} invoices, seed {run['seed']}")
    for column in ("stage", "status", "wall s", "CPU s", "peak RSS GB", "notes"):
        table.add_column(column, justify="right" if column.endswith(("s", "GB")) else "left")
    for s in run["stages"]:
        table.add_row(
            s["name"],
            s["status"],
            _fmt(s["wall_s"], 1),
            _fmt(s["cpu_s"], 1),
            _fmt(s["peak_rss_gb"], 2),
            s["note"],
        )
    console.print(table)
    targets = Table(title="Targets")
    for column in ("target", "limit", "figure", "verdict"):
        targets.add_column(column)
    rows = evaluate_targets(run) + (scaling(run, base) if base else [])
    for row in rows:
        style = "green" if row[3] == "met" else "red"
        targets.add_row(*row[:3], f"[{style}]{row[3]}[/]")
    console.print(targets)
