"""Publish outputs atomically: write into a temporary folder beside the target, then swap it in,
so a failed or killed run never leaves a half-written list."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pandas as pd


def publish_worklist(worklist: pd.DataFrame, outputs_dir: Path, as_of: str) -> Path:
    """Write `<outputs_dir>/<as_of>/worklist.csv`, replacing a previous run for the same date."""
    outputs_dir.mkdir(parents=True, exist_ok=True)
    target = outputs_dir / as_of
    staging = Path(tempfile.mkdtemp(prefix=f".{as_of}-", dir=outputs_dir))
    try:
        amounts = ["open_amount", "overdue_amount", "expected_amount_at_risk"]
        rounded = worklist.round(dict.fromkeys(amounts, 2) | {"risk_probability": 4})
        rounded.to_csv(staging / "worklist.csv", index=False)
        if target.exists():
            old = outputs_dir / f".{as_of}-old"
            shutil.rmtree(old, ignore_errors=True)
            os.replace(target, old)
            os.replace(staging, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target / "worklist.csv"
