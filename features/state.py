"""A customer's payment state: how likely it is to pay late now, and whether it has started to
deteriorate, inferred from the invoices that have fallen due (pure numpy; I/O at the edge).

Summary shares over windows (last 90 days, last 10 invoices) cannot tell a reliable customer on
a bad run from one whose business is failing; a posterior over the customer's state can. The
model, a random effect with one change point:

- each customer has a lateness log-odds ``c`` drawn from N(``mu``, ``sd``) (the book's spread);
- at an unknown date ``T`` it may start to deteriorate (``hazard_per_year``, constant in time),
  after which its log-odds rise linearly by ``rise`` over ``ramp_days``; ``T`` is resolved to
  ``bin_days``;
- each invoice fallen due is one observation: unpaid at its due date, or not, with probability
  sigmoid(c + rise * ramp(issue date - T)).

The posterior over (c, T) on a grid, given the observations known at as_of (invoices due before
as_of), gives two features: ``state_p_late``, the probability that an invoice issued on the row's
issue date is unpaid at its due date, and ``state_deteriorating``, the probability that the
deterioration began before as_of. The LightGBM models take both as inputs, and learn how much to
trust them; the prior is a stated assumption (`StatePrior`), not fitted.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd

STATE_FEATURES = ("state_p_late", "state_deteriorating")
# Grid of the customer effect, in standard deviations from the book's mean, and its prior weights
# (public: the tests enumerate the same hypotheses).
Z_GRID = np.linspace(-3.0, 3.0, 15)
Z_WEIGHT = np.exp(-0.5 * Z_GRID**2) / np.exp(-0.5 * Z_GRID**2).sum()
# Events (invoices fallen due) per block of customers: bounds the running counts by bin.
_BLOCK_EVENTS = 1_000_000
# Rows per chunk: bounds the (rows x bins x grid) arrays to about 30 MB. Chunks take the rows of
# a block in order of how many change bins they consider, and stop at their own last bin.
_ROW_CHUNK = 10_000


@dataclass(frozen=True)
class StatePrior:
    """The prior of the state model (see the module docstring)."""

    mu: float = -1.5
    sd: float = 1.5
    hazard_per_year: float = 0.05
    rise: float = 3.0
    ramp_days: int = 90
    # resolution of the change date: 45 days rather than 90 gains about 0.001 of AUC at age 1 on
    # the 1M-invoice benchmark book, 30 nothing more (benchmarks/RESULTS.md)
    bin_days: int = 45


@dataclass(frozen=True)
class CodedBook:
    """The state model's input as arrays: customers as integer codes 0..n-1, dates as whole days
    since 1970-01-01, the events sorted by customer code then last day on time (`coded_book`
    builds one from DataFrames; features/runner.py straight from DuckDB)."""

    ev_code: np.ndarray  # per event: its customer
    ev_issue: np.ndarray  # per event: its invoice's issue date
    ev_known: np.ndarray  # per event: its last day to pay on time (due date + grace)
    ev_late: np.ndarray  # per event (bool): not settled by that day
    row_code: np.ndarray  # per row: its customer
    row_as_of: np.ndarray
    row_issue: np.ndarray  # per row: the issue date of the row's invoice
    row_first: np.ndarray  # per row: the issue date of the customer's first invoice


@dataclass(frozen=True)
class _Book:
    """The rows and the events they may see. Bins are bin_days long, from the customer's first
    invoice on."""

    origin: np.ndarray  # per customer: the day of its first invoice, where bin 0 starts
    starts: np.ndarray  # per customer k: its events are [starts[k], starts[k + 1])
    ev_late: np.ndarray  # per event, by (customer, last day on time): not settled by that day
    ev_bin: np.ndarray  # per event: the bin of its issue date, in [0, n_bins)
    row_code: np.ndarray  # per row: its customer
    row_issue: np.ndarray  # per row: the issue date of the row's invoice
    row_bins: np.ndarray  # per row: how many change bins it considers (those before as_of)
    seen: np.ndarray  # per row: how many of its customer's events (the first ones) it sees
    n_bins: int  # bins of the longest row or history


@dataclass(frozen=True)
class _Hypotheses:
    """The grid of hypotheses (customer effect c x change bin, or no change), shared by all rows;
    probabilities as natural logarithms."""

    c: np.ndarray  # customer effects, log-odds: (len(Z_GRID),)
    log_z: np.ndarray  # log prior weight of each c
    log_p: np.ndarray  # log P(on time), log P(late) per ramp level and c: (2, levels, len(c))
    log_stay: float  # log P(no change in one bin)
    log_change: np.ndarray  # log P(the change is in bin k), k < n_bins
    p_never: np.ndarray  # P(late) for each c without a change
    n_partial: int  # ramp levels partway up (between none and all)


def _days(values: pd.Series) -> np.ndarray:
    """Dates as whole days since 1970-01-01 (int64)."""
    return pd.to_datetime(values).to_numpy().astype("datetime64[D]").astype(np.int64)


def _log_sigmoid(x: np.ndarray) -> np.ndarray:
    return -np.logaddexp(0.0, -x)


def _partial_ramp(prior: StatePrior) -> list[float]:
    """How far up the ramp (a fraction of `rise`) an invoice issued d = 0, 1, ... bins after the
    change's bin is, for the d still below the top: (d + 1/2) * bin_days / ramp_days."""
    width = prior.bin_days
    return [
        (d + 0.5) * width / prior.ramp_days
        for d in range(math.ceil(prior.ramp_days / width))
        if (d + 0.5) * width < prior.ramp_days
    ]


