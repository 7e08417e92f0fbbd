"""Load accounting exports into the warehouse, validated, with nothing lost.

Every file is first *planned* without writing anything: read as a table (`pipelines.readers`), its
columns mapped to latepay fields (canonical names, or a mapping file, `pipelines.mapping`), its
separator, encoding, decimal mark and date order detected. A file that cannot be loaded at all
(empty, not a table, a required column missing, ambiguous dates) stops the ingest with an
`IngestError` naming the file and the rule, before anything is written.

The planned files are then loaded, customers → invoices → payments → promises, in ONE transaction: a failure
anywhere leaves the warehouse exactly as it was. Each file lands in `raw.*` as read (text, with
load_id, source file and line), is typed and checked in SQL, and each row ends up in staging,
in `staging.pending_payments` / `staging.pending_promises` (a payment or promise to pay whose
invoice has not arrived yet), or in `rejects` with the rule it broke. `loads` keeps the counts per file: read = loaded + pending + rejected.

Policies (see README, "Input format"): an invoice sent again with other values is a new version
(previous one kept in `staging.invoice_versions`), and so is a promise (`staging.promise_versions`);
a file whose content (and mapping) was loaded
before is skipped; "future" means after `load_date`, given by the caller.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import duckdb

from pipelines.mapping import (
    AMOUNT_FIELDS,
    DATE_FIELDS,
    FIELDS,
    Mapping,
    MappingError,
    Section,
    load_mapping,
)
from pipelines.readers import ReadError, Source, hash_and_prepare, materialize_csv, sniff
from pipelines.warehouse import rebuild_settlements, sql_text

REQUIRED: dict[str, tuple[str, ...]] = {
    "customers": ("customer_id",),
    "invoices": ("invoice_id", "customer_id", "issue_date", "due_date", "amount"),
    "payments": ("invoice_id", "payment_date", "amount"),
    # Without promise_id, a promise is keyed by invoice and the day it was made.
    "promises": ("invoice_id", "promised_on", "promised_date"),
}
# Kept for callers of the first version: the canonical columns of each file.
REQUIRED_COLUMNS = {
    "customers": FIELDS["customers"],
    "invoices": FIELDS["invoices"][:7],
    "payments": FIELDS["payments"],
}
# Customers first so invoices find them, invoices before payments so payments find theirs.
LOAD_ORDER = ("customers", "invoices", "payments", "promises")
FILE_SUFFIXES = (".csv", ".txt", ".tsv", ".xlsx", ".xlsm", ".parquet", ".pq")
# The synthetic generator's answer key sits beside its book; the pipeline never reads it.
ANSWER_KEY = "oracle.csv"
# Header names understood without a mapping file (compared lower-case, spaces as underscores).
ALIASES = {
    "invoice_number": "invoice_id",
    "invoice_no": "invoice_id",
    "customer_number": "customer_id",
    "customer_no": "customer_id",
    "invoice_date": "issue_date",
    "settlement_date": "settled_date",
    "paid_date": "settled_date",
    "amount_paid": "paid_amount",
}

TRUE_WORDS = ("1", "true", "t", "yes", "y", "oui", "o", "x")
FALSE_WORDS = ("0", "false", "f", "no", "n", "non", "")
# Absurd values: rejected rather than loaded (rule absurd_value).
MAX_AMOUNT = 1e12
EARLIEST_DATE = date(1990, 1, 1)
MAX_TERMS_DAYS = 730  # due date more than two years after issue
SETTLEMENT_SUFFIX = "#settlement"
WRITE_COMPRESSION_OFF = "dict_fsst"  # see ingest_files: text is written uncompressed
RAW_COMPRESSION = "zstd"  # see _load
MEMORY_LIMIT = "5GB"  # DuckDB's share; the 10M-invoice load must stay under 8 GB resident  # payment_id of a payment derived from an invoice row


class IngestError(ValueError):
    """A file (or the whole ingest) that cannot be loaded: the message names file and rule."""


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
    load_id: int | None = None
    source_format: str = ""
    rejects_by_rule: tuple[tuple[str, int], ...] = ()
    reject_examples: tuple[str, ...] = ()  # "line N [rule] message", first few


@dataclass
class Plan:
    """A file ready to load: where each latepay field is, and how to parse it."""

    source: Source
    kind: str
    section: Section | None
    fields: dict[str, int]  # field -> column index in the source
    date_format: str = "iso"  # "iso" or a strptime format
    decimal_mark: str = "."
    grouped: bool = False  # amounts carry thousands separators
    mapping_hash: str | None = None
    mapping_file: str | None = None
    notes: list[str] = field(default_factory=list)
    work_table: str | None = None  # temp table of the numbered rows, during the load only

    @property
    def describe(self) -> str:
        dates = "ISO dates" if self.date_format == "iso" else f"dates {self.date_format}"
        return f"{self.source.describe}, {dates}, decimal '{self.decimal_mark}'"


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
) -> list[LoadResult]:
    """Load exports (files or folders) into the warehouse, in dependency order, all or nothing.

    `mapping`: a mapping file or a parsed `Mapping`; `load_date`: rows dated after it are rejected
    (rule future_date); None skips that check.
    """
    if isinstance(mapping, (str, Path)):
        try:
            mapping = load_mapping(Path(mapping))
        except MappingError as exc:
            raise IngestError(f"rule bad_mapping: {exc}") from exc
    ensure_schema(con)
    files = expand_paths(paths)
    if not files:
        raise IngestError(
            f"{', '.join(map(str, paths))}: rule no_files: no CSV, Excel or Parquet file found"
        )
    plans: list[Plan] = []
    [(memory_limit, insertion_order, compression, forced)] = _run(
        con,
        "select current_setting('memory_limit'), current_setting('preserve_insertion_order'), "
        "current_setting('disabled_compression_methods'), current_setting('force_compression')",
    )
    # Large loads spill to disk rather than grow past MEMORY_LIMIT (one transaction holds all).
    con.execute(f"set memory_limit = '{MEMORY_LIMIT}'")
    try:
        for path in files:
            plans.append(plan_file(con, path, mapping))
        ordered = sorted(plans, key=lambda p: LOAD_ORDER.index(p.kind))
        # No statement of the load depends on the order rows are written in (line numbers are
        # given when a file is read, see _number_rows): letting each thread write its own row
        # groups halves the cost of writing 10M-row tables and avoids rewriting them at the next
        # checkpoint. And the text the load writes is stored without DuckDB's string compression
        # (dict_fsst), which cost more CPU than everything else in writing the rows: the tables
        # take about 4x the disk for their text columns (3 GB for the 10M-invoice book).
        off = ",".join(filter(None, [compression, WRITE_COMPRESSION_OFF]))
        while True:
            con.execute("set preserve_insertion_order = false")
            con.execute(f"set disabled_compression_methods = {_q(off)}")
            con.execute(f"set force_compression = {_q(forced)}")
            con.execute("begin transaction")
            try:
                results = [_load(con, plan, load_date) for plan in ordered]
                if not all(r.skipped for r in results):
                    # compressed: its customer ids (few distinct) shrink to a dictionary, which
                    # costs less to write than the plain text and makes the features faster
                    con.execute(f"set disabled_compression_methods = {_q(compression or '')}")
                    rebuild_settlements(con)
                    con.execute(f"set disabled_compression_methods = {_q(off)}")
                con.execute("commit")
                break
            except _ReadRowByRow as retry:
                con.execute("rollback")
                _forget_rolled_back_tables(con, plans)
                _read_row_by_row(con, retry.plan)  # then load everything again
            except BaseException:
                con.execute("rollback")
                _forget_rolled_back_tables(con, plans)
                raise
    finally:
        con.execute(f"set memory_limit = '{memory_limit}'")
        con.execute(f"set preserve_insertion_order = {insertion_order}")
        con.execute(f"set disabled_compression_methods = {_q(compression or '')}")
        con.execute(f"set force_compression = {_q(forced)}")
        for plan in plans:
            plan.source.cleanup()
            if plan.source.table:
                con.execute(f"drop table if exists {plan.source.table}")
    return results


def _forget_rolled_back_tables(con: duckdb.DuckDBPyConnection, plans: list[Plan]) -> None:
    """Temp tables made inside a rolled-back transaction are gone: read those files again."""
    temp = {name for (name,) in _run(con, "select table_name from duckdb_tables() where temporary")}
    for plan in plans:
        plan.work_table = None
        if plan.source.table and plan.source.table not in temp:
            plan.source.table = None


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create or migrate the warehouse: schema.sql (idempotent), then rebuild staging.invoices
    and staging.payments without the primary-key index that earlier versions declared."""
    con.execute(sql_text("schema"))
    indexed = _run(
        con,
        "select table_name from duckdb_constraints() where schema_name = 'staging' "
        "and table_name in ('invoices', 'payments') and constraint_type = 'PRIMARY KEY'",
    )
    for (table,) in indexed:
        con.execute("begin transaction")
        con.execute(f"create table staging.{table}_unindexed as select * from staging.{table}")
        con.execute(f"drop table staging.{table}")
        con.execute(f"alter table staging.{table}_unindexed rename to {table}")
        con.execute("commit")


