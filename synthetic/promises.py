"""Promises to pay: made when a collector chases an overdue invoice, then kept or broken.

Grain: one row per promise made on or before the end date (at most one per invoice), sorted by
the day made, then invoice. Drawn from their own random stream (``PROMISE_STREAM``), after and
apart from the rest of the book: adding them changed none of the other tables of a seed. The
outcomes and payments are read, never changed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from synthetic.invoices import Invoices
from synthetic.outcomes import Outcomes
from synthetic.params import (
    CHASE_DAYS,
    PROMISE_AMOUNT_SHARE,
    PROMISE_KEPT,
    PROMISE_SHARE_DEFAULT,
    PROMISE_SHARE_LATE,
)
from synthetic.payments import Payments


@dataclass(frozen=True)
class Promises:
    """Per-promise arrays, in promise-id order."""

    invoice: np.ndarray  # invoice row (index into the Invoices arrays)
    made: np.ndarray  # datetime64[D]: the day the promise was made
    promised: np.ndarray  # datetime64[D]: the day the customer promised to pay by
    amount: np.ndarray  # float, 2 decimals: the open amount at the time; NaN when not stated


def make_promises(
    rng: np.random.Generator, inv: Invoices, out: Outcomes, pay: Payments, end: np.datetime64
) -> Promises:
    """Draw the promises to pay of the book from ``rng`` (the promise stream)."""
    cand, made, promised, stated = _promise_dates(rng, inv, out, end)
    open_cents = inv.cents[cand] - _paid_before(pay, cand, made, inv.cents.size)
    amount = np.where(stated & (open_cents > 0), open_cents / 100.0, np.nan)
    order = np.lexsort((cand, made))
    return Promises(cand[order], made[order], promised[order], amount[order])


def _promise_dates(
    rng: np.random.Generator, inv: Invoices, out: Outcomes, end: np.datetime64
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(invoice row, made, promised, stated)`` of the promises made on or before ``end``.

    Every candidate gets all its draws, taken or not, so the stream does not depend on which.
    """
    due, settle, defaults = inv.due, out.settle, out.defaults
    # Candidates: invoices overdue at the first possible chase, chased on or before end.
    first_chase = due + np.timedelta64(CHASE_DAYS[0], "D")
    cand = np.flatnonzero(~inv.credit & (defaults | (settle > first_chase)) & (first_chase <= end))
    chase = rng.integers(CHASE_DAYS[0], CHASE_DAYS[1] + 1, cand.size)
    made = due[cand] + chase.astype("timedelta64[D]")
    bad = defaults[cand]
    share = np.where(bad, PROMISE_SHARE_DEFAULT, PROMISE_SHARE_LATE)
    # A promise needs the invoice still unpaid when chased, and the chase to be in the book.
    take = (rng.random(cand.size) < share) & (bad | (made < settle[cand])) & (made <= end)
    gap = (settle[cand] - made).astype(np.int64)  # days from promise to payment (paid ones)
    kept = ~bad & ((rng.random(cand.size) < PROMISE_KEPT) | (gap < 10))
    # Kept: the payment comes on the promised date or up to 3 days before it.
    kept_date = settle[cand] + rng.integers(0, 4, cand.size).astype("timedelta64[D]")
    # Broken: a date 1-14 days out that passes at least a week before any payment.
    room = np.where(bad, 14, np.clip(gap - 8, 1, 14))
    broken_date = made + (1 + np.floor(rng.random(cand.size) * room)).astype("timedelta64[D]")
    promised = np.where(kept, kept_date, broken_date)
    stated = rng.random(cand.size) < PROMISE_AMOUNT_SHARE
    return cand[take], made[take], promised[take], stated[take]


def _paid_before(pay: Payments, cand: np.ndarray, made: np.ndarray, n: int) -> np.ndarray:
    """Cents paid on invoices ``cand`` before their promise was ``made`` (``n`` invoices)."""
    made_of = np.full(n, np.datetime64("NaT", "D"))
    made_of[cand] = made
    before = pay.day < made_of[pay.invoice]  # NaT compares False: invoices without a promise
    paid = np.bincount(pay.invoice[before], weights=pay.cents[before], minlength=n)
    return paid[cand].astype(np.int64)
