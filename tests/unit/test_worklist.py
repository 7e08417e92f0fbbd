"""The worklist on hand-written scores: one row per customer, one story per row (the action due
and its invoices), penalties, ranking, the capacity cut, promise and dispute flags, and a golden
file of the whole published list. (Each invoice's plan: tests/unit/test_plan.py.)"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from models.dunning import BROKEN_PROMISE, DISPUTE_PAUSED, RESOLVE_DISPUTE, late_penalties
from models.penalties import late_periods, penalties, statutory_periods
from models.worklist import (
    WORKLIST_COLUMNS,
    WorklistPolicy,
    coming_up,
    not_reached,
    plan_invoices,
    rank_customers,
    todays_list,
)
from pipelines.publish.files import write_worklist_csv
from tests.handmade_book import AS_OF, CUSTOMERS, PROMISES, SCORES

GOLDEN = Path(__file__).parents[1] / "golden" / "worklist.csv"


def test_late_interest_per_half_year_and_the_recovery_fee_under_french_law():
    rates = pd.DataFrame(
        {"half_year_start": ["2026-01-01", "2026-07-01"], "ecb_main_refinancing_rate": [2.4, 2.15]}
    )
    invoices = pd.DataFrame(
        {
            "open_amount": [1000.0, 1000.0, 1000.0, 250.5, 300.0, -40.0],
            "due_date": pd.to_datetime(
                ["2026-10-22", "2026-11-01", "2026-11-06", "2026-06-20", "2026-10-01", "2026-10-01"]
            ),
            "country": ["FR", "FR", "FR", "fr", "GB", "FR"],
        }
    )
    invoices["days_past_due"] = (AS_OF - invoices["due_date"]).dt.days
    owed = late_penalties(invoices, AS_OF, rates=rates, recovery_fee=40.0)
    # 1000 × 12.15% × 10 / 365 = 3.3288 → 3.33; nothing on or before the due date; 250.50 late
    # since 06-21: 10 days at 12.40% (0.85) and 124 days at 12.15% (10.34); a customer in Great
    # Britain owes interest but no indemnity; a credit note owes nothing
    assert owed["late_interest"].tolist() == [3.33, 0.0, 0.0, 11.19, 3.1, 0.0]
    assert owed["recovery_fee"].tolist() == [40.0, 0.0, 0.0, 40.0, 0.0, 0.0]


def _worklist(capacity: int = 30, **extra) -> pd.DataFrame:
    invoices = plan_invoices(SCORES, CUSTOMERS, AS_OF, promises=PROMISES, **extra)
    return rank_customers(
        invoices, CUSTOMERS, AS_OF, policy=WorklistPolicy(capacity_per_collector=capacity)
    )


def test_each_row_is_one_action_about_its_own_invoices():
    worklist = _worklist()
    assert list(worklist.columns) == [*WORKLIST_COLUMNS, "in_todays_list", "coming_up"]
    # 2026-11-01 is a Sunday and a holiday: the list covers Monday 11-02's work too.
    # D: D2 (J+92) due to be handed to an agency (proposed, never assumed) since 09-30: 1800 at
    # risk; D1's hand-over (J+60 on 11-11, a holiday) comes on 11-12;
    # A: its dispute (A2, 3000 × 0.1); A1's final reminder is on 11-05 ("coming up" for A1);
    # C: C2's reminder on the due date (moved to Monday); C1's hand-over is on 11-23;
    # E: E1's promise of 10-25 broke (a call); E2's promise is pending.
    # B and F have nothing due before 11-06 and 11-23: coming up.
    assert worklist["customer_id"].tolist() == ["D", "A", "C", "E", "B", "F"]
    assert worklist["action_status"].tolist() == [
        "overdue",
        "today",
        "today",
        "overdue",
        "coming up",
        "coming up",
    ]
    assert worklist["action_invoices"].tolist() == ["D2", "A2", "C2", "E1", "B1", "F1"]
    assert worklist["expected_amount_at_risk"].tolist() == pytest.approx(
        [1800.0, 300.0, 250.0, 240.0, 800.0, 9.0]
    )
    d = worklist.set_index("customer_id").loc["D"]
    assert d.next_action_date == pd.Timestamp("2026-09-30")
    assert (d.overdue_amount, d.customer_overdue_amount) == (2000.0, 3500.0)
    assert d.late_interest == 61.25  # 2000 × 12.15% × 92 / 365 = 61.249, to the cent
    a = worklist.set_index("customer_id").loc["A"]
    assert a.next_action == RESOLVE_DISPUTE and a.dunning_stage == DISPUTE_PAUSED
    # the row's amounts are A2's (not due: nothing overdue), the customer's totals apart
    assert (a.open_amount, a.overdue_amount, a.oldest_days_past_due) == (3000.0, 0.0, 0)
    assert (a.customer_open_amount, a.customer_overdue_amount) == (4000.0, 1000.0)
    assert (a.disputed_invoices, a.disputed_amount, a.driver_invoice_id) == (1, 3000.0, "A2")
    c = worklist.set_index("customer_id").loc["C"]
    assert (c.next_action, c.next_action_channel) == ("reminder on the due date", "letter")
    assert c.next_action_date == pd.Timestamp("2026-11-02")
    assert (c.overdue_amount, c.recovery_fees, c.customer_overdue_amount) == (0.0, 0.0, 500.0)


def test_other_due_actions_of_a_customer_are_named_on_its_row():
    # seen on Thursday 11-05, A has its dispute and A1's final reminder due the same day
    scores = SCORES.assign(
        days_past_due=SCORES["days_past_due"] + 4, as_of=AS_OF + pd.Timedelta(days=4)
    )
    invoices = plan_invoices(scores, CUSTOMERS, AS_OF + pd.Timedelta(days=4), promises=PROMISES)
    a = (
        rank_customers(invoices, CUSTOMERS, AS_OF + pd.Timedelta(days=4))
        .set_index("customer_id")
        .loc["A"]
    )
    # the final reminder carries more at risk (A1: 900) than the dispute (A2: 300)
    assert (a.next_action, a.action_invoices) == ("final reminder before formal notice", "A1")
    assert a.other_actions == "resolve the dispute (dunning paused) (1 invoice)"


def test_only_the_ledger_takes_invoices_to_the_agency():
    actions = pd.DataFrame(
        {
            "customer_id": ["D"],
            "invoice_id": ["D2"],
            "action_date": [pd.Timestamp("2026-10-15")],
            "action": ["agency_handover"],
        }
    )
    worklist = _worklist(
        actions=actions, policy=WorklistPolicy(ledger_start=pd.Timestamp("2026-01-01"))
    )
    d = worklist.set_index("customer_id").loc["D"]
    assert (d.agency_amount, d.action_invoices) == (2000.0, "D1")
    assert d.expected_amount_at_risk == pytest.approx(300.0)


def test_promise_flags_are_about_the_actions_invoices():
    worklist = _worklist().set_index("customer_id")
    # E1's promise (2026-10-25) is broken; P3, made after the as-of date, is not known yet
    assert worklist.loc["E", "promise_status"] == "broken"
    assert worklist.loc["E", "promised_for"] == pd.Timestamp("2026-10-25")
    assert worklist.loc["E", "next_action"].startswith(BROKEN_PROMISE)
    # E2's pending promise pauses E2 only
    assert "check the payment" not in worklist.loc["E", "other_actions"]
    assert worklist.loc["A", "promise_status"] == "none"


def test_each_collector_gets_at_most_their_capacity_of_work_due():
    worklist = _worklist(capacity=1)
    listed = todays_list(worklist)
    # work due: unassigned D (1); Laura: A (1), C (2); Karim: E (1); B and F have nothing due
    assert listed["customer_id"].tolist() == ["D", "A", "E"]
    ranks = worklist.set_index("customer_id")["collector_rank"]
    assert ranks.dropna().to_dict() == {"D": 1, "A": 1, "C": 2, "E": 1}
    assert ranks[["B", "F"]].isna().all()
    assert coming_up(worklist)["customer_id"].tolist() == ["B", "F"]
    # C's work is due but Laura's list holds one: it waits, still due
    assert not_reached(worklist)[["customer_id", "action_status"]].values.tolist() == [
        ["C", "today"]
    ]


def test_coming_up_stops_at_its_horizon():
    # B's next action is on 2026-11-05, F's on 2026-11-23; the horizon's day is included
    worklist = _worklist(capacity=1)
    ahead = {
        until: coming_up(worklist, pd.Timestamp(until))["customer_id"].tolist()
        for until in ("2026-11-04", "2026-11-05", "2026-11-22", "2026-11-23")
    }
    assert ahead == {
        "2026-11-04": [], "2026-11-05": ["B"], "2026-11-22": ["B"], "2026-11-23": ["B", "F"],
    }  # fmt: skip
    # never a customer with work due today, whatever the horizon
    assert coming_up(worklist, pd.Timestamp("2030-01-01"))["customer_id"].tolist() == ["B", "F"]


def test_ties_are_broken_deterministically():
    tied = SCORES.assign(p_late_30=0.0)
    first = rank_customers(plan_invoices(tied, CUSTOMERS, AS_OF), CUSTOMERS, AS_OF)
    shuffled = tied.sample(frac=1, random_state=1)
    again = rank_customers(
        plan_invoices(shuffled, CUSTOMERS.iloc[::-1], AS_OF), CUSTOMERS.iloc[::-1], AS_OF
    )
    # no risk anywhere: the overdue amount of the action decides, then its date, then the id
    assert again["customer_id"].tolist() == first["customer_id"].tolist()
    assert first["customer_id"].tolist()[:2] == ["D", "E"]


def test_the_published_list_matches_the_golden_file(tmp_path):
    """tests/golden/worklist.csv was read line by line when written; regenerate it only for a
    deliberate change of the list (LATEPAY_REGENERATE_GOLDEN=1) and read the diff."""
    worklist = _worklist(capacity=2)
    worklist.loc[worklist["customer_id"] == "A", "reason_1"] = "paid 80% of 10 past invoices late"
    out = tmp_path / "worklist.csv"
    write_worklist_csv(todays_list(worklist), out)
    if os.environ.get("LATEPAY_REGENERATE_GOLDEN"):
        GOLDEN.write_text(out.read_text(encoding="utf-8-sig"), encoding="utf-8")
    # UTF-8 with a byte-order mark: French Excel reads the accents right
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")
    assert out.read_text(encoding="utf-8-sig") == GOLDEN.read_text(encoding="utf-8")


def test_an_action_is_about_invoices_of_one_currency():
    # A also owes A3 in pounds, due with A1: seen on Thursday 11-05 both have their final
    # reminder due, as two actions; the row's amounts and the customer's totals are in euros
    day = AS_OF + pd.Timedelta(days=4)
    a3 = SCORES[SCORES["invoice_id"] == "A1"].assign(
        invoice_id="A3", open_amount=500.0, currency="GBP"
    )
    scores = pd.concat([SCORES, a3], ignore_index=True)
    scores = scores.assign(days_past_due=scores["days_past_due"] + 4, as_of=day)
    invoices = plan_invoices(scores, CUSTOMERS, day, promises=PROMISES)
    a = rank_customers(invoices, CUSTOMERS, day).set_index("customer_id").loc["A"]
    assert (a.currency, a.action_invoices, a.expected_amount_at_risk) == ("EUR", "A1", 900.0)
    assert (a.customer_open_amount, a.customer_overdue_amount) == (4000.0, 1000.0)
    assert a.other_actions == (
        "final reminder before formal notice (1 invoice); "  # A3, in pounds
        "resolve the dispute (dunning paused) (1 invoice)"
    )


@pytest.mark.parametrize("scale", [1.0, 1e7])  # (1e7: amounts past 64-bit products of cents)
def test_the_worklists_interest_is_the_letters_to_the_cent(scale):
    rates = pd.read_csv(
        Path(__file__).parents[2] / "pipelines/publish/data/ecb_main_refinancing_rate.csv"
    )
    rng = np.random.default_rng(7)
    n = 2_000
    invoices = pd.DataFrame(
        {
            "invoice_id": [f"I{i}" for i in range(n)],
            "currency": "EUR",
            # (invoices, as letters list them)
            "open_amount": np.round(rng.uniform(0.01, 50_000, n), 2) * scale,
            "due_date": AS_OF - pd.to_timedelta(rng.integers(-30, 2_900, n), unit="D"),
            "country": "FR",
        }
    )
    invoices["days_past_due"] = (AS_OF - invoices["due_date"]).dt.days
    owed = late_penalties(invoices, AS_OF, rates=rates)
    letters = penalties(invoices, AS_OF, rates, french_law=pd.Series(True, index=invoices.index))
    # the mise en demeure's table: each half-year priced in Decimal, to the cent, then summed
    half_years = statutory_periods(rates)
    printed = [
        round(sum(p["interest"] for p in late_periods(a, d, AS_OF, half_years)), 2)
        for a, d in zip(invoices["open_amount"], invoices["due_date"], strict=True)
    ]
    assert owed["late_interest"].tolist() == letters["interest"].tolist() == printed
    assert owed["recovery_fee"].tolist() == letters["indemnity_eur"].tolist()
