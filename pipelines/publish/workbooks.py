"""One workbook per collector (XlsxWriter), made for a morning's work and written back at night:

- **Worklist**: today's customers in order; what to do (action, channel, due date, status) and
  about which invoices first, then the amounts and why, then the columns the collector fills in
  (Outcome, Done on, Promised date, Promised amount, Note: read back into the ledger when the
  workbook is dropped in the inbox, models/ledger.py), then the rest. Header row and customer
  frozen; printed landscape, one page wide, header repeated, collector and date in the header.
- **Coming up**: the collector's customers whose next action is after today, within a horizon
  (LATEPAY_COMING_UP_DAYS: the next two weeks by default, not the months a new invoice waits).
- **Invoices**: the open invoices behind today's customers, grouped by customer.
- **About**: the list's date (read back as the default "Done on") and how to read it.

Amounts stay numbers (they sum, sort and filter) shown with their currency: each cell's number
format carries the symbol of its row's currency where the reader's locale puts it
(`LATEPAY_LOCALE`: `1 234,56 €` in French Excel, `£1,234.56` in English), and a Currency column
gives the code to filter on. Recovery fees are the French indemnity, in euros whatever the
invoice's currency.
"""

from __future__ import annotations

from datetime import date
from functools import cache
from pathlib import Path

import pandas as pd
import xlsxwriter

from models.ledger import INPUT_COLUMNS, OUTCOMES, ROW_COLUMNS
from pipelines.publish.files import neutralise, neutralise_frame, safe_name
from pipelines.publish.locale import DEFAULT_LOCALE, currency_code, excel_amount_format

# The worklist as collectors read it: column -> header (input columns: see INPUTS).
HEADERS = {
    "collector_rank": "Rank",
    "name": "Customer",
    "next_action": "What to do",
    "next_action_channel": ROW_COLUMNS["next_action_channel"],
    "next_action_date": "Due",
    "action_status": "Status",
    "action_invoices": ROW_COLUMNS["action_invoices"],
    "overdue_amount": "Overdue",
    "expected_amount_at_risk": "Expected amount at risk",
    "reason_1": "Why",
    "reason_2": "Why (2)",
    "reason_3": "Why (3)",
    **{field: header for field, header in INPUT_COLUMNS.items()},
    "other_actions": "Also due",
    "open_amount": "Open",
    "currency": "Currency",
    "oldest_days_past_due": "Days past due",
    "risk_probability": "Risk (unpaid 30 days after due)",
    "promise_status": "Promise to pay",
    "promised_for": "Promised for",
    "dunning_stage": "Stage reached",
    "last_step_date": "Last step on",
    "driver_invoice_id": "Riskiest invoice",
    "predicted_days_late": "Predicted days late",
    "predicted_payment_date": "Predicted payment",
    "payment_date_p10": "Paid from (P10)",
    "payment_date_p90": "Paid by (P90)",
    "late_interest": "Late interest owed",
    "recovery_fees": "Recovery fees owed",
    "preferred_channel": "Preferred channel",
    "customer_open_amount": "Customer: open",
    "customer_credit_amount": "Customer: credit available (credit notes, payments not applied)",
    "customer_net_open_amount": "Customer: owed net of its credit",
    "customer_overdue_amount": "Customer: overdue",
    "customer_at_risk": "Customer: at risk",
    "disputed_invoices": "Disputed invoices",
    "disputed_amount": "Disputed amount",
    "agency_amount": "With the agency",
    "customer_id": ROW_COLUMNS["customer_id"],
    "collector": ROW_COLUMNS["collector"],
    "next_action_key": ROW_COLUMNS["next_action_key"],
}
# Filled in by the collector: no value from latepay, a validation each.
INPUTS = tuple(INPUT_COLUMNS)
COMING_UP_HEADERS = {
    "name": "Customer",
    "next_action": "What to do",
    "next_action_channel": "Channel",
    "next_action_date": "Due",
    "action_invoices": "About invoices",
    "expected_amount_at_risk": "Expected amount at risk",
    "currency": "Currency",
    "customer_id": "Customer id",
}
INVOICE_HEADERS = {
    "name": "Customer",
    "customer_id": "Customer id",
    "invoice_id": "Invoice",
    "issue_date": "Issued",
    "due_date": "Due",
    "amount": "Invoice amount",
    "open_amount": "Open amount",
    "currency": "Currency",
    "days_past_due": "Days past due",
    "is_disputed": "Disputed",
    "with_agency": "With the agency",
    "promised_date": "Promised for",
    "p_late": "Risk of paying late (not due yet)",
    "p_late_30": "Risk (unpaid 30 days after due)",
    "predicted_payment_date": "Predicted payment date",
    "dunning_stage": "Stage reached",
    "next_action": "Next action",
    "next_action_date": "Next action date",
    "late_interest": "Late interest owed",
    "recovery_fee": "Recovery fee owed",
}
AMOUNT_FORMAT = "#,##0.00"  # an amount whose currency is not known
# Amounts in euros whatever the invoice's currency: the French recovery indemnity.
EURO_COLUMNS = ("recovery_fee", "recovery_fees")
PROBABILITY_FORMAT = "0%"
DATE_FORMAT = "yyyy-mm-dd"
# Widest column XlsxWriter's autofit may make (about 60 characters): reasons wrap beyond.
MAX_COLUMN_PIXELS = 420
# Rows left open for the collector's input validations (beyond the list itself).
INPUT_ROWS = 500


