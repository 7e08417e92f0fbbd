"""Every physical line is counted: a quote never closed does not swallow the rows after it,
CR-only line endings are lines, and a late byte that is not UTF-8 stops the load naming its line."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from pipelines.ingest import IngestError, ingest_files
from pipelines.warehouse import connect

LOAD_DATE = date(2026, 6, 30)
HEADER = "invoice_id,customer_id,issue_date,due_date,amount"


def _row(i: int, customer: str = "C1", amount: str = "1.00") -> str:
    return f"I{i},{customer},2026-03-01,2026-03-31,{amount}"


def _ingest(path: Path):
    con = connect(":memory:")
    [result] = ingest_files(con, [path], load_date=LOAD_DATE)
    rejects = con.execute("select line, rule, message from rejects order by line").fetchall()
    ids = [i for (i,) in con.execute("select invoice_id from staging.invoices").fetchall()]
    return result, rejects, ids


def test_a_quote_never_closed_rejects_its_line_and_keeps_the_others(tmp_path):
    lines = [HEADER, *(_row(i, '"C1' if i == 3 else "C1") for i in range(1, 21))]
    path = tmp_path / "invoices.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result, rejects, ids = _ingest(path)
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (20, 19, 1)
    [(line, rule, message)] = rejects
    assert (line, rule) == (4, "wrong_field_count")
    assert message == (
        'a quote (") opened on this line is never closed: the lines after it were read one by one'
    )
    assert sorted(ids) == sorted(f"I{i}" for i in range(1, 21) if i != 3)


def test_a_quoted_field_over_several_lines_is_still_one_row(tmp_path):
    lines = [HEADER, _row(1), 'I2,"C1\nsecond line",2026-03-01,2026-03-31,2.00', _row(3)]
    path = tmp_path / "invoices.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result, rejects, ids = _ingest(path)
    assert (result.rows_read, result.rows_loaded, rejects) == (3, 3, [])
    assert sorted(ids) == ["I1", "I2", "I3"]


def test_cr_only_line_endings_are_lines(tmp_path):
    path = tmp_path / "invoices.csv"
    path.write_bytes(("\r".join([HEADER, _row(1), _row(2), _row(3)]) + "\r").encode())
    result, rejects, _ = _ingest(path)
    assert (result.rows_read, result.rows_loaded, rejects) == (3, 3, [])


def test_a_late_byte_that_is_not_utf8_stops_the_load_naming_its_line(tmp_path):
    lines = [HEADER, *(_row(i) for i in range(1, 3000))]
    path = tmp_path / "invoices.csv"
    late = _row(9999, customer="Soci\xe9t\xe9").encode("latin-1")
    path.write_bytes(("\n".join(lines) + "\n").encode() + late + b"\n")
    with pytest.raises(IngestError) as caught:
        _ingest(path)
    assert str(caught.value) == (
        f"{path}: rule bad_encoding: the file starts as UTF-8 but is not UTF-8 at line 3001 "
        "(byte 0xe9): it mixes encodings; export it again in one encoding, or give it in a "
        'mapping file (encoding = "cp1252")'
    )
