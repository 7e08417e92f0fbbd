"""Scoring and publishing the way operations run it, on a copy of the trained book: the same date
again, broken inputs, a second run at once, a backfill; and features as of a date that later
exports do not change."""

from __future__ import annotations

import re
import shutil

import duckdb
import pandas as pd
import pytest
from typer.testing import CliRunner

from pipelines.cli import app
from pipelines.warehouse.locks import run_lock
from tests.conftest import set_env

AS_OF = "2026-11-01"


@pytest.fixture
def scored(book_copy, monkeypatch):
    """The copy scored once as of AS_OF through the CLI, its settings in the environment."""
    set_env(book_copy, monkeypatch)
    result = CliRunner().invoke(app, ["score", "--as-of", AS_OF], terminal_width=160)
    assert result.exit_code == 0, result.output
    return book_copy


def test_scoring_the_same_date_again_gives_the_same_list(scored):
    before = (scored.outputs_dir / AS_OF / "worklist.csv").read_bytes()
    result = CliRunner().invoke(app, ["score", "--as-of", AS_OF], terminal_width=160)
    assert result.exit_code == 0, result.output
    assert (scored.outputs_dir / AS_OF / "worklist.csv").read_bytes() == before
    with duckdb.connect(str(scored.warehouse_path), read_only=True) as con:
        # one run's rows per date are kept
        [(runs,)] = con.execute("select count(distinct run_id) from scoring.worklist").fetchall()
    assert runs == 1


def test_a_run_refuses_to_publish_on_stale_payments(scored):
    published = sorted(p.name for p in scored.outputs_dir.iterdir())
    result = CliRunner().invoke(app, ["score", "--as-of", "2026-12-15"], terminal_width=160)
    assert result.exit_code == 1
    assert "refused to publish the worklist of 2026-12-15" in result.output
    assert "no payment dated in the 7 days before 2026-12-15" in result.output
    assert sorted(p.name for p in scored.outputs_dir.iterdir()) == published
    with duckdb.connect(str(scored.warehouse_path), read_only=True) as con:
        [(status,)] = con.execute(
            "select status from scoring.runs where as_of = '2026-12-15'"
        ).fetchall()
    assert status == "refused"


def test_a_second_run_at_once_is_refused_clearly(scored):
    with run_lock(scored.warehouse_path):
        result = CliRunner().invoke(app, ["score", "--as-of", AS_OF], terminal_width=160)
    assert result.exit_code == 1
    assert "another latepay run holds" in result.output


@pytest.mark.slow  # (eight seconds: scores and publishes several dates)
def test_backfill_publishes_every_date_of_the_range(book_copy, monkeypatch):
    set_env(book_copy, monkeypatch)
    result = CliRunner().invoke(app, ["backfill", "2026-10-30", "2026-11-01"], terminal_width=200)
    assert result.exit_code == 0, result.output
    for day in ("2026-10-30", "2026-10-31", "2026-11-01"):
        assert f"{day}: " in result.output
        assert (book_copy.outputs_dir / day / "worklist.csv").exists()
    with duckdb.connect(str(book_copy.warehouse_path), read_only=True) as con:
        [(dates,)] = con.execute(
            "select count(distinct as_of) from scoring.runs where status = 'published'"
        ).fetchall()
    assert dates == 3


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
    actions = pd.read_csv(small_book_dir / "actions.csv", dtype=str, keep_default_na=False)
    actions[actions["action_date"] < as_of].to_csv(early / "actions.csv", index=False)

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


@pytest.mark.slow
def test_a_run_that_cannot_publish_is_recorded_as_failed_not_published(book_copy, monkeypatch):
    from pipelines import publish

    set_env(book_copy, monkeypatch)

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(publish, "_switch", disk_full)
    result = CliRunner().invoke(app, ["score", "--as-of", AS_OF])
    assert result.exit_code == 1 and "Traceback" not in result.output
    line = " ".join(result.output.split())
    assert line.startswith(f"error: could not publish the worklist of {AS_OF}: [Errno 28] No space")
    assert line.endswith("Nothing was published; the run is recorded as failed")
    assert not (book_copy.outputs_dir / AS_OF).exists()
    with duckdb.connect(str(book_copy.warehouse_path), read_only=True) as con:
        runs = con.execute("select status from scoring.runs where as_of = $d", {"d": AS_OF})
        assert [s for (s,) in runs.fetchall()] == ["failed"]
        worklist = con.execute(
            "select count(*) from information_schema.tables where "
            "table_schema = 'scoring' and table_name = 'worklist'"
        ).fetchall()
        if worklist[0][0]:
            [(rows,)] = con.execute(
                "select count(*) from scoring.worklist where as_of = $d", {"d": AS_OF}
            ).fetchall()
            assert rows == 0


@pytest.mark.slow
def test_a_pool_of_processes_publishes_the_files_one_process_does(scored, monkeypatch):
    """LATEPAY_PUBLISH_PROCESSES=2 through the CLI: the collectors' workbooks and drafts are
    written by two other processes, and are the files the nightly's own process wrote."""
    from tests.unit.test_collectors_files import _contents

    def collectors_files() -> dict[str, object]:
        found = _contents(scored.outputs_dir / AS_OF)
        return {
            k: re.sub(rb"(?m)^Date: .*\n", b"", v) if k.endswith(".eml") else v  # (the time)
            for k, v in found.items()
            if k.endswith(".xlsx") or k.startswith("drafts/")
        }

    alone = collectors_files()
    assert any(k.startswith("drafts/") for k in alone) and any(k.endswith(".xlsx") for k in alone)
    monkeypatch.setenv("LATEPAY_PUBLISH_PROCESSES", "2")
    result = CliRunner().invoke(app, ["score", "--as-of", AS_OF], terminal_width=160)
    assert result.exit_code == 0, result.output
    assert collectors_files() == alone