def collector_file_name(collector: str, taken: set[str]) -> str:
    """worklist_<collector>.xlsx with the name made safe for any file system, unique."""
    slug = safe_name(collector)
    name, n = f"worklist_{slug}.xlsx", 2
    while name.lower() in taken:
        name, n = f"worklist_{slug}_{n}.xlsx", n + 1
    taken.add(name.lower())
    return name


def collector_file_names(collectors: pd.Series) -> dict[str, str]:
    """Collector -> the name of its workbook, unique among `collectors` (in sorted order)."""
    taken: set[str] = set()
    return {c: collector_file_name(c, taken) for c in sorted(collectors.astype(str).unique())}


def write_collector_workbooks(
    published: pd.DataFrame,
    invoices: pd.DataFrame,
    folder: Path,
    as_of: date,
    coming: pd.DataFrame | None = None,
    locale: str = DEFAULT_LOCALE,
    names: dict[str, str] | None = None,
    coming_until: date | None = None,
    not_reached: dict[str, int] | None = None,
) -> dict[str, Path]:
    """One workbook per collector of `published` (today's list); `invoices`: the open invoices
    behind it; `coming`: the customers whose next action is later (every collector's; up to
    `coming_until`, which the About sheet states, when it is given); `not_reached`: collector ->
    its customers with work due that the list could not hold (said on the About sheet); `locale`:
    where amounts put their currency symbol; `names`: collector -> file name (by default
    `collector_file_names` of `published`'s). Returns collector -> path. XlsxWriter: ten times
    faster than openpyxl on the largest customers."""
    names = names or collector_file_names(published["collector"])
    written = {}
    coming = coming if coming is not None else published.iloc[0:0]
    for collector, rows in published.groupby("collector", sort=True):
        path = folder / names[str(collector)]
        options = {
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "default_date_format": DATE_FORMAT,
            "nan_inf_to_errors": True,
        }
        with xlsxwriter.Workbook(path, options) as workbook:
            frame = _with_inputs(rows)
            worklist = _sheet(workbook, "Worklist", frame, HEADERS, locale)
            columns = [c for c in HEADERS if c in frame.columns]
            _set_up_worklist(worklist, columns, len(rows), collector, as_of)
            _sheet(
                workbook,
                "Coming up",
                coming[coming["collector"] == collector],
                COMING_UP_HEADERS,
                locale,
            )
            invoice_sheet = _sheet(
                workbook, "Invoices", _behind(rows, invoices), INVOICE_HEADERS, locale
            )
            invoice_sheet.freeze_panes(1, 1)
            waiting = None if not_reached is None else not_reached.get(str(collector), 0)
            _about(workbook, collector, as_of, len(rows), coming_until, waiting)
        written[str(collector)] = path
    return written


