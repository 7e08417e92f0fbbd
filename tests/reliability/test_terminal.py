"""Text from the data is inert in the terminal: a real `latepay score` whose customers are named
with console markup and escape sequences prints them as text and exits 0 (issue #19 item 5)."""

from __future__ import annotations

import duckdb
import pytest
from typer.testing import CliRunner

from pipelines.cli import app
from tests.conftest import set_env

HOSTILE = "[link=http://evil.example]ACME[/link] [/] [bold red]x\x1b[31mRED\x07"


@pytest.mark.slow
def test_markup_and_escape_sequences_in_names_print_as_text(book_copy, monkeypatch):
    with duckdb.connect(str(book_copy.warehouse_path)) as con:
        con.execute("update staging.customers set name = $n || customer_id", {"n": HOSTILE})
    set_env(book_copy, monkeypatch)
    result = CliRunner().invoke(app, ["score", "--as-of", "2026-11-01"])
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.output and "\x07" not in result.output
    # the name as written, cut by the table's width (control characters shown as \xNN), not
    # a link (no OSC 8 sequence) and not a style
    for shown in ("[link=http:/", "[/] [bold", "red]x\\x1b[31"):
        assert shown in result.output
    assert (book_copy.outputs_dir / "2026-11-01" / "worklist.csv").exists()
