"""The dunning ladder of French collections practice (README, "For collectors") and what it asks
next of each open invoice, given what the ledger says was done (models/ledger.py).

Steps are dated relative to the due date (J): a friendly reminder at J-7, a reminder on the due
date, a first reminder at J+3, a phone call at J+7, a final reminder at J+14, then formal notice
by registered letter (mise en demeure) at J+30 and, last, a hand-over to a collection agency at
J+60. Where the model sees a high risk of lateness, the pre-due steps come earlier (J-14 reminder,
J-3 call) so that the customer is reached while the invoice can still be paid on time.

On top of the ladder, per invoice, in this order of precedence:
- handed over to an agency (in the ledger): no further action, off the collectors' list;
- disputed: "resolve the dispute" (the ladder pauses), due when the dispute opened and again
  DISPUTE_FOLLOW_UP_DAYS after the last action on the invoice;
- the latest promise to pay: pending, it pauses the invoice until the promised date (then "check
  the payment"); broken (promised date passed, still open), it calls for a call for
  BROKEN_PROMISE_DAYS days, unless a call was made since;
- otherwise the next step of the ladder.

Sent steps go by the customer's preferred channel; calls stay calls; the formal notice goes by
registered letter. Every date falls on a business day of the customer's country.

Pure functions over DataFrames: no I/O, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from models.penalties import interest_owed

# The channel of a step; PREFERRED means the customer's preferred channel.
PREFERRED = "preferred"
CHANNELS = ("email", "letter", "sms", "phone")
DEFAULT_CHANNEL = "email"


@dataclass(frozen=True)
class Step:
    key: str
    offset_days: int  # days after the due date (negative: before)
    action: str  # what the collector does, in plain words
    channel: str
    kind: str  # reminder | call | formal_notice | agency: which ledger action does it


LADDER = (
    Step("friendly_reminder", -7, "friendly reminder before the due date", PREFERRED, "reminder"),
    Step("due_date_reminder", 0, "reminder on the due date", PREFERRED, "reminder"),
    Step("first_reminder", 3, "first reminder", PREFERRED, "reminder"),
    Step("second_reminder_call", 7, "second reminder: call the customer", "phone", "call"),
    Step("final_reminder", 14, "final reminder before formal notice", PREFERRED, "reminder"),
    Step(
        "formal_notice",
        30,
        "formal notice by registered letter (mise en demeure)",
        "registered letter",
        "formal_notice",
    ),
    Step("collection_agency", 60, "hand over to a collection agency", "agency", "agency"),
)
# High risk: the pre-due steps come earlier and a call before the due date is added.
HIGH_RISK_LADDER = (
    Step("friendly_reminder", -14, "friendly reminder before the due date", PREFERRED, "reminder"),
    Step("pre_due_call", -3, "call to confirm the payment is scheduled", "phone", "call"),
    *LADDER[1:],
)
DEFAULT_HIGH_RISK = 0.5  # p_late at or above which the high-risk ladder applies
# A broken promise calls for a call for this many days after the promised date, then the
# ladder takes over again.
BROKEN_PROMISE_DAYS = 7
# A dispute asks to be followed up again this many days after the last action on its invoice.
DISPUTE_FOLLOW_UP_DAYS = 14

NOT_STARTED = "not started"
WITH_AGENCY = "with the agency"
DISPUTE_PAUSED = "paused: disputed"
PROMISE_PAUSED = "paused: promise to pay"
RESOLVE_DISPUTE = "resolve the dispute (dunning paused)"
CHECK_PROMISE = "check_promise"
BROKEN_PROMISE = "call: the promise to pay was broken"

PLAN_COLUMNS = [
    "dunning_stage",
    "next_action_key",
    "next_action",
    "next_action_date",
    "next_action_channel",
    "high_risk",
    "last_step_date",
    "last_step_assumed",
    "promise_status",
    "with_agency",
]


def preferred_channel(values: pd.Series) -> pd.Series:
    """The customer's preferred channel among CHANNELS; email when unknown."""
    text = values.astype("object").where(values.notna(), "").astype(str).str.strip().str.lower()
    return text.where(text.isin(CHANNELS), DEFAULT_CHANNEL)


def late_penalties(
    invoices: pd.DataFrame,
    as_of: pd.Timestamp,
    *,
    rates: pd.DataFrame,
    recovery_fee: float = 40.0,
    french_law: frozenset[str] = frozenset({"FR"}),
) -> pd.DataFrame:
    """French statutory late-payment penalties owed on each invoice at `as_of`, as the letters
    state them (models/penalties.py; Code de commerce L441-10): interest from the day after the
    due date on the amount still open, per half-year at the ECB rate of `rates` + 10 points,
    each half-year to the cent; and the flat recovery indemnity per late invoice of a customer
    under French law (its `country` in `french_law`; none without a country). Invoices not yet
    due, and credit notes, owe nothing. `invoices`: open_amount, due_date, days_past_due and
    optionally country. (Payments received earlier reduced the base of earlier days: a slight
    underestimate for partly paid invoices.)"""
    interest = interest_owed(invoices["open_amount"], invoices["due_date"], as_of, rates)
    late = ((invoices["days_past_due"] > 0) & (invoices["open_amount"] > 0)).to_numpy()
    country = invoices.get("country", pd.Series(None, index=invoices.index, dtype=object))
    french = country.fillna("").astype(str).str.upper().str[:2].isin(list(french_law))
    fee = np.where(late & french.to_numpy(), recovery_fee, 0.0)
    return pd.DataFrame(
        {"late_interest": interest.to_numpy(float), "recovery_fee": fee}, index=invoices.index
    )
