"""Benchmark harness: time each latepay stage as its own process on a synthetic book of N invoices.

    .venv/bin/python benchmarks/run.py --invoices 1000000          # what `make bench` runs
    .venv/bin/python benchmarks/run.py --invoices 10000000 --stages ingest,features,window_pass

Every stage runs the real CLI (`latepay generate/ingest/features/train/backtest/score`) in a child
process whose warehouse, MLflow store and outputs live in `benchmarks/work/<N>-<seed>/`. For each
child the harness reports wall time, CPU time (user + sys) and peak RSS, read from `os.wait4`.
Each child runs under a timeout and a memory cap (RLIMIT_AS plus a VmRSS watchdog); a stage that
fails, times out or is killed is reported as such, with the end of its stderr, and the run goes
on with the stages that do not depend on it. Books are cached in `benchmarks/books/<N>-<seed>/`.

The results are printed as a table and appended to `benchmarks/RESULTS.md` (unless --no-record),
with the figures judged against the targets of the benchmark issue.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
VENV_BIN = Path(sys.executable).parent

STAGES = (
    "generate",
    "ingest",
    "features",
    "window_pass",
    "train",
    "backtest_quality",
    "score",
)
# The book's last date (the generator's default) and the first date with no facts.
BOOK_END = date(2026, 10, 31)
DATA_END = BOOK_END + timedelta(days=1)
# The backtest's default cut (jobs.DEFAULT_TEST_DAYS before the end of the data).
BACKTEST_CUT = DATA_END - timedelta(days=180)
INVOICES_PER_CUSTOMER = 50
QUALITY_AGE_DAYS = 1

# Targets of the benchmark issue (2 cores).
TARGET_INGEST_S = 60.0
TARGET_FEATURES_RATIO = 3.0
TARGET_TRAIN_S = 600.0
TARGET_SCORE_S = 120.0
TARGET_PEAK_RSS_GB = 8.0
TARGET_AUC_GAP = -0.03
TARGET_SCALING = 12.0

WINDOW_SQL = """
create temp table w as
select
    invoice_id,
    sum(amount) over (
        partition by customer_id order by issue_date
        rows between unbounded preceding and current row
    ) as running_amount
from staging.invoices
"""

RESULTS_HEADER = """# Benchmark results

Each section below is one run of `benchmarks/run.py`, appended by the harness: the machine, the
book (N invoices, N/50 customers, seed), the git commit ("+dirty" when the working tree had
uncommitted changes), then one row per stage. Every stage is a separate process running the real
`latepay` command; *wall* is elapsed time, *CPU* is user + system time of that process (CPU > wall
means several cores were busy), *peak RSS* is its maximum resident memory. A stage that failed,
timed out or was killed by the memory cap says so, with the end of its error output. `cached`
means the book already existed and was not generated again.

- `window_pass` is the reference: one plain DuckDB window (running sum per customer) over
  `staging.invoices`, materialised; *query* is the query alone, *wall* the whole process.
- `backtest_quality` runs `latepay backtest --predictions` and compares, on test snapshots one day
  after issue (age 1, the closest to "age 0": facts dated on the as-of date are invisible) with a
  known outcome, the AUC of the model's `p_late` with the AUC of the generator's true probability.
- The targets (2 cores): ingest ≤ 60 s; features ≤ 3× the window-pass query; training set +
  training ≤ 10 min; nightly scoring ≤ 120 s; peak RSS ≤ 8 GB; AUC gap at age 1 ≥ −0.03; 10× the
  invoices costs ≤ 12× the time (shown when a run with N/10 invoices is recorded above).

