"""Text from the data made inert before it is written, and the worklist as CSV.

A cell beginning with = + - @ (or a tab or carriage return) would run as a formula in a
spreadsheet, so it gets a leading apostrophe (OWASP's advice for CSV injection).
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


# Names Windows refuses for a file or folder, whatever the extension.
RESERVED_NAMES = {"CON", "PRN", "AUX", "NUL"} | {
    f"{p}{i}" for p in ("COM", "LPT") for i in range(1, 10)
}
MAX_NAME_BYTES = 120  # of a name made from the data (file systems allow 255)


def safe_name(text: object) -> str:
    """A file or folder name made from a text of the data: letters, digits, _ and - only (never
    a path), at most MAX_NAME_BYTES in UTF-8, never empty and never a reserved name."""
    cleaned = re.sub(r"[^\w-]+", "_", str(text), flags=re.UNICODE).strip("_.")
    while len(cleaned.encode("utf-8")) > MAX_NAME_BYTES:
        cleaned = cleaned[:-1]
    if cleaned.upper() in RESERVED_NAMES:
        cleaned = f"_{cleaned}"
    return cleaned or "unnamed"


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
