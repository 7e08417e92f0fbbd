"""From invoice scores to the collectors' worklist: one row per customer with work due, ranked by
the expected amount at risk of that work, each row telling one story.

- Each open invoice has its plan (models/plan.py): the next action, its date and channel.
- A customer's *actions* group its invoices by next action. An action is due when its date is on
  or before the list's horizon (the as-of date, or the next business day when the list is dated
  on a weekend or holiday): `action_status` is "overdue" when its date is before the as-of date,
  "today" otherwise.
- The row is the customer's due action whose invoices carry the most expected amount at risk;
  its `action_invoices`, amounts, days past due, predicted payment and reasons are about those
  invoices only. The customer's other due actions are named in `other_actions`; its totals are in
  the `customer_*` columns.
- Customers with work due are ranked by the expected amount at risk of their action and cut to
  each collector's capacity (`in_todays_list`; those cut off stay due: `not_reached`); the
  others have their next action ahead (`coming_up`).

Expected amount at risk = Σ open amount × probability that the invoice is still unpaid
`serious_late_days` (30) after the later of its due date and the as-of date (`p_late_30`).
Invoices handed over to an agency (in the ledger) are not the collectors' work: they count in
`agency_amount` only.

Amounts are never added across currencies: an action is about invoices of one `currency` (a
customer invoiced in two currencies has an action per currency), and the `customer_*` totals are
the customer's in that currency. Invoices without a currency count in DEFAULT_CURRENCY.

Pure functions over DataFrames: no I/O, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from models.calendar import DEFAULT_COUNTRY, horizon
from models.dunning import DEFAULT_HIGH_RISK, late_penalties
from models.ledger import sorted_order
from models.plan import dunning_plan

UNASSIGNED = "unassigned"
DEFAULT_CURRENCY = "EUR"
# The ECB rate table (models/penalties.py) a policy uses when given none: one rate for every
# half-year, 2.15% (+ 10 points: 12.15%). The nightly passes the packaged table
# (pipelines/publish/data/ecb_main_refinancing_rate.csv), the letters' own.
FLAT_RATES = pd.DataFrame({"half_year_start": ["1999-01-01"], "ecb_main_refinancing_rate": [2.15]})

# The worklist as a collector reads it, left to right: who, what to do, about what, why; then
# the rest.
WORKLIST_COLUMNS = [
    "rank",
    "collector",
    "collector_rank",
    "customer_id",
    "name",
    "next_action",
    "next_action_channel",
    "next_action_date",
    "action_status",
    "action_invoices",
    "currency",
    "overdue_amount",
    "expected_amount_at_risk",
    "reason_1",
    "reason_2",
    "reason_3",
    "other_actions",
    "open_amount",
    "oldest_days_past_due",
    "risk_probability",
    "promise_status",
    "promised_for",
    "dunning_stage",
    "last_step_date",
    "driver_invoice_id",
    "predicted_days_late",
    "predicted_payment_date",
    "payment_date_p10",
    "payment_date_p90",
    "late_interest",
    "recovery_fees",
    "preferred_channel",
    "customer_open_amount",
    "customer_overdue_amount",
    "customer_at_risk",
    "disputed_invoices",
    "disputed_amount",
    "agency_amount",
    "next_action_key",
]
REASON_COLUMNS = ["reason_1", "reason_2", "reason_3"]


@dataclass(frozen=True)
class WorklistPolicy:
    """The rules a collections team sets: daily capacity, when risk counts as high, penalties,
    whose calendar dates the list."""

    capacity_per_collector: int = 30
    high_risk_threshold: float = DEFAULT_HIGH_RISK
    rates: pd.DataFrame | None = None  # ECB rates per half-year; None: FLAT_RATES
    recovery_fee: float = 40.0
    french_law: frozenset[str] = frozenset({"FR"})  # countries owed the recovery indemnity
    country: str = DEFAULT_COUNTRY  # the collectors' calendar (the list's horizon)
    ledger_start: pd.Timestamp | None = None  # None: the ledger's first action


def expected_amount_at_risk(scores: pd.DataFrame) -> pd.Series:
    """Per invoice: open amount × probability of serious lateness (`p_late_30`)."""
    return scores["open_amount"] * scores["p_late_30"]


def latest_promises(promises: pd.DataFrame | None, as_of: pd.Timestamp) -> pd.DataFrame:
    """The latest promise to pay made before `as_of` for each invoice: invoice_id, promised_on,
    promised_date. `promises`: invoice_id, promised_on, promised_date (staging.promises, which
    holds the ledger's promises too); None = no promises."""
    empty = pd.DataFrame(
        {"invoice_id": pd.Series(dtype=object), "promised_on": pd.NaT, "promised_date": pd.NaT}
    )
    if promises is None or promises.empty:
        return empty
    made = promises[pd.to_datetime(promises["promised_on"]) < as_of]
    by_invoice = [(c, "ascending") for c in ("invoice_id", "promised_on", "promised_date")]
    latest = made.take(sorted_order(made, by_invoice)).drop_duplicates("invoice_id", keep="last")
    return latest.assign(
        promised_on=pd.to_datetime(latest["promised_on"]),
        promised_date=pd.to_datetime(latest["promised_date"]),
    )[["invoice_id", "promised_on", "promised_date"]]


def plan_invoices(
    scores: pd.DataFrame,
    customers: pd.DataFrame,
    as_of: pd.Timestamp | str,
    *,
    promises: pd.DataFrame | None = None,
    actions: pd.DataFrame | None = None,
    policy: WorklistPolicy = WorklistPolicy(),
) -> pd.DataFrame:
    """Every scored open invoice with its customer's channel and country, its latest promise, its
    plan (models/plan.py), penalties, amount at risk and predicted payment dates.

    `scores`: invoice grain with invoice_id, customer_id, issue_date, due_date, open_amount,
    days_past_due, is_disputed, p_late, p_late_30, days_to_pay_p10/p50/p90 (days after as_of).
    `actions`: the ledger (staging.actions), or None.
    """
    as_of = pd.Timestamp(as_of)
    # the customer's own channel and country (the scores may carry them as model inputs)
    own = [c for c in ("preferred_channel", "country") if c in customers]
    frame = (
        scores.drop(columns=[c for c in own if c in scores])
        .merge(customers[["customer_id", *own]], on="customer_id", how="left")
        .merge(latest_promises(promises, as_of), on="invoice_id", how="left")
    )
    frame = frame.join(
        dunning_plan(
            frame,
            as_of,
            actions=actions,
            ledger_start=policy.ledger_start,
            high_risk_threshold=policy.high_risk_threshold,
        )
    ).join(
        late_penalties(
            frame,
            as_of,
            rates=FLAT_RATES if policy.rates is None else policy.rates,
            recovery_fee=policy.recovery_fee,
            french_law=policy.french_law,
        )
    )
    for q in ("p10", "p50", "p90"):
        days = pd.to_timedelta(frame[f"days_to_pay_{q}"].round(), unit="D")
        name = "predicted_payment_date" if q == "p50" else f"payment_date_{q}"
        frame[name] = as_of + days
    frame["at_risk"] = expected_amount_at_risk(frame).where(~frame["with_agency"], 0.0)
    currency = frame.get("currency", pd.Series(None, index=frame.index, dtype=object))
    frame["currency"] = currency.fillna(DEFAULT_CURRENCY)
    return frame


def rank_customers(
    invoices: pd.DataFrame,
    customers: pd.DataFrame,
    as_of: pd.Timestamp | str,
    *,
    policy: WorklistPolicy = WorklistPolicy(),
) -> pd.DataFrame:
    """One row per customer with open invoices not all at the agency (WORKLIST_COLUMNS, plus
    `in_todays_list` and `coming_up`), those with work due first, by the expected amount at risk
    of that work; then the others by the date of their next action.

    `invoices`: the output of `plan_invoices`. `customers`: customer_id, name, collector.
    Ties are broken by overdue amount, then customer_id, so the same input always gives the
    same order. Reasons are left empty here: they are computed for the rows people read.
    """
    as_of = pd.Timestamp(as_of)
    last_day = horizon(as_of, policy.country)
    actions = _customer_actions(invoices, last_day)
    chosen = _choose_action(actions)
    rows = (
        chosen.merge(_other_actions(actions, chosen), on="customer_id", how="left")
        .merge(_customer_totals(invoices), on=["customer_id", "currency"], how="left")
        .merge(customers[["customer_id", "name", "collector"]], on="customer_id", how="left")
    )
    rows["action_status"] = np.where(
        ~rows["due"], "coming up", np.where(rows["next_action_date"] < as_of, "overdue", "today")
    )
    rows["other_actions"] = rows["other_actions"].fillna("")
    rows = _rank(rows, policy.capacity_per_collector)
    for column in REASON_COLUMNS:
        rows[column] = ""
    counts = ["oldest_days_past_due", "disputed_invoices", "predicted_days_late"]
    rows[counts] = rows[counts].astype("int64")
    return rows[[*WORKLIST_COLUMNS, "in_todays_list", "coming_up"]]


# What an action reads of its invoices (selected first: the planned invoices carry every feature,
# and copying them all while sorting 820,000 rows took seconds).
ACTION_INPUTS = [
    "customer_id",
    "invoice_id",
    "currency",
    "next_action_key",
    "next_action",
    "next_action_channel",
    "next_action_date",
    "open_amount",
    "days_past_due",
    "at_risk",
    "late_interest",
    "recovery_fee",
    "dunning_stage",
    "last_step_date",
    "promise_status",
    "promised_date",
    "due_date",
    "predicted_payment_date",
    "payment_date_p10",
    "payment_date_p90",
]


def _customer_actions(invoices: pd.DataFrame, last_day: pd.Timestamp) -> pd.DataFrame:
    """One row per (customer, next action, due by `last_day` or not) over invoices not at the
    agency: its invoices, the earliest date, and its amounts, penalties and driver invoice (the
    one carrying most risk)."""
    # (grouping by customer left out invoices without one)
    worked = invoices[["customer_id", "next_action_key"]].notna().all(axis=1)
    work = invoices.loc[worked & ~invoices["with_agency"], ACTION_INPUTS]
    promise = work["promise_status"].to_numpy(dtype=object)
    work = work.assign(
        overdue=work["open_amount"].where(work["days_past_due"] > 0, 0.0),
        past_due=work["days_past_due"].clip(lower=0),
        due=work["next_action_date"] <= last_day,
        promise_flag=np.select([promise == "pending", promise == "broken"], [1, 2], 0),
    )
    # the same step due on some invoices today and on others later: two actions (so too for
    # invoices in two currencies)
    keys = ["customer_id", "next_action_key", "due", "currency"]
    work = work.take(sorted_order(work, [*((k, "ascending") for k in keys), *RISKIEST_FIRST]))
    # (sorted, each action's rows are contiguous: numbering them is cheaper than grouping by
    # the four keys, which took a second at 820,000 invoices)
    group = _run_numbers(work[keys])
    starts = np.flatnonzero(np.diff(group, prepend=-1))
    totals = (
        work.groupby(group, sort=False)
        .agg(
            next_action_date=("next_action_date", "min"),
            n_invoices=("invoice_id", "count"),
            open_amount=("open_amount", "sum"),
            overdue_amount=("overdue", "sum"),
            expected_amount_at_risk=("at_risk", "sum"),
            oldest_days_past_due=("past_due", "max"),
            late_interest=("late_interest", "sum"),
            recovery_fees=("recovery_fee", "sum"),
            last_step_date=("last_step_date", "max"),
            promise_status=("promise_flag", "max"),
            promised_for=("promised_date", "max"),
        )
        .reset_index(drop=True)
    )
    # (text keys of dtype object become str, as they did when grouped by)
    actions = work[keys].iloc[starts].reset_index(drop=True).infer_objects()
    for column in ("next_action", "next_action_channel", "dunning_stage"):
        actions[column] = _first(work[column], group, starts)
    actions = actions.join(totals)[[*keys, *ACTION_COLUMNS]]
    actions["promise_status"] = np.asarray(PROMISE_FLAGS)[actions["promise_status"].astype(int)]
    actions["action_invoices"] = _joined_ids(work["invoice_id"], group)
    _add_driver(actions, work, starts)
    worked = actions["open_amount"].where(actions["open_amount"] > 0)
    actions["risk_probability"] = actions["expected_amount_at_risk"] / worked
    return actions


# An action's columns, in order, after its keys.
ACTION_COLUMNS = [
    "next_action",
    "next_action_channel",
    "next_action_date",
    "n_invoices",
    "open_amount",
    "overdue_amount",
    "expected_amount_at_risk",
    "oldest_days_past_due",
    "late_interest",
    "recovery_fees",
    "dunning_stage",
    "last_step_date",
    "promise_status",
    "promised_for",
]
# Within an action, its invoices riskiest first, then by id.
RISKIEST_FIRST = [("at_risk", "descending"), ("invoice_id", "ascending")]


def _run_numbers(keys: pd.DataFrame) -> np.ndarray:
    """Per row, the number (0, 1, ...) of its run of rows with the same keys, in order."""
    change = np.zeros(len(keys), dtype=bool)
    change[:1] = True
    for column in keys.columns:
        values = keys[column].to_numpy()
        change[1:] |= values[1:] != values[:-1]
    return np.cumsum(change) - 1


def _first(values: pd.Series, group: np.ndarray, starts: np.ndarray) -> pd.Series:
    """Per group, its first value that is not missing, as groupby's "first" gives it: the value
    of the group's first row (`starts`), unless one of those is missing (then by groupby)."""
    first = pd.Series(values.to_numpy()[starts], dtype=values.dtype)
    if first.notna().all():  # (then each is its group's first value not missing)
        return first
    return values.groupby(group, sort=False).first().reset_index(drop=True)


def _add_driver(actions: pd.DataFrame, work: pd.DataFrame, starts: np.ndarray) -> None:
    """The driver invoice of each action (its first row in `work`, sorted riskiest first
    within each action; `starts`: the first row of each action) and its predicted payment
    dates. In place."""
    driver = work.iloc[starts]
    actions["driver_invoice_id"] = driver["invoice_id"].to_numpy()
    for column in ("predicted_payment_date", "payment_date_p10", "payment_date_p90"):
        actions[column] = driver[column].to_numpy()
    actions["predicted_days_late"] = (
        pd.to_datetime(driver["predicted_payment_date"]) - pd.to_datetime(driver["due_date"])
    ).dt.days.to_numpy()


# An action's promise flag: broken if one of its invoices' promises is broken, else pending if
# one is pending, else none (the highest of its invoices' flags in this order).
PROMISE_FLAGS = ("none", "pending", "broken")


def _joined_ids(ids: pd.Series, group: np.ndarray) -> np.ndarray:
    """Per group number 0..n-1 (`group`: of each id, in order), its invoice ids sorted and
    joined by ", "."""
    frame = pd.DataFrame({"group": group, "invoice_id": ids.to_numpy()})
    order = sorted_order(frame, [("group", "ascending"), ("invoice_id", "ascending")])
    return _joined(frame["invoice_id"].to_numpy()[order], group, ", ")


def _joined(values: np.ndarray, group: np.ndarray, separator: str) -> np.ndarray:
    """Per group number 0..n-1 (`group`: of each value, in order), its values joined by
    `separator`. (Arrow joins the lists all at once: pandas joined them group by group, in
    seconds at 400,000 customers.)"""
    sizes = np.bincount(group, minlength=group.max() + 1 if len(group) else 0)
    offsets = pa.array(np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64))
    lists = pa.LargeListArray.from_arrays(offsets, pa.array(values, type=pa.large_string()))
    joined = pc.binary_join(lists, pa.scalar(separator, type=pa.large_string()))
    return joined.to_numpy(zero_copy_only=False)


