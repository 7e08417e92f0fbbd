"""Planning a file, without writing anything: read its head, map its columns to latepay fields,
tell which table it holds and that its required columns are there, detect its formats.

A file that cannot be loaded at all (empty, not a table, a required column missing, ambiguous
dates) raises `IngestError` here, naming the file and the rule, before anything is written.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date
from functools import partial
from pathlib import Path

import duckdb

from pipelines.ingest import headers
from pipelines.ingest.formats import AmbiguousFormat, detect_date_format, detect_decimal
from pipelines.ingest.mapping import BUSINESS_TIMEZONE, FIELDS, Mapping, Section
from pipelines.ingest.readers import ReadError, Source, hash_and_prepare, materialize_csv, sniff

REQUIRED: dict[str, tuple[str, ...]] = {
    "customers": ("customer_id",),
    "invoices": ("invoice_id", "customer_id", "issue_date", "due_date", "amount"),
    "payments": ("invoice_id", "payment_date", "amount"),
    # Without promise_id, a promise is keyed by invoice and the day it was made.
    "promises": ("invoice_id", "promised_on", "promised_date"),
    # Without action_id, an action is keyed by customer, invoice, date, action and rank.
    "actions": ("customer_id", "action_date", "action"),
}


class IngestError(ValueError):
    """A file (or the whole ingest) that cannot be loaded: the message names file and rule."""


ID_FIELDS = ("invoice_id", "customer_id", "payment_id", "promise_id", "action_id")


@dataclass
class Plan:
    """A file ready to load: where each latepay field is, and how to parse it."""

    source: Source
    kind: str
    section: Section | None
    fields: dict[str, int]  # field -> column index in the source
    date_format: str = "iso"  # "iso" or a strptime format
    decimal_mark: str = "."
    timezone: str = BUSINESS_TIMEZONE  # the business date of a timestamp with an offset
    grouped: bool = False  # amounts carry thousands separators
    mapping_hash: str | None = None
    mapping_file: str | None = None
    notes: list[str] = field(default_factory=list)
    work_table: str | None = None  # temp table of the rows in file order, during the load only
    first_rowid: int = 0  # the work table's first row's rowid (not 0 inside a transaction)
    # A collector's worklist workbook (workbook.py): its rows converted to actions, with the
    # outcome typed in column `outcome` and each sheet row's cells in `texts` (line, row_text)
    workbook: bool = False
    outcome: int | None = None  # column index of the outcome typed (workbook only)
    texts: str | None = None  # a relation (line, row_text): the sheet rows as read
    rows_left_empty: int = 0  # workbook rows without an outcome: not read
    # An open-items export (open_items.py): the date of the export, which is the load date
    open_items_date: date | None = None

    @property
    def describe(self) -> str:
        dates = "ISO dates" if self.date_format == "iso" else f"dates {self.date_format}"
        return f"{self.source.describe}, {dates}, decimal '{self.decimal_mark}'"

    @property
    def rows(self) -> str:
        """The file's rows (line, c0.., n_fields): the table they were read into for this load,
        in file order (`load.number_rows`: a row's line follows from its position, rowid)."""
        if self.work_table:
            line = f"rowid - {self.first_rowid} + {self.source.first_line}"
            return f"(select {line} as line, * from {self.work_table})"
        return self.source.relation

    @property
    def raw_rows(self) -> str:
        """The file's rows as they land in raw.<kind> (latepay's field names, text; parameters
        $id and $f: load id and file name), read from the table the file was read into: the
        checks read them from there, not back from raw."""
        return self.select_rows()

    def select_rows(self, extra: str = "") -> str:
        """`raw_rows`, with `extra` columns after n_fields (the checks' own, never landed)."""
        # Ids are trimmed here, once for every path (direct, pending, workbook): " C1 " is C1.
        fields = ", ".join(
            (
                f"nullif(trim(c{self.fields[c]}), '') as {c}"
                if c in ID_FIELDS
                else f"c{self.fields[c]} as {c}"
            )
            if c in self.fields
            else f"null::varchar as {c}"
            for c in FIELDS[self.kind]
        )
        extra = f", {extra}" if extra else ""
        return (
            f"select $id as load_id, $f as source_file, line, {fields}, n_fields{extra} "
            f"from {self.rows}"
        )


def plan_file(con: duckdb.DuckDBPyConnection, path: Path, mapping: Mapping | None) -> Plan:
    """Read the head of `path`, map its columns, detect its formats; nothing is written. A
    collector's worklist workbook is read whole and converted to actions (workbook.py)."""
    from pipelines.ingest.workbook import plan_workbook

    workbook = plan_workbook(con, path)
    if workbook is not None:
        return workbook
    section, source = _read_head(con, path, mapping)
    fields = map_columns(path, source.columns, section)
    kind = section.kind if section else detect_kind(path, source.columns, fields)
    if kind == "customers" and "customer_name" in fields and "name" not in fields:
        fields["name"] = fields.pop("customer_name")  # (Raison sociale: the customer's name)
    fields = {f: i for f, i in fields.items() if f in FIELDS[kind]}
    check_required(path, kind, source.columns, fields, section)

    plan = Plan(source, kind, section, fields)
    if said := read_as(source.columns, fields, section):
        plan.notes.append(said)
    if kind == "invoices" and "due_date" not in fields and "payment_terms_days" in fields:
        plan.notes.append("due dates from the payment terms (no due date column)")
    if section and section.timezone:
        plan.timezone = section.timezone
    if section:
        plan.mapping_hash = hashlib.sha256(section.text.encode()).hexdigest()[:16]
        plan.mapping_file = str(mapping.path) if mapping and mapping.path else None
    hash_and_prepare(source)
    scan = partial(scan_file, con, plan)
    try:
        plan.date_format = (section.date_format if section else None) or detect_date_format(
            plan, scan
        )
        if section and section.decimal_mark:
            plan.decimal_mark, plan.grouped = section.decimal_mark, True
        else:
            plan.decimal_mark, plan.grouped = detect_decimal(plan, scan)
    except AmbiguousFormat as exc:
        raise IngestError(str(exc)) from exc
    return plan


def _read_head(
    con: duckdb.DuckDBPyConnection, path: Path, mapping: Mapping | None
) -> tuple[Section | None, Source]:
    """The file sniffed, and the mapping section for it: the one whose `files` patterns match
    its name, else the one whose source columns its header holds most of."""
    sections = mapping.sections if mapping else {}
    section = next((s for s in sections.values() if s.matches_name(path)), None)
    try:
        source = sniff(con, path, sheet=section.sheet if section else None)
        if section is None and sections:
            section = _section_by_header(source.columns, sections)
        if section is None and source.file_type == "xlsx" and not _kind_of(path, source):
            source = _sheet_with_a_table(con, path, source)
        if section and (section.delimiter or section.encoding) and source.file_type == "csv":
            source = sniff(con, path, delimiter=section.delimiter, encoding=section.encoding)
    except ReadError as exc:
        raise IngestError(str(exc)) from exc
    return section, source


def _kind_of(path: Path, source: Source) -> str | None:
    """The kind of file `source`'s header says, or None."""
    try:
        return detect_kind(path, source.columns, map_columns(path, source.columns, None))
    except IngestError:
        return None


def _sheet_with_a_table(con: duckdb.DuckDBPyConnection, path: Path, first: Source) -> Source:
    """A workbook whose first sheet holds no table latepay reads (a summary, a cover): its
    first sheet that does, or the first one (its error then says what it found)."""
    from openpyxl import load_workbook

    book = load_workbook(path, read_only=True)
    names = book.sheetnames
    book.close()
    for name in names[1:]:
        try:
            source = sniff(con, path, sheet=name)
        except ReadError:
            continue
        if _kind_of(path, source):
            return source
    return sniff(con, path, sheet=names[0]) if len(names) > 1 else first


def _section_by_header(columns: list[str], sections: dict[str, Section]) -> Section | None:
    header = set(columns)
    scored = sorted(
        ((len(header & set(s.columns)), s) for s in sections.values()),
        key=lambda pair: -pair[0],
    )
    return scored[0][1] if scored and scored[0][0] > 0 else None


def map_columns(path: Path, columns: list[str], section: Section | None) -> dict[str, int]:
    """field -> column index: the mapping's columns, then the names latepay understands
    (headers.py: its own, specific names, names read in context, then generic words for a
    field no other column holds)."""
    mapped: dict[str, int] = {}
    by_mapping = section.columns if section else {}
    for i, name in enumerate(columns):
        if name in by_mapping:
            mapped[by_mapping[name]] = i
    taken = set(by_mapping.values())
    every = {f for names in FIELDS.values() for f in names}
    for i, name in enumerate(columns):
        target = headers.field_of(name, columns, every)
        if target and name not in by_mapping and target not in taken:
            if target in mapped:
                raise IngestError(
                    f"{path}: rule duplicate_column: two columns hold {target} "
                    f"({columns[mapped[target]]!r} and {name!r})"
                )
            mapped[target] = i
    for i, name in enumerate(columns):
        target = headers.GENERIC.get(headers.normal(name))
        if target and name not in by_mapping and target not in taken | set(mapped):
            mapped[target] = i
    return mapped


def read_as(columns: list[str], fields: dict[str, int], section: Section | None) -> str | None:
    """The columns read under another name than latepay's (not by the mapping), said: "columns
    read as: 'N° facture' invoice_id, ..."; None when there is none."""
    by_mapping = section.columns if section else {}
    named = [
        f"{columns[i]!r} {field}"
        for field, i in sorted(fields.items(), key=lambda item: item[1])
        if columns[i] not in by_mapping and headers.normal(columns[i]) != field
    ]
    return f"columns read as: {', '.join(named)}" if named else None


def detect_kind(path: Path, columns: list[str], fields: dict[str, int]) -> str:
    """Which table a file holds, from its (mapped) header."""
    names = set(fields)
    if {"action", "action_date"} <= names:
        return "actions"
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
        f"payments, promises or actions file; columns found: {', '.join(columns) or '(none)'}. Rename the columns "
        "to latepay's names or give a mapping file (--mapping)"
    )


