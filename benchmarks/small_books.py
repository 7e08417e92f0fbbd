"""Small books: is latepay ahead of both baselines on a book of 100 customers and 2,500 invoices?

For each seed, runs the real CLI as child processes (benchmarks/harness.py: timeout, memory cap):
`latepay generate --customers 100 --invoices 2500 --years 2 --seed S`, `latepay ingest` (the
whole book, and again the invoices and payments files alone: `--shapes`), then
`latepay backtest --json`, and reads the overall AUCs of the model (with its bootstrap interval)
and of both baselines (aging list, prior late rate) for every population. The table goes to the
console and, unless `--no-record`, to a section of benchmarks/RESULTS.md with the command that
produced it.

    .venv/bin/python benchmarks/small_books.py                       # seeds 0-4, both shapes
    .venv/bin/python benchmarks/small_books.py --seeds 0 --no-record

Books and work folders go to benchmarks/work/small-books/ (ignored by git).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

from harness import run_stage
from record import git_commit
from stages import BOOK_END, DATA_END, child_env, latepay_argv

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RESULTS = HERE / "RESULTS.md"
CUSTOMERS, INVOICES, YEARS = 100, 2_500, 2
# population key in the backtest JSON -> what the table calls it
POPULATIONS = {
    "late_30": "seriously late",
    "late": "late, not yet due",
    "late_age_1": "late, issued the day before",
}
RECORD_TAG = "<!-- small-books-record "


def run_book(root: Path, seed: int, customers_file: bool, timeout_s: float) -> dict:
    """Generate (once per seed), ingest and backtest one book; its overall AUCs per population,
    or the failing stage and the end of its error output."""
    book = root / "books" / str(seed)
    work = root / "work" / f"{seed}-{'full' if customers_file else 'no-customers'}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    env, logs = child_env(work, REPO), work / "logs"

    def stage(name: str, *args: str) -> str | None:
        r = run_stage(
            name, latepay_argv(REPO, *args), env=env, cwd=work, logs=logs,
            timeout_s=timeout_s, mem_cap_gb=8,
        )  # fmt: skip
        return None if r.ok else f"{name} {r.status}: {r.stderr_tail[-300:]}"

    if not (book / "invoices.csv").exists():
        shutil.rmtree(book, ignore_errors=True)
        failed = stage(
            "generate", "generate", f"--customers={CUSTOMERS}", f"--invoices={INVOICES}",
            f"--years={YEARS}", f"--seed={seed}", f"--end-date={BOOK_END}", f"--out={book}",
        )  # fmt: skip
        if failed:
            return {"error": failed}
    files = (
        [str(book)] if customers_file else [str(book / f) for f in ("invoices.csv", "payments.csv")]
    )
    summary = work / "backtest.json"
    started = time.perf_counter()
    failed = stage("ingest", "ingest", *files, f"--load-date={DATA_END}") or stage(
        "backtest", "backtest", f"--json={summary}"
    )
    if failed:
        return {"error": failed}
    overall = json.loads(summary.read_text())["overall"]["populations"]
    return {
        "seconds": round(time.perf_counter() - started, 1),
        "aucs": {
            p: {b: {k: overall[p][b].get(k) for k in ("auc", "auc_low", "auc_high", "n")}
                for b in ("model", "baseline_aging", "baseline_prior_late_rate")}
            for p in POPULATIONS
        },
    }  # fmt: skip


def ahead(aucs: dict) -> bool:
    """Whether the model's AUC is above both baselines'."""
    model = aucs["model"]["auc"]
    baselines = [aucs[b]["auc"] for b in ("baseline_aging", "baseline_prior_late_rate")]
    return model is not None and all(b is None or model > b for b in baselines)


def table_lines(runs: list[dict]) -> list[str]:
    """One Markdown row per book and population: the model's AUC and interval, both baselines."""
    lines = [
        "| book | seed | population | n | latepay AUC (90% interval) | aging list | "
        "prior late rate | ahead of both |",
        "|---|---:|---|---:|---|---:|---:|---|",
    ]
    for run in runs:
        if "error" in run:
            lines.append(f"| {run['shape']} | {run['seed']} | failed: {run['error']} | | | | | |")
            continue
        for p, label in POPULATIONS.items():
            a = run["aucs"][p]
            m = a["model"]
            interval = (
                f" ({m['auc_low']:.3f}–{m['auc_high']:.3f})" if m["auc_low"] is not None else ""
            )
            lines.append(
                f"| {run['shape']} | {run['seed']} | {label} | {m['n']:,} | {m['auc']:.3f}"
                f"{interval} | {a['baseline_aging']['auc']:.3f} | "
                f"{a['baseline_prior_late_rate']['auc']:.3f} | {'yes' if ahead(a) else 'NO'} |"
            )
    return lines


def section(runs: list[dict], command: str) -> str:
    """The RESULTS.md section of one run of this script."""
    ok = [r for r in runs if "error" not in r]
    counts = {
        p: sum(ahead(r["aucs"][p]) for r in ok) for p in POPULATIONS
    }  # books where the model is ahead, per population
    summary = "; ".join(f"{POPULATIONS[p]} {n}/{len(ok)}" for p, n in counts.items())
    lines = [
        f"## Small books: {CUSTOMERS} customers, {INVOICES:,} invoices, {YEARS} years — "
        f"{time.strftime('%Y-%m-%d %H:%M')}",
        "",
        f"- commit: `{git_commit()}`",
        f"- command: `{command}`",
        "- each book: `latepay generate --customers 100 --invoices 2500 --years 2 --seed S`, "
        "`latepay ingest` (full: the whole book; no-customers: invoices.csv and payments.csv "
        "only), `latepay backtest --json` (default cuts); overall AUCs; the interval is the "
        "percentile 90% bootstrap over 200 resamples of the test customers",
        f"- model ahead of both baselines: {summary}",
        "",
        *table_lines(runs),
        "",
        RECORD_TAG + json.dumps(runs, sort_keys=True) + " -->",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2,3,4", help="comma-separated seeds")
    parser.add_argument("--root", type=Path, default=HERE / "work" / "small-books")
    parser.add_argument("--timeout", type=float, default=600, help="seconds per stage")
    parser.add_argument(
        "--shapes",
        default="full,no-customers",
        help="comma-separated: full (the whole book), no-customers (invoices and payments only)",
    )
    parser.add_argument("--no-record", action="store_true", help="do not append to RESULTS.md")
    args = parser.parse_args(argv)
    runs = []
    shapes = [s.strip() for s in args.shapes.split(",")]
    if not set(shapes) <= {"full", "no-customers"}:
        parser.error(f"--shapes: {args.shapes!r}; choose among full, no-customers")
    for seed in (int(s) for s in args.seeds.split(",")):
        for shape in shapes:
            run = run_book(args.root, seed, shape == "full", args.timeout)
            run.update(seed=seed, shape=shape)
            runs.append(run)
            print(*table_lines([run])[2:], sep="\n", flush=True)
    command = " ".join([".venv/bin/python", "benchmarks/small_books.py", *sys.argv[1:]])
    text = section(runs, command)
    if not args.no_record:
        with open(RESULTS, "a", encoding="utf-8") as f:
            f.write("\n" + text)
        print(f"Appended to {RESULTS}")
    return 0 if all("error" not in r and ahead(r["aucs"]["late_30"]) for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
