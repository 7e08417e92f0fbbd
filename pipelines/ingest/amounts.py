"""How amounts are written in exports, and how latepay reads them: the same rules in Python
(`plain`: the sample the decimal mark is decided on, pipelines/ingest/formats.py) and in SQL
(`plain_sql`: every row, pipelines/ingest/rules.py), and the currency a symbol says."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from pipelines.ingest.db import quote

if TYPE_CHECKING:
    from pipelines.ingest.rules import Sql


def plain(text: str) -> str:
    """An amount as written, in the plain form the decimal mark is decided on: a negative
    written (1.234,56), 1.234,56- (a trailing minus, as SAP writes it) or with the Unicode
    minus is given a leading "-"; a currency symbol or code before or after it is removed.
    (`plain_sql` is the same in SQL.)"""
    text = text.strip().replace("\u2212", "-")
    if len(text) > 2 and text.startswith("(") and text.endswith(")"):
        text = "-" + text[1:-1].strip()
    elif re.fullmatch(r"[^-](.*\d)?\s?-", text):
        text = "-" + text[:-1].strip()
    return re.sub(SYMBOL, r"\1", text)


def plain_sql(text: str) -> str:
    """SQL: the amount `text` in plain form, as `plain` gives it."""
    t = f"replace(trim({text}), '\u2212', '-')"
    parenthesised = f"regexp_full_match({t}, '\\(.+\\)')"
    trailing = f"regexp_full_match({t}, '[^-](.*\\d)?\\s?-')"
    signed = (
        f"(case when {parenthesised} then '-' || trim(substr({t}, 2, length({t}) - 2)) "
        f"when {trailing} then '-' || trim(substr({t}, 1, length({t}) - 1)) else {t} end)"
    )
    return f"regexp_replace({signed}, {quote(SYMBOL)}, '\\1', 'g')"


# A currency symbol or ISO code (EUR) before an amount (after its sign) or after it.
SYMBOL = r"^([-+]?)\s*([€$£]|[A-Z]{3})\s*|\s*([€$£]|[A-Z]{3})$"


# The currencies written with a bare "$".
DOLLARS = (
    "USD", "CAD", "AUD", "NZD", "SGD", "HKD", "TWD", "MXN", "ARS", "CLP", "COP", "BSD", "BBD",
    "BMD", "BZD", "FJD", "JMD", "KYD", "LRD", "NAD", "SBD", "SRD", "TTD", "XCD",
)  # fmt: skip


def symbol_of(amount: str) -> str:
    """SQL: the currency symbol (€, £, $) or ISO code (EUR) an amount is written with, or ''.
    (Where it may stand is bad_amount's business.)"""
    symbols = " ".join(f"when contains({amount}, '{c}') then '{c}'" for c in "€£$")
    code = f"regexp_extract({amount}, '(^|[^A-Z])([A-Z]{{3}})([^A-Z]|$)', 2)"
    return f"(case {symbols} when regexp_matches({amount}, '[A-Z]') then {code} else '' end)"


def symbol_currency(symbol: str, currency: str) -> str:
    """SQL: the row's currency, where the amount's symbol or code (`symbol`: €, £, $, a code or
    '') says it and the row does not: £ is GBP, a code itself (€ is the default, EUR, already;
    $ is several)."""
    said = f"case when {symbol} = '£' then 'GBP' when length({symbol}) = 3 then {symbol} end"
    return f"coalesce(upper(trim({currency})), {said})"


# ISO 4217 currencies without minor units: an amount with cents in one of them is refused.
ZERO_DECIMAL_CURRENCIES = (
    "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "VND", "VUV",
    "XAF", "XOF", "XPF",
)  # fmt: skip


def invoice_amount(s: Sql) -> str:
    """SQL: the invoice's amount: `amount`, less `credit_amount` when the export has a credit
    column (either may be empty; both empty, or one not a number, is none: bad_amount)."""
    if not s.has("credit_amount"):
        return s.amount("amount")
    debit, credit = s.text("amount"), s.text("credit_amount")
    filled = [f"nullif(trim({t}), '') is not null" for t in (debit, credit)]
    parsed = [f"coalesce({s.amount(n)}, 0)" for n in ("amount", "credit_amount")]
    return (
        f"(case when ({filled[0]} and {s.amount('amount')} is null) "
        f"or ({filled[1]} and {s.amount('credit_amount')} is null) "
        f"or not ({filled[0]} or {filled[1]}) then null "
        f"else {parsed[0]} - {parsed[1]} end)"
    )
