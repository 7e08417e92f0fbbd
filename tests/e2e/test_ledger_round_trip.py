"""The collector's morning, end to end: a list is published, the collector fills in the workbook
as they would in Excel, drops it in the inbox, and the next night's list has moved on."""

from __future__ import annotations

import shutil
from datetime import date

import duckdb
import pandas as pd
import pytest
from openpyxl import load_workbook

from pipelines.jobs.ingest import ingest
from pipelines.jobs.nightly import nightly
from pipelines.jobs.score import score

MONDAY, TUESDAY = date(2026, 11, 2), date(2026, 11, 3)


def _fill(path, outcomes: dict[int, tuple[str, date | None]]) -> list[dict]:
    """Write outcomes on rows (1 = the first customer) as a collector would; return those rows
    as they were published."""
    book = load_workbook(path)
    sheet = book["Worklist"]
    header = [c.value for c in sheet[1]]
    rows = []
    for row, (outcome, promised) in outcomes.items():
        cells = {name: sheet.cell(row + 1, i + 1) for i, name in enumerate(header)}
        rows.append({name: cell.value for name, cell in cells.items()})
        cells["Outcome"].value = outcome
        if promised:
            cells["Promised date"].value = promised
            cells["Promised amount"].value = 100.0
        cells["Note"].value = "rang, spoke to accounts"
    book.save(path)
    return rows


@pytest.mark.slow
def test_a_filled_workbook_moves_the_next_list_on(book_copy):
    first = score(book_copy, MONDAY)
    workbook = next(first.output_dir.glob("worklist_*.xlsx"))
    done, promised = _fill(workbook, {1: ("done", None), 2: ("promise to pay", date(2026, 11, 20))})
    book_copy.inbox_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy(workbook, book_copy.inbox_dir / workbook.name)

    second = nightly(book_copy, TUESDAY)

    [load] = second.loads
    assert (load.kind, load.rows_read, load.rows_rejected) == ("actions", 2, 0)
    with duckdb.connect(str(book_copy.warehouse_path), read_only=True) as con:
        ledger = con.execute(
            "select customer_id, invoice_id, action, action_date, note from staging.actions "
            "where source_file like '%.xlsx' order by customer_id, invoice_id"
        ).df()
    done_invoices = sorted(done["About invoices"].split(", "))
    mine = ledger[ledger["customer_id"] == done["Customer id"]]
    assert sorted(mine["invoice_id"]) == done_invoices
    assert (mine["action_date"] == pd.Timestamp(MONDAY)).all()
    assert (mine["note"] == "rang, spoke to accounts").all()
    # Tuesday: the action done on Monday is not asked again on those invoices
    after = second.score.worklist.set_index("customer_id")
    if done["Customer id"] in after.index:
        row = after.loc[done["Customer id"]]
        same = set(row["action_invoices"].split(", ")) & set(done_invoices)
        assert not (same and row["next_action"] == done["What to do"])
    # the promise pauses its invoices until the promised date
    pending = second.score.scores.set_index("invoice_id").loc[
        promised["About invoices"].split(", ")
    ]
    assert (pending["promise_status"] == "pending").all()
    assert (pending["next_action_date"] == pd.Timestamp("2026-11-23")).all()  # 20th + 1: Sat → Mon

    # the same workbook again records nothing new
    again = ingest(book_copy, [second.moved_to / workbook.name])
    assert [r.skipped for r in again] == [True]
