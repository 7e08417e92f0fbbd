"""The customer state model (features/state.py): exact values against a direct enumeration of
its hypotheses, point in time, and the behaviour collectors expect of it."""

from __future__ import annotations

import math
from datetime import date, timedelta

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from features.state import Z_GRID, Z_WEIGHT, StatePrior, state_features

PRIOR = StatePrior()
FIRST = date(2024, 1, 1)


def history(pattern: str, *, customer: str = "C", start: date = FIRST, every: int = 10):
    """Invoices issued every `every` days from `start`, due 30 days later; 'L' late, '.' not."""
    return pd.DataFrame(
        {
            "customer_id": customer,
            "issue_date": [start + timedelta(days=every * k) for k in range(len(pattern))],
            "last_day_on_time": [
                start + timedelta(days=every * k + 30) for k in range(len(pattern))
            ],
            "late": [ch == "L" for ch in pattern],
        }
    )


def row(as_of: date, *, customer: str = "C", issue: date | None = None, first: date = FIRST):
    return {
        "customer_id": customer,
        "as_of": pd.Timestamp(as_of),
        "issue_date": pd.Timestamp(issue or as_of - timedelta(days=1)),
        "first_issue_date": pd.Timestamp(first),
    }


def features(events: pd.DataFrame, *rows: dict, threads: int = 1) -> pd.DataFrame:
    return state_features(events, pd.DataFrame(list(rows)), PRIOR, threads)


def enumerated(events: pd.DataFrame, r: dict, prior: StatePrior = PRIOR) -> tuple[float, float]:
    """The model written out hypothesis by hypothesis, with plain Python loops."""
    sig = lambda x: 1.0 / (1.0 + math.exp(-x))  # noqa: E731
    as_of, first = r["as_of"].date(), r["first_issue_date"].date()
    issue = r["issue_date"].date()
    seen = [
        (e.issue_date, e.late)
        for e in events.itertuples()
        if e.customer_id == r["customer_id"] and e.last_day_on_time < as_of
    ]
    width = prior.bin_days
    bins = ((as_of - first).days - 1) // width + 1
    stay = math.exp(-prior.hazard_per_year * width / 365.25)
    weights, late_weights, changed = 0.0, 0.0, 0.0
    for c, wz in zip(prior.mu + prior.sd * Z_GRID, Z_WEIGHT, strict=True):
        hypotheses = [(None, stay**bins)] + [(k, (1 - stay) * stay**k) for k in range(bins)]
        for k, wk in hypotheses:
            like = wz * wk
            for issued, late in seen:
                if k is None:
                    ramp = 0.0
                else:
                    after = (issued - first).days // width - k  # bins after the change's
                    ramp = 0.0 if after < 0 else min((after + 0.5) * width / prior.ramp_days, 1)
                p = sig(c + prior.rise * ramp)
                like *= p if late else 1 - p
            ramp_now = 0.0
            if k is not None:
                start = first + timedelta(days=k * width)
                ramp_now = min(max((issue - start).days / prior.ramp_days, 0.0), 1.0)
            weights += like
            late_weights += like * sig(c + prior.rise * ramp_now)
            changed += like if k is not None else 0.0
    return late_weights / weights, changed / weights


@pytest.mark.parametrize(
    "pattern, as_of",
    [
        ("", date(2024, 3, 1)),
        (".....", date(2024, 4, 1)),
        ("..L.L..L", date(2024, 5, 1)),
        ("." * 30 + "LLLLL", date(2025, 3, 1)),
        ("LLLL" + "." * 20, date(2024, 12, 1)),
    ],
)
@pytest.mark.parametrize("bin_days", [PRIOR.bin_days, 90, 60, 30])
def test_values_equal_the_model_written_hypothesis_by_hypothesis(pattern, as_of, bin_days):
    # the ramp spans 2, 1, 1.5 or 3 bins: invoices partway up it in 2, 1, 1 or 3 of them
    prior = StatePrior(bin_days=bin_days)
    events = history(pattern)
    r = row(as_of)
    got = state_features(events, pd.DataFrame([r]), prior).iloc[0]
    p_late, deteriorating = enumerated(events, r, prior)
    assert got["state_p_late"] == pytest.approx(p_late, rel=1e-9)
    assert got["state_deteriorating"] == pytest.approx(deteriorating, rel=1e-9)


