"""The DuckDB warehouse: open it, create its schema, rebuild derived staging tables."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import duckdb


class WarehouseLocked(RuntimeError):
    """Another latepay process holds the warehouse open for writing."""


def sql_text(name: str) -> str:
    return resources.files("pipelines").joinpath("sql", f"{name}.sql").read_text(encoding="utf-8")


def connect(path: Path | str, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open (and create or migrate) the warehouse at `path`; ':memory:' for a throwaway one."""
    if str(path) != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(str(path), read_only=read_only)
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise WarehouseLocked(
                f"the warehouse {path} is in use by another latepay process; "
                "wait for it to finish and run again"
            ) from exc
        raise
    if not read_only:
        con.execute(sql_text("schema"))
        if _settlements_outdated(con):
            rebuild_settlements(con)
    return con


def _settlements_outdated(con: duckdb.DuckDBPyConnection) -> bool:
    """A warehouse from an older latepay: its invoice_settlements lacks the columns features read
    (it is derived from staging invoices and payments, and rebuilt whole)."""
    [(tables, columns)] = con.execute(
        """
        select count(distinct table_name), count(*) filter (where column_name = 'dispute_opened_date')
        from information_schema.columns
        where table_schema = 'staging' and table_name = 'invoice_settlements'
        """
    ).fetchall()
    return tables == 1 and columns == 0


def rebuild_settlements(con: duckdb.DuckDBPyConnection) -> None:
    """Recompute staging.invoice_settlements from staging invoices and payments."""
    con.execute(
        f"create or replace table staging.invoice_settlements as {sql_text('invoice_settlements')}"
    )
