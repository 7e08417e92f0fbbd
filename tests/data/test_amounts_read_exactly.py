"""Amounts are read as the file writes them, or refused: thousands dots decided from the whole
file and its date style, never guessed into a decimal; no digit beyond the cents rounded away."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from pipelines.ingest import IngestError, ingest_files
from pipelines.warehouse import connect

LOAD_DATE = date(2026, 6, 30)
HEADER = "invoice_id{s}customer_id{s}issue_date{s}due_date{s}amount\n"


def _ingest(tmp_path: Path, text: str, mapping: str | None = None):
    path = tmp_path / "invoices.csv"
    path.write_text(text, encoding="utf-8")
    mapping_path = None
    if mapping is not None:
        mapping_path = tmp_path / "mapping.toml"
        mapping_path.write_text(mapping, encoding="utf-8")
    con = connect(":memory:")
    results = ingest_files(con, [path], mapping_path, load_date=LOAD_DATE)
    amounts = dict(con.execute("select invoice_id, amount from staging.invoices").fetchall())
    rejects = con.execute("select line, rule, message from rejects order by line").fetchall()
    return results, amounts, rejects


def _rows(sep: str, dates: list[str], amounts: list[str]) -> str:
    lines = [HEADER.format(s=sep)]
    for i, (day, amount) in enumerate(zip(dates, amounts, strict=True), start=1):
        lines.append(sep.join([f"I{i}", "C1", day, day, amount]) + "\n")
    return "".join(lines)


def test_thousands_dots_with_dotted_dates_are_thousands(tmp_path):
    text = _rows(";", ["01.03.2026", "02.03.2026", "13.03.2026"], ["1.500", "2.000", "12.750"])
    results, amounts, rejects = _ingest(tmp_path, text)
    assert amounts == {"I1": Decimal("1500"), "I2": Decimal("2000"), "I3": Decimal("12750")}
    assert rejects == []
    assert "decimal ','" in results[0].source_format


def test_a_comma_decimal_elsewhere_in_the_file_decides_too(tmp_path):
    amounts_text = ["1.500"] * 30 + ["2.000,50"]  # beyond the sniffed sample's first rows
    text = _rows(";", ["2026-03-01"] * 31, amounts_text)
    _, amounts, _ = _ingest(tmp_path, text)
    assert amounts["I1"] == Decimal("1500") and amounts["I31"] == Decimal("2000.50")


def test_a_dot_decimal_elsewhere_in_the_file_makes_1_500_one_and_a_half(tmp_path):
    text = _rows(",", ["2026-03-01", "2026-03-02", "2026-03-03"], ["1.500", "2.000", "3.25"])
    _, amounts, _ = _ingest(tmp_path, text)
    assert amounts == {"I1": Decimal("1.5"), "I2": Decimal("2"), "I3": Decimal("3.25")}


def test_thousands_dots_with_iso_dates_and_nothing_else_to_decide_are_refused(tmp_path):
    text = _rows(",", ["2026-03-01", "2026-03-02"], ["1.500", "2.000"])
    with pytest.raises(IngestError, match=r"invoices.csv: rule ambiguous_decimal_mark: .*1\.500"):
        _ingest(tmp_path, text)


def test_the_mapping_decides_an_ambiguous_file(tmp_path):
    text = _rows(",", ["2026-03-01", "2026-03-02"], ["1.500", "2.000"])
    mapping = '[invoices]\nfiles = ["invoices*.csv"]\ndecimal_mark = ","\n'
    _, amounts, _ = _ingest(tmp_path, text, mapping)
    assert amounts == {"I1": Decimal("1500"), "I2": Decimal("2000")}


@pytest.mark.parametrize(
    ("sep", "values", "kept"),
    [
        (",", ["1.505", "2.500", "12.75"], {"I2": Decimal("2.5"), "I3": Decimal("12.75")}),
        (";", ["1,505", "2,500", "12,75"], {"I2": Decimal("2.5"), "I3": Decimal("12.75")}),
    ],
)
def test_digits_beyond_the_cents_are_refused_not_rounded(tmp_path, sep, values, kept):
    text = _rows(sep, ["2026-03-01", "2026-03-02", "2026-03-03"], values)
    _, amounts, rejects = _ingest(tmp_path, text)
    assert amounts == kept
    [(line, rule, message)] = rejects
    assert (line, rule) == (2, "bad_amount")
    assert "at most 2 decimals" in message and values[0] in message