def _events_seen(
    ev_code: np.ndarray,
    ev_known: np.ndarray,
    row_code: np.ndarray,
    row_as_of: np.ndarray,
    n_customers: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Where each customer's events start (n_customers + 1 offsets into the events, sorted by
    customer code, then last day on time in days), and how many of them each row sees: those
    whose last day on time is before the row's as_of (days)."""
    starts = np.searchsorted(ev_code, np.arange(n_customers + 1))
    # one sorted key per (customer, day), so that one search finds every row's cut
    span = int(max(ev_known.max(initial=0), row_as_of.max())) + 1
    key = ev_code.astype(np.int64) * span + ev_known
    seen = np.searchsorted(key, row_code.astype(np.int64) * span + row_as_of) - starts[row_code]
    return starts, seen


def coded_book(events: pd.DataFrame, rows: pd.DataFrame) -> CodedBook:
    """`events` and `rows` (see `state_features`) as a CodedBook; the events of customers
    without rows are dropped."""
    row_cust = rows["customer_id"].astype("object").to_numpy()
    codes = pd.Index(pd.unique(row_cust))
    ev_code = codes.get_indexer(events["customer_id"].astype("object").to_numpy())
    keep = ev_code >= 0
    ev_code = ev_code[keep]
    ev_known = _days(events["last_day_on_time"])[keep]
    order = np.lexsort((ev_known, ev_code))
    return CodedBook(
        ev_code=ev_code[order],
        ev_issue=_days(events["issue_date"])[keep][order],
        ev_known=ev_known[order],
        ev_late=events["late"].to_numpy(dtype=bool)[keep][order],
        row_code=codes.get_indexer(row_cust),
        row_as_of=_days(rows["as_of"]),
        row_issue=_days(rows["issue_date"]),
        row_first=_days(rows["first_issue_date"]),
    )


