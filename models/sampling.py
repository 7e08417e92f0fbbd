"""Which training snapshots are kept: per invoice, and per book when it is too large.

Pure arithmetic and masks over arrays: no warehouse, files or clock.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd


def sample_per_invoice(frame: pd.DataFrame, per_invoice: int, seed: int = 0) -> pd.DataFrame:
    """At most `per_invoice` snapshots of each invoice, drawn at random (deterministic for a seed
    and row order): every invoice counts about the same in training, however many weeks it stayed
    open, and training cost grows with invoices, not with how long they stay unpaid."""
    return frame[per_invoice_mask(frame["invoice_id"].to_numpy(), per_invoice, seed)]


def per_invoice_mask(invoice_ids: np.ndarray, per_invoice: int, seed: int = 0) -> np.ndarray:
    """The mask of sample_per_invoice over rows with these invoice ids, in this order."""
    key = np.random.default_rng(seed).random(len(invoice_ids))
    order = pd.Series(key).groupby(invoice_ids).rank(method="first")
    return order.to_numpy() <= per_invoice


def training_sample(estimate: float, invoices: int, max_snapshots: int) -> tuple[int, int]:
    """(snapshot_one_in, sample_one_in): how to keep a training set of `estimate` snapshots from
    `invoices` invoices within `max_snapshots`; (1, 1), everything, when it fits.

    Every invoice's first snapshot (at most snapshot_every_days after its issue: the age-0 case
    the literature reports) is kept, and about half as many of the later ones, by hash; whole
    customers are sampled only when that is still too many. Training draws at most two
    snapshots per invoice (models.train.SNAPSHOTS_PER_INVOICE) and its time grows with them:
    more later snapshots cost time and gained nothing measurable, while keeping the first ones
    gained AUC at age 1 over a hashed share of all rows (benchmarks/RESULTS.md)."""
    if estimate <= max_snapshots:
        return 1, 1
    first = min(float(invoices), estimate)
    later = estimate - first
    kept_later = min(later, first / 2)
    sample_one_in = max(1, math.ceil((first + kept_later) / max_snapshots))
    snapshot_one_in = max(1, math.ceil(later / kept_later)) if later > 0 else 1
    return snapshot_one_in, sample_one_in


def training_rows(
    estimate: float, invoices: int, snapshot_one_in: int, sample_one_in: int
) -> float:
    """About how many snapshots training_sample's choice keeps."""
    first = min(float(invoices), estimate)
    return (first + (estimate - first) / snapshot_one_in) / sample_one_in
