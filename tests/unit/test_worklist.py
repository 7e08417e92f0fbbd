"""The worklist on hand-written scores: the dunning ladder, penalties, ranking, the capacity cut,
promise and dispute flags, and a golden file of the whole published list."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from features.catalog import CATALOG, reason_sentence
from models.dunning import (
    BROKEN_PROMISE,
    DISPUTE_PAUSED,
    NO_FURTHER_STEP,
    NOT_STARTED,
    PROMISE_PAUSED,
    RESOLVE_DISPUTE,
    dunning_plan,
    late_penalties,
)
from models.worklist import (
    WORKLIST_COLUMNS,
    WorklistPolicy,
    plan_invoices,
    rank_customers,
    todays_list,
)
from pipelines.publish.files import write_worklist_csv
from tests.handmade_book import AS_OF, CUSTOMERS, PROMISES, SCORES

GOLDEN = Path(__file__).parents[1] / "golden" / "worklist.csv"


def _plan(days_past_due: int, p_late: float = 0.2, **extra) -> pd.Series:
    due = AS_OF - pd.Timedelta(days=days_past_due)
    frame = pd.DataFrame(
        [
            {
                "due_date": due,
                "days_past_due": days_past_due,
                "is_disputed": 0,
                "p_late": p_late,
                "preferred_channel": "email",
                **extra,
            }
        ]
    )
    return dunning_plan(frame, AS_OF).iloc[0]


@pytest.mark.parametrize(
    ("days_past_due", "stage", "action", "in_days", "channel"),
    [
        (-30, NOT_STARTED, "friendly reminder before the due date", 23, "email"),
        (-7, "friendly_reminder", "friendly reminder before the due date", 0, "email"),
        (-6, "friendly_reminder", "reminder on the due date", 6, "email"),
        (0, "due_date_reminder", "reminder on the due date", 0, "email"),
        (1, "due_date_reminder", "first reminder", 2, "email"),
        (5, "first_reminder", "second reminder: call the customer", 2, "phone"),
        (7, "second_reminder_call", "second reminder: call the customer", 0, "phone"),
        (10, "second_reminder_call", "final reminder before formal notice", 4, "email"),
        (
            20,
            "final_reminder",
            "formal notice by registered letter (mise en demeure)",
            10,
            "letter",
        ),
        (45, "formal_notice", "hand over to a collection agency", 15, "agency"),
        (60, "collection_agency", "hand over to a collection agency", 0, "agency"),
    ],
)
def test_the_ladder_gives_the_step_reached_and_the_next_one(
    days_past_due, stage, action, in_days, channel
):
    plan = _plan(days_past_due)
    assert plan.dunning_stage == stage
    assert plan.next_action == action
    assert plan.next_action_date == AS_OF + pd.Timedelta(days=in_days)
    assert plan.next_action_channel == channel
    assert not plan.high_risk


def test_after_the_last_step_there_is_nothing_more_to_schedule():
    plan = _plan(100)
    assert (plan.dunning_stage, plan.next_action) == ("collection_agency", NO_FURTHER_STEP)
    assert pd.isna(plan.next_action_date)


@pytest.mark.parametrize(
    ("days_past_due", "stage", "action", "in_days"),
    [
        (-20, NOT_STARTED, "friendly reminder before the due date", 6),  # J-14, not J-7
        (-10, "friendly_reminder", "call to confirm the payment is scheduled", 7),  # J-3 call
        (-3, "pre_due_call", "call to confirm the payment is scheduled", 0),
        (-2, "pre_due_call", "reminder on the due date", 2),
        (5, "first_reminder", "second reminder: call the customer", 2),  # same after due
    ],
)
def test_high_risk_brings_the_pre_due_steps_earlier(days_past_due, stage, action, in_days):
    plan = _plan(days_past_due, p_late=0.8)
    assert plan.high_risk
    assert (plan.dunning_stage, plan.next_action) == (stage, action)
    assert plan.next_action_date == AS_OF + pd.Timedelta(days=in_days)


def test_a_dispute_pauses_dunning_and_asks_to_resolve_it():
    plan = _plan(20, is_disputed=1, promised_date=pd.Timestamp("2026-11-10"))
    assert (plan.dunning_stage, plan.next_action) == (DISPUTE_PAUSED, RESOLVE_DISPUTE)
    assert plan.next_action_date == AS_OF


def test_a_pending_promise_pauses_dunning_until_the_promised_date():
    plan = _plan(20, promised_date=pd.Timestamp("2026-11-10"))
    assert plan.dunning_stage == PROMISE_PAUSED
    assert plan.next_action == "check the payment promised for 2026-11-10"
    assert plan.next_action_date == pd.Timestamp("2026-11-11")


def test_a_broken_promise_calls_for_a_call_today():
    plan = _plan(20, promised_date=pd.Timestamp("2026-10-25"))
    assert plan.dunning_stage == "final_reminder"  # the ladder went on
    assert (plan.next_action, plan.next_action_channel) == (BROKEN_PROMISE, "phone")
    assert plan.next_action_date == AS_OF


def test_a_promise_broken_long_ago_no_longer_replaces_the_ladder():
    plan = _plan(90, promised_date=AS_OF - pd.Timedelta(days=31))
    assert (plan.dunning_stage, plan.next_action) == ("collection_agency", NO_FURTHER_STEP)


def test_late_interest_and_the_recovery_fee():
    owed = late_penalties(
        pd.Series([1000.0, 1000.0, 1000.0, 250.5]),
        pd.Series([10, 0, -5, 365]),
        annual_rate=0.1215,
        recovery_fee=40.0,
    )
    # 1000 × 12.15% × 10 / 365; nothing before or on the due date; a year late: the full rate
    assert owed["late_interest"].tolist() == pytest.approx([3.3287671, 0.0, 0.0, 30.43575])
    assert owed["recovery_fee"].tolist() == [40.0, 0.0, 0.0, 40.0]


def _worklist(capacity: int = 30) -> pd.DataFrame:
    invoices = plan_invoices(SCORES, CUSTOMERS, AS_OF, promises=PROMISES)
    return rank_customers(
        invoices, CUSTOMERS, AS_OF, policy=WorklistPolicy(capacity_per_collector=capacity)
    )


def test_customers_are_ranked_by_expected_amount_at_risk():
    worklist = _worklist()
    assert list(worklist.columns) == [*WORKLIST_COLUMNS, "in_todays_list"]
    # A: 1000×0.9 + 3000×0.1 = 1200; B: 10000×0.08 = 800; C: 500×0.5×2 = 500;
    # D: 1500×0.2 = 300 (D2, with the agency, does not count); E: 800×0.3 + 400×0.05 = 260; F: 9
    assert worklist["customer_id"].tolist() == ["A", "B", "C", "D", "E", "F"]
    assert worklist["expected_amount_at_risk"].tolist() == pytest.approx(
        [1200.0, 800.0, 500.0, 300.0, 260.0, 9.0]
    )
    a = worklist.iloc[0]
    assert (a.open_amount, a.overdue_amount, a.open_invoices) == (4000.0, 1000.0, 2)
    assert (a.oldest_days_past_due, a.disputed_invoices, a.disputed_amount) == (10, 1, 3000.0)
    assert a.risk_probability == pytest.approx(1200.0 / 4000.0)
    # the oldest undisputed invoice sets the stage; the driver (A1, 900 at risk) the prediction
    assert (a.dunning_stage, a.driver_invoice_id) == ("second_reminder_call", "A1")
    assert a.predicted_payment_date == pd.Timestamp("2026-11-21")
    assert a.predicted_days_late == 30  # 2026-11-21 − due 2026-10-22
    assert a.late_interest == pytest.approx(1000 * 0.1215 * 10 / 365)
    assert a.recovery_fees == 40.0
    c = worklist.iloc[2]  # C2 is due today: not overdue yet
    assert (c.overdue_amount, c.oldest_days_past_due, c.recovery_fees) == (500.0, 40, 40.0)
    d = worklist.iloc[3]
    assert (d.collector, d.agency_amount, d.open_amount) == ("unassigned", 2000.0, 3500.0)
    assert d.risk_probability == pytest.approx(300.0 / 1500.0)
    # the collectors' work: D1 at formal notice, not D2 (older, with the agency)
    assert (d.dunning_stage, d.next_action_date) == ("formal_notice", pd.Timestamp("2026-11-11"))


def test_a_customer_entirely_with_the_agency_is_not_in_todays_list():
    scores = SCORES[SCORES["invoice_id"] != "D1"]
    worklist = rank_customers(plan_invoices(scores, CUSTOMERS, AS_OF), CUSTOMERS, AS_OF)
    d = worklist.set_index("customer_id").loc["D"]
    assert (d.expected_amount_at_risk, d.in_todays_list) == (0.0, False)
    assert pd.isna(d.collector_rank)


def test_promise_flags():
    worklist = _worklist().set_index("customer_id")
    # E1's promise (2026-10-25) is broken; P3, made after the as-of date, is not known yet
    assert worklist.loc["E", "promise_status"] == "broken"
    assert worklist.loc["E", "promised_date"] == pd.Timestamp("2026-10-25")
    assert worklist.loc["E", "next_action"] == BROKEN_PROMISE
    assert worklist.loc["A", "promise_status"] == "none"


def test_each_collector_gets_at_most_their_capacity():
    worklist = _worklist(capacity=1)
    listed = todays_list(worklist)
    # Laura: A (1), C (2), F (3); Karim: B (1), E (2); unassigned: D
    assert listed["customer_id"].tolist() == ["A", "B", "D"]
    assert listed["collector_rank"].tolist() == [1, 1, 1]
    assert worklist.set_index("customer_id")["collector_rank"].to_dict() == {
        "A": 1,
        "B": 1,
        "C": 2,
        "D": 1,
        "E": 2,
        "F": 3,
    }


def test_ties_are_broken_deterministically():
    tied = SCORES.assign(p_late_30=0.0)
    first = rank_customers(plan_invoices(tied, CUSTOMERS, AS_OF), CUSTOMERS, AS_OF)
    shuffled = tied.sample(frac=1, random_state=1)
    again = rank_customers(
        plan_invoices(shuffled, CUSTOMERS.iloc[::-1], AS_OF), CUSTOMERS.iloc[::-1], AS_OF
    )
    # no risk anywhere: the overdue amount decides (D 3500, A 1000, E 800, C 500), then the id
    assert first["customer_id"].tolist() == ["D", "A", "E", "C", "B", "F"]
    assert again["customer_id"].tolist() == first["customer_id"].tolist()


def test_the_published_list_matches_the_golden_file(tmp_path):
    """tests/golden/worklist.csv was read line by line when written; regenerate it only for a
    deliberate change of the list (LATEPAY_REGENERATE_GOLDEN=1) and read the diff."""
    worklist = _worklist(capacity=2)
    worklist.loc[worklist["customer_id"] == "A", "reason_1"] = "paid 80% of 10 past invoices late"
    out = tmp_path / "worklist.csv"
    write_worklist_csv(todays_list(worklist), out)
    if os.environ.get("LATEPAY_REGENERATE_GOLDEN"):
        GOLDEN.write_text(out.read_text(encoding="utf-8"), encoding="utf-8")
    assert out.read_text(encoding="utf-8") == GOLDEN.read_text(encoding="utf-8")


def test_reason_sentences_read_as_plain_words():
    row = {"share_paid_late": 0.8, "settled_invoices": 10.0, "days_past_due": -12.0}
    assert reason_sentence("share_paid_late", row) == "paid 80% of 10 past invoices late"
    assert reason_sentence("days_past_due", row) == "due in 12 days"
    assert reason_sentence("days_past_due", {"days_past_due": 23.0}) == "23 days past due"
    # a value the sentence needs is missing: fall back to the description
    assert reason_sentence("avg_days_late", {}) == CATALOG["avg_days_late"].description.rstrip(".")


def test_a_yes_no_feature_is_a_reason_only_when_yes():
    assert reason_sentence("is_disputed", {"is_disputed": 1.0}) == "the invoice is disputed"
    assert reason_sentence("is_disputed", {"is_disputed": 0.0}) is None


def test_calendar_and_tenure_are_never_given_as_reasons():
    assert reason_sentence("tenure_days", {"tenure_days": 1000.0}) is None
    assert reason_sentence("due_month", {"due_month": 8.0}) is None