Reproduce: `make bench` (1M invoices), or
`.venv/bin/python benchmarks/run.py --invoices 10000000` (see `--help`; books are cached in
`benchmarks/books/`, work files go to `benchmarks/work/`).
"""
RECORD_TAG = "<!-- bench-record "


# --------------------------------------------------------------------------------------------
# Running one stage.
# --------------------------------------------------------------------------------------------
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
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.rstrip().splitlines()[-lines:])


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
        killed = ""
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            elapsed = time.perf_counter() - started
            if not killed and elapsed > timeout_s:
                killed = f"timeout after {timeout_s:.0f} s"
            elif not killed and _rss_gib(proc.pid) > mem_cap_gb:
                killed = f"killed: memory cap ({mem_cap_gb:g} GB RSS)"
            if killed:
                with _suppress_missing():
                    os.killpg(proc.pid, signal.SIGKILL)
            time.sleep(0.1)
        wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)  # keep Popen from waiting again
    result = StageResult(
        name,
        "ok",
        wall_s=wall,
        cpu_s=usage.ru_utime + usage.ru_stime,
        peak_rss_gb=usage.ru_maxrss / 1024**2,  # KiB on Linux
    )
    stderr_tail = _tail(err_path)
    if killed:
        result.status = killed
    elif proc.returncode != 0:
        code = proc.returncode
        why = f"signal {-code}" if code < 0 else f"exit {code}"
        if re.search(r"MemoryError|bad_alloc|Out of Memory|OutOfMemory", stderr_tail):
            why += ", out of memory under the cap"
        result.status = f"failed ({why})"
    if not result.ok:
        result.stderr_tail = stderr_tail or _tail(out_path)
    return result


class _suppress_missing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type | None, exc: BaseException | None, tb: object) -> bool:
        return kind is not None and issubclass(kind, ProcessLookupError)


# --------------------------------------------------------------------------------------------
# The reference window pass (runs as its own process: `run.py --window-pass WAREHOUSE`).
# --------------------------------------------------------------------------------------------
def window_pass(warehouse: Path) -> dict[str, float]:
    import duckdb

    con = duckdb.connect(str(warehouse), read_only=True)
    started = time.perf_counter()
    con.execute(WINDOW_SQL)
    query_s = time.perf_counter() - started
    [(rows,)] = con.execute("select count(*) from w").fetchall()
    return {"query_s": query_s, "rows": float(rows)}


# --------------------------------------------------------------------------------------------
# Model quality: model AUC vs oracle AUC on test snapshots at age 1 day.
# --------------------------------------------------------------------------------------------
def quality(predictions: Path, oracle: Path, age_days: int = QUALITY_AGE_DAYS) -> dict:
    """Model and oracle AUC of p_late on the test snapshots at `age_days`, overall and within
    each of the generator's customer archetypes (deteriorating ones split by whether their
    trouble had started when the invoice was issued): where the model falls short."""
    import pandas as pd
    from sklearn.metrics import roc_auc_score

    cols = ["invoice_id", "as_of", "age_days", "late", "p_late"]
    rows = pd.read_parquet(predictions, columns=cols)
    rows = rows[(rows["age_days"] == age_days) & rows["late"].notna()]
    truth = pd.read_csv(
        oracle,
        usecols=["invoice_id", "p_late", "archetype", "trouble_date"],
        engine="pyarrow",
        dtype_backend="numpy_nullable",
    ).rename(columns={"p_late": "p_oracle"})
    rows = rows.merge(truth, on="invoice_id", how="inner", validate="many_to_one")
    y = rows["late"].astype(int)
    if y.nunique() < 2:
        raise ValueError(f"{len(rows)} test rows at age {age_days}: only one class")

    def aucs(part: pd.DataFrame) -> dict[str, float]:
        late = part["late"].astype(int)
        if late.nunique() < 2:
            return {"rows": float(len(part))}
        return {
            "rows": float(len(part)),
            "late_share": float(late.mean()),
            "model_auc": float(roc_auc_score(late, part["p_late"].astype(float))),
            "oracle_auc": float(roc_auc_score(late, part["p_oracle"].astype(float))),
        }

    issued = pd.to_datetime(rows["as_of"]) - pd.to_timedelta(age_days, unit="D")
    in_trouble = pd.to_datetime(rows["trouble_date"]) <= issued
    group = (
        rows["archetype"]
        .astype(str)
        .where(
            rows["archetype"] != "deteriorating",
            "deteriorating, " + in_trouble.map({True: "in trouble", False: "not yet"}),
        )
    )
    overall = aucs(rows)
    return {
        **overall,
        "gap": overall["model_auc"] - overall["oracle_auc"],
        "by_archetype": {name: aucs(part) for name, part in rows.groupby(group)},
    }


def quality_table(q: dict) -> str:
    """The per-archetype AUCs of `quality` as a Markdown table."""
    lines = [
        f"| archetype (age {QUALITY_AGE_DAYS} test rows) | rows | late | model AUC | oracle AUC | gap |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, g in q.get("by_archetype", {}).items():
        if "model_auc" in g:
            lines.append(
                f"| {name} | {g['rows']:,.0f} | {g['late_share']:.0%} | {g['model_auc']:.3f} "
                f"| {g['oracle_auc']:.3f} | {g['model_auc'] - g['oracle_auc']:+.3f} |"
            )
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Machine and repository.
# --------------------------------------------------------------------------------------------
def ram_gb() -> float:
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
# Targets, scaling and the RESULTS.md section (pure functions of the figures).
# --------------------------------------------------------------------------------------------
def _stage(run: dict, name: str) -> dict | None:
    return next((s for s in run["stages"] if s["name"] == name), None)


def _ok(stage: dict | None) -> bool:
    return stage is not None and stage["status"] == "ok" and stage["wall_s"] is not None


def _verdict(met: bool, gap: str) -> str:
    return "met" if met else f"NOT met (gap: {gap})"


def evaluate_targets(run: dict) -> list[tuple[str, str, str, str]]:
    """(what, target, figure, verdict) for every target of the issue."""
    rows: list[tuple[str, str, str, str]] = []

    def seconds(name: str, label: str, limit: float) -> None:
        s = _stage(run, name)
        if not _ok(s):
            status = s["status"] if s else "not run"
            rows.append((label, f"≤ {limit:.0f} s", "–", f"NOT met (stage {status})"))
            return
        wall = s["wall_s"]
        rows.append(
            (
                label,
                f"≤ {limit:.0f} s",
                f"{wall:.1f} s",
                _verdict(wall <= limit, f"+{wall - limit:.1f} s, {wall / limit:.1f}× the target"),
            )
        )

    seconds("ingest", "ingest + validate", TARGET_INGEST_S)

    feats, window = _stage(run, "features"), _stage(run, "window_pass")
    label, target = "features / window pass (query)", f"≤ {TARGET_FEATURES_RATIO:g}×"
    if _ok(feats) and _ok(window) and window["extra"].get("query_s"):
        ratio = feats["wall_s"] / window["extra"]["query_s"]
        proc_ratio = feats["wall_s"] / window["wall_s"]
        figure = f"{ratio:.1f}× ({proc_ratio:.1f}× the window process wall)"
        rows.append(
            (
                label,
                target,
                figure,
                _verdict(
                    ratio <= TARGET_FEATURES_RATIO, f"{ratio / TARGET_FEATURES_RATIO:.1f}× over"
                ),
            )
        )
    else:
        rows.append((label, target, "–", "NOT met (features or window pass did not run)"))

    seconds("train", "training set + training", TARGET_TRAIN_S)
    seconds("score", "nightly scoring + publishing", TARGET_SCORE_S)

    measured = [s["peak_rss_gb"] for s in run["stages"] if s["peak_rss_gb"] is not None]
    if measured:
        peak = max(measured)
        worst = max(
            (s for s in run["stages"] if s["peak_rss_gb"] is not None),
            key=lambda s: s["peak_rss_gb"],
        )
        capped = [s["name"] for s in run["stages"] if "memory" in s["status"]]
        figure = f"{peak:.2f} GB ({worst['name']})"
        met = peak <= TARGET_PEAK_RSS_GB and not capped
        gap = f"+{peak - TARGET_PEAK_RSS_GB:.2f} GB" if peak > TARGET_PEAK_RSS_GB else ""
        if capped:
            gap = (gap + "; " if gap else "") + f"killed at the memory cap: {', '.join(capped)}"
        rows.append(
            ("peak RSS (any stage)", f"≤ {TARGET_PEAK_RSS_GB:g} GB", figure, _verdict(met, gap))
        )

    q = run.get("quality") or {}
    label = f"AUC gap at age {QUALITY_AGE_DAYS} (model − oracle)"
    if "gap" in q:
        figure = f"{q['gap']:+.3f} ({q['model_auc']:.3f} vs {q['oracle_auc']:.3f}, {q['rows']:,.0f} rows)"
        rows.append(
            (
                label,
                f"≥ {TARGET_AUC_GAP:+.2f}",
                figure,
                _verdict(q["gap"] >= TARGET_AUC_GAP, f"{q['gap'] - TARGET_AUC_GAP:+.3f}"),
            )
        )
    else:
        rows.append((label, f"≥ {TARGET_AUC_GAP:+.2f}", "–", "NOT met (not measured)"))
    return rows


def scaling(run: dict, base: dict) -> list[tuple[str, str, str, str]]:
    """Per-stage wall-time ratio of `run` over `base` (a run with a tenth of the invoices)."""
    rows = []
    for s in run["stages"]:
        b = _stage(base, s["name"])
        label = f"{s['name']}: {run['invoices'] // base['invoices']}× invoices"
        if s["name"] == "generate" and s["status"] == "cached":
            continue
        if _ok(s) and _ok(b) and b["wall_s"] > 0:
            ratio = s["wall_s"] / b["wall_s"]
            rows.append(
                (
                    label,
                    f"≤ {TARGET_SCALING:g}×",
                    f"{ratio:.1f}× ({b['wall_s']:.1f} → {s['wall_s']:.1f} s)",
                    _verdict(ratio <= TARGET_SCALING, f"{ratio / TARGET_SCALING:.1f}× over"),
                )
            )
        elif _ok(s) and b is not None and b["status"] == "cached":
            rows.append((label, f"≤ {TARGET_SCALING:g}×", "–", "not measured (cached in base)"))
        else:
            why = s["status"] if not _ok(s) else (b["status"] if b else "not run") + " in base"
            rows.append((label, f"≤ {TARGET_SCALING:g}×", "–", f"NOT met (no figure: {why})"))
    return rows


def _fmt(value: float | None, digits: int) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


def format_section(run: dict, base: dict | None = None) -> str:
    """The Markdown section appended to RESULTS.md for one run (a pure function of `run`)."""
    lines = [
        f"## {run['invoices']:,} invoices, seed {run['seed']} — {run['date']}",
        "",
        f"- machine: {run['cores']} cores, {run['ram_gb']:.1f} GB RAM, load average "
        f"{run['load_avg']:.2f} at start; memory cap {run['mem_cap_gb']:g} GB, "
        f"timeout {run['timeout_s']:.0f} s per stage",
        f"- book: {run['invoices']:,} invoices, {run['customers']:,} customers, seed {run['seed']}",
        f"- commit: `{run['commit']}`",
        f"- command: `{run['command']}`",
        "",
        "| stage | status | wall s | CPU s | peak RSS GB | notes |",
        "|---|---|---:|---:|---:|---|",
    ]
    for s in run["stages"]:
        note = s["note"].replace("|", "/").replace("\n", " ")
        lines.append(
            f"| {s['name']} | {s['status']} | {_fmt(s['wall_s'], 1)} | {_fmt(s['cpu_s'], 1)} "
            f"| {_fmt(s['peak_rss_gb'], 2)} | {note} |"
        )
    lines += ["", "| target | limit | figure | verdict |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in evaluate_targets(run)]
    if base is not None:
        lines += [
            "",
            f"Scaling against the run of {base['invoices']:,} invoices ({base['date']}, "
            f"`{base['commit']}`):",
            "",
            "| stage | limit | ratio | verdict |",
            "|---|---|---|---|",
        ]
        lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in scaling(run, base)]
    if (run.get("quality") or {}).get("by_archetype"):
        lines += ["", quality_table(run["quality"])]
    failures = [s for s in run["stages"] if s.get("stderr_tail")]
    for s in failures:
        lines += ["", f"`{s['name']}` {s['status']}; end of its error output:", "", "```"]
        lines += s["stderr_tail"].splitlines()[-8:]
        lines += ["```"]
    if run.get("observations"):
        lines += ["", *run["observations"]]
    record = {k: v for k, v in run.items() if k != "observations"}
    record["stages"] = [{k: v for k, v in s.items() if k != "stderr_tail"} for s in run["stages"]]
    lines += ["", RECORD_TAG + json.dumps(record, sort_keys=True) + " -->", ""]
    return "\n".join(lines)


def recorded_runs(path: Path) -> list[dict]:
    """The machine-readable records of the runs in RESULTS.md, oldest first."""
    if not path.exists():
        return []
    runs = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith(RECORD_TAG) and line.endswith("-->"):
            runs.append(json.loads(line[len(RECORD_TAG) : -3]))
    return runs


def base_run(path: Path, invoices: int, seed: int) -> dict | None:
    """The latest recorded run with a tenth of the invoices and the same seed."""
    if invoices % 10:
        return None
    same = [r for r in recorded_runs(path) if r["invoices"] * 10 == invoices and r["seed"] == seed]
    return same[-1] if same else None


def append_section(path: Path, section: str) -> None:
    if not path.exists():
        path.write_text(RESULTS_HEADER, encoding="utf-8")
    with open(path, "a", encoding="utf-8") as f:
        f.write("\n" + section)


# --------------------------------------------------------------------------------------------
# The run.
# --------------------------------------------------------------------------------------------
def _latepay(code: Path, *args: str) -> list[str]:
    """The `latepay` command; `python -m pipelines.cli` (the same app) for another source tree."""
    if code == REPO:
        return [str(VENV_BIN / "latepay"), *args]
    return [sys.executable, "-m", "pipelines.cli", *args]


def child_env(work: Path, code: Path, tracking_dir: Path | None = None) -> dict[str, str]:
    tracking_dir = tracking_dir or work
    pythonpath = [str(code), *filter(None, [os.environ.get("PYTHONPATH")])]
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(pythonpath),
        "LATEPAY_WAREHOUSE_PATH": str(work / "warehouse.duckdb"),
        "LATEPAY_MLFLOW_TRACKING_URI": f"sqlite:///{tracking_dir / 'mlflow.db'}",
        "LATEPAY_MLFLOW_ARTIFACTS_DIR": str(tracking_dir / "mlartifacts"),
        "LATEPAY_OUTPUTS_DIR": str(work / "outputs"),
        "LATEPAY_INBOX_DIR": str(work / "inbox"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "MPLBACKEND": "Agg",
        "PYTHONUNBUFFERED": "1",
        "COLUMNS": "200",  # rich: do not wrap the CLI's messages, which the harness reads
    }


def run_benchmark(args: argparse.Namespace) -> dict:
    from rich.console import Console

    console = Console()
    n, seed = args.invoices, args.seed
    customers = max(1, n // INVOICES_PER_CUSTOMER)
    root = Path(args.root).resolve()
    code = Path(args.code).resolve()
    book = root / "books" / f"{n}-{seed}"
    work = root / "work" / f"{n}-{seed}"
    logs = work / "logs"
    stages = [s.strip() for s in args.stages.split(",") if s.strip()]
    unknown = sorted(set(stages) - set(STAGES))
    if unknown:
        raise SystemExit(f"unknown stage(s) {', '.join(unknown)}; choose among {', '.join(STAGES)}")
    if "ingest" in stages and work.exists():
        shutil.rmtree(work)  # a fresh warehouse and MLflow store for a full run
    work.mkdir(parents=True, exist_ok=True)

    run: dict = {
        "date": datetime.now().strftime("%Y-%m-%d %H:%M"),
        "cores": os.cpu_count(),
        "ram_gb": ram_gb(),
        "load_avg": os.getloadavg()[0],
        "invoices": n,
        "customers": customers,
        "seed": seed,
        "commit": git_commit() if code == REPO else f"{args.code_commit}, code from {code}",
        "command": " ".join([".venv/bin/python", "benchmarks/run.py", *sys.argv[1:]]),
        "mem_cap_gb": args.mem_cap_gb,
        "timeout_s": args.timeout,
        "stages": [],
    }
    console.print(
        f"[bold]latepay benchmark[/]: {n:,} invoices, {customers:,} customers, seed {seed}; "
        f"{run['cores']} cores, {run['ram_gb']:.1f} GB, load {run['load_avg']:.2f}; "
        f"commit {run['commit']}; work folder {work}"
    )
    env = child_env(work, code)
    guard = {"cwd": work, "logs": logs, "timeout_s": args.timeout, "mem_cap_gb": args.mem_cap_gb}
    results: dict[str, StageResult] = {}

    def record(result: StageResult) -> StageResult:
        results[result.name] = result
        shown = f"{result.wall_s:.1f} s" if result.wall_s is not None else ""
        colour = "green" if result.ok else "red"
        console.print(f"  {result.name:<17} [{colour}]{result.status}[/] {shown} {result.note}")
        if result.stderr_tail:
            console.print(result.stderr_tail, style="dim", markup=False, highlight=False)
        return result

    def blocked(*needs: str) -> str | None:
        for need in needs:
            r = results.get(need)
            if r is not None and not r.ok:
                return f"skipped: {need} {r.status.split(' (')[0]}"
        return None

    book_ready = (book / "oracle.csv").exists() and (book / ".complete").exists()
    if "generate" in stages or not book_ready:
        if book_ready:
            record(StageResult("generate", "cached", note=f"book in {book}"))
        else:
            partial = book.with_name(book.name + ".partial")
            shutil.rmtree(partial, ignore_errors=True)
            argv = _latepay(
                code,
                "generate",
                f"--customers={customers}",
                f"--invoices={n}",
                f"--seed={seed}",
                f"--end-date={BOOK_END.isoformat()}",
                f"--out={partial}",
            )
            r = run_stage("generate", argv, env=env, **guard)
            if r.ok:
                shutil.rmtree(book, ignore_errors=True)
                partial.rename(book)
                (book / ".complete").write_text("ok\n", encoding="ascii")
                r.note = f"book in {book}"
            record(r)

    warehouse = work / "warehouse.duckdb"
    for name in stages:
        if name == "generate":
            continue
        if name == "ingest":
            why = blocked("generate")
        else:
            why = blocked("generate", "ingest")
            if not why and not warehouse.exists():
                why = "skipped: no warehouse (run ingest)"
        if why:
            record(StageResult(name, why))
            continue
        if name == "ingest":
            r = run_stage("ingest", _latepay(code, "ingest", str(book)), env=env, **guard)
        elif name == "features":
            out = work / "features.parquet"
            argv = _latepay(code, "features", f"--as-of={DATA_END.isoformat()}", f"--out={out}")
            r = run_stage("features", argv, env=env, **guard)
            if r.ok:
                r.note = f"{_parquet_rows(out):,} open invoices as of {DATA_END}"
        elif name == "window_pass":
            argv = [sys.executable, str(Path(__file__).resolve()), "--window-pass", str(warehouse)]
            r = run_stage("window_pass", argv, env=env, **guard)
            if r.ok:
                figures = json.loads(
                    (logs / "window_pass.out").read_text().strip().splitlines()[-1]
                )
                r.extra = {"query_s": figures["query_s"]}
                r.note = f"query {figures['query_s']:.2f} s over {figures['rows']:,.0f} invoices"
        elif name == "train":
            r = run_stage("train", _latepay(code, "train", "--force-promote"), env=env, **guard)
            if r.ok:
                r.note = _grep(logs / "train.out", r"trained on ([\d,]+) snapshots", "{} snapshots")
        elif name == "backtest_quality":
            preds = work / "predictions.parquet"
            # one explicit cut date: the same test period at every size and commit
            argv = _latepay(
                code, "backtest", f"--cutoff={BACKTEST_CUT.isoformat()}", f"--predictions={preds}"
            )
            r = run_stage("backtest_quality", argv, env=env, **guard)
            if r.ok:
                try:
                    q = quality(preds, book / "oracle.csv")
                except Exception as exc:  # reported, never hidden
                    r.status = "failed (quality)"
                    r.stderr_tail = f"{type(exc).__name__}: {exc}"
                else:
                    run["quality"] = q
                    r.note = (
                        f"AUC at age {QUALITY_AGE_DAYS}: model {q['model_auc']:.3f}, oracle "
                        f"{q['oracle_auc']:.3f} ({q['rows']:,.0f} rows, {q['late_share']:.0%} late)"
                    )
        elif name == "score":
            tracking, note = work, ""
            trained = results.get("train")
            if (trained is not None and not trained.ok) or not (work / "mlflow.db").exists():
                # No model trained at this size: borrow a champion, and say so.
                candidates = [Path(args.champion_from)] if args.champion_from else []
                candidates.append(root / "work" / f"{n // 10}-{seed}")
                found = [c.resolve() for c in candidates if (c / "mlflow.db").exists()]
                if not found:
                    record(
                        StageResult("score", "skipped: no champion model (train did not succeed)")
                    )
                    continue
                tracking = found[0]
                note = f"champion borrowed from {tracking.name} (no model trained in this run); "
            # the nightly job (empty inbox): features as of the day after the book, score,
            # rank, reasons for the published rows, the collectors' workbooks and the report
            argv = _latepay(code, "nightly", f"--as-of={DATA_END.isoformat()}")
            r = run_stage("score", argv, env=child_env(work, code, tracking), **guard)
            if r.ok:
                r.note = note + _grep(
                    logs / "score.out", r"Scored ([\d,]+) open invoices", "{} invoices scored"
                )
            else:
                r.note = note
        record(r)

    run["stages"] = [asdict(results[s]) for s in STAGES if s in results]
    return run


def _parquet_rows(path: Path) -> int:
    import pyarrow.parquet as pq

    return pq.ParquetFile(path).metadata.num_rows


def _grep(path: Path, pattern: str, template: str) -> str:
    match = re.search(pattern, path.read_text(encoding="utf-8", errors="replace"))
    return template.format(match.group(1)) if match else ""


def print_table(run: dict, base: dict | None) -> None:
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


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="benchmarks/run.py",
        description="Time every latepay stage, each as its own process, on a synthetic book of "
        "N invoices (N/50 customers); print a table and append it to benchmarks/RESULTS.md.",
    )
    parser.add_argument("--invoices", type=int, default=1_000_000, help="N (default 1,000,000)")
    parser.add_argument("--seed", type=int, default=0, help="generator seed (default 0)")
    parser.add_argument(
        "--stages",
        default=",".join(STAGES),
        help=f"comma-separated stages (default all): {','.join(STAGES)}",
    )
    parser.add_argument(
        "--timeout", type=float, default=1800, help="seconds allowed per stage (default 1800)"
    )
    parser.add_argument(
        "--mem-cap-gb",
        type=float,
        default=20,
        help="kill a stage whose resident memory exceeds this, GB (default 20)",
    )
    parser.add_argument(
        "--no-record", action="store_true", help="do not append the run to RESULTS.md"
    )
    parser.add_argument(
        "--root",
        default=str(HERE),
        help="folder holding books/ and work/ (default: benchmarks/)",
    )
    parser.add_argument(
        "--results",
        default=str(HERE / "RESULTS.md"),
        help="results file (default: benchmarks/RESULTS.md)",
    )
    parser.add_argument(
        "--observe",
        action="append",
        default=[],
        help="a line of observations to add to the recorded section (repeatable)",
    )
    parser.add_argument(
        "--code",
        default=str(REPO),
        help="source tree of the pipeline to run (default: this repository), e.g. a "
        "`git archive HEAD` export, to time a fixed commit while the working tree changes",
    )
    parser.add_argument(
        "--champion-from",
        metavar="WORKDIR",
        help="work folder whose MLflow champion `score` uses when this run trained no model "
        "(default: the run with N/10 invoices, if any)",
    )
    parser.add_argument("--json", metavar="FILE", help="also write the run's figures as JSON")
    parser.add_argument(
        "--code-commit",
        default="unknown commit",
        help="with --code: the commit that source tree was exported from (recorded as is)",
    )
    parser.add_argument("--window-pass", metavar="WAREHOUSE", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.window_pass:
        print(json.dumps(window_pass(Path(args.window_pass))))
        return 0
    run = run_benchmark(args)
    if args.observe:
        run["observations"] = args.observe
    results = Path(args.results)
    base = base_run(results, run["invoices"], run["seed"])
    print_table(run, base)
    if args.json:
        Path(args.json).write_text(json.dumps(run, indent=2), encoding="utf-8")
    if not args.no_record:
        append_section(results, format_section(run, base))
        print(f"Appended to {results}")
    return 0 if all(s["status"] in ("ok", "cached") for s in run["stages"]) else 1


if __name__ == "__main__":
    sys.exit(main())
