"""The vectorised paths of planning and ranking (issue #24: 820,000 open invoices) give exactly
what the plain per-row or pandas way gives, on hand-written rows chosen for their edge cases:
ties, missing values, several currencies, holidays, unknown countries."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.calendar import _holidays, roll_forward
from models.ledger import index_in, sorted_order
from models.worklist import PROMISE_FLAGS, _customer_actions, _joined_ids, _other_actions

NAT = pd.NaT


def _roll_one(day: pd.Timestamp, country: object) -> pd.Timestamp:
    """One date rolled on its own: the rule of models/calendar.py, row by row."""
    if pd.isna(day):
        return NAT
    code = country.strip().upper()[:2] if isinstance(country, str) else ""
    code = code if len(code) == 2 else "FR"
    holidays = _holidays(code, day.year, day.year + 1)
    return pd.Timestamp(np.busday_offset(np.datetime64(day, "D"), 0, "forward", holidays=holidays))


def test_roll_forward_equals_rolling_each_date_alone():
    days = pd.to_datetime(
        [
            "2026-11-11",  # Armistice in France: to Thursday 11-12
            "2026-11-11",  # not a holiday in Germany
            "2026-11-08",  # a Sunday, unknown country: weekends only
            "2026-11-08",  # a Sunday, no country: France's calendar
            None,  # NaT stays NaT
            "2026-12-25",  # Christmas, lower case code with spaces
            "2027-01-01",  # New Year in Belgium, a year later than the rest
            "2026-11-10",  # already a business day
        ]
    )
    countries = pd.Series(["FR", "DE", "ZZ", None, " fr ", "fr", "BE", "X"], index=range(8))
    rolled = roll_forward(pd.Series(days), countries)
    expected = [_roll_one(d, c) for d, c in zip(days, countries, strict=True)]
    assert rolled.isna().tolist() == [d is NAT for d in expected]
    assert rolled.dropna().tolist() == [d for d in expected if d is not NAT]
    assert rolled.dtype == "datetime64[ns]"
    assert rolled.dt.strftime("%m-%d").fillna("").tolist() == [
        "11-12", "11-11", "11-09", "11-09", "", "12-28", "01-04", "11-10"
    ]  # fmt: skip
    assert roll_forward(pd.Series(days), "DE").tolist()[:2] == [pd.Timestamp("2026-11-11")] * 2


def test_sorted_order_equals_sort_values_with_ties_and_missing_values():
    frame = pd.DataFrame(
        {
            "customer_id": ["B", "A", "B", "A", "A", "C", "B"],
            "amount": [1.0, np.nan, 1.0, 2.0, 2.0, np.nan, 3.0],  # NaN last either way
            "day": pd.to_datetime(
                ["2026-01-02", None, "2026-01-01", "2026-01-01", None, "2026-01-03", "2026-01-02"]
            ),
            "key": ["x", "y", None, "x", "x", "z", "y"],  # ties kept in their order
        }
    )
    for keys in (
        [("customer_id", "ascending"), ("amount", "descending"), ("day", "ascending")],
        [("amount", "ascending"), ("key", "descending")],
        [("key", "ascending")],
        [("day", "descending"), ("customer_id", "ascending")],
    ):
        expected = frame.sort_values(
            [k for k, _ in keys], ascending=[o == "ascending" for _, o in keys], kind="stable"
        ).index.to_numpy()
        assert sorted_order(frame, keys).tolist() == expected.tolist(), keys


def test_index_in_finds_the_position_or_minus_one():
    of = pd.Series(["I3", "I1", "I2"])
    assert index_in(pd.Series(["I2", "I9", None, "I3"]), of).tolist() == [2, -1, -1, 0]


def test_joined_ids_equals_joining_each_group_sorted():
    ids = pd.Series(["I10", "I2", "I1", "I7", "I30", "I3"])
    group = np.array([0, 0, 1, 2, 2, 2])
    expected = [", ".join(sorted(ids[group == g])) for g in range(3)]
    assert _joined_ids(ids, group).tolist() == expected == ["I10, I2", "I1", "I3, I30, I7"]


def _planned() -> pd.DataFrame:
    """Planned invoices as rank_customers reads them, each row there for a reason."""
    rows = [
        # customer, invoice, currency, key, channel, date, open, dpd, at risk, promise
        ("A", "A1", "EUR", "first_reminder", "email", "2026-11-02", 100.0, 5, 50.0, "none"),
        ("A", "A2", "EUR", "first_reminder", "email", "2026-11-01", 300.0, 9, 50.0, "pending"),
        ("A", "A3", "USD", "first_reminder", "email", "2026-11-01", 50.0, 2, 10.0, "broken"),
        ("A", "A4", "EUR", "first_reminder", "email", "2026-11-20", 80.0, -3, 8.0, "none"),
        ("A", "A5", "EUR", "formal_notice", "letter", "2026-10-20", 90.0, 40, 70.0, "none"),
        ("B", "B1", "EUR", "resolve_dispute", None, "2026-10-30", 60.0, 12, 30.0, "none"),
        ("B", "B2", "EUR", "resolve_dispute", "sms", "2026-10-31", 40.0, 0, 20.0, "none"),
        ("B", "B3", "EUR", None, None, None, 10.0, 70, 9.0, "none"),  # nothing left to do
        ("C", "C1", "EUR", "due_date_reminder", "email", "2026-12-01", 5.0, -30, np.nan, "none"),
        ("C", "C2", "EUR", "due_date_reminder", "email", "2026-12-02", 7.0, -31, 1.0, "none"),
        ("D", "D1", "EUR", "collection_agency", "agency", "2026-10-01", 70.0, 90, 60.0, "none"),
    ]
    columns = [
        "customer_id", "invoice_id", "currency", "next_action_key", "next_action_channel",
        "next_action_date", "open_amount", "days_past_due", "at_risk", "promise_status",
    ]  # fmt: skip
    frame = pd.DataFrame(rows, columns=columns).astype({"next_action_key": object})
    frame["next_action_date"] = pd.to_datetime(frame["next_action_date"])
    frame["next_action"] = frame["next_action_key"].str.replace("_", " ").astype(object)
    frame["next_action_channel"] = frame["next_action_channel"].astype(object)
    frame["dunning_stage"] = np.array(["first reminder"] * len(frame), dtype=object)
    frame["late_interest"] = frame["open_amount"] / 100
    frame["recovery_fee"] = 40.0
    frame["last_step_date"] = pd.Timestamp("2026-10-25")
    frame["promised_date"] = pd.to_datetime([None, "2026-11-04", "2026-10-28", *[None] * 8])
    frame["due_date"] = pd.Timestamp("2026-10-27")
    for column in ("predicted_payment_date", "payment_date_p10", "payment_date_p90"):
        frame[column] = pd.Timestamp("2026-11-15")
    frame["with_agency"] = frame["invoice_id"] == "D1"  # handed over: not an action
    return frame


def _reference_actions(invoices: pd.DataFrame, last_day: pd.Timestamp) -> pd.DataFrame:
    """The plain pandas way: sort, group by the four keys, aggregate, join, look up drivers."""
    work = invoices[invoices["next_action_key"].notna() & ~invoices["with_agency"]].assign(
        overdue=lambda f: f["open_amount"].where(f["days_past_due"] > 0, 0.0),
        past_due=lambda f: f["days_past_due"].clip(lower=0),
        due=lambda f: f["next_action_date"] <= last_day,
        promise_flag=lambda f: f["promise_status"].map({"pending": 1, "broken": 2}).fillna(0),
    )
    keys = ["customer_id", "next_action_key", "due", "currency"]
    work = work.sort_values([*keys, "at_risk", "invoice_id"], ascending=[*[True] * 4, False, True])
    grouped = work.groupby(keys, sort=False)
    actions = grouped.agg(
        next_action=("next_action", "first"),
        next_action_channel=("next_action_channel", "first"),
        next_action_date=("next_action_date", "min"),
        n_invoices=("invoice_id", "count"),
        open_amount=("open_amount", "sum"),
        overdue_amount=("overdue", "sum"),
        expected_amount_at_risk=("at_risk", "sum"),
        oldest_days_past_due=("past_due", "max"),
        late_interest=("late_interest", "sum"),
        recovery_fees=("recovery_fee", "sum"),
        dunning_stage=("dunning_stage", "first"),
        last_step_date=("last_step_date", "max"),
        promise_status=("promise_flag", "max"),
        promised_for=("promised_date", "max"),
    ).reset_index()
    actions["promise_status"] = np.asarray(PROMISE_FLAGS)[actions["promise_status"].astype(int)]
    actions["action_invoices"] = grouped["invoice_id"].agg(lambda s: ", ".join(sorted(s))).values
    driver = grouped.head(1).set_index(keys).loc[list(actions[keys].itertuples(index=False))]
    actions["driver_invoice_id"] = driver["invoice_id"].to_numpy()
    for column in ("predicted_payment_date", "payment_date_p10", "payment_date_p90"):
        actions[column] = driver[column].to_numpy()
    late = pd.to_datetime(driver["predicted_payment_date"]) - pd.to_datetime(driver["due_date"])
    actions["predicted_days_late"] = late.dt.days.to_numpy()
    worked = actions["open_amount"].where(actions["open_amount"] > 0)
    actions["risk_probability"] = actions["expected_amount_at_risk"] / worked
    return actions


@pytest.mark.parametrize("last_day", ["2026-11-01", "2026-11-02", "2026-12-31"])
def test_customer_actions_equal_the_plain_groupby(last_day):
    # A: ties on amount at risk (A1, A2: by id), another currency (A3), one not due yet (A4,
    # unless the horizon is far); B: the riskiest invoice has no channel (the first channel
    # given wins, as groupby's "first"); B3: nothing to do; C: a NaN amount at risk sorts last;
    # D: at the agency.
    invoices, day = _planned(), pd.Timestamp(last_day)
    actions = _customer_actions(invoices, day)
    pd.testing.assert_frame_equal(actions, _reference_actions(invoices, day), check_exact=True)
    assert actions.loc[actions["customer_id"] == "B", "next_action_channel"].tolist() == ["sms"]


def test_other_actions_equal_the_plain_groupby():
    # C's come first in the table but A's first in the result (by customer); C has two others,
    # in the order they come; A's action not due is no "other"; B has a single action.
    actions = pd.DataFrame(
        {
            "customer_id": ["C", "C", "C", "A", "A", "A", "B"],
            "next_action_key": ["k1", "k2", "k3", "k1", "k2", "k3", "k1"],
            "due": [True, True, True, True, True, False, True],
            "currency": ["EUR", "EUR", "USD", "EUR", "EUR", "EUR", "EUR"],
            "next_action": ["first", "second", "third", "first", "second", "third", "first"],
            "n_invoices": [1, 2, 1, 3, 1, 5, 2],
        }
    )
    chosen = actions.drop_duplicates("customer_id")
    rest = actions[actions["due"]].merge(
        chosen[["customer_id", "next_action_key", "due", "currency"]], how="left", indicator=True
    )
    rest = rest[rest["_merge"] == "left_only"]
    words = rest["next_action"] + " (" + rest["n_invoices"].astype(str) + " invoice"
    words = words + np.where(rest["n_invoices"] > 1, "s)", ")")
    expected = words.groupby(rest["customer_id"]).agg("; ".join).rename("other_actions")
    others = _other_actions(actions, chosen)
    pd.testing.assert_frame_equal(others, expected.reset_index(), check_exact=True)
    assert others["other_actions"].tolist() == [
        "second (1 invoice)",
        "second (2 invoices); third (1 invoice)",
    ]
