"""The French caps on payment terms (Code de commerce L441-10: 60 days from the invoice date, or
45 days end of month) checked at ingest: `staging.invoices.terms_over_cap` on hand-written
invoices at the boundaries, the terms texts understood when the due date is derived from them,
the count in the reconciliation and `loads`, the migration of an older warehouse, and the
report's count limited to customers under French law (README, "Input format")."""

from __future__ import annotations

from datetime import date
from html import unescape
from pathlib import Path

import duckdb

from models.worklist import plan_invoices, rank_customers, todays_list
from pipelines import console
from pipelines.ingest import ingest_files
from pipelines.ingest.terms import ACCEPTED
from pipelines.publish import report
from pipelines.warehouse import connect
from tests.handmade_book import AS_OF, CUSTOMERS, SCORES

FIXTURES = Path(__file__).parents[1] / "fixtures" / "ingest"
LOAD_DATE = date(2026, 6, 30)
FLAGS = "select invoice_id, terms_over_cap from staging.invoices order by invoice_id"


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple]:
    return con.execute(sql).fetchall()


# Every reading of the caps, computed by hand:
#   issued 2026-01-15: +60 days = 03-16; end of January + 45 = 03-17; 01-15 + 45 = 03-01, end of
#     that month = 03-31 (the latest: allowed up to 03-31);
#   issued 2026-01-31: +60 = 04-01 (the latest); end of January + 45 = 03-17; 03-17 → 03-31;
#   issued 2026-02-01: +60 = 04-02; end of February + 45 = 04-14 (the latest); 03-18 → 03-31.
BOUNDARIES = (
    "invoice_id,customer_id,issue_date,due_date,amount\n"
    "T1,C1,2026-01-15,2026-03-16,100.00\n"  # +60 days exactly: allowed
    "T2,C1,2026-01-15,2026-03-17,100.00\n"  # +61, but end of month + 45 allows it
    "T3,C1,2026-01-15,2026-03-31,100.00\n"  # +75, but issue + 45 then end of month allows it
    "T4,C1,2026-01-15,2026-04-01,100.00\n"  # a day past every reading: over the caps
    "T5,C1,2026-01-31,2026-04-01,100.00\n"  # +60 exactly (the latest reading here)
    "T6,C1,2026-01-31,2026-04-02,100.00\n"  # +61: over
    "T7,C1,2026-02-01,2026-04-14,100.00\n"  # end of February + 45 exactly
    "T8,C1,2026-02-01,2026-04-15,100.00\n"  # a day later: over
    "T9,C1,2026-01-15,2026-06-30,-100.00\n"  # a credit note: never flagged
)


def test_an_invoice_is_flagged_only_when_due_after_every_reading_of_the_caps(tmp_path: Path):
    con = connect(":memory:")
    [result] = ingest_files(con, [write(tmp_path, "invoices.csv", BOUNDARIES)], load_date=LOAD_DATE)
    assert (result.rows_loaded, result.terms_over_cap) == (9, 3)
    assert rows(con, FLAGS) == [
        ("T1", False), ("T2", False), ("T3", False), ("T4", True), ("T5", False),
        ("T6", True), ("T7", False), ("T8", True), ("T9", False),
    ]  # fmt: skip
    assert rows(con, "select kind, terms_over_cap from loads") == [("invoices", 3)]


def test_the_reconciliation_counts_the_invoices_over_the_caps(tmp_path: Path, capsys):
    con = connect(":memory:")
    results = ingest_files(
        con,
        [FIXTURES / "base", write(tmp_path, "more_invoices.csv", BOUNDARIES)],
        load_date=LOAD_DATE,
    )
    console.loads(results)
    out = " ".join(capsys.readouterr().out.split())
    # the base invoices (30 days) are within the caps; each invoices file gets its line
    assert "invoices.csv: 0 invoices with payment terms over the French caps" in out
    assert (
        "more_invoices.csv: 3 invoices with payment terms over the French caps "
        "(60 days, or 45 days end of month)"
    ) in out
    # an updated export: T4 moved within the caps, T1 past them; unchanged rows count too
    later = BOUNDARIES.replace("T4,C1,2026-01-15,2026-04-01", "T4,C1,2026-01-15,2026-03-31")
    later = later.replace("T1,C1,2026-01-15,2026-03-16", "T1,C1,2026-01-15,2026-05-01")
    [result] = ingest_files(con, [write(tmp_path, "more_invoices.csv", later)], load_date=LOAD_DATE)
    assert (result.rows_updated, result.rows_unchanged, result.terms_over_cap) == (2, 7, 3)
    flagged = "select invoice_id from staging.invoices where terms_over_cap order by 1"
    assert rows(con, flagged) == [("T1",), ("T6",), ("T8",)]


