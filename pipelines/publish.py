"""Publish a night's outputs atomically and write them safely.

Layout of `outputs_dir`:
    <as_of>/                 a symbolic link to the folder of the run that published that date
    latest                   a symbolic link to the most recent as-of date
    .runs/<as_of>.<stamp>/   the folders themselves: worklist.csv, worklist_<collector>.xlsx,
                             report.html

A run writes into a fresh folder under .runs/ and then replaces the `<as_of>` link in one
rename, which the operating system makes atomic: readers see the previous folder or the new one,
never a mix, and a run that fails or is killed before the rename leaves the previous one in place
(its unfinished folder is removed by the next run). Only the folder the link points to is kept.

Text that comes from the data (customer names, collectors, reasons...) is neutralised before it
is written: a cell beginning with = + - @ (or a tab or carriage return) would run as a formula in
a spreadsheet, so it gets a leading apostrophe (OWASP's advice for CSV injection).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path

import pandas as pd
import xlsxwriter

RUNS = ".runs"
LATEST = "latest"
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

# The worklist as collectors read it: column -> header.
HEADERS = {
    "rank": "Rank",
    "collector": "Collector",
    "collector_rank": "My rank",
    "customer_id": "Customer id",
    "name": "Customer",
    "preferred_channel": "Preferred channel",
    "open_amount": "Open amount",
    "overdue_amount": "Overdue amount",
    "open_invoices": "Open invoices",
    "oldest_days_past_due": "Oldest days past due",
    "disputed_invoices": "Disputed invoices",
    "disputed_amount": "Disputed amount",
    "promise_status": "Promise to pay",
    "promised_date": "Promised date",
    "risk_probability": "Risk (unpaid 30 days after due)",
    "expected_amount_at_risk": "Expected amount at risk",
    "driver_invoice_id": "Riskiest invoice",
    "predicted_days_late": "Predicted days late",
    "predicted_payment_date": "Predicted payment date",
    "payment_date_p10": "Paid from (P10)",
    "payment_date_p90": "Paid by (P90)",
    "dunning_stage": "Dunning stage",
    "next_action": "Next action",
    "next_action_date": "Next action date",
    "next_action_channel": "Channel",
    "late_interest": "Late interest owed",
    "recovery_fees": "Recovery fees owed",
    "reason_1": "Reason 1",
    "reason_2": "Reason 2",
    "reason_3": "Reason 3",
}
INVOICE_HEADERS = {
    "customer_id": "Customer id",
    "invoice_id": "Invoice",
    "issue_date": "Issued",
    "due_date": "Due",
    "open_amount": "Open amount",
    "days_past_due": "Days past due",
    "is_disputed": "Disputed",
    "promised_date": "Promised date",
    "p_late": "Risk of lateness",
    "p_late_30": "Risk (unpaid 30 days after due)",
    "predicted_payment_date": "Predicted payment date",
    "dunning_stage": "Dunning stage",
    "next_action": "Next action",
    "next_action_date": "Next action date",
    "late_interest": "Late interest owed",
    "recovery_fee": "Recovery fee owed",
}
AMOUNT_FORMAT = "#,##0.00"
PROBABILITY_FORMAT = "0%"
DATE_FORMAT = "yyyy-mm-dd"


def neutralise(value: object) -> object:
    """A text cell that a spreadsheet would run as a formula, made inert; other values as is."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def neutralise_frame(frame: pd.DataFrame) -> pd.DataFrame:
    text = [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])]
    return frame.assign(**{c: frame[c].map(neutralise) for c in text})


@contextmanager
def staged(outputs_dir: Path, as_of: str) -> Iterator[Path]:
    """Yield a fresh folder to write a run's files into; when the block ends without error,
    switch `<outputs_dir>/<as_of>` to it atomically and point `latest` at the newest date.
    On error the folder is removed and the published outputs are untouched."""
    runs = outputs_dir / RUNS
    runs.mkdir(parents=True, exist_ok=True)
    _remove_unfinished(outputs_dir)
    folder = runs / f"{as_of}.{datetime.now():%Y%m%dT%H%M%S%f}"
    folder.mkdir()
    try:
        yield folder
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    target = outputs_dir / as_of
    previous = _switch(target, folder)
    if previous is not None and previous != folder:
        shutil.rmtree(previous, ignore_errors=True)
    newest = max(p.name for p in outputs_dir.iterdir() if _is_date(p.name) and p.is_dir())
    _switch(outputs_dir / LATEST, outputs_dir / newest, keep_previous=True)


def _switch(link: Path, folder: Path, *, keep_previous: bool = False) -> Path | None:
    """Make `link` a relative symbolic link to `folder` in one rename; return the folder it
    pointed to before (None if none). A real folder left by an earlier latepay is moved aside
    first."""
    previous = None
    if link.is_symlink():
        previous = (link.parent / os.readlink(link)).resolve()
    elif link.exists():  # a plain folder published by latepay < 0.2
        previous = link.parent / RUNS / f"{link.name}.legacy"
        os.replace(link, previous)
    tmp = link.parent / f".{link.name}.link"
    tmp.unlink(missing_ok=True)
    os.symlink(os.path.relpath(folder, link.parent), tmp)
    os.replace(tmp, link)
    return None if keep_previous else previous


def _remove_unfinished(outputs_dir: Path) -> None:
    """Folders under .runs/ that no link points to: left by a run that failed or was killed."""
    linked = {
        (p.parent / os.readlink(p)).resolve() for p in outputs_dir.iterdir() if p.is_symlink()
    }
    for folder in (outputs_dir / RUNS).iterdir():
        if folder.resolve() not in linked:
            shutil.rmtree(folder, ignore_errors=True)


def _is_date(name: str) -> bool:
    try:
        date.fromisoformat(name)
    except ValueError:
        return False
    return True


