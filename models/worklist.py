"""From invoice scores to the collectors' worklist: one row per customer with open receivables,
ranked by expected amount at risk, with the dunning step to take, the penalties owed and the
flags a collector must see. Pure functions over DataFrames.

Expected amount at risk of a customer = Σ over its open invoices of open amount × probability
that the invoice is still unpaid `serious_late_days` (30) after the later of its due date and the
as-of date (`p_late_30`). It ranks by what a call can still save: a large invoice that will
probably be paid anyway ranks below a smaller one that probably will not. Invoices past the last
step of the ladder are with the collection agency, not the collectors' daily work: they count in
`agency_amount`, not in the amount at risk.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from models.dunning import DEFAULT_HIGH_RISK, LADDER, dunning_plan, late_penalties

UNASSIGNED = "unassigned"
# French statutory late-payment interest: ECB main refinancing rate (2.15%) + 10 points.
FRENCH_LATE_INTEREST_RATE = 0.1215
AGENCY_STAGE = LADDER[-1].key

WORKLIST_COLUMNS = [
    "rank",
    "collector",
    "collector_rank",
    "customer_id",
    "name",
    "preferred_channel",
    "open_amount",
    "overdue_amount",
    "open_invoices",
    "oldest_days_past_due",
    "disputed_invoices",
    "disputed_amount",
    "agency_amount",
    "promise_status",
    "promised_date",
    "risk_probability",
    "expected_amount_at_risk",
    "driver_invoice_id",
    "predicted_days_late",
    "predicted_payment_date",
    "payment_date_p10",
    "payment_date_p90",
    "dunning_stage",
    "next_action",
    "next_action_date",
    "next_action_channel",
    "late_interest",
    "recovery_fees",
    "reason_1",
    "reason_2",
    "reason_3",
]
REASON_COLUMNS = ["reason_1", "reason_2", "reason_3"]


@dataclass(frozen=True)
class WorklistPolicy:
    """The rules a collections team sets: daily capacity, when risk counts as high, penalties."""

    capacity_per_collector: int = 30
    high_risk_threshold: float = DEFAULT_HIGH_RISK
    annual_interest_rate: float = FRENCH_LATE_INTEREST_RATE
    recovery_fee: float = 40.0


def expected_amount_at_risk(scores: pd.DataFrame) -> pd.Series:
    """Per invoice: open amount × probability of serious lateness (`p_late_30`)."""
    return scores["open_amount"] * scores["p_late_30"]


def latest_promises(promises: pd.DataFrame | None, as_of: pd.Timestamp) -> pd.DataFrame:
    """The latest promise to pay made before `as_of` for each invoice: invoice_id, promised_date.
    `promises`: invoice_id, promised_on, promised_date (staging.promises); None = no promises."""
    if promises is None or promises.empty:
        return pd.DataFrame({"invoice_id": pd.Series(dtype=object), "promised_date": pd.NaT})
    made = promises[pd.to_datetime(promises["promised_on"]) < as_of]
    latest = made.sort_values(["invoice_id", "promised_on", "promised_date"]).drop_duplicates(
        "invoice_id", keep="last"
    )
    return latest.assign(promised_date=pd.to_datetime(latest["promised_date"]))[
        ["invoice_id", "promised_date"]
    ]


def plan_invoices(
    scores: pd.DataFrame,
    customers: pd.DataFrame,
    as_of: pd.Timestamp | str,
    *,
    promises: pd.DataFrame | None = None,
    policy: WorklistPolicy = WorklistPolicy(),
) -> pd.DataFrame:
    """Every scored open invoice with its customer's channel, its latest promise, its dunning plan,
    penalties, amount at risk and predicted payment dates.

    `scores`: invoice grain with invoice_id, customer_id, issue_date, due_date, open_amount,
    days_past_due, is_disputed, p_late, p_late_30, days_to_pay_p10/p50/p90 (days after as_of).
    """
    as_of = pd.Timestamp(as_of)
    frame = scores.merge(
        customers[["customer_id", "preferred_channel"]], on="customer_id", how="left"
    ).merge(latest_promises(promises, as_of), on="invoice_id", how="left")
    frame = frame.join(
        dunning_plan(frame, as_of, high_risk_threshold=policy.high_risk_threshold)
    ).join(
        late_penalties(
            frame["open_amount"],
            frame["days_past_due"],
            annual_rate=policy.annual_interest_rate,
            recovery_fee=policy.recovery_fee,
        )
    )
    for q in ("p10", "p50", "p90"):
        days = pd.to_timedelta(frame[f"days_to_pay_{q}"].round(), unit="D")
        name = "predicted_payment_date" if q == "p50" else f"payment_date_{q}"
        frame[name] = as_of + days
    frame["with_agency"] = frame["dunning_stage"] == AGENCY_STAGE
    frame["at_risk"] = expected_amount_at_risk(frame).where(~frame["with_agency"], 0.0)
    return frame


def _promise_status(invoices: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Per customer: "broken" if any open invoice has a promised date before as_of, else
    "pending" if any has one from as_of on, else "none"; promised_date is the date concerned
    (earliest broken, or earliest pending)."""
    promised = invoices.dropna(subset=["promised_date"])
    broken = promised[promised["promised_date"] < as_of].groupby("customer_id")["promised_date"]
    pending = promised[promised["promised_date"] >= as_of].groupby("customer_id")["promised_date"]
    status = pd.DataFrame(index=pd.Index(invoices["customer_id"].unique(), name="customer_id"))
    status["promised_date"] = pending.min().reindex(status.index)
    status["promise_status"] = np.where(status["promised_date"].notna(), "pending", "none")
    broken_first = broken.min().reindex(status.index)
    status.loc[broken_first.notna(), "promise_status"] = "broken"
    status["promised_date"] = broken_first.fillna(status["promised_date"])
    return status.reset_index()