# --------------------------------------------------------------------------- terms written out

TERMS_MAPPING = """
[invoices]
files = ["terms*.csv"]

[invoices.derive]
due_date = "issue_date + payment_terms_days"
"""
TERMS = (
    "invoice_id,customer_id,issue_date,amount,payment_terms_days\n"
    "E1,C1,2026-01-15,100.00,45 EOM\n"  # end of January + 45 = 03-17
    "E2,C1,2026-02-10,100.00,45 fin de mois\n"  # end of February (28 days) + 45 = 04-14
    "E3,C1,2025-12-05,100.00,45 FDM\n"  # end of December 2025 + 45 = 2026-02-14
    "E4,C1,2026-03-31,100.00,45 jours fin de mois\n"  # already the month's end: + 45 = 05-15
    "E5,C1,2026-01-05,100.00,30 net\n"  # + 30 = 02-04
    "E6,C1,2026-01-05,100.00,Net 30\n"  # + 30 = 02-04
    "E7,C1,2026-01-15,100.00,60 jours\n"  # + 60 = 03-16
    "E8,C1,2026-01-15,100.00,90 jours\n"  # + 90 = 04-15: over the caps
    "E9,C1,2026-01-15,100.00,30 jours le 10\n"  # line 10: not a form latepay reads
    "E10,C1,2026-02-01,100.00,45\n"  # a whole number, as before: + 45 = 03-18
)


def test_end_of_month_and_written_terms_give_exact_due_dates(tmp_path: Path):
    con = connect(":memory:")
    data = write(tmp_path, "terms.csv", TERMS)
    [result] = ingest_files(
        con, [data], write(tmp_path, "m.toml", TERMS_MAPPING), load_date=LOAD_DATE
    )
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (10, 9, 1)
    assert result.terms_over_cap == 1
    assert rows(con, "select invoice_id, due_date::varchar, terms_over_cap from staging.invoices "
                     "order by issue_date, invoice_id") == [
        ("E3", "2026-02-14", False),
        ("E5", "2026-02-04", False),
        ("E6", "2026-02-04", False),
        ("E1", "2026-03-17", False),
        ("E7", "2026-03-16", False),
        ("E8", "2026-04-15", True),
        ("E10", "2026-03-18", False),
        ("E2", "2026-04-14", False),
        ("E4", "2026-05-15", False),
    ]  # fmt: skip
    [(line, rule, message)] = rows(con, "select line, rule, message from rejects")
    assert (line, rule) == (10, "bad_number")
    assert message == f"payment_terms_days is not one of {ACCEPTED}: 30 jours le 10"
    assert "N fin de mois" in message and "net N" in message


def test_a_customers_terms_stay_a_whole_number(tmp_path: Path):
    con = connect(":memory:")
    customers = "customer_id,name,payment_terms_days\nK1,Ok,45\nK2,Odd,45 fin de mois\n"
    [result] = ingest_files(con, [write(tmp_path, "customers.csv", customers)], load_date=LOAD_DATE)
    assert (result.rows_loaded, result.rows_rejected) == (1, 1)
    assert rows(con, "select line, rule, message from rejects") == [
        (3, "bad_number", "payment_terms_days is not a whole number: 45 fin de mois")
    ]


# --------------------------------------------------------------------------- an older warehouse


