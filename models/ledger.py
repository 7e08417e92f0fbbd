"""The collections ledger, read: where each open invoice stands on the dunning ladder given what
collectors actually did, and what is due next.

The ledger (`staging.actions`) has one row per thing done: a reminder sent, a call made, a
formal notice, a hand-over to an agency, a promise, a dispute... on one invoice, or on the whole
customer (`invoice_id` empty: it applies to every invoice the customer had open that day).

How a step counts as taken:
- before the ledger starts (its first entry, or LATEPAY_LEDGER_START), every step is assumed
  taken on its date, as a new install cannot know better, so it is not flooded with old steps;
  the hand-over to an agency is never assumed;
- from then on, a step is taken only by a ledger action that does it (a reminder or a letter for
  a reminder step, a call made for a call, a formal notice, an agency hand-over); a formal
  notice or a hand-over recorded ahead of the ladder means the collector escalated, and the
  steps between are done with; a reminder never stands for a call;
- the next step falls due the ladder's spacing after the last step taken (a step of the due
  date or before never earlier than its own date), on a business day of the customer's country;
  a step not taken stays due and becomes overdue: it is never skipped. A step meant for before
  the due date (a friendly reminder) lapses once the invoice is due.

Pure functions over DataFrames: no I/O, no clock.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from models.calendar import roll_forward
from models.dunning import Step

ACTIONS = (
    "reminder_sent",
    "call_made",
    "call_no_answer",
    "letter_sent",
    "formal_notice_sent",
    "agency_handover",
    "dispute_opened",
    "dispute_resolved",
    "promise_to_pay",
    "payment_plan",
    "note",
)
# The kind of ladder step each action does (the others do none).
DOES_STEP = {
    "reminder_sent": "reminder",
    "letter_sent": "reminder",
    "call_made": "call",
    "formal_notice_sent": "formal_notice",
    "agency_handover": "agency",
}
# Steps an action may do ahead of the ladder: the collector escalated.
ESCALATIONS = ("formal_notice", "agency")
# What a ledger event needs: the invoice it is about and when it happened.
EVENT_COLUMNS = ["invoice_id", "action_date", "action"]


def is_in(values: pd.Series, of: pd.Series) -> np.ndarray:
    """`values.isin(of)` by Arrow's hash set: pandas takes seconds to match the text ids of a
    10M-invoice book's ledger against its 820,000 open invoices, Arrow a fraction of one."""
    text = pa.large_string()  # (ids are text; a column of nulls only has no type of its own)
    found = pc.is_in(
        pa.array(values, type=text, from_pandas=True),
        value_set=pa.array(of, type=text, from_pandas=True),
    )
    return found.to_numpy(zero_copy_only=False).astype(bool)


def index_in(values: pd.Series, of: pd.Series) -> np.ndarray:
    """The position of each of `values` in `of` (the first, if several), -1 when absent: a
    lookup of text ids by Arrow's hash table, as `is_in` (pandas' reindex on a text index
    took a quarter of a second a lookup at 820,000 invoices)."""
    text = pa.large_string()
    found = pc.index_in(
        pa.array(values, type=text, from_pandas=True),
        value_set=pa.array(of, type=text, from_pandas=True),
    )
    return found.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)


def sorted_order(frame: pd.DataFrame, keys: list[tuple[str, str]]) -> np.ndarray:
    """The positions that sort `frame` by `keys` ((column, "ascending" or "descending")), as
    `sort_values` orders them: stable, missing values (None, NaN) last in either direction.
    (Arrow sorts text many times faster than pandas: seconds at 820,000 invoices.)"""
    names = list(dict.fromkeys(name for name, _ in keys))
    table = pa.table({name: pa.array(frame[name], from_pandas=True) for name in names})
    at_end = [(name, order, "at_end") for name, order in keys]
    return pc.sort_indices(table, sort_keys=at_end).to_numpy()