def rank_customers(
    invoices: pd.DataFrame,
    customers: pd.DataFrame,
    as_of: pd.Timestamp | str,
    *,
    policy: WorklistPolicy = WorklistPolicy(),
) -> pd.DataFrame:
    """One row per customer with open invoices (WORKLIST_COLUMNS, plus `in_todays_list`),
    highest expected amount at risk first.

    `invoices`: the output of `plan_invoices`. `customers`: customer_id, name, collector.
    risk_probability is the amount-weighted probability of serious lateness (of the amount not with
    the agency: expected_amount_at_risk / (open_amount − agency_amount)). The dunning stage
    and next action are those of the customer's oldest open invoice (most days past due; one not
    with the agency and undisputed when there is any, since disputes pause dunning). The predicted delay and
    dates are those of the driver invoice, the one carrying most of the amount at risk.
    Ties are broken by overdue amount, then customer_id, so the same input always gives the
    same order. `collector_rank` numbers each collector's customers in that order (those with
    every open invoice at the agency get none); `in_todays_list` keeps the first
    `policy.capacity_per_collector` of each collector.
    Reasons are left empty here: they are computed for the rows people read.
    """
    as_of = pd.Timestamp(as_of)
    frame = invoices.assign(
        overdue=invoices["open_amount"].where(invoices["days_past_due"] > 0, 0.0),
        past_due=invoices["days_past_due"].clip(lower=0),
        disputed_open=invoices["open_amount"].where(invoices["is_disputed"].astype(bool), 0.0),
        agency_open=invoices["open_amount"].where(invoices["with_agency"], 0.0),
    )
    # The first invoice of each customer by a numeric key: groupby idxmax over rows sorted by
    # invoice_id (ties go to the lowest id), instead of sorting 1M rows on several keys.
    keyed = frame.sort_values("invoice_id").reset_index(drop=True)
    ranked = (
        _customer_totals(frame)
        .merge(_promise_status(frame, as_of), on="customer_id", how="left")
        .merge(_oldest_invoice(keyed), on="customer_id", how="left")
        .merge(_driver_invoice(keyed), on="customer_id", how="left")
        .merge(customers[["customer_id", "name", "collector"]], on="customer_id", how="left")
        .sort_values(
            ["expected_amount_at_risk", "overdue_amount", "customer_id"],
            ascending=[False, False, True],
        )
        .reset_index(drop=True)
    )
    ranked = _cut_to_capacity(ranked, policy.capacity_per_collector)
    for column in REASON_COLUMNS:
        ranked[column] = ""
    ranked["preferred_channel"] = ranked["customer_id"].map(
        customers.set_index("customer_id")["preferred_channel"]
    )
    counts = ["open_invoices", "oldest_days_past_due", "disputed_invoices", "predicted_days_late"]
    ranked[counts] = ranked[counts].astype("int64")
    return ranked[[*WORKLIST_COLUMNS, "in_todays_list"]]


