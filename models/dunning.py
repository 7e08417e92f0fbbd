"""The dunning ladder of French collections practice (README, "For collectors") and what it says
to do next, per open invoice.

Steps are dated relative to the due date (J): a friendly reminder at J-7, a reminder on the due
date, a first reminder at J+3, a phone call at J+7, a final reminder at J+14, then formal notice
by registered letter (mise en demeure) and, last, a collection agency. Where the model sees a
high risk of lateness, the pre-due steps come earlier (J-14 reminder, J-3 call) so that the
customer is reached while the invoice can still be paid on time.

latepay does not know which reminders were actually sent: it assumes each step was taken on its
date. The *stage* of an invoice is the last step whose date has come; the *next action* is that
step when it falls on the as-of date, otherwise the following step, with its date. Disputed
invoices pause the ladder (resolve the dispute first); a pending promise to pay pauses it until
the promised date; a promise broken in the last 30 days calls for a call today.

Pure functions over DataFrames: no I/O, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

# The channel of a step; PREFERRED means the customer's preferred channel.
PREFERRED = "preferred"


@dataclass(frozen=True)
class Step:
    key: str
    offset_days: int  # days after the due date (negative: before)
    action: str  # what the collector does, in plain words
    channel: str


LADDER = (
    Step("friendly_reminder", -7, "friendly reminder before the due date", PREFERRED),
    Step("due_date_reminder", 0, "reminder on the due date", PREFERRED),
    Step("first_reminder", 3, "first reminder", PREFERRED),
    Step("second_reminder_call", 7, "second reminder: call the customer", "phone"),
    Step("final_reminder", 14, "final reminder before formal notice", PREFERRED),
    Step("formal_notice", 30, "formal notice by registered letter (mise en demeure)", "letter"),
    Step("collection_agency", 60, "hand over to a collection agency", "agency"),
)
# High risk: the pre-due steps come earlier and a call before the due date is added.
HIGH_RISK_LADDER = (
    Step("friendly_reminder", -14, "friendly reminder before the due date", PREFERRED),
    Step("pre_due_call", -3, "call to confirm the payment is scheduled", "phone"),
    *LADDER[1:],
)
DEFAULT_HIGH_RISK = 0.5  # p_late at or above which the high-risk ladder applies
# A promise broken within this many days calls for a call; after that the ladder has moved on.
BROKEN_PROMISE_DAYS = 30

NOT_STARTED = "not started"
DISPUTE_PAUSED = "paused: disputed"
PROMISE_PAUSED = "paused: promise to pay"
RESOLVE_DISPUTE = "resolve the dispute (dunning paused)"
BROKEN_PROMISE = "call: the promise to pay was broken"
NO_FURTHER_STEP = "none: with the collection agency"

PLAN_COLUMNS = [
    "dunning_stage",
    "next_action",
    "next_action_date",
    "next_action_channel",
    "high_risk",
]


def _ladder_plan(
    days_past_due: np.ndarray, ladder: tuple[Step, ...]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Stage, next action, its offset from the due date and channel for invoices on `ladder`."""
    offsets = np.array([s.offset_days for s in ladder])
    reached = np.searchsorted(offsets, days_past_due, side="right") - 1  # −1: not started
    # The step due today is the next action; otherwise the first step still to come.
    today = (reached >= 0) & (offsets[np.clip(reached, 0, None)] == days_past_due)
    nxt = np.where(today, reached, reached + 1)
    stage = np.array([NOT_STARTED] + [s.key for s in ladder], dtype=object)[reached + 1]
    finished = nxt >= len(ladder)
    nxt_c = np.clip(nxt, 0, len(ladder) - 1)
    action = np.array([s.action for s in ladder], dtype=object)[nxt_c]
    channel = np.array([s.channel for s in ladder], dtype=object)[nxt_c]
    offset = offsets[nxt_c].astype(float)
    action[finished] = NO_FURTHER_STEP
    channel[finished] = "agency"
    offset[finished] = np.nan
    return stage, action, offset, channel


