"""Canonical ingest: every row read is loaded or rejected with its rule; loads are idempotent."""

from __future__ import annotations

import ast
import hashlib
import re
from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest

from pipelines.ingest import IngestError, ingest_files, rules
from pipelines.ingest.inbox import inbox_files, move_files
from pipelines.ingest.mapping import load_mapping
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
    assert [
        (r.rows_read, r.rows_loaded, r.rows_pending, r.rows_rejected) for r in results.values()
    ] == [
        (2, 2, 0, 0),
        (8, 3, 0, 5),
        (4, 2, 1, 1),  # P3 waits for invoice I9
    ]
    rejects = con.execute("select line, rule from rejects order by file_name, line").fetchall()
    assert rejects == [
        (5, "bad_date"),  # I4: month 13
        (6, "due_before_issue"),  # I5
        (7, "bad_amount"),  # I6: 'ten'
        (8, "duplicate_key"),  # second I1
        (9, "bad_flag"),  # I7: disputed 'maybe'
        (5, "non_positive_payment"),  # P4
    ]
    loads = con.execute(
        "select rows_read - rows_loaded - rows_pending - rows_rejected from loads"
    ).fetchall()
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
    before = {
        t: con.execute(f"select * from {t} order by all").fetchall()
        for t in ("loads", "rejects", "raw.customers", "staging.customers", "staging.invoices")
    }
    from pipelines.ingest import upsert

    def crash(con, plan, load_id):
        con.execute("select * from no_such_table")

    # invoices load fine, then the payments file fails: the invoices must not stay either
    monkeypatch.setitem(upsert.UPSERT, "payments", crash)
    with pytest.raises(Exception, match="no_such_table"):
        ingest_files(con, [book])
    after = {t: con.execute(f"select * from {t} order by all").fetchall() for t in before}
    assert after == before
    assert con.execute("select count(*) from raw.invoices").fetchall() == [(0,)]


# --------------------------------------------------------------------------- one fixture per case

FIXTURES = Path(__file__).parents[1] / "fixtures" / "ingest"
LOAD_DATE = date(2026, 6, 30)


def loaded_base() -> duckdb.DuckDBPyConnection:
    """A warehouse holding customer C1, invoice I1 (1000, open) and I2 (500, paid by P1)."""
    con = connect(":memory:")
    ingest_files(con, [FIXTURES / "base"], load_date=LOAD_DATE)
    return con


