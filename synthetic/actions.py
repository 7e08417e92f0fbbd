"""The collectors' ledger of the book: what they did over the last months (actions.csv).

latepay keeps a ledger from the day it is installed, so the generated one covers only the last
``LEDGER_DAYS`` days of the book. Over that span each unpaid invoice is walked down the dunning
ladder (models.dunning.LADDER): each step is recorded a few business days after it falls due, by
the customer's preferred channel (calls by phone, the formal notice by registered letter); some
steps are done weeks late and a few forgotten (then nothing more is recorded for that invoice: its
next step stays due), some calls go unanswered and are tried again the next day; unpaid invoices
are handed to an agency after their formal notice (those already at an agency when the ledger
starts are recorded on its first day), some disputes are resolved. Drawn from its own random
stream: adding the ledger changed no other table of a seed.

Grain: one row per action; ``action_id`` ACT-nnnnnnn in date order.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.dunning import LADDER
from models.ledger import LEDGER_COLUMNS

ACTION_COLUMNS = LEDGER_COLUMNS
ACTION_STREAM = 0x4C454447  # "LEDG"
LEDGER_DAYS = 183  # the ledger covers the book's last six months
MISSED = {"reminder": 0.08, "call": 0.12, "formal_notice": 0.06, "agency": 0.35}
DONE_LATE = 0.7  # of missed steps, done late after all
LATE_DAYS = (5, 20)  # business days late
NO_ANSWER = 0.25  # calls not answered the first time (tried again the next business day)
DELAY_DAYS = (0, 3)  # business days between a step falling due and being done
RESOLVED = 0.5  # disputes resolved (10 to 60 days after they were opened)
SENT = {"reminder": "reminder_sent", "call": "call_made", "formal_notice": "formal_notice_sent"}


def generate_actions(book, seed: int, end_date) -> pd.DataFrame:
    """The ledger of `book` (a synthetic.Book) up to `end_date`, from its own random stream."""
    rng = np.random.default_rng([seed, ACTION_STREAM])
    end = pd.Timestamp(end_date)
    start = end - pd.Timedelta(days=LEDGER_DAYS)
    invoices = _invoices(book)
    rows = [_ladder_actions(rng, invoices[~invoices["disputed"]], start, end)]
    rows.append(_resolved_disputes(rng, invoices[invoices["disputed"]], start, end))
    ledger = pd.concat(rows, ignore_index=True)
    ledger = ledger.sort_values(["action_date", "invoice_id", "action"], kind="stable")
    ledger = ledger.reset_index(drop=True)
    ledger["action_id"] = [f"ACT-{i:07d}" for i in range(1, len(ledger) + 1)]
    for column in ("promised_date", "promised_amount", "note"):
        ledger[column] = None
    return ledger[ACTION_COLUMNS]


def _invoices(book) -> pd.DataFrame:
    """Invoices (not credit notes) with their customer's channel and collector, and the day they
    were settled (NaT while open)."""
    invoices = book.invoices[book.invoices["amount"] > 0]
    paid = book.payments.groupby("invoice_id").agg(
        paid=("amount", "sum"), last=("payment_date", "max")
    )
    frame = invoices.merge(paid, left_on="invoice_id", right_index=True, how="left").merge(
        book.customers[["customer_id", "preferred_channel", "collector"]], on="customer_id"
    )
    frame["settled"] = frame["last"].where(frame["paid"] >= frame["amount"] - 0.005)
    frame["disputed"] = frame["disputed"].astype(str).isin(["1", "True", "true"])
    return frame.reset_index(drop=True)


def _ladder_actions(
    rng: np.random.Generator, invoices: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp
) -> pd.DataFrame:
    """Walk each invoice down the ladder: steps before the ledger started are not recorded (they
    are assumed), later ones recorded until one is missed or the invoice is paid."""
    due = pd.to_datetime(invoices["due_date"]).to_numpy("datetime64[D]")
    stop = pd.to_datetime(invoices["settled"]).fillna(end).to_numpy("datetime64[D]")
    stop = np.minimum(stop, np.datetime64(end, "D"))
    alive = np.ones(len(invoices), dtype=bool)
    last = np.full(len(invoices), np.datetime64("NaT"), dtype="datetime64[D]")
    recorded = []
    for k, step in enumerate(LADDER):
        scheduled = due + np.timedelta64(step.offset_days, "D")
        if k:
            spaced = last + np.timedelta64(step.offset_days - LADDER[k - 1].offset_days, "D")
            scheduled = np.where(np.isnat(last), scheduled, np.maximum(scheduled, spaced))
        first_day = np.datetime64(start, "D")
        # steps before the ledger are assumed; but a file already at an agency when the ledger
        # starts is recorded as such on its first day (the hand-over is never assumed)
        assumed = alive & (scheduled < first_day) & (step.kind != "agency")
        scheduled = np.maximum(scheduled, first_day) if step.kind == "agency" else scheduled
        live = alive & ~assumed & (scheduled < stop)  # not paid, nor past the export, before it
        missed = rng.random(len(invoices)) < MISSED[step.kind]
        if step.kind == "agency":
            missed |= ~pd.isna(invoices["settled"]).to_numpy()  # only unpaid ones go to an agency
        delay = rng.integers(DELAY_DAYS[0], DELAY_DAYS[1] + 1, len(invoices))
        # most missed steps are done late, the others forgotten (nothing more is recorded)
        late = missed & (rng.random(len(invoices)) < DONE_LATE) & (step.kind != "agency")
        delay = np.where(late, rng.integers(LATE_DAYS[0], LATE_DAYS[1] + 1, len(invoices)), delay)
        missed &= ~late
        done = np.busday_offset(np.where(live, scheduled, due), delay, roll="forward")
        take = live & ~missed & (done < stop)
        alive = assumed | take
        last = np.where(assumed, scheduled, np.where(take, done, last))
        recorded.append(_step_rows(rng, invoices, step, np.flatnonzero(take), done))
    return pd.concat(recorded, ignore_index=True)


def _step_rows(
    rng: np.random.Generator, invoices: pd.DataFrame, step, rows: np.ndarray, done: np.ndarray
) -> pd.DataFrame:
    """The ledger rows of one step done on `rows` (a call not answered first: two rows)."""
    chosen = invoices.iloc[rows]
    dates = pd.to_datetime(done[rows])
    if step.kind == "agency":
        action, channel = "agency_handover", "agency"
    elif step.kind == "formal_notice":
        action, channel = "formal_notice_sent", "registered letter"
    elif step.kind == "call":
        action, channel = "call_made", "phone"
    else:
        channel = chosen["preferred_channel"].to_numpy()
        action = np.where(channel == "letter", "letter_sent", "reminder_sent")
    frame = pd.DataFrame(
        {
            "customer_id": chosen["customer_id"].to_numpy(),
            "invoice_id": chosen["invoice_id"].to_numpy(),
            "action_date": dates,
            "action": action,
            "channel": channel,
            "collector": chosen["collector"].to_numpy(),
        }
    )
    if step.kind != "call":
        return frame
    unanswered = frame[rng.random(len(frame)) < NO_ANSWER]
    before = np.busday_offset(
        unanswered["action_date"].to_numpy("datetime64[D]"), -1, roll="backward"
    )
    tried = unanswered.assign(action="call_no_answer", action_date=pd.to_datetime(before))
    return pd.concat([frame, tried], ignore_index=True)


def _resolved_disputes(
    rng: np.random.Generator, invoices: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp
) -> pd.DataFrame:
    """Some disputes opened during the ledger are resolved 10 to 60 days later."""
    opened = pd.to_datetime(invoices["dispute_opened_date"])
    later = opened + pd.to_timedelta(rng.integers(10, 61, len(invoices)), unit="D")
    resolved = pd.Series(
        pd.to_datetime(np.busday_offset(later.to_numpy("datetime64[D]"), 0, roll="forward")),
        index=invoices.index,
    )
    settled = pd.to_datetime(invoices["settled"])
    keep = (
        (rng.random(len(invoices)) < RESOLVED)
        & (opened >= start)
        & (resolved < end)
        & (settled.isna() | (resolved < settled))
    )
    chosen = invoices[keep.to_numpy()]
    return pd.DataFrame(
        {
            "customer_id": chosen["customer_id"].to_numpy(),
            "invoice_id": chosen["invoice_id"].to_numpy(),
            "action_date": resolved[keep].to_numpy(),
            "action": "dispute_resolved",
            "channel": None,
            "collector": chosen["collector"].to_numpy(),
        }
    )
