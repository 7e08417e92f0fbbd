"""A collector's worklist workbook, dropped back: its filled-in rows read as an actions file.

latepay writes `worklist_<collector>.xlsx` (pipelines/publish/workbooks.py); the collector fills
in Outcome, Done on, Promised date, Promised amount and Note, and drops the saved workbook in
the inbox (or gives it to `latepay ingest`). It is recognised by its sheet **Worklist**, whose
header holds the headers of `models.ledger.ROW_COLUMNS` and `INPUT_COLUMNS` (other sheets are
ignored); the list's date, the default "Done on", is the "As of" row of its sheet **About**.

Each row with an Outcome becomes ledger rows (`models.ledger.outcome_actions`: one per invoice
in "About invoices", or one for the whole customer) loaded as an actions file: the same rules
and tables, `line` = the sheet row. The reconciliation counts sheet rows, each loaded, pending
or rejected as a whole (load.py: SHEET_ROW_AS_A_WHOLE). A row whose Outcome is not in the list, or
whose dates are not dates, is kept as one row for the rules to reject (`unknown_outcome`,
`bad_date`). Rows left without an Outcome record nothing and are not read; their number is
told (`Plan.rows_left_empty`).
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb

from pipelines.ingest.mapping import FIELDS
from pipelines.ingest.plan import IngestError, Plan
from pipelines.ingest.readers import EXCEL_SUFFIXES, Source, _append, _rows_table, hash_and_prepare

SHEET = "Worklist"
ABOUT = "About"
AS_OF = "as of"
FORMULA_START = ("=", "+", "-", "@")  # latepay wrote such text with a leading apostrophe
# The converted table's columns: the actions' fields, the outcome typed, the sheet row as read.
COLUMNS = (*FIELDS["actions"], "outcome", "row_text")


def plan_workbook(con: duckdb.DuckDBPyConnection, path: Path) -> Plan | None:
    """The plan of a worklist workbook, its rows converted to actions; None for any other file
    (an Excel file without a Worklist sheet is an ordinary table)."""
    sheets = _read_sheets(path)
    if sheets is None:
        return None
    rows, about = sheets
    header_line, header = next(((n, r) for n, r in rows if any(_text(v) for v in r)), (0, []))
    columns = _columns(path, header)
    as_of = _as_of(about)
    ledger, left_empty = _ledger_rows([(n, r) for n, r in rows if n > header_line], columns, as_of)
    source = Source(path, "xlsx", list(COLUMNS[:-1]), [])
    source.sheet = SHEET
    source.table = f"_src_{abs(hash(str(path)))}"
    schema = _rows_table(con, source.table, len(COLUMNS))
    _append(con, source.table, schema, [[n, *r, len(COLUMNS) - 1] for n, r in ledger])
    hash_and_prepare(source)
    plan = Plan(source, "actions", None, {f: i for i, f in enumerate(FIELDS["actions"])})
    plan.workbook, plan.outcome = True, len(FIELDS["actions"])
    plan.texts = f"(select distinct line, c{len(COLUMNS) - 1} as row_text from {source.table})"
    plan.rows_left_empty = left_empty
    filled = len({n for n, _ in ledger})
    plan.notes.append(
        f"worklist workbook, list of {as_of or '(no As of date)'}: {filled} rows with an "
        f"outcome, {left_empty} left empty (not read)"
    )
    return plan


def _read_sheets(path: Path) -> tuple[list[tuple[int, list]], list[list]] | None:
    """(the Worklist sheet's rows with their sheet row numbers, the About sheet's rows), or
    None when `path` is not a workbook with a Worklist sheet."""
    try:
        with path.open("rb") as handle:
            zipped = handle.read(4) == b"PK\x03\x04"
    except OSError:
        return None
    if not zipped and path.suffix.lower() not in EXCEL_SUFFIXES:
        return None
    import openpyxl

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception:
        return None  # the ordinary reader says why it cannot be read
    try:
        if SHEET not in book.sheetnames:
            return None
        rows = [
            (n, list(values))
            for n, values in enumerate(book[SHEET].iter_rows(values_only=True), start=1)
        ]
        about = (
            [list(v) for v in book[ABOUT].iter_rows(values_only=True)]
            if ABOUT in book.sheetnames
            else []
        )
    finally:
        book.close()
    return rows, about


def _columns(path: Path, header: list) -> dict[str, int]:
    """field -> column of the Worklist sheet, for every field latepay reads back; a Worklist
    sheet without them all is refused (rule required_column)."""
    from models.ledger import INPUT_COLUMNS, ROW_COLUMNS

    found = {str(_text(h) or "").lower(): i for i, h in enumerate(header)}
    wanted = {**ROW_COLUMNS, **INPUT_COLUMNS}
    missing = [h for h in wanted.values() if h.lower() not in found]
    if missing:
        raise IngestError(
            f"{path}: rule required_column: the {SHEET} sheet of this workbook lacks "
            f"{', '.join(missing)}; columns found: {', '.join(str(h) for h in header if h)}"
        )
    return {field: found[name.lower()] for field, name in wanted.items()}


def _as_of(about: list[list]) -> date | None:
    """The list's date: the About sheet's row "As of" | ISO date."""
    for row in about:
        if len(row) >= 2 and str(_text(row[0]) or "").lower() == AS_OF:
            value = _date(row[1])
            return value if isinstance(value, date) else None
    return None


def _text(value: object) -> str | None:
    """A cell as text (None when empty), without the apostrophe latepay put before text a
    spreadsheet would run as a formula."""
    if value is None:
        return None
    if isinstance(value, datetime):
        value = value.date() if value.time() == datetime.min.time() else value
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = (value.isoformat() if isinstance(value, (date, datetime)) else str(value)).strip()
    if text.startswith("'") and text[1:2] in FORMULA_START:
        text = text[1:]
    return text or None


def _date(value: object) -> date | str | None:
    """A date cell as a date; ISO text as a date; any other text as is (rule bad_date)."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = _text(value)
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return text


