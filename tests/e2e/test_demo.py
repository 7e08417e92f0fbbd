"""`latepay demo` end to end on the small book, and its promise never to delete a warehouse it
did not make."""

from __future__ import annotations

import duckdb
import mlflow
import pandas as pd
import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from models.worklist import WORKLIST_COLUMNS
from pipelines.cli import app
from pipelines.publish.book import CREDIT_COLUMNS
from tests.conftest import set_env, settings_in

AS_OF = "2026-11-01"


@pytest.fixture(scope="module")
def demo_run(small_book_dir, tmp_path_factory):
    """`latepay demo` on the small book, in its own folder."""
    settings = settings_in(tmp_path_factory.mktemp("demo"), sample_dir=small_book_dir)
    with pytest.MonkeyPatch.context() as patch:
        set_env(settings, patch)
        result = CliRunner().invoke(app, ["demo"], terminal_width=160)
    return settings, result


@pytest.mark.slow
def test_demo_end_to_end(demo_run):
    settings, result = demo_run
    assert result.exit_code == 0, result.output
    assert f"Worklist as of {AS_OF}" in result.output
    folder = settings.outputs_dir / AS_OF
    worklist = pd.read_csv(folder / "worklist.csv")
    collectors = worklist["collector"].nunique()
    files = sorted(p.suffix for p in folder.iterdir() if p.is_file())
    assert files == [".csv", ".html"] + [".xlsx"] * collectors
    # the drafts of today's work, by collector, and the agency packs
    drafts = {p.suffix for p in (folder / "drafts").rglob("*") if p.is_file()}
    assert {".eml", ".pdf", ".txt"} <= drafts
    # the customer's unapplied credit and net balance follow its open amount
    at = WORKLIST_COLUMNS.index("customer_open_amount") + 1
    published = [*WORKLIST_COLUMNS[:at], *CREDIT_COLUMNS, *WORKLIST_COLUMNS[at:]]
    assert list(worklist.columns) == published
    assert worklist["rank"].is_monotonic_increasing
    assert worklist["expected_amount_at_risk"].is_monotonic_decreasing
    assert worklist.groupby("collector")["collector_rank"].max().le(30).all()
    assert worklist["reason_1"].notna().all()  # reasons for every published row
    assert worklist["next_action"].notna().all() and worklist["dunning_stage"].notna().all()

    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    [(customers_with_open, listed)] = con.execute(
        "select count(*), count(*) filter (where in_todays_list) from scoring.worklist"
    ).fetchall()
    # every customer with an invoice not handed over to an agency has a row (and an action)
    [(scored_customers,)] = con.execute(
        "select count(distinct customer_id) from scoring.invoice_scores "
        "where dunning_stage <> 'with the agency'"
    ).fetchall()
    assert customers_with_open == scored_customers > listed == len(worklist)
    # the ledger was loaded and followed: some invoices are at an agency, none by assumption
    [(at_agency, ledger_handovers)] = con.execute(
        """
        select
            (select count(*) from scoring.invoice_scores where dunning_stage = 'with the agency'),
            (select count(distinct invoice_id) from staging.actions
             where action = 'agency_handover')
        """
    ).fetchall()
    assert 0 < at_agency <= ledger_handovers
    [(bad_intervals, before_as_of)] = con.execute(
        """
        select count(*) filter (where not days_to_pay_p10 <= days_to_pay_p50
                                       and days_to_pay_p50 <= days_to_pay_p90),
               count(*) filter (where predicted_payment_date < as_of)
        from scoring.invoice_scores
        """
    ).fetchall()
    assert (bad_intervals, before_as_of) == (0, 0)
    [(currencies,)] = con.execute(
        "select count(distinct currency) from scoring.invoice_scores"
    ).fetchall()
    [(status, scored)] = con.execute("select status, invoices_scored from scoring.runs").fetchall()
    assert status == "published" and scored > 0
    [(read, loaded, pending, rejected)] = con.execute(
        "select sum(rows_read), sum(rows_loaded), sum(rows_pending), sum(rows_rejected) from loads"
    ).fetchall()
    assert read == loaded + pending + rejected and loaded > 12_000
    # Coming up: the customers whose next action is in the next 14 days (LATEPAY_COMING_UP_DAYS)
    coming, later = con.execute(
        """
        select list(customer_id order by customer_id)
                   filter (where next_action_date <= as_of + 14),
               count(*) filter (where next_action_date > as_of + 14)
        from scoring.worklist where coming_up
        """
    ).fetchone()
    # work due that the lists could not hold, per collector (the About sheet says it)
    waiting = dict(
        con.execute(
            "select collector, count(*) from scoring.worklist "
            "where not coming_up and not in_todays_list group by collector"
        ).fetchall()
    )
    con.close()

    in_sheets = []
    for path in folder.glob("worklist_*.xlsx"):
        book = load_workbook(path)
        sheet = book["Worklist"]
        collector = path.stem.removeprefix("worklist_")
        header = [c.value for c in sheet[1]]
        column = header.index("Collector")
        assert {row[column].value for row in sheet.iter_rows(2)} == {collector}
        about = dict(book["About"].iter_rows(values_only=True))
        assert about["Not reached"].startswith(
            f"{waiting[collector]:,} more" if waiting.get(collector) else "Nothing else"
        )
        ahead = book["Coming up"]
        at = [c.value for c in ahead[1]].index("Customer id")
        in_sheets += [row[at].value for row in ahead.iter_rows(2)]
    assert sorted(in_sheets) == coming and later > 0  # the demo's book has customers further out
    html = (folder / "report.html").read_text(encoding="utf-8")
    # the report's sections; a cash-in chart per currency of the open invoices
    for section in ("headline", "aged-balance", "disputes", "promises", "cash-in", "worklist"):
        assert f'<section id="{section}">' in html, section
    assert html.count("<svg") == currencies and "Aged balance by collector" in html

    mlflow.set_tracking_uri(settings.mlflow_tracking_uri)
    client = mlflow.MlflowClient()
    champion = client.get_model_version_by_alias(settings.model_name, "champion")
    metrics = client.get_run(champion.run_id).data.metrics
    # the model beats the customer's prior late rate on the later period
    assert (
        metrics["backtest_late_model_auc"] > metrics["backtest_late_baseline_prior_late_rate_auc"]
    )


@pytest.mark.slow
def test_the_demo_runs_again_on_its_own_warehouse(demo_run, monkeypatch):
    settings, _ = demo_run
    set_env(settings, monkeypatch)
    result = CliRunner().invoke(app, ["demo"], terminal_width=160)
    assert result.exit_code == 0, result.output


def test_the_demo_never_replaces_a_warehouse_it_did_not_make(small_book_dir, tmp_path, monkeypatch):
    settings = settings_in(tmp_path, sample_dir=small_book_dir)
    with duckdb.connect(str(settings.warehouse_path)) as con:
        con.execute("create table precious as select 42 as answer")
    set_env(settings, monkeypatch)
    result = CliRunner().invoke(app, ["demo"], terminal_width=200)
    assert result.exit_code == 1
    assert "holds data the demo did not load" in result.output
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        assert con.execute("select answer from precious").fetchall() == [(42,)]
