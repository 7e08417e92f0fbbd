"""Faults are one line and exit code 1, never a traceback, and nothing is recorded that did not
happen: a warehouse path naming something else, an empty warehouse."""

from __future__ import annotations

from typer.testing import CliRunner

from pipelines.cli import app
from tests.conftest import set_env, settings_in

INVOICES = "invoice_id,customer_id,issue_date,due_date,amount\nI1,C1,2026-03-01,2026-03-31,10\n"


def _latepay(*args: str):
    result = CliRunner().invoke(app, list(args))
    return result, " ".join(result.output.split())  # (the console wraps long lines)


def test_a_warehouse_path_naming_another_file_is_refused_and_the_file_left_alone(
    tmp_path, monkeypatch
):
    settings = settings_in(tmp_path)
    settings.warehouse_path.write_text("notes, not a database\n")
    set_env(settings, monkeypatch)
    (tmp_path / "invoices.csv").write_text(INVOICES)
    result, line = _latepay("ingest", str(tmp_path / "invoices.csv"), "--load-date", "2026-06-30")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert line.startswith(f"error: the warehouse {settings.warehouse_path} cannot be opened (")
    assert line.endswith(
        "LATEPAY_WAREHOUSE_PATH must name a DuckDB file latepay made, or a file that does not "
        "exist yet"
    )
    assert "Reconciliation" not in line
    assert settings.warehouse_path.read_text() == "notes, not a database\n"


def test_training_backtesting_or_monitoring_an_empty_warehouse_says_to_load_first(
    tmp_path, monkeypatch
):
    settings = settings_in(tmp_path)
    set_env(settings, monkeypatch)
    for command in ("train", "backtest", "monitor"):
        result, line = _latepay(command)
        assert result.exit_code == 1, result.output
        assert line == (
            f"error: the warehouse {settings.warehouse_path} holds no invoice: load the exports "
            "first (latepay ingest PATH...)"
        )
