"""End-to-end runs on a small generated book: the demo, then scoring and publishing again the way
operations run it (same date, broken inputs, a second run at once), and the Prefect flows."""

from __future__ import annotations

import shutil
from datetime import date

import duckdb
import mlflow
import pandas as pd
import pytest
from openpyxl import load_workbook
from prefect.testing.utilities import prefect_test_harness
from typer.testing import CliRunner

from models.worklist import WORKLIST_COLUMNS
from pipelines import scoring, tracking
from pipelines.cli import app

AS_OF = "2026-11-01"


@pytest.fixture(scope="module")
def demo_run(small_book_dir, tmp_path_factory):
    """`latepay demo` on the small book, in its own folder; the module's tests reuse it."""
    from tests.conftest import settings_in

    folder = tmp_path_factory.mktemp("demo")
    settings = settings_in(folder, sample_dir=small_book_dir)
    with pytest.MonkeyPatch.context() as patch:
        for name, value in settings.model_dump().items():
            patch.setenv(f"LATEPAY_{name.upper()}", "" if value is None else str(value))
        result = CliRunner().invoke(app, ["demo"], terminal_width=160)
    return settings, result


@pytest.fixture
def demo_env(demo_run, monkeypatch):
    settings, _ = demo_run
    for name, value in settings.model_dump().items():
        monkeypatch.setenv(f"LATEPAY_{name.upper()}", "" if value is None else str(value))
    return settings


def test_demo_end_to_end(demo_run):
    settings, result = demo_run
    assert result.exit_code == 0, result.output
    assert f"Worklist as of {AS_OF}" in result.output
    folder = settings.outputs_dir / AS_OF
    worklist = pd.read_csv(folder / "worklist.csv")
    collectors = worklist["collector"].nunique()
    assert sorted(p.suffix for p in folder.iterdir()) == [".csv", ".html"] + [".xlsx"] * collectors
    assert list(worklist.columns) == WORKLIST_COLUMNS
    assert worklist["rank"].is_monotonic_increasing
    assert worklist["expected_amount_at_risk"].is_monotonic_decreasing
    assert worklist.groupby("collector")["collector_rank"].max().le(30).all()
    assert worklist["reason_1"].notna().all()  # reasons for every published row
    assert worklist["next_action"].notna().all() and worklist["dunning_stage"].notna().all()

    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    [(customers_with_open, listed)] = con.execute(
        "select count(*), count(*) filter (where in_todays_list) from scoring.worklist"
    ).fetchall()
    [(scored_customers,)] = con.execute(
        "select count(distinct customer_id) from scoring.invoice_scores"
    ).fetchall()
    assert customers_with_open == scored_customers > listed == len(worklist)
    [(bad_intervals, before_as_of)] = con.execute(
        """
        select count(*) filter (where not days_to_pay_p10 <= days_to_pay_p50
                                       and days_to_pay_p50 <= days_to_pay_p90),
               count(*) filter (where predicted_payment_date < as_of)
        from scoring.invoice_scores
        """
    ).fetchall()
    assert (bad_intervals, before_as_of) == (0, 0)
    [(status, scored)] = con.execute("select status, invoices_scored from scoring.runs").fetchall()
    assert status == "published" and scored > 0
    [(read, loaded, pending, rejected)] = con.execute(
        "select sum(rows_read), sum(rows_loaded), sum(rows_pending), sum(rows_rejected) from loads"
    ).fetchall()
    assert read == loaded + pending + rejected and loaded > 12_000
    con.close()

    for path in folder.glob("worklist_*.xlsx"):
        sheet = load_workbook(path)["Worklist"]
        collector = path.stem.removeprefix("worklist_")
        assert {row[1].value for row in sheet.iter_rows(2)} == {collector}
    html = (folder / "report.html").read_text(encoding="utf-8")
    # aged balance and cash-in; the DSO trend needs a second published date
    assert html.count("<svg") == 2 and "Aged balance" in html and "DSO" in html

    mlflow.set_tracking_uri(settings.mlflow_tracking_uri)
    client = mlflow.MlflowClient()
    champion = client.get_model_version_by_alias(settings.model_name, "champion")
    metrics = client.get_run(champion.run_id).data.metrics
    # the model beats the customer's prior late rate on the later period
    assert (
        metrics["backtest_late_model_auc"] > metrics["backtest_late_baseline_prior_late_rate_auc"]
    )


