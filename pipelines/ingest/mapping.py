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
    sheet = "Factures"               # Excel sheet (default: the first)

    [invoices.columns]               # source column = latepay field
    "N° facture" = "invoice_id"

    [invoices.values.disputed]       # source value = latepay value, per field
    "Oui" = "yes"

    [invoices.constants]             # a field absent from the file, same value on every row
    currency = "EUR"

    [invoices.derive]                # a field absent from the file, computed
    due_date = "issue_date + 30"     # or "issue_date + payment_terms_days"
"""

from __future__ import annotations

import fnmatch
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

KINDS = ("customers", "invoices", "payments", "promises")

# Every field latepay reads, per table. Required ones are in pipelines.ingest.REQUIRED.
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
    ),
    "payments": ("payment_id", "invoice_id", "payment_date", "amount"),
    # A promise to pay: on `promised_on` the customer committed to pay `amount` (empty: the open
    # amount) of the invoice by `promised_date`.
    "promises": ("promise_id", "invoice_id", "promised_on", "promised_date", "amount"),
}
DATE_FIELDS = (
    "issue_date",
    "due_date",
    "dispute_opened_date",
    "settled_date",
    "payment_date",
    "promised_on",
    "promised_date",
)
AMOUNT_FIELDS = ("amount", "paid_amount")
FORMAT_KEYS = ("delimiter", "encoding", "date_format", "decimal_mark", "sheet")
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
    sheet: str | None = None
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
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        else:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, ValueError) as exc:
        if isinstance(exc, MappingError):
            raise
        raise MappingError(f"{path}: not a readable mapping file ({exc})") from exc
    return parse_mapping(data, path)


def parse_mapping(data: dict, path: Path | None = None) -> Mapping:
    where = str(path) if path else "mapping"
    defaults = {k: data[k] for k in FORMAT_KEYS if k in data}
    unknown = set(data) - set(KINDS) - set(FORMAT_KEYS)
    if unknown:
        raise MappingError(
            f"{where}: unknown keys {', '.join(sorted(unknown))}; "
            f"expected sections {', '.join(KINDS)} or {', '.join(FORMAT_KEYS)}"
        )
    sections = {
        kind: _section(kind, {**defaults, **data[kind]}, where) for kind in KINDS if kind in data
    }
    return Mapping(path, sections)


def _section(kind: str, raw: dict, where: str) -> Section:
    allowed = {"columns", "values", "constants", "derive", "files", *FORMAT_KEYS}
    unknown = set(raw) - allowed
    if unknown:
        raise MappingError(f"{where} [{kind}]: unknown keys {', '.join(sorted(unknown))}")
    fields = FIELDS[kind]
    columns = {str(k).strip(): str(v).strip() for k, v in raw.get("columns", {}).items()}
    for source, target in columns.items():
        if target not in fields:
            raise MappingError(
                f"{where} [{kind}.columns]: {source!r} maps to unknown field {target!r}; "
                f"fields: {', '.join(fields)}"
            )
    targets = list(columns.values())
    twice = sorted({t for t in targets if targets.count(t) > 1})
    if twice:
        raise MappingError(f"{where} [{kind}.columns]: several columns map to {', '.join(twice)}")
    values = {
        str(f): {_text(k): _text(v) for k, v in m.items()} for f, m in raw.get("values", {}).items()
    }
    constants = {str(k): _text(v) for k, v in raw.get("constants", {}).items()}
    for name in [*values, *constants]:
        if name not in fields:
            raise MappingError(f"{where} [{kind}]: unknown field {name!r}")
    due_days, due_from_terms = None, False
    for name, rule in raw.get("derive", {}).items():
        match = DERIVE.match(str(rule))
        if name != "due_date" or kind != "invoices" or not match:
            raise MappingError(
                f"{where} [{kind}.derive]: cannot derive {name} = {rule!r}; supported: "
                'due_date = "issue_date + N" (days) or "issue_date + payment_terms_days"'
            )
        due_days = int(match.group(1)) if match.group(1) else None
        due_from_terms = match.group(2) is not None
    decimal = raw.get("decimal_mark")
    if decimal not in (None, ".", ","):
        raise MappingError(f'{where} [{kind}]: decimal_mark must be "." or ","')
    files = raw.get("files", ())
    return Section(
        kind=kind,
        columns=columns,
        values=values,
        constants=constants,
        due_days=due_days,
        due_from_terms=due_from_terms,
        files=(files,) if isinstance(files, str) else tuple(files),
        delimiter={"tab": "\t", "\\t": "\t"}.get(raw.get("delimiter"), raw.get("delimiter")),
        encoding=raw.get("encoding"),
        date_format=raw.get("date_format"),
        decimal_mark=decimal,
        sheet=raw.get("sheet"),
        text=repr(sorted(raw.items(), key=str)),
    )


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
