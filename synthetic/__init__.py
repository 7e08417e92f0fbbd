"""Synthetic receivables book: customers, invoices, payments and the generating truth.

The generator exists for demos, tests and benchmarks. It is built so that a model has something
real to learn (persistent customer habits, deterioration, disputes, seasonality, amount and
terms effects) and so that the truth is known: ``oracle.p_late`` is the exact probability, as
known at issue time, that the invoice is settled after its due date (never paid counts as late).

Grain and units
---------------
* ``customers``: one row per customer.
* ``invoices``: one row per invoice or credit note; ``amount`` in ``currency`` units, rounded to
  cents; credit notes have negative amounts and ``due_date == issue_date``.
* ``payments``: one row per payment received on or before ``end_date``; positive amounts.
* ``promises``: one row per promise to pay made on or before ``end_date`` (``promised_on``); the
  customer committed to pay by ``promised_date`` (which may be after ``end_date``) ``amount``, or
  the open amount when empty. Drawn from their own random stream: adding them changed none of the
  other tables of a seed.
* ``oracle``: one row per invoice that is not a credit note. Never read by the pipeline.
  ``p_late`` (6 decimals) is the probability above; ``archetype`` the customer's archetype;
  ``trouble_date`` the deteriorating customer's trouble start (empty otherwise);
  ``late_outcome`` the drawn outcome (1 = late or never paid), also for invoices still open at
  ``end_date`` -- i.e. it knows the future and is for evaluating scores of open invoices only.

All dates are calendar days (``datetime64[us]`` at midnight in the frames, ``YYYY-MM-DD`` in the
CSV files); text columns use pandas' ``str`` dtype. Nothing is dated after ``end_date``: the
book is the export a company would have on that day. The generation is fully vectorised and
depends only on its arguments (no clock, no environment), so the same seed gives identical
frames and identical CSV bytes.

Modules, in the order ``generate_book`` runs them (which is the order of the random draws)
------------------------------------------------------------------------------------------
* ``params``: the generating process's parameters (shares, logits, delays, calendar, names).
* ``customers``: customer profiles, names and habits, and the customers table.
* ``invoices``: rows per customer, issue dates (seasonal), due dates (terms), amounts.
* ``outcomes``: the probabilities at issue time, the drawn outcomes, settlement and dispute dates.
* ``payments``: single payments, instalments and bad debts' partial payments.
* ``promises``: promises to pay, from their own random stream.
* ``actions``: the collectors' ledger of the book's last six months, from its own stream.
* ``book``: the tables' columns, ``Book``, and the frames built from the arrays.
* ``write``: the CSV files. ``generate``: the sequence. ``dates`` and ``columns``: helpers.
"""

from __future__ import annotations

from synthetic.book import (
    CUSTOMER_COLUMNS,
    INVOICE_COLUMNS,
    ORACLE_COLUMNS,
    PAYMENT_COLUMNS,
    PROMISE_COLUMNS,
    Book,
)
from synthetic.generate import generate_book
from synthetic.params import ARCHETYPES
from synthetic.write import write_book

__all__ = [
    "ARCHETYPES",
    "CUSTOMER_COLUMNS",
    "INVOICE_COLUMNS",
    "ORACLE_COLUMNS",
    "PAYMENT_COLUMNS",
    "PROMISE_COLUMNS",
    "Book",
    "generate_book",
    "write_book",
]