def counts(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    return con.execute(
        "select rows_read, rows_loaded, rows_pending, rows_rejected from loads "
        "where load_id = (select max(load_id) from loads)"
    ).fetchall()


# case folder: (rule, line of the rejected row, (read, loaded, pending, rejected) of the file)
ROW_CASES = {
    "bad_date": ("bad_date", 3, (2, 1, 0, 1)),  # 30 February
    "bad_amount": ("bad_amount", 3, (2, 1, 0, 1)),  # 'ten'
    "due_before_issue": ("due_before_issue", 3, (2, 1, 0, 1)),
    "duplicate_invoice": ("duplicate_key", 3, (2, 1, 0, 1)),  # N1 twice in one file
    "duplicate_payment": ("duplicate_key", 3, (2, 1, 0, 1)),  # P7 twice in one file
    "required_value": ("required_value", 3, (2, 1, 0, 1)),  # empty invoice_id
    "bad_flag": ("bad_flag", 3, (2, 1, 0, 1)),  # disputed 'maybe'
    "bad_currency": ("bad_currency", 3, (2, 1, 0, 1)),  # 'EURO'
    "currency_mismatch": ("currency_mismatch", 3, (2, 1, 0, 1)),  # $10.00 in EUR
    "future_invoice": ("future_date", 3, (2, 1, 0, 1)),  # issued after the load date
    "future_payment": ("future_date", 3, (2, 1, 0, 1)),  # paid after the load date
    "absurd_amount": ("absurd_value", 3, (2, 1, 0, 1)),  # 5e12
    "absurd_terms": ("absurd_value", 3, (2, 1, 0, 1)),  # due five years after issue
    "absurd_customer_terms": ("absurd_value", 3, (2, 1, 0, 1)),  # 999 days
    "bad_number": ("bad_number", 3, (2, 1, 0, 1)),  # terms 'thirty'
    "non_positive_payment": ("non_positive_payment", 3, (2, 1, 0, 1)),
    "overpayment": ("overpayment", 3, (2, 1, 0, 1)),  # I2 was already paid in full by P1
    "overpaid_settlement": ("overpayment", 3, (2, 1, 0, 1)),  # paid 99 on an invoice of 10
    "settled_before_issue": ("settled_before_issue", 3, (2, 1, 0, 1)),
    "wrong_field_count": ("wrong_field_count", 3, (2, 1, 0, 1)),  # a field short
    "french_bad_date": ("bad_date", 3, (2, 1, 0, 1)),  # 31/02/2026
    "french_bad_amount": ("bad_amount", 4, (3, 2, 0, 1)),  # "12.5" in a decimal-comma file
    "missing_due_from_terms": ("bad_date", 3, (2, 1, 0, 1)),  # C9 has no payment terms
    "multiline_field": ("bad_amount", 4, (2, 1, 0, 1)),  # row 1 spans lines 2-3
}


@pytest.mark.parametrize("case", sorted(ROW_CASES))
def test_each_bad_row_is_rejected_with_its_rule_and_counts_reconcile(case: str):
    rule, line, expected = ROW_CASES[case]
    con = loaded_base()
    folder = FIXTURES / case
    mapping = folder / "mapping.toml"
    files = [p for p in folder.iterdir() if p.suffix != ".toml"]
    ingest_files(con, files, mapping if mapping.exists() else None, load_date=LOAD_DATE)
    assert counts(con) == [expected]
    rejects = con.execute(
        "select file_name, line, rule, message, row_text from rejects "
        "where load_id = (select max(load_id) from loads)"
    ).fetchall()
    assert [(r[1], r[2]) for r in rejects] == [(line, rule)]
    file_name, _, _, message, row_text = rejects[0]
    assert file_name.endswith(files[0].name) and message and row_text


# case folder: (rule named in the error, files given)
FILE_CASES = {
    "empty_file": "empty_file",
    "binary_file": "not_tabular",
    "no_separator": "not_tabular",
    "unknown_kind": "unknown_kind",
    "required_column": "required_column",
    "ambiguous_dates": "ambiguous_date_format",
    "ambiguous_decimal": "ambiguous_decimal_mark",
    "duplicate_column": "duplicate_column",
    "bad_mapping": "bad_mapping",
    "no_such_folder": "no_such_file",
}


@pytest.mark.parametrize("case", sorted(FILE_CASES))
def test_a_file_that_cannot_be_loaded_stops_the_ingest_and_changes_nothing(case: str):
    con = loaded_base()
    folder = FIXTURES / case
    mapping = folder / "mapping.toml"
    paths = [FIXTURES / "base" / "customers.csv", folder]
    with pytest.raises(IngestError, match=rf"rule {FILE_CASES[case]}\b") as raised:
        ingest_files(con, paths, mapping if mapping.exists() else None, load_date=LOAD_DATE)
    if case != "bad_mapping" and case != "no_such_folder":
        assert str(folder) in str(raised.value)  # the message names the file
    # nothing was loaded, not even the good file given alongside
    assert con.execute("select count(*), sum(rows_read) from loads").fetchall() == [(3, 4)]


def test_required_column_lists_what_was_found():
    with pytest.raises(IngestError, match=r"lacks due_date, amount.*columns found: invoice_id"):
        ingest_files(connect(":memory:"), [FIXTURES / "required_column"])


def test_ambiguous_dates_ask_for_the_format():
    with pytest.raises(IngestError, match=r'date_format = "%d/%m/%Y".*"%m/%d/%Y"'):
        ingest_files(connect(":memory:"), [FIXTURES / "ambiguous_dates"])


def test_a_header_only_file_loads_nothing_and_says_so():
    con = loaded_base()
    [result] = ingest_files(con, [FIXTURES / "header_only"], load_date=LOAD_DATE)
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (0, 0, 0)


def test_a_payment_for_an_unknown_invoice_waits_and_is_matched_later(tmp_path: Path):
    con = loaded_base()
    pays = write(
        tmp_path, "payments.csv", "payment_id,invoice_id,payment_date,amount\nP9,N5,2026-03-10,10\n"
    )
    [result] = ingest_files(con, [pays], load_date=LOAD_DATE)
    assert (result.rows_read, result.rows_loaded, result.rows_pending) == (1, 0, 1)
    assert con.execute("select payment_id from staging.pending_payments").fetchall() == [("P9",)]
    invoices = write(
        tmp_path,
        "invoices.csv",
        "invoice_id,customer_id,issue_date,due_date,amount\nN5,C1,2026-03-01,2026-03-31,10\n",
    )
    [result] = ingest_files(con, [invoices], load_date=LOAD_DATE)
    assert result.payments_matched == 1
    assert con.execute("select count(*) from staging.pending_payments").fetchall() == [(0,)]
    assert con.execute(
        "select settled_date::varchar from staging.invoice_settlements where invoice_id = 'N5'"
    ).fetchall() == [("2026-03-10",)]


# --------------------------------------------------------------------------- formats


FRENCH = (
    "invoice_id;customer_id;issue_date;due_date;amount;currency;disputed\r\n"
    "F-1;C1;05/01/2026;04/02/2026;1 234,56;EUR;non\r\n"
    "F-2;C1;20/01/2026;19/02/2026;-100,00;EUR;oui\r\n"  # a credit note; 20 > 12: day first
    "F-3;Société Générale;02/02/2026;04/03/2026;12 000,5;EUR;non\r\n"
)


def test_french_cp1252_export_loads_without_mapping(tmp_path: Path):
    path = tmp_path / "factures.csv"
    path.write_bytes(FRENCH.encode("cp1252"))
    con = connect(":memory:")
    [result] = ingest_files(con, [path], load_date=LOAD_DATE)
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (3, 3, 0)
    assert "cp1252" in result.source_format and "%d/%m/%Y" in result.source_format
    rows = con.execute(
        "select invoice_id, customer_id, issue_date::varchar, amount::double, disputed "
        "from staging.invoices order by invoice_id"
    ).fetchall()
    assert rows == [
        ("F-1", "C1", "2026-01-05", 1234.56, False),
        ("F-2", "C1", "2026-01-20", -100.0, True),  # credit note kept as a credit note
        ("F-3", "Société Générale", "2026-02-02", 12000.5, False),
    ]


def test_utf8_bom_and_us_dates(tmp_path: Path):
    path = tmp_path / "invoices.csv"
    text = (
        "invoice_id,customer_id,issue_date,due_date,amount\n"
        'U-1,C1,1/5/2026,2/4/2026,"1,234.50"\n'
        "U-2,C1,1/20/2026,2/19/2026,99.99\n"  # 20 in second place: month first
    )
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    con = connect(":memory:")
    [result] = ingest_files(con, [path], load_date=LOAD_DATE)
    assert (result.rows_read, result.rows_loaded) == (2, 2)
    assert con.execute(
        "select issue_date::varchar, amount::double from staging.invoices order by 1"
    ).fetchall() == [("2026-01-05", 1234.5), ("2026-01-20", 99.99)]


US_LIST = (
    "Invoice #,Customer,Invoice Date,Terms,Total,Paid On,Amount Paid\n"
    "1001,ACME,01/05/2026,30,500.00,02/20/2026,500.00\n"  # paid in full, late
    "1002,ACME,01/15/2026,30,800.00,02/10/2026,300.00\n"  # partly paid: stays open
    "1003,Globex,02/01/2026,45,1200.00,,\n"  # open
    "1004,Globex,02/03/2026,45,-50.00,,\n"  # credit note
)
US_MAPPING = """
[invoices.columns]
"Invoice #" = "invoice_id"
"Customer" = "customer_id"
"Invoice Date" = "issue_date"
"Terms" = "payment_terms_days"
"Total" = "amount"
"Paid On" = "settled_date"
"Amount Paid" = "paid_amount"

[invoices.constants]
currency = "USD"

[invoices.derive]
due_date = "issue_date + payment_terms_days"
"""


def test_us_invoice_list_with_settlement_dates_derives_payments(tmp_path: Path):
    data = write(tmp_path, "ar_aging.csv", US_LIST)
    mapping = write(tmp_path, "us.toml", US_MAPPING)
    con = connect(":memory:")
    [result] = ingest_files(con, [data], mapping, load_date=LOAD_DATE)
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (4, 4, 0)
    assert result.payments_derived == 2
    settled = con.execute(
        "select invoice_id, i.due_date::varchar, i.currency, s.paid_amount::double, "
        "s.settled_date::varchar from staging.invoices as i join staging.invoice_settlements as s "
        "using (invoice_id) order by invoice_id"
    ).fetchall()
    assert settled == [
        ("1001", "2026-02-04", "USD", 500.0, "2026-02-20"),
        ("1002", "2026-02-14", "USD", 300.0, None),
        ("1003", "2026-03-18", "USD", 0.0, None),
        ("1004", "2026-03-20", "USD", 0.0, "2026-02-03"),
    ]
    # customers derived from the invoices
    assert con.execute("select customer_id from staging.customers order by 1").fetchall() == [
        ("ACME",),
        ("Globex",),
    ]
    # the next export: 1002 now paid in full, 1003 paid; derived payments follow
    later = write(
        tmp_path,
        "ar_aging.csv",
        US_LIST.replace("02/10/2026,300.00", "03/01/2026,800.00").replace(
            "1200.00,,", "1200.00,03/05/2026,"
        ),
    )
    [result] = ingest_files(con, [later], mapping, load_date=LOAD_DATE)
    assert (result.payments_derived, result.rows_unchanged) == (2, 4)
    assert con.execute(
        "select count(*) from staging.invoice_settlements where settled_date is not null"
    ).fetchall() == [(4,)]


def test_excel_and_parquet_round_trip(tmp_path: Path):
    import openpyxl
    import pandas as pd

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["invoice_id", "customer_id", "issue_date", "due_date", "amount"])
    sheet.append(["X1", "C1", datetime(2026, 1, 5), datetime(2026, 2, 4), 1234.5])
    sheet.append(["X2", "C1", datetime(2026, 1, 6), datetime(2026, 2, 5), "oops"])
    book.save(tmp_path / "invoices.xlsx")
    pd.DataFrame(
        {
            "payment_id": ["Q1"],
            "invoice_id": ["X1"],
            "payment_date": [date(2026, 2, 1)],
            "amount": [100.0],
        }
    ).to_parquet(tmp_path / "payments.parquet")
    con = connect(":memory:")
    results = ingest_files(con, [tmp_path], load_date=LOAD_DATE)
    assert [(r.kind, r.rows_read, r.rows_loaded, r.rows_rejected) for r in results] == [
        ("invoices", 2, 1, 1),
        ("payments", 1, 1, 0),
    ]
    assert con.execute("select line, rule from rejects").fetchall() == [(3, "bad_amount")]


