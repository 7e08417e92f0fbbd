"""The book: its five tables' columns, the ``Book`` container, and the frames built from arrays.

Grain per table: see the package docstring. Frames hold dates as ``datetime64[us]`` at
midnight, amounts as floats in currency units (from whole cents), text as pandas' ``str``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from synthetic.columns import ids, labels, strings, timestamps
from synthetic.customers import Customers
from synthetic.invoices import Invoices
from synthetic.outcomes import Outcomes
from synthetic.params import ARCHETYPES
from synthetic.payments import Payments
from synthetic.promises import Promises

# Canonical columns (the order is the CSV header order).
CUSTOMER_COLUMNS = [
    "customer_id",
    "name",
    "country",
    "segment",
    "payment_terms_days",
    "payment_terms",
    "preferred_channel",
    "collector",
]
INVOICE_COLUMNS = [
    "invoice_id",
    "customer_id",
    "issue_date",
    "due_date",
    "amount",
    "currency",
    "disputed",
    "dispute_opened_date",
]
PAYMENT_COLUMNS = ["payment_id", "invoice_id", "payment_date", "amount"]
PROMISE_COLUMNS = ["promise_id", "invoice_id", "promised_on", "promised_date", "amount"]
ORACLE_COLUMNS = ["invoice_id", "p_late", "archetype", "trouble_date", "late_outcome"]


@dataclass(frozen=True)
class Book:
    """A synthetic receivables export as of ``end_date`` plus its generating truth.

    ``customers``, ``invoices`` and ``payments`` are the canonical input tables (the pipeline's
    input format); ``oracle`` holds the truth (one row per non-credit invoice) and must only be
    read by tests and benchmarks.
    """

    customers: pd.DataFrame
    invoices: pd.DataFrame
    payments: pd.DataFrame
    oracle: pd.DataFrame
    promises: pd.DataFrame
    # the collectors' ledger of the last months (synthetic/actions.py); empty when not drawn
    actions: pd.DataFrame = dataclasses.field(default_factory=pd.DataFrame)


def assemble_book(
    cust: Customers, inv: Invoices, out: Outcomes, pay: Payments, prom: Promises
) -> Book:
    """The five tables of the book from the generated arrays (no random draws)."""
    invoice_ids = ids("INV-", inv.customer.size, max(7, len(str(inv.customer.size))))
    return Book(
        customers=cust.frame,
        invoices=_invoice_frame(invoice_ids, cust, inv, out),
        payments=_payment_frame(invoice_ids, pay),
        oracle=_oracle_frame(invoice_ids, cust, inv, out),
        promises=_promise_frame(invoice_ids, prom),
    )


def _invoice_frame(
    invoice_ids: pa.Array, cust: Customers, inv: Invoices, out: Outcomes
) -> pd.DataFrame:
    """One row per invoice or credit note; a dispute shows only once opened (by the end date)."""
    ci, visible = inv.customer, out.dispute_visible
    return pd.DataFrame(
        {
            "invoice_id": strings(invoice_ids),
            "customer_id": strings(cust.ids.take(pa.array(ci))),
            "issue_date": timestamps(inv.issue),
            "due_date": timestamps(inv.due),
            "amount": inv.cents / 100.0,
            "currency": labels(("EUR", "GBP"), np.where(cust.gbp[ci], 1, 0)),
            "disputed": visible.astype(np.int64),
            "dispute_opened_date": timestamps(
                np.where(visible, out.dispute_day, np.datetime64("NaT", "D"))
            ),
        },
        copy=False,
    )


def _payment_frame(invoice_ids: pa.Array, pay: Payments) -> pd.DataFrame:
    """One row per payment made by the end date."""
    n = pay.invoice.size
    return pd.DataFrame(
        {
            "payment_id": strings(ids("P", n, max(8, len(str(n))))),
            "invoice_id": strings(invoice_ids.take(pa.array(pay.invoice))),
            "payment_date": timestamps(pay.day),
            "amount": pay.cents / 100.0,
        },
        copy=False,
    )


def _oracle_frame(
    invoice_ids: pa.Array, cust: Customers, inv: Invoices, out: Outcomes
) -> pd.DataFrame:
    """One row per invoice that is not a credit note: the generating truth."""
    real = np.flatnonzero(~inv.credit)
    return pd.DataFrame(
        {
            "invoice_id": strings(invoice_ids.take(pa.array(real))),
            "p_late": out.p_late[real],
            "archetype": labels(ARCHETYPES, inv.archetype[real]),
            "trouble_date": timestamps(cust.trouble_day[inv.customer[real]]),
            "late_outcome": out.late[real].astype(np.int64),
        },
        copy=False,
    )


def _promise_frame(invoice_ids: pa.Array, prom: Promises) -> pd.DataFrame:
    """One row per promise to pay made by the end date."""
    n = prom.invoice.size
    return pd.DataFrame(
        {
            "promise_id": strings(ids("PRM-", n, max(7, len(str(n))))),
            "invoice_id": strings(invoice_ids.take(pa.array(prom.invoice))),
            "promised_on": timestamps(prom.made),
            "promised_date": timestamps(prom.promised),
            "amount": prom.amount,
        },
        copy=False,
    )