def check_required(
    path: Path,
    kind: str,
    columns: list[str],
    fields: dict[str, int],
    section: Section | None,
) -> None:
    """Every required column of `kind` is in the file, a constant or derived (rule
    required_column)."""
    present = set(fields) | set(section.constants if section else ())
    if section and (section.due_days is not None or section.due_from_terms):
        present.add("due_date")
    if kind == "invoices" and "payment_terms_days" in fields:
        present.add("due_date")  # (without its column, derived from the row's terms)
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


# --------------------------------------------------------------------------- reading row by row


class ReadRowByRow(Exception):
    """DuckDB's CSV reader failed on a file: retry the ingest reading it with Python's csv."""

    def __init__(self, plan: Plan) -> None:
        super().__init__(str(plan.source.path))
        self.plan = plan


def read_row_by_row(con: duckdb.DuckDBPyConnection, plan: Plan) -> None:
    """Read a CSV with Python's csv module: exact line numbers, ragged rows kept to reject.
    DuckDB's parallel reader (the fast path) is used when it parses every row and gives as many
    rows as the file has lines after the header."""
    try:
        materialize_csv(con, plan.source, f"_src_{abs(hash(str(plan.source.path)))}")
    except ReadError as exc:  # e.g. bad_encoding: a late byte that is not UTF-8
        raise IngestError(str(exc)) from exc
    plan.notes.append("read row by row (multi-line fields, blank lines or ragged rows)")


def scan_file(con: duckdb.DuckDBPyConnection, plan: Plan, query: str) -> list[tuple]:
    """A detection query over the whole file (outside the load transaction); `{src}` in the
    query stands for the file's rows."""
    try:
        return con.execute(query.replace("{src}", plan.source.relation)).fetchall()
    except duckdb.Error:
        if plan.source.table:
            raise
        read_row_by_row(con, plan)
        return con.execute(query.replace("{src}", plan.source.relation)).fetchall()