def _customer_totals(frame: pd.DataFrame) -> pd.DataFrame:
    """Per customer: amounts, counts, penalties and the amount-weighted risk probability."""
    grouped = frame.groupby("customer_id", as_index=False).agg(
        open_amount=("open_amount", "sum"),
        overdue_amount=("overdue", "sum"),
        open_invoices=("invoice_id", "count"),
        oldest_days_past_due=("past_due", "max"),
        disputed_invoices=("is_disputed", "sum"),
        disputed_amount=("disputed_open", "sum"),
        agency_amount=("agency_open", "sum"),
        expected_amount_at_risk=("at_risk", "sum"),
        late_interest=("late_interest", "sum"),
        recovery_fees=("recovery_fee", "sum"),
    )
    worked = grouped["open_amount"] - grouped["agency_amount"]
    grouped["risk_probability"] = grouped["expected_amount_at_risk"] / worked.where(worked > 0)
    return grouped


def _oldest_invoice(keyed: pd.DataFrame) -> pd.DataFrame:
    """Per customer, the plan of its oldest invoice: not with the agency, then undisputed, then
    most days past due. `keyed`: the invoices sorted by invoice_id."""
    worked = (~keyed["with_agency"]).to_numpy(dtype=float)
    undisputed = (~keyed["is_disputed"].astype(bool)).to_numpy(dtype=float)
    dpd = keyed["days_past_due"].to_numpy(dtype=float)
    span = np.abs(dpd).max() * 2 + 1 if len(dpd) else 1.0
    oldest_key = pd.Series((worked * 2 + undisputed) * span + dpd, index=keyed.index)
    return keyed.loc[
        oldest_key.groupby(keyed["customer_id"]).idxmax(),
        ["customer_id", "dunning_stage", "next_action", "next_action_date", "next_action_channel"],
    ]


def _driver_invoice(keyed: pd.DataFrame) -> pd.DataFrame:
    """Per customer, its driver invoice (not with the agency, then most amount at risk) with its
    predicted payment dates and days late. `keyed`: the invoices sorted by invoice_id."""
    worked = (~keyed["with_agency"]).to_numpy(dtype=float)
    risk = expected_amount_at_risk(keyed).fillna(0).to_numpy(dtype=float)
    driver_key = pd.Series(
        worked * (risk.max() + 1 if len(risk) else 1.0) + risk, index=keyed.index
    )
    driver = keyed.loc[driver_key.groupby(keyed["customer_id"]).idxmax()]
    driver = driver.assign(
        driver_invoice_id=driver["invoice_id"],
        predicted_days_late=(
            driver["predicted_payment_date"] - pd.to_datetime(driver["due_date"])
        ).dt.days,
    )
    columns = ["predicted_days_late", "predicted_payment_date", "payment_date_p10"]
    return driver[["customer_id", "driver_invoice_id", *columns, "payment_date_p90"]]


def _cut_to_capacity(ranked: pd.DataFrame, capacity: int) -> pd.DataFrame:
    """Global rank, each collector's rank, and `in_todays_list`: each collector's first
    `capacity` customers. Customers whose every open invoice is with the agency are not the
    collectors' work today: they get no collector rank."""
    ranked["collector"] = ranked["collector"].fillna(UNASSIGNED).replace("", UNASSIGNED)
    ranked["rank"] = np.arange(1, len(ranked) + 1)
    worked = ranked["open_amount"] > ranked["agency_amount"]
    ranked["collector_rank"] = (
        ranked[worked].groupby("collector").cumcount().add(1).reindex(ranked.index).astype("Int64")
    )
    ranked["in_todays_list"] = worked & (ranked["collector_rank"] <= capacity)
    return ranked


def todays_list(worklist: pd.DataFrame) -> pd.DataFrame:
    """The published rows: each collector's first `capacity` customers, in global rank order."""
    return worklist[worklist["in_todays_list"]].drop(columns="in_todays_list")