def _with_inputs(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows with the collector's input columns, empty."""
    return rows.assign(**{field: None for field in INPUTS})


def _behind(rows: pd.DataFrame, invoices: pd.DataFrame) -> pd.DataFrame:
    """The open invoices of the listed customers, grouped by customer in list order. The risk of
    paying late is left empty once the invoice is past due (it is then late by definition)."""
    behind = invoices[invoices["customer_id"].isin(rows["customer_id"])]
    order = {c: i for i, c in enumerate(rows["customer_id"])}
    names = rows.set_index("customer_id")["name"]
    behind = behind.assign(
        _order=behind["customer_id"].map(order), name=behind["customer_id"].map(names)
    )
    if "p_late" in behind:
        behind = behind.assign(p_late=behind["p_late"].where(behind["days_past_due"] <= 0))
    return behind.sort_values(
        ["_order", "days_past_due", "invoice_id"], ascending=[True, False, True]
    )


def _set_up_worklist(sheet, columns: list[str], rows: int, collector: object, as_of: date) -> None:
    """Frozen header and customer; input validations; landscape, one page wide, header row
    repeated, the collector and date in the page header."""
    sheet.freeze_panes(1, 2)
    last = max(rows, 1) + INPUT_ROWS
    position = {field: columns.index(field) for field in INPUTS}
    sheet.data_validation(
        1, position["outcome"], last, position["outcome"],
        {"validate": "list", "source": list(OUTCOMES)},
    )  # fmt: skip
    for field in ("done_on", "promised_date"):
        sheet.data_validation(
            1, position[field], last, position[field],
            {"validate": "date", "criteria": ">", "value": date(1990, 1, 1)},
        )  # fmt: skip
    sheet.data_validation(
        1, position["promised_amount"], last, position["promised_amount"],
        {"validate": "decimal", "criteria": ">", "value": 0},
    )  # fmt: skip
    key = columns.index("next_action_key")
    sheet.set_column(key, key, None, None, {"hidden": True})
    sheet.set_landscape()
    sheet.set_paper(9)  # A4
    sheet.fit_to_pages(1, 0)
    sheet.repeat_rows(0)
    text = str(neutralise(str(collector))).replace("&", "&&")
    sheet.set_header(f"&L{text}&CWorklist&R{as_of.isoformat()}")


def _sheet(workbook, title: str, frame: pd.DataFrame, headers: dict[str, str], locale: str):
    sheet = workbook.add_worksheet(title)
    columns = [c for c in headers if c in frame.columns]
    header = workbook.add_format(
        {"bold": True, "font_color": "#FFFFFF", "bg_color": "#1F4E79", "text_wrap": True}
    )
    header.set_align("top")
    values = neutralise_frame(frame[columns])
    for i, column in enumerate(columns):
        number_format = _number_format(column, frame[column])
        cell_format = workbook.add_format({"num_format": number_format}) if number_format else None
        sheet.set_column(i, i, None, cell_format)
        sheet.write(0, i, headers[column], header)
    # one typed writer per column, values converted column by column: 5x faster than write()
    writers, cells = zip(*(_typed(sheet, values[c]) for c in columns), strict=True)
    formats = _row_formats(workbook, frame, columns, locale)
    for r, row in enumerate(zip(*cells, strict=True), start=1):
        for i, value in enumerate(row):
            if value is not None:
                writers[i](r, i, value, *([formats[i][r - 1]] if i in formats else []))
            elif i in formats:  # an empty amount (one to fill in) shows the row's currency too
                sheet.write_blank(r, i, None, formats[i][r - 1])
    sheet.freeze_panes(1, 0)
    sheet.autofilter(0, 0, max(len(values), 1), len(columns) - 1)
    sheet.autofit(max_width=MAX_COLUMN_PIXELS)
    return sheet


def _typed(sheet, series: pd.Series) -> tuple:
    """The sheet's writer for a column's type, and the column's values converted for it."""
    if pd.api.types.is_datetime64_any_dtype(series):
        return sheet.write_datetime, [None if pd.isna(v) else v.to_pydatetime() for v in series]
    if pd.api.types.is_bool_dtype(series):
        return sheet.write_boolean, series.tolist()
    if pd.api.types.is_numeric_dtype(series):
        return sheet.write_number, [None if v != v else v for v in series.astype(float).tolist()]
    cells = [_cell(v) for v in series]
    if all(v is None or isinstance(v, str) for v in cells):
        # text alone: write_string, without write()'s test of each value's type; an empty text
        # left blank, as write() leaves it
        return sheet.write_string, [v or None for v in cells]
    return sheet.write, cells


def _row_formats(workbook, frame: pd.DataFrame, columns: list[str], locale: str) -> dict:
    """Column position -> the number format of each row, for the amount columns of a frame
    that knows its currencies: the row's currency symbol (euros for EURO_COLUMNS)."""
    if "currency" not in frame:
        return {}
    made: dict[str, object] = {}  # one format per distinct text, one text per currency

    @cache
    def number_format(code: str):
        text = excel_amount_format(code, locale)
        if text not in made:
            made[text] = workbook.add_format({"num_format": text})
        return made[text]

    currencies = [currency_code(c) for c in frame["currency"]]
    return {
        i: [number_format("EUR" if column in EURO_COLUMNS else c) for c in currencies]
        for i, column in enumerate(columns)
        if _number_format(column, frame[column]) == AMOUNT_FORMAT
    }


def _cell(value: object) -> object:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return value


def _number_format(column: str, values: pd.Series) -> str | None:
    if (
        pd.api.types.is_datetime64_any_dtype(values)
        or column.endswith("_date")
        or column in ("done_on",)
    ):
        return DATE_FORMAT
    if column.startswith(("p_late", "risk_")):
        return PROBABILITY_FORMAT
    if "amount" in column or column in (
        "late_interest",
        "recovery_fees",
        "recovery_fee",
        "customer_at_risk",
    ):
        return AMOUNT_FORMAT
    return None


def _about(
    workbook,
    collector: object,
    as_of: date,
    rows: int,
    coming_until: date | None,
    not_reached: int | None,
) -> None:
    sheet = workbook.add_worksheet("About")
    lines = [
        ("Worklist of", str(collector)),
        ("As of", as_of.isoformat()),
        ("Customers", rows),
        *([] if not_reached is None else [("Not reached", _not_reached_text(not_reached))]),
        (
            "Order",
            "Work due today (or overdue) first, highest expected amount at risk first: open "
            "amount x probability of being still unpaid 30 days after the due date.",
        ),
        (
            "What to do",
            "The action due for the invoices in 'About invoices': the next step of the dunning "
            "ladder given what was recorded as done, a dispute to resolve, or a promise to check. "
            "Status 'overdue': it was due before today and has not been recorded as done.",
        ),
        (
            "Outcome",
            "Fill in what happened (the list: done, no answer, promise to pay, dispute, already "
            "paid, wrong contact, handed to agency), with the date it was done (default: the "
            "list's date), a promised date and amount for a promise, and a note. Drop the saved "
            "workbook in the inbox: tomorrow's list follows what you recorded.",
        ),
        ("Why", "How the customer pays, where it raises the risk of those invoices."),
        ("Amounts", "In each row's currency (column Currency); never added across currencies."),
        (
            "Credit",
            "'Customer: credit available': the customer's credit notes and payments on account "
            "not yet applied (avoirs, acomptes), in the row's currency; 'Customer: owed net of "
            "its credit' is its open amount less that credit. Offset the credit before chasing: "
            "the customer already holds it.",
        ),
        ("Coming up", _coming_up_text(coming_until)),
        ("Invoices", "The open invoices behind each of today's customers."),
    ]
    for r, (key, value) in enumerate(lines):
        sheet.write(r, 0, key)
        sheet.write(r, 1, neutralise(value))
    sheet.set_column(0, 0, 14)
    sheet.set_column(1, 1, 100)


def _coming_up_text(until: date | None) -> str:
    if until is None:
        return "Your customers whose next action is after today."
    return (
        f"Your customers whose next action is after today, up to {until.isoformat()}; "
        "those whose next action is later are not listed."
    )


def _not_reached_text(waiting: int) -> str:
    if not waiting:
        return "Nothing else: all your work due is in today's list."
    customers = "customer has" if waiting == 1 else "customers have"
    return (
        f"{waiting:,} more of your {customers} work due that did not fit in today's list. "
        "It stays due: each day's list takes the most money at risk first."
    )
