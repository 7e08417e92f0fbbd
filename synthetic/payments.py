"""Payments: one per settled invoice, 2-3 instalments for some, one partial for some bad debts.

Grain: one row per payment received on or before the end date, sorted by date then invoice (the
payment ids are assigned in that order). Amounts are whole cents (``int64``), always positive;
an invoice's instalments sum exactly to its amount.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from synthetic.invoices import Invoices
from synthetic.outcomes import Outcomes
from synthetic.params import (
    DEFAULT_PARTIAL_DAYS,
    DEFAULT_PARTIAL_FRACTION,
    DEFAULT_PARTIAL_SHARE,
    PARTIAL_SHARE,
)


@dataclass(frozen=True)
class Payments:
    """Per-payment arrays, in payment-id order."""

    invoice: np.ndarray  # invoice row (index into the Invoices arrays)
    day: np.ndarray  # datetime64[D], on or before the end date
    cents: np.ndarray  # int64, positive


def make_payments(
    rng: np.random.Generator,
    inv: Invoices,
    out: Outcomes,
    start: np.datetime64,
    end: np.datetime64,
) -> Payments:
    """Draw the payments of the book; those dated after ``end`` are dropped (not yet made)."""
    n_parts, bad_debt_partial = _payment_counts(rng, out.defaults, inv.credit)
    rows = [_single_payments(np.flatnonzero(n_parts == 1), inv, out.settle)]
    for k in (2, 3):  # loop over partial-payment counts, not over invoices
        rows.append(_instalments(rng, np.flatnonzero(n_parts == k), k, inv, out.settle))
    rows.append(_bad_debt_payments(rng, np.flatnonzero(bad_debt_partial), inv))
    p_inv = np.concatenate([r[0] for r in rows])
    p_day = np.concatenate([r[1] for r in rows])
    p_cents = np.concatenate([r[2] for r in rows])
    del rows
    keep = p_day <= end
    return _by_day_then_invoice(p_inv[keep], p_day[keep], p_cents[keep], start)


def _payment_counts(
    rng: np.random.Generator, defaults: np.ndarray, credit: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Payments per invoice when it settles (0, 1, 2 or 3) and the bad debts paying once.

    Credit notes and bad debts never settle; a quarter of bad debts get one partial payment
    before the customer stops paying.
    """
    n = credit.size
    paid = ~defaults & ~credit
    n_parts = np.where(paid, 1, 0)
    split = paid & (rng.random(n) < PARTIAL_SHARE)
    n_parts[split] = rng.integers(2, 4, int(split.sum()))
    bad_debt_partial = defaults & (rng.random(n) < DEFAULT_PARTIAL_SHARE)
    return n_parts, bad_debt_partial


_Rows = tuple[np.ndarray, np.ndarray, np.ndarray]  # (invoice row, day, cents)


def _single_payments(idx: np.ndarray, inv: Invoices, settle: np.ndarray) -> _Rows:
    """Invoices paid in one go: the full amount on the settlement date."""
    return idx, settle[idx], inv.cents[idx]


def _instalments(
    rng: np.random.Generator, idx: np.ndarray, k: int, inv: Invoices, settle: np.ndarray
) -> _Rows:
    """Invoices ``idx`` paid in ``k`` instalments that sum to the amount.

    Earlier instalments come at random dates between issue and settlement; the last one on the
    settlement date.
    """
    issue = inv.issue
    parts = _split_cents(rng, inv.cents[idx], k)
    span = (settle[idx] - issue[idx]).astype(np.int64)
    offs = np.sort(np.floor(rng.random((idx.size, k - 1)) * (span[:, None] + 1)), axis=1)
    days = np.concatenate(
        [issue[idx, None] + offs.astype("timedelta64[D]"), settle[idx, None]], axis=1
    )
    return np.repeat(idx, k), days.ravel(), parts.ravel()


def _split_cents(rng: np.random.Generator, cents: np.ndarray, k: int) -> np.ndarray:
    """Split each amount (in cents) into ``k`` positive parts summing exactly to it."""
    # Fractions in [0.2, 0.6) per part for k=2 and [0.15, 0.4) for k=3 keep every part sizeable.
    lo, hi = (0.2, 0.6) if k == 2 else (0.15, 0.4)
    parts = np.empty((cents.size, k), dtype=np.int64)
    rest = cents.copy()
    for j in range(k - 1):
        part = np.maximum(np.floor(cents * rng.uniform(lo, hi, cents.size)).astype(np.int64), 1)
        parts[:, j] = part
        rest -= part
    parts[:, k - 1] = rest
    return parts


def _bad_debt_payments(rng: np.random.Generator, idx: np.ndarray, inv: Invoices) -> _Rows:
    """The only payment of bad debts ``idx``: 20-60% of the amount, between issue and due + 60."""
    issue = inv.issue[idx]
    window = (inv.due[idx] - issue).astype(np.int64) + DEFAULT_PARTIAL_DAYS
    offset = np.floor(rng.random(idx.size) * window).astype("timedelta64[D]")
    frac = rng.uniform(*DEFAULT_PARTIAL_FRACTION, idx.size)
    cents = np.maximum(np.floor(inv.cents[idx] * frac).astype(np.int64), 1)
    return idx, issue + offset, cents


def _by_day_then_invoice(
    p_inv: np.ndarray, p_day: np.ndarray, p_cents: np.ndarray, start: np.datetime64
) -> Payments:
    """The payments sorted by date then invoice (stable: instalments keep their order).

    Two stable sorts instead of a lexsort: by invoice (a few presorted runs, which timsort
    merges quickly), then by day offset as a 16-bit key (radix sort).
    """
    order = np.argsort(p_inv, kind="stable")
    day_off = (p_day[order] - start).astype(np.int64)
    day_key = day_off.astype(np.int16) if day_off.size and day_off.max() < 2**15 else day_off
    order = order[np.argsort(day_key, kind="stable")]
    return Payments(p_inv[order], p_day[order], p_cents[order])
