"""End-to-end runs of the demo and of the Prefect flows, on a small generated book."""

from __future__ import annotations

import duckdb
import mlflow
import pandas as pd
from prefect.testing.utilities import prefect_test_harness
from typer.testing import CliRunner

from models.worklist import WORKLIST_COLUMNS
from pipelines.cli import app


def test_demo_end_to_end(small_book_dir, settings_env, monkeypatch):
    monkeypatch.setenv("LATEPAY_SAMPLE_DIR", str(small_book_dir))
    result = CliRunner().invoke(app, ["demo"], terminal_width=160)
    assert result.exit_code == 0, result.output
    assert "Worklist as of 2026-11-01" in result.output

    worklist = pd.read_csv(settings_env.outputs_dir / "2026-11-01" / "worklist.csv")
    assert list(worklist.columns) == WORKLIST_COLUMNS
    assert worklist["rank"].tolist() == list(range(1, len(worklist) + 1))
    assert worklist["expected_amount_at_risk"].is_monotonic_decreasing
    assert worklist["reason"].head(20).str.len().gt(0).all()

    con = duckdb.connect(str(settings_env.warehouse_path), read_only=True)
    [(customers_with_open,)] = con.execute(
        "select count(distinct customer_id) from scoring.invoice_scores"
    ).fetchall()
    assert len(worklist) == customers_with_open == worklist["customer_id"].nunique()
    [(bad_intervals, before_as_of)] = con.execute(
        """
        select count(*) filter (where not days_to_pay_p10 <= days_to_pay_p50
                                       and days_to_pay_p50 <= days_to_pay_p90),
               count(*) filter (where predicted_payment_date < as_of)
        from scoring.invoice_scores
        """
    ).fetchall()
    assert (bad_intervals, before_as_of) == (0, 0)
    [(read, loaded, rejected)] = con.execute(
        "select sum(rows_read), sum(rows_loaded), sum(rows_rejected) from loads"
    ).fetchall()
    assert read == loaded + rejected and loaded > 12_000

    mlflow.set_tracking_uri(settings_env.mlflow_tracking_uri)
    client = mlflow.MlflowClient()
    champion = client.get_model_version_by_alias(settings_env.model_name, "champion")
    metrics = client.get_run(champion.run_id).data.metrics
    # the model beats the customer's prior late rate on the later period
    assert (
        metrics["backtest_late_model_auc"] > metrics["backtest_late_baseline_prior_late_rate_auc"]
    )


def test_flows_ingest_train_score(small_book_dir, settings_env):
    from pipelines.flows import ingest_flow, score_flow, train_flow

    with prefect_test_harness():
        loads = ingest_flow([str(small_book_dir)])
        assert {r.kind for r in loads} == {"customers", "invoices", "payments"}
        assert train_flow(force_promote=True) == "1"
        path = score_flow()
    worklist = pd.read_csv(path)
    assert len(worklist) > 50
    assert worklist["rank"].iloc[0] == 1