def write_worklist_csv(published: pd.DataFrame, path: Path) -> None:
    """The day's list as CSV: amounts to the cent, probabilities to 4 decimals, ISO dates."""
    amounts = [
        "open_amount",
        "overdue_amount",
        "disputed_amount",
        "expected_amount_at_risk",
        "late_interest",
        "recovery_fees",
    ]
    frame = published.round(dict.fromkeys(amounts, 2) | {"risk_probability": 4})
    for column in frame.columns:
        if pd.api.types.is_datetime64_any_dtype(frame[column]):
            frame[column] = frame[column].dt.strftime("%Y-%m-%d")
    neutralise_frame(frame).to_csv(path, index=False)


def collector_file_name(collector: str, taken: set[str]) -> str:
    """worklist_<collector>.xlsx with the name made safe for any file system, unique."""
    slug = re.sub(r"[^\w-]+", "_", str(collector), flags=re.UNICODE).strip("_") or "unnamed"
    name, n = f"worklist_{slug}.xlsx", 2
    while name.lower() in taken:
        name, n = f"worklist_{slug}_{n}.xlsx", n + 1
    taken.add(name.lower())
    return name


def write_collector_workbooks(
    published: pd.DataFrame, invoices: pd.DataFrame, folder: Path, as_of: date
) -> dict[str, Path]:
    """One workbook per collector: sheet "Worklist" (their customers in order, with the next
    action and reasons), sheet "Invoices" (the open invoices behind each of those customers),
    sheet "About" (the date and how to read the list). Returns collector -> path.
    Written with XlsxWriter (ten times faster than openpyxl on the largest customers' invoices)."""
    taken: set[str] = set()
    written = {}
    for collector, rows in published.groupby("collector", sort=True):
        path = folder / collector_file_name(str(collector), taken)
        behind = invoices[invoices["customer_id"].isin(rows["customer_id"])]
        order = {c: i for i, c in enumerate(rows["customer_id"])}
        behind = behind.assign(_order=behind["customer_id"].map(order)).sort_values(
            ["_order", "days_past_due", "invoice_id"], ascending=[True, False, True]
        )
        options = {
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "default_date_format": DATE_FORMAT,
            "nan_inf_to_errors": True,
        }
        with xlsxwriter.Workbook(path, options) as workbook:
            _sheet(workbook, "Worklist", rows, HEADERS)
            _sheet(workbook, "Invoices", behind, INVOICE_HEADERS)
            _about(workbook, collector, as_of, len(rows))
        written[str(collector)] = path
    return written


def _sheet(workbook, title: str, frame: pd.DataFrame, headers: dict[str, str]) -> None:
    sheet = workbook.add_worksheet(title)
    columns = [c for c in headers if c in frame.columns]
    header = workbook.add_format(
        {"bold": True, "font_color": "#FFFFFF", "bg_color": "#1F4E79", "text_wrap": True}
    )
    header.set_align("top")
    values = neutralise_frame(frame[columns])
    for i, column in enumerate(columns):
        number_format = _number_format(column, frame[column])
        width = max([len(headers[column])] + [len(str(v)) for v in values[column].head(200)])
        cell_format = workbook.add_format({"num_format": number_format}) if number_format else None
        sheet.set_column(i, i, min(max(width + 2, 10), 60), cell_format)
        sheet.write(0, i, headers[column], header)
    # one typed writer per column, values converted column by column: 5x faster than write()
    writers, cells = [], []
    for column in columns:
        series = values[column]
        if pd.api.types.is_datetime64_any_dtype(series):
            writers.append(sheet.write_datetime)
            cells.append([None if pd.isna(v) else v.to_pydatetime() for v in series])
        elif pd.api.types.is_bool_dtype(series):
            writers.append(sheet.write_boolean)
            cells.append(series.tolist())
        elif pd.api.types.is_numeric_dtype(series):
            writers.append(sheet.write_number)
            cells.append([None if v != v else v for v in series.astype(float).tolist()])
        else:
            writers.append(sheet.write)
            cells.append([_cell(v) for v in series])
    for r, row in enumerate(zip(*cells, strict=True), start=1):
        for i, value in enumerate(row):
            if value is not None:
                writers[i](r, i, value)
    sheet.freeze_panes(1, 0)
    sheet.autofilter(0, 0, max(len(values), 1), len(columns) - 1)


def _cell(value: object) -> object:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return value


def _number_format(column: str, values: pd.Series) -> str | None:
    if pd.api.types.is_datetime64_any_dtype(values) or column.endswith("_date"):
        return DATE_FORMAT
    if column.startswith(("p_late", "risk_")):
        return PROBABILITY_FORMAT
    if "amount" in column or column in ("late_interest", "recovery_fees", "recovery_fee"):
        return AMOUNT_FORMAT
    return None


def _about(workbook, collector: object, as_of: date, rows: int) -> None:
    sheet = workbook.add_worksheet("About")
    lines = [
        ("Worklist of", str(collector)),
        ("As of", as_of.isoformat()),
        ("Customers", rows),
        (
            "Order",
            "Highest expected amount at risk first: open amount x probability of being still "
            "unpaid 30 days after the due date.",
        ),
        (
            "Next action",
            "The step of the dunning ladder due for the customer's oldest open invoice "
            "(disputes and promises to pay pause it).",
        ),
        ("Reasons", "What raises the model's risk for the customer's riskiest invoice."),
        ("Invoices", "The sheet 'Invoices' lists the open invoices behind each customer."),
    ]
    for r, (key, value) in enumerate(lines):
        sheet.write(r, 0, key)
        sheet.write(r, 1, neutralise(value))
    sheet.set_column(0, 0, 14)
    sheet.set_column(1, 1, 100)
