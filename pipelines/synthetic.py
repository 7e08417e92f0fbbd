"""Synthetic receivables book: customers, invoices, payments and the generating truth.

The generator exists for demos, tests and benchmarks. It is built so that a model has something
real to learn (persistent customer habits, deterioration, disputes, seasonality, amount and
terms effects) and so that the truth is known: ``oracle.p_late`` is the exact probability, as
known at issue time, that the invoice is settled after its due date (never paid counts as late).

Grain and units
---------------
* ``customers``: one row per customer.
* ``invoices``: one row per invoice or credit note; ``amount`` in ``currency`` units, rounded to
  cents; credit notes have negative amounts and ``due_date == issue_date``.
* ``payments``: one row per payment received on or before ``end_date``; positive amounts.
* ``promises``: one row per promise to pay made on or before ``end_date`` (``promised_on``); the
  customer committed to pay by ``promised_date`` (which may be after ``end_date``) ``amount``, or
  the open amount when empty. Drawn from their own random stream: adding them changed none of the
  other tables of a seed.
* ``oracle``: one row per invoice that is not a credit note. Never read by the pipeline.
  ``p_late`` (6 decimals) is the probability above; ``archetype`` the customer's archetype;
  ``trouble_date`` the deteriorating customer's trouble start (empty otherwise);
  ``late_outcome`` the drawn outcome (1 = late or never paid), also for invoices still open at
  ``end_date`` -- i.e. it knows the future and is for evaluating scores of open invoices only.

All dates are calendar days (``datetime64[us]`` at midnight in the frames, ``YYYY-MM-DD`` in the
CSV files); text columns use pandas' ``str`` dtype. Nothing is dated after ``end_date``: the
book is the export a company would have on that day. The generation is fully vectorised and depends only on its arguments (no clock, no
environment), so the same seed gives identical frames and identical CSV bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

__all__ = [
    "ARCHETYPES",
    "CUSTOMER_COLUMNS",
    "INVOICE_COLUMNS",
    "ORACLE_COLUMNS",
    "PAYMENT_COLUMNS",
    "PROMISE_COLUMNS",
    "Book",
    "generate_book",
    "write_book",
]

# --------------------------------------------------------------------------------------------
# Canonical columns (the order is the CSV header order).
# --------------------------------------------------------------------------------------------
CUSTOMER_COLUMNS = [
    "customer_id",
    "name",
    "country",
    "segment",
    "payment_terms_days",
    "payment_terms",
    "preferred_channel",
    "collector",
]
INVOICE_COLUMNS = [
    "invoice_id",
    "customer_id",
    "issue_date",
    "due_date",
    "amount",
    "currency",
    "disputed",
    "dispute_opened_date",
]
PAYMENT_COLUMNS = ["payment_id", "invoice_id", "payment_date", "amount"]
PROMISE_COLUMNS = ["promise_id", "invoice_id", "promised_on", "promised_date", "amount"]
ORACLE_COLUMNS = ["invoice_id", "p_late", "archetype", "trouble_date", "late_outcome"]

# --------------------------------------------------------------------------------------------
# Generating-process parameters. Index order of ARCHETYPES is used in every per-archetype array.
# --------------------------------------------------------------------------------------------
ARCHETYPES = ("reliable", "habitually_late", "deteriorating", "end_of_month", "disputer")
_REL, _HAB, _DET, _EOM, _DIS = range(5)
_ARCH_SHARE = np.array([0.45, 0.20, 0.10, 0.15, 0.10])
# Latent lateness propensity (logit of P(late | not disputed, not defaulted)): mean and spread.
# The spread makes a customer's own history informative beyond its archetype.
_LOGIT_MEAN = np.array([-2.6, 0.6, -2.0, -0.9, -1.4])
_LOGIT_SD = np.array([0.7, 0.7, 0.6, 0.6, 0.6])
# Mean days late when late (per-customer scale is lognormal around it).
_LATE_DAYS_MEAN = np.array([4.0, 20.0, 6.0, 10.0, 8.0])
# Dispute probability per invoice; disputers are the reason the archetype exists.
_P_DISPUTE = np.array([0.02, 0.04, 0.03, 0.03, 0.25])
# Probability of never paying (bad debt). Deteriorating customers get a ramp on top of this.
_P_DEFAULT = np.array([0.002, 0.02, 0.004, 0.004, 0.01])
# Days early reliable payers may pay: on-time payment = due - term * Beta(1, b); small b = early.
_EARLY_BETA_B = np.array([2.0, 6.0, 5.0, 6.0, 5.0])

# Deterioration: after the trouble date the logit, days late and default risk ramp up linearly
# over _RAMP_DAYS, so it shows first in the most recent invoices.
_RAMP_DAYS = 90
_RAMP_LOGIT = 3.0
_RAMP_LATE_DAYS = 30.0
_RAMP_DEFAULT = 0.12
_RAMP_DISPUTE = 0.04
# A dispute makes lateness much more likely and adds 20-60 days of delay.
_DISPUTE_LOGIT = 2.5
_DISPUTE_DELAY = (20, 60)

SEGMENTS = ("SME", "Mid-market", "Enterprise", "Public sector")
_SEGMENT_SHARE = np.array([0.50, 0.28, 0.12, 0.10])
# Public sector is slow to approve invoices; enterprises have heavier approval workflows.
_SEGMENT_LOGIT = np.array([0.0, 0.0, 0.2, 0.6])
_SEGMENT_DELAY = np.array([1.0, 1.0, 1.1, 1.5])
# Median invoice amount by segment (EUR) and how much the invoice volume scales.
_SEGMENT_AMOUNT = np.array([900.0, 3_500.0, 14_000.0, 6_000.0])
_SEGMENT_VOLUME = np.array([1.0, 2.0, 4.0, 2.0])
_AMOUNT_SIGMA = 1.0
_AMOUNT_LOGIT = 0.15  # per standard deviation of log-amount within the segment

COUNTRIES = ("FR", "BE", "DE", "ES", "IT", "GB", "NL")
_COUNTRY_SHARE = np.array([0.55, 0.10, 0.10, 0.07, 0.07, 0.06, 0.05])
_LEGAL_FORMS = {
    "FR": ("SARL", "SAS", "SA", "SASU", "EURL"),
    "BE": ("SA", "SRL", "BV", "SC"),
    "DE": ("GmbH", "AG", "KG", "GmbH & Co. KG"),
    "ES": ("SL", "SA"),
    "IT": ("SRL", "SpA"),
    "GB": ("Ltd", "PLC", "LLP"),
    "NL": ("BV", "NV"),
}
# Share of GB customers invoiced in GBP (all their invoices; the rest of the book is EUR).
_GB_GBP_SHARE = 0.5

TERMS = ("net30", "45eom", "net60")
_TERMS_DAYS = np.array([30, 45, 60])
_TERMS_SHARE = np.array([0.50, 0.25, 0.25])
# End-of-month terms confuse approval workflows a little; long terms leave fewer excuses.
_TERMS_LOGIT = np.array([0.0, 0.15, -0.1])

CHANNELS = ("email", "phone", "letter", "sms")
_CHANNEL_SHARE = np.array([0.60, 0.20, 0.12, 0.08])
COLLECTORS = (
    "Camille",
    "Julien",
    "Sophie",
    "Karim",
    "Laura",
    "Thomas",
    "Inès",
    "Marc",
    "Élodie",
    "Nicolas",
    "Aurélie",
    "Hugo",
)
_CUSTOMERS_PER_COLLECTOR = 250

_NAME_FIRST = (
    "Martin", "Bernard", "Dubois", "Durand", "Lefèvre", "Moreau", "Laurent", "Simon", "Michel",
    "Garnier", "Faure", "Rousseau", "Blanc", "Guérin", "Müller", "Schmidt", "Schäfer", "García",
    "Fernández", "Rossi", "Bianchi", "Smith", "Taylor", "De Vries", "Janssens", "Peeters",
    "Nordhaus", "Atlas", "Horizon", "Vertex", "Alpine", "Boréal", "Cèdre", "Azur", "Orion",
    "Delta", "Méridien", "Polaris", "Saphir", "Hélios",
)  # fmt: skip
_NAME_ACTIVITY = (
    "Logistique", "Bâtiment", "Industrie", "Distribution", "Conseil", "Transports", "Énergie",
    "Électricité", "Agroalimentaire", "Ingénierie", "Services", "Négoce", "Matériaux",
    "Informatique", "Emballages", "Santé", "Métallurgie", "Événements", "Systems", "Trading",
)  # fmt: skip
_NAME_PARTNER = (
    "Fils", "Associés", "Frères", "Cie", "Partners", "Sons", "Söhne", "Hijos", "Figli",
)  # fmt: skip

# Issue-date seasonality: weekday activity, quiet August and year-end holidays.
_WEEKDAY_WEIGHT = np.array([1.0, 1.05, 1.05, 1.0, 0.9, 0.12, 0.04])  # Mon..Sun
_AUGUST_WEIGHT = 0.55
_YEAR_END_WEIGHT = 0.35  # 20-31 December
# Payments due in summer or December slip: holidays, closed accounts payable departments.
_SEASON_LOGIT_SUMMER = 0.35  # due in July or August
_SEASON_LOGIT_DECEMBER = 0.30

_CREDIT_NOTE_SHARE = 0.02
_PARTIAL_SHARE = 0.10  # of paid invoices, settled by 2-3 payments
_DEFAULT_PARTIAL_SHARE = 0.25  # of bad debts, one partial payment before the customer stops

# Promises to pay. A collector chases an overdue invoice 3-21 days after its due date; some
# customers then promise a date. Kept promises are followed by the payment on or a few days
# before the promised date; broken ones promise a date at least a week before the payment comes
# (or a bad debt's, which never comes). Their own stream, so the rest of a seed's book is as it was.
_PROMISE_STREAM = 0x50524F4D  # "PROM"
_CHASE_DAYS = (3, 21)
_PROMISE_SHARE_LATE = 0.40  # of invoices still unpaid when chased
_PROMISE_SHARE_DEFAULT = 0.60  # of bad debts (collectors chase them longest)
_PROMISE_KEPT = 0.60  # of promises on invoices that are paid later
_PROMISE_AMOUNT_SHARE = 0.30  # promises that state an amount (the open amount at the time)


@dataclass(frozen=True)
class Book:
    """A synthetic receivables export as of ``end_date`` plus its generating truth.

    ``customers``, ``invoices`` and ``payments`` are the canonical input tables (the pipeline's
    input format); ``oracle`` holds the truth (one row per non-credit invoice) and must only be
    read by tests and benchmarks.
    """

    customers: pd.DataFrame
    invoices: pd.DataFrame
    payments: pd.DataFrame
    oracle: pd.DataFrame
    promises: pd.DataFrame


# --------------------------------------------------------------------------------------------
# Small vectorised helpers.
# --------------------------------------------------------------------------------------------
def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _calendar_lookup(days: np.ndarray, unit: str) -> tuple[np.ndarray, np.ndarray]:
    """Table of calendar facts over the range of ``days``, and each date's index into it.

    numpy's month arithmetic on ``datetime64`` is slow (~0.5 s per 10M dates); the dates of a
    book span a few thousand distinct days, so compute on those and gather.
    """
    lo = days.min()
    span = np.arange(lo, days.max() + np.timedelta64(1, "D"), dtype="datetime64[D]")
    pos = (days - lo).astype(np.int64)
    if unit == "month_end":
        return (span.astype("datetime64[M]") + 1).astype("datetime64[D]") - 1, pos
    if unit == "month_start":
        return span.astype("datetime64[M]").astype("datetime64[D]"), pos
    return span.astype("datetime64[M]").astype(np.int64) % 12 + 1, pos  # month 1..12


def _month_end(days: np.ndarray) -> np.ndarray:
    """Last day of the month of each date (``datetime64[D]`` in and out)."""
    table, pos = _calendar_lookup(days, "month_end")
    return table[pos]


def _month_start(days: np.ndarray) -> np.ndarray:
    """First day of the month of each date (``datetime64[D]`` in and out)."""
    table, pos = _calendar_lookup(days, "month_start")
    return table[pos]


def _month(days: np.ndarray) -> np.ndarray:
    """Calendar month 1..12 of each date."""
    table, pos = _calendar_lookup(days, "month")
    return table[pos]


def _ids(prefix: str, n: int, width: int) -> pa.Array:
    """``prefix`` + 1-based zero-padded counter as an Arrow string array.

    All ids have the same length, so the bytes are written straight into one fixed-stride
    buffer (digit by digit, vectorised): ~10x faster than formatting 10M integers as strings.
    """
    head = np.frombuffer(prefix.encode("ascii"), dtype=np.uint8)
    stride = head.size + width
    data = np.empty((n, stride), dtype=np.uint8)
    data[:, : head.size] = head
    # 32-bit arithmetic is about twice as fast as 64-bit for the digit extraction.
    number = np.arange(1, n + 1, dtype=np.uint32 if n < 2**32 - 1 else np.uint64)
    for j in range(width - 1, -1, -1):  # loop over digit positions, not over rows
        quotient = number // 10
        data[:, head.size + j] = (number - quotient * 10).astype(np.uint8) + 48  # 48 = "0"
        number = quotient
    total = (n + 1) * stride
    offsets = np.arange(0, total, stride, dtype=np.int32 if total < 2**31 else np.int64)
    kind = pa.StringArray if offsets.dtype == np.int32 else pa.LargeStringArray
    return kind.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data.reshape(-1)))


def _strings(values: pa.Array) -> pd.api.extensions.ExtensionArray:
    """Arrow strings to pandas' default ``str`` dtype (Arrow-backed, no Python objects)."""
    return pd.array(values, dtype="str")


