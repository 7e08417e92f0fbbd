"""Tests of the labels and snapshot helpers (models/labels.py, models/sampling.py).

"Honest outcome" (README, How the model stays honest): a label is set only where it is known at `known_at`; an invoice unpaid
and not yet due is never labelled "on time".
"""

from __future__ import annotations

import math
from datetime import date, timedelta

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from models.labels import (
    DAYS_TO_PAY_HORIZON,
    attach_outcomes,
    compact_features,
    label_snapshots,
    not_yet_late,
    snapshot_dates,
    snapshot_labels,
)
from models.sampling import per_invoice_mask, sample_per_invoice


def d(text: str) -> date:
    return date.fromisoformat(text)


def labelled(rows: list[tuple[str, str, str, str | None]], known_at: str, **kwargs) -> pd.DataFrame:
    """`rows`: (invoice_id, as_of, due_date, settled_date or None), one snapshot per invoice.

    Returns label_snapshots' result indexed by invoice_id.
    """
    features = pd.DataFrame(
        {
            "invoice_id": [r[0] for r in rows],
            "as_of": pd.to_datetime([r[1] for r in rows]),
            "due_date": pd.to_datetime([r[2] for r in rows]),
            "amount": 100.0,
        }
    )
    outcomes = pd.DataFrame(
        {
            "invoice_id": [r[0] for r in rows],
            "due_date": pd.to_datetime([r[2] for r in rows]),
            "settled_date": pd.to_datetime([r[3] for r in rows]),
        }
    )
    return label_snapshots(features, outcomes, known_at=d(known_at), **kwargs).set_index(
        "invoice_id"
    )


def assert_labels(frame: pd.DataFrame, column: str, expected: dict[str, float]) -> None:
    """Exact labels; NaN (unknown) must be NaN, not 0."""
    actual = {k: frame.loc[k, column] for k in expected}
    for key, want in expected.items():
        got = actual[key]
        if math.isnan(want):
            assert math.isnan(got), f"{column} of {key}: expected unknown, got {got}"
        else:
            assert got == want, f"{column} of {key}: expected {want}, got {got}"


NAN = float("nan")


def test_late_label_known_at_t():
    frame = labelled(
        [
            ("EARLY", "2024-02-01", "2024-02-10", "2024-02-05"),  # settled before due: on time
            (
                "ON_DUE",
                "2024-02-01",
                "2024-02-10",
                "2024-02-10",
            ),  # settled ON the due date: on time
            ("DAY_LATE", "2024-02-01", "2024-02-10", "2024-02-11"),  # one day after: late
            ("UNPAID_PAST_DUE", "2024-02-01", "2024-02-10", None),  # unpaid, due passed: late
            ("PAID_AFTER_T", "2024-02-01", "2024-02-10", "2024-03-05"),  # unpaid at T, due passed
            ("NOT_YET_DUE", "2024-02-20", "2024-03-10", None),  # unpaid, not due at T: unknown
            ("NOT_DUE_PAID_LATER", "2024-02-20", "2024-03-10", "2024-03-05"),  # paid after T
            # settled (early) before T, but due after T: not labelled yet, so that whether a
            # snapshot is labelled never depends on its outcome (else recent snapshots would be
            # labelled only for the early payers)
            ("NOT_DUE_PAID", "2024-02-20", "2024-03-10", "2024-02-25"),
            ("DUE_YESTERDAY", "2024-02-20", "2024-02-29", None),  # due T-1 and unpaid at T: late
            ("DUE_TODAY", "2024-02-20", "2024-03-01", None),  # due ON T: may still pay today
            ("SETTLED_ON_T", "2024-02-01", "2024-02-10", "2024-03-01"),  # settlement ON T unseen
        ],
        known_at="2024-03-01",
    )
    assert_labels(
        frame,
        "late",
        {
            "EARLY": 0,
            "ON_DUE": 0,
            "DAY_LATE": 1,
            "UNPAID_PAST_DUE": 1,
            "PAID_AFTER_T": 1,
            "NOT_YET_DUE": NAN,
            "NOT_DUE_PAID_LATER": NAN,  # never "on time" before it is paid
            "NOT_DUE_PAID": NAN,
            "DUE_YESTERDAY": 1,
            "DUE_TODAY": NAN,
            "SETTLED_ON_T": 1,  # still unpaid at T with the due date passed
        },
    )


