"""Payments on account: a payments file's row naming its customer and no invoice is cash the
customer paid that is not applied yet (staging.payments_on_account). It is loaded and counted,
moves to staging.payments when a later file applies the same payment_id to an invoice (and back
when one leaves it unapplied), and counts in the customer's credit (features/receivables.py
`unapplied_credit`) from the customer's oldest open invoice on, as an unused credit note does.
Before, such a row was rejected (required_value) and the collector chased cash already paid."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from features.receivables import unapplied_credit
from tests.reliability.test_reading import INV, Book

PAY = "payment_id,invoice_id,customer_id,payment_date,amount\n"


@pytest.fixture
def book(tmp_path) -> Book:
    book = Book(tmp_path)
    book.load(
        "invoices.csv",
        INV + "F1,C1,2026-03-01,2026-03-31,100.00\nF2,C1,2026-04-01,2026-04-30,250.00\n",
    )
    return book


def _on_account(book: Book) -> list[tuple]:
    return book.q(
        "select payment_id, customer_id, payment_date::varchar, amount "
        "from staging.payments_on_account order by 1"
    )


def test_a_payment_without_invoice_is_on_account_counted_and_loaded(book):
    [result] = book.load(
        "payments.csv",
        PAY + "P1,F1,C1,2026-04-02,100.00\nP2,,C1,2026-04-20,80.00\nP3,,,2026-04-20,5.00\n",
    )
    assert _on_account(book) == [("P2", "C1", "2026-04-20", Decimal("80.00"))]
    assert book.q("select payment_id from staging.payments") == [("P1",)]
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (3, 2, 1)
    assert result.payments_on_account == 1
    [(message,)] = book.q("select message from rejects")
    assert message == (
        "payment_id and invoice_id (or, for a payment on account, customer_id) are required"
    )


def test_the_same_payment_applied_later_leaves_the_account_and_back(book):
    book.load("payments.csv", PAY + "P2,,C1,2026-04-20,80.00\n")
    book.load("payments.csv", PAY + "P2,F2,C1,2026-04-20,80.00\n")  # applied to F2
    assert _on_account(book) == []
    assert book.q("select payment_id, invoice_id from staging.payments") == [("P2", "F2")]
    # unapplied again (another file: the same one again is skipped as already loaded)
    book.load("payments.csv", PAY + "P2,,C1,2026-04-20,80.00\nP5,F1,C1,2026-04-02,100.00\n")
    assert [p for p, *_ in _on_account(book)] == ["P2"]
    assert book.q("select payment_id from staging.payments") == [("P5",)]


def test_without_payment_ids_two_equal_payments_on_account_are_two(book):
    pay = "invoice_id,customer_id,payment_date,amount\n"
    book.load("payments.csv", pay + ",C1,2026-04-20,80.00\n,C1,2026-04-20,80.00\n")
    assert len(_on_account(book)) == 2


def test_a_payment_on_account_counts_in_the_credit_from_the_oldest_open_invoice(book):
    book.load(
        "payments.csv",
        PAY + "P0,,C1,2026-02-15,30.00\n"  # before F1 (01/03), C1's oldest open invoice
        "P2,,C1,2026-04-20,80.00\n"
        "P9,,C1,2026-05-20,10.00\n",  # paid on the as-of date: not known yet
    )
    credit = unapplied_credit(book.con, date(2026, 5, 20))
    assert credit[["invoice_id", "open_credit", "kind"]].values.tolist() == [
        ["P2", 80.0, "payment on account"]
    ]


def test_a_payment_on_account_is_in_its_customers_currency(tmp_path):
    book = Book(tmp_path)
    book.load(
        "invoices.csv",
        INV.replace("amount\n", "amount,currency\n")
        + "G1,K,2026-03-01,2026-03-31,100.00,GBP\nG2,K,2026-04-01,2026-04-30,50.00,GBP\n",
    )
    book.load("payments.csv", PAY + "P1,,K,2026-04-20,80.00\n")
    credit = unapplied_credit(book.con, date(2026, 5, 20))
    assert credit[["invoice_id", "currency", "open_credit"]].values.tolist() == [
        ["P1", "GBP", 80.0]
    ]
