"""Amounts, numbers and dates in the reader's locale (`LATEPAY_LOCALE`), with Babel (CLDR data):
never formatted by hand.

- `Formats(locale)`: what the report writes: `money(21428371.18, "EUR")` is "21 428 371,18 €" in
  fr_FR (narrow no-break spaces between thousands, a no-break space before the symbol) and
  "€21,428,371.18" in en_GB; `change` is the same with a sign; dates as the locale writes them.
- `excel_amount_format(currency, locale)`: the Excel number format of an amount in `currency`,
  its symbol where the locale puts it (`#,##0.00" €"` in fr_FR, `"£"#,##0.00` in en_GB). The
  cell keeps the number, so it sums and sorts; Excel draws its thousands and decimal separators
  from the reader's own settings, as Excel users expect.
- `language(locale)`: "fr" for a French locale, else "en": the words of the report
  (pipelines/publish/strings.py) and of the reasons (features/catalog.py).

An invoice without a currency (an export without the column) is taken to be in DEFAULT_CURRENCY,
as the drafts do.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

import pandas as pd
from babel import Locale, UnknownLocaleError
from babel.dates import format_date
from babel.numbers import (
    format_compact_currency,
    format_currency,
    format_decimal,
    format_percent,
    get_currency_precision,
    get_currency_symbol,
)

# en_GB: latepay's own words are English (README, command line, the workbooks' headers, which
# the ledger reads back), and British English writes dates day first and amounts unambiguously;
# a French team sets LATEPAY_LOCALE=fr_FR and gets the report and the reasons in French.
DEFAULT_LOCALE = "en_GB"
DEFAULT_CURRENCY = "EUR"
LANGUAGES = ("en", "fr")
MISSING = "–"
MINUS = "\u2212"  # a real minus sign: as wide as the plus, never taken for a hyphen
_NUMBER = re.compile(r"[#0,.]+")


def parse_locale(text: str) -> Locale:
    """The Babel locale named `text` ("fr_FR", "fr-FR", "en_GB"); ValueError when unknown."""
    try:
        return Locale.parse(str(text).strip().replace("-", "_"))
    except (ValueError, TypeError, UnknownLocaleError) as exc:
        raise ValueError(
            f"unknown locale {text!r}: use a language and territory such as fr_FR or en_GB"
        ) from exc


def language(locale: str) -> str:
    """The report's language for `locale`: "fr" for French, "en" for any other."""
    return "fr" if parse_locale(locale).language == "fr" else "en"


def currency_code(value: object) -> str:
    """An invoice's currency as a three-letter code; DEFAULT_CURRENCY when missing."""
    if isinstance(value, str) and len(value.strip()) == 3:
        return value.strip().upper()
    return DEFAULT_CURRENCY


def is_missing(value: object) -> bool:
    """None, NaN, NaT or pd.NA."""
    if value is None:
        return True
    if isinstance(value, str):
        return False
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # a list or an array: not a missing scalar
        return False


def excel_amount_format(currency: str, locale: str = DEFAULT_LOCALE) -> str:
    """The Excel number format of amounts in `currency` for readers of `locale`: the number
    with the currency's decimals, and its symbol on the side and with the spacing the locale
    uses. `#,##0.00` is written in Excel's neutral notation: Excel shows it with the reader's
    own separators."""
    place = parse_locale(locale)
    pattern = place.currency_formats["standard"].pattern.split(";")[0]
    symbol = get_currency_symbol(currency, locale=place)
    digits = get_currency_precision(currency)
    number = "#,##0" + ("." + "0" * digits if digits else "")
    found = _NUMBER.search(pattern)
    if found is None:  # no locale in CLDR lacks one; be safe all the same
        return f'{number}" {symbol}"'
    before = pattern[: found.start()].replace("¤", symbol)
    after = pattern[found.end() :].replace("¤", symbol)
    return "".join((f'"{before}"' if before else "", number, f'"{after}"' if after else ""))


@dataclass(frozen=True)
class Formats:
    """Numbers, amounts and dates written for readers of `locale`."""

    locale: str = DEFAULT_LOCALE

    @cached_property
    def place(self) -> Locale:
        return parse_locale(self.locale)

    @property
    def language(self) -> str:
        return "fr" if self.place.language == "fr" else "en"

    def money(self, amount: object, currency: object) -> str:
        """`amount` in `currency`, e.g. "21 428 371,18 €" (fr_FR); "–" when missing."""
        if is_missing(amount):
            return MISSING
        return format_currency(float(amount), currency_code(currency), locale=self.place)

    def change(self, amount: object, currency: object) -> str:
        """A change of an amount, signed: "+€1,200.00", "−€300.00"; "–" when unknown."""
        if is_missing(amount):
            return MISSING
        value = round(float(amount), get_currency_precision(currency_code(currency)))
        return _sign(value) + self.money(abs(value), currency)

    def compact_money(self, amount: float, currency: object) -> str:
        """A rounded amount for a chart's axis: "2,5 M €" (fr_FR), "€2.5M" (en_GB)."""
        return format_compact_currency(
            float(amount), currency_code(currency), locale=self.place, fraction_digits=1
        )

    def count(self, value: object) -> str:
        """A whole number with the locale's grouping: "2 415" (fr_FR), "2,415" (en_GB)."""
        if is_missing(value):
            return MISSING
        return format_decimal(int(value), "#,##0", locale=self.place)

    def number(self, value: object, digits: int = 1) -> str:
        if is_missing(value):
            return MISSING
        pattern = "#,##0" + ("." + "0" * digits if digits else "")
        return format_decimal(float(value), pattern, locale=self.place)

    def signed(self, value: object, digits: int = 1) -> str:
        """A change of a number, signed: "+2.5", "−1.0"."""
        if is_missing(value):
            return MISSING
        rounded = round(float(value), digits)
        return _sign(rounded) + self.number(abs(rounded), digits)

    def percent(self, value: object) -> str:
        """A share as a whole percentage: "83 %" (fr_FR), "83%" (en_GB)."""
        if is_missing(value):
            return MISSING
        return format_percent(float(value), locale=self.place)

    def day(self, value: object) -> str:
        """A date as the locale writes it: "2 nov. 2026" (fr_FR), "2 Nov 2026" (en_GB)."""
        if is_missing(value):
            return MISSING
        return format_date(pd.Timestamp(value).date(), "medium", locale=self.place)

    def short_day(self, value: object) -> str:
        """A date without its year: "2 nov." (fr_FR), "2 Nov" (en_GB)."""
        if is_missing(value):
            return MISSING
        return format_date(pd.Timestamp(value).date(), "d MMM", locale=self.place)


def _sign(value: float) -> str:
    return "+" if value > 0 else MINUS if value < 0 else ""
