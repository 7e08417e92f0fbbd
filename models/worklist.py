"""From invoice scores to the collectors' worklist: one row per customer with open receivables,
ranked by expected amount at risk. Pure functions over DataFrames."""

from __future__ import annotations

import pandas as pd

WORKLIST_COLUMNS = [
    "rank",
    "customer_id",
    "name",
    "collector",
    "preferred_channel",
    "open_amount",
    "overdue_amount",
    "open_invoices",
    "oldest_days_past_due",
    "disputed_invoices",
    "risk_probability",
    "expected_amount_at_risk",
    "reason",
]


def expected_amount_at_risk(scores: pd.DataFrame) -> pd.Series:
    """Per invoice: open amount × probability of serious lateness (still unpaid `serious_days`
    after the later of the due date and as_of)."""
    return scores["open_amount"] * scores["p_late_30"]


def rank_customers(scores: pd.DataFrame, customers: pd.DataFrame) -> pd.DataFrame:
    """One row per customer with open invoices, highest expected amount at risk first.

    `scores`: invoice grain with customer_id, open_amount, days_past_due, is_disputed, p_late_30.
    `customers`: customer_id, name, collector, preferred_channel.
    `risk_probability` is the amount-weighted probability of serious lateness; `reason` is empty
    here (see `driver_invoices`). Ties are broken by overdue amount, then customer_id, so the same
    input always gives the same order.
    """
    frame = scores.assign(
        at_risk=expected_amount_at_risk(scores),
        overdue=scores["open_amount"].where(scores["days_past_due"] > 0, 0.0),
        past_due=scores["days_past_due"].clip(lower=0),
    )
    grouped = frame.groupby("customer_id", as_index=False).agg(
        open_amount=("open_amount", "sum"),
        overdue_amount=("overdue", "sum"),
        open_invoices=("invoice_id", "count"),
        oldest_days_past_due=("past_due", "max"),
        disputed_invoices=("is_disputed", "sum"),
        expected_amount_at_risk=("at_risk", "sum"),
    )
    grouped["risk_probability"] = grouped["expected_amount_at_risk"] / grouped["open_amount"].where(
        grouped["open_amount"] > 0
    )
    ranked = grouped.merge(
        customers[["customer_id", "name", "collector", "preferred_channel"]],
        on="customer_id",
        how="left",
    ).sort_values(
        ["expected_amount_at_risk", "overdue_amount", "customer_id"],
        ascending=[False, False, True],
    )
    ranked["rank"] = range(1, len(ranked) + 1)
    ranked["reason"] = ""
    counts = ["open_invoices", "oldest_days_past_due", "disputed_invoices"]
    ranked[counts] = ranked[counts].astype("int64")
    return ranked[WORKLIST_COLUMNS].reset_index(drop=True)


def driver_invoices(scores: pd.DataFrame, customer_ids: list[str]) -> pd.DataFrame:
    """For each listed customer, the open invoice that carries most of its amount at risk: the
    one whose reasons explain the customer's place on the list."""
    frame = scores[scores["customer_id"].isin(customer_ids)]
    frame = frame.assign(at_risk=expected_amount_at_risk(frame)).sort_values(
        ["customer_id", "at_risk", "invoice_id"], ascending=[True, False, True]
    )
    return frame.drop_duplicates("customer_id").drop(columns="at_risk")