def test_grace_days():
    frame = labelled(
        [
            ("WITHIN", "2024-02-01", "2024-02-20", "2024-02-24"),  # 4 days after due: in grace
            ("AT_EDGE", "2024-02-01", "2024-02-20", "2024-02-25"),  # exactly 5 days: in grace
            ("BEYOND", "2024-02-01", "2024-02-20", "2024-02-26"),  # 6 days: late
            ("GRACE_OVER", "2024-02-01", "2024-02-20", None),  # due + 5 = 02-25 < T: late
            ("GRACE_ENDS_T-1", "2024-02-01", "2024-02-24", None),  # due + 5 = 02-29 < T: late
            ("IN_GRACE", "2024-02-01", "2024-02-25", None),  # due + 5 = T: unknown
        ],
        known_at="2024-03-01",
        grace_days=5,
    )
    assert_labels(
        frame,
        "late",
        {
            "WITHIN": 0,
            "AT_EDGE": 0,
            "BEYOND": 1,
            "GRACE_OVER": 1,
            "GRACE_ENDS_T-1": 1,
            "IN_GRACE": NAN,
        },
    )


def test_late_30_for_a_snapshot_not_yet_due():
    # as_of 2024-03-01, due 2024-03-31: horizon = due + 30 = 2024-04-30
    rows = [
        ("PAID_BEFORE_HORIZON", "2024-03-01", "2024-03-31", "2024-04-29"),  # late, not seriously
        ("PAID_ON_HORIZON", "2024-03-01", "2024-03-31", "2024-04-30"),  # unpaid AT the horizon
        ("UNPAID", "2024-03-01", "2024-03-31", None),  # horizon passed, still unpaid
        ("PAID_AFTER_T", "2024-03-01", "2024-03-31", "2024-07-01"),  # unpaid at T > horizon
    ]
    frame = labelled(rows, known_at="2024-06-01")
    assert_labels(
        frame,
        "late_30",
        {"PAID_BEFORE_HORIZON": 0, "PAID_ON_HORIZON": 1, "UNPAID": 1, "PAID_AFTER_T": 1},
    )
    assert_labels(frame, "late", {"PAID_BEFORE_HORIZON": 1, "PAID_ON_HORIZON": 1, "UNPAID": 1})
    # known at T = 2024-04-15, before the horizon: unknown, even for the invoices paid by then
    early = labelled(rows, known_at="2024-04-15")
    assert_labels(
        early,
        "late_30",
        {"PAID_BEFORE_HORIZON": NAN, "PAID_ON_HORIZON": NAN, "UNPAID": NAN, "PAID_AFTER_T": NAN},
    )
    assert_labels(early, "late", {"UNPAID": 1})  # due 03-31 passed before 04-15


def test_late_30_for_an_overdue_snapshot_counts_from_as_of():
    # as_of 2024-05-01, due 2024-03-31 (31 days past due): horizon = as_of + 30 = 2024-05-31
    frame = labelled(
        [
            ("PAID_IN_TIME", "2024-05-01", "2024-03-31", "2024-05-30"),  # paid within 30 days
            ("PAID_ON_HORIZON", "2024-05-01", "2024-03-31", "2024-05-31"),  # 30 days after as_of
            ("UNPAID", "2024-05-01", "2024-03-31", None),
        ],
        known_at="2024-06-01",
    )
    assert_labels(frame, "late_30", {"PAID_IN_TIME": 0, "PAID_ON_HORIZON": 1, "UNPAID": 1})
    assert_labels(frame, "late", {"PAID_IN_TIME": 1, "PAID_ON_HORIZON": 1, "UNPAID": 1})


def test_late_30_known_exactly_from_the_horizon():
    # due 2024-03-31, overdue at as_of, unpaid at T = 2024-06-01
    frame = labelled(
        [
            ("HORIZON_T-1", "2024-05-01", "2024-03-31", None),  # horizon 05-31 < T: known
            ("HORIZON_T", "2024-05-02", "2024-03-31", None),  # horizon 06-01 = T: known
            ("HORIZON_T+1", "2024-05-03", "2024-03-31", None),  # horizon 06-02 > T: unknown
            ("HORIZON_T+1_PAID", "2024-05-03", "2024-03-31", "2024-05-20"),  # paid: still unknown
        ],
        known_at="2024-06-01",
        serious_days=30,
    )
    assert_labels(
        frame,
        "late_30",
        {"HORIZON_T-1": 1, "HORIZON_T": 1, "HORIZON_T+1": NAN, "HORIZON_T+1_PAID": NAN},
    )


def test_serious_days_is_a_parameter():
    # as_of 2024-05-01 past due: horizon = as_of + 10 = 05-11
    frame = labelled(
        [
            ("A", "2024-05-01", "2024-03-31", "2024-05-10"),
            ("B", "2024-05-01", "2024-03-31", "2024-05-11"),
        ],
        known_at="2024-06-01",
        serious_days=10,
    )
    assert_labels(frame, "late_30", {"A": 0, "B": 1})


