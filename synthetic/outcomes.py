"""Outcomes: the generating probabilities, the drawn outcomes, settlement and dispute dates.

Grain: one value per invoice, in invoice-id order. ``p_late`` is the exact probability, as
known at issue time, that the invoice is settled after its due date (never paid counts as late);
the draws are consistent with exactly that probability. Dates are ``datetime64[D]`` and may be
after the book's end date (the pipeline only sees what happened by then).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from synthetic.customers import Customers
from synthetic.dates import month, month_end, month_start
from synthetic.invoices import Invoices
from synthetic.params import (
    AMOUNT_LOGIT,
    DISPUTE_DELAY,
    DISPUTE_LOGIT,
    DISPUTE_WINDOW_DAYS,
    EARLY_BETA_B,
    END_OF_MONTH,
    EOM_SLIP_SHARE,
    P_DEFAULT,
    P_DISPUTE,
    RAMP_DAYS,
    RAMP_DEFAULT,
    RAMP_DISPUTE,
    RAMP_LATE_DAYS,
    RAMP_LOGIT,
    SEASON_LOGIT_DECEMBER,
    SEASON_LOGIT_SUMMER,
    SEGMENT_LOGIT,
    TERMS_LOGIT,
)


@dataclass(frozen=True)
class Outcomes:
    """Per-invoice truth; credit notes are never late, defaulted or disputed."""

    p_late: np.ndarray  # the oracle's probability, rounded to 6 decimals, in (0, 1)
    defaults: np.ndarray  # bool: never paid in full (bad debt)
    late: np.ndarray  # bool: settled after due, or never
    settle: np.ndarray  # datetime64[D]: settlement date (meaningless for bad debts)
    dispute_day: np.ndarray  # datetime64[D]: when a dispute is opened (meaningless if none)
    dispute_visible: np.ndarray  # bool: disputed, opened on or before the end date


def draw_outcomes(
    rng: np.random.Generator, inv: Invoices, cust: Customers, end: np.datetime64
) -> Outcomes:
    """Draw each invoice's fate: default, dispute, lateness, settlement and dispute dates."""
    ramp = _deterioration_ramp(inv, cust)
    p_late, defaults, disputed, late = _draw_lateness(rng, inv, cust, ramp)
    settle = _settlement_dates(rng, inv, cust, ramp, disputed, late)
    del ramp  # n floats: freed before the dispute dates' temporaries
    dispute_day = _dispute_dates(rng, inv, settle, defaults)
    dispute_visible = disputed & (dispute_day <= end)  # not yet complained about otherwise
    return Outcomes(p_late, defaults, late, settle, dispute_day, dispute_visible)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _deterioration_ramp(inv: Invoices, cust: Customers) -> np.ndarray:
    """0 before a deteriorating customer's trouble date, rising to 1 over RAMP_DAYS after it."""
    since_trouble = (inv.issue - cust.trouble_day[inv.customer]).astype(np.float64)  # NaN: none
    return np.nan_to_num(np.clip(since_trouble / RAMP_DAYS, 0.0, 1.0), nan=0.0)


def _logit(inv: Invoices, cust: Customers, ramp: np.ndarray) -> np.ndarray:
    """Logit of P(late | not disputed, not defaulted): customer, deterioration, amount, terms,
    season of the due date and segment (summed in this order; the order fixes the floats)."""
    ci = inv.customer
    due_month = month(inv.due)
    season = np.where(
        (due_month == 7) | (due_month == 8),
        SEASON_LOGIT_SUMMER,
        np.where(due_month == 12, SEASON_LOGIT_DECEMBER, 0.0),
    )
    return (
        cust.logit[ci]
        + RAMP_LOGIT * ramp
        + AMOUNT_LOGIT * inv.z_amount
        + TERMS_LOGIT[cust.terms[ci]]
        + season
        + SEGMENT_LOGIT[cust.segment[ci]]
    )


