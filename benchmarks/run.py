"""Benchmark harness: time each latepay stage as its own process on a synthetic book of N invoices.

    .venv/bin/python benchmarks/run.py --invoices 1000000          # what `make bench` runs
    .venv/bin/python benchmarks/run.py --invoices 10000000 --stages ingest,plain_load,features,window_pass
    .venv/bin/python benchmarks/run.py --invoices 10000000 --invoices-per-customer 25 ...

Every stage runs the real CLI (`latepay generate/ingest/features/train/backtest/nightly`; the
references `plain_load`, `window_pass` and `bare_predict` of references.py run the least work
each stage could do) in a child process whose warehouse, MLflow store
and outputs live in `benchmarks/work/<N>-<seed>/`. For each child the harness reports wall time,
CPU time (user + sys) and peak RSS, read from `os.wait4`. Each child runs under a timeout and a
memory cap (a watchdog on the child's VmRSS; RLIMIT_AS is not used: DuckDB and the allocators
reserve far more address space than they touch); a stage that fails, times out or is killed is
reported as such, with the end of its stderr, and the run goes on with the stages that do not
depend on it. Books are cached in `benchmarks/books/<N>-<seed>/`.

The results are printed as a table and appended to `benchmarks/RESULTS.md` (unless --no-record),
with the figures judged against the targets of the benchmark issue.

This file is the entry point (the arguments and the top-level sequence). Its siblings, imported
with this folder on sys.path (it is not a package): `harness` (a stage as a child process: timeout,
memory watchdog, wait4 figures), `stages` (what each stage runs), `quality` (model vs oracle AUC),
`targets` (the verdicts) and `record` (the printed table and the RESULTS.md section).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import date, datetime
from pathlib import Path

from record import append_section, base_run, format_section, git_commit, print_table, ram_gb
from stages import (
    INVOICES_PER_CUSTOMER,
    REPO,
    STAGES,
    Bench,
    chosen_stages,
    prepare_work,
    run_stages,
)

HERE = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark (or, with --reference, be a reference's child); 0 when every stage
    succeeded."""
    args = parse_args(argv)
    if args.reference:
        print(json.dumps(run_reference(*args.reference)))
        return 0
    run = run_benchmark(args)
    if args.observe:
        run["observations"] = args.observe
    results = Path(args.results)
    base = base_run(results, run["invoices"], run["seed"], run["invoices_per_customer"])
    print_table(run, base)
    if args.json:
        Path(args.json).write_text(json.dumps(run, indent=2), encoding="utf-8")
    if not args.no_record:
        append_section(results, format_section(run, base))
        print(f"Appended to {results}")
    return 0 if all(s["status"] in ("ok", "cached") for s in run["stages"]) else 1


def run_benchmark(args: argparse.Namespace) -> dict:
    """Run the chosen stages on the book of `--invoices` and return the run's figures."""
    from rich.console import Console

    console = Console()
    bench = Bench(
        invoices=args.invoices,
        seed=args.seed,
        root=Path(args.root).resolve(),
        code=Path(args.code).resolve(),
        timeout_s=args.timeout,
        mem_cap_gb=args.mem_cap_gb,
        champion_from=args.champion_from,
        invoices_per_customer=args.invoices_per_customer,
    )
    stages = chosen_stages(args.stages)
    prepare_work(bench, stages)
    run = describe_run(bench, args)
    console.print(
        f"[bold]latepay benchmark[/]: {bench.invoices:,} invoices, {bench.customers:,} customers, "
        f"seed {bench.seed}; {run['cores']} cores, {run['ram_gb']:.1f} GB, "
        f"load {run['load_avg']:.2f}; commit {run['commit']}; work folder {bench.work}"
    )
    figures = run_stages(bench, stages, console)
    if bench.quality is not None:
        run["quality"] = bench.quality
    run["stages"] = figures
    return run


def run_reference(name: str, *args: str) -> dict[str, float]:
    """A reference's child: the timed part's seconds and rows (references.py)."""
    import references

    if name == "window_pass":
        return references.window_pass(Path(args[0]), date.fromisoformat(args[1]))
    if name == "plain_load":
        return references.plain_load(Path(args[0]), Path(args[1]))
    return references.bare_predict(Path(args[0]))


def describe_run(bench: Bench, args: argparse.Namespace) -> dict:
    """The run's record before its stages: date, machine, book, commit, command and limits."""
    commit = git_commit() if bench.code == REPO else f"{args.code_commit}, code from {bench.code}"
    return {
        "date": datetime.now().strftime("%Y-%m-%d %H:%M"),
        "cores": os.cpu_count(),
        "ram_gb": ram_gb(),
        "load_avg": os.getloadavg()[0],
        "invoices": bench.invoices,
        "customers": bench.customers,
        "invoices_per_customer": bench.invoices_per_customer,
        "seed": bench.seed,
        "commit": commit,
        "command": " ".join([".venv/bin/python", "benchmarks/run.py", *sys.argv[1:]]),
        "mem_cap_gb": args.mem_cap_gb,
        "timeout_s": args.timeout,
        "stages": [],
    }


# --------------------------------------------------------------------------------------------
# Arguments.
# --------------------------------------------------------------------------------------------
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line (`--help` lists it)."""
    parser = argparse.ArgumentParser(
        prog="benchmarks/run.py",
        description="Time every latepay stage, each as its own process, on a synthetic book of "
        "N invoices (N/50 customers by default); print a table and append it to benchmarks/RESULTS.md.",
    )
    add_run_arguments(parser)
    add_output_arguments(parser)
    add_code_arguments(parser)
    parser.add_argument("--reference", nargs="+", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """The book, the stages and the limits of each stage."""
    parser.add_argument("--invoices", type=int, default=1_000_000, help="N (default 1,000,000)")
    parser.add_argument("--seed", type=int, default=0, help="generator seed (default 0)")
    parser.add_argument(
        "--invoices-per-customer",
        type=int,
        default=INVOICES_PER_CUSTOMER,
        help=f"the book's shape (default {INVOICES_PER_CUSTOMER}; the issue's 10M book has 25)",
    )
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


def add_output_arguments(parser: argparse.ArgumentParser) -> None:
    """Where the books, work files and results go."""
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


def add_code_arguments(parser: argparse.ArgumentParser) -> None:
    """The source tree timed, the champion borrowed, and the JSON copy of the figures."""
    parser.add_argument(
        "--code",
        default=str(REPO),
        help="source tree of the pipeline to run (default: this repository), e.g. a "
        "`git archive HEAD` export, to time a fixed commit while the working tree changes",
    )
    parser.add_argument(
        "--champion-from",
        metavar="WORKDIR",
        help="work folder whose MLflow champion `score` and `bare_predict` use when this run "
        "trained no model (default: the run with N/10 invoices, else the run of N invoices "
        "with 50 per customer, if any)",
    )
    parser.add_argument("--json", metavar="FILE", help="also write the run's figures as JSON")
    parser.add_argument(
        "--code-commit",
        default="unknown commit",
        help="with --code: the commit that source tree was exported from (recorded as is)",
    )


if __name__ == "__main__":
    sys.exit(main())