def test_invoices_not_fallen_due_before_as_of_are_not_seen():
    events = history("." * 10 + "LLLLL")
    as_of = events["last_day_on_time"].iloc[9] + timedelta(days=1)  # the 10 on-time ones only
    assert features(events, row(as_of)).equals(features(events.iloc[:10], row(as_of)))
    # an invoice whose last day on time is as_of itself is not known yet
    as_of = events["last_day_on_time"].iloc[10]
    assert features(events, row(as_of)).equals(features(events.iloc[:10], row(as_of)))


def test_each_row_is_computed_alone_to_the_bit():
    events = pd.concat([history("..L..L.L", customer="A"), history("LL......", customer="B")])
    rows = [row(date(2024, 5, 1), customer="A"), row(date(2024, 9, 1), customer="B")]
    together = features(events, *rows)
    for i, r in enumerate(rows):
        alone = features(events, r)
        assert alone.iloc[0].tolist() == together.iloc[i].tolist()


def test_a_worse_record_means_a_higher_probability_of_lateness():
    as_of = date(2024, 8, 1)
    p = [
        features(history(pattern), row(as_of)).iloc[0]["state_p_late"]
        for pattern in ("." * 15, "L" + "." * 14, "L..L..L..L.....", "L" * 15)
    ]
    assert p == sorted(p) and p[0] < p[-1]


def test_more_history_moves_the_estimate_further_from_the_book():
    # one late in two is weak evidence; ten in twenty is strong: further from the prior mean
    as_of = date(2024, 9, 1)
    no_history = features(history(""), row(as_of)).iloc[0]["state_p_late"]
    short = features(history("L."), row(as_of)).iloc[0]["state_p_late"]
    long = features(history("L." * 10), row(as_of)).iloc[0]["state_p_late"]
    assert abs(long - 0.5) < abs(short - 0.5) < abs(no_history - 0.5)


def test_recent_lateness_reads_as_deterioration_and_old_lateness_does_not():
    # the same five late invoices out of 40: at the start of the relationship, or the latest
    as_of = date(2025, 3, 1)
    old = features(history("LLLLL" + "." * 35), row(as_of)).iloc[0]
    recent = features(history("." * 35 + "LLLLL"), row(as_of)).iloc[0]
    assert recent["state_deteriorating"] > 0.5 > old["state_deteriorating"]
    assert recent["state_p_late"] > 2 * old["state_p_late"]


def test_no_rows_give_no_features():
    out = state_features(history("L."), pd.DataFrame(columns=list(row(FIRST))), PRIOR)
    assert out.empty and list(out.columns) == ["state_p_late", "state_deteriorating"]


@hypothesis_settings(max_examples=40, deadline=None)
@given(
    patterns=st.lists(st.text("L.", max_size=30), min_size=1, max_size=4),
    rows=st.lists(
        st.tuples(st.integers(0, 4), st.integers(1, 400), st.integers(1, 120)),
        min_size=1,
        max_size=12,
    ),
)
def test_rows_computed_together_equal_each_row_alone_across_blocks_and_chunks(patterns, rows):
    """Rows of one customer sharing a date share a posterior, blocks and chunks cut the book
    anywhere, chunks are computed by several threads: each row's values are still those of the
    row computed alone, to the bit. The customer numbered len(patterns) or more has no invoice
    fallen due."""
    import features.state as state

    events = pd.concat(
        [history(p, customer=f"C{k}") for k, p in enumerate(patterns)], ignore_index=True
    )
    table = [
        row(FIRST + timedelta(days=days), customer=f"C{k}",
            issue=FIRST + timedelta(days=max(0, days - back)))
        for k, days, back in rows
    ]  # fmt: skip
    together_small = _with(
        state, block_events=5, row_chunk=3, call=lambda: features(events, *table, threads=3)
    )
    together = features(events, *table)
    for i, r in enumerate(table):
        alone = features(events, r).iloc[0].tolist()
        assert alone == together.iloc[i].tolist() == together_small.iloc[i].tolist()


def _with(module, *, block_events: int, row_chunk: int, call):
    """`call()` with the state model's blocks and chunks made small."""
    saved = module._BLOCK_EVENTS, module._ROW_CHUNK
    module._BLOCK_EVENTS, module._ROW_CHUNK = block_events, row_chunk
    try:
        return call()
    finally:
        module._BLOCK_EVENTS, module._ROW_CHUNK = saved
