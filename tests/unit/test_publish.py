"""Published files: atomic replacement (also when the process is killed), the collectors'
workbooks read back with openpyxl, the report, and text from the data made inert."""

from __future__ import annotations

import re
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
from pipelines.publish import report, workbooks
from pipelines.publish.files import neutralise, write_worklist_csv
from pipelines.warehouse import connect, rebuild_settlements
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
    assert sheet.cell(2, header.index("Overdue") + 1).number_format == workbooks.AMOUNT_FORMAT
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


def test_collector_file_names_are_safe_and_unique():
    taken: set[str] = set()
    names = [workbooks.collector_file_name(c, taken) for c in ("A/B", "A B", "../x", "Zoé")]
    assert names == [
        "worklist_A_B.xlsx",
        "worklist_A_B_2.xlsx",
        "worklist_x.xlsx",
        "worklist_Zoé.xlsx",
    ]


def _report_context(planned) -> dict:
    invoices, published = planned
    with connect(":memory:") as con:
        rebuild_settlements(con)
        return report.context(
            con,
            AS_OF.date(),
            invoices,
            published,
            model_version="7",
            champion=(
                {"training_rows": "1000", "data_end": "2026-11-01"},
                {"backtest_late_30_model_auc": 0.84, "backtest_late_30_baseline_aging_auc": 0.75},
            ),
            capacity=30,
        )


def test_the_report_neutralises_html_from_the_data(planned):
    html = report.render(_report_context(planned))
    assert "<script>alert(1)</script>" not in html
    assert "Delta &lt;script&gt;alert(1)&lt;/script&gt; SARL" in html
    assert "<b>late</b>" not in html
    # self-contained: no external asset, no script at all
    assert "<script" not in html and "<link" not in html
    assert "src=" not in html
    assert not re.search(r"url\((?!#)|href=\"(?!#)", html)  # only references inside the page


def test_the_report_figures(planned):
    values = _report_context(planned)
    aged = {row["age_bucket"]: row["open_amount"] for row in values["aged"]}
    # not due: A2 3000 + B1 10000 + C2 500 (due today) + E2 400 + F1 900; 1–30: A1 1000 + E1 800;
    # 31–60: C1 500 + D1 1500; > 90: D2 2000
    assert aged == {
        "not due": 14800.0,
        "1–30": 1800.0,
        "31–60": 2000.0,
        "61–90": 0.0,
        ">90": 2000.0,
    }
    cash = pd.DataFrame(values["cash"])
    assert cash["expected"].sum() == pytest.approx(SCORES["open_amount"].sum())
    # weeks start on Monday 2026-10-26; C1 is predicted on 2026-11-04, in the week of 11-02
    assert cash.loc[cash["week"] == "2026-11-02", "expected"].item() == 500.0
    assert values["quality"]["rows"][0]["values"][0] == 0.84


def test_dso_is_receivables_over_the_last_90_days_of_sales(planned):
    invoices, published = planned
    with connect(":memory:") as con:
        rebuild_settlements(con)
        con.execute(
            """
            insert into staging.invoices (invoice_id, customer_id, issue_date, due_date, amount,
                disputed) values
            ('S1', 'A', '2026-10-01', '2026-10-31', 6000, false),
            ('S2', 'A', '2026-08-03', '2026-09-02', 3000, false),   -- first day of the window
            ('S3', 'A', '2026-08-02', '2026-09-01', 5000, false),   -- the day before: out
            ('S4', 'A', '2026-10-05', '2026-10-05', -1000, false),  -- credit note: out
            ('S5', 'A', '2026-11-01', '2026-12-01', 7000, false)    -- on the as-of date: out
            """
        )
        history = pd.DataFrame({"as_of": [date(2026, 10, 1)], "dso": [180.0]})
        values = report.context(
            con,
            AS_OF.date(),
            invoices,
            published,
            model_version="7",
            champion=None,
            capacity=30,
            dso_history=history,
        )
    # open amount of the hand-made book 20,600 / sales 9,000 × 90 days
    assert values["dso"] == {
        "as_of": AS_OF.date(),
        "receivables": 20600.0,
        "sales": 9000.0,
        "dso": pytest.approx(206.0),
    }
    assert sorted(values["charts"]) == ["aged", "cash", "dso"]  # a trend with two dates
