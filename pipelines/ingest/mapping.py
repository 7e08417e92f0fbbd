"""Column mapping files: how an accounting export's columns and values become latepay's.

A mapping file is TOML (YAML too when PyYAML happens to be installed), one section per latepay
table. Every key is optional; what is not given is detected from the data (see README, "Input
format"):

    [invoices]
    files = ["factures*.csv"]        # file-name patterns this section applies to
    delimiter = ";"                  # , ; tab |
    encoding = "cp1252"              # utf-8, cp1252, latin-1, utf-16
    date_format = "%d/%m/%Y"         # strptime format of every date column
    decimal_mark = ","               # "." or ","
    timezone = "America/New_York"    # the business date of timestamps with an offset
    sheet = "Factures"               # Excel sheet (default: the first)
    open_items = true                # invoices only: the file is an open-items export

    [invoices.columns]               # source column = latepay field
    "N° facture" = "invoice_id"

    [invoices.values.disputed]       # source value = latepay value, per field
    "Oui" = "yes"

    [invoices.constants]             # a field absent from the file, same value on every row
    currency = "EUR"

    [invoices.derive]                # a field absent from the file, computed
    due_date = "issue_date + 30"     # or "issue_date + payment_terms_days"

Format keys given before the first section apply to every section. A mapping is checked by
pydantic models (`_MappingFile`, `_Section`, at the end) before any file is read: an unknown key,
a value of the wrong type, an unknown encoding, a date_format without a % directive, a column
mapped to a field the table does not have... raise `MappingError` naming the file, the section
and the key (the ingest reports it as rule bad_mapping).
"""

from __future__ import annotations

import codecs
import fnmatch
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_core import ErrorDetails, PydanticCustomError

from models.ledger import LEDGER_COLUMNS

KINDS = ("customers", "invoices", "payments", "promises", "actions")

# Every field latepay reads, per table. Required ones are in pipelines.ingest.plan.REQUIRED.
FIELDS: dict[str, tuple[str, ...]] = {
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
        "dispute_opened_date",
        "settled_date",
        "paid_amount",
        "customer_name",
        "payment_terms_days",
        # read only from an open-items export (pipelines/ingest/open_items.py)
        "open_amount",
        # exports with a debit and a credit column: the invoice's amount is amount (the debit)
        # less credit_amount, so a credit note is a row with a credit
        "credit_amount",
    ),
    # A payment without an invoice and with its customer is a payment on account.
    "payments": ("payment_id", "invoice_id", "payment_date", "amount", "customer_id"),
    # A promise to pay: on `promised_on` the customer committed to pay `amount` (empty: the open
    # amount) of the invoice by `promised_date`.
    "promises": ("promise_id", "invoice_id", "promised_on", "promised_date", "amount"),
    # A collector's action (the collections ledger): on `action_date` the collector did `action`
    # about the invoice (empty: the whole customer); a promise carries its date and amount.
    "actions": tuple(LEDGER_COLUMNS),
}
DATE_FIELDS = (
    "issue_date",
    "due_date",
    "dispute_opened_date",
    "settled_date",
    "payment_date",
    "promised_on",
    "promised_date",
    "action_date",
)
AMOUNT_FIELDS = ("amount", "paid_amount", "promised_amount", "open_amount", "credit_amount")
FORMAT_KEYS = ("delimiter", "encoding", "date_format", "decimal_mark", "timezone", "sheet")
# The zone whose calendar gives the date of a timestamp with an offset (Z, +01:00), unless a
# mapping says otherwise (`timezone`).
BUSINESS_TIMEZONE = "Europe/Paris"
DERIVE = re.compile(r"^\s*issue_date\s*\+\s*(?:(\d+)|(payment_terms_days))\s*$")


class MappingError(ValueError):
    """A mapping file that cannot be used; the message says where and why."""


@dataclass(frozen=True)
class Section:
    """How one kind of file maps to a latepay table."""

    kind: str
    columns: dict[str, str] = field(default_factory=dict)  # source column -> field
    values: dict[str, dict[str, str]] = field(default_factory=dict)  # field -> {source: value}
    constants: dict[str, str] = field(default_factory=dict)
    due_days: int | None = None  # due_date = issue_date + due_days
    due_from_terms: bool = False  # due_date = issue_date + payment_terms_days
    files: tuple[str, ...] = ()
    delimiter: str | None = None
    encoding: str | None = None
    date_format: str | None = None
    decimal_mark: str | None = None
    timezone: str | None = None
    sheet: str | None = None
    open_items: bool = False  # an open-items export (invoices only; see open_items.py)
    text: str = ""  # a canonical rendering, hashed so that a changed mapping reloads a file

    def matches_name(self, path: Path) -> bool:
        return any(fnmatch.fnmatch(path.name.lower(), p.lower()) for p in self.files)


@dataclass(frozen=True)
class Mapping:
    path: Path | None
    sections: dict[str, Section]


