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
from dataclasses import dataclass

import numpy as np
import pandas as pd

STATE_FEATURES = ("state_p_late", "state_deteriorating")
# Grid of the customer effect, in standard deviations from the book's mean.
_Z = np.linspace(-3.0, 3.0, 15)
_Z_WEIGHT = np.exp(-0.5 * _Z**2) / np.exp(-0.5 * _Z**2).sum()
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


def _days(values: pd.Series) -> np.ndarray:
    return pd.to_datetime(values).to_numpy().astype("datetime64[D]").astype(np.int64)


def _log_sigmoid(x: np.ndarray) -> np.ndarray:
    return -np.logaddexp(0.0, -x)


def state_features(events: pd.DataFrame, rows: pd.DataFrame, prior: StatePrior) -> pd.DataFrame:
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
    width = prior.bin_days
    # how far up the ramp an invoice d = 0, 1, ... bins after the change is, while below the top
    partial = [
        (d + 0.5) * width / prior.ramp_days
        for d in range(math.ceil(prior.ramp_days / width))
        if (d + 0.5) * width < prior.ramp_days
    ]
    row_cust = rows["customer_id"].astype("object").to_numpy()
    codes = pd.Index(pd.unique(row_cust))
    row_code = codes.get_indexer(row_cust)
    origin = np.zeros(len(codes), dtype=np.int64)
    origin[row_code] = _days(rows["first_issue_date"])
    ev_code = codes.get_indexer(events["customer_id"].astype("object").to_numpy())
    keep = ev_code >= 0
    ev_code = ev_code[keep]
    ev_issue = _days(events["issue_date"])[keep]
    ev_known = _days(events["last_day_on_time"])[keep]
    ev_late = events["late"].to_numpy(dtype=bool)[keep]
    order = np.lexsort((ev_known, ev_code))
    ev_code, ev_issue, ev_known, ev_late = (
        ev_code[order], ev_issue[order], ev_known[order], ev_late[order]
    )  # fmt: skip
    row_as_of = _days(rows["as_of"])
    row_issue = _days(rows["issue_date"])
    # change bins k = 0, 1, ... start at origin + k * width; a row considers those before as_of
    row_bins = (row_as_of - origin[row_code] - 1) // width + 1
    ev_bin = np.clip((ev_issue - origin[ev_code]) // width, 0, None)
    n_bins = int(max(row_bins.max(), ev_bin.max(initial=0) + 1))
    ev_bin = np.minimum(ev_bin, n_bins - 1)
    # log P(on time), log P(late) for each customer effect c and ramp level (none, the partial
    # ones, all): (2, levels, len(c))
    c = prior.mu + prior.sd * _Z
    z = c[None, :] + prior.rise * np.array([0.0, *partial, 1.0])[:, None]
    log_p = np.stack([_log_sigmoid(-z), _log_sigmoid(z)])
    log_stay = -prior.hazard_per_year * width / 365.25  # log P(no change in one bin)
    log_change = np.log(-np.expm1(log_stay)) + log_stay * np.arange(n_bins)
    log_z = np.log(_Z_WEIGHT)
    p_never = 1.0 / (1.0 + np.exp(-c))
    # customer k's events are [starts[k], starts[k + 1]); a row sees the first `seen` of them
    starts = np.searchsorted(ev_code, np.arange(len(codes) + 1))
    span = int(max(ev_known.max(initial=0), row_as_of.max())) + 1
    key = ev_code.astype(np.int64) * span + ev_known
    seen = np.searchsorted(key, row_code.astype(np.int64) * span + row_as_of) - starts[row_code]
    # blocks of whole customers, about _BLOCK_EVENTS events each
    cuts = np.searchsorted(starts, np.arange(0, starts[-1], _BLOCK_EVENTS), side="right") - 1
    blocks = np.unique(np.concatenate([[0], cuts, [len(codes)]]))
    row_order = np.argsort(row_code, kind="stable")
    row_blocks = np.searchsorted(row_code[row_order], blocks)
    p_late = np.empty(len(rows))
    deteriorating = np.empty(len(rows))
    for b in range(len(blocks) - 1):
        lo, hi = starts[blocks[b]], starts[blocks[b + 1]]
        # running counts of the block's events by (late, bin)
        cum = np.zeros((hi - lo + 1, 2 * n_bins), dtype=np.int32)
        cum[np.arange(1, hi - lo + 1), ev_late[lo:hi] * n_bins + ev_bin[lo:hi]] = 1
        np.cumsum(cum, axis=0, out=cum)
        block_rows = row_order[row_blocks[b] : row_blocks[b + 1]]
        block_rows = block_rows[np.argsort(row_bins[block_rows], kind="stable")]
        for chunk in np.array_split(block_rows, max(1, len(block_rows) // _ROW_CHUNK)):
            if not len(chunk):
                continue
            begin = starts[row_code[chunk]] - lo
            m = int(row_bins[chunk].max())
            counts = (cum[begin + seen[chunk]] - cum[begin]).reshape(-1, 2, n_bins)[:, :, :m]
            # for a change in bin k, invoices of earlier bins are before it (ramp 0), those of
            # bin k + d part of the way up (partial[d]), those of later bins at the top
            before = np.cumsum(counts, axis=2) - counts
            total = counts.sum(axis=2)
            padded = np.concatenate([counts, np.zeros_like(counts[:, :, : len(partial)])], 2)
            on_ramp = [padded[:, :, d : d + m] for d in range(len(partial))]
            after = total[:, :, None] - before - sum(on_ramp)
            # log-likelihood + log prior (rows, bins, c) of "change in bin k", and of "never"
            ll = np.empty((len(chunk), m, len(c)))
            ll[:] = log_change[None, :m, None] + log_z[None, None, :]
            term = np.empty_like(ll)
            for late in (0, 1):
                for level, count in enumerate([before, *on_ramp, after]):
                    np.multiply(count[:, late, :, None], log_p[late, level], out=term)
                    ll += term
            ll[np.arange(m)[None, :] >= row_bins[chunk, None]] = -np.inf
            ll_never = (
                total[:, 0, None] * log_p[0, 0]
                + total[:, 1, None] * log_p[1, 0]
                + (row_bins[chunk] * log_stay)[:, None]
                + log_z
            )
            top = np.maximum(ll.max(axis=(1, 2)), ll_never.max(axis=1))
            ll -= top[:, None, None]
            post = np.exp(ll, out=ll)
            post_never = np.exp(ll_never - top[:, None])
            # the row's invoice: late with sigmoid(c + rise * its ramp since the change)
            change = origin[row_code[chunk], None] + width * np.arange(m)[None, :]
            r = np.clip((row_issue[chunk, None] - change) / prior.ramp_days, 0.0, 1.0)
            p = np.multiply(r[:, :, None], -prior.rise, out=term)
            p -= c
            np.exp(p, out=p)
            p += 1.0
            np.divide(post, p, out=p)  # post * P(late) = post / (1 + exp(-(c + rise * r)))
            # sums over the bins as running sums: exact zeros past a row's bins change nothing
            changed = np.cumsum(post.sum(axis=2), axis=1)[:, -1]
            changed_late = np.cumsum(p.sum(axis=2), axis=1)[:, -1]
            norm = changed + post_never.sum(axis=1)
            p_late[chunk] = (changed_late + (post_never * p_never).sum(axis=1)) / norm
            deteriorating[chunk] = changed / norm
    out["state_p_late"] = p_late
    out["state_deteriorating"] = deteriorating
    return out
