"""Load accounting exports into the warehouse, validated, with nothing lost.

Every file is first *planned* without writing anything (`plan.py`): read as a table
(`readers.py`: file type, encoding, separator, line numbers), its columns mapped to latepay
fields (canonical names, or a mapping file, `mapping.py`), the table it holds told from its
header, its decimal mark and date order detected (`formats.py`). A file that cannot be loaded
at all (empty, not a table, a required column missing, ambiguous dates) stops the ingest with an
`IngestError` naming the file and the rule, before anything is written.

The planned files are then loaded, customers → invoices → payments → promises → actions, in ONE
transaction (`ingest_files`, here): a failure anywhere leaves the warehouse exactly as it was.
Each file lands in `raw.*` as read (text, with load_id, source file and line) and is typed and
checked in SQL: **every reject rule is in `rules.py`**, in the order of the README's rule table
(the actions' list and check query: `rules_actions.py`). Each row then ends up in staging, in
`staging.pending_payments` / `pending_promises` / `pending_actions` (a payment or promise to pay
whose invoice has not arrived yet, a collector's action whose customer or invoice has not), or
in `rejects` with the rule it broke (`load.py`: the bookkeeping; `upsert.py`: staging;
`ledger.py`: the collections ledger, whose promises and disputes feed staging.promises and
staging.disputes). `loads` keeps the counts per file: read = loaded + pending + rejected.
`workbook.py`: a collector's worklist workbook, dropped back, read as an actions file.
`inbox.py`: the folder the nightly job loads from. `open_items.py`: an open-items export (the
list of invoices open on the load date), whose absent invoices are settled. `terms.py`: payment
terms written out (`45 fin de mois`) and the French caps every invoice is checked against.

Policies (see README, "Input format"): an invoice sent again with other values is a new version
(previous one kept in `staging.invoice_versions`), and so is a promise (`staging.promise_versions`);
a file whose content (and mapping) was loaded before is skipped; "future" means after
`load_date`, given by the caller.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb

from pipelines.ingest.db import TOUCHED, quote, run, touch
from pipelines.ingest.load import LoadResult, load_file
from pipelines.ingest.mapping import Mapping, MappingError, load_mapping
from pipelines.ingest.open_items import mark_open_items
from pipelines.ingest.plan import IngestError, Plan, ReadRowByRow, plan_file, read_row_by_row
from pipelines.warehouse import (
    ensure_schema,
    rebuild_settlements,
    settlements_current,
    tuned,
    update_settlements,
)

__all__ = ["LOAD_ORDER", "IngestError", "LoadResult", "expand_paths", "ingest_files"]

# Customers first so invoices find them, invoices before payments so payments find theirs;
# the collections ledger last, so that its actions find customers and invoices of the same ingest.
LOAD_ORDER = ("customers", "invoices", "payments", "promises", "actions")
FILE_SUFFIXES = (".csv", ".txt", ".tsv", ".xlsx", ".xlsm", ".parquet", ".pq")
# The synthetic generator's answer key sits beside its book; the pipeline never reads it.
ANSWER_KEY = "oracle.csv"
WRITE_COMPRESSION_OFF = "dict_fsst"  # see _load_all: text is written uncompressed
MEMORY_LIMIT = "5GB"  # DuckDB's share; the 10M-invoice load must stay under 8 GB resident


def expand_paths(paths: list[Path]) -> list[Path]:
    """Files given directly, plus the table files inside given folders (sorted), but an answer key."""
    files: list[Path] = []
    for path in paths:
        path = Path(path)
        if path.is_dir():
            files.extend(
                sorted(
                    p
                    for p in path.iterdir()
                    if p.is_file()
                    and p.suffix.lower() in FILE_SUFFIXES
                    and p.name != ANSWER_KEY
                    and not p.name.startswith((".", "~$"))
                )
            )
        elif path.exists():
            files.append(path)
        else:
            raise IngestError(f"{path}: rule no_such_file: no such file or folder")
    return files


def ingest_files(
    con: duckdb.DuckDBPyConnection,
    paths: list[Path],
    mapping: Mapping | Path | None = None,
    *,
    load_date: date | None = None,
    open_items: bool = False,
) -> list[LoadResult]:
    """Load exports (files or folders) into the warehouse, in dependency order, all or nothing.

    `mapping`: a mapping file or a parsed `Mapping`; `load_date`: rows dated after it are rejected
    (rule future_date); None skips that check. `open_items`: the invoices file is an open-items
    export of `load_date` (as is one whose mapping section says `open_items = true`).
    """
    mapping = _read_mapping(mapping)
    ensure_schema(con)
    files = expand_paths(paths)
    if not files:
        raise IngestError(
            f"{', '.join(map(str, paths))}: rule no_files: no CSV, Excel or Parquet file found"
        )
    plans: list[Plan] = []
    try:
        # Large loads spill to disk rather than grow past MEMORY_LIMIT (one transaction holds all).
        with tuned(con, memory_limit=MEMORY_LIMIT):
            for path in files:
                plans.append(plan_file(con, path, mapping))
            mark_open_items(plans, load_date, every=open_items)
            return _load_all(con, plans, load_date)
    finally:
        for plan in plans:
            plan.source.cleanup()
            if plan.source.table:
                con.execute(f"drop table if exists {plan.source.table}")


def _read_mapping(mapping: Mapping | Path | str | None) -> Mapping | None:
    if not isinstance(mapping, (str, Path)):
        return mapping
    try:
        return load_mapping(Path(mapping))
    except MappingError as exc:
        raise IngestError(f"rule bad_mapping: {exc}") from exc


def _load_all(
    con: duckdb.DuckDBPyConnection, plans: list[Plan], load_date: date | None
) -> list[LoadResult]:
    """Load the planned files in LOAD_ORDER in one transaction. A CSV that DuckDB's reader fails
    on is read row by row (`ReadRowByRow`), and everything is loaded again."""
    # An open-items export loads after the payments files, so that a payment loaded with it
    # counts before its absent invoices are settled.
    ordered = sorted(plans, key=lambda p: LOAD_ORDER.index(p.kind) + 1.5 * bool(p.open_items_date))
    [(compression, forced)] = run(
        con,
        "select current_setting('disabled_compression_methods'), "
        "current_setting('force_compression')",
    )
    # No statement of the load depends on the order rows are written in (line numbers are
    # given when a file is read, see load.number_rows): letting each thread write its own row
    # groups halves the cost of writing 10M-row tables and avoids rewriting them at the next
    # checkpoint. And the text the load writes is stored without DuckDB's string compression
    # (dict_fsst), which cost more CPU than everything else in writing the rows: the tables
    # take about 4x the disk for their text columns (3 GB for the 10M-invoice book).
    off = ",".join(filter(None, [compression, WRITE_COMPRESSION_OFF]))
    with tuned(
        con,
        preserve_insertion_order=False,
        disabled_compression_methods=off,
        force_compression=forced,
    ):
        while True:
            try:
                return _load_once(con, plans, ordered, load_date, compression or "", off)
            except ReadRowByRow as retry:
                read_row_by_row(con, retry.plan)
                # The failed attempt may have left its own settings: the load's again, then
                # everything is loaded again.
                con.execute("set preserve_insertion_order = false")
                con.execute(f"set disabled_compression_methods = {quote(off)}")
                con.execute(f"set force_compression = {quote(forced)}")


def _load_once(
    con: duckdb.DuckDBPyConnection,
    plans: list[Plan],
    ordered: list[Plan],
    load_date: date | None,
    compression: str,
    off: str,
) -> list[LoadResult]:
    """One attempt: every file, then the settlements, in one transaction; rolled back on any
    failure (and the temp tables made inside it forgotten)."""
    con.execute("begin transaction")
    try:
        con.execute(f"create or replace temp table {TOUCHED} (invoice_id varchar)")
        results = [load_file(con, plan, load_date) for plan in ordered]
        loaded = [r.load_id for r in results if not r.skipped and r.load_id is not None]
        if loaded:
            settle(con, min(loaded), compression, off)
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        _forget_rolled_back_tables(con, plans)
        raise
    return results


# Above this share of the invoices touched since the table was last rebuilt whole, it is
# rebuilt whole: its rows back in customer order (the features group them by customer), and
# cheaper than replacing most of them.
REBUILD_SHARE = 0.1


def settle(con: duckdb.DuckDBPyConnection, first_load: int, compression: str, off: str) -> None:
    """staging.invoice_settlements after the loads from `first_load` on: the invoices they
    touched recomputed (`TOUCHED`, with those their rows were written for), or the whole table
    when it is new, was made by another version of its SQL, or the touched invoices, with those
    appended since its last rebuild, pass REBUILD_SHARE of it."""
    if settlements_current(con):
        for table in ("invoices", "payments"):
            touch(con, f"select invoice_id from staging.{table} where load_id >= $f", f=first_load)
        touched = f"select distinct invoice_id from {TOUCHED}"
        [(rows, appended, n)] = run(
            con,
            "select (select count(*) from staging.invoice_settlements), "
            "(select coalesce(sum(touched), 0) from staging.settlements_appended), "
            f"(select count(*) from ({touched}))",
        )
        if appended + n <= REBUILD_SHARE * rows:
            update_settlements(con, touched)
            return
    # compressed: its customer ids (few distinct) shrink to a dictionary, which costs less to
    # write than the plain text and makes the features faster
    con.execute(f"set disabled_compression_methods = {quote(compression)}")
    rebuild_settlements(con)
    con.execute(f"set disabled_compression_methods = {quote(off)}")


def _forget_rolled_back_tables(con: duckdb.DuckDBPyConnection, plans: list[Plan]) -> None:
    """Temp tables made inside a rolled-back transaction are gone: read those files again."""
    temp = {name for (name,) in run(con, "select table_name from duckdb_tables() where temporary")}
    for plan in plans:
        plan.work_table = None
        if plan.source.table and plan.source.table not in temp:
            plan.source.table = None