# --------------------------------------------------------------------------- updates, safety


def test_a_changed_invoice_is_versioned_not_overwritten(tmp_path: Path):
    con = loaded_base()
    updated = write(
        tmp_path,
        "invoices.csv",
        "invoice_id,customer_id,issue_date,due_date,amount,currency,disputed\n"
        "I1,C1,2026-01-05,2026-02-04,900.00,EUR,1\n"  # amount and dispute changed
        "I2,C1,2026-01-10,2026-02-09,500.00,EUR,0\n",  # unchanged
    )
    [result] = ingest_files(con, [updated], load_date=LOAD_DATE)
    assert (result.rows_updated, result.rows_unchanged) == (1, 1)
    assert con.execute(
        "select amount::double, disputed from staging.invoices where invoice_id = 'I1'"
    ).fetchall() == [(900.0, True)]
    assert con.execute(
        "select invoice_id, amount::double, disputed, valid_from_load_id, valid_to_load_id "
        "from staging.invoice_versions"
    ).fetchall() == [("I1", 1000.0, False, 2, 4)]


def test_two_processes_cannot_write_at_once(tmp_path: Path):
    import subprocess
    import sys

    from pipelines.warehouse import WarehouseLocked

    path = tmp_path / "w.duckdb"
    connect(path).close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, time; c = duckdb.connect({str(path)!r}); print('ok', flush=True); time.sleep(30)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ok"
        with pytest.raises(WarehouseLocked, match="in use by another latepay process"):
            connect(path)
    finally:
        holder.kill()
        holder.wait()


