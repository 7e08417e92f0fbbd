"""The ledger played day by day: a hand-made book and its ledger over 14 consecutive days, the
collectors recording what they did on each day's list (as they would in their workbook), and a
golden list per day (tests/golden/ledger_days.csv, read line by line when written).

The book, seen from Monday 2026-11-02 (the ledger starts 2026-10-01: every step since must be
in it):
- N1 (letters): its formal notice falls on Sunday 11-08, so it is due on Monday 11-09; nobody
  sends it that day, it stays due (overdue) until it is recorded on Tuesday 11-10;
- P1: a promise made on 10-28 for 11-04 is broken on 11-05 (a call); the call gets a new promise
  for 11-10, which is kept (paid on 11-09: gone from 11-10 on);
- Q1: a call on 11-03 reveals a dispute; it is resolved on 11-06; the ladder then resumes, its
  steps since the ledger started still due;
- R1: the hand-over to an agency, due since 10-31, is confirmed on 11-02: off the list, counted
  at the agency;
- S1 (letters): reminders go by letter, the J+7 call by phone; 11 November is a holiday.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from models.ledger import LEDGER_COLUMNS, outcome_actions
from models.worklist import WorklistPolicy, plan_invoices, rank_customers, todays_list

GOLDEN = Path(__file__).parents[1] / "golden" / "ledger_days.csv"
FIRST_DAY = pd.Timestamp("2026-11-02")
DAYS = 14
POLICY = WorklistPolicy(ledger_start=pd.Timestamp("2026-10-01"))

INVOICES = pd.DataFrame(
    [
        # invoice, customer, due, amount, paid on
        ("N1", "N", "2026-10-09", 5000.0, None),
        ("P1", "P", "2026-10-20", 2000.0, "2026-11-09"),
        ("Q1", "Q", "2026-10-26", 3000.0, None),
        ("R1", "R", "2026-09-01", 4000.0, None),
        ("S1", "S", "2026-11-05", 1000.0, None),
    ],
    columns=["invoice_id", "customer_id", "due_date", "amount", "paid_on"],
).assign(
    due_date=lambda f: pd.to_datetime(f["due_date"]), paid_on=lambda f: pd.to_datetime(f["paid_on"])
)
CUSTOMERS = pd.DataFrame(
    {
        "customer_id": ["N", "P", "Q", "R", "S"],
        "name": ["Nord", "Pont", "Quai", "Rive", "Sud"],
        "collector": ["Laura"] * 5,
        "preferred_channel": ["letter", "email", "phone", "email", "letter"],
        "country": ["FR"] * 5,
    }
)


def _ledger(*rows) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "action_id": f"history/{i}",
                "customer_id": c,
                "invoice_id": inv,
                "action_date": pd.Timestamp(d),
                "action": a,
                "channel": None,
                "collector": "Laura",
                "promised_date": pd.Timestamp(p) if p else pd.NaT,
                "promised_amount": None,
                "note": None,
            }
            for i, (c, inv, d, a, p) in enumerate(rows)
        ],
        columns=LEDGER_COLUMNS,
    )


# What was done before the first day (the ledger since 10-01).
HISTORY = _ledger(
    ("N", "N1", "2026-10-09", "letter_sent", None),  # due-date reminder
    ("N", "N1", "2026-10-12", "letter_sent", None),  # first reminder (J+3)
    ("N", "N1", "2026-10-16", "call_made", None),  # call (J+7)
    ("N", "N1", "2026-10-23", "letter_sent", None),  # final reminder (J+14)
    ("P", "P1", "2026-10-20", "reminder_sent", None),
    ("P", "P1", "2026-10-23", "reminder_sent", None),
    ("P", "P1", "2026-10-28", "promise_to_pay", "2026-11-04"),
    ("Q", "Q1", "2026-10-26", "reminder_sent", None),
    ("R", "R1", "2026-10-01", "formal_notice_sent", None),
)
# What the collector records, per day, on that day's list rows: customer -> outcome (and a
# promised date). Rows not named are left empty (nothing recorded).
RECORDED = {
    "2026-11-02": {"R": ("handed to agency", None)},
    "2026-11-03": {"Q": ("dispute", None)},
    "2026-11-05": {"P": ("promise to pay", "2026-11-10"), "S": ("done", None)},
    "2026-11-06": {"Q": ("done", None)},
    # 11-09: N's formal notice is not sent (nobody records it)
    "2026-11-10": {"N": ("done", None), "Q": ("no answer", None), "S": ("done", None)},
    "2026-11-12": {"Q": ("done", None)},
}


def _scores(day: pd.Timestamp) -> pd.DataFrame:
    """The invoices open on `day` as scored (fixed risks), with the disputes the ledger says are
    open (what the warehouse derives from staging.actions)."""
    open_now = INVOICES[INVOICES["paid_on"].isna() | (INVOICES["paid_on"] >= day)]
    return pd.DataFrame(
        {
            "invoice_id": open_now["invoice_id"],
            "customer_id": open_now["customer_id"],
            "as_of": day,
            "issue_date": open_now["due_date"] - pd.Timedelta(days=30),
            "due_date": open_now["due_date"],
            "open_amount": open_now["amount"],
            "days_past_due": (day - open_now["due_date"]).dt.days,
            "is_disputed": 0,
            "p_late": 0.3,
            "p_late_30": 0.3,
            "days_to_pay_p10": 5,
            "days_to_pay_p50": 20,
            "days_to_pay_p90": 60,
        }
    ).reset_index(drop=True)


def _disputes(scores: pd.DataFrame, ledger: pd.DataFrame, day: pd.Timestamp) -> pd.DataFrame:
    known = ledger[ledger["action_date"] < day]
    opened = known[known["action"] == "dispute_opened"].groupby("invoice_id")["action_date"].min()
    resolved = (
        known[known["action"] == "dispute_resolved"].groupby("invoice_id")["action_date"].max()
    )
    ids = scores["invoice_id"].to_numpy()
    frame = scores.assign(dispute_opened_date=pd.to_datetime(opened.reindex(ids).to_numpy()))
    ended = pd.Series(resolved.reindex(ids).to_numpy())
    frame["is_disputed"] = (frame["dispute_opened_date"].notna() & ended.isna()).astype(int)
    return frame


def _promises(ledger: pd.DataFrame) -> pd.DataFrame:
    made = ledger[ledger["action"] == "promise_to_pay"]
    return pd.DataFrame(
        {
            "invoice_id": made["invoice_id"],
            "promised_on": made["action_date"],
            "promised_date": made["promised_date"],
        }
    )


def _play() -> pd.DataFrame:
    ledger, lists = HISTORY.copy(), []
    for offset in range(DAYS):
        day = FIRST_DAY + pd.Timedelta(days=offset)
        scores = _disputes(_scores(day), ledger, day)
        invoices = plan_invoices(
            scores, CUSTOMERS, day, promises=_promises(ledger), actions=ledger, policy=POLICY
        )
        listed = todays_list(rank_customers(invoices, CUSTOMERS, day, policy=POLICY))
        lists.append(listed.assign(day=day))
        done = RECORDED.get(f"{day:%Y-%m-%d}", {})
        rows = listed[listed["customer_id"].isin(done)]
        rows = rows.assign(
            outcome=[done[c][0] for c in rows["customer_id"]],
            promised_date=pd.to_datetime([done[c][1] for c in rows["customer_id"]]),
            done_on=day,
            promised_amount=None,
            note=None,
        )
        ledger = pd.concat([ledger, outcome_actions(rows)], ignore_index=True)
    return pd.concat(lists, ignore_index=True)


def test_fourteen_days_of_lists_follow_what_was_recorded():
    played = _play()
    table = played.assign(
        day=played["day"].dt.strftime("%Y-%m-%d"),
        next_action_date=played["next_action_date"].dt.strftime("%Y-%m-%d"),
    )[
        [
            "day",
            "customer_id",
            "next_action",
            "next_action_channel",
            "next_action_date",
            "action_status",
            "action_invoices",
            "dunning_stage",
            "agency_amount",
        ]
    ]
    text = table.to_csv(index=False)
    if os.environ.get("LATEPAY_REGENERATE_GOLDEN"):
        GOLDEN.write_text(text, encoding="utf-8")
    assert text == GOLDEN.read_text(encoding="utf-8")


def test_no_step_is_skipped_or_invented():
    played = _play()
    n = played[played["customer_id"] == "N"].set_index("day")
    # the formal notice (Sunday 11-08) is due on Monday 11-09 (the weekend's lists show Monday's
    # work) and asked for until it is recorded
    notice = n[n["next_action"].str.startswith("formal notice")]
    assert list(notice.index.strftime("%m-%d")) == ["11-07", "11-08", "11-09", "11-10"]
    assert (notice["next_action_date"] == pd.Timestamp("2026-11-09")).all()
    assert (n.loc[pd.Timestamp("2026-11-10"), "action_status"]) == "overdue"
    # recorded on 11-10: the hand-over is 30 days later, not on the list of these days
    assert not (n.index > pd.Timestamp("2026-11-10")).any()
    # R's hand-over, confirmed on 11-02, never comes back
    assert set(played.loc[played["customer_id"] == "R", "day"]) == {FIRST_DAY}
    # nothing falls on a weekend or on 11 November
    dates = played["next_action_date"]
    assert not dates.dt.day_of_week.isin([5, 6]).any()
    assert not (dates == pd.Timestamp("2026-11-11")).any()
