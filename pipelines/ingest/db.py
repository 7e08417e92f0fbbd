"""The two SQL helpers every step of the ingest uses: run a statement, quote a literal."""

from __future__ import annotations

import duckdb


def run(con: duckdb.DuckDBPyConnection, sql: str, **params: object) -> list[tuple]:
    """Execute `sql` with the named parameters it uses ($name); return its rows."""
    used = {k: v for k, v in params.items() if f"${k}" in sql}
    return con.execute(sql, used or None).fetchall()


def quote(text: str) -> str:
    """`text` as an SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


# The invoices a load changed the facts of (staging.invoices, payments or disputes): their
# settlements are recomputed after it (pipelines/ingest/__init__.py `settle`). Rows written with
# the load's own load_id are found by it; a statement that deletes or moves rows, or writes rows
# of an earlier load, marks their invoices here first.
TOUCHED = "touched_invoices"


def touch(con: duckdb.DuckDBPyConnection, invoice_ids: str, **params: object) -> None:
    """Mark the invoices `invoice_ids` (a query of one column) as touched by this load."""
    run(con, f"insert into {TOUCHED} {invoice_ids}", **params)
