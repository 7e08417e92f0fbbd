"""Open-items exports of a book: the invoices open on a day, as an ERP's aged trial balance lists
them, one file per day (``latepay ingest FILE --open-items --load-date D``).

The export of day D lists the invoices open at the start of D: issued before D and not paid in
full by the payments dated before D (credit notes never: they are settled when issued). Its
columns are the invoices' (``synthetic.INVOICE_COLUMNS``), the dispute as known then (disputed
only when it opened before D), and ``open_amount``: the amount less the payments dated before D.
An invoice paid in full on day s is therefore in the exports up to s and absent from s + 1 on.

Pure but for writing the files: the same book and days give the same bytes.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from synthetic.book import INVOICE_COLUMNS, Book


def last_days(end: date, n: int) -> list[date]:
    """The `n` days up to `end`, oldest first."""
    return [end - timedelta(days=k) for k in range(n - 1, -1, -1)]


def open_items(book: Book, day: date, *, open_amount: bool = True) -> pd.DataFrame:
    """The book's open-items export of `day` (see the module's docstring), in invoice order."""
    start = pd.Timestamp(day)
    invoices = book.invoices
    before = book.payments[book.payments["payment_date"] < start]
    paid = (
        pd.Series(np.round(before["amount"].to_numpy(dtype=np.float64) * 100))
        .groupby(before["invoice_id"].to_numpy())
        .sum()
    )
    amount_cents = np.round(invoices["amount"].to_numpy(dtype=np.float64) * 100)
    paid_cents = invoices["invoice_id"].map(paid).fillna(0).to_numpy()
    is_open = (
        (invoices["issue_date"] < start).to_numpy()
        & (amount_cents > 0)
        & (paid_cents < amount_cents)
    )
    frame = invoices.loc[is_open, INVOICE_COLUMNS].copy()
    opened = frame["dispute_opened_date"]
    known = opened.isna() | (opened < start)  # a dispute without a date: from the issue
    frame["disputed"] = np.where(known, frame["disputed"], 0)
    frame["dispute_opened_date"] = frame["dispute_opened_date"].where(known)
    if open_amount:
        frame["open_amount"] = (amount_cents[is_open] - paid_cents[is_open]) / 100
    return frame.reset_index(drop=True)


def write_open_items(
    book: Book, out_dir: Path, days: list[date], *, open_amount: bool = True
) -> dict[date, Path]:
    """One UTF-8 CSV per day, ``open_items_<day>.csv`` in ``out_dir`` (created if needed): ISO
    dates, amounts with two decimals, missing values empty. Returns {day: path}."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {}
    for day in days:
        path = out_dir / f"open_items_{day.isoformat()}.csv"
        frame = open_items(book, day, open_amount=open_amount)
        frame.to_csv(
            path, index=False, date_format="%Y-%m-%d", float_format="%.2f", lineterminator="\n"
        )
        paths[day] = path
    return paths