MAPPINGS = Path(__file__).parents[2] / "data" / "mappings"


def test_french_erp_export_with_the_shipped_mapping():
    con = connect(":memory:")
    results = ingest_files(
        con, [FIXTURES / "fr_export"], MAPPINGS / "fr_erp_factures.toml", load_date=LOAD_DATE
    )
    assert [
        (r.kind, r.rows_read, r.rows_loaded, r.rows_pending, r.rows_rejected) for r in results
    ] == [
        ("customers", 2, 2, 0, 0),
        ("invoices", 4, 4, 0, 0),
        ("payments", 3, 1, 1, 1),  # RG-2 waits for FA-009; RG-3 'abc'
    ]
    assert con.execute(
        "select invoice_id, amount::double, disputed from staging.invoices order by 1"
    ).fetchall() == [
        ("FA-001", 1234.56, False),
        ("FA-002", -120.0, False),
        ("FA-003", 8400.0, True),
        ("FA-004", 99.9, False),
    ]
    # FA-001 carries its settlement date; FA-003 has a partial payment from the payments file
    assert con.execute(
        "select invoice_id, paid_amount::double, settled_date::varchar "
        "from staging.invoice_settlements order by 1"
    ).fetchall() == [
        ("FA-001", 1234.56, "2026-03-10"),
        ("FA-002", 0.0, "2026-02-10"),
        ("FA-003", 4000.0, None),
        ("FA-004", 0.0, None),
    ]
    assert con.execute("select name, collector from staging.customers order by 1").fetchall() == [
        ("Boulangerie Lefèvre", "Amélie"),
        ("Société Œnologie", "Amélie"),
    ]
    [(line, rule, row_text)] = con.execute("select line, rule, row_text from rejects").fetchall()
    assert (line, rule, row_text) == (4, "bad_amount", "RG-3;FA-003;22/03/2026;abc")