def test_scoring_the_same_date_again_gives_the_same_list(demo_env):
    before = (demo_env.outputs_dir / AS_OF / "worklist.csv").read_bytes()
    result = CliRunner().invoke(app, ["score", "--as-of", AS_OF], terminal_width=160)
    assert result.exit_code == 0, result.output
    assert (demo_env.outputs_dir / AS_OF / "worklist.csv").read_bytes() == before
    con = duckdb.connect(str(demo_env.warehouse_path), read_only=True)
    # one run's rows per date are kept
    [(runs,)] = con.execute("select count(distinct run_id) from scoring.worklist").fetchall()
    con.close()
    assert runs == 1


def test_a_run_refuses_to_publish_on_stale_payments(demo_env):
    published = sorted(p.name for p in demo_env.outputs_dir.iterdir())
    result = CliRunner().invoke(app, ["score", "--as-of", "2026-12-15"], terminal_width=160)
    assert result.exit_code == 1
    assert "refused to publish the worklist of 2026-12-15" in result.output
    assert "no payment dated in the 7 days before 2026-12-15" in result.output
    assert sorted(p.name for p in demo_env.outputs_dir.iterdir()) == published
    con = duckdb.connect(str(demo_env.warehouse_path), read_only=True)
    [(status,)] = con.execute(
        "select status from scoring.runs where as_of = '2026-12-15'"
    ).fetchall()
    con.close()
    assert status == "refused"


def test_a_second_run_at_once_is_refused_clearly(demo_env):
    with scoring.run_lock(demo_env):
        result = CliRunner().invoke(app, ["score", "--as-of", AS_OF], terminal_width=160)
    assert result.exit_code == 1
    assert "another latepay run holds" in result.output


def test_features_as_of_a_date_do_not_change_when_later_data_arrives(
    small_book_dir, settings_env, tmp_path
):
    """`latepay features --as-of D` before and after loading the exports of later days."""
    as_of = "2026-06-01"
    early = tmp_path / "early"
    early.mkdir()
    invoices = pd.read_csv(small_book_dir / "invoices.csv", dtype=str, keep_default_na=False)
    invoices = invoices[invoices["issue_date"] < as_of].copy()
    later_dispute = invoices["dispute_opened_date"] >= as_of
    invoices.loc[later_dispute, ["disputed", "dispute_opened_date"]] = ["0", ""]
    invoices.to_csv(early / "invoices.csv", index=False)
    payments = pd.read_csv(small_book_dir / "payments.csv", dtype=str)
    payments[payments["payment_date"] < as_of].to_csv(early / "payments.csv", index=False)
    shutil.copy(small_book_dir / "customers.csv", early / "customers.csv")

    runner = CliRunner()

    def features(name: str) -> pd.DataFrame:
        out = tmp_path / f"{name}.parquet"
        result = runner.invoke(app, ["features", f"--as-of={as_of}", f"--out={out}"])
        assert result.exit_code == 0, result.output
        return pd.read_parquet(out)

    assert runner.invoke(app, ["ingest", str(early)]).exit_code == 0
    before = features("before")
    result = runner.invoke(app, ["ingest", str(small_book_dir)])
    assert result.exit_code == 0, result.output
    after = features("after")
    assert len(before) > 100 and before["is_disputed"].sum() > 0
    pd.testing.assert_frame_equal(before, after)


def test_features_that_cannot_be_right_are_refused():
    features = pd.DataFrame({"a": [None, None], "b": [None, None], "c": [1.0, 2.0]})
    assert scoring.check_features(features, ["a", "b", "c"])[0].startswith(
        "2 of 3 numeric features are null for every open invoice"
    )
    assert scoring.check_features(features.drop(columns="a"), ["a", "c"])[0].startswith(
        "the champion model expects features the warehouse does not give: ['a']"
    )
    assert scoring.check_features(features, ["a", "c"]) == []


def test_flows_ingest_train_nightly(small_book_dir, settings_env):
    from pipelines.flows import ingest_flow, nightly_deployment, nightly_flow, train_flow

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

    with prefect_test_harness():
        loads = ingest_flow([str(early_dir)])
        assert {r.kind for r in loads} == {"customers", "invoices", "payments", "promises"}
        assert train_flow(force_promote=True, tune_trials=2) == "1"
        folder = nightly_flow(as_of=date(2026, 11, 1))
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
