"""Calendar arithmetic on ``datetime64[D]`` arrays: month ends, month starts, months.

numpy's month arithmetic on ``datetime64`` is slow (~0.5 s per 10M dates); the dates of a book
span a few thousand distinct days, so each function computes on those and gathers.
"""

from __future__ import annotations

import numpy as np


def _calendar_lookup(days: np.ndarray, unit: str) -> tuple[np.ndarray, np.ndarray]:
    """Table of calendar facts over the range of ``days``, and each date's index into it."""
    lo = days.min()
    span = np.arange(lo, days.max() + np.timedelta64(1, "D"), dtype="datetime64[D]")
    pos = (days - lo).astype(np.int64)
    if unit == "month_end":
        return (span.astype("datetime64[M]") + 1).astype("datetime64[D]") - 1, pos
    if unit == "month_start":
        return span.astype("datetime64[M]").astype("datetime64[D]"), pos
    return span.astype("datetime64[M]").astype(np.int64) % 12 + 1, pos  # month 1..12


def month_end(days: np.ndarray) -> np.ndarray:
    """Last day of the month of each date (``datetime64[D]`` in and out)."""
    table, pos = _calendar_lookup(days, "month_end")
    return table[pos]


def month_start(days: np.ndarray) -> np.ndarray:
    """First day of the month of each date (``datetime64[D]`` in and out)."""
    table, pos = _calendar_lookup(days, "month_start")
    return table[pos]


def month(days: np.ndarray) -> np.ndarray:
    """Calendar month 1..12 of each date."""
    table, pos = _calendar_lookup(days, "month")
    return table[pos]
