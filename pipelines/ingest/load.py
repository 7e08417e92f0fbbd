"""Loading one planned file, inside the ingest's transaction: its bookkeeping in `loads`, its rows
landed as read in `raw.<kind>`, checked (`rules.py`), written to staging (`upsert.py`), and the
rejected ones kept in `rejects` with their rule, message and original text.

A file whose content (and mapping section) was loaded before is skipped. The counts kept in
`loads` reconcile: read = loaded + pending + rejected.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import duckdb

from pipelines.ingest.checks import CHECKS
from pipelines.ingest.db import quote, run
from pipelines.ingest.mapping import FIELDS
from pipelines.ingest.open_items import COUNTS as OPEN_ITEMS_COUNTS
from pipelines.ingest.open_items import upsert_open_items
from pipelines.ingest.plan import Plan, ReadRowByRow, read_row_by_row
from pipelines.ingest.rules import Sql
from pipelines.ingest.rules_actions import check_actions
from pipelines.ingest.upsert import UPSERT

RAW_COMPRESSION = "zstd"  # see _land_raw
# Every kind's check query (the actions': rules_actions.py).
CHECK_QUERIES = {**CHECKS, "actions": check_actions}
# A worklist workbook's row about several invoices is several actions, loaded or rejected as a
# whole: the first rule one of them breaks rejects them all. Its counts are in sheet rows.
SHEET_ROW_AS_A_WHOLE = """
    update checked set rule = w.rule, message = w.message, status = null
    from (
        select line, arg_min(rule, aid) as rule, arg_min(message, aid) as message
        from checked where rule is not null group by line
    ) as w
    where checked.line = w.line and checked.rule is null
"""
# Counts an upsert may return beyond new / unchanged / updated, kept in `loads` as is.
EXTRA_COUNTS = (
    ("derived", "payments_derived"),
    ("matched", "payments_matched"),
    ("promises_matched", "promises_matched"),
    ("actions_matched", "actions_matched"),
    ("pending_rejected", "pending_rejected"),
    ("terms_over_cap", "terms_over_cap"),
    ("on_account", "payments_on_account"),
    *((count, count) for count in OPEN_ITEMS_COUNTS),  # an open-items export's (open_items.py)
)


@dataclass(frozen=True)
class LoadResult:
    """One file's load. rows_read = rows_loaded + rows_pending + rows_rejected."""

    file: Path
    kind: str
    rows_read: int
    rows_loaded: int
    rows_rejected: int
    skipped: bool = False  # the same content was loaded before
    rows_pending: int = 0  # payments waiting for their invoice (staging.pending_payments)
    rows_new: int = 0
    rows_updated: int = 0  # a new version of a row already in staging
    rows_unchanged: int = 0
    payments_derived: int = 0  # from settlement dates on invoice rows
    payments_matched: int = 0  # pending payments whose invoice arrived with this file
    promises_matched: int = 0  # pending promises whose invoice arrived with this file
    # pending actions whose customer or invoice arrived with this file: moved to staging.actions,
    # or rejected then (the reject is kept under the load that read the row)
    actions_matched: int = 0
    pending_rejected: int = 0
    payments_on_account: int = 0  # a payments file's rows without an invoice (loaded)
    rows_left_empty: int = 0  # worklist workbook rows without an outcome (not read)
    # an open-items export (open_items.py): its date, and what its list of open invoices changed
    open_items_date: date | None = None
    settled_by_absence: int = 0
    reopened: int = 0
    partially_paid: int = 0
    payments_reversed: int = 0
    # invoices of the file (loaded) with payment terms over the French caps (terms.over_cap)
    terms_over_cap: int = 0
    load_id: int | None = None
    source_format: str = ""
    rejects_by_rule: tuple[tuple[str, int], ...] = ()
    reject_examples: tuple[str, ...] = ()  # "line N [rule] message", first few