def _amount(value: object) -> str | None:
    """A number as text with '.' for decimal mark; text as typed (rule bad_amount)."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, (int, float, Decimal)):
        return format(Decimal(str(value)).normalize(), "f")
    return _text(value)


def _ledger_rows(
    rows: list[tuple[int, list]], columns: dict[str, int], as_of: date | None
) -> tuple[list[tuple[int, list]], int]:
    """(line, the converted row's COLUMNS) for every row with an Outcome; the rows left
    without one."""
    ledger: list[tuple[int, list]] = []
    left_empty = 0
    for line, cells in rows:
        if not any(_text(v) for v in cells):
            continue
        cells = cells + [None] * (max(columns.values()) + 1 - len(cells))
        value = {field: cells[i] for field, i in columns.items()}
        if not _text(value["outcome"]):
            left_empty += 1
            continue
        row_text = ",".join(_text(v) or "" for v in cells)
        ledger += [(line, [*r, row_text]) for r in _convert(value, as_of)]
    return ledger, left_empty


def _convert(value: dict[str, object], as_of: date | None) -> list[list]:
    """One filled-in row as ledger rows (the actions' fields and the outcome): by
    `outcome_actions` when its Outcome is known and its Done on a date; else one row as typed,
    for the rules to reject."""
    import pandas as pd

    from models.ledger import DONE_ACTIONS, OUTCOME_ACTIONS, OUTCOMES, outcome_actions

    typed = str(_text(value["outcome"]))
    outcome = re.sub(r"[\s_\-]+", " ", typed.lower()).strip()
    done_on = _date(value["done_on"]) or as_of
    promised = _date(value["promised_date"])
    fields = {
        "customer_id": _text(value["customer_id"]),
        "next_action_key": _text(value["next_action_key"]),
        "action_invoices": _text(value["action_invoices"]),
        "next_action_channel": _text(value["next_action_channel"]),
        "collector": _text(value["collector"]),
        "promised_date": promised.isoformat() if isinstance(promised, date) else promised,
        "promised_amount": _amount(value["promised_amount"]),
        "note": _text(value["note"]),
    }
    key = fields["next_action_key"]
    action = DONE_ACTIONS.get(str(key)) if outcome == "done" else OUTCOME_ACTIONS.get(outcome)
    if outcome in OUTCOMES and isinstance(done_on, date) and action:
        frame = pd.DataFrame([{**fields, "outcome": outcome, "done_on": pd.Timestamp(done_on)}])
        ledger = outcome_actions(frame)
        ledger["action_date"] = ledger["action_date"].dt.strftime("%Y-%m-%d")
        ledger = ledger.astype(object).where(ledger.notna(), None)
        return [[*r, outcome] for r in ledger[list(FIELDS["actions"])].itertuples(index=False)]
    as_typed = {
        **fields,
        "action_id": None,
        "invoice_id": fields["action_invoices"],
        "action_date": done_on.isoformat() if isinstance(done_on, date) else done_on,
        # a known outcome on a row without a known action key: the key, for unknown_action
        "action": action or (key if outcome == "done" else None),
        "channel": fields["next_action_channel"],
    }
    return [[*(as_typed[f] for f in FIELDS["actions"]), outcome if outcome in OUTCOMES else typed]]
