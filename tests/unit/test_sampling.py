"""Which training snapshots a large book keeps (models/sampling.py): exact cases and properties."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from models.sampling import training_rows, training_sample


@pytest.mark.parametrize(
    ("estimate", "invoices", "expected"),
    [
        (1_500_000, 200_000, (1, 1)),  # fits: every snapshot of every customer
        # first snapshots and half as many later ones (one in 18), every customer
        (2_500_000, 250_000, (18, 1)),
        # the 1M benchmark book: every customer, the first snapshots and one in 11 of the others
        (6_119_559, 948_696, (11, 1)),
        # the 10M book: the same share of the rows, and one customer in 8
        (60_979_491, 9_493_232, (11, 8)),
        (5_000_000, 2_500_000, (2, 2)),  # first snapshots alone exceed the budget
        (3_000_000, 3_000_000, (1, 2)),  # only first snapshots: customers sampled only
    ],
)
def test_training_sample_keeps_first_snapshots_thins_later_ones_then_samples_customers(
    estimate, invoices, expected
):
    assert training_sample(estimate, invoices, 2_000_000) == expected


@hypothesis_settings(max_examples=300, deadline=None)
@given(
    invoices=st.integers(1, 50_000_000),
    per_invoice=st.floats(1.0, 30.0),
    budget=st.integers(10_000, 5_000_000),
)
def test_training_sample_fits_the_budget_with_no_more_sampling_than_needed(
    invoices, per_invoice, budget
):
    estimate = invoices * per_invoice
    snapshot_one_in, sample_one_in = training_sample(estimate, invoices, budget)
    if estimate <= budget:
        assert (snapshot_one_in, sample_one_in) == (1, 1)
        return
    rows = training_rows(estimate, invoices, snapshot_one_in, sample_one_in)
    assert rows <= budget * (1 + 1e-9)
    # about half as many later snapshots as first ones: no more, and not much fewer
    later = estimate - invoices
    assert later / snapshot_one_in <= invoices / 2 * (1 + 1e-9)
    if snapshot_one_in > 1:
        assert later / (snapshot_one_in - 1) > invoices / 2
    # one customer in fewer would not hold them
    assert invoices + min(later, invoices / 2) > budget * (sample_one_in - 1)
