"""Published files: atomic replacement (also when the process is killed), the collectors'
workbooks read back with openpyxl, and text from the data made inert. (The report:
tests/unit/test_report.py.)"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import load_workbook

from models.ledger import OUTCOMES
from models.worklist import (
    WorklistPolicy,
    coming_up,
    plan_invoices,
    rank_customers,
    todays_list,
)
from pipelines import publish
from pipelines.publish import workbooks
from pipelines.publish.files import neutralise, write_worklist_csv
from tests.handmade_book import AS_OF, CUSTOMERS, PROMISES, SCORES

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def ranked() -> tuple[pd.DataFrame, pd.DataFrame]:
    invoices = plan_invoices(SCORES, CUSTOMERS, AS_OF, promises=PROMISES)
    worklist = rank_customers(invoices, CUSTOMERS, AS_OF, policy=WorklistPolicy())
    worklist.loc[worklist["customer_id"] == "E", "reason_1"] = "-1+2 days <b>late</b>"
    return invoices, worklist


@pytest.fixture
def planned(ranked) -> tuple[pd.DataFrame, pd.DataFrame]:
    invoices, worklist = ranked
    return invoices, todays_list(worklist)


def test_text_that_would_run_as_a_formula_is_neutralised():
    assert neutralise('=HYPERLINK("x")') == '\'=HYPERLINK("x")'
    assert [neutralise(v) for v in ("+1", "-1", "@SUM", "\tx", "ok", 3)] == [
        "'+1",
        "'-1",
        "'@SUM",
        "'\tx",
        "ok",
        3,
    ]


def test_a_date_is_replaced_whole(tmp_path, planned):
    _, published = planned
    for names in (["A", "B"], ["C"]):
        with publish.staged(tmp_path, "2026-11-01") as folder:
            rows = published[published["customer_id"].isin(names)]
            write_worklist_csv(rows, folder / "worklist.csv")
    assert pd.read_csv(tmp_path / "2026-11-01" / "worklist.csv")["customer_id"].tolist() == ["C"]
    assert (tmp_path / "latest").resolve() == (tmp_path / "2026-11-01").resolve()
    assert len(list((tmp_path / ".runs").iterdir())) == 1  # the replaced folder is gone

    with (
        pytest.raises(OSError, match="disk full"),
        publish.staged(tmp_path, "2026-11-01") as folder,
    ):
        (folder / "worklist.csv").write_text("half")
        raise OSError("disk full")
    assert pd.read_csv(tmp_path / "2026-11-01" / "worklist.csv")["customer_id"].tolist() == ["C"]
    assert len(list((tmp_path / ".runs").iterdir())) == 1


def test_latest_points_at_the_newest_date(tmp_path, planned):
    _, published = planned
    for day in ("2026-11-02", "2026-11-01"):  # a backfill of an earlier date after a later one
        with publish.staged(tmp_path, day) as folder:
            write_worklist_csv(published, folder / "worklist.csv")
    assert (tmp_path / "latest").resolve() == (tmp_path / "2026-11-02").resolve()


def test_a_run_killed_while_publishing_leaves_the_previous_outputs(tmp_path):
    script = textwrap.dedent(
        f"""
        import os, signal
        from pathlib import Path
        from pipelines import publish
        out = Path({str(tmp_path)!r})
        with publish.staged(out, "2026-11-01") as folder:
            (folder / "worklist.csv").write_text("previous\\n")
        with publish.staged(out, "2026-11-01") as folder:
            (folder / "worklist.csv").write_text("new, half writ")
            os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, check=False)
    assert done.returncode == -9  # killed
    assert (tmp_path / "2026-11-01" / "worklist.csv").read_text() == "previous\n"
    assert len(list((tmp_path / ".runs").iterdir())) == 2  # the killed run's folder is left over
    with publish.staged(tmp_path, "2026-11-02") as folder:  # the next run cleans it up
        (folder / "worklist.csv").write_text("next\n")
    assert len(list((tmp_path / ".runs").iterdir())) == 2  # one folder per published date
    assert (tmp_path / "2026-11-01" / "worklist.csv").read_text() == "previous\n"


def test_a_folder_published_by_an_earlier_version_is_replaced(tmp_path):
    (tmp_path / "2026-11-01").mkdir()
    (tmp_path / "2026-11-01" / "worklist.csv").write_text("old layout\n")
    with publish.staged(tmp_path, "2026-11-01") as folder:
        (folder / "worklist.csv").write_text("new\n")
    assert (tmp_path / "2026-11-01").is_symlink()
    assert (tmp_path / "2026-11-01" / "worklist.csv").read_text() == "new\n"