def test_a_warehouse_made_before_the_caps_is_migrated_and_back_filled(tmp_path: Path):
    path = tmp_path / "old.duckdb"
    old = duckdb.connect(str(path))
    old.execute((FIXTURES / "schema_v1.sql").read_text())  # the schema latepay 0.1 created
    old.execute(
        "insert into staging.invoices values "
        "('O1', 'C0', '2026-01-15', '2026-03-31', 5, 'EUR', false, null), "  # within
        "('O2', 'C0', '2026-01-15', '2026-04-01', 5, 'EUR', false, null), "  # over
        "('O3', 'C0', '2026-01-15', '2026-09-01', -5, 'EUR', false, null)"  # credit note
    )
    old.close()
    con = connect(path)
    assert rows(con, FLAGS) == [("O1", False), ("O2", True), ("O3", False)]
    assert (6, "French payment-term caps") in rows(
        con, "select version, description from meta.schema_version"
    )
    # the same columns, in the same order, as a warehouse made at the current schema (which
    # positional inserts rely on)
    fresh = connect(":memory:")
    for table in ("staging.invoices", "loads"):
        columns = f"select column_name, column_type from (describe {table})"
        assert rows(con, columns) == rows(fresh, columns), table
    [_, invoices, _] = ingest_files(con, [FIXTURES / "base"], load_date=LOAD_DATE)
    assert (invoices.rows_loaded, invoices.terms_over_cap) == (2, 0)
    assert rows(con, "select count(*) from staging.invoices where terms_over_cap is null") == [(0,)]


# --------------------------------------------------------------------------- the report

# The hand-made book's customers with a country (E's written in lower case), and its invoices
# with dates: A1, A2, D1 and E1 over the caps; B1 (Belgium) and C1 (UK) too; F9 over the caps
# but paid (not in the night's book).
REPORT_CUSTOMERS = (
    "customer_id,name,country\nA,Alpha,FR\nB,Beta,BE\nC,Gamma,GB\nD,Delta,FR\nE,Epsilon,fr\n"
    "F,Phi,FR\n"
)
REPORT_INVOICES = (
    "invoice_id,customer_id,issue_date,due_date,amount\n"
    "A1,A,2026-07-01,2026-10-22,1000\n"  # caps: 08-30, 09-14, 08-31: over
    "A2,A,2026-07-01,2026-11-20,3000\n"  # over
    "B1,B,2026-06-01,2026-11-08,10000\n"  # over, Belgian customer
    "C1,C,2026-06-01,2026-09-22,500\n"  # over, British customer
    "C2,C,2026-10-01,2026-11-01,500\n"
    "D1,D,2026-06-01,2026-09-12,1500\n"  # caps: 07-31, 08-14, 07-31: over
    "D2,D,2026-07-02,2026-08-01,2000\n"
    "E1,E,2026-07-01,2026-10-29,800\n"  # over
    "E2,E,2026-10-16,2026-11-15,400\n"
    "F1,F,2026-10-01,2026-11-30,900\n"  # + 60: within (end of October + 45 = 12-15)
    "F9,F,2026-01-05,2026-06-30,900\n"  # over, but not open
)


def test_the_report_counts_open_invoices_over_the_caps_of_french_law_customers(tmp_path: Path):
    con = connect(":memory:")
    ingest_files(
        con,
        [
            write(tmp_path, "customers.csv", REPORT_CUSTOMERS),
            write(tmp_path, "invoices.csv", REPORT_INVOICES),
        ],
        load_date=AS_OF.date(),
    )
    invoices = plan_invoices(SCORES, CUSTOMERS, AS_OF)
    ids = invoices["invoice_id"]
    assert report.terms_over_cap(con, ids, {"FR"}) == {"invoices": 4, "customers": 3}
    assert report.terms_over_cap(con, ids, {"FR", "BE"}) == {"invoices": 5, "customers": 4}
    assert report.terms_over_cap(con, ids, set()) == {"invoices": 0, "customers": 0}
    published = todays_list(rank_customers(invoices, CUSTOMERS, AS_OF))
    for locale, line in (
        ("en_GB", "Payment terms over the French caps (60 days, or 45 days end of month): "
                  "4 invoices of 3 customers under French law, among the open invoices."),
        ("fr_FR", "Délais de paiement au-delà des plafonds légaux (60 jours, ou 45 jours fin de "
                  "mois) : 4 factures de 3 clients soumis au droit français, parmi les factures "
                  "ouvertes."),
    ):  # fmt: skip
        values = report.context(
            con, AS_OF.date(), invoices, published, model_version="1", champion=None,
            capacity=30, customers=CUSTOMERS, locale=locale, french_law=("FR",),
        )  # fmt: skip
        html = unescape(report.render(values))
        headline = html.split('<section id="headline">')[1].split("</section>")[0]
        assert line in headline, locale
