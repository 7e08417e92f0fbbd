"""`latepay monitor` on a copy of the trained book: lists published week by week in October, their
realised accuracy with the outcomes known on 2026-11-01, the drift, the JSON."""

from __future__ import annotations

import json
from datetime import date

import duckdb
import pytest
from typer.testing import CliRunner

from pipelines.cli import app
from pipelines.jobs.score import score
from tests.conftest import set_env


@pytest.mark.slow
def test_the_monitor_measures_published_lists_once_their_outcomes_are_known(
    book_copy, monkeypatch, tmp_path
):
    for day in (date(2026, 9, 7), date(2026, 9, 14), date(2026, 9, 21), date(2026, 10, 5)):
        score(book_copy, day)
    set_env(book_copy, monkeypatch)
    out = tmp_path / "monitor.json"
    result = CliRunner().invoke(
        app, ["monitor", "--as-of", "2026-11-01", "--json", str(out)], terminal_width=200
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(out.read_text())
    realised = summary["realised"]
    days = {r["list_date"] for r in realised if r["window"] == "day" and r["target"] == "late"}
    # lateness of the September lists is known (their invoices not yet due then are due now)
    assert {"2026-09-07", "2026-09-14", "2026-09-21"} <= days
    four = [r for r in realised if r["window"] == "4 weeks" and r["target"] == "late"]
    assert four and four[0]["n"] > 50 and 0.5 < four[0]["auc"] <= 1
    assert {"auc", "auc_aging", "brier", "capture_top20", "n", "list_date"} <= set(four[0])
    # the champion's training profile against today's open invoices: every feature measured
    drift = {d["feature"]: d for d in summary["drift"]}
    assert "share_paid_late" in drift and all(d["psi"] >= 0 for d in drift.values())
    with duckdb.connect(str(book_copy.warehouse_path), read_only=True) as con:
        [(rows,)] = con.execute(
            "select count(*) from scoring.monitoring where monitored_on = '2026-11-01'"
        ).fetchall()
    assert rows > 0
    # the nightly run measures the drift on the features its scoring built (not built twice):
    # the same figures as the monitor's own
    from pipelines.jobs.nightly import nightly

    measured = nightly(book_copy, date(2026, 11, 1)).monitoring
    assert measured.drift.to_dict("records") == summary["drift"]


@pytest.mark.slow
def test_a_change_of_payment_terms_is_named_as_drift(book_copy):
    from pipelines.jobs.monitor import monitor
    from pipelines.warehouse import connect, rebuild_settlements

    # the company moves its new invoices to 120-day terms: the open book no longer looks like
    # the one the champion learnt from
    with connect(book_copy.warehouse_path) as con:
        con.execute(
            "update staging.invoices set due_date = issue_date + 120 "
            "where issue_date >= date '2026-08-01'"
        )
        rebuild_settlements(con)
    result = monitor(book_copy, date(2026, 11, 1))
    top = result.drift.head(3)["feature"].tolist()
    assert "terms_days" in top
    # the alert names the important features it moved (days past due) and says what to do
    assert any("'days_past_due'" in alert and "latepay train" in alert for alert in result.alerts)
