"""``generate_book``: the stages in their fixed order, each drawing from the seed's stream.

The order of the stages is the order of the random draws (customers, invoices, outcomes,
payments); changing it, or any draw inside a stage, changes every book of a seed. Promises
and the collectors' ledger come from their own streams so that they changed nothing else.
"""

from __future__ import annotations

import dataclasses
from datetime import date

import numpy as np

from synthetic.actions import generate_actions
from synthetic.book import Book, assemble_book
from synthetic.customers import make_customers
from synthetic.invoices import make_invoices
from synthetic.outcomes import draw_outcomes
from synthetic.params import PROMISE_STREAM
from synthetic.payments import make_payments
from synthetic.promises import make_promises


def generate_book(
    n_customers: int,
    n_invoices: int,
    seed: int = 0,
    end_date: date = date(2026, 10, 31),
    years: float = 3.0,
) -> Book:
    """Generate a receivables book of ``n_invoices`` rows (credit notes included) as of ``end_date``.

    Invoices are issued over ``[end_date - years, end_date]``; every customer has at least one
    invoice (so ``n_invoices >= n_customers``). Payments after ``end_date`` are not in the book:
    such invoices are open (partially paid ones keep the payments made by ``end_date``). The
    result depends only on the arguments.
    """
    if n_customers < 1 or n_invoices < n_customers:
        raise ValueError("need n_customers >= 1 and n_invoices >= n_customers")
    if years <= 0:
        raise ValueError("years must be positive")
    rng = np.random.default_rng(seed)
    end = np.datetime64(end_date, "D")
    n_days = round(years * 365.25) + 1  # inclusive of both ends
    start = end - np.timedelta64(n_days - 1, "D")

    cust = make_customers(rng, n_customers, start, n_days)
    inv = make_invoices(rng, cust, n_invoices, start, n_days)
    out = draw_outcomes(rng, inv, cust, end)
    pay = make_payments(rng, inv, out, start, end)
    prom = make_promises(np.random.default_rng([seed, PROMISE_STREAM]), inv, out, pay, end)
    book = assemble_book(cust, inv, out, pay, prom)
    return dataclasses.replace(book, actions=generate_actions(book, seed, end_date))