# --------------------------------------------------------------------------- planning


def _normal(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", name.strip().lower())


def plan_file(con: duckdb.DuckDBPyConnection, path: Path, mapping: Mapping | None) -> Plan:
    """Read the head of `path`, map its columns, detect its formats; nothing is written."""
    sections = mapping.sections if mapping else {}
    section = next((s for s in sections.values() if s.matches_name(path)), None)
    try:
        source = sniff(con, path, sheet=section.sheet if section else None)
        if section is None and sections:
            section = _section_by_header(source.columns, sections)
        if section and (section.delimiter or section.encoding) and source.file_type == "csv":
            source = sniff(con, path, delimiter=section.delimiter, encoding=section.encoding)
    except ReadError as exc:
        raise IngestError(str(exc)) from exc

    fields = _map_columns(path, source.columns, section)
    kind = section.kind if section else _detect_kind(path, source.columns, fields)
    fields = {f: i for f, i in fields.items() if f in FIELDS[kind]}
    _check_required(path, kind, source.columns, fields, section)

    plan = Plan(source, kind, section, fields)
    if section:
        plan.mapping_hash = hashlib.sha256(section.text.encode()).hexdigest()[:16]
        plan.mapping_file = str(mapping.path) if mapping and mapping.path else None
    hash_and_prepare(source)
    plan.date_format = (section.date_format if section else None) or _detect_date_format(con, plan)
    plan.decimal_mark, plan.grouped = _detect_decimal(con, plan)
    if section and section.decimal_mark:
        plan.decimal_mark, plan.grouped = section.decimal_mark, True
    return plan


def _section_by_header(columns: list[str], sections: dict[str, Section]) -> Section | None:
    header = set(columns)
    scored = sorted(
        ((len(header & set(s.columns)), s) for s in sections.values()),
        key=lambda pair: -pair[0],
    )
    return scored[0][1] if scored and scored[0][0] > 0 else None


def _map_columns(path: Path, columns: list[str], section: Section | None) -> dict[str, int]:
    mapped: dict[str, int] = {}
    by_mapping = section.columns if section else {}
    for i, name in enumerate(columns):
        if name in by_mapping:
            mapped[by_mapping[name]] = i
    for i, name in enumerate(columns):
        normal = _normal(name)
        target = normal if any(normal in f for f in FIELDS.values()) else ALIASES.get(normal)
        if target and name not in by_mapping and target not in set(by_mapping.values()):
            if target in mapped:
                raise IngestError(
                    f"{path}: rule duplicate_column: two columns hold {target} "
                    f"({columns[mapped[target]]!r} and {name!r})"
                )
            mapped[target] = i
    return mapped


def _detect_kind(path: Path, columns: list[str], fields: dict[str, int]) -> str:
    """Which table a file holds, from its (mapped) header."""
    names = set(fields)
    if names & {"promise_id", "promised_on", "promised_date"} and "issue_date" not in names:
        return "promises"
    if "payment_id" in names or ("payment_date" in names and "issue_date" not in names):
        return "payments"
    if "invoice_id" in names or "issue_date" in names:
        return "invoices"
    if "customer_id" in names:
        return "customers"
    raise IngestError(
        f"{path}: rule unknown_kind: cannot tell whether this is a customers, invoices, "
        f"payments or promises file; columns found: {', '.join(columns) or '(none)'}. Rename the columns "
        "to latepay's names or give a mapping file (--mapping)"
    )


def _check_required(
    path: Path,
    kind: str,
    columns: list[str],
    fields: dict[str, int],
    section: Section | None,
) -> None:
    present = set(fields) | set(section.constants if section else ())
    if section and (section.due_days is not None or section.due_from_terms):
        present.add("due_date")
    missing = [f for f in REQUIRED[kind] if f not in present]
    if missing:
        hint = (
            ' (or derive it in a mapping file: [invoices.derive] due_date = "issue_date + 30")'
            if "due_date" in missing
            else ""
        )
        raise IngestError(
            f"{path}: rule required_column: {kind} file lacks {', '.join(missing)}{hint}; "
            f"columns found: {', '.join(columns)}"
        )


class _ReadRowByRow(Exception):
    """DuckDB's CSV reader failed on a file: retry the ingest reading it with Python's csv."""

    def __init__(self, plan: Plan) -> None:
        super().__init__(str(plan.source.path))
        self.plan = plan


def _read_row_by_row(con: duckdb.DuckDBPyConnection, plan: Plan) -> None:
    """Read a CSV with Python's csv module: exact line numbers, ragged rows kept to reject.
    DuckDB's parallel reader (the fast path) is used when it parses every row and gives as many
    rows as the file has lines after the header."""
    materialize_csv(con, plan.source, f"_src_{abs(hash(str(plan.source.path)))}")
    plan.notes.append("read row by row (multi-line fields, blank lines or ragged rows)")


def _scan(con: duckdb.DuckDBPyConnection, plan: Plan, query: str) -> list[tuple]:
    """A detection query over the whole file (outside the load transaction)."""
    try:
        return con.execute(query.replace("{src}", plan.source.relation)).fetchall()
    except duckdb.Error:
        if plan.source.table:
            raise
        _read_row_by_row(con, plan)
        return con.execute(query.replace("{src}", plan.source.relation)).fetchall()


DMY = re.compile(r"^(\d{1,2})([/.\-])(\d{1,2})\2(\d{4}|\d{2})$")
DMY_SQL = r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{2}|\d{4})$"  # RE2: no back-references
ISO = re.compile(r"^\d{4}-\d{1,2}-\d{1,2}(?:[ T][\d:.]+)?$")
YMD_SLASH = re.compile(r"^\d{4}/\d{1,2}/\d{1,2}$")