def test_us_invoice_list_with_the_shipped_mapping():
    con = connect(":memory:")
    [result] = ingest_files(
        con, [FIXTURES / "us_export"], MAPPINGS / "us_invoice_list.toml", load_date=LOAD_DATE
    )
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (5, 4, 1)
    assert result.reject_examples == (
        "line 6 [bad_date] issue_date is not a date (%m/%d/%Y): 2/30/2026",
    )
    assert con.execute(
        "select invoice_id, due_date::varchar, disputed from staging.invoices order by 1"
    ).fetchall() == [
        ("1001", "2026-02-04", False),
        ("1002", "2026-02-14", False),
        ("1003", "2026-03-18", True),
        ("1004", "2026-03-20", False),
    ]
    assert result.payments_derived == 2


# --------------------------------------------------------------------------- mapping files

# A mistyped mapping: TOML, the section and the key the message must name (file-level: None).
BAD_MAPPINGS = {
    "files_not_a_list": ("[invoices]\nfiles = 3\n", "[invoices]", "files"),
    "columns_not_a_table": ('[invoices]\ncolumns = "x"\n', "[invoices]", "columns"),
    "unknown_encoding": ('[invoices]\nencoding = "klingon"\n', "[invoices]", "encoding"),
    "unknown_default_encoding": ('encoding = "klingon"\n[invoices]\n', None, "encoding"),
    "date_format_without_directive": (
        '[invoices]\ndate_format = "dd/mm/yyyy"\n',
        "[invoices]",
        "date_format",
    ),
    "date_format_not_text": ("[invoices]\ndate_format = 5\n", "[invoices]", "date_format"),
    "decimal_mark": ('[invoices]\ndecimal_mark = ";"\n', "[invoices]", "decimal_mark"),
    "delimiter": ('[invoices]\ndelimiter = ":"\n', "[invoices]", "delimiter"),
    "sheet_not_text": ("[invoices]\nsheet = 2\n", "[invoices]", "sheet"),
    "misspelt_key": ('[invoices.colums]\nTotal = "amount"\n', "[invoices]", "colums"),
    "unknown_section": ('[invoice]\nfiles = ["x.csv"]\n', None, "invoice"),
    "section_not_a_table": ("invoices = 3\n", None, "invoices"),
    "value_map_not_a_table": (
        '[invoices.values]\ndisputed = "yes"\n',
        "[invoices.values]",
        "disputed",
    ),
    "constant_not_a_value": (
        '[invoices.constants]\ncurrency = ["EUR"]\n',
        "[invoices.constants]",
        "currency",
    ),
    "unknown_constant": (
        '[invoices.constants]\nkurrency = "EUR"\n',
        "[invoices.constants]",
        "kurrency",
    ),
    "unknown_target": (
        '[invoices.columns]\nTotal = "amount_ttc"\n',
        "[invoices.columns]",
        "amount_ttc",
    ),
    "two_columns_one_field": (
        '[invoices.columns]\nTotal = "amount"\nMontant = "amount"\n',
        "[invoices.columns]",
        "amount",
    ),
    "unsupported_derive": (
        '[payments.derive]\ndue_date = "issue_date + 30"\n',
        "[payments.derive]",
        "due_date",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_MAPPINGS))
def test_a_mistyped_mapping_is_refused_naming_file_and_key(tmp_path: Path, case: str):
    text, section, key = BAD_MAPPINGS[case]
    mapping = write(tmp_path, "mapping.toml", text)
    con = connect(":memory:")
    with pytest.raises(IngestError, match=r"rule bad_mapping: .*mapping\.toml") as raised:
        ingest_files(con, [FIXTURES / "base"], mapping, load_date=LOAD_DATE)
    message = str(raised.value)
    assert key in message
    assert f"mapping.toml {section}: " in message if section else "mapping.toml: " in message
    assert con.execute("select count(*) from loads").fetchall() == [(0,)]


def test_the_shipped_mappings_read_as_before():
    fr = load_mapping(MAPPINGS / "fr_erp_factures.toml").sections
    assert sorted(fr) == ["customers", "invoices", "payments"]
    invoices = fr["invoices"]
    assert invoices.files == ("factures*.csv", "factures*.xlsx")
    assert (invoices.delimiter, invoices.encoding, invoices.date_format, invoices.decimal_mark) == (
        ";",
        "cp1252",
        "%d/%m/%Y",
        ",",
    )
    assert invoices.columns["N° facture"] == "invoice_id"
    assert invoices.values == {"disputed": {"Oui": "yes", "Non": "no"}}
    us = load_mapping(MAPPINGS / "us_invoice_list.toml").sections["invoices"]
    assert (us.due_days, us.due_from_terms, us.constants) == (None, True, {"currency": "USD"})
    assert us.files == () and us.delimiter is None


