"""Invoices: which customer, issue and due dates, amounts.

Grain: one row per invoice or credit note, in invoice-id order (issue date, then a random
tie-break so that customers interleave within a day). Dates are ``datetime64[D]``; amounts are
whole cents (``int64``), negative for credit notes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from synthetic.customers import Customers
from synthetic.dates import month_end
from synthetic.params import (
    AMOUNT_SIGMA,
    AUGUST_WEIGHT,
    CREDIT_NOTE_FACTOR,
    CREDIT_NOTE_SHARE,
    EOM_TERMS,
    MIN_CREDIT_NOTE_CENTS,
    MIN_INVOICE_CENTS,
    TERMS_DAYS,
    WEEKDAY_WEIGHT,
    YEAR_END_WEIGHT,
)


@dataclass(frozen=True)
class Invoices:
    """Per-invoice arrays; row i is invoice number i + 1."""

    customer: np.ndarray  # customer number (index into the Customers arrays)
    archetype: np.ndarray  # the customer's archetype, gathered once for the later stages
    credit: np.ndarray  # bool: credit note (never paid, disputed or in the oracle)
    issue: np.ndarray  # datetime64[D]
    due: np.ndarray  # datetime64[D]; credit notes are due on issue
    cents: np.ndarray  # int64 amount in cents
    z_amount: np.ndarray  # standard normal behind the amount; bigger invoices are paid later


def make_invoices(
    rng: np.random.Generator, cust: Customers, n: int, start: np.datetime64, n_days: int
) -> Invoices:
    """Draw ``n`` invoices of the customers over the ``n_days`` days from ``start``."""
    ci, credit = _rows_per_customer(rng, cust.volume, n)
    ci, credit, issue = _issue_dates(rng, cust.entry_day, ci, credit, start, n_days)
    due = _due_dates(issue, cust.terms[ci], credit)
    cents, z_amount = _amounts(rng, cust.amount_mu[ci], credit)
    return Invoices(ci, cust.archetype[ci], credit, issue, due, cents, z_amount)


def _rows_per_customer(
    rng: np.random.Generator, volume: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """Customer number of each row (grouped by customer) and which rows are credit notes.

    Every customer gets one invoice; the rest are spread by volume weight.
    """
    n_customers = volume.size
    extra = rng.multinomial(n - n_customers, volume / volume.sum())
    counts = 1 + extra
    ci = np.repeat(np.arange(n_customers), counts)
    # Credit notes only among the extra rows so that every customer has a real invoice.
    first_row = np.zeros(n, dtype=bool)
    first_row[np.concatenate(([0], np.cumsum(counts)[:-1]))] = True
    credit = (~first_row) & (rng.random(n) < CREDIT_NOTE_SHARE)
    return ci, credit


def _issue_day_cdf(start: np.datetime64, n_days: int) -> np.ndarray:
    """Cumulative issue-date weights over the period (weekday, August, year-end seasonality)."""
    days = start + np.arange(n_days).astype("timedelta64[D]")
    weekday = (days.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday -> Monday = 0
    month = days.astype("datetime64[M]").astype(np.int64) % 12 + 1
    dom = (days - days.astype("datetime64[M]").astype("datetime64[D]")).astype(np.int64) + 1
    weight = WEEKDAY_WEIGHT[weekday].copy()
    weight[month == 8] *= AUGUST_WEIGHT
    weight[(month == 12) & (dom >= 20)] *= YEAR_END_WEIGHT
    return np.cumsum(weight)


def _issue_dates(
    rng: np.random.Generator,
    entry_day: np.ndarray,
    ci: np.ndarray,
    credit: np.ndarray,
    start: np.datetime64,
    n_days: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Issue dates, and the rows reordered by them: ``(ci, credit, issue)`` in id order.

    Dates are the inverse CDF of the seasonal weights, restricted to the customer's life.
    """
    n = ci.size
    cdf = _issue_day_cdf(start, n_days)
    lo = np.where(entry_day > 0, cdf[entry_day - 1], 0.0)[ci]
    u = lo + rng.random(n) * (cdf[-1] - lo)
    issue_idx = np.minimum(np.searchsorted(cdf, u, side="right"), n_days - 1)
    del u, lo  # n floats each: freed before the sort's own temporaries
    # Sort by issue date with a random tie-break so customers interleave within a day; ids are
    # then assigned in that order, which makes the file sorted by (issue_date, invoice_id).
    # A random permutation followed by a stable sort on a 16-bit key (numpy's radix sort) is
    # about four times faster than sorting a 64-bit composite key.
    order = rng.permutation(n)
    day_key = issue_idx[order].astype(np.int16 if n_days < 2**15 else np.int32)
    order = order[np.argsort(day_key, kind="stable")]
    issue = start + issue_idx[order].astype("timedelta64[D]")
    return ci[order], credit[order], issue


def _due_dates(issue: np.ndarray, terms: np.ndarray, credit: np.ndarray) -> np.ndarray:
    """Due dates from the customer's terms (45eom: end of the month of issue + 45 days)."""
    due = np.where(
        terms == EOM_TERMS,
        month_end(issue + np.timedelta64(int(TERMS_DAYS[EOM_TERMS]), "D")),
        issue + TERMS_DAYS[terms].astype("timedelta64[D]"),
    )
    return np.where(credit, issue, due)  # credit notes are due on issue


def _amounts(
    rng: np.random.Generator, amount_mu: np.ndarray, credit: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Amounts in cents (lognormal around the customer's level) and their standard normal.

    Credit notes are smaller refunds: negative, at least 1.00 in absolute value; invoices are at
    least 10.00.
    """
    z_amount = rng.standard_normal(credit.size)
    amount = np.exp(amount_mu + AMOUNT_SIGMA * z_amount)
    amount = np.where(credit, CREDIT_NOTE_FACTOR * amount, amount)
    cents = np.round(amount * 100).astype(np.int64)
    cents = np.where(
        credit, np.minimum(cents, -MIN_CREDIT_NOTE_CENTS), np.maximum(cents, MIN_INVOICE_CENTS)
    )
    return cents, z_amount
