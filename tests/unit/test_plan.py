"""Each open invoice's plan (models/plan.py): the ladder on business days, the ledger deciding
what was done, disputes, promises and channels. Exact dates worked out by hand from a Wednesday,
2026-11-18 (France: 11 November is a holiday)."""

from __future__ import annotations

import pandas as pd
import pytest

from models.dunning import (
    BROKEN_PROMISE,
    DISPUTE_PAUSED,
    NOT_STARTED,
    PROMISE_PAUSED,
    RESOLVE_DISPUTE,
    WITH_AGENCY,
)
from models.plan import dunning_plan

AS_OF = pd.Timestamp("2026-11-18")


def _invoice(days_past_due: int, **extra) -> dict:
    due = AS_OF - pd.Timedelta(days=days_past_due)
    return {
        "invoice_id": extra.pop("invoice_id", "I1"),
        "customer_id": extra.pop("customer_id", "C1"),
        "issue_date": due - pd.Timedelta(days=30),
        "due_date": due,
        "days_past_due": days_past_due,
        "is_disputed": 0,
        "p_late": 0.2,
        "preferred_channel": "email",
        "country": "FR",
        **extra,
    }


def _plan(days_past_due: int, actions=None, ledger_start=None, **extra) -> pd.Series:
    frame = pd.DataFrame([_invoice(days_past_due, **extra)])
    return dunning_plan(frame, AS_OF, actions=actions, ledger_start=ledger_start).iloc[0]


def _actions(*rows) -> pd.DataFrame:
    """(invoice_id or None for the whole customer, date, action)."""
    return pd.DataFrame(
        [
            {"customer_id": "C1", "invoice_id": i, "action_date": pd.Timestamp(d), "action": a}
            for i, d, a in rows
        ]
    )


@pytest.mark.parametrize(
    ("days_past_due", "stage", "action", "due", "channel"),
    [
        # no ledger: every step dated before today is assumed taken on its date
        (-30, NOT_STARTED, "friendly reminder before the due date", "2026-12-11", "email"),
        (-7, NOT_STARTED, "friendly reminder before the due date", "2026-11-18", "email"),
        (-6, "friendly_reminder", "reminder on the due date", "2026-11-24", "email"),
        (0, "friendly_reminder", "reminder on the due date", "2026-11-18", "email"),
        (1, "due_date_reminder", "first reminder", "2026-11-20", "email"),
        (5, "first_reminder", "second reminder: call the customer", "2026-11-20", "phone"),
        (7, "first_reminder", "second reminder: call the customer", "2026-11-18", "phone"),
        # due on Sunday 11-08: the call (Sun 11-15) moved to Monday, the final reminder
        # (Sun 11-22) to Monday 11-23
        (10, "second_reminder_call", "final reminder before formal notice", "2026-11-23", "email"),
        # the formal notice (Sat 11-28) on Monday, by registered letter whatever the preference
        (
            20,
            "final_reminder",
            "formal notice by registered letter (mise en demeure)",
            "2026-11-30",
            "registered letter",
        ),
        (45, "formal_notice", "hand over to a collection agency", "2026-12-03", "agency"),
        # the hand-over is proposed, never assumed: still due, and overdue
        (100, "formal_notice", "hand over to a collection agency", "2026-10-09", "agency"),
    ],
)
def test_without_a_ledger_the_steps_before_today_are_assumed(
    days_past_due, stage, action, due, channel
):
    plan = _plan(days_past_due)
    assert (plan.dunning_stage, plan.next_action) == (stage, action)
    assert plan.next_action_date == pd.Timestamp(due)
    assert plan.next_action_channel == channel
    assert not plan.high_risk


@pytest.mark.parametrize(
    ("days_past_due", "stage", "action", "due"),
    [
        (-20, NOT_STARTED, "friendly reminder before the due date", "2026-11-24"),  # J-14
        (-10, "friendly_reminder", "call to confirm the payment is scheduled", "2026-11-25"),
        (-2, "pre_due_call", "reminder on the due date", "2026-11-20"),
        (5, "first_reminder", "second reminder: call the customer", "2026-11-20"),
    ],
)
def test_high_risk_brings_the_pre_due_steps_earlier(days_past_due, stage, action, due):
    plan = _plan(days_past_due, p_late=0.8)
    assert plan.high_risk
    assert (plan.dunning_stage, plan.next_action) == (stage, action)
    assert plan.next_action_date == pd.Timestamp(due)


def test_a_step_not_in_the_ledger_stays_due_and_is_never_skipped():
    # due Monday 11-02; the ledger starts 10-01 and holds only the due-date reminder
    actions = _actions(("I1", "2026-11-02", "reminder_sent"))
    plan = _plan(16, actions=actions, ledger_start=pd.Timestamp("2026-10-01"))
    # the friendly reminder lapsed at the due date; the first reminder was never sent: it is
    # still the next action, due three days after the reminder was sent
    assert (plan.dunning_stage, plan.next_action) == ("due_date_reminder", "first reminder")
    assert plan.next_action_date == pd.Timestamp("2026-11-05")
    assert plan.last_step_date == pd.Timestamp("2026-11-02") and not plan.last_step_assumed