def _labels(labels: tuple[str, ...], codes: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """Codes into a label tuple -> plain strings (what a reader of the CSV gets, not categories)."""
    return _strings(pa.array(labels, type=pa.string()).take(pa.array(codes)))


def _timestamps(days: np.ndarray) -> np.ndarray:
    """Calendar days to ``datetime64[us]``, the unit pandas >= 3 gives parsed dates."""
    return days.astype("datetime64[us]")


def _split_cents(rng: np.random.Generator, cents: np.ndarray, k: int) -> np.ndarray:
    """Split each amount (in cents) into ``k`` positive parts summing exactly to it."""
    # Fractions in [0.2, 0.6) per part for k=2 and [0.15, 0.4) for k=3 keep every part sizeable.
    lo, hi = (0.2, 0.6) if k == 2 else (0.15, 0.4)
    parts = np.empty((cents.size, k), dtype=np.int64)
    rest = cents.copy()
    for j in range(k - 1):
        part = np.maximum(np.floor(cents * rng.uniform(lo, hi, cents.size)).astype(np.int64), 1)
        parts[:, j] = part
        rest -= part
    parts[:, k - 1] = rest
    return parts


# --------------------------------------------------------------------------------------------
# Customers.
# --------------------------------------------------------------------------------------------
def _customer_names(rng: np.random.Generator, country: np.ndarray) -> np.ndarray:
    """Plausible, deterministic company names; some carry commas and accents (CSV quoting)."""
    n = country.size
    first = np.asarray(_NAME_FIRST, dtype=object)
    activity = np.asarray(_NAME_ACTIVITY, dtype=object)
    partner = np.asarray(_NAME_PARTNER, dtype=object)
    a = first[rng.integers(0, first.size, n)]
    b = activity[rng.integers(0, activity.size, n)]
    c = first[rng.integers(0, first.size, n)]
    p = partner[rng.integers(0, partner.size, n)]
    pattern = rng.choice(4, size=n, p=[0.45, 0.25, 0.18, 0.12])
    # "Martin Logistique", "Martin & Rossi", "Martin, Rossi et Fils", "Logistique Martin".
    name = np.where(pattern == 0, a + " " + b, "")
    name = np.where(pattern == 1, a + " & " + c, name)
    name = np.where(pattern == 2, a + ", " + c + " et " + p, name)
    name = np.where(pattern == 3, b + " " + a, name)
    form = np.empty(n, dtype=object)
    for i, code in enumerate(COUNTRIES):  # loop over 7 countries, not over customers
        mask = country == i
        forms = np.asarray(_LEGAL_FORMS[code], dtype=object)
        form[mask] = forms[rng.integers(0, forms.size, int(mask.sum()))]
    return name + " " + form


@dataclass(frozen=True)
class _Customers:
    """Per-customer arrays (index = customer number) used by the invoice generation."""

    archetype: np.ndarray
    country: np.ndarray
    segment: np.ndarray
    terms: np.ndarray
    logit: np.ndarray
    late_days: np.ndarray
    amount_mu: np.ndarray
    volume: np.ndarray
    entry_day: np.ndarray  # index into the period's days of the first possible invoice
    trouble_day: np.ndarray  # datetime64[D]; NaT unless deteriorating
    gbp: np.ndarray
    ids: pa.Array
    frame: pd.DataFrame


def _make_customers(
    rng: np.random.Generator, n: int, start: np.datetime64, n_days: int
) -> _Customers:
    archetype = rng.choice(len(ARCHETYPES), size=n, p=_ARCH_SHARE)
    country = rng.choice(len(COUNTRIES), size=n, p=_COUNTRY_SHARE)
    segment = rng.choice(len(SEGMENTS), size=n, p=_SEGMENT_SHARE)
    terms = rng.choice(len(TERMS), size=n, p=_TERMS_SHARE)
    channel = rng.choice(len(CHANNELS), size=n, p=_CHANNEL_SHARE)
    n_collectors = int(np.clip(round(n / _CUSTOMERS_PER_COLLECTOR), 2, len(COLLECTORS)))
    collector = rng.integers(0, n_collectors, n)
    names = _customer_names(rng, country)

    logit = _LOGIT_MEAN[archetype] + _LOGIT_SD[archetype] * rng.standard_normal(n)
    late_days = _LATE_DAYS_MEAN[archetype] * np.exp(0.35 * rng.standard_normal(n) - 0.35**2 / 2)
    late_days *= _SEGMENT_DELAY[segment]
    # Customer-level amount level: some customers buy bigger than their segment's median.
    amount_mu = np.log(_SEGMENT_AMOUNT[segment]) + 0.5 * rng.standard_normal(n)
    # Heavy-tailed volume: a few large accounts with many invoices, a long tail with few.
    volume = _SEGMENT_VOLUME[segment] * rng.lognormal(0.0, 1.1, n)
    # 60% of customers are already customers at the start; others arrive during the period
    # (at the latest 60 days before the end so they have some history).
    arrives = rng.random(n) >= 0.6
    entry_day = np.where(arrives, rng.integers(0, max(n_days - 60, 1), n), 0)
    # Deteriorating customers: trouble starts in the second half of the period (before 90% of
    # it so that the ramp is visible in the export).
    trouble_offset = np.floor(n_days * rng.uniform(0.5, 0.9, n)).astype(np.int64)
    trouble_day = np.where(
        archetype == _DET,
        start + trouble_offset.astype("timedelta64[D]"),
        np.datetime64("NaT", "D"),
    )
    gbp = (np.asarray(COUNTRIES)[country] == "GB") & (rng.random(n) < _GB_GBP_SHARE)

    width = max(5, len(str(n)))
    ids = _ids("C", n, width)
    frame = pd.DataFrame(
        {
            "customer_id": _strings(ids),
            "name": _strings(pa.array(names, type=pa.string())),
            "country": _labels(COUNTRIES, country),
            "segment": _labels(SEGMENTS, segment),
            "payment_terms_days": _TERMS_DAYS[terms].astype(np.int64),
            "payment_terms": _labels(TERMS, terms),
            "preferred_channel": _labels(CHANNELS, channel),
            "collector": _labels(COLLECTORS[:n_collectors], collector),
        }
    )
    return _Customers(
        archetype, country, segment, terms, logit, late_days, amount_mu, volume, entry_day,
        trouble_day, gbp, ids, frame,
    )  # fmt: skip


# --------------------------------------------------------------------------------------------
# Invoices, outcomes and payments.
# --------------------------------------------------------------------------------------------
def _issue_day_cdf(start: np.datetime64, n_days: int) -> np.ndarray:
    """Cumulative issue-date weights over the period (weekday, August, year-end seasonality)."""
    days = start + np.arange(n_days).astype("timedelta64[D]")
    weekday = (days.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday -> Monday = 0
    month = days.astype("datetime64[M]").astype(np.int64) % 12 + 1
    dom = (days - days.astype("datetime64[M]").astype("datetime64[D]")).astype(np.int64) + 1
    weight = _WEEKDAY_WEIGHT[weekday].copy()
    weight[month == 8] *= _AUGUST_WEIGHT
    weight[(month == 12) & (dom >= 20)] *= _YEAR_END_WEIGHT
    return np.cumsum(weight)


def generate_book(
    n_customers: int,
    n_invoices: int,
    seed: int = 0,
    end_date: date = date(2026, 10, 31),
    years: float = 3.0,
) -> Book:
    """Generate a receivables book of ``n_invoices`` rows (credit notes included) as of ``end_date``.

    Invoices are issued over ``[end_date - years, end_date]``; every customer has at least one
    invoice (so ``n_invoices >= n_customers``). Payments after ``end_date`` are not in the book:
    such invoices are open (partially paid ones keep the payments made by ``end_date``). The
    result depends only on the arguments.
    """
    if n_customers < 1 or n_invoices < n_customers:
        raise ValueError("need n_customers >= 1 and n_invoices >= n_customers")
    if years <= 0:
        raise ValueError("years must be positive")
    rng = np.random.default_rng(seed)
    end = np.datetime64(end_date, "D")
    n_days = round(years * 365.25) + 1  # inclusive of both ends
    start = end - np.timedelta64(n_days - 1, "D")

    cust = _make_customers(rng, n_customers, start, n_days)

    # ---- which customer each invoice belongs to: one each, the rest by volume weight.
    extra = rng.multinomial(n_invoices - n_customers, cust.volume / cust.volume.sum())
    counts = 1 + extra
    ci = np.repeat(np.arange(n_customers), counts)
    n = n_invoices
    # Credit notes only among the extra rows so that every customer has a real invoice.
    first_row = np.zeros(n, dtype=bool)
    first_row[np.concatenate(([0], np.cumsum(counts)[:-1]))] = True
    credit = (~first_row) & (rng.random(n) < _CREDIT_NOTE_SHARE)

    # ---- issue dates: inverse CDF of the seasonal weights, restricted to the customer's life.
    cdf = _issue_day_cdf(start, n_days)
    lo = np.where(cust.entry_day > 0, cdf[cust.entry_day - 1], 0.0)[ci]
    u = lo + rng.random(n) * (cdf[-1] - lo)
    issue_idx = np.minimum(np.searchsorted(cdf, u, side="right"), n_days - 1)
    del u, lo
    # Sort by issue date with a random tie-break so customers interleave within a day; ids are
    # then assigned in that order, which makes the file sorted by (issue_date, invoice_id).
    # A random permutation followed by a stable sort on a 16-bit key (numpy's radix sort) is
    # about four times faster than sorting a 64-bit composite key.
    order = rng.permutation(n)
    day_key = issue_idx[order].astype(np.int16 if n_days < 2**15 else np.int32)
    order = order[np.argsort(day_key, kind="stable")]
    ci, credit, issue_idx = ci[order], credit[order], issue_idx[order]
    del order, first_row, day_key
    issue = start + issue_idx.astype("timedelta64[D]")

    arch = cust.archetype[ci]
    seg = cust.segment[ci]
    terms = cust.terms[ci]

    # ---- due dates from terms; credit notes are due on issue.
    due = np.where(
        terms == 1,
        _month_end(issue + np.timedelta64(45, "D")),
        issue + _TERMS_DAYS[terms].astype("timedelta64[D]"),
    )
    due = np.where(credit, issue, due)

    # ---- amounts: lognormal around the customer's level; credit notes are smaller refunds.
    z_amount = rng.standard_normal(n)
    amount = np.exp(cust.amount_mu[ci] + _AMOUNT_SIGMA * z_amount)
    amount = np.where(credit, -0.3 * amount, amount)
    cents = np.round(amount * 100).astype(np.int64)
    cents = np.where(credit, np.minimum(cents, -100), np.maximum(cents, 1_000))  # >= 10.00
    del amount

    # ---- the generating probabilities, as known at issue time.
    trouble = cust.trouble_day[ci]
    since_trouble = (issue - trouble).astype(np.float64)  # NaN unless deteriorating
    ramp = np.nan_to_num(np.clip(since_trouble / _RAMP_DAYS, 0.0, 1.0), nan=0.0)
    del since_trouble
    due_month = _month(due)
    season = np.where(
        (due_month == 7) | (due_month == 8),
        _SEASON_LOGIT_SUMMER,
        np.where(due_month == 12, _SEASON_LOGIT_DECEMBER, 0.0),
    )
    logit = (
        cust.logit[ci]
        + _RAMP_LOGIT * ramp
        + _AMOUNT_LOGIT * z_amount
        + _TERMS_LOGIT[terms]
        + season
        + _SEGMENT_LOGIT[seg]
    )
    del season, due_month
    p_late_nd = _sigmoid(logit)
    p_late_d = _sigmoid(logit + _DISPUTE_LOGIT)
    del logit
    p_disp = _P_DISPUTE[arch] + _RAMP_DISPUTE * ramp
    p_def = _P_DEFAULT[arch] + _RAMP_DEFAULT * ramp
    p_late = p_def + (1.0 - p_def) * (p_disp * p_late_d + (1.0 - p_disp) * p_late_nd)
    # Six decimals are plenty for a probability and halve the size of oracle.csv.
    p_late_out = np.clip(np.round(p_late, 6), 1e-6, 1 - 1e-6)

    # ---- draws, consistent with exactly p_late.
    defaults = (rng.random(n) < p_def) & ~credit
    disputed = (rng.random(n) < p_disp) & ~credit
    late_draw = rng.random(n) < np.where(disputed, p_late_d, p_late_nd)
    late = (defaults | late_draw) & ~credit
    del p_late_d, p_late_nd, p_disp, p_def, late_draw

    # ---- settlement date for invoices that will be paid (not defaults, not credit notes).
    term_len = (due - issue).astype(np.int64)
    # On time: between issue and due, skewed toward the due date; reliable payers earlier.
    early = np.floor(term_len * rng.beta(1.0, _EARLY_BETA_B[arch])).astype(np.int64)
    on_time_day = due - early.astype("timedelta64[D]")
    # Late: gamma days with the customer's scale (+ deterioration), + 20-60 days if disputed.
    scale = cust.late_days[ci] + _RAMP_LATE_DAYS * ramp
    days_late = np.ceil(rng.gamma(1.5, 1.0, n) * scale / 1.5).astype(np.int64)
    days_late += np.where(disputed, rng.integers(_DISPUTE_DELAY[0], _DISPUTE_DELAY[1] + 1, n), 0)
    days_late = np.maximum(days_late, 1)
    late_day = due + days_late.astype("timedelta64[D]")
    del early, scale, days_late, ramp
    # End-of-month payers pay on month ends: on time, the last day of the month before the due
    # date's month (or the due date itself when it is a month end); late, the end of the month
    # containing the due date (the next one if the due date is a month end), sometimes a month
    # later still. Disputed invoices follow the dispute, not the habit.
    eom = (arch == _EOM) & ~disputed
    due_eom = _month_end(due)
    due_is_eom = due_eom == due
    eom_on_time = np.where(due_is_eom, due, _month_start(due) - 1)
    eom_on_time = np.maximum(eom_on_time, issue)
    eom_late = np.where(due_is_eom, _month_end(due + np.timedelta64(1, "D")), due_eom)
    slip = rng.random(n) < 0.3
    eom_late = np.where(slip, _month_end(eom_late + np.timedelta64(1, "D")), eom_late)
    on_time_day = np.where(eom, eom_on_time, on_time_day)
    late_day = np.where(eom, eom_late, late_day)
    settle = np.where(late, late_day, on_time_day)
    del eom, due_eom, due_is_eom, eom_on_time, eom_late, slip, on_time_day, late_day, term_len

    # ---- disputes: opened between issue and min(due + 20, settlement); not in the export if
    # that is after end_date (the customer has not complained yet).
    dispute_end = np.where(defaults, due + np.timedelta64(20, "D"), np.minimum(settle, due + 20))
    span = (dispute_end - issue).astype(np.int64)
    dispute_day = issue + np.floor(rng.random(n) * (span + 1)).astype("timedelta64[D]")
    dispute_visible = disputed & (dispute_day <= end)
    del dispute_end, span

    # ---- payments (only those dated on or before end_date are exported).
    paid = ~defaults & ~credit
    n_parts = np.where(paid, 1, 0)
    split = paid & (rng.random(n) < _PARTIAL_SHARE)
    n_parts[split] = rng.integers(2, 4, int(split.sum()))
    # A quarter of bad debts get one partial payment before the customer stops paying.
    def_partial = defaults & (rng.random(n) < _DEFAULT_PARTIAL_SHARE)
    pay_inv: list[np.ndarray] = []
    pay_day: list[np.ndarray] = []
    pay_cents: list[np.ndarray] = []
    single = np.flatnonzero(n_parts == 1)
    pay_inv.append(single)
    pay_day.append(settle[single])
    pay_cents.append(cents[single])
    for k in (2, 3):  # loop over partial-payment counts, not over invoices
        idx = np.flatnonzero(n_parts == k)
        parts = _split_cents(rng, cents[idx], k)
        span = (settle[idx] - issue[idx]).astype(np.int64)
        # Earlier instalments at random dates between issue and settlement; the last one is
        # the settlement date.
        offs = np.sort(np.floor(rng.random((idx.size, k - 1)) * (span[:, None] + 1)), axis=1)
        days = np.concatenate(
            [issue[idx, None] + offs.astype("timedelta64[D]"), settle[idx, None]], axis=1
        )
        pay_inv.append(np.repeat(idx, k))
        pay_day.append(days.ravel())
        pay_cents.append(parts.ravel())
    # The bad debt's only payment: 20-60% of the amount, between issue and due + 60 days.
    idx = np.flatnonzero(def_partial)
    window = (due[idx] - issue[idx]).astype(np.int64) + 60
    offset = np.floor(rng.random(idx.size) * window).astype("timedelta64[D]")
    frac = rng.uniform(0.2, 0.6, idx.size)
    pay_inv.append(idx)
    pay_day.append(issue[idx] + offset)
    pay_cents.append(np.maximum(np.floor(cents[idx] * frac).astype(np.int64), 1))
    del window, offset, frac
    p_inv = np.concatenate(pay_inv)
    p_day = np.concatenate(pay_day)
    p_cents = np.concatenate(pay_cents)
    del pay_inv, pay_day, pay_cents, split, n_parts
    keep = p_day <= end
    p_inv, p_day, p_cents = p_inv[keep], p_day[keep], p_cents[keep]
    # Payments file sorted by date then invoice (ids assigned in that order). Two stable sorts
    # instead of a lexsort: by invoice (a few presorted runs, which timsort merges quickly),
    # then by day offset as a 16-bit key (radix sort).
    porder = np.argsort(p_inv, kind="stable")
    day_off = (p_day[porder] - start).astype(np.int64)
    day_key = day_off.astype(np.int16) if day_off.size and day_off.max() < 2**15 else day_off
    porder = porder[np.argsort(day_key, kind="stable")]
    p_inv, p_day, p_cents = p_inv[porder], p_day[porder], p_cents[porder]
    del keep, porder, day_off, day_key

    promises = _make_promises(
        np.random.default_rng([seed, _PROMISE_STREAM]),
        end,
        due,
        settle,
        defaults,
        credit,
        cents,
        (p_inv, p_day, p_cents),
    )

    # ---- frames.
    inv_width = max(7, len(str(n)))
    invoice_ids = _ids("INV-", n, inv_width)
    currency = np.where(cust.gbp[ci], 1, 0)
    invoices = pd.DataFrame(
        {
            "invoice_id": _strings(invoice_ids),
            "customer_id": _strings(cust.ids.take(pa.array(ci))),
            "issue_date": _timestamps(issue),
            "due_date": _timestamps(due),
            "amount": cents / 100.0,
            "currency": _labels(("EUR", "GBP"), currency),
            "disputed": dispute_visible.astype(np.int64),
            "dispute_opened_date": _timestamps(
                np.where(dispute_visible, dispute_day, np.datetime64("NaT", "D"))
            ),
        },
        copy=False,
    )
    pay_width = max(8, len(str(p_inv.size)))
    payments = pd.DataFrame(
        {
            "payment_id": _strings(_ids("P", p_inv.size, pay_width)),
            "invoice_id": _strings(invoice_ids.take(pa.array(p_inv))),
            "payment_date": _timestamps(p_day),
            "amount": p_cents / 100.0,
        },
        copy=False,
    )
    real = np.flatnonzero(~credit)
    oracle = pd.DataFrame(
        {
            "invoice_id": _strings(invoice_ids.take(pa.array(real))),
            "p_late": p_late_out[real],
            "archetype": _labels(ARCHETYPES, arch[real]),
            "trouble_date": _timestamps(trouble[real]),
            "late_outcome": late[real].astype(np.int64),
        },
        copy=False,
    )
    n_promises = promises["invoice"].size
    promise_ids = _ids("PRM-", n_promises, max(7, len(str(n_promises))))
    promises_frame = pd.DataFrame(
        {
            "promise_id": _strings(promise_ids),
            "invoice_id": _strings(invoice_ids.take(pa.array(promises["invoice"]))),
            "promised_on": _timestamps(promises["made"]),
            "promised_date": _timestamps(promises["promised"]),
            "amount": promises["amount"],
        },
        copy=False,
    )
    return Book(
        customers=cust.frame,
        invoices=invoices,
        payments=payments,
        oracle=oracle,
        promises=promises_frame,
    )


def _make_promises(
    rng: np.random.Generator,
    end: np.datetime64,
    due: np.ndarray,
    settle: np.ndarray,
    defaults: np.ndarray,
    credit: np.ndarray,
    cents: np.ndarray,
    payments: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> dict[str, np.ndarray]:
    """Promises to pay on overdue invoices, sorted by the day made, then invoice.

    Returns arrays ``invoice`` (row index), ``made``, ``promised`` (datetime64[D]) and ``amount``
    (float, NaN = the open amount). Only ``rng`` is drawn from; outcomes are read, not changed.
    """
    # Candidates: invoices overdue at the first possible chase, chased on or before end.
    first_chase = due + np.timedelta64(_CHASE_DAYS[0], "D")
    cand = np.flatnonzero(~credit & (defaults | (settle > first_chase)) & (first_chase <= end))
    chase = rng.integers(_CHASE_DAYS[0], _CHASE_DAYS[1] + 1, cand.size)
    made = due[cand] + chase.astype("timedelta64[D]")
    bad = defaults[cand]
    share = np.where(bad, _PROMISE_SHARE_DEFAULT, _PROMISE_SHARE_LATE)
    # A promise needs the invoice still unpaid when chased, and the chase to be in the book.
    take = (rng.random(cand.size) < share) & (bad | (made < settle[cand])) & (made <= end)
    gap = (settle[cand] - made).astype(np.int64)  # days from promise to payment (paid ones)
    kept = ~bad & ((rng.random(cand.size) < _PROMISE_KEPT) | (gap < 10))
    # Kept: the payment comes on the promised date or up to 3 days before it.
    kept_date = settle[cand] + rng.integers(0, 4, cand.size).astype("timedelta64[D]")
    # Broken: a date 1-14 days out that passes at least a week before any payment.
    room = np.where(bad, 14, np.clip(gap - 8, 1, 14))
    broken_date = made + (1 + np.floor(rng.random(cand.size) * room)).astype("timedelta64[D]")
    promised = np.where(kept, kept_date, broken_date)
    stated = rng.random(cand.size) < _PROMISE_AMOUNT_SHARE
    cand, made, promised, stated = cand[take], made[take], promised[take], stated[take]
    # The open amount when the promise is made: invoice amount less the payments before it.
    p_inv, p_day, p_cents = payments
    made_of = np.full(cents.size, np.datetime64("NaT", "D"))
    made_of[cand] = made
    before = p_day < made_of[p_inv]  # NaT compares False: invoices without a promise
    paid = np.bincount(p_inv[before], weights=p_cents[before], minlength=cents.size)
    open_cents = cents[cand] - paid[cand].astype(np.int64)
    amount = np.where(stated & (open_cents > 0), open_cents / 100.0, np.nan)
    order = np.lexsort((cand, made))
    return {
        "invoice": cand[order],
        "made": made[order],
        "promised": promised[order],
        "amount": amount[order],
    }


# --------------------------------------------------------------------------------------------
# Writing.
# --------------------------------------------------------------------------------------------
def _arrow_column(series: pd.Series, name: str) -> pa.Array:
    """One column in its CSV form: ISO dates, amounts with exactly two decimals, plain text."""
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        return pa.array(series, from_pandas=True).cast(pa.date32())
    if name == "amount":
        # decimal(18, 2) makes the writer print "1234.50" and "-12.00"; the cast rounds to cents.
        # NaN (an optional amount left out) is written as an empty field.
        values = pa.array(series.to_numpy(dtype=np.float64), from_pandas=True)
        return values.cast(pa.decimal128(18, 2))
    if isinstance(series.dtype, pd.CategoricalDtype):
        return pa.array(series.astype(str), type=pa.string())
    values = pa.array(series, from_pandas=True)
    if pa.types.is_large_string(values.type) or pa.types.is_string_view(values.type):
        values = values.cast(pa.string())
    return values


_STRUCTURAL = '[,"\\r\\n]'


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    """Write one table with an unquoted canonical header and quotes only where needed."""
    table = pa.table({c: _arrow_column(frame[c], c) for c in frame.columns})
    needs_quotes = any(
        pa.types.is_string(col.type) and pc.any(pc.match_substring_regex(col, _STRUCTURAL)).as_py()
        for col in table.columns
    )
    if needs_quotes:
        # Arrow quotes either every string or none, so free text (customer names with commas)
        # goes through pandas' minimal quoting. Only the customers table takes this path, and it
        # is small (one row per customer); the values are already in their CSV form.
        table.to_pandas().to_csv(path, index=False, lineterminator="\n", encoding="utf-8")
        return
    with path.open("wb") as fh:
        fh.write((",".join(table.column_names) + "\n").encode("utf-8"))
        pacsv.write_csv(
            table,
            fh,
            write_options=pacsv.WriteOptions(include_header=False, quoting_style="none"),
        )


def write_book(book: Book, out_dir: Path) -> dict[str, Path]:
    """Write the five tables as UTF-8 CSV into ``out_dir`` (created if needed).

    Returns ``{"customers": path, "invoices": path, "payments": path, "promises": path,
    "oracle": path}``.
    Dates are ``YYYY-MM-DD``, amounts have two decimals, missing values are empty fields.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for name in ("customers", "invoices", "payments", "promises", "oracle"):
        path = out_dir / f"{name}.csv"
        _write_csv(getattr(book, name), path)
        paths[name] = path
    return paths
