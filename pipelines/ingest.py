"""Load exports in latepay's canonical format into the warehouse, validated, with nothing lost.

Every row read ends up either in staging or in `rejects` with the rule it broke; each file gets a
row in `loads` with counts that reconcile (read = loaded + rejected). A file is loaded in one
transaction; loading a file whose content was already loaded changes nothing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb

from pipelines.warehouse import rebuild_settlements

REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "customers": (
        "customer_id",
        "name",
        "country",
        "segment",
        "payment_terms_days",
        "preferred_channel",
        "collector",
    ),
    "invoices": (
        "invoice_id",
        "customer_id",
        "issue_date",
        "due_date",
        "amount",
        "currency",
        "disputed",
    ),
    "payments": ("payment_id", "invoice_id", "payment_date", "amount"),
}
OPTIONAL_COLUMNS: dict[str, tuple[str, ...]] = {"invoices": ("dispute_opened_date",)}
# Customers first so invoices find them, invoices before payments so payments find theirs.
LOAD_ORDER = ("customers", "invoices", "payments")

# The synthetic generator's answer key sits beside its book; the pipeline never reads it.
ANSWER_KEY = "oracle.csv"

TRUE_WORDS = ("1", "true", "t", "yes", "y", "oui")
FALSE_WORDS = ("0", "false", "f", "no", "n", "non", "")


class IngestError(ValueError):
    """A file that cannot be loaded at all (unknown shape, missing columns)."""


@dataclass(frozen=True)
class LoadResult:
    file: Path
    kind: str
    rows_read: int
    rows_loaded: int
    rows_rejected: int
    skipped: bool = False  # the same content was loaded before


def expand_paths(paths: list[Path]) -> list[Path]:
    """Files given directly, plus the CSV files inside given folders (sorted), but an answer key."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(
                sorted(
                    p for p in path.iterdir() if p.suffix.lower() == ".csv" and p.name != ANSWER_KEY
                )
            )
        elif path.exists():
            files.append(path)
        else:
            raise IngestError(f"{path}: no such file or folder")
    return files


def detect_kind(path: Path, columns: list[str]) -> str:
    """Which canonical table a file holds, from its header."""
    cols = set(columns)
    if "payment_id" in cols or ("payment_date" in cols and "issue_date" not in cols):
        kind = "payments"
    elif "invoice_id" in cols or "issue_date" in cols:
        kind = "invoices"
    elif "customer_id" in cols:
        kind = "customers"
    else:
        raise IngestError(
            f"{path}: cannot tell whether this is a customers, invoices or payments file; "
            f"columns found: {', '.join(columns) or '(none)'}"
        )
    missing = [c for c in REQUIRED_COLUMNS[kind] if c not in cols]
    if missing:
        raise IngestError(
            f"{path}: rule required_column: {kind} file lacks {', '.join(missing)}; "
            f"columns found: {', '.join(columns)}"
        )
    return kind


def ingest_files(con: duckdb.DuckDBPyConnection, paths: list[Path]) -> list[LoadResult]:
    """Load canonical CSV files (or folders of them) into the warehouse, in dependency order."""
    files = expand_paths(paths)
    headers = {f: _read_header(con, f) for f in files}
    kinds = {f: detect_kind(f, headers[f]) for f in files}
    ordered = sorted(files, key=lambda f: LOAD_ORDER.index(kinds[f]))
    results = [_load_file(con, f, kinds[f], headers[f]) for f in ordered]
    rebuild_settlements(con)
    return results


def _read_header(con: duckdb.DuckDBPyConnection, path: Path) -> list[str]:
    try:
        rel = con.execute(
            "select * from read_csv($p, all_varchar = true, header = true) limit 0",
            {"p": str(path)},
        )
    except duckdb.Error as exc:
        raise IngestError(f"{path}: not a readable CSV file ({exc})") from exc
    return [d[0] for d in rel.description]


