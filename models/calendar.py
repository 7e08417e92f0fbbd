"""Business days: weekends and the public holidays of a country (the `holidays` library), so that
no action of the dunning ladder falls on a Sunday or on 11 November in France.

Pure: the holidays are computed from the calendar rules, nothing is read or fetched.
"""

from __future__ import annotations

from functools import cache

import holidays
import numpy as np
import pandas as pd

DEFAULT_COUNTRY = "FR"


@cache
def _holidays(country: str, first_year: int, last_year: int) -> np.ndarray:
    """The public holidays of `country` in those years as datetime64[D]; weekends only for a
    country the library does not know (or none given)."""
    try:
        days = holidays.country_holidays(country, years=range(first_year, last_year + 1))
    except (NotImplementedError, KeyError):
        return np.array([], dtype="datetime64[D]")
    return np.array(sorted(days), dtype="datetime64[D]")


def _country(value: object) -> str:
    text = str(value).strip().upper() if isinstance(value, str) else ""
    return text[:2] if len(text) >= 2 else DEFAULT_COUNTRY


def roll_forward(dates: pd.Series, countries: pd.Series | str = DEFAULT_COUNTRY) -> pd.Series:
    """Each date moved to the first business day on or after it in its country (ISO code; a
    missing one is DEFAULT_COUNTRY's, an unknown one has weekends only). NaT stays NaT. Same
    index as `dates`."""
    dates = pd.to_datetime(dates)
    out = np.full(len(dates), np.datetime64("NaT"), dtype="datetime64[ns]")
    known = dates.notna().to_numpy()
    if not known.any():
        return pd.Series(out, index=dates.index)
    days = dates.to_numpy()[known].astype("datetime64[D]")
    years = days.astype("datetime64[Y]").astype(int) + 1970
    first, last = int(years.min()), int(years.max()) + 1
    names, codes = _country_codes(dates.index, countries)
    codes = codes[known]
    rolled = np.empty(len(days), dtype="datetime64[D]")
    for code, country in enumerate(names):
        rows = codes == code
        rolled[rows] = np.busday_offset(
            days[rows], 0, roll="forward", holidays=_holidays(country, first, last)
        )
    out[known] = rolled.astype("datetime64[ns]")
    return pd.Series(out, index=dates.index)


def _country_codes(index: pd.Index, countries: pd.Series | str) -> tuple[np.ndarray, np.ndarray]:
    """The distinct country codes (`_country`) and, for each row of `index`, the number of its
    own among them. (Each distinct value is read once: mapping 820,000 values one by one took
    most of a second per call.)"""
    if isinstance(countries, str):
        return np.array([_country(countries)], dtype=object), np.zeros(len(index), dtype=int)
    values, uniques = pd.factorize(countries.reindex(index))  # (a missing value is -1)
    per_value = [_country(value) for value in uniques] + [DEFAULT_COUNTRY]
    names, numbers = np.unique(np.array(per_value, dtype=object), return_inverse=True)
    return names, numbers[values]


def is_business_day(day: pd.Timestamp, country: str = DEFAULT_COUNTRY) -> bool:
    return roll_forward(pd.Series([day]), country).iloc[0] == pd.Timestamp(day)


def horizon(as_of: pd.Timestamp, country: str = DEFAULT_COUNTRY) -> pd.Timestamp:
    """The last day today's list covers: `as_of` on a business day, else the next business day
    (a list dated on a Sunday or a holiday covers the work of the next business day)."""
    return roll_forward(pd.Series([pd.Timestamp(as_of)]), country).iloc[0]