def _choose_action(actions: pd.DataFrame) -> pd.DataFrame:
    """Per customer, the action of its row: among its due actions, the one with the most amount
    at risk (then the earliest, then by key); without any due, the next one to come."""
    order = actions.take(
        sorted_order(
            actions,
            [
                ("customer_id", "ascending"),
                ("due", "descending"),
                ("expected_amount_at_risk", "descending"),
                ("next_action_date", "ascending"),
                ("next_action_key", "ascending"),
            ],
        )
    )
    customer = order["customer_id"].to_numpy()
    first = np.ones(len(order), dtype=bool)  # (the first row of each customer: sorted by it)
    first[1:] = customer[1:] != customer[:-1]
    return order[first].reset_index(drop=True)


def _other_actions(actions: pd.DataFrame, chosen: pd.DataFrame) -> pd.DataFrame:
    """Per customer, its other due actions in a few words, e.g. "first reminder (2 invoices)"."""
    rest = actions[actions["due"]].merge(
        chosen[["customer_id", "next_action_key", "due", "currency"]], how="left", indicator=True
    )
    rest = rest[rest["_merge"] == "left_only"]
    words = rest["next_action"] + " (" + rest["n_invoices"].astype(str) + " invoice"
    words = words + np.where(rest["n_invoices"] > 1, "s)", ")")
    # per customer (in order of id), its actions in the order they come
    order = sorted_order(rest, [("customer_id", "ascending")])
    customer = rest["customer_id"].take(order)
    group = _run_numbers(customer.to_frame())
    starts = np.flatnonzero(np.diff(group, prepend=-1))
    return pd.DataFrame(
        {
            "customer_id": customer.iloc[starts].reset_index(drop=True),
            "other_actions": _joined(words.to_numpy()[order], group, "; "),
        }
    )


