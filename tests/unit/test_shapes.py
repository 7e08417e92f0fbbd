"""The export shapes the generator writes (synthetic.shapes): each one change away from `full`."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest
from typer.testing import CliRunner

from pipelines.cli import app
from synthetic import generate_book
from synthetic.shapes import SHAPES, invoice_list, shape_tables


@pytest.fixture(scope="module")
def book():
    return generate_book(40, 600, seed=5, end_date=date(2026, 10, 31), years=1.0)


def test_an_invoice_list_is_settled_on_the_day_its_payments_reached_the_amount():
    invoices = pd.DataFrame(
        {
            "invoice_id": ["A", "B", "C", "D"],
            "amount": [100.0, 100.0, -30.0, 50.0],
        }
    )
    payments = pd.DataFrame(
        {
            "invoice_id": ["A", "A", "B"],
            "payment_date": pd.to_datetime(["2026-01-10", "2026-02-01", "2026-01-05"]),
            "amount": [40.0, 60.0, 99.99],
        }
    )
    out = invoice_list(invoices, payments).set_index("invoice_id")
    assert out.loc["A", "settled_date"] == pd.Timestamp("2026-02-01")
    assert out.loc["A", "paid_amount"] == 100.0
    # paid in part, a credit note, never paid: no settled date, no paid amount
    assert out.loc[["B", "C", "D"], "settled_date"].isna().all()
    assert out.loc[["B", "C", "D"], "paid_amount"].isna().all()


def test_each_shape_changes_one_thing(book):
    full = shape_tables(book, "full")
    assert set(full) >= {"customers", "invoices", "payments", "promises", "oracle"}
    assert set(shape_tables(book, "invoice_list")) == {"invoices", "oracle"}
    assert set(shape_tables(book, "no_customers")) == {"invoices", "payments", "oracle"}
    no_disputes = shape_tables(book, "no_disputes")["invoices"]
    assert not {"disputed", "dispute_opened_date"} & set(no_disputes.columns)
    assert "currency" not in shape_tables(book, "no_currency")["invoices"].columns
    assert shape_tables(book, "one_segment")["customers"]["segment"].nunique() == 1


def test_one_off_customers_have_one_invoice_each(book):
    tables = shape_tables(book, "one_off_customers")
    invoices, customers = tables["invoices"], tables["customers"]
    per_customer = invoices.groupby("customer_id").size()
    one_off = per_customer.index.str.contains("-")
    assert one_off.any() and (~one_off).any()
    assert (per_customer[one_off] == 1).all()
    # every invoice's customer is in the customers file, and the invoices are the same ones
    assert set(invoices["customer_id"]) <= set(customers["customer_id"])
    assert sorted(invoices["invoice_id"]) == sorted(book.invoices["invoice_id"])


def test_generate_writes_a_shape_and_refuses_an_unknown_one(tmp_path):
    args = ["generate", "--customers", "20", "--invoices", "300", "--years", "1"]
    result = CliRunner().invoke(app, [*args, "--out", str(tmp_path), "--shape", "invoice_list"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["invoices.csv", "oracle.csv"]
    result = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "x"), "--shape", "sap"])
    assert result.exit_code != 0
    assert "'sap' is not one of full, invoice_list" in result.output
    assert len(SHAPES) == 8