def _file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _load_file(
    con: duckdb.DuckDBPyConnection, path: Path, kind: str, header: list[str]
) -> LoadResult:
    file_hash = _file_hash(path)
    seen = con.execute(
        "select rows_read, rows_loaded, rows_rejected from loads "
        "where kind = $k and file_hash = $h and finished_at is not null",
        {"k": kind, "h": file_hash},
    ).fetchall()
    if seen:
        return LoadResult(path, kind, *seen[0], skipped=True)

    columns = REQUIRED_COLUMNS[kind] + tuple(
        c for c in OPTIONAL_COLUMNS.get(kind, ()) if c in header
    )
    missing_optional = [c for c in OPTIONAL_COLUMNS.get(kind, ()) if c not in header]
    con.execute("begin transaction")
    try:
        load_id = con.execute("select nextval('load_id_seq')").fetchall()[0][0]
        con.execute(
            "insert into loads (load_id, kind, file_name, file_hash, started_at) "
            "values ($id, $k, $f, $h, $t)",
            {"id": load_id, "k": kind, "f": str(path), "h": file_hash, "t": datetime.now()},
        )
        select_cols = ", ".join(f'"{c}"' for c in columns)
        null_cols = "".join(f", null::varchar as {c}" for c in missing_optional)
        con.execute(
            f"""
            insert into raw.{kind} by name
            select $id as load_id, $f as source_file,
                   row_number() over () + 1 as line, {select_cols}{null_cols}
            from read_csv($f, all_varchar = true, header = true)
            """,
            {"id": load_id, "f": str(path)},
        )
        con.execute(f"create or replace temp table checked as {_CHECKS[kind]}", {"id": load_id})
        con.execute(
            """
            insert into rejects
            select $id, $f, line, rule, message, row_text from checked where rule is not null
            """,
            {"id": load_id, "f": str(path)},
        )
        for statement in filter(str.strip, _UPSERTS[kind].split(";")):
            con.execute(statement, {"id": load_id} if "$id" in statement else None)
        [(read, rejected)] = con.execute(
            "select count(*), count(*) filter (where rule is not null) from checked"
        ).fetchall()
        con.execute(
            "update loads set rows_read = $r, rows_loaded = $l, rows_rejected = $j, "
            "finished_at = $t where load_id = $id",
            {"r": read, "l": read - rejected, "j": rejected, "t": datetime.now(), "id": load_id},
        )
        con.execute("drop table temp.checked")
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    return LoadResult(path, kind, read, read - rejected, rejected)


def _flag(expr: str, words: tuple[str, ...]) -> str:
    quoted = ", ".join(f"'{w}'" for w in words)
    return f"lower(trim(coalesce({expr}, ''))) in ({quoted})"


