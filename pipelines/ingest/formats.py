"""How a file writes its dates and amounts, read from the data: day/month order and decimal mark.

Both are decided from the sample rows read when the file was sniffed; when the sample cannot
decide (every day and month ≤ 12, only amounts like 1,234) the whole file is scanned with a query
the caller runs (`scan`: `{src}` in the query stands for the file's rows). Never guessed: a file
whose data cannot decide raises `AmbiguousFormat` asking for the format in a mapping file.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from pipelines.ingest.amounts import plain
from pipelines.ingest.mapping import AMOUNT_FIELDS, DATE_FIELDS

if TYPE_CHECKING:
    from pipelines.ingest.plan import Plan

# A query over the whole file ({src} stands for its rows), run by the planner.
Scan = Callable[[str], list[tuple]]

DMY = re.compile(r"^(\d{1,2})([/.\-])(\d{1,2})\2(\d{4}|\d{2})$")
DMY_SQL = r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{2}|\d{4})$"  # RE2: no back-references
ISO = re.compile(r"^\d{4}-\d{1,2}-\d{1,2}(?:[ T][\d:.]+)?$")
YMD_SLASH = re.compile(r"^\d{4}/\d{1,2}/\d{1,2}$")
# 31-Jan-2026, 31 Jan 26: a day, an English month's abbreviation, a year (Oracle, SAP reports)
MONTH_NAME = re.compile(
    r"^\d{1,2}([-/ ])(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)\1(\d{4}|\d{2})$", re.I
)
# 20260131: year, month, day without separators (SAP, AS/400); a year first, 19xx or 20xx
COMPACT = re.compile(r"^(19|20)\d\d(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])$")

COMMA_DECIMAL = re.compile(r",\d{1,2}$|,\d{4,}$|\.\d{3},|\d[\s\u00a0\u202f']\d{3},")
DOT_DECIMAL = re.compile(r"\.\d{1,2}$|\.\d{4,}$|,\d{3}\.")
GROUPED = re.compile(r"\d[\s\u00a0\u202f',.]\d{3}(?!\d)")


# What may follow an amount's last digit in a file: a closing parenthesis, a trailing minus,
# a currency symbol (the whole-file scans' patterns end with it instead of "$").
AMOUNT_END = r"[)\s€$£-]*$"
COMMA_DECIMAL_AT_END = r",\d{1,2}" + AMOUNT_END  # (one or two decimals after a comma)

# 1.500, 12.750, 1.234.567: a thousands dot, or a decimal one with three decimals?
DOT_GROUPED_ONLY = re.compile(r"^[-+]?\d{1,3}(?:\.\d{3})+$")


class AmbiguousFormat(ValueError):
    """The data cannot tell the format; the message names the file, the rule and the way out."""


def sample_values(plan: Plan, names: tuple[str, ...]) -> list[str]:
    """The non-empty sample values of the given fields."""
    idx = [plan.fields[f] for f in names if f in plan.fields]
    return [r[i].strip() for r in plan.source.sample for i in idx if r[i] and r[i].strip()]


def detect_date_format(plan: Plan, scan: Scan) -> str:
    """ISO, or day/month order read from the data: a day > 12 anywhere in any date column decides.
    Never guessed: all parts ≤ 12 in the whole file is an error asking for the format."""
    values = sample_values(plan, DATE_FIELDS)
    iso = sum(bool(ISO.match(v)) for v in values)
    ymd = sum(bool(YMD_SLASH.match(v)) for v in values)
    dmy = [m for v in values if (m := DMY.match(v))]
    compact = sum(bool(COMPACT.match(v)) for v in values)
    if compact > max(iso, ymd, len(dmy)):
        return "%Y%m%d"
    named = [m for v in values if (m := MONTH_NAME.match(v))]
    if len(named) > max(iso, ymd, len(dmy)):
        sep = named[0].group(1)
        return f"%d{sep}%b{sep}{'%Y' if len(named[0].group(3)) == 4 else '%y'}"
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
        [(first, second)] = scan(
            f"select max(try_cast(p.a as int)), max(try_cast(p.b as int)) from ({parts})"
        )
        first, second = first or 0, second or 0
    where = f"{plan.source.path}: rule ambiguous_date_format"
    if first > 12 and second > 12:
        raise AmbiguousFormat(
            f"{where}: some dates have the day first and others the month first "
            f"(in {', '.join(cols)}); fix the export or give date_format in a mapping file"
        )
    if first <= 12 and second <= 12:
        example = dmy[0].group(0)
        raise AmbiguousFormat(
            f"{where}: every date in {', '.join(cols)} looks like {example} with both day and "
            "month ≤ 12, so their order cannot be told from the data; give it in a mapping "
            f'file: date_format = "%d{sep}%m{sep}{year}" (day first) or '
            f'"%m{sep}%d{sep}{year}" (month first)'
        )
    return f"%d{sep}%m{sep}{year}" if first > 12 else f"%m{sep}%d{sep}{year}"


def detect_decimal(plan: Plan, scan: Scan) -> tuple[str, bool]:
    """(decimal mark, whether amounts carry thousands separators)."""
    values = [plain(v) for v in sample_values(plan, AMOUNT_FIELDS)]
    comma = sum(bool(COMMA_DECIMAL.search(v)) for v in values)
    dot = sum(bool(DOT_DECIMAL.search(v)) for v in values)
    grouped = any(GROUPED.search(v) for v in values)
    if comma and comma == dot:
        raise AmbiguousFormat(
            f"{plan.source.path}: rule ambiguous_decimal_mark: as many amounts use ',' as '.' "
            "for decimal mark; give decimal_mark in a mapping file"
        )
    # The mark most amounts use wins; amounts written the other way are rejected (bad_amount).
    if comma > dot:
        return ",", True
    if not comma and not dot and any(DOT_GROUPED_ONLY.match(v) for v in values):
        return _dot_grouped(plan, scan, values)
    if dot or not any("," in v for v in values):
        return ".", grouped
    # Only values like 1,234: a thousands comma or a decimal one? Look at the whole file.
    comma_decimal = _amounts_matching(plan, COMMA_DECIMAL_AT_END)
    [(evidence,)] = scan(f"select {comma_decimal} from {{src}}")
    if evidence:
        return ",", True
    raise AmbiguousFormat(
        f"{plan.source.path}: rule ambiguous_decimal_mark: amounts such as {values[0]} could use "
        "',' as thousands separator or as decimal mark; give decimal_mark in a mapping file"
    )


def _dot_grouped(plan: Plan, scan: Scan, values: list[str]) -> tuple[str, bool]:
    """Amounts such as 1.500 and none with a decimal mark in the sample: the whole file decides
    (another amount with one or two decimals after a dot, or after a comma), then the date style
    (dates written 01.03.2026 go with thousands dots); never guessed into a decimal."""
    dot_decimal = _amounts_matching(plan, r"[.]\d{1,2}" + AMOUNT_END)
    comma_decimal = _amounts_matching(plan, COMMA_DECIMAL_AT_END)
    [(dot, comma)] = scan(f"select {dot_decimal}, {comma_decimal} from {{src}}")
    if dot and not comma:
        return ".", True
    if comma and not dot:
        return ",", True
    if not dot and not comma and "." in (plan.date_format or ""):
        return ",", True
    raise AmbiguousFormat(
        f"{plan.source.path}: rule ambiguous_decimal_mark: amounts such as {values[0]} could use "
        "'.' as thousands separator or as decimal mark; give decimal_mark in a mapping file"
    )


def _amounts_matching(plan: Plan, pattern: str) -> str:
    """SQL over the whole file ({src}): how many amounts (of every amount column) match
    `pattern`."""
    return " + ".join(
        f"count(*) filter (where regexp_matches(trim(c{plan.fields[f]}), '{pattern}'))"
        for f in AMOUNT_FIELDS
        if f in plan.fields
    )
