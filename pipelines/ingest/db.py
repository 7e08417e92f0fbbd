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
# the load's own load_id are found by it; payments are deleted by `delete_payments`, which marks
# their invoices; the disputes recomputed and the payments moved with an earlier load's id are
# marked where that is done.
TOUCHED = "touched_invoices"


def touch(con: duckdb.DuckDBPyConnection, invoice_ids: str, **params: object) -> None:
    """Mark the invoices `invoice_ids` (a query of one column) as touched by this load."""
    run(con, f"insert into {TOUCHED} {invoice_ids}", **params)


def delete_payments(con: duckdb.DuckDBPyConnection, payment_ids: str) -> None:
    """Delete the staging payments `payment_ids` (a query of one column) names, their invoices
    marked touched first: the only way the ingest deletes payments."""
    ids = f"payment_id in ({payment_ids})"
    touch(con, f"select invoice_id from staging.payments where {ids}")
    run(con, f"delete from staging.payments where {ids}")
