"""LightGBM's threads against the size of a fit: from how many rows do two threads beat one?

Fits latepay's boosters' settings (models.train.DEFAULT_PARAMS, with monotone constraints on five
of 64 random features) for 100 rounds on N random rows, with one thread and with two, under the
OpenMP wait policy latepay sets (pipelines/__init__.py: PASSIVE, unless the environment says
otherwise); with `--busy`, while another process keeps one core busy. Prints a Markdown table
(seconds per fit, the best of `--repeat`). models.train.THREADED_FROM_ROWS is read from it.

    .venv/bin/python benchmarks/lightgbm_threads.py
    .venv/bin/python benchmarks/lightgbm_threads.py --busy --rows 5000,20000,300000
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pipelines  # noqa: F401  (sets OMP_WAIT_POLICY before lightgbm is imported)

FEATURES, CONSTRAINED, ROUNDS = 64, 5, 100


def _spin() -> None:
    while True:
        pass


def fit_seconds(rows: int, threads: int, repeat: int) -> float:
    import lightgbm as lgb
    import numpy as np

    from models.train import DEFAULT_PARAMS

    rng = np.random.default_rng(0)
    x = rng.normal(size=(rows, FEATURES))
    y = (x[:, 0] + rng.normal(size=rows) > 0).astype(int)
    params = {
        **DEFAULT_PARAMS,
        "num_threads": threads,
        "monotone_constraints": [1] * CONSTRAINED + [0] * (FEATURES - CONSTRAINED),
        "monotone_constraints_method": "intermediate",
    }
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        lgb.train(params, lgb.Dataset(x, y), ROUNDS)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="5000,20000,50000,80000,150000,300000")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--busy", action="store_true", help="one core kept busy meanwhile")
    args = parser.parse_args()
    busy = multiprocessing.Process(target=_spin, daemon=True) if args.busy else None
    if busy:
        busy.start()
    try:
        policy = os.environ.get("OMP_WAIT_POLICY", "(unset)")
        print(f"OMP_WAIT_POLICY={policy}; {'one core busy' if busy else 'quiet'}\n")
        print("| rows | 1 thread, s | 2 threads, s |\n|---:|---:|---:|")
        for rows in (int(n) for n in args.rows.split(",")):
            one, two = (fit_seconds(rows, threads, args.repeat) for threads in (1, 2))
            print(f"| {rows:,} | {one:.2f} | {two:.2f} |", flush=True)
    finally:
        if busy:
            busy.terminate()


if __name__ == "__main__":
    main()
