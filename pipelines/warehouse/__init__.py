"""The DuckDB warehouse: opening it (one writer at a time), its schema (`sql/schema.sql`) and
its migrations (`migrations.py`), the staging transform every feature reads
(`sql/invoice_settlements.sql`), the run lock (`locks.py`) and the scoring tables
(`scoring.py`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

import duckdb

from pipelines.warehouse.migrations import migrate


class WarehouseLocked(RuntimeError):
    """Another latepay process holds the warehouse open for writing."""


class WarehouseUnreadable(RuntimeError):
    """The warehouse path names something that is not a DuckDB warehouse (or a damaged one)."""


def sql_text(name: str) -> str:
    return (
        resources.files("pipelines.warehouse")
        .joinpath("sql", f"{name}.sql")
        .read_text(encoding="utf-8")
    )


def connect(path: Path | str, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the warehouse at `path` (created at the current schema, or migrated to it, unless
    read-only); ':memory:' for a throwaway one."""
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
        raise _unreadable(path, exc) from exc
    except duckdb.Error as exc:
        raise _unreadable(path, exc) from exc
    if not read_only:
        try:
            ensure_schema(con)
        except duckdb.Error as exc:  # a damaged file: its tables cannot be read or made
            con.close()
            raise _unreadable(path, exc) from exc
    return con


def _unreadable(path: Path | str, exc: Exception) -> WarehouseUnreadable:
    reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return WarehouseUnreadable(
        f"the warehouse {path} cannot be opened ({reason}); LATEPAY_WAREHOUSE_PATH must name a "
        "DuckDB file latepay made, or a file that does not exist yet"
    )


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create what is missing of the current schema, then apply pending migrations."""
    con.execute(sql_text("schema"))
    migrate(con)


SCOPE = "/* scope */"


def rebuild_settlements(con: duckdb.DuckDBPyConnection) -> None:
    """Recompute staging.invoice_settlements from staging invoices and payments."""
    settlements = sql_text("invoice_settlements").replace(SCOPE, "")
    con.execute(f"create or replace table staging.invoice_settlements as {settlements}")
    con.execute("delete from staging.settlements_appended")


def settlements_current(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether staging.invoice_settlements exists with the columns its SQL makes now (a version
    of latepay that changes them has it rebuilt whole, not updated)."""
    stored = con.execute(
        "select column_name, data_type from duckdb_columns() "
        "where schema_name = 'staging' and table_name = 'invoice_settlements' "
        "order by column_index"
    ).fetchall()
    sql = sql_text("invoice_settlements").replace(SCOPE, "where false")
    made = con.execute(f"select column_name, column_type from (describe {sql})").fetchall()
    return stored == made


def update_settlements(con: duckdb.DuckDBPyConnection, touched: str) -> None:
    """Recompute the settlements of the invoices `touched` (a query of distinct invoice_id)
    only: their rows are replaced, appended at the end of the table (out of customer order),
    and counted in staging.settlements_appended until the next rebuild."""
    con.execute(f"delete from staging.invoice_settlements where invoice_id in ({touched})")
    scope = f"where invoice_id in ({touched})"
    con.execute(
        "insert into staging.invoice_settlements by name "
        + sql_text("invoice_settlements").replace(SCOPE, scope)
    )
    con.execute(f"insert into staging.settlements_appended select count(*) from ({touched})")


@contextmanager
def tuned(con: duckdb.DuckDBPyConnection, **settings: object) -> Iterator[None]:
    """DuckDB settings for the length of a block (`memory_limit="3GB"`, ...), then the
    connection's own again. A setting that was at its default is reset (DuckDB prints some,
    such as memory_limit, rounded: setting the printed value back would change it)."""
    saved = {
        name: con.execute(f"select current_setting('{name}')").fetchall()[0][0] for name in settings
    }
    try:
        for name, value in settings.items():
            con.execute(f"set {name} = {_literal(value)}")
        yield
    finally:
        for name, value in saved.items():
            con.execute(f"reset {name}")
            if con.execute(f"select current_setting('{name}')").fetchall()[0][0] != value:
                con.execute(f"set {name} = {_literal(value)}")


def _literal(value: object) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return "'" + str(value).replace("'", "''") + "'"