def test_a_mapping_keeps_its_hash_so_loaded_files_are_recognised(tmp_path: Path):
    # loads.mapping_hash comes from the section's canonical text: changing how a mapping is read
    # must not change it, or every file loaded with a mapping would be loaded again.
    section = load_mapping(write(tmp_path, "us.toml", US_MAPPING)).sections["invoices"]
    assert hashlib.sha256(section.text.encode()).hexdigest()[:16] == "43d680a22f4c5063"


def test_tab_delimiters_dates_and_yaml_booleans_read_as_text(tmp_path: Path):
    section = load_mapping(
        write(
            tmp_path,
            "m.toml",
            'delimiter = "tab"\n[invoices]\nfiles = "inv*.tsv"\n'
            "[invoices.constants]\ndispute_opened_date = 2026-01-31\n",
        )
    ).sections["invoices"]
    assert (section.delimiter, section.files) == ("\t", ("inv*.tsv",))
    assert section.constants == {"dispute_opened_date": "2026-01-31"}
    yaml_section = load_mapping(
        write(tmp_path, "m.yaml", "invoices:\n  values:\n    disputed:\n      Oui: yes\n")
    ).sections["invoices"]
    assert yaml_section.values == {"disputed": {"Oui": "true"}}


def test_rules_py_holds_every_reject_rule_in_the_readme_order():
    # A newcomer reads the rules in pipelines/ingest/rules.py in the order of the README's table.
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    table = readme.split("### Rules", 1)[1].split("\n### ", 1)[0]
    documented = re.findall(r"^\| `(\w+)` \|", table, re.M)
    strings = sorted(
        (node.lineno, node.col_offset, node.value)
        for node in ast.walk(ast.parse(Path(rules.__file__).read_text(encoding="utf-8")))
        if isinstance(node, ast.Constant) and node.value in documented
    )
    assert list(dict.fromkeys(name for _, _, name in strings)) == documented


# --------------------------------------------------------------------------- the inbox


def test_the_inbox_lists_the_files_dropped_in_it(tmp_path: Path):
    inbox = tmp_path / "inbox"
    assert inbox_files(inbox) == []  # no inbox yet: nothing to load
    inbox.mkdir()
    for name in ("payments.csv", "invoices.csv", ".invoices.csv.swp"):
        write(inbox, name, "x\n")
    (inbox / "loaded").mkdir()
    write(inbox / "loaded", "old.csv", "x\n")
    assert inbox_files(inbox) == [inbox / "invoices.csv", inbox / "payments.csv"]


def test_inbox_files_are_moved_to_a_new_folder(tmp_path: Path):
    files = [write(tmp_path, "invoices.csv", "a\n"), write(tmp_path, "payments.csv", "b\n")]
    folder = move_files(files, tmp_path / "loaded" / "2026-06-30")
    assert folder == tmp_path / "loaded" / "2026-06-30"
    assert sorted(p.name for p in folder.iterdir()) == ["invoices.csv", "payments.csv"]
    assert (folder / "payments.csv").read_text() == "b\n"
    assert not any(p.exists() for p in files)
    assert move_files([], folder) == folder  # an existing folder is fine


def test_cli_prints_the_reconciliation_and_the_rejected_rows(settings_env):
    from typer.testing import CliRunner

    from pipelines.cli import app

    result = CliRunner().invoke(
        app,
        [
            "ingest",
            str(FIXTURES / "us_export"),
            "--mapping",
            str(MAPPINGS / "us_invoice_list.toml"),
            "--load-date",
            "2026-06-30",
        ],
        terminal_width=200,
    )
    assert result.exit_code == 0, result.output
    assert "read = loaded + pending + rejected" in result.output
    assert "line 6 [bad_date]" in result.output
    failed = CliRunner().invoke(app, ["ingest", str(FIXTURES / "ambiguous_dates")])
    assert failed.exit_code == 1 and "ambiguous_date_format" in failed.output


def test_a_ragged_file_is_reread_row_by_row_and_nothing_is_loaded_twice():
    con = connect(":memory:")
    results = ingest_files(
        con,
        [FIXTURES / "base", FIXTURES / "wrong_field_count" / "invoices.csv"],
        load_date=LOAD_DATE,
    )
    # DuckDB's reader fails on the ragged row: the transaction restarts with that file read
    # by Python's csv module; every file is loaded once.
    assert [(r.rows_read, r.rows_loaded, r.rows_rejected) for r in results] == [
        (1, 1, 0),
        (2, 2, 0),
        (2, 1, 1),
        (1, 1, 0),
    ]
    assert "row by row" in results[2].source_format
    assert con.execute("select count(*) from loads").fetchall() == [(4,)]
    assert con.execute("select count(*) from raw.invoices").fetchall() == [(4,)]


