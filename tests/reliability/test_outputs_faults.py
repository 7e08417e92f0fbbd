"""An outputs path latepay cannot use (a file, a folder under a file): the run says so in one
line naming LATEPAY_OUTPUTS_DIR, exit code 1, and is recorded as failed, not published."""

from __future__ import annotations

import duckdb
import pytest
from typer.testing import CliRunner

from pipelines.cli import app
from tests.conftest import set_env

AS_OF = "2026-11-01"


@pytest.mark.slow
@pytest.mark.parametrize("shape", ["a file", "under a file"])
def test_an_outputs_path_that_is_not_a_folder_fails_the_run_in_one_line(
    book_copy, monkeypatch, tmp_path, shape
):
    (tmp_path / "notes.txt").write_text("not a folder\n")
    outputs = tmp_path / "notes.txt" if shape == "a file" else tmp_path / "notes.txt" / "out"
    set_env(book_copy.model_copy(update={"outputs_dir": outputs}), monkeypatch)
    result = CliRunner().invoke(app, ["score", "--as-of", AS_OF])
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    line = " ".join(result.output.split())
    assert line.startswith(f"error: could not publish the worklist of {AS_OF}: ")
    assert "LATEPAY_OUTPUTS_DIR" in line and "the run is recorded as failed" in line
    assert (tmp_path / "notes.txt").read_text() == "not a folder\n"
    with duckdb.connect(str(book_copy.warehouse_path), read_only=True) as con:
        runs = con.execute("select status from scoring.runs where as_of = $d", {"d": AS_OF})
        assert [s for (s,) in runs.fetchall()] == ["failed"]
