"""Each open invoice's plan at a date: its stage on the dunning ladder, what is due next, when and
by which channel, with the ledger's actions, disputes and promises taken into account (the rules
are in models/dunning.py and models/ledger.py).

Pure functions over DataFrames: no I/O, no clock.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.calendar import roll_forward
from models.dunning import (
    BROKEN_PROMISE,
    BROKEN_PROMISE_DAYS,
    CHECK_PROMISE,
    DEFAULT_HIGH_RISK,
    DISPUTE_FOLLOW_UP_DAYS,
    DISPUTE_PAUSED,
    HIGH_RISK_LADDER,
    LADDER,
    NOT_STARTED,
    PLAN_COLUMNS,
    PREFERRED,
    PROMISE_PAUSED,
    RESOLVE_DISPUTE,
    WITH_AGENCY,
    Step,
    preferred_channel,
)
from models.ledger import index_in, invoice_events, ladder_position


def dunning_plan(
    invoices: pd.DataFrame,
    as_of: pd.Timestamp | str,
    *,
    actions: pd.DataFrame | None = None,
    ledger_start: pd.Timestamp | str | None = None,
    high_risk_threshold: float = DEFAULT_HIGH_RISK,
) -> pd.DataFrame:
    """The plan of each open invoice at `as_of` (PLAN_COLUMNS, on the invoices' index).

    `invoices` (one row per open invoice): invoice_id, customer_id, issue_date, due_date,
    days_past_due, is_disputed, p_late, and optionally preferred_channel, country,
    dispute_opened_date, promised_date and promised_on (the latest promise to pay; NaT when
    none). `actions`: the ledger (customer_id, invoice_id, action_date, action), or None.
    `ledger_start`: before it every step is assumed taken on its date; by default the first
    action of the ledger, or `as_of` when the ledger is empty.
    """
    as_of = pd.Timestamp(as_of)
    events = invoice_events(actions, invoices, as_of)
    if ledger_start is None:
        ledger_start = events["action_date"].min() if len(events) else as_of
    high = np.nan_to_num(invoices["p_late"].to_numpy(dtype=float), nan=0.0) >= high_risk_threshold
    channel = preferred_channel(
        invoices.get("preferred_channel", pd.Series(None, index=invoices.index, dtype=object))
    )
    plan = pd.DataFrame(index=invoices.index, columns=PLAN_COLUMNS)
    plan["high_risk"] = high
    parts = []
    # (only the columns the ladder reads: copying every feature of 820,000 rows took long)
    needed = [c for c in ("invoice_id", "due_date", "country") if c in invoices]
    for ladder, rows in ((LADDER, ~high), (HIGH_RISK_LADDER, high)):
        part = invoices.loc[rows, needed]
        position = ladder_position(part, ladder, events, pd.Timestamp(ledger_start), as_of)
        parts.append(_ladder_columns(part.index, ladder, position, channel))
    # (set whole columns at once: .loc row by label on 820,000 invoices took seconds)
    ladders = pd.concat(parts).reindex(invoices.index)
    dates = ["next_action_date", "last_step_date"]
    plan[ladders.columns] = ladders.astype(dict.fromkeys(ladders.columns.drop(dates), object))
    plan["promise_status"] = "none"
    _overlay_promises(plan, invoices, events, as_of, channel)
    _overlay_disputes(plan, invoices, events, as_of, channel)
    _overlay_agency(plan)
    plan["high_risk"] = plan["high_risk"].astype(bool)
    plan["last_step_assumed"] = plan["last_step_assumed"].astype(bool)
    plan["with_agency"] = plan["with_agency"].astype(bool)
    for column in ("next_action_date", "last_step_date"):
        plan[column] = pd.to_datetime(plan[column])
    return plan[PLAN_COLUMNS]


def _ladder_columns(
    index: pd.Index,
    ladder: tuple[Step, ...],
    position: pd.DataFrame,
    channel: pd.Series,
) -> pd.DataFrame:
    """The ladder's stage and next step for the invoices at `index` (on that index)."""
    keys = np.array([NOT_STARTED] + [s.key for s in ladder], dtype=object)
    taken = position["taken"].to_numpy()
    step = np.clip(taken, 0, len(ladder) - 1)
    done = taken >= len(ladder)
    next_key = np.array([s.key for s in ladder], dtype=object)[step]
    text = np.array([s.action for s in ladder], dtype=object)[step]
    via = np.array([s.channel for s in ladder], dtype=object)[step]
    via = np.where(via != PREFERRED, via, channel.loc[index].to_numpy(dtype=object))
    return pd.DataFrame(
        {
            "dunning_stage": _text(keys[np.clip(taken, 0, len(ladder))], index),
            "next_action_key": _text(np.where(done, np.nan, next_key), index),
            "next_action": _text(np.where(done, np.nan, text), index),
            "next_action_date": position["next_due"].where(~done).to_numpy(),
            "next_action_channel": _text(np.where(done, np.nan, via), index),
            "last_step_date": position["last_taken_date"].to_numpy(),
            "last_step_assumed": position["last_assumed"].to_numpy(),
            "with_agency": done,
        },
        index=index,
    )


def _text(values: np.ndarray, index: pd.Index) -> pd.Series:
    """A text column as the plan holds it: object, missing as NaN. (Left to itself, pandas
    would infer a str column, slowly at 820,000 invoices, to be converted back to object.)"""
    return pd.Series(values, index=index, dtype=object)


def _overlay_promises(
    plan: pd.DataFrame,
    invoices: pd.DataFrame,
    events: pd.DataFrame,
    as_of: pd.Timestamp,
    channel: pd.Series,
) -> None:
    """A pending promise pauses its invoice until the promised date; a broken one (the latest
    promise's date passed, still open) calls for a call for BROKEN_PROMISE_DAYS days, unless a
    call was made after the promised date. In place."""
    promised = pd.to_datetime(
        invoices.get("promised_date", pd.Series(pd.NaT, index=invoices.index))
    )
    country = invoices.get("country", pd.Series("FR", index=invoices.index))
    pending = promised >= as_of
    broken = (promised < as_of) & (promised >= as_of - pd.Timedelta(days=BROKEN_PROMISE_DAYS))
    plan.loc[pending, "promise_status"] = "pending"
    plan.loc[broken, "promise_status"] = "broken"
    day = promised.dt.strftime("%Y-%m-%d")
    check = roll_forward(promised + pd.Timedelta(days=1), country)
    _set_action(
        plan, pending, CHECK_PROMISE, "check the payment promised for " + day, check, channel
    )
    plan.loc[pending, "dunning_stage"] = PROMISE_PAUSED
    called = _last_event(events, invoices, ("call_made",))
    to_call = broken & ~(called > promised)
    text = BROKEN_PROMISE + " (promised for " + day + ")"
    _set_action(plan, to_call, "broken_promise_call", text, check, "phone")


def _overlay_disputes(
    plan: pd.DataFrame,
    invoices: pd.DataFrame,
    events: pd.DataFrame,
    as_of: pd.Timestamp,
    channel: pd.Series,
) -> None:
    """A disputed invoice's action is to resolve the dispute; the ladder pauses. In place."""
    disputed = invoices["is_disputed"].astype(bool)
    if not disputed.any():
        return
    # (the disputed invoices only: a few thousand of 820,000)
    read = [c for c in ("invoice_id", "dispute_opened_date", "country") if c in invoices]
    about = invoices.loc[disputed, read]
    opened = pd.to_datetime(
        about.get("dispute_opened_date", pd.Series(pd.NaT, index=about.index))
    ).fillna(as_of)
    # the last action on the invoice since the dispute opened (its opening is not a follow-up)
    row = index_in(events["invoice_id"], about["invoice_id"])
    since = (
        (row >= 0)
        & (events["action_date"].to_numpy() > opened.to_numpy()[row])
        & (events["action"] != "dispute_opened").to_numpy()
    )
    last = _last_event(events[since], about, None)
    follow_up = last + pd.Timedelta(days=DISPUTE_FOLLOW_UP_DAYS)
    due = follow_up.where(follow_up > opened, opened)
    due = roll_forward(due, about.get("country", pd.Series("FR", index=about.index)))
    due = due.reindex(invoices.index)
    _set_action(plan, disputed, "resolve_dispute", RESOLVE_DISPUTE, due, channel)
    plan.loc[disputed, "dunning_stage"] = DISPUTE_PAUSED


def _set_action(
    plan: pd.DataFrame,
    rows: pd.Series,
    key: str,
    text: str | pd.Series,
    due: pd.Series,
    channel: str | pd.Series,
) -> None:
    """The next action of the invoices where `rows` is true, in place."""
    pick = (lambda v: v[rows]) if isinstance(text, pd.Series) else (lambda v: v)
    plan.loc[rows, "next_action_key"] = key
    plan.loc[rows, "next_action"] = pick(text)
    plan.loc[rows, "next_action_date"] = due[rows]
    plan.loc[rows, "next_action_channel"] = (
        channel[rows] if isinstance(channel, pd.Series) else channel
    )


def _overlay_agency(plan: pd.DataFrame) -> None:
    """Handed over to an agency in the ledger: nothing more for the collectors. In place."""
    agency = plan["with_agency"].astype(bool)
    plan.loc[agency, "dunning_stage"] = WITH_AGENCY
    for column in ("next_action_key", "next_action", "next_action_channel"):
        plan.loc[agency, column] = None
    plan.loc[agency, "next_action_date"] = pd.NaT


def _last_event(
    events: pd.DataFrame, invoices: pd.DataFrame, actions: tuple[str, ...] | None
) -> pd.Series:
    """Per invoice (on the invoices' index), the date of its last ledger event among `actions`
    (all when None); NaT when none."""
    chosen = events if actions is None else events[events["action"].isin(actions)]
    last = chosen.groupby("invoice_id")["action_date"].max()
    if last.empty:  # (all missing: nothing to look up)
        values = last.reindex(invoices["invoice_id"].to_numpy()).to_numpy()
    else:  # (Arrow looks the ids up many times faster than reindex)
        row = index_in(invoices["invoice_id"], last.index.to_series())
        values = np.where(row >= 0, last.to_numpy()[row], np.datetime64("NaT"))
    return pd.Series(pd.to_datetime(values), index=invoices.index)
