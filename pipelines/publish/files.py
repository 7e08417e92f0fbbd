"""Text from the data made inert before it is written, and the worklist as CSV.

A cell beginning with = + - @ (or a tab or carriage return) would run as a formula in a
spreadsheet, so it gets a leading apostrophe (OWASP's advice for CSV injection).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: object) -> object:
    """A text cell that a spreadsheet would run as a formula, made inert; other values as is."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def neutralise_frame(frame: pd.DataFrame) -> pd.DataFrame:
    text = [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])]
    return frame.assign(**{c: frame[c].map(neutralise) for c in text})


def write_worklist_csv(published: pd.DataFrame, path: Path) -> None:
    """The day's list as CSV: amounts to the cent, probabilities to 4 decimals, ISO dates; UTF-8
    with a byte-order mark, so that Excel (French included) reads the accents right."""
    amounts = [
        c
        for c in published.columns
        if "amount" in c or c in ("late_interest", "recovery_fees", "customer_at_risk")
    ]
    frame = published.round(dict.fromkeys(amounts, 2) | {"risk_probability": 4})
    for column in frame.columns:
        if pd.api.types.is_datetime64_any_dtype(frame[column]):
            frame[column] = frame[column].dt.strftime("%Y-%m-%d")
    neutralise_frame(frame).to_csv(path, index=False, encoding="utf-8-sig")


def write_table(frame: pd.DataFrame, path: Path) -> None:
    """Parquet, or CSV when the file name ends in .csv (analysts' exports)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path, index=False)
