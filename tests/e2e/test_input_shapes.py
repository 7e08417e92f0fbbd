"""Every export shape the README documents goes through ingest → backtest → train → nightly and
publishes a worklist: a company with only an invoice list, no customers file, no dispute or
currency columns, one segment, one-off customers, or a French ledger's export read without a
mapping file gets its list the first evening."""

from __future__ import annotations

import csv
from datetime import date

import duckdb
import pytest

from pipelines.jobs.ingest import ingest
from pipelines.jobs.nightly import nightly
from pipelines.jobs.train import run_backtest, train
from synthetic import generate_book, write_book
from synthetic.shapes import SHAPES
from tests.conftest import settings_in

END = date(2026, 10, 31)
AS_OF = date(2026, 11, 1)


@pytest.fixture(scope="module")
def small_book():
    """A small book: 100 customers, 2,500 invoices over two years."""
    return generate_book(100, 2_500, seed=3, end_date=END, years=2.0)


def _one(con: duckdb.DuckDBPyConnection, sql: str):
    return con.execute(sql).fetchall()[0][0]


@pytest.mark.slow
@pytest.mark.parametrize("shape", [s for s in SHAPES if s != "full"])
def test_every_shape_publishes_a_worklist_the_first_evening(shape, small_book, tmp_path):
    write_book(small_book, tmp_path / "export", shape=shape)
    settings = settings_in(tmp_path)
    ingest(settings, [tmp_path / "export"], load_date=END)
    result = run_backtest(settings)
    aucs = {k: v for k, v in result.flat_metrics().items() if k.endswith("_model_auc")}
    assert aucs and all(0.5 < v <= 1 for v in aucs.values()), aucs
    train(settings, force_promote=True)
    night = nightly(settings, AS_OF)
    assert night.score.invoices_scored > 0
    with open(night.score.output_dir / "worklist.csv", encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    assert rows and all(r["reason_1"] and r["currency"] for r in rows)
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        invoice_customers = _one(con, "select count(distinct customer_id) from staging.invoices")
        customers = _one(con, "select count(*) from staging.customers")
        derived = _one(
            con, "select count(*) from staging.payments where payment_id like '%#settlement'"
        )
        one_off_scored = _one(
            con,
            "select count(*) from scoring.invoice_scores where customer_id like '%-%'",
        )
    assert customers == invoice_customers  # created from the invoices when there is no file
    if shape == "invoice_list":
        settled = small_book.payments.groupby("invoice_id")["amount"].sum()
        assert derived > 0.5 * len(settled)  # the payments derived from settled_date
    else:
        assert derived == 0
    if shape == "no_currency":
        assert {r["currency"] for r in rows} == {"EUR"}  # unless a mapping constant says
    if shape == "one_off_customers":
        assert one_off_scored > 0
    if shape == "fr_ledger":  # read as written, to the cent: the same book as the full shape
        with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
            total, credit_notes = con.execute(
                "select sum(amount)::double, count(*) filter (where amount < 0) "
                "from staging.invoices"
            ).fetchone()
        assert round(total, 2) == round(small_book.invoices["amount"].sum(), 2)
        assert credit_notes == (small_book.invoices["amount"] < 0).sum() > 0