def test_days_to_pay_capped_and_known_once_the_cap_has_passed():
    assert DAYS_TO_PAY_HORIZON == 180
    # as_of 2024-01-01: cap = as_of + 180 = 2024-06-29 (leap year), before T = 2024-07-01
    frame = labelled(
        [
            ("PAID_30", "2024-01-01", "2024-01-31", "2024-01-31"),  # 30 days after as_of
            ("PAID_ON_CAP", "2024-01-01", "2024-01-31", "2024-06-29"),  # day 180: the cap
            ("PAID_AFTER_T", "2024-01-01", "2024-01-31", "2024-08-01"),  # unpaid at the cap
            ("UNPAID", "2024-01-01", "2024-01-31", None),  # unpaid at the cap
            ("CAP_ON_T", "2024-01-03", "2024-01-31", None),  # cap 2024-07-01 = T: known
            ("CAP_AFTER_T", "2024-01-04", "2024-01-31", "2024-01-10"),  # cap after T: unknown
        ],
        known_at="2024-07-01",
    )
    assert_labels(
        frame,
        "days_to_pay",
        {
            "PAID_30": 30,
            "PAID_ON_CAP": 180,
            "PAID_AFTER_T": 180,
            "UNPAID": 180,
            "CAP_ON_T": 180,
            "CAP_AFTER_T": NAN,  # although paid after 6 days: labelled-ness must not hint at it
        },
    )


def test_rows_keep_their_order_and_columns():
    features = pd.DataFrame(
        {
            "invoice_id": ["B", "A", "B"],
            "as_of": pd.to_datetime(["2024-02-01", "2024-02-01", "2024-01-01"]),
            "due_date": pd.to_datetime(["2024-02-10", "2024-01-20", "2024-02-10"]),
            "amount": [1.0, 2.0, 3.0],
        }
    )
    outcomes = pd.DataFrame(
        {
            "invoice_id": ["A", "B", "UNUSED"],
            "settled_date": pd.to_datetime(["2024-01-25", None, None]),
        }
    )
    frame = label_snapshots(features, outcomes, known_at=d("2024-03-01"))
    assert list(frame["invoice_id"]) == ["B", "A", "B"]
    assert list(frame["amount"]) == [1.0, 2.0, 3.0]
    assert list(frame["late"]) == [1.0, 1.0, 1.0]
    assert frame["late"].dtype == np.float64


@settings(max_examples=40, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.integers(0, 60),  # as_of
            st.integers(0, 60),  # due date
            st.one_of(st.none(), st.integers(0, 120)),  # settled date (None: never paid)
        ),
        min_size=1,
        max_size=20,
    ),
    t1=st.integers(0, 150),
    later=st.integers(1, 60),
    grace=st.integers(0, 5),
)
def test_labels_never_change_once_known(rows, t1, later, grace):
    """A label known at T keeps its value at any later T' (an outcome, once known, is final), and
    whether it is known at T does not depend on the outcome."""
    start = d("2024-01-01")

    def at(offset: int | None) -> str | None:
        return None if offset is None else (start + timedelta(days=offset)).isoformat()

    snapshots = [(f"I{k}", at(a), at(due), at(s)) for k, (a, due, s) in enumerate(rows)]
    first = labelled(snapshots, at(t1), grace_days=grace)
    second = labelled(snapshots, at(t1 + later), grace_days=grace)
    never_paid = labelled(
        [(i, a, due, None) for i, a, due, _ in snapshots], at(t1), grace_days=grace
    )
    for column in ("late", "late_30", "days_to_pay"):
        known = first[column].notna()
        pd.testing.assert_series_equal(second.loc[known, column], first.loc[known, column])
        # what is known stays known; whether it is known never depends on the outcome
        assert second.loc[known, column].notna().all()
        pd.testing.assert_series_equal(never_paid[column].notna(), known)


def test_snapshot_dates_count_back_from_the_last_date():
    assert snapshot_dates(d("2024-01-01"), d("2024-01-29"), 7) == [
        d("2024-01-01"),
        d("2024-01-08"),
        d("2024-01-15"),
        d("2024-01-22"),
        d("2024-01-29"),
    ]
    # the last date is always a snapshot; none before the first date
    assert snapshot_dates(d("2024-01-01"), d("2024-01-30"), 7) == [
        d("2024-01-02"),
        d("2024-01-09"),
        d("2024-01-16"),
        d("2024-01-23"),
        d("2024-01-30"),
    ]
    assert snapshot_dates(d("2024-01-01"), d("2024-01-01"), 7) == [d("2024-01-01")]
    assert snapshot_dates(d("2024-01-02"), d("2024-01-01"), 7) == []


def test_not_yet_late_is_days_past_due_within_grace():
    frame = pd.DataFrame({"days_past_due": [-10.0, 0.0, 1.0, 3.0, 4.0]})
    assert list(not_yet_late(frame)) == [True, True, False, False, False]
    assert list(not_yet_late(frame, grace_days=3)) == [True, True, True, True, False]