def _prepare_book(coded: CodedBook, width: int) -> _Book:
    """The per-customer event offsets and the change bins of the rows, bins `width` days long."""
    row_code = coded.row_code
    n_customers = int(row_code.max()) + 1
    origin = np.zeros(n_customers, dtype=np.int64)
    origin[row_code] = coded.row_first
    # change bins k = 0, 1, ... start at origin + k * width; a row considers those before as_of
    row_bins = (coded.row_as_of - origin[row_code] - 1) // width + 1
    ev_bin = np.clip((coded.ev_issue - origin[coded.ev_code]) // width, 0, None)
    n_bins = int(max(row_bins.max(), ev_bin.max(initial=0) + 1))
    starts, seen = _events_seen(
        coded.ev_code, coded.ev_known, row_code, coded.row_as_of, n_customers
    )
    return _Book(
        origin=origin,
        starts=starts,
        ev_late=coded.ev_late,
        ev_bin=np.minimum(ev_bin, n_bins - 1),
        row_code=row_code,
        row_issue=coded.row_issue,
        row_bins=row_bins,
        seen=seen,
        n_bins=n_bins,
    )


def _hypotheses(prior: StatePrior, n_bins: int) -> _Hypotheses:
    """The log-probabilities of the hypotheses under `prior`, for changes in bins 0..n_bins-1."""
    partial = _partial_ramp(prior)
    c = prior.mu + prior.sd * Z_GRID
    # log P(on time), log P(late) for each c and ramp level (none, the partial ones, all)
    z = c[None, :] + prior.rise * np.array([0.0, *partial, 1.0])[:, None]
    log_stay = -prior.hazard_per_year * prior.bin_days / 365.25
    return _Hypotheses(
        c=c,
        log_z=np.log(Z_WEIGHT),
        log_p=np.stack([_log_sigmoid(-z), _log_sigmoid(z)]),
        log_stay=log_stay,
        log_change=np.log(-np.expm1(log_stay)) + log_stay * np.arange(n_bins),
        p_never=1.0 / (1.0 + np.exp(-c)),
        n_partial=len(partial),
    )


def _customer_blocks(book: _Book) -> Iterator[tuple[int, int, np.ndarray]]:
    """Blocks of whole customers, about _BLOCK_EVENTS events each: each block's events [lo, hi)
    and its rows (positions), in order of how many change bins they consider."""
    starts = book.starts
    cuts = np.searchsorted(starts, np.arange(0, starts[-1], _BLOCK_EVENTS), side="right") - 1
    blocks = np.unique(np.concatenate([[0], cuts, [len(starts) - 1]]))
    row_order = np.argsort(book.row_code, kind="stable")
    row_blocks = np.searchsorted(book.row_code[row_order], blocks)
    for b in range(len(blocks) - 1):
        block_rows = row_order[row_blocks[b] : row_blocks[b + 1]]
        block_rows = block_rows[np.argsort(book.row_bins[block_rows], kind="stable")]
        yield starts[blocks[b]], starts[blocks[b + 1]], block_rows


def _counts_at_cuts(book: _Book, lo: int, hi: int, cuts: np.ndarray) -> np.ndarray:
    """Running counts of the events [lo, hi) by (late, bin), at the sorted positions `cuts`
    (relative to lo) only: row j counts events lo..lo+cuts[j]-1 in column late * n_bins + bin,
    so any customer's first `seen` events are a difference of two rows. Summed at the positions
    the rows need (their customer's first event, and where their seen events end), not at every
    event: the same integers for a fraction of the work when rows are few per customer."""
    width = 2 * book.n_bins
    # each event counts from the first cut after it on
    segment = np.searchsorted(cuts, np.arange(hi - lo), side="right")
    column = book.ev_late[lo:hi] * book.n_bins + book.ev_bin[lo:hi]
    flat = np.bincount(segment * width + column, minlength=(len(cuts) + 1) * width)
    return np.cumsum(flat.reshape(-1, width)[: len(cuts)], axis=0, dtype=np.int32)


def _counts_by_ramp_level(
    counts: np.ndarray, n_partial: int
) -> tuple[list[np.ndarray], np.ndarray]:
    """From the invoices a chunk's rows see per (row, late, bin of issue), for a change in each bin
    k < m: how many are at each ramp level, (rows, late, k) each, and the totals (rows, late).
    Invoices of bins before k are before the change (ramp 0), those of bin k + d part of the
    way up (partial[d]), those of later bins at the top."""
    m = counts.shape[2]
    before = np.cumsum(counts, axis=2) - counts
    total = counts.sum(axis=2)
    padded = np.concatenate([counts, np.zeros_like(counts[:, :, :n_partial])], 2)
    on_ramp = [padded[:, :, d : d + m] for d in range(n_partial)]
    after = total[:, :, None] - before - sum(on_ramp)
    return [before, *on_ramp, after], total


def _log_joint(
    levels: list[np.ndarray], total: np.ndarray, row_bins: np.ndarray, hyp: _Hypotheses
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Log-likelihood + log prior of "change in bin k" (rows, k, c), -inf for the bins a row does
    not consider (`row_bins`), and of "never" (rows, c); and a scratch array shaped as the first.
    `levels` and `total` count the rows' invoices (see `_counts_by_ramp_level`)."""
    m = levels[0].shape[2]
    ll = np.empty((len(row_bins), m, len(hyp.c)))
    ll[:] = hyp.log_change[None, :m, None] + hyp.log_z[None, None, :]
    scratch = np.empty_like(ll)
    for late in (0, 1):
        for level, count in enumerate(levels):
            np.multiply(count[:, late, :, None], hyp.log_p[late, level], out=scratch)
            ll += scratch
    ll[np.arange(m)[None, :] >= row_bins[:, None]] = -np.inf
    ll_never = (
        total[:, 0, None] * hyp.log_p[0, 0]
        + total[:, 1, None] * hyp.log_p[1, 0]
        + (row_bins * hyp.log_stay)[:, None]
        + hyp.log_z
    )
    return ll, ll_never, scratch


def _unnormalised_posterior(ll: np.ndarray, ll_never: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """exp of the log joints of `_log_joint`, scaled per row so that its largest is 1 (`ll` is
    overwritten with the result)."""
    top = np.maximum(ll.max(axis=(1, 2)), ll_never.max(axis=1))
    ll -= top[:, None, None]
    post = np.exp(ll, out=ll)
    post_never = np.exp(ll_never - top[:, None])
    return post, post_never


def _late_weighted(
    post: np.ndarray,
    out: np.ndarray,
    chunk: np.ndarray,
    book: _Book,
    hyp: _Hypotheses,
    prior: StatePrior,
) -> np.ndarray:
    """post * P(the row's invoice is late | change in bin k, c), (rows, k, c) into `out`: late
    with sigmoid(c + rise * its ramp since the change), the ramp from its issue date (days)."""
    m = post.shape[1]
    change = book.origin[book.row_code[chunk], None] + prior.bin_days * np.arange(m)[None, :]
    r = np.clip((book.row_issue[chunk, None] - change) / prior.ramp_days, 0.0, 1.0)
    p = np.multiply(r[:, :, None], -prior.rise, out=out)
    p -= hyp.c
    np.exp(p, out=p)
    p += 1.0
    return np.divide(post, p, out=p)  # post / (1 + exp(-(c + rise * r)))


def _chunk_features(
    counted: tuple[np.ndarray, np.ndarray],
    lo: int,
    chunk: np.ndarray,
    book: _Book,
    hyp: _Hypotheses,
    prior: StatePrior,
) -> tuple[np.ndarray, np.ndarray]:
    """state_p_late and state_deteriorating of the rows `chunk` (positions), whose customers'
    events are in the block starting at event `lo`, counted (cuts, counts) by _counts_at_cuts.
    The posterior is computed once per distinct (customer, events seen, bins) of the rows (a
    nightly run's rows of one customer share it), then weighted by each row's own invoice."""
    cuts, cum = counted
    begin = book.starts[book.row_code[chunk]] - lo
    keys = np.stack([begin, book.seen[chunk], book.row_bins[chunk]], axis=1)
    keys, inverse = np.unique(keys, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    u_begin, u_seen, u_bins = keys.T
    m = int(u_bins.max())
    counts = cum[np.searchsorted(cuts, u_begin + u_seen)] - cum[np.searchsorted(cuts, u_begin)]
    levels, total = _counts_by_ramp_level(
        counts.reshape(-1, 2, book.n_bins)[:, :, :m], hyp.n_partial
    )
    ll, ll_never, _ = _log_joint(levels, total, u_bins, hyp)
    post, post_never = _unnormalised_posterior(ll, ll_never)
    row_post = post[inverse]
    post_late = _late_weighted(row_post, np.empty_like(row_post), chunk, book, hyp, prior)
    # sums over the bins as running sums: exact zeros past a row's bins change nothing
    changed = np.cumsum(post.sum(axis=2), axis=1)[:, -1]
    changed_late = np.cumsum(post_late.sum(axis=2), axis=1)[:, -1]
    norm = changed + post_never.sum(axis=1)
    never_late = (post_never * hyp.p_never).sum(axis=1)
    p_late = (changed_late + never_late[inverse]) / norm[inverse]
    return p_late, (changed / norm)[inverse]


def state_features(
    events: pd.DataFrame, rows: pd.DataFrame, prior: StatePrior, threads: int = 1
) -> pd.DataFrame:
    """The state features of `rows` (customer_id, as_of, issue_date, and first_issue_date: the
    customer's first invoice), on the rows' index.

    `events`: one row per invoice with customer_id, issue_date, last_day_on_time (the due date
    plus grace) and `late` (not settled by that day). An event counts for a row only when its
    last day on time is before the row's as_of, so the features are as of that date whatever
    else `events` holds; each row's values are computed alone (to the bit, whatever the other
    rows).

    The change date T takes one value per bin_days-long bin, from the customer's first invoice
    on (constant hazard: P(no change by as_of) = exp(-hazard * bins * bin_days)); an invoice
    issued d bins after T's counts as (d + 1/2) * bin_days / ramp_days up the ramp (at most
    all of it). The log-likelihood of a hypothesis then depends only on how many late and
    on-time invoices a row sees per bin, which keeps the cost at (events x bins) +
    (rows x hypotheses) whatever the book's size.
    """
    out = pd.DataFrame(index=rows.index, columns=list(STATE_FEATURES), dtype="float64")
    if rows.empty:
        return out
    coded = coded_book(events, rows)
    out["state_p_late"], out["state_deteriorating"] = coded_state(coded, prior, threads)
    return out


def coded_state(
    coded: CodedBook, prior: StatePrior, threads: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """state_p_late and state_deteriorating of the rows of `coded` (see `state_features`).
    A block's chunks of rows are computed by `threads` threads: numpy lets go of the GIL in
    its array loops, and each chunk writes its own rows (the same values whatever the threads)."""
    p_late = np.empty(len(coded.row_code))
    deteriorating = np.empty(len(coded.row_code))
    if not len(p_late):
        return p_late, deteriorating
    book = _prepare_book(coded, prior.bin_days)
    hyp = _hypotheses(prior, book.n_bins)

    def fill(counted: tuple[np.ndarray, np.ndarray], lo: int, chunk: np.ndarray) -> None:
        p_late[chunk], deteriorating[chunk] = _chunk_features(counted, lo, chunk, book, hyp, prior)

    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        for lo, hi, block_rows in _customer_blocks(book):
            begin = book.starts[book.row_code[block_rows]] - lo
            cuts = np.unique(np.concatenate([begin, begin + book.seen[block_rows]]))
            counted = (cuts, _counts_at_cuts(book, lo, hi, cuts))
            chunks = np.array_split(block_rows, max(1, len(block_rows) // _ROW_CHUNK))
            # (one block at a time: its running counts are the memory a block takes)
            for done in [pool.submit(fill, counted, lo, c) for c in chunks if len(c)]:
                done.result()
    return p_late, deteriorating