def load_file(con: duckdb.DuckDBPyConnection, plan: Plan, load_date: date | None) -> LoadResult:
    """Land, check and upsert one file (inside the caller's transaction); skip it when its
    content was loaded before."""
    earlier = _loaded_before(con, plan)
    if earlier:
        return earlier
    load_id = _start(con, plan, load_date)
    params = {"id": load_id, "f": str(plan.source.path)}
    if not plan.source.table:
        number_rows(con, plan)
    _land_raw(con, plan, params)
    check = CHECK_QUERIES[plan.kind](plan, Sql(plan, load_date))
    run(con, f"create or replace temp table checked as {check}", **params)
    if plan.workbook:
        run(con, SHEET_ROW_AS_A_WHOLE)
    upsert = upsert_open_items if plan.open_items_date else UPSERT[plan.kind]
    counts = upsert(con, plan, load_id)
    by_rule, examples = _keep_rejects(con, plan, params)
    read, loaded, rejected, pending = _record_counts(con, plan, load_id, counts)
    run(con, "drop table temp.checked")
    if plan.work_table:
        run(con, f"drop table {plan.work_table}")
        plan.work_table = None
    return LoadResult(
        plan.source.path,
        plan.kind,
        read,
        loaded,
        rejected,
        rows_pending=pending,
        rows_new=counts.get("new", 0),
        rows_updated=counts.get("updated", 0),
        rows_unchanged=counts.get("unchanged", 0),
        payments_derived=counts.get("derived", 0),
        payments_matched=counts.get("matched", 0),
        promises_matched=counts.get("promises_matched", 0),
        actions_matched=counts.get("actions_matched", 0),
        pending_rejected=counts.get("pending_rejected", 0),
        payments_on_account=counts.get("on_account", 0),
        terms_over_cap=counts.get("terms_over_cap", 0),
        rows_left_empty=plan.rows_left_empty,
        open_items_date=plan.open_items_date,
        **{count: counts.get(count, 0) for count in OPEN_ITEMS_COUNTS},
        load_id=load_id,
        source_format=plan.describe + "".join(f"; {n}" for n in plan.notes),
        rejects_by_rule=tuple((r, n) for r, n in by_rule),
        reject_examples=tuple(e for (e,) in examples),
    )


def _loaded_before(con: duckdb.DuckDBPyConnection, plan: Plan) -> LoadResult | None:
    """The earlier load of the same content with the same mapping section (and, for an
    open-items export, the same date), if any."""
    seen = run(
        con,
        "select load_id, rows_read, rows_loaded, rows_rejected, coalesce(rows_pending, 0) "
        "from loads where kind = $k and file_hash = $h and finished_at is not null "
        "and mapping_hash is not distinct from $m "
        "and open_items_date is not distinct from $o order by load_id limit 1",
        k=plan.kind,
        h=plan.source.file_hash,
        m=plan.mapping_hash,
        o=plan.open_items_date,
    )
    if not seen:
        return None
    load_id, read, loaded, rejected, pending = seen[0]
    return LoadResult(
        plan.source.path,
        plan.kind,
        read,
        loaded,
        rejected,
        skipped=True,
        rows_pending=pending,
        open_items_date=plan.open_items_date,
        load_id=load_id,
        source_format=plan.describe,
    )


def _start(con: duckdb.DuckDBPyConnection, plan: Plan, load_date: date | None) -> int:
    """A new row in `loads` (finished_at set when the file is loaded); its load_id."""
    [(load_id,)] = run(con, "select nextval('load_id_seq')")
    run(
        con,
        "insert into loads (load_id, kind, file_name, file_hash, mapping_hash, mapping_file, "
        "source_format, load_date, started_at) values ($id, $k, $f, $h, $m, $mf, $fmt, $d, $t)",
        id=load_id,
        f=str(plan.source.path),
        k=plan.kind,
        h=plan.source.file_hash,
        m=plan.mapping_hash,
        mf=plan.mapping_file,
        fmt=plan.describe,
        d=load_date,
        t=datetime.now(),
    )
    return load_id


def _land_raw(con: duckdb.DuckDBPyConnection, plan: Plan, params: dict[str, object]) -> None:
    """Every row of the file in raw.<kind>, as read (text), with load_id, file and line."""
    columns = ", ".join(FIELDS[plan.kind])
    [(forced,)] = run(con, "select current_setting('force_compression')")
    # raw.* is written once and read only to audit a load: zstd keeps it small (the file name
    # repeated on every row costs nothing) for less CPU than DuckDB's default string compression.
    con.execute(f"set force_compression = {quote(RAW_COMPRESSION)}")
    run(
        con,
        f"insert into raw.{plan.kind} (load_id, source_file, line, {columns}, n_fields) "
        f"{plan.raw_rows}",
        **params,
    )  # (on failure, ingest_files restores the setting after the rollback)
    con.execute(f"set force_compression = {quote(forced)}")


