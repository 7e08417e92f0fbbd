"""The Prefect flows run the same workloads as the CLI (one Prefect test server per session)."""

from __future__ import annotations

import shutil
from datetime import date

import duckdb
import pandas as pd
import pytest
from prefect.testing.utilities import prefect_test_harness
from typer.testing import CliRunner

from pipelines import tracking
from pipelines.cli import app


@pytest.mark.slow
def test_flows_ingest_train_nightly(small_book_dir, settings_env, monkeypatch):
    from pipelines.deployments import nightly_deployment
    from pipelines.flows import backfill_flow, ingest_flow, nightly_flow, score_flow, train_flow

    deployment = nightly_deployment(settings_env)
    [schedule] = deployment.schedules
    assert (schedule.schedule.cron, schedule.schedule.timezone) == ("0 2 * * *", "Europe/Paris")

    invoices = pd.read_csv(small_book_dir / "invoices.csv")
    payments = pd.read_csv(small_book_dir / "payments.csv")
    late = payments["payment_date"] >= "2026-10-01"
    early_dir = settings_env.inbox_dir.parent / "history"
    early_dir.mkdir()
    for name in ("customers.csv", "promises.csv"):
        shutil.copy(small_book_dir / name, early_dir / name)
    invoices.to_csv(early_dir / "invoices.csv", index=False)
    payments[~late].to_csv(early_dir / "payments.csv", index=False)
    settings_env.inbox_dir.mkdir()
    payments[late].to_csv(settings_env.inbox_dir / "payments_october.csv", index=False)

    # the collectors' files written by two processes under Prefect's task runner too
    monkeypatch.setenv("LATEPAY_PUBLISH_PROCESSES", "2")
    with prefect_test_harness():
        loads = ingest_flow([str(early_dir)])
        assert {r.kind for r in loads} == {"customers", "invoices", "payments", "promises"}
        assert train_flow(force_promote=True, tune_trials=2) == "1"
        folder = nightly_flow(as_of=date(2026, 11, 1))
        # payments of October loaded as of 1 September: all rejected as future
        again_dir = settings_env.inbox_dir.parent / "again"
        again_dir.mkdir()
        payments[late].head(5).to_csv(again_dir / "payments.csv", index=False)
        [late_load] = ingest_flow([str(again_dir)], load_date=date(2026, 9, 1))
        again = score_flow(as_of=date(2026, 11, 1))
        backfilled = backfill_flow(date(2026, 10, 30), date(2026, 10, 31))
    assert late_load.rows_rejected == late_load.rows_read == 5
    assert again == folder
    assert [f.rsplit("/", 1)[1] for f in backfilled] == ["2026-10-30", "2026-10-31"]
    # the LightGBM settings were chosen among 2 trials, logged with the run
    params, _ = tracking.champion_run(settings_env.mlflow_tracking_uri, settings_env.model_name)
    assert params["tuning_trials"] == "2"
    assert len(list(settings_env.mlflow_artifacts_dir.glob("**/tuning.json"))) == 1
    assert not any(p.is_file() for p in settings_env.inbox_dir.iterdir())
    moved = list((settings_env.inbox_dir / "loaded").glob("*/payments_october.csv"))
    assert len(moved) == 1
    worklist = pd.read_csv(f"{folder}/worklist.csv")
    assert len(worklist) > 50 and worklist["rank"].iloc[0] == 1
    con = duckdb.connect(str(settings_env.warehouse_path), read_only=True)
    [(last_payment,)] = con.execute("select max(payment_date) from staging.payments").fetchall()
    con.close()
    assert last_payment.isoformat() == payments["payment_date"].max()


def test_serve_needs_a_prefect_server(monkeypatch):
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    result = CliRunner().invoke(app, ["serve"], terminal_width=200)
    assert result.exit_code == 1
    assert "latepay serve needs a running Prefect server" in result.output