def test_each_collector_workbook_reads_back(tmp_path, ranked):
    invoices, worklist = ranked
    published = todays_list(worklist)
    written = workbooks.write_collector_workbooks(
        published, invoices, tmp_path, date(2026, 11, 1), coming_up(worklist)
    )
    assert sorted(p.name for p in written.values()) == [
        "worklist_Karim.xlsx",
        "worklist_Laura.xlsx",
        "worklist_unassigned.xlsx",
    ]
    book = load_workbook(written["Karim"])
    assert book.sheetnames == ["Worklist", "Coming up", "Invoices", "About"]
    sheet = book["Worklist"]
    header = [c.value for c in sheet[1]]
    # what to do, about which invoices, the amounts and why come first; then what to fill in
    assert header[:9] == [
        "Rank", "Customer", "What to do", "Channel", "Due", "Status", "About invoices",
        "Overdue", "Expected amount at risk",
    ]  # fmt: skip
    assert header[12:17] == ["Outcome", "Done on", "Promised date", "Promised amount", "Note"]
    rows = [dict(zip(header, (c.value for c in row), strict=True)) for row in sheet.iter_rows(2)]
    assert [r["Customer id"] for r in rows] == ["E"]
    e = rows[0]
    # text that would run as a formula stays text
    assert e["Customer"] == "'@Epsilon" and e["Why"] == "'-1+2 days <b>late</b>"
    assert all(c.data_type != "f" for row in sheet.iter_rows() for c in row)
    assert (e["Status"], e["About invoices"], e["Channel"]) == ("overdue", "E1", "phone")
    assert e["Due"].date() == date(2026, 10, 26)
    assert e["Promise to pay"] == "broken" and e["Outcome"] is None
    # amounts keep their number and show their currency (E is invoiced in euros)
    overdue = sheet.cell(2, header.index("Overdue") + 1)
    assert (overdue.value, overdue.number_format) == (800.0, '"€"#,##0.00')
    assert e["Currency"] == "EUR"
    assert sheet.cell(2, header.index("Due") + 1).number_format == "yyyy-mm-dd"
    # the header row and the customer stay in view; printed landscape, one page wide
    assert sheet.freeze_panes == "C2"
    assert sheet.page_setup.orientation == "landscape"
    assert sheet.sheet_properties.pageSetUpPr.fitToPage
    assert sheet.page_setup.fitToWidth in (None, 1) and sheet.page_setup.fitToHeight == 0
    assert sheet.print_title_rows == "$1:$1"
    assert "Karim" in sheet.oddHeader.left.text and "2026-11-01" in sheet.oddHeader.right.text
    [outcome] = [v for v in sheet.data_validations.dataValidation if v.type == "list"]
    assert outcome.formula1 == '"' + ",".join(OUTCOMES) + '"'
    # the action key is there for reading back, hidden
    key = header.index("Action key") + 1
    assert sheet.column_dimensions[sheet.cell(1, key).column_letter].hidden
    coming = [[c.value for c in row] for row in book["Coming up"].iter_rows(2)]
    assert [r[0] for r in coming] == ['\'=HYPERLINK("http://evil.example","click")']
    behind = [[c.value for c in row] for row in book["Invoices"].iter_rows(2)]
    assert [(r[1], r[2]) for r in behind] == [("E", "E1"), ("E", "E2")]


def test_the_about_sheet_says_where_coming_up_stops(tmp_path, ranked):
    invoices, worklist = ranked
    published = todays_list(worklist)
    until = date(2026, 11, 15)
    written = workbooks.write_collector_workbooks(
        published, invoices, tmp_path, date(2026, 11, 1),
        coming_up(worklist, pd.Timestamp(until)), coming_until=until,
    )  # fmt: skip
    about = dict(load_workbook(written["Karim"])["About"].iter_rows(values_only=True))
    assert about["Coming up"] == (
        "Your customers whose next action is after today, up to 2026-11-15; those whose next "
        "action is later are not listed."
    )
    assert "Not reached" not in about  # not told: not said


def test_the_about_sheet_says_how_much_work_due_the_list_could_not_hold(tmp_path, ranked):
    invoices, worklist = ranked
    published = todays_list(worklist)
    written = workbooks.write_collector_workbooks(
        published, invoices, tmp_path, date(2026, 11, 1), not_reached={"Laura": 1234}
    )
    also = {
        collector: dict(load_workbook(path)["About"].iter_rows(values_only=True))["Not reached"]
        for collector, path in written.items()
    }
    assert also["Laura"] == (
        "1,234 more of your customers have work due that did not fit in today's list. It "
        "stays due: each day's list takes the most money at risk first."
    )
    assert also["Karim"] == "Nothing else: all your work due is in today's list."