def _keep_rejects(
    con: duckdb.DuckDBPyConnection, plan: Plan, params: dict[str, object]
) -> tuple[list[tuple], list[tuple]]:
    """The rejected rows into `rejects`, with their text; (count per rule, first examples). A
    workbook's rejected sheet row is one reject, whatever the actions it was about."""
    rejected = "(select line, rule, message from checked where rule is not null)"
    if plan.workbook:
        rejected = "(select distinct line, rule, message from checked where rule is not null)"
    run(
        con,
        f"""
        insert into rejects (load_id, file_name, line, rule, message, row_text)
        select $id, $f, line, rule, message, null from {rejected}
        """,
        **params,
    )
    by_rule = run(con, f"select rule, count(*) from {rejected} group by rule order by 2 desc")
    if by_rule:
        fill_row_text(con, plan, params["id"])
    examples = run(
        con,
        f"select 'line ' || line || ' [' || rule || '] ' || message from {rejected} "
        "order by line limit 5",
    )
    return by_rule, examples


def _record_counts(
    con: duckdb.DuckDBPyConnection, plan: Plan, load_id: int, counts: dict[str, int]
) -> tuple[int, int, int, int]:
    """Record the file's counts in `loads` and mark it finished; (read, loaded, rejected,
    pending), read = loaded + pending + rejected. A workbook's are sheet rows (a row whose
    actions wait, some or all, is pending)."""
    rows = "distinct line" if plan.workbook else "*"
    [(read, rejected, pending)] = run(
        con,
        f"select count({rows}), count({rows}) filter (where rule is not null), "
        f"count({rows}) filter (where rule is null and status = 'pending') from checked",
    )
    loaded = read - rejected - pending
    extra = ", ".join(f"{column} = ${key}" for key, column in EXTRA_COUNTS)
    run(
        con,
        f"""
        update loads set rows_read = $r, rows_loaded = $l, rows_rejected = $j, rows_pending = $p,
            rows_updated = $u, rows_unchanged = $n, {extra}, rows_left_empty = $e,
            finished_at = $t
        where load_id = $id
        """,
        r=read,
        l=loaded,
        j=rejected,
        p=pending,
        u=counts.get("updated", 0),
        n=counts.get("unchanged", 0),
        e=plan.rows_left_empty,
        t=datetime.now(),
        id=load_id,
        **{key: counts.get(key, 0) for key, _ in EXTRA_COUNTS},
    )
    return read, loaded, rejected, pending


def number_rows(con: duckdb.DuckDBPyConnection, plan: Plan) -> None:
    """Read a CSV with DuckDB's parallel reader into a temp table in file order (the one
    statement that needs insertion order), each row's line then given by its position
    (`Plan.rows`), and check that rows are lines."""
    source = plan.source
    table = f"_rows_{abs(hash(str(source.path)))}"
    con.execute("set preserve_insertion_order = true")
    try:
        # Not numbered here: row_number() over () would read the file on one thread.
        run(
            con,
            f"create or replace temp table {table} as "
            f"select *, null::integer as n_fields from {source.csv}",
        )
    except duckdb.Error as exc:  # DuckDB's reader refused a row: the transaction is lost
        raise ReadRowByRow(plan) from exc  # (ingest_files resets the setting)
    con.execute("set preserve_insertion_order = false")
    # rows in file order have consecutive rowids, from one that is not 0 inside a transaction
    [(rows, first_rowid)] = run(con, f"select count(*), coalesce(min(rowid), 0) from {table}")
    if rows + 1 + source.skip != source.newlines:
        # Rows do not map one-to-one to lines (multi-line fields, blank lines): the line
        # numbers would be wrong. Read the file row by row instead.
        run(con, f"drop table {table}")
        read_row_by_row(con, plan)
        return
    plan.work_table, plan.first_rowid = table, first_rowid


def fill_row_text(con: duckdb.DuckDBPyConnection, plan: Plan, load_id: int) -> None:
    """The rejected rows' original fields, joined by the file's separator (re-read for them;
    a worklist workbook's: its sheet rows as read, `plan.texts`)."""
    sep = plan.source.delimiter if plan.source.file_type == "csv" else ","
    fields = ", ".join(f"coalesce(c{i}, '')" for i in range(len(plan.source.columns)))
    rows = (
        plan.texts
        or f"(select line, concat_ws({quote(sep)}, {fields}) as row_text from {plan.rows})"
    )
    run(
        con,
        f"""
        update rejects set row_text = src.row_text
        from (
            select line, row_text from {rows}
            where line in (select line from checked where rule is not null)
        ) as src
        where rejects.load_id = $id and rejects.line = src.line
        """,
        id=load_id,
    )
