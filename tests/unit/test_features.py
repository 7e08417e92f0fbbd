"""Tests of the point-in-time features (features/sql/*.sql through features/runner.py).

Small hand-written books with exact expected values first, then the point-in-time property
(README, "How the model stays honest": point in time), training path = scoring path, and catalog/SQL agreement.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import date, timedelta

import duckdb
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from features.catalog import CATALOG, CATEGORICAL_FEATURES, reason_sentence
from features.runner import (
    DIRECT_MAX_DATES,
    build_features,
    export_features,
    model_feature_columns,
)
from pipelines.warehouse import connect, rebuild_settlements

# ---------------------------------------------------------------------------------------------
# helpers: a warehouse from hand-written rows
# ---------------------------------------------------------------------------------------------

# invoice_id, customer_id, issue_date, due_date, amount (a credit note is negative)
Invoice = tuple[str, str, date, date, float]
Payment = tuple[str, str, date, float]  # payment_id, invoice_id, payment_date, amount
Dispute = tuple[str, date]  # invoice_id, opened_date


def load_book(
    con: duckdb.DuckDBPyConnection,
    *,
    invoices: Iterable[Invoice],
    payments: Iterable[Payment] = (),
    disputes: Iterable[Dispute] = (),
    customers: Iterable[tuple[str, str, str, int]] = (),
) -> duckdb.DuckDBPyConnection:
    """Replace the staging tables' rows with the given ones and rebuild the settlements.

    `customers`: (customer_id, country, segment, payment_terms_days); a customer of an invoice
    not listed gets ("DE", "smb", 30), so that most tests need not list customers.
    """
    invoices, payments, disputes = list(invoices), list(payments), list(disputes)
    for table in ("customers", "invoices", "payments", "disputes"):
        con.execute(f"delete from staging.{table}")
    listed = {c[0]: c for c in customers}
    for customer_id in sorted({i[1] for i in invoices} - set(listed)):
        listed[customer_id] = (customer_id, "DE", "smb", 30)
    con.executemany(
        "insert into staging.customers "
        "(customer_id, name, country, segment, payment_terms_days, preferred_channel, collector) "
        "values (?, ?, ?, ?, ?, 'email', 'Ann')",
        [
            (cid, f"Customer {cid}", country, segment, terms)
            for cid, country, segment, terms in listed.values()
        ],
    )
    disputed = {d[0] for d in disputes}
    if invoices:
        con.executemany(
            "insert into staging.invoices "
            "(invoice_id, customer_id, issue_date, due_date, amount, currency, disputed) "
            "values (?, ?, ?, ?, ?, 'EUR', ?)",
            [(*row, row[0] in disputed) for row in invoices],
        )
    if payments:
        con.executemany(
            "insert into staging.payments (payment_id, invoice_id, payment_date, amount) "
            "values (?, ?, ?, ?)",
            payments,
        )
    if disputes:
        con.executemany(
            "insert into staging.disputes (invoice_id, opened_date) values (?, ?)", disputes
        )
    rebuild_settlements(con)
    return con


def warehouse(**book) -> duckdb.DuckDBPyConnection:
    """A fresh in-memory warehouse holding `book` (see `load_book`)."""
    return load_book(connect(":memory:"), **book)


def features_at(con: duckdb.DuckDBPyConnection, as_of: date, **kwargs) -> pd.DataFrame:
    """Features as of one date, indexed by invoice_id."""
    return build_features(con, [as_of], **kwargs).set_index("invoice_id")


def d(text: str) -> date:
    return date.fromisoformat(text)


# ---------------------------------------------------------------------------------------------
# A hand-written book (customer C1 with history, C2 without) seen as of D = 2024-07-01.
# 2024 is a leap year: D - 90 = 2024-04-02, D - 365 = 2023-07-02.
# ---------------------------------------------------------------------------------------------

D = d("2024-07-01")

BOOK_INVOICES: list[Invoice] = [
    # settled history of C1 (days late in brackets)
    # settled 2023-07-01 [10], on D-366: just outside the 365-day window
    ("H1", "C1", d("2023-05-22"), d("2023-06-21"), 100),
    ("H2", "C1", d("2023-09-01"), d("2023-10-01"), 300),  # settled ON its due date [0]: on time
    ("H3", "C1", d("2024-03-01"), d("2024-03-31"), 200),  # two parts, settled 2024-04-02 = D-90 [2]
    ("H4", "C1", d("2024-05-01"), d("2024-05-31"), 400),  # settled 2024-06-30 = D-1 [30]: visible
    # open at D
    # due last month, paid 60 days late AFTER D: open and overdue at D, not in the history
    ("H5", "C1", d("2024-05-15"), d("2024-06-14"), 100),
    ("H6", "C1", d("2024-06-01"), d("2024-06-30"), 100),  # paid ON D: still open at D, not history
    # partly paid, due at a month end, disputed before D
    ("O1", "C1", d("2024-06-15"), d("2024-07-31"), 200),
    # never in the snapshot at D
    ("H7", "C1", d("2024-07-01"), d("2024-07-31"), 700),  # issued ON D: not yet known
    ("CN1", "C1", d("2024-06-10"), d("2024-06-10"), -50),  # credit note: applied when issued
    # a second customer with no history at all
    ("N1", "C2", d("2024-06-20"), d("2024-07-20"), 80),
]
BOOK_PAYMENTS: list[Payment] = [
    ("P1", "H1", d("2023-07-01"), 100),
    ("P2", "H2", d("2023-10-01"), 300),
    ("P3a", "H3", d("2024-03-28"), 100),  # first part
    ("P3b", "H3", d("2024-04-02"), 100),  # second part: settles H3
    ("P4", "H4", d("2024-06-30"), 400),  # the day before D
    ("P5", "H5", d("2024-08-13"), 100),  # after D; H5 ends 60 days late (a leak if counted at D)
    ("P6", "H6", d("2024-07-01"), 100),  # ON D: invisible at D
    ("PO1", "O1", d("2024-06-20"), 50),  # a quarter of O1
    ("P7", "H7", d("2024-07-02"), 700),
]
BOOK_DISPUTES: list[Dispute] = [
    ("H2", d("2023-09-15")),  # old dispute: counts in dispute_rate
    ("O1", d("2024-06-25")),  # before D: O1 is disputed at D
    ("H5", d("2024-07-01")),  # opened ON D: H5 not yet disputed at D, disputed at D+1
]


@pytest.fixture(scope="module")
def book() -> duckdb.DuckDBPyConnection:
    return warehouse(
        invoices=BOOK_INVOICES,
        payments=BOOK_PAYMENTS,
        disputes=BOOK_DISPUTES,
        customers=[("C1", "FR", "enterprise", 45), ("C2", "DE", "smb", 30)],
    )


@pytest.fixture(scope="module")
def at_d(book) -> pd.DataFrame:
    return features_at(book, D)


def test_snapshot_holds_exactly_the_invoices_open_at_d(at_d):
    # H1-H4 settled before D; H6 was paid ON D, so it is still open at D; H7 is issued ON D, so not
    # yet known; CN1 is a credit note (never open); H5 is open although it is paid later.
    assert sorted(at_d.index) == ["H5", "H6", "N1", "O1"]
    assert (at_d["as_of"] == pd.Timestamp(D)).all()
    assert at_d.loc["H5", "customer_id"] == "C1"


def test_credit_note_is_never_open(book):
    dates = [d("2024-06-10"), d("2024-06-11"), D, d("2024-09-01")]
    frame = build_features(book, dates)
    assert "CN1" not in set(frame["invoice_id"])


def test_history_counts_only_invoices_settled_before_d(at_d):
    row = at_d.loc["O1"]
    # H1 [10], H2 [0], H3 [2], H4 [30]; not H5 (due last month, settled after D: the classic leak
    # would count it with its final 60 days late) nor H6 (settled ON D).
    assert row["settled_invoices"] == 4
    assert row["settled_amount"] == 1000
    assert row["share_paid_late"] == 0.75  # H1, H3, H4 late; H2 paid on its due date is on time
    assert row["avg_days_late"] == 10.5  # (10 + 0 + 2 + 30) / 4
    assert row["max_days_late"] == 30  # H4; would be 60 with H5's final outcome
    assert row["std_days_late"] == pytest.approx(math.sqrt((100 + 0 + 4 + 900) / 4 - 10.5**2))
    # (100*10 + 300*0 + 200*2 + 400*30) / 1000
    assert row["amount_weighted_days_late"] == pytest.approx(13.4)
    assert row["share_paid_in_parts"] == 0.25  # H3 only
    assert row["avg_days_late_last5"] == 10.5  # fewer than five settled: all of them


def test_history_windows_and_trend(at_d):
    row = at_d.loc["O1"]
    # 365d: settled on or after D-365 = 2023-07-02: H2, H3, H4 (H1 settled on D-366)
    assert row["settled_invoices_365d"] == 3
    assert row["share_paid_late_365d"] == pytest.approx(2 / 3)
    assert row["avg_days_late_365d"] == pytest.approx(32 / 3)
    # 90d: settled on or after D-90 = 2024-04-02: H3 (exactly D-90) and H4
    assert row["settled_invoices_90d"] == 2
    assert row["share_paid_late_90d"] == 1.0
    assert row["avg_days_late_90d"] == 16.0
    assert row["trend_days_late_90d"] == 5.5  # 16 - 10.5: paying later recently


def test_history_activity_features(at_d):
    row = at_d.loc["O1"]
    # issued before D (credit note and H7 excluded): H1..H6, O1 = 7 invoices, 1400 in total
    assert row["dispute_rate"] == pytest.approx(2 / 7)  # H2, O1; H5's dispute opened ON D
    assert row["invoices_issued_365d"] == 6  # H1 was issued before D-365
    assert row["credit_notes_365d"] == 1
    assert row["tenure_days"] == (D - d("2023-05-22")).days == 406
    assert row["days_since_last_payment"] == 1  # P4 on D-1; P6 ON D is invisible
    assert row["amount_vs_customer_avg"] == 1.0  # 200 / (1400 / 7)
    assert at_d.loc["H5", "amount_vs_customer_avg"] == 0.5
    # 350 open / (1300 issued in the last 365 days, H1 excluded, / 12)
    assert row["open_amount_vs_monthly_billing"] == pytest.approx(350 / (1300 / 12))
    assert (row["country"], row["segment"], row["customer_terms_days"]) == ("FR", "enterprise", 45)


def test_median_days_late_and_usual_open_amount(at_d):
    row = at_d.loc["O1"]
    assert row["median_days_late"] == 6.0  # median of H1 [10], H2 [0], H3 [2], H4 [30]
    # Amount of C1's open invoices on each day t of [D-364, D] (open: issued before t, not
    # settled before t), summed: H1 closed before the window; H2 300 x 30 days (2023-09-02 ..
    # 10-01); H3 200 x 32 (2024-03-02 .. 04-02); H4 400 x 60 (05-02 .. 06-30); H5 100 x 47
    # (05-16 .. D, settled after D); H6 100 x 30 (06-02 .. D: settled ON D, still open on D);
    # O1 200 x 16 (06-16 .. D, counted before its partial payment). Open at D: 400 (H5, H6, O1).
    usual = (300 * 30 + 200 * 32 + 400 * 60 + 100 * 47 + 100 * 30 + 200 * 16) / 365
    assert row["open_amount_vs_usual"] == pytest.approx(400 / usual)
    # C2 is 11 days old: its usual is the average over those 11 days, 80 each day
    assert at_d.loc["N1", "open_amount_vs_usual"] == 1.0


def test_amount_vs_customer_median():
    invoices = [
        # three invoices of 100, settled on time
        *[(f"S{k}", "C1", d("2024-01-01"), d("2024-02-01"), 100) for k in range(3)],
        ("BIG", "C1", d("2024-06-01"), d("2024-07-15"), 1000),  # open at D: 10x the median
        ("CN", "C1", d("2024-03-01"), d("2024-03-01"), -500),  # credit note: not an invoice amount
        ("LATER", "C1", D, d("2024-08-01"), 5000),  # issued ON D: not yet known
    ]
    payments = [(f"P{k}", f"S{k}", d("2024-02-01"), 100) for k in range(3)]
    row = features_at(warehouse(invoices=invoices, payments=payments), D).loc["BIG"]
    assert row["amount_vs_customer_median"] == 10.0  # 1000 / median(100, 100, 100, 1000)
    assert row["amount_vs_customer_avg"] == 1000 / 325  # the mean is pulled up by BIG itself
    assert row["median_days_late"] == 0.0


def test_customer_without_history(at_d):
    # C2 never settled nor paid anything: counts are 0, averages and recency missing, not 0.
    row = at_d.loc["N1"]
    assert row["settled_invoices"] == 0
    assert row["settled_invoices_90d"] == 0
    assert math.isnan(row["share_paid_late"])
    assert math.isnan(row["avg_days_late"])
    assert math.isnan(row["days_since_last_payment"])
    assert row["tenure_days"] == 11
    assert row["customer_open_invoices"] == 1  # C1's invoices are not C2's exposure


def test_exposure_is_the_state_at_d(at_d):
    # open at D: H5 (100, 17 days past due), H6 (100, 1 day past due: its payment ON D is not yet
    # seen), O1 (150 of 200 left, not due, disputed); H5 counts as overdue though paid later.
    for invoice_id in ("H5", "H6", "O1"):
        row = at_d.loc[invoice_id]
        assert row["customer_open_invoices"] == 3
        assert row["customer_open_amount"] == 350
        assert row["customer_overdue_invoices"] == 2
        assert row["customer_overdue_amount"] == 200
        assert row["customer_max_days_past_due"] == 17
        assert row["customer_disputed_open_invoices"] == 1  # O1; H5's dispute opened ON D


def test_an_invoice_due_on_d_is_not_yet_overdue():
    invoices = [
        ("DUE_D", "C1", d("2024-06-01"), D, 100),  # due ON D: may still be paid on time today
        ("DUE_D-1", "C1", d("2024-06-01"), D - timedelta(days=1), 40),  # due yesterday: overdue
    ]
    frame = features_at(warehouse(invoices=invoices), D)
    assert frame.loc["DUE_D", "days_past_due"] == 0
    assert frame.loc["DUE_D-1", "days_past_due"] == 1
    row = frame.loc["DUE_D"]
    assert (row["customer_overdue_invoices"], row["customer_overdue_amount"]) == (1, 40)
    assert row["customer_max_days_past_due"] == 1


def test_invoice_context(at_d):
    o1 = at_d.loc["O1"]
    assert o1["open_amount"] == 150  # 200 minus the partial payment of 50
    assert o1["share_already_paid"] == 0.25
    assert o1["terms_days"] == 46
    assert o1["days_since_issue"] == 16
    assert o1["days_past_due"] == -30
    assert (o1["due_is_month_end"], o1["due_day_of_month"], o1["due_month"]) == (1, 31, 7)
    assert o1["is_disputed"] == 1  # dispute opened 2024-06-25, before D
    h6 = at_d.loc["H6"]
    assert (h6["open_amount"], h6["share_already_paid"]) == (100, 0)  # its payment is ON D
    assert h6["days_past_due"] == 1
    assert h6["due_is_month_end"] == 1  # 30 June is a month end
    h5 = at_d.loc["H5"]
    assert h5["days_past_due"] == 17
    assert h5["due_is_month_end"] == 0
    assert h5["is_disputed"] == 0  # dispute opened ON D: not yet known


def test_the_day_after_d_sees_facts_dated_d(book):
    after = features_at(book, D + timedelta(days=1))
    # H6 was settled ON D: gone from the snapshot and now in the history; H7 (issued ON D) appears.
    assert sorted(after.index) == ["H5", "H7", "N1", "O1"]
    row = after.loc["O1"]
    assert row["settled_invoices"] == 5
    assert row["max_days_late"] == 30  # H6 was 1 day late; H5 still not settled
    assert row["days_since_last_payment"] == 1  # P6 ON D
    assert after.loc["H5", "is_disputed"] == 1  # its dispute opened ON D is now known
    assert row["customer_disputed_open_invoices"] == 2


def test_payment_on_d_is_invisible_and_the_day_before_is_visible():
    # Two identical invoices; the only difference is the payment date.
    invoices = [("A", "C1", d("2024-05-01"), d("2024-05-31"), 100)]
    on_d = warehouse(invoices=invoices, payments=[("P", "A", D, 100)])
    day_before = warehouse(invoices=invoices, payments=[("P", "A", D - timedelta(days=1), 100)])
    assert list(features_at(on_d, D).index) == ["A"]
    assert features_at(on_d, D).loc["A", "settled_invoices"] == 0
    assert features_at(day_before, D).empty  # settled before D: not open
    # seen from the next day, the invoice settled ON D is history
    assert features_at(on_d, D + timedelta(days=1)).empty


def test_invoices_fallen_due_count_those_unpaid_at_their_due_date(at_d):
    # C1's invoices whose due date is before D: H1 (settled 10 days late), H2 (on its due date),
    # H3 (2 days late), H4 (30 days late), H5 (still unpaid at D: its payment after D is not
    # needed to know it was not paid by its due date), H6 (due the day before D, paid ON D).
    # O1 and H7 fall due after D.
    row = at_d.loc["O1"]
    assert row["invoices_fallen_due"] == 6
    assert row["share_unpaid_at_due_date"] == 5 / 6  # all but H2
    # due on or after D - 365 = 2023-07-02: H2-H6 (H1 fell due 2023-06-21)
    assert row["share_unpaid_at_due_date_365d"] == 4 / 5
    # due on or after D - 90 = 2024-04-02: H4, H5, H6 (H3 fell due 2024-03-31)
    assert row["invoices_fallen_due_90d"] == 3
    assert row["share_unpaid_at_due_date_90d"] == 1.0
    # of those three, H5 and H6 are still open at D (H4 was settled the day before D)
    assert row["share_fallen_due_90d_still_unpaid"] == 2 / 3
    assert row["avg_days_early_when_on_time"] == 0.0  # H2, paid on its due date
    # weights 365 - days since fallen due: H2 91 (on time), H3 273, H4 334, H5 348, H6 364
    assert row["recent_share_unpaid_at_due_date"] == 1319 / 1410
    assert row["share_settled_on_month_end"] == 0.25  # H4 (2024-06-30) of H1-H4
    newcomer = at_d.loc["N1"]  # C2: nothing fallen due
    assert newcomer["invoices_fallen_due"] == 0
    assert math.isnan(newcomer["share_unpaid_at_due_date"])
    assert math.isnan(newcomer["avg_days_early_when_on_time"])


def test_an_invoice_falls_due_after_its_grace_days(book):
    row = features_at(book, D, grace_days=5).loc["O1"]
    # H6 (due 2024-06-30) may still be paid on time until 2024-07-05: not fallen due at D;
    # H3, paid 2 days after its due date, was paid within the grace days
    assert row["invoices_fallen_due"] == 5
    assert row["share_unpaid_at_due_date"] == 3 / 5  # H1, H4, H5


def test_grace_days_change_what_counts_as_late(book):
    row = features_at(book, D, grace_days=10).loc["O1"]
    # with 10 days of grace, H1 (10 days) and H3 (2 days) are no longer late; H4 (30) still is
    assert row["share_paid_late"] == 0.25
    assert row["share_paid_late_90d"] == 0.5
    assert row["avg_days_late"] == 10.5  # days late themselves are counted from the due date


def test_avg_days_late_last5_uses_the_five_latest_settlements():
    invoices = [
        ("L1", "C1", d("2024-01-01"), d("2024-02-01"), 100),  # settled first, 60 days late
        *[(f"L{k}", "C1", d("2024-01-01"), d("2024-05-01"), 100) for k in range(2, 7)],  # on time
        ("OPEN", "C1", d("2024-05-01"), d("2024-05-31"), 100),  # the snapshot row
    ]
    payments = [
        ("P1", "L1", d("2024-04-01"), 100),
        *[(f"P{k}", f"L{k}", d("2024-04-10") + timedelta(days=k), 100) for k in range(2, 7)],
    ]
    row = features_at(warehouse(invoices=invoices, payments=payments), D).loc["OPEN"]
    assert row["settled_invoices"] == 6
    assert row["avg_days_late"] == 10.0  # 60 / 6
    assert row["avg_days_late_last5"] == 0.0  # L2..L6, the five latest settlements
    assert row["max_days_late"] == 60


def test_payment_after_settlement_does_not_rewrite_history():
    # A paid in one payment before D, then an over-/duplicate payment after D: at D, A was paid in
    # one go. (A count of *all* payments would make A "paid in parts" as of D: a leak.)
    invoices = [
        ("A", "C1", d("2024-04-01"), d("2024-05-01"), 100),
        ("OPEN", "C1", d("2024-06-01"), d("2024-07-15"), 100),  # the snapshot row
    ]
    payments = [("P1", "A", d("2024-05-01"), 100), ("P2", "A", d("2024-07-05"), 100)]
    row = features_at(warehouse(invoices=invoices, payments=payments), D).loc["OPEN"]
    assert row["settled_invoices"] == 1
    assert row["share_paid_in_parts"] == 0.0
    assert row["days_since_last_payment"] == 61


# ---------------------------------------------------------------------------------------------
# Property: appending or changing any fact dated on or after D never changes a feature as of D.
# ---------------------------------------------------------------------------------------------

START = d("2024-01-01")


@st.composite
def book_and_future(draw):
    """A random small book over 200 days, a date D, and the same book with facts dated >= D
    appended or changed."""

    def day(lo: date, hi: int = 199) -> date:
        lo_offset = (lo - START).days
        return START + timedelta(days=draw(st.integers(lo_offset, max(lo_offset, hi))))

    as_of = START + timedelta(days=draw(st.integers(20, 180)))
    # few customers, so that settled history and open invoices meet in the same customer
    customers = [f"C{k}" for k in range(draw(st.integers(1, 2)))]

    invoices: list[Invoice] = []
    for k in range(draw(st.integers(3, 8))):
        issue = day(START)
        due = issue + timedelta(days=draw(st.integers(0, 60)))
        amount = draw(st.sampled_from([100, 250, 400, -40]))  # now and then a credit note
        invoices.append((f"I{k}", draw(st.sampled_from(customers)), issue, due, amount))
    payments: list[Payment] = []
    for invoice_id, _, issue, _, amount in invoices:
        # 0-2 payments, often in full: many invoices settle, some before D, some after
        for n in range(draw(st.integers(0, 2)) if amount > 0 else 0):
            paid = draw(st.sampled_from([amount, amount / 2, 50]))
            payments.append((f"P{invoice_id}.{n}", invoice_id, day(issue), paid))
    disputes: list[Dispute] = [
        (inv[0], day(inv[2]))
        for inv in draw(st.lists(st.sampled_from(invoices), max_size=3, unique=True))
    ]
    before = {"invoices": invoices, "payments": payments, "disputes": disputes}

    # the future: append or change facts dated on or after D only
    def future_day(not_before: date = as_of) -> date:
        if not_before <= as_of and draw(st.booleans()):
            return as_of  # facts dated ON D are where off-by-one leaks live
        return day(max(as_of, not_before), 240)

    new_invoices = list(invoices)
    for k in range(draw(st.integers(0, 3))):
        issue = future_day()
        customer = draw(st.sampled_from([*customers, "NEW"]))
        new_invoices.append((f"F{k}", customer, issue, issue + timedelta(days=30), 100))
    new_payments: list[Payment] = []
    for payment_id, invoice_id, paid, amount in payments:
        if paid >= as_of and draw(st.booleans()):  # move and resize a future payment
            paid, amount = future_day(), draw(st.sampled_from([50, 100, 400]))
        new_payments.append((payment_id, invoice_id, paid, amount))
    # new payments on invoices of the book (open at D, settled before D: an over-payment, or a
    # credit note) and on the new invoices
    for k in range(draw(st.integers(0, 5))):
        inv = draw(st.sampled_from(invoices if k % 3 < 2 else new_invoices))
        new_payments.append((f"F{k}", inv[0], future_day(inv[2]), draw(st.sampled_from([50, 400]))))
    new_disputes: list[Dispute] = [
        (invoice_id, future_day() if opened >= as_of and draw(st.booleans()) else opened)
        for invoice_id, opened in disputes
    ]
    undisputed = [i for i in new_invoices if i[0] not in {x[0] for x in disputes}]
    if undisputed:
        for inv in draw(st.lists(st.sampled_from(undisputed), max_size=2, unique=True)):
            new_disputes.append((inv[0], future_day(inv[2])))
    after = {"invoices": new_invoices, "payments": new_payments, "disputes": new_disputes}
    return as_of, before, after


def tagged(book: dict, tag: str) -> dict:
    """The book with every customer, invoice and payment id prefixed by `tag`."""
    return {
        "invoices": [
            (tag + i, tag + c, issue, due, amt) for i, c, issue, due, amt in book["invoices"]
        ],
        "payments": [(tag + p, tag + i, day, amt) for p, i, day, amt in book["payments"]],
        "disputes": [(tag + i, opened) for i, opened in book["disputes"]],
    }


def untagged(frame: pd.DataFrame, tag: str) -> pd.DataFrame:
    """The rows of `frame` whose invoice_id starts with `tag`, with the tag removed."""
    rows = frame[frame["invoice_id"].str.startswith(tag)].reset_index(drop=True)
    for column in ("invoice_id", "customer_id"):
        rows[column] = rows[column].str.removeprefix(tag)
    return rows


@pytest.fixture(scope="module")
def scratch_warehouse():
    return connect(":memory:")


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=book_and_future())
def test_facts_dated_on_or_after_d_never_change_features_as_of_d(case, scratch_warehouse):
    as_of, before, after = case
    # Both versions of the book side by side in one warehouse, under distinct ids: one feature
    # build per example instead of two (speed). A feature that looked across customers would see
    # both books, but still only facts dated before D, so the two halves must still agree.
    both = {key: tagged(before, "b:")[key] + tagged(after, "a:")[key] for key in before}
    frame = build_features(load_book(scratch_warehouse, **both), [as_of])
    expected, actual = untagged(frame, "b:"), untagged(frame, "a:")
    assert len(expected) == (frame["invoice_id"].str.startswith("b:")).sum()
    pd.testing.assert_frame_equal(actual, expected, check_exact=True)


# ---------------------------------------------------------------------------------------------
# One code path: training (many dates) = scoring (one date)
# ---------------------------------------------------------------------------------------------


def test_training_path_equals_scoring_path(book):
    d1, d2, d3 = d("2024-04-01"), D, d("2024-08-01")
    training = build_features(book, [d3, d1, d2])  # order of the dates does not matter either
    assert set(training["as_of"].dt.date) == {d1, d2, d3}
    sliced = training[training["as_of"] == pd.Timestamp(d2)].reset_index(drop=True)
    scoring = build_features(book, [d2])
    assert len(scoring) == 4
    pd.testing.assert_frame_equal(sliced, scoring, check_exact=True)


@pytest.mark.parametrize("dates", [[D], [d("2024-04-01"), D, d("2024-08-01")]])
@pytest.mark.parametrize("grace_days", [0, 10])
def test_direct_and_running_aggregation_agree_on_the_book(book, dates, grace_days):
    # few dates (nightly scoring) aggregate the history directly, many dates (training) as running
    # totals: both must give the same features, to the bit
    direct = build_features(book, dates, grace_days=grace_days, aggregation="direct")
    running = build_features(book, dates, grace_days=grace_days, aggregation="running")
    pd.testing.assert_frame_equal(direct, running, check_exact=True)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=book_and_future(), more_days=st.lists(st.integers(-120, 60), max_size=3))
def test_direct_and_running_aggregation_agree(case, more_days, scratch_warehouse):
    as_of, _, after = case
    dates = sorted({as_of, *(as_of + timedelta(days=k) for k in more_days)})
    con = load_book(scratch_warehouse, **after)
    direct = build_features(con, dates, grace_days=2, aggregation="direct")
    running = build_features(con, dates, grace_days=2, aggregation="running")
    pd.testing.assert_frame_equal(direct, running, check_exact=True)


def test_many_dates_use_the_running_totals_and_agree_with_one_date(book):
    # more dates than DIRECT_MAX_DATES: "auto" takes the running path; each date's slice must be
    # exactly the one-date (direct) build
    dates = [D - timedelta(days=7 * k) for k in range(DIRECT_MAX_DATES + 1)]
    training = build_features(book, dates)
    for as_of in (D, dates[-1]):
        sliced = training[training["as_of"] == pd.Timestamp(as_of)].reset_index(drop=True)
        pd.testing.assert_frame_equal(sliced, build_features(book, [as_of]), check_exact=True)


def test_grain_is_one_row_per_invoice_and_as_of(book):
    frame = build_features(book, [d("2024-06-01") + timedelta(days=k) for k in range(0, 60, 7)])
    assert not frame.duplicated(["invoice_id", "as_of"]).any()
    assert frame.equals(frame.sort_values(["as_of", "invoice_id"]))


# ---------------------------------------------------------------------------------------------
# The catalog and the SQL cannot drift apart
# ---------------------------------------------------------------------------------------------


def test_catalog_lists_exactly_the_model_features(at_d):
    assert set(model_feature_columns(at_d.reset_index())) == set(CATALOG)


@pytest.mark.parametrize("invoice_id", ["O1", "H5"])  # O1 not yet due, H5 past due
@pytest.mark.parametrize("locale", ["en_GB", "fr_FR"])
def test_every_reason_sentence_formats_on_a_real_row(at_d, invoice_id, locale):
    row = {"invoice_id": invoice_id, **at_d.loc[invoice_id].to_dict()}
    features = model_feature_columns(at_d.reset_index())
    missing = [f for f in features if pd.isna(row[f])]
    assert missing == []  # C1's rows have every feature, so every sentence can be filled
    for feature in features:
        entry = CATALOG[feature]
        sentence = reason_sentence(feature, row, locale)
        if not entry.is_reason or row[feature] < entry.shown_from:
            assert sentence is None, feature  # never a reason, or not enough to be one
            continue
        assert sentence and "{" not in sentence, feature
    # the invoice's own age is never a reason, however late it is
    assert reason_sentence("days_past_due", row) is None


def test_a_warehouse_of_an_older_latepay_gets_its_settlements_rebuilt(tmp_path, at_d):
    path = tmp_path / "warehouse.duckdb"
    with load_book(
        connect(path),
        invoices=BOOK_INVOICES,
        payments=BOOK_PAYMENTS,
        disputes=BOOK_DISPUTES,
        customers=[("C1", "FR", "enterprise", 45), ("C2", "DE", "smb", 30)],
    ) as con:
        # the table as an older latepay wrote it: no invoice columns beside the settlement, and
        # no record of migrations (they were numbered later)
        con.execute("drop table meta.schema_version")
        con.execute(
            "create or replace table staging.invoice_settlements as "
            "select invoice_id, paid_amount, n_payments, first_payment_date, last_payment_date, "
            "settled_date from staging.invoice_settlements"
        )
    with connect(path) as con:
        again = features_at(con, D)
    pd.testing.assert_frame_equal(again, at_d, check_exact=True)


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_export_writes_the_rows_and_values_of_build_features(book, at_d, tmp_path, suffix):
    path = tmp_path / f"features{suffix}"
    assert export_features(book, D, path) == len(at_d)
    written = pd.read_csv(path) if suffix == ".csv" else pd.read_parquet(path)
    assert list(written.columns) == ["invoice_id", *at_d.columns]
    written = written.set_index("invoice_id")
    assert list(written.index) == sorted(at_d.index)
    for column in model_feature_columns(at_d):
        if column in CATEGORICAL_FEATURES:
            assert written[column].tolist() == at_d[column].tolist(), column
        else:
            expected = at_d[column].to_numpy(dtype=float)
            assert np.array_equal(written[column].to_numpy(dtype=float), expected, equal_nan=True)
    assert written["open_amount"].tolist() == [100.0, 100.0, 80.0, 150.0]  # H5, H6, N1, O1


def test_a_customer_sample_keeps_whole_customers_with_identical_features(small_book_dir):
    """Training sets of very large books keep one customer in N: each kept customer's rows must
    be exactly those of the full build (customer features are per customer)."""
    from pipelines.ingest import ingest_files

    con = connect(":memory:")
    ingest_files(con, [small_book_dir])
    dates = [date(2026, 3, 2), date(2026, 6, 1)]
    full = build_features(con, dates)
    sample = build_features(con, dates, sample_one_in=3)
    assert 0 < sample["customer_id"].nunique() < full["customer_id"].nunique()
    kept = full[full["customer_id"].isin(sample["customer_id"].unique())].reset_index(drop=True)
    pd.testing.assert_frame_equal(sample, kept)


def test_thinned_snapshots_are_rows_of_the_full_build_with_identical_features(small_book_dir):
    """Training sets of large books keep each invoice's first snapshot and one other (invoice,
    as_of) row in N: the kept rows must be exactly those of the full build, customer exposure
    included (it counts every open invoice of the customer, kept or not)."""
    from pipelines.ingest import ingest_files

    con = connect(":memory:")
    ingest_files(con, [small_book_dir])
    dates = [date(2026, 3, 2), date(2026, 6, 1)]
    full = build_features(con, dates)
    thinned = build_features(con, dates, snapshot_one_in=3, first_snapshot_days=7)
    assert 0 < len(thinned) < len(full)
    keys = ["invoice_id", "as_of"]
    kept = full.merge(thinned[keys], on=keys).reset_index(drop=True)
    pd.testing.assert_frame_equal(thinned, kept)
    # every row issued in the week before its date is kept; of the others, about one in 3
    young = full["days_since_issue"] <= 7
    assert young.sum() > 20
    assert set(full.loc[young, "invoice_id"] + full.loc[young, "as_of"].astype(str)) <= set(
        thinned["invoice_id"] + thinned["as_of"].astype(str)
    )
    older_kept = (thinned["days_since_issue"] > 7).sum() / (~young).sum()
    assert 0.2 < older_kept < 0.5
    without_first = build_features(con, dates, snapshot_one_in=3)
    assert (without_first["days_since_issue"] <= 7).sum() < young.sum()
    # kept rows of customers some of whose open invoices were not kept: exposure counts them all
    dropped = full.merge(thinned[keys], on=keys, how="left", indicator=True)
    dropped = dropped.loc[dropped["_merge"] == "left_only", ["customer_id", "as_of"]]
    shared = thinned.merge(dropped.drop_duplicates())
    assert len(shared) > 0
    counted = thinned.groupby(["customer_id", "as_of"]).size().rename("kept").reset_index()
    shared = shared.merge(counted)
    assert (shared["customer_open_invoices"] > shared["kept"]).all()