def load_mapping(path: Path) -> Mapping:
    """Read and check a mapping file."""
    try:
        if path.suffix.lower() in (".yaml", ".yml"):
            try:
                import yaml  # type: ignore[import-untyped]
            except ImportError as exc:
                raise MappingError(
                    f"{path}: YAML mapping files need PyYAML, which is not installed; "
                    "write the mapping in TOML (same keys)"
                ) from exc
            try:
                data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            except yaml.YAMLError as exc:
                raise MappingError(f"{path}: not a readable mapping file ({exc})") from exc
        else:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, ValueError) as exc:
        if isinstance(exc, MappingError):
            raise
        raise MappingError(f"{path}: not a readable mapping file ({exc})") from exc
    return parse_mapping(data, path)


def parse_mapping(data: object, path: Path | None = None) -> Mapping:
    """Check a mapping (as read from TOML or YAML) and make its sections; a MappingError names
    the file, the section and the key of every problem found."""
    where = str(path) if path else "mapping"
    _validate(_MappingFile, data, where, None)
    assert isinstance(data, dict)  # validated
    defaults = {k: data[k] for k in FORMAT_KEYS if k in data}
    sections = {
        kind: _section(kind, {**defaults, **data[kind]}, where) for kind in KINDS if kind in data
    }
    return Mapping(path, sections)


def _section(kind: str, raw: dict, where: str) -> Section:
    checked = _validate(_Section, raw, where, kind)
    due_days, due_from_terms = None, False
    for rule in checked.derive.values():  # due_date, of invoices (validated)
        match = DERIVE.match(rule)
        assert match is not None
        due_days = int(match.group(1)) if match.group(1) else None
        due_from_terms = match.group(2) is not None
    return Section(
        kind=kind,
        columns=checked.columns,
        values=checked.values,
        constants=checked.constants,
        due_days=due_days,
        due_from_terms=due_from_terms,
        files=checked.files,
        delimiter=checked.delimiter,
        encoding=checked.encoding,
        date_format=checked.date_format,
        decimal_mark=checked.decimal_mark,
        timezone=checked.timezone,
        sheet=checked.sheet,
        open_items=checked.open_items,
        text=repr(sorted(raw.items(), key=str)),
    )


# --------------------------------------------------------------------------- validation
# The models a mapping is checked with: a section (`_Section`) and the file (`_MappingFile`:
# sections and format keys given for all of them). Unknown keys are refused (extra="forbid").

SECTION_TABLES = ("columns", "values", "constants", "derive")
SECTION_KEYS = ("files", "open_items", *FORMAT_KEYS, *SECTION_TABLES)
# What each key holds, for the messages about a value of the wrong type.
EXPECTED = {
    "files": 'a file-name pattern or a list of them, such as ["factures*.csv"]',
    "delimiter": '",", ";", "|" or "tab"',
    "encoding": 'an encoding, such as "cp1252"',
    "date_format": 'a strptime format, such as "%d/%m/%Y"',
    "decimal_mark": '"." or ","',
    "timezone": 'a time zone name, such as "Europe/Paris"',
    "sheet": "a sheet name, in quotes",
    "open_items": "true or false",
    "columns": 'a table of "source column" = "latepay field"',
    "values": 'a table per field of "source value" = "latepay value"',
    "constants": 'a table of field = "value"',
    "derive": 'a table such as due_date = "issue_date + 30"',
    **{kind: f"a table ([{kind}])" for kind in KINDS},
}


def _invalid(problem: str) -> PydanticCustomError:
    """A validation error whose message is `problem`, as is."""
    return PydanticCustomError("mapping", "{problem}", {"problem": problem})


def _text(value: object) -> str:
    """A value of the mapping as text (YAML reads yes/no as booleans, TOML dates as dates)."""
    if value is None or isinstance(value, (dict, list, tuple)):
        raise PydanticCustomError("mapping_value", "not text, a number or true/false")
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


Text = Annotated[str, BeforeValidator(_text)]


# strptime directives a date_format may use (DuckDB's try_strptime reads them too).
DIRECTIVES = "aAbBdejmyYHIMSfpzZ"


class _Formats(BaseModel):
    """How the file is written: a section's keys, or the file's for all its sections."""

    model_config = ConfigDict(extra="forbid")

    delimiter: Literal[",", ";", "\t", "|"] | None = None
    encoding: str | None = None
    date_format: str | None = None
    decimal_mark: Literal[".", ","] | None = None
    timezone: str | None = None
    sheet: str | None = None

    @field_validator("delimiter", mode="before")
    @classmethod
    def _tab(cls, value: object) -> object:
        return {"tab": "\t", "\\t": "\t"}.get(value, value) if isinstance(value, str) else value

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                codecs.lookup(value)
            except LookupError:
                raise _invalid(
                    f"encoding {value!r} is not an encoding Python knows; "
                    "utf-8, cp1252, latin-1 and utf-16 are read"
                ) from None
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise _invalid(
                    f"timezone {value!r} is not a time zone name: write it as in the tz "
                    'database, such as "Europe/Paris", "America/New_York" or "UTC"'
                ) from None
        return value

    @field_validator("date_format")
    @classmethod
    def _strptime_format(cls, value: str | None) -> str | None:
        if value is not None and not re.search(r"%[a-zA-Z]", value):
            raise _invalid(
                f"date_format {value!r} has no % directive: write it as a strptime format, "
                'such as "%d/%m/%Y" (day/month/year) or "%m/%d/%Y"'
            )
        if value is not None:
            unknown = sorted(set(re.findall(r"%(.)", value.replace("%%", ""))) - set(DIRECTIVES))
            parts = set(re.findall(r"%(.)", value))
            if unknown or not (parts & set("dej") and parts & set("mbBj") and parts & set("yY")):
                what = f"%{unknown[0]} is not a date directive" if unknown else "it lacks a part"
                raise _invalid(
                    f"date_format {value!r}: {what}; it needs a day (%d), a month (%m, %b) and "
                    'a year (%Y, %y), such as "%d/%m/%Y"'
                )
        return value