def test_the_next_step_is_spaced_from_when_the_last_one_was_taken():
    # first reminder due 11-05 but sent late, on Monday 11-16: the call comes four days later
    actions = _actions(("I1", "2026-11-02", "reminder_sent"), ("I1", "2026-11-16", "reminder_sent"))
    plan = _plan(16, actions=actions, ledger_start=pd.Timestamp("2026-10-01"))
    assert (plan.dunning_stage, plan.next_action_channel) == ("first_reminder", "phone")
    assert plan.next_action_date == pd.Timestamp("2026-11-20")


def test_a_reminder_never_stands_for_a_call_but_a_formal_notice_escalates():
    steps = [("I1", "2026-11-02", "reminder_sent"), ("I1", "2026-11-05", "reminder_sent")]
    # the call is due: another reminder does not do it
    plan = _plan(16, actions=_actions(*steps, ("I1", "2026-11-10", "reminder_sent")),
                 ledger_start=pd.Timestamp("2026-10-01"))  # fmt: skip
    assert plan.next_action == "second reminder: call the customer"
    # a formal notice sent straight away: the call and final reminder are done with
    plan = _plan(16, actions=_actions(*steps, ("I1", "2026-11-10", "formal_notice_sent")),
                 ledger_start=pd.Timestamp("2026-10-01"))  # fmt: skip
    assert (plan.dunning_stage, plan.next_action) == (
        "formal_notice",
        "hand over to a collection agency",
    )
    # 30 days after the notice (J+60 − J+30), Thursday 12-10
    assert plan.next_action_date == pd.Timestamp("2026-12-10")


def test_an_action_on_the_whole_customer_counts_for_each_of_its_invoices_open_then():
    frame = pd.DataFrame(
        [
            _invoice(16, invoice_id="I1"),
            # issued 11-10, after the reminder: not concerned
            {**_invoice(-22, invoice_id="I2"), "issue_date": pd.Timestamp("2026-11-10")},
        ]
    )
    actions = _actions((None, "2026-11-02", "reminder_sent"))
    plan = dunning_plan(frame, AS_OF, actions=actions, ledger_start=pd.Timestamp("2026-10-01"))
    assert plan["dunning_stage"].tolist() == ["due_date_reminder", NOT_STARTED]


def test_only_a_handover_in_the_ledger_takes_an_invoice_to_the_agency():
    actions = _actions(("I1", "2026-11-10", "agency_handover"))
    plan = _plan(100, actions=actions)
    assert plan.with_agency and plan.dunning_stage == WITH_AGENCY
    assert pd.isna(plan.next_action) and pd.isna(plan.next_action_date)


@pytest.mark.parametrize(
    ("preferred", "reminder", "call"),
    [
        ("email", "email", "phone"),
        ("letter", "letter", "phone"),
        ("sms", "sms", "phone"),
        ("phone", "phone", "phone"),
        (None, "email", "phone"),
        ("fax", "email", "phone"),
    ],
)
def test_sent_steps_go_by_the_preferred_channel_and_calls_stay_calls(preferred, reminder, call):
    assert _plan(1, preferred_channel=preferred).next_action_channel == reminder
    assert _plan(5, preferred_channel=preferred).next_action_channel == call


def test_a_dispute_is_its_own_action_and_pauses_the_ladder():
    plan = _plan(20, is_disputed=1, dispute_opened_date=pd.Timestamp("2026-11-07"))
    assert (plan.dunning_stage, plan.next_action) == (DISPUTE_PAUSED, RESOLVE_DISPUTE)
    assert plan.next_action_key == "resolve_dispute"
    # opened on Saturday 11-07: due on Monday 11-09
    assert plan.next_action_date == pd.Timestamp("2026-11-09")
    # followed up (a call on 11-12): due again two weeks later, Thursday 11-26
    actions = _actions(("I1", "2026-11-12", "call_made"))
    plan = _plan(20, actions=actions, is_disputed=1, dispute_opened_date=pd.Timestamp("2026-11-07"))
    assert plan.next_action_date == pd.Timestamp("2026-11-26")


def test_a_pending_promise_pauses_its_invoice_until_the_promised_date():
    plan = _plan(20, promised_date=pd.Timestamp("2026-11-27"))
    assert (plan.dunning_stage, plan.promise_status) == (PROMISE_PAUSED, "pending")
    assert plan.next_action == "check the payment promised for 2026-11-27"
    assert plan.next_action_date == pd.Timestamp("2026-11-30")  # Friday + 1: Monday


def test_a_broken_promise_asks_for_a_call_for_a_week_unless_one_was_made():
    plan = _plan(20, promised_date=pd.Timestamp("2026-11-13"))
    assert plan.promise_status == "broken" and plan.next_action_channel == "phone"
    assert plan.next_action == BROKEN_PROMISE + " (promised for 2026-11-13)"
    assert plan.next_action_date == pd.Timestamp("2026-11-16")
    called = _actions(("I1", "2026-11-17", "call_made"))
    plan = _plan(20, actions=called, promised_date=pd.Timestamp("2026-11-13"))
    assert plan.promise_status == "broken" and plan.next_action_key != "broken_promise_call"
    # more than a week ago: no flag, the ladder again
    plan = _plan(20, promised_date=pd.Timestamp("2026-11-10"))
    assert (plan.promise_status, plan.next_action_key) == ("none", "formal_notice")