# Each check query types the rows of one load and names the first rule a row breaks (or null).
_CHECKS = {
    "customers": """
        with typed as (
            select *,
                try_cast(payment_terms_days as integer) as terms,
                row_number() over (partition by customer_id order by line) as nth,
                concat_ws(',', customer_id, name, country, segment, payment_terms_days,
                          preferred_channel, collector) as row_text
            from raw.customers where load_id = $id
        )
        select *,
            case
                when customer_id is null then 'required_value'
                when terms is null and payment_terms_days is not null then 'bad_number'
                when terms < 0 or terms > 365 then 'absurd_value'
                when nth > 1 then 'duplicate_key'
            end as rule,
            case
                when customer_id is null then 'customer_id is empty'
                when terms is null and payment_terms_days is not null
                    then 'payment_terms_days is not a whole number: ' || payment_terms_days
                when terms < 0 or terms > 365
                    then 'payment_terms_days outside 0..365: ' || payment_terms_days
                when nth > 1 then 'customer_id ' || customer_id || ' appears earlier in the file'
            end as message
        from typed
    """,
    "invoices": f"""
        with typed as (
            select *,
                try_cast(issue_date as date) as issue,
                try_cast(due_date as date) as due,
                try_cast(amount as decimal(18, 2)) as amt,
                try_cast(dispute_opened_date as date) as dispute_opened,
                {_flag("disputed", TRUE_WORDS)} as is_disputed,
                {_flag("disputed", FALSE_WORDS)} as is_undisputed,
                row_number() over (partition by invoice_id order by line) as nth,
                concat_ws(',', invoice_id, customer_id, issue_date, due_date, amount, currency,
                          disputed) as row_text
            from raw.invoices where load_id = $id
        )
        select *,
            case
                when invoice_id is null or customer_id is null then 'required_value'
                when issue is null then 'bad_date'
                when due is null then 'bad_date'
                when amt is null then 'bad_amount'
                when not (is_disputed or is_undisputed) then 'bad_flag'
                when due < issue then 'due_before_issue'
                when abs(amt) >= 1e12 then 'absurd_value'
                when nth > 1 then 'duplicate_key'
            end as rule,
            case
                when invoice_id is null or customer_id is null
                    then 'invoice_id and customer_id are required'
                when issue is null then 'issue_date is not a date (YYYY-MM-DD): ' || coalesce(issue_date, '(empty)')
                when due is null then 'due_date is not a date (YYYY-MM-DD): ' || coalesce(due_date, '(empty)')
                when amt is null then 'amount is not a number: ' || coalesce(amount, '(empty)')
                when not (is_disputed or is_undisputed) then 'disputed is not yes/no: ' || disputed
                when due < issue then 'due_date ' || due_date || ' is before issue_date ' || issue_date
                when abs(amt) >= 1e12 then 'amount is absurd: ' || amount
                when nth > 1 then 'invoice_id ' || invoice_id || ' appears earlier in the file'
            end as message
        from typed
    """,
    "payments": """
        with typed as (
            select r.*,
                try_cast(r.payment_date as date) as paid_on,
                try_cast(r.amount as decimal(18, 2)) as amt,
                row_number() over (partition by r.payment_id order by r.line) as nth,
                i.invoice_id is not null as invoice_known,
                concat_ws(',', r.payment_id, r.invoice_id, r.payment_date, r.amount) as row_text
            from raw.payments as r
            left join staging.invoices as i on i.invoice_id = r.invoice_id
            where r.load_id = $id
        )
        select *,
            case
                when payment_id is null or invoice_id is null then 'required_value'
                when paid_on is null then 'bad_date'
                when amt is null then 'bad_amount'
                when amt <= 0 then 'non_positive_payment'
                when nth > 1 then 'duplicate_key'
                when not invoice_known then 'unknown_invoice'
            end as rule,
            case
                when payment_id is null or invoice_id is null
                    then 'payment_id and invoice_id are required'
                when paid_on is null then 'payment_date is not a date (YYYY-MM-DD): ' || coalesce(payment_date, '(empty)')
                when amt is null then 'amount is not a number: ' || coalesce(amount, '(empty)')
                when amt <= 0 then 'payment amount must be positive: ' || amount
                when nth > 1 then 'payment_id ' || payment_id || ' appears earlier in the file'
                when not invoice_known then 'no invoice ' || invoice_id || ' in the warehouse'
            end as message
        from typed
    """,
}

# Valid rows replace the staging row with the same key (the latest export wins).
_UPSERTS = {
    "customers": """
        insert or replace into staging.customers
        select customer_id, name, country, segment, terms, preferred_channel,
               coalesce(collector, 'unassigned'), $id
        from checked where rule is null
    """,
    "invoices": """
        insert or replace into staging.customers
        select distinct customer_id, null, null, null, null, null, 'unassigned', $id
        from checked
        where rule is null
          and customer_id not in (select customer_id from staging.customers);
        insert or replace into staging.invoices
        select invoice_id, customer_id, issue, due, amt, currency, is_disputed, $id
        from checked where rule is null;
        delete from staging.disputes
        where invoice_id in (select invoice_id from checked where rule is null);
        insert into staging.disputes
        select invoice_id, coalesce(dispute_opened, issue)
        from checked where rule is null and is_disputed;
    """,
    "payments": """
        insert or replace into staging.payments
        select payment_id, invoice_id, paid_on, amt, $id from checked where rule is null
    """,
}
