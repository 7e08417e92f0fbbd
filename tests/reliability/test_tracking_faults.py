"""The MLflow store and the champion's files, damaged or missing: one line naming the setting
and what to do, exit code 1, never a traceback, nothing published."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipelines.cli import app
from tests.conftest import set_env, settings_in

INVOICES = "invoice_id,customer_id,issue_date,due_date,amount\nI1,C1,2026-03-01,2026-03-31,10\n"


def _latepay(*args: str):
    result = CliRunner().invoke(app, list(args))
    return result, " ".join(result.output.split())  # (the console wraps long lines)


@pytest.mark.parametrize("command", ["nightly", "monitor"])
def test_a_store_that_is_not_an_mlflow_store_is_one_line(tmp_path, monkeypatch, command):
    settings = settings_in(tmp_path)
    store = tmp_path / "mlflow.db"
    store.write_bytes(b"\x00garbage, not a database\xff" * 200)
    set_env(settings.model_copy(update={"mlflow_tracking_uri": f"sqlite:///{store}"}), monkeypatch)
    (tmp_path / "invoices.csv").write_text(INVOICES)
    assert _latepay("ingest", str(tmp_path / "invoices.csv"))[0].exit_code == 0
    result, line = _latepay(command, "--as-of", "2026-06-30")
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and result.exception.__class__ is SystemExit
    # (compared without spaces: the console may break the long path anywhere)
    assert "".join(line.split()).startswith(f"error:theMLflowstoresqlite:///{store}cannotberead(")
    assert "LATEPAY_MLFLOW_TRACKING_URI must name a store latepay made" in line
    assert not (settings.outputs_dir / "2026-06-30").exists()


@pytest.mark.slow
def test_a_champion_whose_files_are_gone_is_one_line_and_nothing_is_published(
    book_copy, monkeypatch, tmp_path
):
    # the store still registers the champion, but its files were under a folder since deleted
    champion_files_gone(book_copy, tmp_path)
    set_env(book_copy, monkeypatch)
    result, line = _latepay("nightly", "--as-of", "2026-11-01")
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    assert line.startswith("error: the champion (version ")
    assert line.endswith(
        "its files under LATEPAY_MLFLOW_ARTIFACTS_DIR were moved or deleted; put them back, or "
        "run `latepay train --force-promote`"
    )
    assert not (book_copy.outputs_dir / "2026-11-01").exists()


def champion_files_gone(settings, tmp_path: Path) -> None:
    """The store still registers the champion, but its files are said to be under a folder
    since deleted (tmp_path/deleted): every artifact location of the store moved there."""
    gone = (tmp_path / "deleted").as_posix()
    with sqlite3.connect(settings.mlflow_tracking_uri.removeprefix("sqlite:///")) as db:
        old = settings.mlflow_artifacts_dir.resolve().as_posix()
        for table, column in (("model_versions", "storage_location"), ("runs", "artifact_uri"),
                              ("experiments", "artifact_location"), ("logged_models", "artifact_location")):  # fmt: skip
            db.execute(f"update {table} set {column} = replace({column}, ?, ?)", (old, gone))