def _customer_totals(invoices: pd.DataFrame) -> pd.DataFrame:
    """Per customer and currency: open, overdue, at risk, disputed and with the agency, over all
    its open invoices in that currency, and its preferred channel."""
    frame = invoices.assign(
        overdue=invoices["open_amount"].where(invoices["days_past_due"] > 0, 0.0),
        disputed_open=invoices["open_amount"].where(invoices["is_disputed"].astype(bool), 0.0),
        agency_open=invoices["open_amount"].where(invoices["with_agency"], 0.0),
    )
    return frame.groupby(["customer_id", "currency"], as_index=False).agg(
        customer_open_amount=("open_amount", "sum"),
        customer_overdue_amount=("overdue", "sum"),
        customer_at_risk=("at_risk", "sum"),
        disputed_invoices=("is_disputed", "sum"),
        disputed_amount=("disputed_open", "sum"),
        agency_amount=("agency_open", "sum"),
        preferred_channel=("preferred_channel", "first"),
    )


def _rank(rows: pd.DataFrame, capacity: int) -> pd.DataFrame:
    """Work due first, by amount at risk (then overdue, then id); then what is coming up, by
    date. Each collector's due rows are numbered; the first `capacity` make today's list."""
    rows["collector"] = rows["collector"].fillna(UNASSIGNED).replace("", UNASSIGNED)
    by_rank = [
        ("due", "descending"),
        ("expected_amount_at_risk", "descending"),
        ("overdue_amount", "descending"),
        ("next_action_date", "ascending"),
        ("customer_id", "ascending"),
    ]
    ranked = rows.take(sorted_order(rows, by_rank)).reset_index(drop=True)
    due = ranked["due"].astype(bool)
    ranked["rank"] = np.arange(1, len(ranked) + 1)
    ranked["collector_rank"] = (
        ranked[due].groupby("collector").cumcount().add(1).reindex(ranked.index).astype("Int64")
    )
    ranked["in_todays_list"] = due & (ranked["collector_rank"] <= capacity)
    ranked["coming_up"] = ~due
    return ranked


def todays_list(worklist: pd.DataFrame) -> pd.DataFrame:
    """The published rows: each collector's first `capacity` customers with work due, in rank
    order."""
    return worklist[worklist["in_todays_list"]].drop(columns=["in_todays_list", "coming_up"])


def not_reached(worklist: pd.DataFrame) -> pd.DataFrame:
    """The customers with work due (today or overdue) that their collector's list could not hold
    (the capacity cut): their actions stay due, in rank order."""
    waiting = ~worklist["coming_up"].astype(bool) & ~worklist["in_todays_list"].astype(bool)
    return worklist[waiting].drop(columns=["in_todays_list", "coming_up"])


def coming_up(worklist: pd.DataFrame, until: pd.Timestamp | None = None) -> pd.DataFrame:
    """Customers whose next action is after today's horizon (and on or before `until`, when
    given), soonest first."""
    ahead = worklist["coming_up"].astype(bool)
    if until is not None:
        ahead &= worklist["next_action_date"] <= pd.Timestamp(until)
    ahead = worklist[ahead].sort_values(["next_action_date", "customer_id"])
    return ahead.drop(columns=["in_todays_list", "coming_up"])
