"""staging.invoice_settlements updated in place (pipelines/ingest `settle`): after a load, the
invoices it touched are recomputed and nothing else; the table equals a rebuild after every
load of every test (tests/conftest.py `settlements_checked`). Here, the loads that change an
invoice's facts without writing a row of it: a payment moved to another invoice, a settlement
date taken back, a payment that waited for its invoice; and when the table is rebuilt whole."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

import pipelines.ingest as ingest
from tests.reliability.test_reading import INV, Book

PAY = "payment_id,invoice_id,payment_date,amount\n"


def _settled(book: Book) -> dict[str, tuple]:
    return {
        i: (s.isoformat() if s else None, paid)
        for i, s, paid in book.q(
            "select invoice_id, settled_date, paid_amount from staging.invoice_settlements"
        )
    }


def _in_place(book: Book) -> int:
    [(n,)] = book.q("select count(*) from staging.settlements_appended")
    return n


@pytest.fixture
def book(tmp_path) -> Book:
    book = Book(tmp_path)
    book.load(
        "invoices.csv",
        INV + "F1,C1,2026-03-01,2026-03-31,100.00\nF2,C1,2026-04-01,2026-04-30,100.00\n"
        "F3,C2,2026-04-01,2026-04-30,50.00\n",
    )
    return book


def test_a_payment_moved_to_another_invoice_leaves_the_first_open(book):
    book.load("payments.csv", PAY + "P1,F1,2026-04-02,100.00\n")
    assert _settled(book)["F1"] == ("2026-04-02", Decimal("100.00"))
    book.load("payments.csv", PAY + "P1,F2,2026-04-03,100.00\n")  # applied to F2 after all
    assert _settled(book)["F1"] == (None, Decimal("0.00"))
    assert _settled(book)["F2"] == ("2026-04-03", Decimal("100.00"))
    assert _in_place(book) == 2


def test_a_settlement_date_taken_back_reopens_the_invoice(book):
    header = "invoice_id,customer_id,issue_date,due_date,amount,settled_date\n"
    book.load("invoices.csv", header + "F3,C2,2026-04-01,2026-04-30,50.00,2026-05-02\n")
    assert _settled(book)["F3"] == ("2026-05-02", Decimal("50.00"))
    book.load("invoices.csv", header + "F3,C2,2026-04-01,2026-04-30,50.00,\n")
    assert _settled(book)["F3"] == (None, Decimal("0.00"))


def test_a_payment_that_waited_for_its_invoice_settles_it_when_it_arrives(book):
    book.load("payments.csv", PAY + "P9,F9,2026-05-10,70.00\n")  # F9 not loaded yet: pending
    book.load("invoices.csv", INV + "F9,C2,2026-04-15,2026-05-15,70.00\n")
    assert _settled(book)["F9"] == ("2026-05-10", Decimal("70.00"))


def test_past_the_share_the_table_is_rebuilt_in_customer_order(book, monkeypatch):
    monkeypatch.setattr(ingest, "REBUILD_SHARE", 0.5)
    book.load("payments.csv", PAY + "P1,F1,2026-04-02,100.00\n")  # 1 of 3 invoices: in place
    assert _in_place(book) == 1
    book.load("payments.csv", PAY + "P2,F2,2026-05-02,100.00\n")  # 1 + 1 of 3: rebuilt whole
    assert _in_place(book) == 0
    assert [s for s, _ in _settled(book).values()].count(None) == 1
    order = [c for (c,) in book.q("select customer_id from staging.invoice_settlements")]
    assert order == sorted(order, key=order.index)  # each customer's rows together
    assert date(2026, 5, 2).isoformat() == _settled(book)["F2"][0]


def test_a_part_payment_an_open_items_export_takes_back_whole(tmp_path):
    """Open amounts 800, then 500 (300 paid), then 800 again: the derived payment is removed."""
    from pipelines.ingest import ingest_files
    from pipelines.warehouse import connect

    con = connect(":memory:")
    header = "invoice_id,customer_id,issue_date,due_date,amount,open_amount\n"
    for day, open_amount in ((1, "800.00"), (2, "500.00"), (3, "800.00")):
        path = tmp_path / f"open_items_{day}.csv"
        path.write_text(header + f"I3,C2,2026-02-10,2026-03-12,800.00,{open_amount}\n")
        ingest_files(con, [path], load_date=date(2026, 3, day), open_items=True)
        paid = con.execute(
            "select paid_amount from staging.invoice_settlements where invoice_id = 'I3'"
        ).fetchall()
        assert paid == [(Decimal("800.00") - Decimal(open_amount),)]


def test_a_table_an_earlier_version_made_is_rebuilt_whole(book):
    """A version of latepay whose settlements have other columns: the next load rebuilds the
    table (updating it in place would fail, or leave the old columns)."""
    book.q("alter table staging.invoice_settlements drop column payments_to_settle")
    book.load("payments.csv", PAY + "P1,F1,2026-04-02,100.00\n")
    assert _in_place(book) == 0
    [(n,)] = book.q(
        "select payments_to_settle from staging.invoice_settlements where invoice_id = 'F1'"
    )
    assert n == 1