def test_a_sheet_writes_text_as_text_and_leaves_empty_text_blank(tmp_path):
    """A column of text alone is written as strings (an empty one is a blank cell, as write()
    leaves it); a column mixing text and numbers keeps each value's type."""
    import xlsxwriter

    frame = pd.DataFrame(
        {"name": ["Alpha", "", None, "007"], "note": ["x", 3, None, "=1+1"]}, dtype=object
    )
    path = tmp_path / "sheet.xlsx"
    with xlsxwriter.Workbook(path, {"strings_to_formulas": False}) as book:
        workbooks._sheet(book, "Sheet", frame, {"name": "Name", "note": "Note"}, "fr_FR")
    rows = [[(c.value, c.data_type) for c in row] for row in load_workbook(path)["Sheet"]]
    assert rows[1:] == [
        [("Alpha", "s"), ("x", "s")],
        [(None, "n"), (3, "n")],
        [(None, "n"), (None, "n")],
        [("007", "s"), ("'=1+1", "s")],
    ]


@pytest.mark.parametrize(
    ("locale", "pounds", "euros"),
    [
        ("en_GB", '"£"#,##0.00', '"€"#,##0.00'),
        ("fr_FR", '#,##0.00"\u00a0£GB"', '#,##0.00"\u00a0€"'),
    ],
)
def test_amounts_show_their_own_currency(tmp_path, ranked, locale, pounds, euros):
    invoices, worklist = ranked
    written = workbooks.write_collector_workbooks(
        todays_list(worklist), invoices, tmp_path, date(2026, 11, 1), locale=locale
    )
    book = load_workbook(written["Laura"])
    sheet = book["Worklist"]
    header = [c.value for c in sheet[1]]
    rows = {r[header.index("Customer id")].value: r for r in sheet.iter_rows(2)}
    # C is invoiced in pounds, A in euros: each amount keeps its number, with its currency
    for customer, currency, shown in (("C", "GBP", pounds), ("A", "EUR", euros)):
        row = rows[customer]
        assert row[header.index("Currency")].value == currency
        for column in ("Expected amount at risk", "Customer: open", "Promised amount"):
            assert row[header.index(column)].number_format == shown, (customer, column)
        # the recovery indemnity is French law's, in euros
        assert row[header.index("Recovery fees owed")].number_format == euros
    invoice_sheet = book["Invoices"]
    header = [c.value for c in invoice_sheet[1]]
    c1 = next(r for r in invoice_sheet.iter_rows(2) if r[header.index("Invoice")].value == "C1")
    assert (c1[header.index("Open amount")].value, c1[header.index("Currency")].value) == (
        500.0,
        "GBP",
    )
    assert c1[header.index("Open amount")].number_format == pounds
    # past due: late by definition, so no "risk of paying late" is shown
    assert c1[header.index("Risk of paying late (not due yet)")].value is None


def test_collector_file_names_are_safe_and_unique():
    taken: set[str] = set()
    names = [workbooks.collector_file_name(c, taken) for c in ("A/B", "A B", "../x", "Zoé")]
    assert names == [
        "worklist_A_B.xlsx",
        "worklist_A_B_2.xlsx",
        "worklist_x.xlsx",
        "worklist_Zoé.xlsx",
    ]


def test_names_made_from_the_data_are_safe_file_names():
    from pipelines.publish.files import MAX_NAME_BYTES, safe_name
    from pipelines.publish.workbooks import collector_file_name

    assert safe_name("../../etc/passwd") == "etc_passwd"
    assert safe_name("CON") == "_CON" and safe_name("lpt1") == "_lpt1"
    assert safe_name("...") == "unnamed" and safe_name("") == "unnamed"
    assert safe_name("Zoé Müller") == "Zoé_Müller"
    long = safe_name("é" * 300)
    assert long == "é" * (MAX_NAME_BYTES // 2) and len(long.encode()) <= MAX_NAME_BYTES
    taken: set[str] = set()
    names = [collector_file_name(c, taken) for c in ("x" * 400, "NUL", "a/b", "a:b")]
    assert names[1:] == ["worklist__NUL.xlsx", "worklist_a_b.xlsx", "worklist_a_b_2.xlsx"]
    assert len(names[0].encode()) <= 255
