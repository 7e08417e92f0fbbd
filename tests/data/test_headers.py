"""Header names understood without a mapping file (pipelines/ingest/headers.py): French and
English exports as their ERPs name the columns, read and said."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from pipelines.ingest import IngestError, ingest_files
from pipelines.ingest.headers import normal
from pipelines.ingest.plan import map_columns
from pipelines.warehouse import connect

LOAD_DATE = date(2026, 6, 30)


def _fields(header: str) -> dict[str, str]:
    columns = header.split(";")
    return {f: columns[i] for f, i in map_columns(Path("x.csv"), columns, None).items()}


@pytest.mark.parametrize(
    ("name", "word"),
    [
        ("N° de facture", "no_de_facture"),
        ("Date d'échéance", "date_d_echeance"),
        ("  Montant TTC ", "montant_ttc"),
        ("Invoice Date", "invoice_date"),
        ("issue_date", "issue_date"),
    ],
)
def test_names_are_compared_without_case_accents_or_punctuation(name, word):
    assert normal(name) == word


def test_a_french_export_loads_without_a_mapping_and_says_how_it_was_read(tmp_path):
    invoices = tmp_path / "factures.csv"
    invoices.write_text(
        "N° de facture;Code client;Raison sociale;Date de facture;Date d'échéance;Montant TTC;"
        "Devise;Litige;Date de règlement\n"
        "F1;C1;SARL Dupont;01/03/2026;31/03/2026;1 234,56;EUR;non;15/04/2026\n"
        "F2;C1;SARL Dupont;15/03/2026;14/04/2026;500,00;EUR;oui;\n",
        encoding="utf-8",
    )
    payments = tmp_path / "reglements.csv"
    payments.write_text(
        "N° règlement;Facture;Date de règlement;Montant\nR1;F2;20/04/2026;200,00\n",
        encoding="utf-8",
    )
    with connect(":memory:") as con:
        first, second = ingest_files(con, [invoices, payments], load_date=LOAD_DATE)
        assert con.execute(
            "select invoice_id, customer_id, amount, currency, disputed from staging.invoices "
            "order by 1"
        ).fetchall() == [
            ("F1", "C1", Decimal("1234.56"), "EUR", False),
            ("F2", "C1", Decimal("500.00"), "EUR", True),
        ]
        # the settlement date beside an issue date settles the invoice; alone, it dates a payment
        assert con.execute(
            "select payment_id, invoice_id, payment_date::varchar, amount from staging.payments "
            "order by 1"
        ).fetchall() == [
            ("F1#settlement", "F1", "2026-04-15", Decimal("1234.56")),
            ("R1", "F2", "2026-04-20", Decimal("200.00")),
        ]
        assert con.execute("select name from staging.customers").fetchall() == [("SARL Dupont",)]
    assert "columns read as: 'N° de facture' invoice_id, 'Code client' customer_id" in (
        first.source_format
    )
    assert "'Date de règlement' payment_date, 'Montant' amount" in second.source_format


def test_a_ledgers_columns_are_read_in_context():
    # Débit and Crédit as a pair; a bare Date beside Échéance is the document's date
    assert _fields("N° pièce;Client;Date;Échéance;Libellé;Débit;Crédit") == {
        "invoice_id": "N° pièce",
        "customer_id": "Client",
        "issue_date": "Date",
        "due_date": "Échéance",
        "amount": "Débit",
        "credit_amount": "Crédit",
    }
    assert "amount" not in _fields("Facture;Client;Date facture;Échéance;Débit")
    assert _fields("N° règlement;Facture;Date;Montant") == {  # no due date: Date is not read
        "payment_id": "N° règlement",
        "invoice_id": "Facture",
        "amount": "Montant",
    }


def test_a_generic_word_never_takes_a_field_a_column_names_precisely():
    # "Client" holds the customer's name here: the code is the customer's id
    assert _fields("Client;Code client;N° facture;Facture;Montant;Montant TTC") == {
        "customer_id": "Code client",
        "invoice_id": "N° facture",
        "amount": "Montant TTC",
    }


def test_two_columns_of_one_precise_name_are_refused():
    with pytest.raises(IngestError, match="duplicate_column"):
        _fields("N° facture;Numéro de facture;Code client")


def _load(tmp_path: Path, text: str, sql: str) -> tuple[str, list[tuple]]:
    """Load one file of `text` into a new warehouse: its format as said, and what `sql` finds."""
    path = tmp_path / "export.csv"
    path.write_text(text, encoding="utf-8")
    with connect(":memory:") as con:
        [result] = ingest_files(con, [path], load_date=LOAD_DATE)
        return result.source_format, con.execute(sql).fetchall()


def test_a_customers_file_in_french_loads_without_a_mapping(tmp_path):
    _, rows = _load(
        tmp_path,
        "Code client;Raison sociale;Pays;Chargé de recouvrement\nC1;SARL Dupont;FR;Laura\n",
        "select customer_id, name, country, collector from staging.customers",
    )
    assert rows == [("C1", "SARL Dupont", "FR", "Laura")]


def test_without_a_due_date_column_the_due_date_comes_from_the_terms_and_is_said(tmp_path):
    said, rows = _load(
        tmp_path,
        "N° facture;Code client;Date facture;Conditions de paiement;Montant TTC\n"
        "F1;C1;15/01/2026;45 jours fin de mois;100,00\nF2;C1;15/01/2026;30;100,00\n",
        "select invoice_id, due_date::varchar from staging.invoices order by 1",
    )
    assert rows == [("F1", "2026-03-17"), ("F2", "2026-02-14")]
    assert "due dates from the payment terms (no due date column)" in said


def test_an_open_amount_outside_an_open_items_export_is_said_not_read(tmp_path):
    said, rows = _load(
        tmp_path,
        "N° facture;Code client;Date facture;Échéance;Montant TTC;Solde\n"
        "F1;C1;15/01/2026;15/02/2026;100,00;40,00\n",
        "select count(*) from staging.payments",
    )
    assert "'Solde' (open_amount) not read: only an open-items export's is" in said
    assert rows == [(0,)]  # (the 60 the file says were paid: not read)