class _Section(_Formats):
    """One section: how one kind of file maps to a latepay table. Validated with the kind in
    the context (`{"kind": "invoices"}`): field names are checked against its fields."""

    files: tuple[str, ...] = ()
    open_items: bool = False
    columns: dict[Text, Text] = {}
    values: dict[Text, dict[Text, Text]] = {}
    constants: dict[Text, Text] = {}
    derive: dict[Text, Text] = {}

    @field_validator("files", mode="before")
    @classmethod
    def _one_pattern(cls, value: object) -> object:
        return (value,) if isinstance(value, str) else value

    @field_validator("open_items")
    @classmethod
    def _invoices_only(cls, value: bool, info: ValidationInfo) -> bool:
        if value and info.context["kind"] != "invoices":
            raise _invalid("open_items = true is for the [invoices] section only")
        return value

    @field_validator("columns")
    @classmethod
    def _known_targets(cls, columns: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        fields = FIELDS[info.context["kind"]]
        columns = {k.strip(): v.strip() for k, v in columns.items()}
        for source, target in columns.items():
            if target not in fields:
                raise _invalid(
                    f"{source!r} maps to unknown field {target!r}; fields: {', '.join(fields)}"
                )
        targets = list(columns.values())
        twice = sorted({t for t in targets if targets.count(t) > 1})
        if twice:
            raise _invalid(f"several columns map to {', '.join(twice)}")
        return columns

    @field_validator("values", "constants")
    @classmethod
    def _known_fields(cls, table: dict[str, object], info: ValidationInfo) -> dict[str, object]:
        fields = FIELDS[info.context["kind"]]
        for name in table:
            if name not in fields:
                raise _invalid(f"unknown field {name!r}; fields: {', '.join(fields)}")
        return table

    @field_validator("derive")
    @classmethod
    def _supported_rule(cls, derive: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        for name, rule in derive.items():
            if name != "due_date" or info.context["kind"] != "invoices" or not DERIVE.match(rule):
                raise _invalid(
                    f"cannot derive {name} = {rule!r}; supported: "
                    'due_date = "issue_date + N" (days) or "issue_date + payment_terms_days"'
                )
        return derive


class _MappingFile(_Formats):
    """The whole file: a section per table, and format keys that apply to all of them."""

    customers: dict[str, Any] = {}
    invoices: dict[str, Any] = {}
    payments: dict[str, Any] = {}
    promises: dict[str, Any] = {}
    actions: dict[str, Any] = {}


Checked = TypeVar("Checked", bound=BaseModel)


def _validate(model: type[Checked], data: object, where: str, kind: str | None) -> Checked:
    try:
        return model.model_validate(data, context={"kind": kind})
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            table, problem = _problem(error, kind)
            section = ".".join(p for p in (kind, table) if p)
            problems.append(f"{where} [{section}]: {problem}" if section else f"{where}: {problem}")
        raise MappingError("; ".join(problems)) from None


def _problem(error: ErrorDetails, kind: str | None) -> tuple[str | None, str]:
    """(the section's table the problem is in, if any; the problem, naming the key)."""
    loc = [str(p) for p in error["loc"] if p != "[key]"]
    table = loc[0] if len(loc) > 1 and loc[0] in SECTION_TABLES else None
    if error["type"] == "mapping":  # from a validator of a key or a whole table
        return (loc[0] if loc and loc[0] in SECTION_TABLES else None), error["msg"]
    if not loc:
        return None, f"should be a table of sections ({', '.join(f'[{k}]' for k in KINDS)})"
    if error["type"] == "extra_forbidden":
        if kind is None:
            expected = f"sections {', '.join(KINDS)} or format keys {', '.join(FORMAT_KEYS)}"
        else:
            expected = ", ".join(SECTION_KEYS)
        return None, f"unknown key {loc[0]!r}; expected {expected}"
    if error["type"] == "dict_type":
        expected = EXPECTED[loc[0]] if len(loc) == 1 else "a table"
    elif error["type"] == "mapping_value" or table:
        expected = "text, a number or true/false"
    else:
        expected = EXPECTED[loc[0]]
    key = ".".join(loc[1:]) if table else loc[0]
    return table, f"{key}: {error['input']!r} should be {expected}"