def invoice_events(
    actions: pd.DataFrame, invoices: pd.DataFrame, as_of: pd.Timestamp
) -> pd.DataFrame:
    """The ledger actions dated before `as_of`, one row per (action, invoice) it is about: an
    action on the whole customer applies to each of its `invoices` issued on or before the
    action date. Columns EVENT_COLUMNS, sorted by invoice and date."""
    if actions is None or actions.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in EVENT_COLUMNS})
    known = actions[pd.to_datetime(actions["action_date"]) < as_of].assign(
        action_date=lambda f: pd.to_datetime(f["action_date"])
    )
    per_invoice = known[known["invoice_id"].notna() & (known["invoice_id"] != "")]
    whole = known[~known.index.isin(per_invoice.index)].drop(columns="invoice_id")
    spread = whole.merge(
        invoices[["customer_id", "invoice_id", "issue_date"]], on="customer_id", how="inner"
    )
    spread = spread[pd.to_datetime(spread["issue_date"]) <= spread["action_date"]]
    events = pd.concat([per_invoice[EVENT_COLUMNS], spread[EVENT_COLUMNS]], ignore_index=True)
    events = events[is_in(events["invoice_id"], invoices["invoice_id"])]
    by_date = sorted_order(events, [("invoice_id", "ascending"), ("action_date", "ascending")])
    return events.take(by_date).reset_index(drop=True)


def ladder_position(
    invoices: pd.DataFrame,
    ladder: tuple[Step, ...],
    events: pd.DataFrame,
    ledger_start: pd.Timestamp,
    as_of: pd.Timestamp,
) -> pd.DataFrame:
    """Where each invoice stands on `ladder` (all the invoices follow that ladder).

    `invoices`: invoice_id, due_date, country (for business days), on their own index.
    Returns, on the same index: taken (steps done), last_taken_date (NaT if none),
    last_assumed (the last step was assumed, not in the ledger), next_step (index into the
    ladder; len(ladder) when every step is done) and next_due (NaT when none)."""
    offsets = np.array([s.offset_days for s in ladder])
    due = pd.to_datetime(invoices["due_date"])
    country = invoices.get("country", pd.Series("FR", index=invoices.index))
    scheduled = _scheduled(offsets, due, country)
    taken, last = _assumed_steps(ladder, scheduled, ledger_start)
    assumed = taken > 0
    since_start = events[events["action_date"] >= pd.Timestamp(ledger_start)]
    taken, last, by_ledger = _ledger_steps(invoices, ladder, since_start, taken, last)
    assumed &= ~by_ledger
    taken = _lapse_pre_due_steps(ladder, taken, (as_of - due).dt.days.to_numpy())
    next_due = _next_due(ladder, scheduled, taken, last, by_ledger, country, invoices.index)
    return pd.DataFrame(
        {
            "taken": taken,
            "last_taken_date": pd.to_datetime(last),
            "last_assumed": assumed,
            "next_step": taken,
            "next_due": next_due,
        },
        index=invoices.index,
    )


def _scheduled(offsets: np.ndarray, due: pd.Series, country: pd.Series) -> np.ndarray:
    """Each step's date on the ladder, on a business day: one row per invoice, one column per
    step (`offsets`: days after the due date). (Rolled once per distinct due date and country,
    a few thousand, rather than for each of 820,000 invoices.)"""
    if not len(due):
        return np.empty((0, len(offsets)), dtype="datetime64[ns]")
    pairs = pd.DataFrame({"due": due.to_numpy(), "country": country.reindex(due.index).to_numpy()})
    number = pairs.groupby(["due", "country"], sort=False, dropna=False).ngroup().to_numpy()
    _, first = np.unique(number, return_index=True)
    distinct = pairs.iloc[first].reset_index(drop=True)
    columns = [
        roll_forward(distinct["due"] + pd.Timedelta(days=int(o)), distinct["country"]).to_numpy()
        for o in offsets
    ]
    return np.column_stack(columns)[number]


def _assumed_steps(
    ladder: tuple[Step, ...], scheduled: np.ndarray, ledger_start: pd.Timestamp
) -> tuple[np.ndarray, np.ndarray]:
    """Steps dated before the ledger starts, assumed taken on their dates (never the agency)."""
    start = np.datetime64(pd.Timestamp(ledger_start), "ns")
    taken = (scheduled < start).sum(axis=1)
    agency = [i for i, s in enumerate(ladder) if s.kind == "agency"]
    if agency:
        taken = np.minimum(taken, agency[0])
    rows = np.arange(len(taken))
    last = (
        np.where(taken > 0, scheduled[rows, np.clip(taken - 1, 0, None)], np.datetime64("NaT"))
        if len(taken)
        else np.array([], dtype="datetime64[ns]")
    )
    return taken, last.astype("datetime64[ns]")