def _sample_values(plan: Plan, names: tuple[str, ...]) -> list[str]:
    idx = [plan.fields[f] for f in names if f in plan.fields]
    return [r[i].strip() for r in plan.source.sample for i in idx if r[i] and r[i].strip()]


def _detect_date_format(con: duckdb.DuckDBPyConnection, plan: Plan) -> str:
    """ISO, or day/month order read from the data: a day > 12 anywhere in any date column decides.
    Never guessed: all parts ≤ 12 in the whole file is an error asking for the format."""
    values = _sample_values(plan, DATE_FIELDS)
    iso = sum(bool(ISO.match(v)) for v in values)
    ymd = sum(bool(YMD_SLASH.match(v)) for v in values)
    dmy = [m for v in values if (m := DMY.match(v))]
    if not dmy or len(dmy) < max(iso, ymd):
        return "%Y/%m/%d" if ymd > iso else "iso"
    sep = max("/.-", key=lambda s: sum(m.group(2) == s for m in dmy))
    year = "%Y" if sum(len(m.group(4)) == 4 for m in dmy) * 2 >= len(dmy) else "%y"
    first = max(int(m.group(1)) for m in dmy)
    second = max(int(m.group(3)) for m in dmy)
    cols = [f for f in DATE_FIELDS if f in plan.fields]
    if first <= 12 and second <= 12:
        # Undecided in the sample: look at the whole of every date column.
        parts = " union all ".join(
            f"select regexp_extract(trim(c{plan.fields[f]}), '{DMY_SQL}', ['a', 'b']) as p "
            "from {src}"
            for f in cols
        )
        [(first, second)] = _scan(
            con, plan, f"select max(try_cast(p.a as int)), max(try_cast(p.b as int)) from ({parts})"
        )
        first, second = first or 0, second or 0
    where = f"{plan.source.path}: rule ambiguous_date_format"
    if first > 12 and second > 12:
        raise IngestError(
            f"{where}: some dates have the day first and others the month first "
            f"(in {', '.join(cols)}); fix the export or give date_format in a mapping file"
        )
    if first <= 12 and second <= 12:
        example = dmy[0].group(0)
        raise IngestError(
            f"{where}: every date in {', '.join(cols)} looks like {example} with both day and "
            "month ≤ 12, so their order cannot be told from the data; give it in a mapping "
            f'file: date_format = "%d{sep}%m{sep}{year}" (day first) or '
            f'"%m{sep}%d{sep}{year}" (month first)'
        )
    return f"%d{sep}%m{sep}{year}" if first > 12 else f"%m{sep}%d{sep}{year}"


COMMA_DECIMAL = re.compile(r",\d{1,2}$|,\d{4,}$|\.\d{3},|\d[\s\u00a0\u202f']\d{3},")
DOT_DECIMAL = re.compile(r"\.\d{1,2}$|\.\d{4,}$|,\d{3}\.")
GROUPED = re.compile(r"\d[\s\u00a0\u202f',.]\d{3}(?!\d)")


def _detect_decimal(con: duckdb.DuckDBPyConnection, plan: Plan) -> tuple[str, bool]:
    values = [v.strip("€$£ ") for v in _sample_values(plan, AMOUNT_FIELDS)]
    comma = sum(bool(COMMA_DECIMAL.search(v)) for v in values)
    dot = sum(bool(DOT_DECIMAL.search(v)) for v in values)
    grouped = any(GROUPED.search(v) for v in values)
    if comma and comma == dot:
        raise IngestError(
            f"{plan.source.path}: rule ambiguous_decimal_mark: as many amounts use ',' as '.' "
            "for decimal mark; give decimal_mark in a mapping file"
        )
    # The mark most amounts use wins; amounts written the other way are rejected (bad_amount).
    if comma > dot:
        return ",", True
    if dot or not any("," in v for v in values):
        return ".", grouped
    # Only values like 1,234: a thousands comma or a decimal one? Look at the whole file.
    cols = [f for f in AMOUNT_FIELDS if f in plan.fields]
    checks = " + ".join(
        f"count(*) filter (where regexp_matches(trim(c{plan.fields[f]}), ',\\d{{1,2}}$'))"
        for f in cols
    )
    [(evidence,)] = _scan(con, plan, f"select {checks} from {{src}}")
    if evidence:
        return ",", True
    raise IngestError(
        f"{plan.source.path}: rule ambiguous_decimal_mark: amounts such as {values[0]} could use "
        "',' as thousands separator or as decimal mark; give decimal_mark in a mapping file"
    )


# --------------------------------------------------------------------------- SQL building


