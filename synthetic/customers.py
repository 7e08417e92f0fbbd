"""Customers: profile (archetype, country, segment, terms, channel, collector), name, habits.

Grain: one row per customer; arrays are indexed by customer number (0-based; the id is
``C`` + number + 1). The draws happen in a fixed order (profile, name, habits, life, currency):
changing it changes every book of a seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from synthetic.columns import ids, labels, strings
from synthetic.params import (
    ALREADY_CUSTOMER_SHARE,
    ARCH_SHARE,
    ARCHETYPES,
    CHANNEL_SHARE,
    CHANNELS,
    COLLECTORS,
    COUNTRIES,
    COUNTRY_SHARE,
    CUSTOMERS_PER_COLLECTOR,
    DETERIORATING,
    GB_GBP_SHARE,
    LAST_ARRIVAL_DAYS,
    LATE_DAYS_MEAN,
    LEGAL_FORMS,
    LOGIT_MEAN,
    LOGIT_SD,
    NAME_ACTIVITY,
    NAME_FIRST,
    NAME_PARTNER,
    NAME_PATTERN_SHARE,
    SEGMENT_AMOUNT,
    SEGMENT_DELAY,
    SEGMENT_SHARE,
    SEGMENT_VOLUME,
    SEGMENTS,
    TERMS,
    TERMS_DAYS,
    TERMS_SHARE,
    TROUBLE_WINDOW,
)


@dataclass(frozen=True)
class Customers:
    """Per-customer arrays (index = customer number) used by the invoice generation."""

    archetype: np.ndarray  # index into ARCHETYPES
    country: np.ndarray  # index into COUNTRIES
    segment: np.ndarray  # index into SEGMENTS
    terms: np.ndarray  # index into TERMS
    logit: np.ndarray  # latent lateness propensity
    late_days: np.ndarray  # mean days late when late
    amount_mu: np.ndarray  # mean log-amount of an invoice
    volume: np.ndarray  # relative number of invoices
    entry_day: np.ndarray  # index into the period's days of the first possible invoice
    trouble_day: np.ndarray  # datetime64[D]; NaT unless deteriorating
    gbp: np.ndarray  # invoiced in GBP (else EUR)
    ids: pa.Array
    frame: pd.DataFrame  # the customers table (CUSTOMER_COLUMNS)


def make_customers(
    rng: np.random.Generator, n: int, start: np.datetime64, n_days: int
) -> Customers:
    """Draw ``n`` customers active over the ``n_days`` days from ``start``."""
    archetype, country, segment, terms, channel = _profile(rng, n)
    n_collectors = int(np.clip(round(n / CUSTOMERS_PER_COLLECTOR), 2, len(COLLECTORS)))
    collector = rng.integers(0, n_collectors, n)
    names = _customer_names(rng, country)
    logit, late_days, amount_mu, volume = _habits(rng, archetype, segment)
    entry_day, trouble_day = _life(rng, archetype, start, n_days)
    gbp = (np.asarray(COUNTRIES)[country] == "GB") & (rng.random(n) < GB_GBP_SHARE)

    customer_ids = ids("C", n, max(5, len(str(n))))
    frame = pd.DataFrame(
        {
            "customer_id": strings(customer_ids),
            "name": strings(pa.array(names, type=pa.string())),
            "country": labels(COUNTRIES, country),
            "segment": labels(SEGMENTS, segment),
            "payment_terms_days": TERMS_DAYS[terms].astype(np.int64),
            "payment_terms": labels(TERMS, terms),
            "preferred_channel": labels(CHANNELS, channel),
            "collector": labels(COLLECTORS[:n_collectors], collector),
        }
    )
    return Customers(
        archetype, country, segment, terms, logit, late_days, amount_mu, volume, entry_day,
        trouble_day, gbp, customer_ids, frame,
    )  # fmt: skip


def _profile(rng: np.random.Generator, n: int) -> tuple[np.ndarray, ...]:
    """Archetype, country, segment, terms and channel codes, drawn independently by share."""
    archetype = rng.choice(len(ARCHETYPES), size=n, p=ARCH_SHARE)
    country = rng.choice(len(COUNTRIES), size=n, p=COUNTRY_SHARE)
    segment = rng.choice(len(SEGMENTS), size=n, p=SEGMENT_SHARE)
    terms = rng.choice(len(TERMS), size=n, p=TERMS_SHARE)
    channel = rng.choice(len(CHANNELS), size=n, p=CHANNEL_SHARE)
    return archetype, country, segment, terms, channel


def _customer_names(rng: np.random.Generator, country: np.ndarray) -> np.ndarray:
    """Plausible, deterministic company names; some carry commas and accents (CSV quoting)."""
    n = country.size
    first = np.asarray(NAME_FIRST, dtype=object)
    activity = np.asarray(NAME_ACTIVITY, dtype=object)
    partner = np.asarray(NAME_PARTNER, dtype=object)
    a = first[rng.integers(0, first.size, n)]
    b = activity[rng.integers(0, activity.size, n)]
    c = first[rng.integers(0, first.size, n)]
    p = partner[rng.integers(0, partner.size, n)]
    pattern = rng.choice(4, size=n, p=NAME_PATTERN_SHARE)
    # "Martin Logistique", "Martin & Rossi", "Martin, Rossi et Fils", "Logistique Martin".
    name = np.where(pattern == 0, a + " " + b, "")
    name = np.where(pattern == 1, a + " & " + c, name)
    name = np.where(pattern == 2, a + ", " + c + " et " + p, name)
    name = np.where(pattern == 3, b + " " + a, name)
    form = np.empty(n, dtype=object)
    for i, code in enumerate(COUNTRIES):  # loop over 7 countries, not over customers
        mask = country == i
        forms = np.asarray(LEGAL_FORMS[code], dtype=object)
        form[mask] = forms[rng.integers(0, forms.size, int(mask.sum()))]
    return name + " " + form


def _habits(
    rng: np.random.Generator, archetype: np.ndarray, segment: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Lateness logit, mean days late, mean log-amount and relative invoice volume."""
    n = archetype.size
    logit = LOGIT_MEAN[archetype] + LOGIT_SD[archetype] * rng.standard_normal(n)
    late_days = LATE_DAYS_MEAN[archetype] * np.exp(0.35 * rng.standard_normal(n) - 0.35**2 / 2)
    late_days *= SEGMENT_DELAY[segment]
    # Customer-level amount level: some customers buy bigger than their segment's median.
    amount_mu = np.log(SEGMENT_AMOUNT[segment]) + 0.5 * rng.standard_normal(n)
    # Heavy-tailed volume: a few large accounts with many invoices, a long tail with few.
    volume = SEGMENT_VOLUME[segment] * rng.lognormal(0.0, 1.1, n)
    return logit, late_days, amount_mu, volume


def _life(
    rng: np.random.Generator, archetype: np.ndarray, start: np.datetime64, n_days: int
) -> tuple[np.ndarray, np.ndarray]:
    """Entry day (index into the period) and trouble date (NaT unless deteriorating)."""
    n = archetype.size
    # Most customers are already customers at the start; others arrive during the period (at
    # the latest LAST_ARRIVAL_DAYS before the end so they have some history).
    arrives = rng.random(n) >= ALREADY_CUSTOMER_SHARE
    entry_day = np.where(arrives, rng.integers(0, max(n_days - LAST_ARRIVAL_DAYS, 1), n), 0)
    # Deteriorating customers: trouble starts in the second half of the period (before 90% of
    # it so that the ramp is visible in the export).
    trouble_offset = np.floor(n_days * rng.uniform(*TROUBLE_WINDOW, n)).astype(np.int64)
    trouble_day = np.where(
        archetype == DETERIORATING,
        start + trouble_offset.astype("timedelta64[D]"),
        np.datetime64("NaT", "D"),
    )
    return entry_day, trouble_day
