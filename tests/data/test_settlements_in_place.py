"""staging.invoice_settlements updated in place (pipelines/ingest `settle`): after a load, the
invoices it touched are recomputed and nothing else; the table equals a rebuild after every
load of every test (tests/conftest.py `settlements_checked`). Here, the loads that change an
invoice's facts without writing a row of it: a payment moved to another invoice, a settlement
date taken back, a payment that waited for its invoice; and when the table is rebuilt whole."""

from __future__ import annotations

import contextlib
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


INVOICES = [f"I{i}" for i in range(1, 5)]
PAYMENTS = [f"P{i}" for i in range(1, 5)]
START = date(2026, 1, 1)


def _day(draw, st, last: date) -> date:
    return START + timedelta(days=draw(st.integers(0, (last - START).days)))


@st.composite
def _loads(draw) -> list[tuple[str, str]]:
    """A few days of exports on a universe of 4 invoices (and I5, named by payments, never
    loaded) and 4 payments, whose ids come back moved, changed, on account or taken back."""
    loads = []
    for step in range(draw(st.integers(2, 8))):
        today = date(2026, 3, 1) + timedelta(days=10 * step)
        kind = draw(st.sampled_from(["invoices", "payments", "open_items", "actions"]))
        rows = []
        for invoice in draw(
            st.lists(st.sampled_from(INVOICES), min_size=1, max_size=4, unique=True)
        ):
            issued = _day(draw, st, today - timedelta(days=30))
            amount = draw(st.sampled_from([100, 250, -40]))
            if kind == "invoices":
                settled = draw(st.sampled_from(["", _day(draw, st, today).isoformat()]))
                rows.append(
                    f"{invoice},C1,{issued},{issued + timedelta(days=30)},{amount},{settled}"
                )
            elif kind == "open_items":
                left = draw(st.sampled_from([amount, amount // 2, 0]))
                rows.append(f"{invoice},C1,{issued},{issued + timedelta(days=30)},{amount},{left}")
            elif kind == "actions":
                act = draw(st.sampled_from(["dispute_opened", "dispute_resolved", "call_made"]))
                rows.append(f",C1,{invoice},{_day(draw, st, today)},{act},phone,Ann,,,")
        if kind == "payments":
            for payment in draw(
                st.lists(st.sampled_from(PAYMENTS), min_size=1, max_size=5, unique=True)
            ):
                invoice = draw(st.sampled_from([*INVOICES, "I5", ""]))
                amount = draw(st.sampled_from([50, 100, 250]))
                paid = today - timedelta(days=draw(st.integers(0, 9)))  # (after any issue)
                rows.append(f"{payment},{invoice},C1,{paid},{amount}")
        loads.append((kind, today, rows))
    return loads


HEADERS = {
    "invoices": "invoice_id,customer_id,issue_date,due_date,amount,settled_date",
    "open_items": "invoice_id,customer_id,issue_date,due_date,amount,open_amount",
    "actions": "action_id,customer_id,invoice_id,action_date,action,channel,collector,"
    "promised_date,promised_amount,note",
    "payments": "payment_id,invoice_id,customer_id,payment_date,amount",
}


@pytest.mark.slow  # (half a minute: 100 sequences of loads)
@settings(max_examples=100, deadline=None)
@given(_loads())
def test_any_sequence_of_loads_leaves_the_table_a_rebuild_would_make(tmp_path_factory, loads):
    """Whatever the exports say, in whatever order: after every load the table updated in place
    equals a rebuild (tests/conftest.py `settlements_checked` compares them)."""
    from pipelines.ingest import IngestError, ingest_files
    from pipelines.warehouse import connect

    folder = tmp_path_factory.mktemp("loads")
    con = connect(":memory:")
    for n, (kind, today, rows) in enumerate(loads):
        name = "open_items.csv" if kind == "open_items" else f"{kind}.csv"
        path = folder / f"{n}" / name
        path.parent.mkdir()
        path.write_text("\n".join([HEADERS[kind], *rows]) + "\n", encoding="utf-8")
        with contextlib.suppress(IngestError):  # a whole file refused: nothing loaded
            ingest_files(con, [path], load_date=today, open_items=kind == "open_items")