def _q(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class _Sql:
    """Expressions that turn a plan's raw text fields into typed values."""

    def __init__(self, plan: Plan, load_date: date | None) -> None:
        self.plan, self.load_date = plan, load_date
        self.section = plan.section

    def has(self, name: str) -> bool:
        return name in self.plan.fields or bool(self.section and name in self.section.constants)

    def text(self, name: str) -> str:
        """The field's text after the mapping's value map and constants."""
        if name not in self.plan.fields:
            if self.section and name in self.section.constants:
                return _q(self.section.constants[name])
            return "null::varchar"
        values = self.section.values.get(name) if self.section else None
        if not values:
            return name
        cases = " ".join(f"when {_q(k)} then {_q(v)}" for k, v in values.items())
        return f"(case trim({name}) {cases} else {name} end)"

    def date(self, name: str) -> str:
        text = self.text(name)
        if self.plan.date_format == "iso":
            return f"try_cast({text} as date)"
        return f"try_strptime(trim({text}), {_q(self.plan.date_format)})::date"

    def amount(self, name: str) -> str:
        text = self.text(name)
        if self.plan.decimal_mark == "." and not self.plan.grouped:
            return f"try_cast({text} as decimal(18, 2))"
        group = "[ .\u00a0\u202f']" if self.plan.decimal_mark == "," else "[ ,\u00a0\u202f']"
        mark = "[,]" if self.plan.decimal_mark == "," else "[.]"
        symbol = _q(r"^[€$£]\s*|\s*[€$£]$")
        clean = f"regexp_replace(trim({text}), {symbol}, '', 'g')"
        shape = _q(rf"[-+]?(\d{{1,3}}({group}\d{{3}})+|\d+)({mark}\d+)?")
        number = f"replace(regexp_replace({clean}, {_q(group)}, '', 'g'), ',', '.')"
        return (
            f"(case when regexp_full_match({clean}, {shape}) "
            f"then try_cast({number} as decimal(18, 2)) end)"
        )

    @property
    def date_hint(self) -> str:
        fmt = self.plan.date_format
        return "YYYY-MM-DD" if fmt == "iso" else fmt

    def future(self, expr: str) -> str:
        if self.load_date is None:
            return "false"
        return f"coalesce({expr} > date '{self.load_date.isoformat()}', false)"


def _flag(expr: str) -> str:
    """1 for a yes word, 0 for a no word (or empty), null otherwise. A `case` on the value:
    `in (...)` lists are planned as joins, several times slower on 10M rows."""
    yes = " ".join(f"when '{w}' then 1" for w in TRUE_WORDS)
    no = " ".join(f"when '{w}' then 0" for w in FALSE_WORDS)
    return f"(case lower(trim(coalesce({expr}, ''))) {yes} {no} end)"


def _wrong_width(plan: Plan) -> tuple[str, str]:
    width = len(plan.source.columns)
    return (
        f"n_fields is not null and n_fields <> {width}",
        f"'row has ' || n_fields || ' fields, the header has {width}'",
    )


class _Rules:
    """Rule and message columns from (condition, rule, message) in order: the first condition
    that holds names the rule. Each condition is evaluated once, into rule_no (in `source`, a
    subquery over `typed`); the message is built only for the rows rejected."""

    def __init__(self, pairs: list[tuple[str, str, str]]) -> None:
        self.pairs = pairs

    @property
    def source(self) -> str:
        number = "\n".join(f"when {c} then {i}" for i, (c, _, _) in enumerate(self.pairs, 1))
        return f"(select *, case {number} end as rule_no from typed)"

    def __str__(self) -> str:
        names = ", ".join(f"'{r}'" for _, r, _ in self.pairs)
        message = "\n".join(f"when {i} then {m}" for i, (_, _, m) in enumerate(self.pairs, 1))
        return f"[{names}][rule_no] as rule, case rule_no {message} end as message"


def _rules(pairs: list[tuple[str, str, str]]) -> _Rules:
    return _Rules(pairs)


def _duplicate_rule(name: str, column: str) -> tuple[str, str, str]:
    """The duplicate_key rule: a key seen on an earlier line of the same file (first row wins)."""
    return (
        "repeated",
        "duplicate_key",
        f"'{name} ' || {column} || ' appears earlier in the file, line ' || first_line",
    )


def _duplicates(rows: str, key: str) -> str:
    """CTE `dup`: keys found on several rows of the load, with their first line. Hash
    aggregates: much cheaper than numbering rows within each key on 10M rows; the keys' 64-bit
    hashes are grouped first (a quarter cheaper than grouping 10M strings), and only the few
    keys whose hash repeats are grouped exactly."""
    return (
        f"dup_hash as (select hash({key}) as h from {rows} "
        f"where {key} is not null group by h having count(*) > 1), "
        f"dup as (select {key} as k, min(line) as first_line from {rows} "
        f"where {key} is not null and hash({key}) in (select h from dup_hash) "
        f"group by {key} having count(*) > 1)"
    )


def _check_customers(plan: Plan, s: _Sql) -> str:
    wide, wide_msg = _wrong_width(plan)
    terms = s.text("payment_terms_days")
    rules = _rules(
        [
            (wide, "wrong_field_count", wide_msg),
            ("customer_id is null", "required_value", "'customer_id is empty'"),
            (
                f"terms is null and {terms} is not null",
                "bad_number",
                f"'payment_terms_days is not a whole number: ' || {terms}",
            ),
            (
                "terms < 0 or terms > 365",
                "absurd_value",
                f"'payment_terms_days outside 0..365: ' || {terms}",
            ),
            _duplicate_rule("customer_id", "customer_id"),
        ]
    )
    return f"""
        with rows as not materialized ({_raw_rows(plan)}),
        {_duplicates("rows", "customer_id")},
        typed as (
            select r.*,
                try_cast({terms} as integer) as terms,
                coalesce(r.line > dup.first_line, false) as repeated,
                dup.first_line
            from rows as r left join dup on dup.k = r.customer_id
        )
        select line, customer_id, name, country, segment, terms, preferred_channel, collector,
            {rules}
        from {rules.source}
    """


def _check_invoices(plan: Plan, s: _Sql) -> str:
    wide, wide_msg = _wrong_width(plan)
    hint = s.date_hint
    section = plan.section
    join = ""
    if "due_date" in plan.fields:
        due = s.date("due_date")
        due_text = s.text("due_date")
    elif section and section.due_days is not None:
        due, due_text = f"issue + {section.due_days}", "'(derived)'"
    elif "payment_terms_days" in plan.fields:
        due = f"issue + try_cast({s.text('payment_terms_days')} as integer)"
        due_text = (
            "'(issue date + payment_terms_days: ' || coalesce(payment_terms_days, 'empty') || ')'"
        )
    else:  # due_from_terms with the customer's terms
        join = (
            "left join (select customer_id as terms_of, payment_terms_days as customer_terms "
            "from staging.customers) as sc on sc.terms_of = r.customer_id"
        )
        due = "issue + customer_terms"
        due_text = "'(no payment terms for customer ' || customer_id || ')'"
    disputed = s.text("disputed") if s.has("disputed") else "'0'"
    currency = s.text("currency")
    settled, paid = s.has("settled_date"), s.has("paid_amount")
    rules = [
        (wide, "wrong_field_count", wide_msg),
        (
            "invoice_id is null or customer_id is null",
            "required_value",
            "'invoice_id and customer_id are required'",
        ),
        (
            "issue is null",
            "bad_date",
            f"'issue_date is not a date ({hint}): ' || coalesce({s.text('issue_date')}, '(empty)')",
        ),
        (
            "due is null",
            "bad_date",
            f"'due_date is not a date ({hint}): ' || coalesce({due_text}, '(empty)')",
        ),
        (
            "amt is null",
            "bad_amount",
            f"'amount is not a number (decimal mark ''{plan.decimal_mark}''): ' || coalesce({s.text('amount')}, '(empty)')",
        ),
        (
            "not (is_disputed or is_undisputed)",
            "bad_flag",
            f"'disputed is not yes/no: ' || {disputed}",
        ),
        (
            f"dispute_opened is null and {s.text('dispute_opened_date')} is not null",
            "bad_date",
            f"'dispute_opened_date is not a date ({hint}): ' || {s.text('dispute_opened_date')}",
        ),
        (
            f"{s.text('currency')} is not null and not regexp_full_match(upper(trim({currency})), '[A-Z]{{3}}')",
            "bad_currency",
            f"'currency is not a 3-letter code: ' || {currency}",
        ),
    ]
    if settled:
        rules.append(
            (
                f"settled is null and {s.text('settled_date')} is not null",
                "bad_date",
                f"'settled_date is not a date ({hint}): ' || {s.text('settled_date')}",
            )
        )
    if paid:
        rules.append(
            (
                f"paid is null and {s.text('paid_amount')} is not null",
                "bad_amount",
                f"'paid_amount is not a number: ' || {s.text('paid_amount')}",
            )
        )
    rules += [
        (
            "due < issue",
            "due_before_issue",
            "'due_date ' || due || ' is before issue_date ' || issue",
        ),
        (
            f"abs(amt) >= {MAX_AMOUNT:.0f} or issue < date '{EARLIEST_DATE}' "
            f"or due - issue > {MAX_TERMS_DAYS}",
            "absurd_value",
            f"case when abs(amt) >= {MAX_AMOUNT:.0f} then 'amount is absurd: ' || amt "
            f"when issue < date '{EARLIEST_DATE}' then 'issue_date before {EARLIEST_DATE}: ' || issue "
            f"else 'due_date ' || (due - issue) || ' days after issue_date (more than {MAX_TERMS_DAYS})' end",
        ),
        (
            f"{s.future('issue')} or {s.future('dispute_opened')} or {s.future('settled')}",
            "future_date",
            f"'a date is after the load date {s.load_date}: issue ' || issue"
            " || coalesce(', settled ' || settled, '') || coalesce(', dispute opened ' || dispute_opened, '')",
        ),
    ]
    if settled:
        rules += [
            (
                "settled < issue",
                "settled_before_issue",
                "'settled_date ' || settled || ' is before issue_date ' || issue",
            ),
            (
                "settled is not null and paid is not null and paid <= 0 and amt > 0",
                "non_positive_payment",
                "'paid_amount must be positive: ' || paid",
            ),
            (
                "settled is not null and paid is not null and amt > 0 and paid > amt",
                "overpayment",
                "'paid_amount ' || paid || ' exceeds the invoice amount ' || amt",
            ),
        ]
    rules.append(_duplicate_rule("invoice_id", "invoice_id"))
    return f"""
        with rows as not materialized ({_raw_rows(plan)}),
        {_duplicates("rows", "invoice_id")},
        typed as (
            select r.*,
                {s.date("issue_date")} as issue,
                {due} as due,
                {s.amount("amount")} as amt,
                {s.date("dispute_opened_date")} as dispute_opened,
                {s.date("settled_date")} as settled,
                {s.amount("paid_amount")} as paid,
                upper(trim({currency})) as cur,
                coalesce({_flag(disputed)} = 1, false) as is_disputed,
                coalesce({_flag(disputed)} = 0, false) as is_undisputed,
                coalesce(r.line > dup.first_line, false) as repeated,
                dup.first_line
            from rows as r {join}
            left join dup on dup.k = r.invoice_id
        )
        select line, invoice_id, customer_id, issue, due, amt, cur, is_disputed,
            dispute_opened, settled, paid, customer_name, {_rules(rules)}
        from {_rules(rules).source}
    """


def _check_payments(plan: Plan, s: _Sql) -> str:
    wide, wide_msg = _wrong_width(plan)
    hint = s.date_hint
    pid = (
        "r.payment_id"
        if "payment_id" in plan.fields
        else "r.invoice_id || '/' || r.payment_date || '/' || r.amount || '/' || "
        "row_number() over (partition by r.invoice_id, r.payment_date, r.amount order by r.line)"
    )
    rules = _rules(
        [
            (wide, "wrong_field_count", wide_msg),
            (
                "pid is null or invoice_id is null",
                "required_value",
                "'payment_id and invoice_id are required'",
            ),
            (
                "paid_on is null",
                "bad_date",
                f"'payment_date is not a date ({hint}): ' || coalesce({s.text('payment_date')}, '(empty)')",
            ),
            (
                "amt is null",
                "bad_amount",
                f"'amount is not a number (decimal mark ''{plan.decimal_mark}''): ' || coalesce({s.text('amount')}, '(empty)')",
            ),
            ("amt <= 0", "non_positive_payment", "'payment amount must be positive: ' || amt"),
            (
                f"amt >= {MAX_AMOUNT:.0f} or paid_on < date '{EARLIEST_DATE}'",
                "absurd_value",
                "'absurd amount or date: ' || amt || ' on ' || paid_on",
            ),
            (
                s.future("paid_on"),
                "future_date",
                f"'payment_date ' || paid_on || ' is after the load date {s.load_date}'",
            ),
            _duplicate_rule("payment_id", "pid"),
        ]
    )
    # Read twice (duplicates, checks): not copied first unless the id is numbered.
    materialized = "not materialized" if "payment_id" in plan.fields else "materialized"
    return f"""
        with ided as {materialized} (
            select r.*, {pid} as pid from ({_raw_rows(plan)}) as r
        ),
        {_duplicates("ided", "pid")},
        typed as (
            select r.*,
                {s.date("payment_date")} as paid_on,
                {s.amount("amount")} as amt,
                coalesce(r.line > dup.first_line, false) as repeated,
                dup.first_line,
                i.known_id is not null as invoice_known,
                i.invoice_amount
            from ided as r
            left join (select invoice_id as known_id, amount as invoice_amount
                       from staging.invoices) as i
                on i.known_id = r.invoice_id
            left join dup on dup.k = r.pid
        ),
        checked as (
            select line, pid, invoice_id, paid_on, amt, invoice_known, invoice_amount, {rules}
            from {rules.source}
        )
        select *,
            case when rule is null then if(invoice_known, 'loaded', 'pending') end as status
        from checked
    """


def _check_promises(plan: Plan, s: _Sql) -> str:
    wide, wide_msg = _wrong_width(plan)
    hint = s.date_hint
    # Without promise_id: one promise per invoice and day made (a second one is a duplicate).
    made = s.date("promised_on")
    pid = (
        "r.promise_id"
        if "promise_id" in plan.fields
        else f"r.invoice_id || '/' || coalesce(({made})::varchar, r.promised_on, '')"
    )
    amount = s.text("amount")
    rules = _rules(
        [
            (wide, "wrong_field_count", wide_msg),
            (
                "pid is null or invoice_id is null",
                "required_value",
                "'promise_id and invoice_id are required'",
            ),
            (
                "made is null",
                "bad_date",
                f"'promised_on is not a date ({hint}): ' || coalesce({s.text('promised_on')}, '(empty)')",
            ),
            (
                "promised is null",
                "bad_date",
                f"'promised_date is not a date ({hint}): ' || coalesce({s.text('promised_date')}, '(empty)')",
            ),
            (
                f"amt is null and {amount} is not null",
                "bad_amount",
                f"'amount is not a number (decimal mark ''{plan.decimal_mark}''): ' || {amount}",
            ),
            ("amt <= 0", "non_positive_amount", "'promised amount must be positive: ' || amt"),
            (
                "promised < made",
                "promised_before_made",
                "'promised_date ' || promised || ' is before promised_on ' || made",
            ),
            (
                f"amt >= {MAX_AMOUNT:.0f} or made < date '{EARLIEST_DATE}' "
                f"or promised - made > {MAX_TERMS_DAYS}",
                "absurd_value",
                f"case when amt >= {MAX_AMOUNT:.0f} then 'amount is absurd: ' || amt "
                f"when made < date '{EARLIEST_DATE}' then 'promised_on before {EARLIEST_DATE}: ' || made "
                f"else 'promised_date ' || (promised - made) || ' days after promised_on (more than {MAX_TERMS_DAYS})' end",
            ),
            (
                # The promised date itself may be in the future: that is what a promise is.
                s.future("made"),
                "future_date",
                f"'promised_on ' || made || ' is after the load date {s.load_date}'",
            ),
            _duplicate_rule("promise_id", "pid"),
        ]
    )
    return f"""
        with ided as not materialized (
            select r.*, {pid} as pid from ({_raw_rows(plan)}) as r
        ),
        {_duplicates("ided", "pid")},
        typed as (
            select r.*,
                {made} as made,
                {s.date("promised_date")} as promised,
                {s.amount("amount")} as amt,
                coalesce(r.line > dup.first_line, false) as repeated,
                dup.first_line,
                i.known_id is not null as invoice_known
            from ided as r
            left join (select invoice_id as known_id from staging.invoices) as i
                on i.known_id = r.invoice_id
            left join dup on dup.k = r.pid
        )
        select line, pid, invoice_id, made, promised, amt, invoice_known, {rules}
        from {rules.source}
    """


_CHECKS = {
    "customers": _check_customers,
    "invoices": _check_invoices,
    "payments": _check_payments,
    "promises": _check_promises,
}


# --------------------------------------------------------------------------- loading


def _run(con: duckdb.DuckDBPyConnection, sql: str, **params: object) -> list[tuple]:
    used = {k: v for k, v in params.items() if f"${k}" in sql}
    return con.execute(sql, used or None).fetchall()


def _load(con: duckdb.DuckDBPyConnection, plan: Plan, load_date: date | None) -> LoadResult:
    source, kind = plan.source, plan.kind
    seen = _run(
        con,
        "select load_id, rows_read, rows_loaded, rows_rejected, coalesce(rows_pending, 0) "
        "from loads where kind = $k and file_hash = $h and finished_at is not null "
        "and mapping_hash is not distinct from $m order by load_id limit 1",
        k=kind,
        h=source.file_hash,
        m=plan.mapping_hash,
    )
    if seen:
        load_id, read, loaded, rejected, pending = seen[0]
        return LoadResult(
            source.path,
            kind,
            read,
            loaded,
            rejected,
            skipped=True,
            rows_pending=pending,
            load_id=load_id,
            source_format=plan.describe,
        )

    [(load_id,)] = _run(con, "select nextval('load_id_seq')")
    params = {"id": load_id, "f": str(source.path)}
    _run(
        con,
        "insert into loads (load_id, kind, file_name, file_hash, mapping_hash, mapping_file, "
        "source_format, load_date, started_at) values ($id, $k, $f, $h, $m, $mf, $fmt, $d, $t)",
        **params,
        k=kind,
        h=source.file_hash,
        m=plan.mapping_hash,
        mf=plan.mapping_file,
        fmt=plan.describe,
        d=load_date,
        t=datetime.now(),
    )
    if not source.table:
        _number_rows(con, plan)
    columns = ", ".join(FIELDS[kind])
    [(forced,)] = _run(con, "select current_setting('force_compression')")
    # raw.* is written once and read only to audit a load: zstd keeps it small (the file name
    # repeated on every row costs nothing) for less CPU than DuckDB's default string compression.
    con.execute(f"set force_compression = {_q(RAW_COMPRESSION)}")
    _run(
        con,
        f"insert into raw.{kind} (load_id, source_file, line, {columns}, n_fields) "
        f"{_raw_rows(plan)}",
        **params,
    )  # (on failure, ingest_files restores the setting after the rollback)
    con.execute(f"set force_compression = {_q(forced)}")
    sql = _Sql(plan, load_date)
    _run(con, f"create or replace temp table checked as {_CHECKS[kind](plan, sql)}", **params)

    counts = _UPSERT[kind](con, plan, load_id)
    _run(
        con,
        """
        insert into rejects (load_id, file_name, line, rule, message, row_text)
        select $id, $f, line, rule, message, null from checked where rule is not null
        """,
        **params,
    )
    by_rule = _run(
        con,
        "select rule, count(*) from checked where rule is not null group by rule order by 2 desc",
    )
    if by_rule:
        _fill_row_text(con, plan, load_id)
    examples = _run(
        con,
        "select 'line ' || line || ' [' || rule || '] ' || message from checked "
        "where rule is not null order by line limit 5",
    )
    [(read, rejected, pending)] = _run(
        con,
        "select count(*), count(*) filter (where rule is not null), "
        "count(*) filter (where rule is null and status = 'pending') from checked",
    )
    loaded = read - rejected - pending
    _run(
        con,
        """
        update loads set rows_read = $r, rows_loaded = $l, rows_rejected = $j, rows_pending = $p,
            rows_updated = $u, rows_unchanged = $n, payments_derived = $dv,
            payments_matched = $mt, promises_matched = $pm, finished_at = $t
        where load_id = $id
        """,
        r=read,
        l=loaded,
        j=rejected,
        p=pending,
        u=counts.get("updated", 0),
        n=counts.get("unchanged", 0),
        dv=counts.get("derived", 0),
        mt=counts.get("matched", 0),
        pm=counts.get("promises_matched", 0),
        t=datetime.now(),
        id=load_id,
    )
    _run(con, "drop table temp.checked")
    if plan.work_table:
        _run(con, f"drop table {plan.work_table}")
        plan.work_table = None
    return LoadResult(
        source.path,
        kind,
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
        load_id=load_id,
        source_format=plan.describe + "".join(f"; {n}" for n in plan.notes),
        rejects_by_rule=tuple((r, n) for r, n in by_rule),
        reject_examples=tuple(e for (e,) in examples),
    )


def _raw_rows(plan: Plan) -> str:
    """The file's rows as they land in raw.<kind> (latepay's field names, text), read from the
    table the file was read into: the checks read them from there, not back from raw."""
    fields = ", ".join(
        f"c{plan.fields[c]} as {c}" if c in plan.fields else f"null::varchar as {c}"
        for c in FIELDS[plan.kind]
    )
    return f"select $id as load_id, $f as source_file, line, {fields}, n_fields from {_rows(plan)}"


def _rows(plan: Plan) -> str:
    """The file's rows (line, c0.., n_fields): the table they were read into for this load."""
    return plan.work_table or plan.source.relation


def _number_rows(con: duckdb.DuckDBPyConnection, plan: Plan) -> None:
    """Read a CSV with DuckDB's parallel reader into a temp table, numbering rows in file order
    (the one statement that needs insertion order), then check that rows are lines."""
    source = plan.source
    table = f"_rows_{abs(hash(str(source.path)))}"
    con.execute("set preserve_insertion_order = true")
    try:
        [(rows,)] = _run(
            con,
            f"create or replace temp table {table} as "
            f"select *, null::integer as n_fields from {source.relation}",
        )
    except duckdb.Error as exc:  # DuckDB's reader refused a row: the transaction is lost
        raise _ReadRowByRow(plan) from exc  # (ingest_files resets the setting)
    con.execute("set preserve_insertion_order = false")
    if rows + 1 != source.newlines:
        # Rows do not map one-to-one to lines (multi-line fields, blank lines): the line
        # numbers would be wrong. Read the file row by row instead.
        _run(con, f"drop table {table}")
        _read_row_by_row(con, plan)
        return
    plan.work_table = table


def _fill_row_text(con: duckdb.DuckDBPyConnection, plan: Plan, load_id: int) -> None:
    """The rejected rows' original fields, joined by the file's separator (re-read for them)."""
    sep = plan.source.delimiter if plan.source.file_type == "csv" else ","
    fields = ", ".join(f"coalesce(c{i}, '')" for i in range(len(plan.source.columns)))
    _run(
        con,
        f"""
        update rejects set row_text = src.row_text
        from (
            select line, concat_ws({_q(sep)}, {fields}) as row_text
            from {_rows(plan)}
            where line in (select line from checked where rule is not null)
        ) as src
        where rejects.load_id = $id and rejects.line = src.line
        """,
        id=load_id,
    )


def _classify(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, int]:
    return dict(_run(con, f"select change, count(*) from {table} group by change"))


def _upsert_customers(con: duckdb.DuckDBPyConnection, plan: Plan, load_id: int) -> dict[str, int]:
    _run(
        con,
        """
        create or replace temp table upsert as
        select c.customer_id, c.name, c.country, c.segment, c.terms as payment_terms_days,
            c.preferred_channel, coalesce(c.collector, 'unassigned') as collector,
            case
                when s.customer_id is null then 'new'
                when s.name is not distinct from c.name
                    and s.country is not distinct from c.country
                    and s.segment is not distinct from c.segment
                    and s.payment_terms_days is not distinct from c.terms
                    and s.preferred_channel is not distinct from c.preferred_channel
                    and s.collector is not distinct from coalesce(c.collector, 'unassigned')
                    then 'unchanged'
                else 'updated'
            end as change
        from checked as c left join staging.customers as s using (customer_id)
        where c.rule is null
        """,
    )
    _run(
        con,
        """
        insert or replace into staging.customers
        select customer_id, name, country, segment, payment_terms_days, preferred_channel,
            collector, $id
        from upsert where change <> 'unchanged'
        """,
        id=load_id,
    )
    _run(con, "alter table checked add column status varchar default 'loaded'")
    return _classify(con, "upsert")


def _upsert_invoices(con: duckdb.DuckDBPyConnection, plan: Plan, load_id: int) -> dict[str, int]:
    opened = "case when c.is_disputed then coalesce(c.dispute_opened, c.issue) end"
    # Only rows whose invoice_id is already in staging are compared (none on a first load).
    _run(
        con,
        f"""
        create or replace temp table existing as
        select c.invoice_id,
            s.customer_id = c.customer_id and s.issue_date = c.issue and s.due_date = c.due
                and s.amount = c.amt and s.currency is not distinct from c.cur
                and s.disputed = c.is_disputed
                and d.opened_date is not distinct from ({opened}) as same
        from checked as c
        join staging.invoices as s on s.invoice_id = c.invoice_id
        left join staging.disputes as d on d.invoice_id = c.invoice_id
        where c.rule is null
        """,
    )
    [(valid, unchanged, updated)] = _run(
        con,
        "select (select count(*) from checked where rule is null), "
        "count(*) filter (where same), count(*) filter (where not same) from existing",
    )
    counts = {"new": valid - unchanged - updated, "unchanged": unchanged, "updated": updated}
    if updated:
        # Versioned update: the version being replaced is kept, with the load that replaced it.
        _run(
            con,
            """
            insert into staging.invoice_versions
            select s.invoice_id, s.customer_id, s.issue_date, s.due_date, s.amount, s.currency,
                s.disputed, d.opened_date, s.load_id, $id
            from staging.invoices as s
            join existing as e on e.invoice_id = s.invoice_id and not e.same
            left join staging.disputes as d on d.invoice_id = s.invoice_id
            """,
            id=load_id,
        )
        _run(
            con,
            "delete from staging.invoices where invoice_id in "
            "(select invoice_id from existing where not same)",
        )
        _run(
            con,
            "delete from staging.disputes where invoice_id in "
            "(select invoice_id from existing where not same)",
        )
    name = "any_value(customer_name)" if "customer_name" in plan.fields else "null"
    _run(
        con,
        f"""
        insert into staging.customers
        select customer_id, {name}, null, null, null, null, 'unassigned', $id
        from checked
        where rule is null
          and customer_id not in (select customer_id from staging.customers)
        group by customer_id
        """,
        id=load_id,
    )
    changed = "rule is null" + (
        " and invoice_id not in (select invoice_id from existing where same)" if unchanged else ""
    )
    _run(
        con,
        f"""
        insert into staging.invoices
        select invoice_id, customer_id, issue, due, amt, cur, is_disputed, $id
        from checked where {changed}
        """,
        id=load_id,
    )
    _run(
        con,
        f"""
        insert into staging.disputes
        select invoice_id, {opened.replace("c.", "")} from checked where {changed} and is_disputed
        """,
    )
    if "settled_date" in plan.fields:
        counts["derived"] = _derive_payments(con, load_id)
    counts["matched"] = _match_pending(con, "payments")
    counts["promises_matched"] = _match_pending(con, "promises")
    _run(con, "alter table checked add column status varchar default 'loaded'")
    return counts


def _derive_payments(con: duckdb.DuckDBPyConnection, load_id: int) -> int:
    """Invoice rows that carry a settlement date (and maybe the amount paid) become payments,
    payment_id = invoice_id || '#settlement'; a row whose settlement date disappeared removes it."""
    _run(
        con,
        f"""
        create or replace temp table derived as
        select invoice_id || '{SETTLEMENT_SUFFIX}' as payment_id, invoice_id,
            settled as payment_date, coalesce(paid, amt) as amount
        from checked where rule is null and settled is not null and amt > 0
        """,
    )
    [(derived,)] = _run(
        con,
        """
        select count(*) from derived as d
        left join staging.payments as p using (payment_id)
        where p.payment_id is null or p.payment_date <> d.payment_date or p.amount <> d.amount
        """,
    )
    _run(
        con,
        f"""
        delete from staging.payments where payment_id in (
            select invoice_id || '{SETTLEMENT_SUFFIX}' from checked where rule is null)
        """,
    )
    _run(
        con,
        "insert into staging.payments select payment_id, invoice_id, payment_date, amount, $id "
        "from derived",
        id=load_id,
    )
    return derived


# What waits in staging.pending_<kind> for its invoice: key and columns of staging.<kind>.
_PENDING = {
    "payments": ("payment_id", "payment_id, invoice_id, payment_date, amount, load_id"),
    "promises": (
        "promise_id",
        "promise_id, invoice_id, promised_on, promised_date, amount, load_id",
    ),
}


def _match_pending(con: duckdb.DuckDBPyConnection, kind: str) -> int:
    """Payments or promises that waited for their invoice move to staging.<kind> once it is
    there; returns how many moved."""
    key, columns = _PENDING[kind]
    arrived = "invoice_id in (select invoice_id from staging.invoices)"
    [(waiting,)] = _run(con, f"select count(*) from staging.pending_{kind} where {arrived}")
    if waiting:
        _run(
            con,
            f"delete from staging.{kind} where {key} in "
            f"(select {key} from staging.pending_{kind} where {arrived})",
        )
        _run(
            con,
            f"insert into staging.{kind} select {columns} from staging.pending_{kind} "
            f"where {arrived}",
        )
        _run(con, f"delete from staging.pending_{kind} where {arrived}")
    return waiting


def _upsert_payments(con: duckdb.DuckDBPyConnection, plan: Plan, load_id: int) -> dict[str, int]:
    # Overpayment: a payment on an invoice already paid in full by earlier payments (or on a
    # credit note). Only invoices whose payments add up to more than their amount are examined:
    # the file's payments per invoice (the invoice amount came with the check), plus the
    # payments already in staging for those invoices.
    _run(
        con,
        """
        create or replace temp table overpaid as
        with candidate as not materialized (
            select pid as payment_id, invoice_id, paid_on as payment_date, amt as amount, line,
                invoice_amount
            from checked where status = 'loaded'
        ),
        earlier as (
            select p.payment_id, p.invoice_id, p.payment_date, p.amount
            from staging.payments as p
            where p.invoice_id in (select invoice_id from candidate)
              and p.payment_id not in (select payment_id from candidate)
        ),
        totals as (
            select invoice_id, sum(amount) as paid, any_value(invoice_amount) as invoice_amount
            from candidate group by invoice_id
        ),
        suspects as (
            select t.invoice_id, t.invoice_amount
            from totals as t
            left join (select invoice_id, sum(amount) as paid from earlier group by invoice_id)
                as e using (invoice_id)
            where t.paid + coalesce(e.paid, 0) > t.invoice_amount
        ),
        everything as (
            select payment_id, invoice_id, payment_date, amount, line from candidate
            union all
            select payment_id, invoice_id, payment_date, amount, null from earlier
        ),
        ordered as (
            select e.*, s.invoice_amount,
                coalesce(sum(e.amount) over (
                    partition by e.invoice_id order by e.payment_date, e.payment_id
                    rows between unbounded preceding and 1 preceding), 0) as paid_before
            from everything as e join suspects as s using (invoice_id)
        )
        select line, invoice_id, invoice_amount, paid_before from ordered
        where line is not null and (invoice_amount <= 0 or paid_before >= invoice_amount)
        """,
    )
    _run(
        con,
        """
        update checked set rule = 'overpayment', status = null,
            message = 'invoice ' || o.invoice_id || ' (amount ' || o.invoice_amount
                || ') was already paid in full (' || o.paid_before || ') before this payment'
        from overpaid as o where checked.line = o.line
        """,
    )
    _run(
        con,
        """
        create or replace temp table existing as
        select c.pid as payment_id,
            s.invoice_id = c.invoice_id and s.payment_date = c.paid_on and s.amount = c.amt as same
        from checked as c join staging.payments as s on s.payment_id = c.pid
        where c.status = 'loaded'
        """,
    )
    [(valid, unchanged, updated)] = _run(
        con,
        "select (select count(*) from checked where status = 'loaded'), "
        "count(*) filter (where same), count(*) filter (where not same) from existing",
    )
    if updated:
        _run(
            con,
            "delete from staging.payments where payment_id in "
            "(select payment_id from existing where not same)",
        )
    changed = "status = 'loaded'" + (
        " and pid not in (select payment_id from existing where same)" if unchanged else ""
    )
    _run(
        con,
        f"""
        insert into staging.payments
        select pid, invoice_id, paid_on, amt, $id from checked where {changed}
        """,
        id=load_id,
    )
    _run(
        con,
        """
        delete from staging.pending_payments
        where payment_id in (select pid from checked where status = 'loaded')
        """,
    )
    _run(
        con,
        """
        insert or replace into staging.pending_payments
        select pid, invoice_id, paid_on, amt, $id, $f, line from checked where status = 'pending'
        """,
        id=load_id,
        f=str(plan.source.path),
    )
    return {"new": valid - unchanged - updated, "unchanged": unchanged, "updated": updated}


def _upsert_promises(con: duckdb.DuckDBPyConnection, plan: Plan, load_id: int) -> dict[str, int]:
    """Promises whose invoice is known go to staging.promises, the others wait in
    staging.pending_promises. A promise re-sent with another date or amount is a new version:
    the replaced one is kept in staging.promise_versions (a moved promise is a broken one)."""
    _run(con, "alter table checked add column status varchar")
    _run(
        con,
        "update checked set status = case when invoice_known then 'loaded' else 'pending' end "
        "where rule is null",
    )
    _run(
        con,
        """
        create or replace temp table existing as
        select c.pid as promise_id,
            s.invoice_id = c.invoice_id and s.promised_on = c.made
                and s.promised_date = c.promised and s.amount is not distinct from c.amt as same
        from checked as c join staging.promises as s on s.promise_id = c.pid
        where c.status = 'loaded'
        """,
    )
    [(valid, unchanged, updated)] = _run(
        con,
        "select (select count(*) from checked where status = 'loaded'), "
        "count(*) filter (where same), count(*) filter (where not same) from existing",
    )
    if updated:
        _run(
            con,
            """
            insert into staging.promise_versions
            select s.promise_id, s.invoice_id, s.promised_on, s.promised_date, s.amount,
                s.load_id, $id
            from staging.promises as s
            join existing as e on e.promise_id = s.promise_id and not e.same
            """,
            id=load_id,
        )
        _run(
            con,
            "delete from staging.promises where promise_id in "
            "(select promise_id from existing where not same)",
        )
    changed = "status = 'loaded'" + (
        " and pid not in (select promise_id from existing where same)" if unchanged else ""
    )
    _run(
        con,
        f"""
        insert into staging.promises
        select pid, invoice_id, made, promised, amt, $id from checked where {changed}
        """,
        id=load_id,
    )
    _run(
        con,
        "delete from staging.pending_promises "
        "where promise_id in (select pid from checked where status = 'loaded')",
    )
    _run(
        con,
        """
        insert or replace into staging.pending_promises
        select pid, invoice_id, made, promised, amt, $id, $f, line from checked
        where status = 'pending'
        """,
        id=load_id,
        f=str(plan.source.path),
    )
    return {"new": valid - unchanged - updated, "unchanged": unchanged, "updated": updated}


_UPSERT = {
    "customers": _upsert_customers,
    "invoices": _upsert_invoices,
    "payments": _upsert_payments,
    "promises": _upsert_promises,
}