def _draw_lateness(
    rng: np.random.Generator, inv: Invoices, cust: Customers, ramp: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(p_late, defaults, disputed, late)``: the oracle's probability and draws matching it.

    The intermediate probabilities stay local so that they are freed on return.
    """
    logit = _logit(inv, cust, ramp)
    p_late_plain = _sigmoid(logit)
    p_late_disputed = _sigmoid(logit + DISPUTE_LOGIT)
    del logit
    p_dispute = P_DISPUTE[inv.archetype] + RAMP_DISPUTE * ramp
    p_default = P_DEFAULT[inv.archetype] + RAMP_DEFAULT * ramp
    p_late = p_default + (1.0 - p_default) * (
        p_dispute * p_late_disputed + (1.0 - p_dispute) * p_late_plain
    )
    # Six decimals are plenty for a probability and halve the size of oracle.csv.
    p_late_out = np.clip(np.round(p_late, 6), 1e-6, 1 - 1e-6)
    del p_late

    n, credit = inv.credit.size, inv.credit
    defaults = (rng.random(n) < p_default) & ~credit
    disputed = (rng.random(n) < p_dispute) & ~credit
    late_draw = rng.random(n) < np.where(disputed, p_late_disputed, p_late_plain)
    late = (defaults | late_draw) & ~credit
    return p_late_out, defaults, disputed, late


def _settlement_dates(
    rng: np.random.Generator,
    inv: Invoices,
    cust: Customers,
    ramp: np.ndarray,
    disputed: np.ndarray,
    late: np.ndarray,
) -> np.ndarray:
    """Settlement date of each invoice that will be paid (meaningless for the others).

    End-of-month payers pay on month ends; disputed invoices follow the dispute, not the habit.
    """
    on_time_day, late_day = _usual_payment_dates(rng, inv, cust, ramp, disputed)
    eom = (inv.archetype == END_OF_MONTH) & ~disputed
    eom_on_time, eom_late = _month_end_payment_dates(rng, inv.issue, inv.due)
    on_time_day = np.where(eom, eom_on_time, on_time_day)
    late_day = np.where(eom, eom_late, late_day)
    return np.where(late, late_day, on_time_day)


def _usual_payment_dates(
    rng: np.random.Generator,
    inv: Invoices,
    cust: Customers,
    ramp: np.ndarray,
    disputed: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """``(on_time_day, late_day)``: the payment date if on time, and if late."""
    issue, due = inv.issue, inv.due
    term_len = (due - issue).astype(np.int64)
    # On time: between issue and due, skewed toward the due date; reliable payers earlier.
    early = np.floor(term_len * rng.beta(1.0, EARLY_BETA_B[inv.archetype])).astype(np.int64)
    on_time_day = due - early.astype("timedelta64[D]")
    # Late: gamma days with the customer's scale (+ deterioration), + 20-60 days if disputed.
    scale = cust.late_days[inv.customer] + RAMP_LATE_DAYS * ramp
    days_late = np.ceil(rng.gamma(1.5, 1.0, due.size) * scale / 1.5).astype(np.int64)
    dispute_delay = rng.integers(DISPUTE_DELAY[0], DISPUTE_DELAY[1] + 1, due.size)
    days_late += np.where(disputed, dispute_delay, 0)
    days_late = np.maximum(days_late, 1)
    return on_time_day, due + days_late.astype("timedelta64[D]")


def _month_end_payment_dates(
    rng: np.random.Generator, issue: np.ndarray, due: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``(on_time_day, late_day)`` of an end-of-month payer.

    On time: the last day of the month before the due date's month (or the due date itself when
    it is a month end), never before issue. Late: the end of the month containing the due date
    (the next one if the due date is a month end), sometimes a month later still.
    """
    due_eom = month_end(due)
    due_is_eom = due_eom == due
    on_time = np.maximum(np.where(due_is_eom, due, month_start(due) - 1), issue)
    late = np.where(due_is_eom, month_end(due + np.timedelta64(1, "D")), due_eom)
    slip = rng.random(due.size) < EOM_SLIP_SHARE
    return on_time, np.where(slip, month_end(late + np.timedelta64(1, "D")), late)


def _dispute_dates(
    rng: np.random.Generator, inv: Invoices, settle: np.ndarray, defaults: np.ndarray
) -> np.ndarray:
    """Date each invoice's dispute would be opened: between issue and min(due + 20, settlement).

    Drawn for every invoice (one draw each keeps the stream aligned); only disputed ones use it.
    """
    issue, due = inv.issue, inv.due
    window = np.timedelta64(DISPUTE_WINDOW_DAYS, "D")
    dispute_end = np.where(defaults, due + window, np.minimum(settle, due + window))
    span = (dispute_end - issue).astype(np.int64)
    return issue + np.floor(rng.random(issue.size) * (span + 1)).astype("timedelta64[D]")
