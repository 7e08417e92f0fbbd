"""Every change to the warehouse's schema since the first latepay, in one numbered list.

`sql/schema.sql` creates a new warehouse at the current schema. A warehouse made by an earlier
latepay is brought up to it here, one numbered step at a time; the steps applied are recorded in
`meta.schema_version` (grain: one row per step), so each runs once. Each step is also safe to
run on a warehouse that already has the change (a new one), which is what happens the first time
a new warehouse is opened. Add a step at the end; never edit or reorder a step once released.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import duckdb


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    apply: Callable[[duckdb.DuckDBPyConnection], None]


def _columns_added_before_versioning(con: duckdb.DuckDBPyConnection) -> None:
    columns = {
        "loads": (
            "rows_pending bigint",
            "rows_updated bigint",
            "rows_unchanged bigint",
            "payments_derived bigint",
            "payments_matched bigint",
            "mapping_hash varchar",
            "mapping_file varchar",
            "source_format varchar",
            "load_date date",
            "promises_matched bigint",
        ),
        "raw.customers": ("n_fields integer",),
        "raw.invoices": (
            "settled_date varchar",
            "paid_amount varchar",
            "customer_name varchar",
            "payment_terms_days varchar",
            "n_fields integer",
        ),
        "raw.payments": ("n_fields integer",),
        "scoring.runs": ("receivables double", "sales_90d double", "dso double"),
    }
    for table, added in columns.items():
        for column in added:
            con.execute(f"alter table {table} add column if not exists {column}")


def _drop_primary_key_indexes(con: duckdb.DuckDBPyConnection) -> None:
    """The first latepay declared primary keys on staging.invoices and staging.payments; the
    ingest enforces those keys itself, and maintaining the index on 10M rows cost more than the
    rest of a load. DuckDB cannot drop a constraint: the tables are copied without it."""
    indexed = con.execute(
        "select table_name from duckdb_constraints() where schema_name = 'staging' "
        "and table_name in ('invoices', 'payments') and constraint_type = 'PRIMARY KEY'"
    ).fetchall()
    for (table,) in indexed:
        con.execute(f"create table staging.{table}_unindexed as select * from staging.{table}")
        con.execute(f"drop table staging.{table}")
        con.execute(f"alter table staging.{table}_unindexed rename to {table}")


def _settlements_with_dispute_dates(con: duckdb.DuckDBPyConnection) -> None:
    """staging.invoice_settlements gained the dispute date that features read; it is derived
    from staging invoices and payments, so an older one is rebuilt whole."""
    from pipelines.warehouse import rebuild_settlements

    [(tables, columns)] = con.execute(
        """
        select count(distinct table_name), count(*) filter (where column_name = 'dispute_opened_date')
        from information_schema.columns
        where table_schema = 'staging' and table_name = 'invoice_settlements'
        """
    ).fetchall()
    if tables == 1 and columns == 0:
        rebuild_settlements(con)


def _collections_ledger(con: duckdb.DuckDBPyConnection) -> None:
    """The collections ledger (raw.actions, staging.actions, staging.pending_actions: new
    tables, made by schema.sql) feeds disputes: staging.disputes gained resolved_date and
    export_opened_date (the export's own opening: every dispute so far came from exports),
    staging.invoice_settlements dispute_resolved_date (rebuilt), loads the ledger's counts."""
    from pipelines.warehouse import rebuild_settlements

    def columns(table: str) -> set[str]:
        schema, name = table.split(".") if "." in table else ("main", table)
        return {
            c
            for (c,) in con.execute(
                "select column_name from information_schema.columns "
                "where table_schema = $s and table_name = $t",
                {"s": schema, "t": name},
            ).fetchall()
        }

    if "export_opened_date" not in columns("staging.disputes"):
        con.execute("alter table staging.disputes add column export_opened_date date")
        con.execute("update staging.disputes set export_opened_date = opened_date")
    con.execute("alter table staging.disputes add column if not exists resolved_date date")
    for column in ("actions_matched", "pending_rejected", "rows_left_empty"):
        con.execute(f"alter table loads add column if not exists {column} bigint")
    settlements = columns("staging.invoice_settlements")
    if settlements and "dispute_resolved_date" not in settlements:
        rebuild_settlements(con)


def _open_items(con: duckdb.DuckDBPyConnection) -> None:
    """Open-items exports: staging.open_item_exports and open_item_events are new tables (made
    by schema.sql); raw.invoices gained open_amount, loads the export's date and counts."""
    con.execute("alter table raw.invoices add column if not exists open_amount varchar")
    for column in (
        "open_items_date date",
        "settled_by_absence bigint",
        "reopened bigint",
        "partially_paid bigint",
        "payments_reversed bigint",
    ):
        con.execute(f"alter table loads add column if not exists {column}")


def _terms_over_cap(con: duckdb.DuckDBPyConnection) -> None:
    """French payment-term caps: staging.invoices gained terms_over_cap, computed for the
    invoices already there from their dates and amount (pipelines/ingest/terms.py); loads the
    count per file."""
    from pipelines.ingest.terms import over_cap

    con.execute("alter table staging.invoices add column if not exists terms_over_cap boolean")
    con.execute(
        "update staging.invoices set terms_over_cap = "
        f"{over_cap('issue_date', 'due_date', 'amount')} where terms_over_cap is null"
    )
    con.execute("alter table loads add column if not exists terms_over_cap bigint")


def _credit_column(con: duckdb.DuckDBPyConnection) -> None:
    """Exports with a debit and a credit column: raw.invoices gained credit_amount. Payments on
    account: raw.payments gained customer_id, loads their count (staging.payments_on_account
    is a new table, made by schema.sql)."""
    con.execute("alter table raw.invoices add column if not exists credit_amount varchar")
    con.execute("alter table raw.payments add column if not exists customer_id varchar")
    con.execute("alter table loads add column if not exists payments_on_account bigint")


MIGRATIONS = (
    Migration(
        1, "columns added to loads, raw.* and scoring.runs", _columns_added_before_versioning
    ),
    Migration(
        2, "staging.invoices and payments without primary-key index", _drop_primary_key_indexes
    ),
    Migration(3, "staging.invoice_settlements with dispute dates", _settlements_with_dispute_dates),
    Migration(4, "the collections ledger; disputes resolved", _collections_ledger),
    Migration(5, "open-items exports", _open_items),
    Migration(6, "French payment-term caps", _terms_over_cap),
    Migration(7, "invoices with a credit column; payments on account", _credit_column),
)


def migrate(con: duckdb.DuckDBPyConnection) -> list[int]:
    """Apply the steps this warehouse has not recorded yet, each in its own transaction; return
    their numbers. The caller has created the schema (sql/schema.sql) first."""
    con.execute(
        "create table if not exists meta.schema_version "
        "(version integer primary key, description varchar not null, applied_at timestamp not null)"
    )
    [(current,)] = con.execute(
        "select coalesce(max(version), 0) from meta.schema_version"
    ).fetchall()
    applied = []
    for step in MIGRATIONS:
        if step.version <= current:
            continue
        con.execute("begin transaction")
        try:
            step.apply(con)
            con.execute(
                "insert into meta.schema_version values ($v, $d, current_localtimestamp())",
                {"v": step.version, "d": step.description},
            )
            con.execute("commit")
        except BaseException:
            con.execute("rollback")
            raise
        applied.append(step.version)
    return applied