def test_sample_per_invoice_keeps_at_most_k_snapshots_of_each_invoice():
    frame = pd.DataFrame({"invoice_id": ["a"] * 10 + ["b"] * 3 + ["c"], "x": range(14)})
    sampled = sample_per_invoice(frame, 2, seed=1)
    assert sampled["invoice_id"].value_counts().to_dict() == {"a": 2, "b": 2, "c": 1}
    pd.testing.assert_frame_equal(sampled, sample_per_invoice(frame, 2, seed=1))


@given(
    st.lists(st.sampled_from(["a", "b", "c", "d", "e"]), max_size=40),
    st.integers(1, 4),
    st.integers(0, 5),
)
def test_each_invoice_keeps_its_snapshots_with_the_smallest_draws(ids, per_invoice, seed):
    invoice_ids = np.array(ids, dtype=object)
    kept = per_invoice_mask(invoice_ids, per_invoice, seed)
    key = np.random.default_rng(seed).random(len(ids))
    for invoice in set(ids):
        rows = np.flatnonzero(invoice_ids == invoice)
        smallest = rows[np.argsort(key[rows])[:per_invoice]]
        assert set(np.flatnonzero(kept & (invoice_ids == invoice))) == set(smallest)
    # numbered ids draw the same rows as their text
    assert (per_invoice_mask(pd.factorize(invoice_ids)[0], per_invoice, seed) == kept).all()


def test_labels_of_a_set_carrying_settled_dates_match_the_joined_labels():
    # one snapshot set, labelled at two dates without joining the outcomes again: the labels of
    # the set that carries settled_date are those of label_snapshots with the outcomes
    features = pd.DataFrame(
        {
            "invoice_id": ["PAID_LATE", "UNPAID", "PAID_EARLY", "PAID_LATE"],
            "as_of": pd.to_datetime(["2024-02-01", "2024-02-01", "2024-02-01", "2024-03-01"]),
            "due_date": pd.to_datetime(["2024-02-10", "2024-02-20", "2024-03-31", "2024-02-10"]),
        },
        index=[10, 11, 12, 13],  # a slice of a larger set keeps its index
    )
    outcomes = pd.DataFrame(
        {
            "invoice_id": ["UNPAID", "PAID_EARLY", "PAID_LATE", "NOT_SNAPSHOTTED"],
            "due_date": pd.to_datetime(["2024-02-20", "2024-03-31", "2024-02-10", "2024-01-01"]),
            "settled_date": pd.to_datetime([None, "2024-03-05", "2024-03-20", "2024-01-01"]),
        }
    )
    carried = attach_outcomes(features, outcomes)
    assert list(carried.index) == [10, 11, 12, 13]
    assert carried["settled_date"].tolist() == list(
        pd.to_datetime(["2024-03-20", None, "2024-03-05", "2024-03-20"])
    )
    for known_at in (d("2024-02-15"), d("2024-04-15"), d("2024-12-31")):
        joined = label_snapshots(features, outcomes, known_at=known_at)
        labels = snapshot_labels(carried, known_at=known_at)
        pd.testing.assert_frame_equal(labels, joined[["late", "late_30", "days_to_pay"]])
        pd.testing.assert_frame_equal(label_snapshots(carried, None, known_at=known_at), joined)
    labels = snapshot_labels(carried, known_at=d("2024-02-15"))
    assert labels.loc[10, "late"] == 1.0  # due 02-10, unpaid on 02-15
    assert math.isnan(labels.loc[11, "late"])  # due 02-20: not known on 02-15


def test_sampled_positions_are_the_rows_sample_per_invoice_keeps():
    # the training fits sample positions of a large frame instead of copying subsets: the same draw
    frame = pd.DataFrame({"invoice_id": list("aabacbbbcad"), "x": range(11)})
    mask = per_invoice_mask(frame["invoice_id"].to_numpy(), 2, seed=3)
    pd.testing.assert_frame_equal(frame[mask], sample_per_invoice(frame, 2, seed=3))


def test_compact_features_keep_the_values_with_categories():
    frame = pd.DataFrame(
        {
            "invoice_id": ["A", "B", "C"],
            "amount": [1234.56, None, 10.0],
            "country": ["FR", None, "DE"],
        }
    )
    compact = compact_features(frame.copy(), ["country"])
    assert isinstance(compact["country"].dtype, pd.CategoricalDtype)
    pd.testing.assert_frame_equal(compact.drop(columns="country"), frame.drop(columns="country"))
    assert compact["country"].astype("object").tolist()[::2] == ["FR", "DE"]
    assert compact["country"].isna().tolist() == [False, True, False]
