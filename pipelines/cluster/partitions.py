"""The staging tables as Parquet partitioned by customer, and a partition opened as a warehouse.

Layout of one export (`<shared dir>/<export id>/`): `<table>/part=<k>/*.parquet` with DuckDB's
`COPY ... (FORMAT parquet, PARTITION_BY (part))`, where part = hash(customer_id) % partitions, and
`_schema/<table>.parquet` (no rows: the columns and types of a table, for partitions without
rows). Every row of a customer is in one partition: its invoices (staging.invoices,
staging.invoice_settlements), its payments (staging.payments, by the customer of the invoice
paid) and its customer row. A payment of an invoice the warehouse does not hold has no
customer: features never read it (they join payments to invoices), so it is not exported.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb

# table -> the rows exported, with their partition as column `part` (not written in the files)
_PART = "hash(customer_id) % $partitions"
EXPORTED: dict[str, str] = {
    "invoice_settlements": f"select *, {_PART} as part from staging.invoice_settlements",
    "invoices": f"select *, {_PART} as part from staging.invoices",
    "customers": f"select *, {_PART} as part from staging.customers",
    "payments": (
        "select p.*, hash(i.customer_id) % $partitions as part from staging.payments as p "
        "join (select invoice_id, customer_id from staging.invoices) as i using (invoice_id)"
    ),
}


@dataclass(frozen=True)
class Export:
    """One export of the staging tables: its folder (shared by the workers) and partition count."""

    root: Path
    partitions: int

    def files(self, table: str, part: int) -> list[str]:
        return sorted(str(p) for p in (self.root / table / f"part={part}").glob("*.parquet"))

    def schema(self, table: str) -> str:
        return str(self.root / "_schema" / f"{table}.parquet")


def partition_of(customer_ids: list[str], partitions: int) -> list[int]:
    """The partition of each customer id (DuckDB's hash, as the export computes it)."""
    con = duckdb.connect()
    try:
        rows = con.execute(
            "select hash(c) % $n from unnest($ids::varchar[]) as t(c)",
            {"ids": customer_ids, "n": partitions},
        ).fetchall()
    finally:
        con.close()
    return [int(r[0]) for r in rows]


def export_staging(con: duckdb.DuckDBPyConnection, shared_dir: Path, partitions: int) -> Export:
    """Write the staging tables the workers read into a fresh folder of `shared_dir`."""
    if partitions < 1:
        raise ValueError(f"partitions must be at least 1, not {partitions}")
    export = Export(Path(shared_dir) / f"staging-{uuid.uuid4().hex[:12]}", partitions)
    (export.root / "_schema").mkdir(parents=True)
    for table, sql in EXPORTED.items():
        con.execute(
            f"copy (select * exclude (part) from ({sql}) limit 0) to '{_quoted(export.schema(table))}' "
            "(format parquet)",
            {"partitions": partitions},
        )
        con.execute(
            f"copy ({sql}) to '{_quoted(str(export.root / table))}' "
            "(format parquet, partition_by (part), overwrite_or_ignore)",
            {"partitions": partitions},
        )
    return export


@contextmanager
def exported(con: duckdb.DuckDBPyConnection, shared_dir: Path, partitions: int) -> Iterator[Export]:
    """`export_staging` for the length of a block; the folder is removed after it."""
    export = export_staging(con, shared_dir, partitions)
    try:
        yield export
    finally:
        shutil.rmtree(export.root, ignore_errors=True)


def open_partition(export: Export, part: int, threads: int = 1) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB holding partition `part` under the warehouse's table names
    (staging.<table>), with the warehouse's columns and types (an empty partition: empty tables)."""
    con = duckdb.connect(config={"threads": threads})
    con.execute("create schema staging")
    for table in EXPORTED:
        con.execute(
            f"create table staging.{table} as select * from read_parquet('{_quoted(export.schema(table))}')"
        )
        files = export.files(table, part)
        if files:
            con.execute(
                f"insert into staging.{table} select * from read_parquet($files, hive_partitioning = false)",
                {"files": files},
            )
    return con


def _quoted(path: str) -> str:
    return path.replace("'", "''")