def dunning_plan(
    invoices: pd.DataFrame,
    as_of: pd.Timestamp | str,
    *,
    high_risk_threshold: float = DEFAULT_HIGH_RISK,
) -> pd.DataFrame:
    """The ladder stage and next action of each open invoice at `as_of`.

    `invoices` (one row per open invoice): due_date, days_past_due (as_of − due date),
    is_disputed, p_late, preferred_channel, and optionally promised_date (latest promise to pay,
    NaT when none). Returns PLAN_COLUMNS on the same index: dunning_stage (a step key, "not
    started" or a pause), next_action (plain words), next_action_date, next_action_channel (the
    customer's preferred channel where the step uses it), high_risk (bool).
    """
    as_of = pd.Timestamp(as_of)
    dpd = invoices["days_past_due"].to_numpy(dtype="int64")
    p_late = invoices["p_late"].to_numpy(dtype=float)
    high = np.nan_to_num(p_late, nan=0.0) >= high_risk_threshold
    due = pd.to_datetime(invoices["due_date"]).to_numpy()

    stage = np.empty(len(invoices), dtype=object)
    action = np.empty(len(invoices), dtype=object)
    offset = np.full(len(invoices), np.nan)
    channel = np.empty(len(invoices), dtype=object)
    for ladder, mask in ((LADDER, ~high), (HIGH_RISK_LADDER, high)):
        s, a, o, c = _ladder_plan(dpd[mask], ladder)
        stage[mask], action[mask], offset[mask], channel[mask] = s, a, o, c

    plan = pd.DataFrame(
        {
            "dunning_stage": stage,
            "next_action": action,
            "next_action_date": pd.Series(due, index=invoices.index)
            + pd.to_timedelta(offset, unit="D"),
            "next_action_channel": channel,
            "high_risk": high,
        },
        index=invoices.index,
    )
    preferred = invoices.get("preferred_channel", pd.Series("email", index=invoices.index))
    uses_preferred = plan["next_action_channel"] == PREFERRED
    plan.loc[uses_preferred, "next_action_channel"] = preferred[uses_preferred].fillna("email")

    _apply_promises(plan, invoices, as_of, preferred)
    _apply_disputes(plan, invoices, as_of, preferred)
    return plan[PLAN_COLUMNS]


def _apply_promises(
    plan: pd.DataFrame, invoices: pd.DataFrame, as_of: pd.Timestamp, preferred: pd.Series
) -> None:
    """A pending promise pauses the ladder until the promised date; a broken one (promised date
    passed, invoice still open) calls for a call today. In place."""
    promised = pd.to_datetime(
        invoices.get("promised_date", pd.Series(pd.NaT, index=invoices.index))
    )
    pending = promised >= as_of
    broken = (promised < as_of) & (promised >= as_of - pd.Timedelta(days=BROKEN_PROMISE_DAYS))
    plan.loc[pending, "dunning_stage"] = PROMISE_PAUSED
    plan.loc[pending, "next_action"] = "check the payment promised for " + promised[
        pending
    ].dt.strftime("%Y-%m-%d")
    plan.loc[pending, "next_action_date"] = promised[pending] + pd.Timedelta(days=1)
    plan.loc[pending, "next_action_channel"] = preferred[pending].fillna("email")
    plan.loc[broken, "next_action"] = BROKEN_PROMISE
    plan.loc[broken, "next_action_date"] = as_of
    plan.loc[broken, "next_action_channel"] = "phone"


def _apply_disputes(
    plan: pd.DataFrame, invoices: pd.DataFrame, as_of: pd.Timestamp, preferred: pd.Series
) -> None:
    """Disputes pause dunning whatever else applies. In place."""
    disputed = invoices["is_disputed"].astype(bool)
    plan.loc[disputed, "dunning_stage"] = DISPUTE_PAUSED
    plan.loc[disputed, "next_action"] = RESOLVE_DISPUTE
    plan.loc[disputed, "next_action_date"] = as_of
    plan.loc[disputed, "next_action_channel"] = preferred[disputed].fillna("email")


def late_penalties(
    open_amount: pd.Series,
    days_past_due: pd.Series,
    *,
    annual_rate: float,
    recovery_fee: float = 40.0,
) -> pd.DataFrame:
    """French statutory late-payment penalties owed on each invoice at the as-of date.

    Interest = open amount × annual rate × days past due / 365 (Code de commerce L441-10: due
    from the day after the due date, without reminder; the default rate is the ECB main
    refinancing rate + 10 points), plus a flat recovery indemnity (€40) per late invoice. Invoices
    not yet due, and credit notes, owe nothing. The interest is computed on the amount still open
    at the as-of date (payments received earlier reduced the base of earlier days: a slight
    underestimate for partly paid invoices).
    """
    late = (days_past_due > 0) & (open_amount > 0)
    interest = (open_amount * annual_rate * days_past_due / 365).where(late, 0.0)
    fee = pd.Series(np.where(late, recovery_fee, 0.0), index=open_amount.index)
    return pd.DataFrame({"late_interest": interest.astype(float), "recovery_fee": fee})
