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
