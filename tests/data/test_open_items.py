"""Open-items exports (`latepay ingest FILE --open-items --load-date D`): an invoice of the
previous export absent from this one is settled on D, one listed again is reopened, open_amount
records partial payments; and a series of daily exports made from a generated book gives the
book's settlements, to the export dates."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from pipelines.ingest import IngestError, ingest_files
from pipelines.ingest.mapping import MappingError, parse_mapping
from pipelines.warehouse import connect

D1, D2, D3 = date(2026, 3, 1), date(2026, 3, 2), date(2026, 3, 3)
HEADER = "invoice_id,customer_id,issue_date,due_date,amount,open_amount\n"
I1 = "I1,C1,2026-02-01,2026-03-03,1000.00,1000.00\n"
I2 = "I2,C1,2026-02-05,2026-03-07,500.00,500.00\n"
I3 = "I3,C2,2026-02-10,2026-03-12,800.00,{}\n"
I4 = "I4,C2,2026-02-12,2026-03-14,300.00,300.00\n"
I5 = "I5,C2,2026-03-01,2026-03-31,200.00,200.00\n"
EXPORTS = {
    D1: HEADER + I1 + I2 + I3.format("800.00") + I4,
    # I1 absent: settled by absence; I3 open 500 of 800: 300 paid; I4 absent but paid (P1)
    D2: HEADER + I2 + I3.format("500.00") + I5,
    # I1 listed again: reopened; I2 absent: settled; I3 open 600: 100 of the 300 reversed
    D3: HEADER + I1 + I3.format("600.00") + I5,
}
PAYMENTS = "payment_id,invoice_id,payment_date,amount\nP1,I4,2026-03-01,300.00\n"


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def export(folder: Path, day: date, text: str | None = None) -> Path:
    return write(folder, f"open_items_{day}.csv", text or EXPORTS[day])


def rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple]:
    return con.execute(sql).fetchall()


def three_days(folder: Path) -> duckdb.DuckDBPyConnection:
    """The exports of D1, D2, D3, with the payments file of I4 loaded between D1 and D2."""
    con = connect(":memory:")
    ingest_files(con, [export(folder, D1)], load_date=D1, open_items=True)
    ingest_files(con, [write(folder, "payments.csv", PAYMENTS)], load_date=D1)
    ingest_files(con, [export(folder, D2)], load_date=D2, open_items=True)
    ingest_files(con, [export(folder, D3)], load_date=D3, open_items=True)
    return con


def test_three_exports_settle_reopen_and_follow_open_amounts(tmp_path: Path):
    con = three_days(tmp_path)
    assert rows(
        con,
        "select open_items_date, rows_read, rows_loaded, settled_by_absence, reopened, "
        "partially_paid, payments_reversed from loads where kind = 'invoices' order by load_id",
    ) == [(D1, 4, 4, 0, 0, 0, 0), (D2, 3, 3, 1, 0, 1, 0), (D3, 3, 3, 1, 1, 0, 1)]
    # I4 was paid by the payments file: no second payment when it left the export
    assert rows(
        con, "select payment_id, payment_date, amount from staging.payments order by payment_id"
    ) == [
        ("I2#closed-2026-03-03", D3, Decimal("500.00")),
        ("I3#partial-2026-03-02", D2, Decimal("200.00")),  # 300 paid by D2, 100 reversed on D3
        ("P1", D1, Decimal("300.00")),
    ]
    assert rows(
        con,
        "select invoice_id, settled_date, paid_amount from staging.invoice_settlements "
        "order by invoice_id",
    ) == [
        ("I1", None, Decimal("0.00")),  # reopened
        ("I2", D3, Decimal("500.00")),
        ("I3", None, Decimal("200.00")),
        ("I4", D1, Decimal("300.00")),
        ("I5", None, Decimal("0.00")),
    ]
    assert rows(
        con,
        "select export_date, string_agg(invoice_id || ':' || open_amount, ' ' order by "
        "invoice_id) from staging.open_item_exports group by 1 order by 1",
    ) == [
        (D1, "I1:1000.00 I2:500.00 I3:800.00 I4:300.00"),
        (D2, "I2:500.00 I3:500.00 I5:200.00"),
        (D3, "I1:1000.00 I3:600.00 I5:200.00"),
    ]
    assert rows(
        con,
        "select export_date, invoice_id, event, amount from open_item_events "
        "order by export_date, invoice_id",
    ) == [
        (D2, "I1", "settled_by_absence", Decimal("1000.00")),
        (D2, "I3", "partially_paid", Decimal("300.00")),
        (D3, "I1", "reopened", Decimal("1000.00")),
        (D3, "I2", "settled_by_absence", Decimal("500.00")),
        (D3, "I3", "reversed", Decimal("100.00")),
    ]
    [(reason,)] = rows(con, "select reason from open_item_events where event = 'reopened'")
    assert reason == (
        "listed again in the open-items export of 2026-03-03 after it was settled by absence on "
        "2026-03-02: payment I1#closed-2026-03-02 of 1000.00 removed"
    )


def test_exports_load_in_date_order_and_the_same_export_twice_changes_nothing(tmp_path: Path):
    con = three_days(tmp_path)
    before = rows(con, "select count(*), sum(amount) from staging.payments")
    late = export(tmp_path, D2, HEADER + I5)
    with pytest.raises(IngestError, match="rule stale_open_items"):
        ingest_files(con, [late], load_date=D2, open_items=True)
    [again] = ingest_files(con, [export(tmp_path, D3)], load_date=D3, open_items=True)
    assert again.skipped
    assert rows(con, "select count(*), sum(amount) from staging.payments") == before
    assert rows(con, "select count(*) from loads") == [(4,)]
    # the same content as another day's export is that day's export: I2 reopened
    [d4] = ingest_files(con, [export(tmp_path, D2)], load_date=D3 + timedelta(1), open_items=True)
    assert (d4.skipped, d4.reopened, d4.settled_by_absence) == (False, 1, 1)  # I2 back, I1 gone
    # a second export of that date replaces it: I2 and I3 absent, I1 back
    [again] = ingest_files(
        con, [export(tmp_path, D3, HEADER + I1 + I5)], load_date=d4.open_items_date, open_items=True
    )
    assert (again.reopened, again.settled_by_absence) == (1, 2)
    assert rows(
        con,
        "select export_date, string_agg(invoice_id, ' ' order by invoice_id) "
        "from staging.open_item_exports group by 1 order by 1 desc limit 1",
    ) == [(d4.open_items_date, "I1 I5")]
    assert rows(
        con,
        "select invoice_id, settled_date, paid_amount from staging.invoice_settlements "
        "where invoice_id in ('I2', 'I3') order by 1",
    ) == [
        ("I2", d4.open_items_date, Decimal("500.00")),
        ("I3", d4.open_items_date, Decimal("800.00")),
    ]


def test_a_payment_loaded_with_the_export_or_after_it_is_not_paid_twice(tmp_path: Path):
    con = connect(":memory:")
    a = "A,C1,2026-02-01,2026-03-03,100.00,100.00\n"
    b = "B,C1,2026-02-01,2026-03-03,200.00,200.00\n"
    c = "C,C1,2026-02-01,2026-03-03,300.00,300.00\n"
    ingest_files(con, [export(tmp_path, D1, HEADER + a + b + c)], load_date=D1, open_items=True)
    # the same ingest: payments load first, so B's absence finds it paid
    paid_b = write(
        tmp_path, "pay_b.csv", "payment_id,invoice_id,payment_date,amount\nPB,B,2026-03-01,200\n"
    )
    results = ingest_files(
        con, [export(tmp_path, D2, HEADER + a + c), paid_b], load_date=D2, open_items=True
    )
    assert [(r.kind, r.settled_by_absence) for r in results] == [("payments", 0), ("invoices", 0)]
    # a later ingest: A and C, settled by absence on D3, were paid on D2 (kept: the derived
    # payment is trimmed) and on D4 (after D3: rejected, the export said it was paid)
    ingest_files(con, [export(tmp_path, D3, HEADER)], load_date=D3, open_items=True)
    paid_a_c = write(
        tmp_path,
        "pay_a_c.csv",
        "payment_id,invoice_id,payment_date,amount\nPA,A,2026-03-02,100\nPC,C,2026-03-04,300\n",
    )
    d4 = D3 + timedelta(1)
    results = ingest_files(
        con, [export(tmp_path, d4, HEADER), paid_a_c], load_date=d4, open_items=True
    )
    assert results[0].rejects_by_rule == (("overpayment", 1),)
    assert rows(con, "select payment_id from staging.payments order by 1") == [
        ("C#closed-2026-03-03",),
        ("PA",),
        ("PB",),
    ]
    assert rows(
        con,
        "select invoice_id, settled_date, paid_amount from staging.invoice_settlements order by 1",
    ) == [
        ("A", D2, Decimal("100.00")),
        ("B", D1, Decimal("200.00")),
        ("C", D3, Decimal("300.00")),
    ]
    assert rows(con, "select invoice_id, event, amount from open_item_events order by 1, 2") == [
        ("A", "settled_by_absence", Decimal("100.00")),
        ("A", "trimmed", Decimal("100.00")),
        ("C", "settled_by_absence", Decimal("300.00")),
    ]


def test_a_mapping_section_marks_the_inbox_export_and_open_amounts_are_checked(tmp_path: Path):
    mapping = parse_mapping({"invoices": {"open_items": True, "columns": {"Solde": "open_amount"}}})
    text = (
        "invoice_id,customer_id,issue_date,due_date,amount,Solde\n"
        "I1,C1,2026-02-01,2026-03-03,1000.00,400.00\n"
        "I2,C1,2026-02-01,2026-03-03,1000.00,abc\n"
        "I3,C1,2026-02-01,2026-03-03,1000.00,1200.00\n"
    )
    [result] = ingest_files(
        con := connect(":memory:"), [export(tmp_path, D1, text)], mapping, load_date=D1
    )
    assert (result.open_items_date, result.rows_loaded, result.partially_paid) == (D1, 1, 1)
    assert rows(con, "select line, rule from rejects order by line") == [
        (3, "bad_amount"),
        (4, "bad_open_amount"),
    ]
    assert rows(con, "select payment_id, amount from staging.payments") == [
        ("I1#partial-2026-03-01", Decimal("600.00"))
    ]
    with pytest.raises(MappingError, match="for the \\[invoices\\] section only"):
        parse_mapping({"payments": {"open_items": True}})


def test_one_open_items_export_per_ingest_and_it_is_an_invoices_file(tmp_path: Path):
    con = connect(":memory:")
    first, second = export(tmp_path, D1), export(tmp_path, D2)
    with pytest.raises(IngestError, match="rule several_open_items"):
        ingest_files(con, [first, second], load_date=D2, open_items=True)
    payments = write(tmp_path, "payments.csv", PAYMENTS)
    with pytest.raises(IngestError, match="rule open_items_kind"):
        ingest_files(con, [payments], load_date=D2, open_items=True)
    assert rows(con, "select count(*) from loads") == [(0,)]


def test_cli_prints_what_the_export_settled_and_refuses_a_stale_one(settings_env, tmp_path: Path):
    from typer.testing import CliRunner

    from pipelines.cli import app

    def ingest(day: date, path: Path):
        args = ["ingest", str(path), "--open-items", "--load-date", day.isoformat()]
        return CliRunner().invoke(app, args, terminal_width=250)

    assert ingest(D1, export(tmp_path, D1)).exit_code == 0
    second = ingest(D2, export(tmp_path, D2))
    assert second.exit_code == 0, second.output
    assert "open items of 2026-03-02: 2 settled by absence, 0 reopened" in second.output
    stale = ingest(D1, export(tmp_path, D1, HEADER + I5))
    assert stale.exit_code == 1 and "stale_open_items" in stale.output


# --------------------------------------------------------------------------- a generated book

BOOK_END = date(2026, 10, 31)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory):
    """The book, its last 60 days' open-items exports, and its full history's settlements."""
    from synthetic import generate_book, write_book
    from synthetic.open_items import last_days, write_open_items

    book = generate_book(100, 2000, seed=3, years=1.0)
    folder = tmp_path_factory.mktemp("open_items")
    days = last_days(BOOK_END, 60)
    exports = write_open_items(book, folder / "exports", days)
    write_book(book, folder / "full")
    con = connect(":memory:")
    ingest_files(con, [folder / "full"], load_date=BOOK_END)
    truth = con.execute(
        "select invoice_id, issue_date, settled_date, amount from staging.invoice_settlements "
        "where amount > 0"
    ).df()
    for column in ("issue_date", "settled_date"):
        truth[column] = truth[column].dt.date
    paid = book.payments.assign(payment_date=book.payments["payment_date"].dt.date)
    return exports, truth, paid


def expected_settlements(truth: pd.DataFrame, days: list[date]) -> dict[str, date | None]:
    """For each invoice some export lists (issued before it, not paid in full before it), the
    settlement the exports give: the first export date after its true settlement date s (the
    first export without it), or none while every later export lists it."""
    expected = {}
    for row in truth.itertuples():
        s = row.settled_date if pd.notna(row.settled_date) else None
        if any(row.issue_date < d and (s is None or d <= s) for d in days):
            expected[row.invoice_id] = next((d for d in days if s is not None and d > s), None)
    return expected


@pytest.mark.parametrize(
    "every",
    # (daily: 5 seconds of exports, in the slow suite; weekly checks the same rule quickly)
    [pytest.param(1, id="daily", marks=pytest.mark.slow), pytest.param(7, id="weekly")],
)
def test_open_items_exports_of_a_book_give_its_settlements_to_the_export_dates(generated, every):
    """The property: loading only the exports (dated D, the invoices open at the start of D),
    each invoice the exports list is settled on the first export date after the day the full
    history settles it, i.e. the first export date >= s + 1 (s + 1 itself with daily exports);
    never earlier, so no feature as of a date sees a payment before it happened. An invoice
    still listed by the last export is open, with what its open_amount says was paid."""
    exports, truth, paid = generated
    days = sorted(exports)[::every]
    con = connect(":memory:")
    for day in days:
        [result] = ingest_files(con, [exports[day]], load_date=day, open_items=True)
        assert result.rows_rejected == 0 and result.reopened == 0
    series = con.execute(
        "select invoice_id, settled_date, paid_amount from staging.invoice_settlements"
    ).df()
    got = {
        r.invoice_id: (r.settled_date.date() if pd.notna(r.settled_date) else None)
        for r in series.itertuples()
    }
    expected = expected_settlements(truth, days)
    assert got == expected
    settled = [i for i, d in expected.items() if d is not None]
    assert len(settled) > 100
    if every == 1:  # daily: the day after the true settlement
        true_date = truth.set_index("invoice_id")["settled_date"]
        assert all(expected[i] == true_date[i] + timedelta(1) for i in settled)
    # paid in full when settled; while open, what was paid before the last export
    last = days[-1]
    before_last = paid[paid["payment_date"] < last].groupby("invoice_id")["amount"].sum()
    amounts = truth.set_index("invoice_id")["amount"]
    for r in series.itertuples():
        want = amounts[r.invoice_id] if got[r.invoice_id] else before_last.get(r.invoice_id, 0)
        assert float(r.paid_amount) == pytest.approx(float(want), abs=0.005), r.invoice_id
