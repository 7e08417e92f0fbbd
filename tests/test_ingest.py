"""Canonical ingest: every row read is loaded or rejected with its rule; loads are idempotent."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.ingest import IngestError, ingest_files
from pipelines.warehouse import connect

CUSTOMERS = """customer_id,name,country,segment,payment_terms_days,preferred_channel,collector
C1,"Durand, Fils & Cie",FR,SME,30,email,Laura
C2,Müller GmbH,DE,Enterprise,60,phone,Karim
"""

INVOICES = """invoice_id,customer_id,issue_date,due_date,amount,currency,disputed,extra
I1,C1,2026-01-05,2026-02-04,1200.50,EUR,0,ignored
I2,C1,2026-01-10,2026-02-09,-100.00,EUR,no,credit note
I3,C2,2026-01-12,2026-03-13,5000,EUR,yes,
I4,C2,2026-13-01,2026-03-13,10,EUR,0,bad issue date
I5,C2,2026-01-20,2026-01-19,10,EUR,0,due before issue
I6,C2,2026-01-20,2026-02-19,ten,EUR,0,bad amount
I1,C1,2026-01-05,2026-02-04,1200.50,EUR,0,duplicate
I7,C3,2026-01-21,2026-02-20,700,EUR,maybe,bad flag
"""

PAYMENTS = """payment_id,invoice_id,payment_date,amount
P1,I1,2026-02-01,600.25
P2,I1,2026-02-10,600.25
P3,I9,2026-02-10,50
P4,I3,2026-03-01,-5
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def book(tmp_path: Path) -> Path:
    write(tmp_path, "customers.csv", CUSTOMERS)
    write(tmp_path, "invoices.csv", INVOICES)
    write(tmp_path, "payments.csv", PAYMENTS)
    return tmp_path


def test_every_row_is_loaded_or_rejected_with_its_rule(book: Path):
    con = connect(":memory:")
    results = {r.kind: r for r in ingest_files(con, [book])}
    assert [(r.rows_read, r.rows_loaded, r.rows_rejected) for r in results.values()] == [
        (2, 2, 0),
        (8, 3, 5),
        (4, 2, 2),
    ]
    rejects = con.execute("select line, rule from rejects order by file_name, line").fetchall()
    assert rejects == [
        (5, "bad_date"),  # I4: month 13
        (6, "due_before_issue"),  # I5
        (7, "bad_amount"),  # I6: 'ten'
        (8, "duplicate_key"),  # second I1
        (9, "bad_flag"),  # I7: disputed 'maybe'
        (4, "unknown_invoice"),  # P3: no invoice I9
        (5, "non_positive_payment"),  # P4
    ]
    loads = con.execute("select rows_read - rows_loaded - rows_rejected from loads").fetchall()
    assert loads == [(0,), (0,), (0,)]


def test_staging_is_typed_and_settlements_follow_payments(book: Path):
    con = connect(":memory:")
    ingest_files(con, [book])
    settled = dict(
        con.execute(
            "select invoice_id, settled_date::varchar from staging.invoice_settlements"
        ).fetchall()
    )
    # I1 paid in two halves: settled on the second; I2 is a credit note, applied at issue;
    # I3 unpaid.
    assert settled == {"I1": "2026-02-10", "I2": "2026-01-10", "I3": None}
    assert con.execute(
        "select invoice_id, opened_date::varchar from staging.disputes"
    ).fetchall() == [
        ("I3", "2026-01-12")  # no dispute date in the export: opened at issue
    ]


def test_loading_the_same_files_twice_changes_nothing(book: Path):
    con = connect(":memory:")
    ingest_files(con, [book])
    before = con.execute("select count(*) from raw.invoices").fetchall()
    again = ingest_files(con, [book])
    assert all(r.skipped for r in again)
    assert con.execute("select count(*) from raw.invoices").fetchall() == before
    assert con.execute("select count(*) from loads").fetchall() == [(3,)]


def test_an_updated_export_replaces_the_invoice(book: Path):
    con = connect(":memory:")
    ingest_files(con, [book])
    updated = write(
        book,
        "invoices.csv",
        "invoice_id,customer_id,issue_date,due_date,amount,currency,disputed\n"
        "I3,C2,2026-01-12,2026-03-13,4500,EUR,0\n",
    )
    ingest_files(con, [updated])
    assert con.execute(
        "select amount::double from staging.invoices where invoice_id = 'I3'"
    ).fetchall() == [(4500.0,)]
    assert con.execute("select count(*) from staging.disputes").fetchall() == [(0,)]


def test_missing_required_column_names_file_and_columns(tmp_path: Path):
    path = write(tmp_path, "invoices.csv", "invoice_id,customer_id,issue_date\nI1,C1,2026-01-01\n")
    with pytest.raises(
        IngestError,
        match=r"invoices\.csv: rule required_column: .*due_date.*columns found: invoice_id, customer_id, issue_date",
    ):
        ingest_files(connect(":memory:"), [path])


def test_a_failure_mid_load_leaves_the_warehouse_unchanged(book: Path, monkeypatch):
    con = connect(":memory:")
    ingest_files(con, [book / "customers.csv"])
    from pipelines import ingest

    monkeypatch.setitem(ingest._UPSERTS, "invoices", "select * from no_such_table")
    with pytest.raises(Exception, match="no_such_table"):
        ingest_files(con, [book / "invoices.csv"])
    assert con.execute("select count(*) from raw.invoices").fetchall() == [(0,)]
    assert con.execute("select count(*) from loads").fetchall() == [(1,)]