def test_a_warehouse_made_by_the_first_version_is_migrated(tmp_path: Path):
    path = tmp_path / "old.duckdb"
    old = duckdb.connect(str(path))
    old.execute((FIXTURES / "schema_v1.sql").read_text())  # the schema latepay 0.1 created
    old.execute(
        "insert into staging.invoices values ('I0', 'C0', '2025-01-01', '2025-01-31', 5, 'EUR', false, null)"
    )
    old.close()
    con = connect(path)
    results = ingest_files(con, [FIXTURES / "base"], load_date=LOAD_DATE)
    assert [r.rows_loaded for r in results] == [1, 2, 1]
    assert con.execute("select count(*) from staging.invoices").fetchall() == [(3,)]
    assert con.execute(
        "select count(*) from duckdb_constraints() where schema_name = 'staging' "
        "and table_name = 'invoices' and constraint_type = 'PRIMARY KEY'"
    ).fetchall() == [(0,)]


# --------------------------------------------------------------------------- promises to pay

PROMISES = (
    "promise_id,invoice_id,promised_on,promised_date,amount\n"
    "PR1,I1,2026-02-10,2026-02-20,\n"  # line 2: the whole open amount (amount empty)
    "PR2,I1,2026-03-01,2026-03-15,400.00\n"  # line 3: a partial amount
    "PR3,I9,2026-03-01,2026-03-10,\n"  # line 4: invoice I9 not loaded yet: pending
    "PR4,I1,2026-03-05,2026-03-01,\n"  # line 5: promised to pay before the promise was made
    "PR5,I1,2026-07-01,2026-07-10,\n"  # line 6: made after the load date (2026-06-30)
    "PR6,I1,2026-02-30,2026-03-10,\n"  # line 7: 30 February
    "PR7,I1,2026-03-01,2026-03-10,abc\n"  # line 8: amount not a number
    "PR8,I1,2026-03-01,2026-03-10,-5\n"  # line 9: a promise to pay a negative amount
    "PR1,I1,2026-02-10,2026-02-25,\n"  # line 10: PR1 again in the same file
    "PR9,I1,2026-06-01,2026-08-01,\n"  # line 11: promised date after the load date: fine
)


def test_promises_are_typed_checked_and_reconciled(tmp_path: Path):
    con = loaded_base()
    path = write(tmp_path, "promises.csv", PROMISES)
    [result] = ingest_files(con, [path], load_date=LOAD_DATE)
    assert result.kind == "promises"
    assert (result.rows_read, result.rows_loaded, result.rows_pending, result.rows_rejected) == (
        10,
        3,
        1,
        6,
    )
    assert counts(con) == [(10, 3, 1, 6)]
    assert con.execute(
        "select line, rule from rejects where load_id = (select max(load_id) from loads) "
        "order by line"
    ).fetchall() == [
        (5, "promised_before_made"),
        (6, "future_date"),
        (7, "bad_date"),
        (8, "bad_amount"),
        (9, "non_positive_amount"),
        (10, "duplicate_key"),
    ]
    assert con.execute(
        "select promise_id, invoice_id, promised_on::varchar, promised_date::varchar, "
        "amount::double, load_id = $id from staging.promises order by promise_id",
        {"id": result.load_id},
    ).fetchall() == [
        ("PR1", "I1", "2026-02-10", "2026-02-20", None, True),
        ("PR2", "I1", "2026-03-01", "2026-03-15", 400.0, True),
        ("PR9", "I1", "2026-06-01", "2026-08-01", None, True),
    ]
    assert con.execute(
        "select promise_id, invoice_id, line from staging.pending_promises"
    ).fetchall() == [("PR3", "I9", 4)]
    # raw keeps every row as read, with its line
    assert con.execute(
        "select count(*), min(line), max(line), count(*) filter (where amount = 'abc') "
        "from raw.promises"
    ).fetchall() == [(10, 2, 11, 1)]
    [(message, row_text)] = con.execute(
        "select message, row_text from rejects where rule = 'promised_before_made'"
    ).fetchall()
    assert message == "promised_date 2026-03-01 is before promised_on 2026-03-05"
    assert row_text == "PR4,I1,2026-03-05,2026-03-01,"

    # Invoice I9 arrives: its promise leaves pending_promises for staging.promises.
    invoices = write(
        tmp_path,
        "invoices.csv",
        "invoice_id,customer_id,issue_date,due_date,amount\nI9,C1,2026-02-01,2026-02-28,300\n",
    )
    [result] = ingest_files(con, [invoices], load_date=LOAD_DATE)
    assert result.promises_matched == 1
    assert con.execute("select count(*) from staging.pending_promises").fetchall() == [(0,)]
    assert con.execute(
        "select invoice_id, promised_date::varchar from staging.promises where promise_id = 'PR3'"
    ).fetchall() == [("I9", "2026-03-10")]


