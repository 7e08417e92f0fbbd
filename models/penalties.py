"""French statutory late-payment penalties (Code de commerce L441-10), per invoice, to the cent.

- Interest runs from the day after the due date, without reminder, on the amount still open.
  Its rate for each half-year is the ECB main refinancing rate in force on 1 January (for the
  first half) or 1 July (for the second), plus 10 points; the penalty for a span of days is
  amount × rate × days / 365, so an invoice late across half-years is priced piece by piece.
- A flat recovery indemnity of 40 euros is owed per late invoice where French law applies (a
  setting: by default, customers in France); it is in euros whatever the invoice's currency, and
  never added to amounts of another currency.
- The interest is in the invoice's currency.

Pure: the rate table (half_year_start, ecb_main_refinancing_rate in percent) is passed in.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pandas as pd

STATUTORY_MARGIN_POINTS = 10.0
RECOVERY_INDEMNITY_EUR = 40.0


def half_year_rates(table: pd.DataFrame) -> pd.DataFrame:
    """The statutory rate of each half-year (start, end exclusive, annual rate as a fraction)
    from the ECB rate table; the last half-year's rate runs on until a newer row is added."""
    rows = table.assign(start=pd.to_datetime(table["half_year_start"])).sort_values("start")
    rows["end"] = rows["start"].shift(-1).fillna(pd.Timestamp.max.normalize())
    rows["rate"] = (rows["ecb_main_refinancing_rate"] + STATUTORY_MARGIN_POINTS) / 100.0
    return rows[["start", "end", "rate"]].reset_index(drop=True)


def rate_at(rates: pd.DataFrame, day: pd.Timestamp) -> float:
    """The statutory annual rate (a fraction) in force on `day`: its half-year's."""
    table = half_year_rates(rates)
    return float(table.loc[table["start"] <= pd.Timestamp(day), "rate"].iloc[-1])


def interest_by_period(
    open_amount: float, due_date: pd.Timestamp, as_of: pd.Timestamp, rates: pd.DataFrame
) -> pd.DataFrame:
    """One invoice's interest at `as_of`, one row per half-year it was late in: start, end (the
    days counted run from start to end, end excluded), days, rate, interest (to the cent)."""
    rows = late_periods(open_amount, due_date, as_of, statutory_periods(rates))
    return pd.DataFrame(rows, columns=["start", "end", "days", "rate", "interest"])


def statutory_periods(rates: pd.DataFrame) -> list[tuple[pd.Timestamp, pd.Timestamp, float]]:
    """(start, end, rate) of each half-year of `half_year_rates`, for `late_periods`."""
    return list(half_year_rates(rates).itertuples(index=False, name=None))


def late_periods(
    open_amount: float,
    due_date: pd.Timestamp,
    as_of: pd.Timestamp,
    periods: list[tuple[pd.Timestamp, pd.Timestamp, float]],
) -> list[dict]:
    """The rows of `interest_by_period` as dicts, from the half-years of `statutory_periods`
    (computed once for many invoices)."""
    first = pd.Timestamp(due_date) + pd.Timedelta(days=1)
    stop = pd.Timestamp(as_of) + pd.Timedelta(days=1)  # as many days as days past due
    rows = []
    for period_start, period_end, rate in periods:
        start, end = max(first, period_start), min(stop, period_end)
        days = (end - start).days
        if days <= 0 or open_amount <= 0:
            continue
        interest = _cents(Decimal(str(open_amount)) * Decimal(str(rate)) * days / 365)
        rows.append({"start": start, "end": end, "days": days, "rate": rate, "interest": interest})
    return rows


def interest_owed(
    open_amount: pd.Series, due_date: pd.Series, as_of: pd.Timestamp, rates: pd.DataFrame
) -> pd.Series:
    """Each invoice's statutory interest at `as_of`, as `penalties` gives it (the sum of its
    half-years, each to the cent, half up), for many invoices at once: in whole cents and
    millionths of the rate, so that it equals the letters' Decimal figures exactly. Same index
    as `open_amount`; 0 for invoices not late and credit notes."""
    cents = np.round(open_amount.to_numpy(dtype=float) * 100).astype(np.int64)
    cents = np.where(cents > 0, cents, 0)
    first = pd.to_datetime(due_date).to_numpy().astype("datetime64[D]") + 1
    stop = np.datetime64(pd.Timestamp(as_of).date(), "D") + 1
    total = np.zeros(len(cents), dtype=np.int64)
    half, den = 365 * 1_000_000, 2 * 365 * 1_000_000
    for start, end, rate in statutory_periods(rates):
        lower = np.maximum(first, np.datetime64(start.date(), "D"))
        upper = min(stop, np.datetime64(end.date(), "D"))
        days = np.clip((upper - lower).astype(np.int64), 0, None)
        if not days.any():
            continue
        millionths = round(rate * 1_000_000)
        if int(cents.max()) * millionths * int(days.max()) < 2**61:
            total += (2 * cents * millionths * days + half) // den
        else:  # (Python integers: 10^12 late for years overflows 64 bits; never in practice)
            exact = cents.astype(object) * millionths * days.astype(object)
            total = total.astype(object) + (2 * exact + half) // den
    return pd.Series(total.astype(float) / 100, index=open_amount.index)


def _cents(value: Decimal) -> float:
    return float(value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def penalties(
    invoices: pd.DataFrame, as_of: pd.Timestamp, rates: pd.DataFrame, *, french_law: pd.Series
) -> pd.DataFrame:
    """Per invoice (invoice_id, currency, open_amount, due_date): interest (its currency, the sum
    of its half-years: `interest_owed`), the recovery indemnity in euros (0 outside French law)
    and days late."""
    late = (pd.Timestamp(as_of) - pd.to_datetime(invoices["due_date"])).dt.days.clip(lower=0)
    indemnity = (late > 0).to_numpy() & french_law.to_numpy(dtype=bool)
    return pd.DataFrame(
        {
            "invoice_id": invoices["invoice_id"].to_numpy(),
            "currency": invoices["currency"].to_numpy(),
            "days_late": late.to_numpy(),
            "interest": interest_owed(
                invoices["open_amount"], invoices["due_date"], as_of, rates
            ).to_numpy(),
            "indemnity_eur": np.where(indemnity, RECOVERY_INDEMNITY_EUR, 0.0),
        }
    )
