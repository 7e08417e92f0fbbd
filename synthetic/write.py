"""``write_book``: the five tables as UTF-8 CSV files, byte for byte the same for a seed.

Dates are ``YYYY-MM-DD``, amounts have exactly two decimals, missing values are empty fields,
lines end with ``\\n``, and fields are quoted only where they must be (a comma, a quote or a
line break in the value).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from synthetic.book import Book
from synthetic.shapes import shape_tables

_STRUCTURAL = '[,"\\r\\n]'  # characters that force a CSV field to be quoted


def write_book(book: Book, out_dir: Path, shape: str = "full") -> dict[str, Path]:
    """Write the tables as UTF-8 CSV into ``out_dir`` (created if needed): customers, invoices,
    payments, promises, the collectors' ledger (actions, when the book has one) and oracle; or
    the files of another export `shape` (synthetic.shapes.SHAPES, e.g. ``invoice_list``).

    Returns ``{"customers": path, "invoices": path, "payments": path, "promises": path,
    "actions": path, "oracle": path}`` (the files written).
    Dates are ``YYYY-MM-DD``, amounts have two decimals, missing values are empty fields.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for name, frame in shape_tables(book, shape).items():
        path = out_dir / f"{name}.csv"
        if shape == "fr_ledger" and name != "oracle":
            _write_ledger(frame, path, name, book.invoices["issue_date"].max())
        else:
            _write_csv(frame, path)
        paths[name] = path
    return paths


def _arrow_column(series: pd.Series, name: str) -> pa.Array:
    """One column in its CSV form: ISO dates, amounts with exactly two decimals, plain text."""
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        return pa.array(series, from_pandas=True).cast(pa.date32())
    if name in ("amount", "paid_amount"):
        # decimal(18, 2) makes the writer print "1234.50" and "-12.00"; the cast rounds to cents.
        # NaN (an optional amount left out) is written as an empty field.
        values = pa.array(series.to_numpy(dtype=np.float64), from_pandas=True)
        return values.cast(pa.decimal128(18, 2))
    if isinstance(series.dtype, pd.CategoricalDtype):
        return pa.array(series.astype(str), type=pa.string())
    values = pa.array(series, from_pandas=True)
    if pa.types.is_large_string(values.type) or pa.types.is_string_view(values.type):
        values = values.cast(pa.string())
    return values


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    """Write one table with an unquoted canonical header and quotes only where needed."""
    table = pa.table({c: _arrow_column(frame[c], c) for c in frame.columns})
    needs_quotes = any(
        pa.types.is_string(col.type) and pc.any(pc.match_substring_regex(col, _STRUCTURAL)).as_py()
        for col in table.columns
    )
    if needs_quotes:
        # Arrow quotes either every string or none, so free text (customer names with commas)
        # goes through pandas' minimal quoting. Only the customers table takes this path, and it
        # is small (one row per customer); the values are already in their CSV form.
        table.to_pandas().to_csv(path, index=False, lineterminator="\n", encoding="utf-8")
        return
    with path.open("wb") as fh:
        fh.write((",".join(table.column_names) + "\n").encode("utf-8"))
        pacsv.write_csv(
            table,
            fh,
            write_options=pacsv.WriteOptions(include_header=False, quoting_style="none"),
        )


def _write_ledger(frame: pd.DataFrame, path: Path, name: str, day: pd.Timestamp) -> None:
    """A French ledger's export (shape ``fr_ledger``): its title and a blank line above the
    header, ``;`` between fields, cp1252, CRLF line ends."""
    title = {"invoices": "Factures clients", "payments": "Règlements clients"}[name]
    with path.open("w", encoding="cp1252", newline="") as fh:
        fh.write(f"{title} au {pd.Timestamp(day):%d/%m/%Y}\r\n\r\n")
        frame.to_csv(fh, sep=";", index=False, lineterminator="\r\n")