def test_a_moved_promise_is_versioned_and_the_same_one_is_unchanged(tmp_path: Path):
    con = loaded_base()
    first = write(tmp_path, "promises.csv", PROMISES.split("PR3")[0])  # PR1, PR2
    [loaded] = ingest_files(con, [first], load_date=LOAD_DATE)
    moved = write(
        tmp_path,
        "promises.csv",
        "promise_id,invoice_id,promised_on,promised_date,amount\n"
        "PR1,I1,2026-02-10,2026-02-20,\n"  # the same promise: unchanged
        "PR2,I1,2026-03-01,2026-03-31,400.00\n",  # the customer moved the date: a new version
    )
    [result] = ingest_files(con, [moved], load_date=LOAD_DATE)
    assert (result.rows_new, result.rows_updated, result.rows_unchanged) == (0, 1, 1)
    assert con.execute(
        "select promise_id, promised_date::varchar from staging.promises order by 1"
    ).fetchall() == [("PR1", "2026-02-20"), ("PR2", "2026-03-31")]
    assert con.execute(
        "select promise_id, promised_date::varchar, amount::double, valid_from_load_id, "
        "valid_to_load_id from staging.promise_versions"
    ).fetchall() == [("PR2", "2026-03-15", 400.0, loaded.load_id, result.load_id)]


def test_a_french_promises_file_without_ids_is_recognised_by_its_columns(tmp_path: Path):
    con = loaded_base()
    path = tmp_path / "relances_crm.csv"  # the name says nothing: the header does
    path.write_bytes(
        (
            "invoice_id;promised_on;promised_date;amount\r\n"
            "I1;15/02/2026;28/02/2026;1 000,00\r\n"
            "I1;15/02/2026;20/03/2026;\r\n"  # a second promise the same day: same key
        ).encode("cp1252")
    )
    [result] = ingest_files(con, [path], load_date=LOAD_DATE)
    assert (result.kind, result.rows_loaded, result.rows_rejected) == ("promises", 1, 1)
    assert con.execute(
        "select promise_id, promised_date::varchar, amount::double from staging.promises"
    ).fetchall() == [("I1/2026-02-15", "2026-02-28", 1000.0)]
    assert con.execute(
        "select line, rule from rejects where load_id = $id", {"id": result.load_id}
    ).fetchall() == [(3, "duplicate_key")]


def test_a_promises_file_without_promised_date_stops_the_ingest(tmp_path: Path):
    path = write(tmp_path, "promises.csv", "promise_id,invoice_id,promised_on\nPR1,I1,2026-02-10\n")
    with pytest.raises(
        IngestError, match=r"rule required_column: promises file lacks promised_date"
    ):
        ingest_files(connect(":memory:"), [path])


SAMPLE = Path(__file__).parents[2] / "data" / "sample"


def test_the_sample_books_promises_load_in_full():
    con = connect(":memory:")
    results = {r.kind: r for r in ingest_files(con, [SAMPLE], load_date=date(2026, 10, 31))}
    promises = results["promises"]
    assert (promises.rows_read, promises.rows_loaded, promises.rows_rejected) == (1949, 1949, 0)
    # every promise is on an invoice that was overdue when the promise was made
    assert con.execute(
        "select count(*) from staging.promises join staging.invoices using (invoice_id) "
        "where promised_on <= due_date"
    ).fetchall() == [(0,)]


def test_the_load_settings_are_restored_for_the_callers_connection(book: Path):
    # The load writes without insertion order and with its own compression: a connection used
    # afterwards (a flow's next task) must get DuckDB's settings back, also after a failure.
    con = connect(":memory:")
    settings = (
        "select current_setting('preserve_insertion_order'), "
        "current_setting('disabled_compression_methods'), current_setting('force_compression')"
    )
    before = con.execute(settings).fetchall()
    ingest_files(con, [book])
    assert con.execute(settings).fetchall() == before
    with pytest.raises(IngestError):
        ingest_files(con, [FIXTURES / "ambiguous_dates"])
    ingest_files(con, [FIXTURES / "wrong_field_count"], load_date=LOAD_DATE)  # read row by row
    assert con.execute(settings).fetchall() == before
