"""Ranking and reasons on hand-written invoice scores."""

from __future__ import annotations

import pandas as pd
import pytest

from features.catalog import CATALOG, reason_sentence
from models.worklist import WORKLIST_COLUMNS, driver_invoices, rank_customers
from pipelines.publish import publish_worklist

CUSTOMERS = pd.DataFrame(
    {
        "customer_id": ["A", "B", "C"],
        "name": ["Alpha SA", "Beta SARL", "Gamma GmbH"],
        "collector": ["Laura", "Karim", "Laura"],
        "preferred_channel": ["email", "phone", "letter"],
    }
)

SCORES = pd.DataFrame(
    {
        "invoice_id": ["A1", "A2", "B1", "C1", "C2"],
        "customer_id": ["A", "A", "B", "C", "C"],
        "open_amount": [1000.0, 3000.0, 10000.0, 500.0, 500.0],
        "days_past_due": [10, -20, -5, 40, 0],
        "is_disputed": [0, 1, 0, 0, 0],
        "p_late_30": [0.9, 0.1, 0.08, 0.5, 0.5],
    }
)


def test_customers_are_ranked_by_expected_amount_at_risk():
    worklist = rank_customers(SCORES, CUSTOMERS)
    assert list(worklist.columns) == WORKLIST_COLUMNS
    # A: 1000*0.9 + 3000*0.1 = 1200; B: 10000*0.08 = 800; C: 500*0.5*2 = 500
    assert worklist["customer_id"].tolist() == ["A", "B", "C"]
    assert worklist["rank"].tolist() == [1, 2, 3]
    assert worklist["expected_amount_at_risk"].tolist() == [1200.0, 800.0, 500.0]
    a = worklist.iloc[0]
    assert (a.open_amount, a.overdue_amount, a.open_invoices) == (4000.0, 1000.0, 2)
    assert (a.oldest_days_past_due, a.disputed_invoices) == (10, 1)
    assert a.risk_probability == 1200.0 / 4000.0
    # C: one invoice due today is not overdue yet
    c = worklist.iloc[2]
    assert (c.overdue_amount, c.oldest_days_past_due) == (500.0, 40)


def test_ties_are_broken_deterministically():
    tied = SCORES.assign(p_late_30=[0.0, 0.0, 0.0, 0.0, 0.0])
    first = rank_customers(tied, CUSTOMERS)
    again = rank_customers(tied.iloc[::-1], CUSTOMERS.iloc[::-1])
    # no risk anywhere: the overdue amount decides (A 1000, C 500, B 0)
    assert first["customer_id"].tolist() == ["A", "C", "B"]
    assert again["customer_id"].tolist() == first["customer_id"].tolist()


def test_the_driver_invoice_carries_most_of_the_risk():
    drivers = driver_invoices(SCORES, ["A", "C"])
    # A1 (900 at risk) over A2 (300); C1 and C2 tie at 250: lowest invoice_id
    assert drivers["invoice_id"].tolist() == ["A1", "C1"]


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


def test_publishing_replaces_a_date_whole_or_not_at_all(tmp_path, monkeypatch):
    worklist = rank_customers(SCORES, CUSTOMERS)
    path = publish_worklist(worklist, tmp_path, "2026-01-01")
    published = pd.read_csv(path)
    assert published["customer_id"].tolist() == ["A", "B", "C"]
    assert published["oldest_days_past_due"].tolist() == [10, 0, 40]  # whole days, not floats

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_csv", crash)
    with pytest.raises(OSError, match="disk full"):
        publish_worklist(worklist.head(1), tmp_path, "2026-01-01")
    monkeypatch.undo()
    assert pd.read_csv(path)["customer_id"].tolist() == ["A", "B", "C"]  # the previous list
    assert [p.name for p in tmp_path.iterdir()] == ["2026-01-01"]  # no half-written folder
