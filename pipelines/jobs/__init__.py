"""The workloads latepay runs, one plain function each; the CLI (`pipelines/cli.py`) and the
Prefect flows (`pipelines/flows.py`) only call these.

| workload | function |
|---|---|
| load exports | `ingest.ingest` (and `ingest.load_sample_if_empty` for notebooks) |
| features as of a date | `features.export` |
| training set, backtest, tuning, training and registration | `train.training_data`, `train.backtest`, `train.train` |
| score and publish one date | `score.score` |
| the nightly job: inbox, then score and publish | `nightly.nightly` |
| score and publish a range of dates | `score.backfill` |
| the demo on the bundled sample | `demo.demo` |

Each reads the settings, opens the warehouse, calls `features/` and `models/` (pure), and writes
results through `pipelines/warehouse`, `pipelines/publish` and `pipelines/tracking`.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext

# A progress hook: `with step("Doing this"):` around each stage of a long workload (the CLI
# shows a spinner per stage; flows and tests pass nothing).
Step = Callable[[str], AbstractContextManager[object]]


def no_step(description: str) -> AbstractContextManager[object]:
    return nullcontext()