def _ledger_steps(
    invoices: pd.DataFrame,
    ladder: tuple[Step, ...],
    events: pd.DataFrame,
    taken: np.ndarray,
    last: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Advance each invoice through the steps its ledger actions did, in date order. An action
    does the step due if it is of that step's kind; a formal notice or an agency hand-over also
    does its own step when it comes earlier than the ladder (the collector escalated, and the
    steps between are done with); a reminder or a call never does a step other than the one due.
    Steps meant for before the due date lapse when an action comes on or after it. Returns
    taken, the last date, and whether the ledger (not an assumption) did the last step."""
    taken, last = taken.copy(), last.copy()
    by_ledger = np.zeros(len(taken), dtype=bool)
    row = index_in(events["invoice_id"], invoices["invoice_id"])
    steps_done = events["action"].isin(list(DOES_STEP)).to_numpy() & (row >= 0)
    doing, rows = events[steps_done], row[steps_done]
    if doing.empty or not len(taken):
        return taken, last, by_ledger
    kinds = np.array([s.kind for s in ladder], dtype=object)
    escalations = np.isin(kinds, list(ESCALATIONS))
    first_on_due = _first_on_due(ladder)
    due = pd.to_datetime(invoices["due_date"]).to_numpy().astype("datetime64[ns]")
    rank = doing.groupby("invoice_id").cumcount().to_numpy()
    kind = doing["action"].map(DOES_STEP).to_numpy()
    dates = doing["action_date"].to_numpy().astype("datetime64[ns]")
    steps = np.arange(len(ladder))
    for r in range(int(rank.max()) + 1):
        now = rank == r
        who, what, when = rows[now], kind[now], dates[now]
        current = np.where(when >= due[who], np.maximum(taken[who], first_on_due), taken[who])
        same_kind = kinds[None, :] == what[:, None]
        due_step = same_kind & (steps[None, :] == current[:, None])
        jump = same_kind & escalations[None, :] & (steps[None, :] >= current[:, None])
        fits = due_step | jump
        found = fits.any(axis=1)
        target = fits.argmax(axis=1)
        who, target, when = who[found], target[found], when[found]
        taken[who] = target + 1
        last[who] = when
        by_ledger[who] = True
    return taken, last, by_ledger


def _first_on_due(ladder: tuple[Step, ...]) -> int:
    """The first step dated on or after the due date."""
    return next((i for i, s in enumerate(ladder) if s.offset_days >= 0), len(ladder))


def _lapse_pre_due_steps(
    ladder: tuple[Step, ...], taken: np.ndarray, days_past_due: np.ndarray
) -> np.ndarray:
    """Once an invoice is due, a step meant for before the due date is no longer the next one."""
    return np.where(days_past_due >= 0, np.maximum(taken, _first_on_due(ladder)), taken)


def _next_due(
    ladder: tuple[Step, ...],
    scheduled: np.ndarray,
    taken: np.ndarray,
    last: np.ndarray,
    by_ledger: np.ndarray,
    country: pd.Series,
    index: pd.Index,
) -> pd.Series:
    """The date the next step falls due, on a business day (NaT when no step is left): when the
    ledger did the last step, the ladder's spacing after it; otherwise its date on the ladder
    (assumed steps keep the ladder's own dates). A step of the due date or before (a reminder
    "on the due date") never falls due before its date on the ladder."""
    offsets = np.array([s.offset_days for s in ladder])
    left = taken < len(ladder)
    step = np.clip(taken, 0, len(ladder) - 1)
    rows = np.arange(len(taken))
    on_ladder = (
        np.where(left, scheduled[rows, step], np.datetime64("NaT"))
        if len(rows)
        else (np.array([], dtype="datetime64[ns]"))
    )
    spacing = offsets[step] - offsets[np.clip(step - 1, 0, None)]
    after_last = pd.to_datetime(last) + pd.to_timedelta(np.where(step > 0, spacing, 0), unit="D")
    after_last = roll_forward(pd.Series(after_last, index=index), country)
    due = pd.Series(pd.to_datetime(on_ladder), index=index)
    spaced = after_last.notna() & by_ledger & ((offsets[step] > 0) | (after_last > due))
    due[spaced] = after_last[spaced]
    return due


# What a collector can write in the Worklist sheet of their workbook (the `Outcome` dropdown).
OUTCOMES = (
    "done",
    "no answer",
    "promise to pay",
    "dispute",
    "already paid",
    "wrong contact",
    "handed to agency",
)
# The Worklist sheet's columns that latepay reads back: what the row was about (written by
# latepay) and what the collector typed in. Field -> header.
ROW_COLUMNS = {
    "customer_id": "Customer id",
    "next_action_key": "Action key",
    "action_invoices": "About invoices",
    "next_action_channel": "Channel",
    "collector": "Collector",
}
INPUT_COLUMNS = {
    "outcome": "Outcome",
    "done_on": "Done on",
    "promised_date": "Promised date",
    "promised_amount": "Promised amount",
    "note": "Note",
}
# `done` on a row records its proposed action as taken: the ledger action for each next action.
DONE_ACTIONS = {
    "friendly_reminder": "reminder_sent",
    "due_date_reminder": "reminder_sent",
    "first_reminder": "reminder_sent",
    "final_reminder": "reminder_sent",
    "second_reminder_call": "call_made",
    "pre_due_call": "call_made",
    "broken_promise_call": "call_made",
    "formal_notice": "formal_notice_sent",
    "collection_agency": "agency_handover",
    "resolve_dispute": "dispute_resolved",
    "check_promise": "note",
}
OUTCOME_ACTIONS = {
    "no answer": "call_no_answer",
    "promise to pay": "promise_to_pay",
    "dispute": "dispute_opened",
    "already paid": "note",
    "wrong contact": "note",
    "handed to agency": "agency_handover",
}
OUTCOME_NOTES = {
    "already paid": "the customer says it is already paid",
    "wrong contact": "wrong contact",
    "check_promise": "payment promised: checked",
}
LEDGER_COLUMNS = [
    "action_id",
    "customer_id",
    "invoice_id",
    "action_date",
    "action",
    "channel",
    "collector",
    "promised_date",
    "promised_amount",
    "note",
]


def outcome_actions(rows: pd.DataFrame) -> pd.DataFrame:
    """Ledger rows (LEDGER_COLUMNS) from filled-in worklist rows: one per invoice the row was
    about. `rows`: the fields of ROW_COLUMNS and INPUT_COLUMNS, with `done_on` already a date
    (the list's date when left empty) and `outcome` one of OUTCOMES (rows without an outcome
    record nothing). A sent step done by letter is a letter; the action id is made of the
    customer, invoice, date, action and outcome, so loading the same rows again records nothing
    new."""
    filled = rows[rows["outcome"].notna() & (rows["outcome"].astype(str).str.strip() != "")]
    filled = filled.assign(outcome=filled["outcome"].astype(str).str.strip().str.lower())
    action = filled["outcome"].map(OUTCOME_ACTIONS)
    done = filled["outcome"] == "done"
    action = action.where(~done, filled["next_action_key"].map(DONE_ACTIONS))
    by_letter = done & (action == "reminder_sent") & (filled["next_action_channel"] == "letter")
    action = action.where(~by_letter, "letter_sent")
    noted = (
        filled["outcome"]
        .map(OUTCOME_NOTES)
        .where(~done, filled["next_action_key"].map(OUTCOME_NOTES))
    )
    typed = filled["note"].astype("object").where(filled["note"].notna(), None)
    note = [
        "; ".join(str(part) for part in (n, t) if isinstance(part, str) and part.strip()) or None
        for n, t in zip(noted, typed, strict=True)
    ]
    ledger = filled.assign(action=action, note=note).assign(
        invoice_id=lambda f: f["action_invoices"].fillna("").astype(str).str.split(",")
    )
    ledger = ledger.explode("invoice_id").assign(invoice_id=lambda f: f["invoice_id"].str.strip())
    ledger["invoice_id"] = ledger["invoice_id"].where(ledger["invoice_id"] != "", None)
    ledger["action_date"] = pd.to_datetime(ledger["done_on"])
    ledger["channel"] = ledger["next_action_channel"]
    ledger["action_id"] = (
        "worklist/"
        + ledger["customer_id"].astype(str)
        + "/"
        + ledger["invoice_id"].fillna("*").astype(str)
        + "/"
        + ledger["action_date"].dt.strftime("%Y-%m-%d")
        + "/"
        + ledger["action"].astype(str)
        + "/"
        + ledger["outcome"].str.replace(" ", "_")
    )
    return ledger[LEDGER_COLUMNS].reset_index(drop=True)
