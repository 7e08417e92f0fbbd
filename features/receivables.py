"""Receivables figures as finance reads them: open invoices and the aged balance at a date, DSO,
how invoices were paid, the customers whose delays cost most. One definition each, read by the
nightly report (pipelines/publish/report.py) and the analysts' notebooks alike.

Conventions, as in the features: a figure "as of D" uses only facts dated before D (invoices
issued, payments received, disputes opened before D). An invoice is open at D when it is not
settled before D; its open amount is its amount less the payments dated before D. Credit notes
are never open invoices (the warehouse settles them on their issue date: nothing to chase, nothing
to score) and are left out of receivables and sales; what a customer can still use of them is
its *unapplied credit* (`unapplied_credit`), shown beside the open amount wherever a balance is.
Amounts are in invoice currency units, summed without conversion, as everywhere in latepay.
Nothing here reads the environment or the clock.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

import duckdb
import numpy as np
import pandas as pd

from features.runner import feature_sql


def receivables_sql(name: str) -> str:
    return feature_sql(f"receivables/{name}")


# Aged balance buckets (days past due at as_of), as finance teams read them.
AGE_BUCKETS = ("not due", "1–30", "31–60", "61–90", ">90")
_AGE_EDGES = (-np.inf, 0, 30, 60, 90, np.inf)
# Bands of days late (settlement date − due date) of settled invoices.
DAYS_LATE_BANDS = ("early", "on the due date", "1–7", "8–30", "31–60", "61–90", ">90")
_DAYS_LATE_EDGES = (-np.inf, -1, 0, 7, 30, 60, 90, np.inf)
# Bands of payment terms (due date − issue date), in days.
TERMS_BANDS = ("≤ 30", "31–45", "46–60", "61–90", "> 90")
_TERMS_EDGES = (-np.inf, 30, 45, 60, 90, np.inf)
DSO_DAYS = 90  # sales window of days sales outstanding
_EARLIEST = date(1900, 1, 1)


def month_starts(first: date, last: date) -> list[date]:
    """The first day of every month from the month after `first` up to `last` (inclusive): the
    dates of a monthly series (a balance as of the 1st = at the end of the previous month)."""
    return [d.date() for d in pd.date_range(first + timedelta(days=1), last, freq="MS")]


def open_invoices_at(con: duckdb.DuckDBPyConnection, dates: Iterable[date]) -> pd.DataFrame:
    """Every invoice open at each date, with its open amount and age.

    Grain: one row per (invoice_id, as_of). The definition of "open" is the features' own
    (features/sql/open_invoices.sql). Columns: invoice_id, customer_id, as_of, issue_date,
    due_date, amount, open_amount, is_disputed, days_past_due (as_of − due date; ≤ 0 not yet
    due), age_bucket (AGE_BUCKETS, ordered).
    """
    dates_frame = pd.DataFrame({"as_of": pd.to_datetime(sorted(set(dates))).date})
    if dates_frame.empty:
        raise ValueError("open_invoices_at needs at least one date")
    sql = feature_sql("open_invoices")
    con.register("as_of_dates", dates_frame)
    try:
        frame = con.execute(
            f"""
            select invoice_id, customer_id, as_of, issue_date, due_date, amount, open_amount,
                is_disputed, as_of - due_date as days_past_due
            from ({sql})
            order by as_of, invoice_id
            """,
            {"sample_one_in": 1} if "$sample_one_in" in sql else None,
        ).df()
    finally:
        con.unregister("as_of_dates")
    frame["age_bucket"] = age_buckets(frame["days_past_due"])
    return frame


def unapplied_credit(con: duckdb.DuckDBPyConnection, as_of: date) -> pd.DataFrame:
    """What customers can still use at `as_of` of their credit notes and payments on account:
    their unapplied credit.

    Grain: one row per credit note (amount < 0) issued, or payment on account
    (staging.payments_on_account) paid, before as_of with credit left. Columns: invoice_id (the
    credit note's, or the payment's id), customer_id, currency (as loaded, null when the export
    had none; a payment's, its customer's invoices' when they are all in one), issue_date (a
    payment's date), amount (negative), open_credit (what is left to use, > 0), kind ('credit
    note', 'payment on account').

    latepay has no allocation data (which invoice a credit is applied to); what says how much of
    a credit note is left is an open-items export, the complete list of the items open on a
    day: the latest export dated before as_of decides for the credit notes issued before its
    date. Listed, its `open_amount` is left (in absolute value, at most the amount; the whole
    amount without the column); not listed (or listed with 0), it was used. A payment on account
    is unapplied until a payments file applies its payment_id to an invoice.

    A credit note no export has seen (issued on or after the latest export's date, or no export
    at all), and a payment on account, count in full when dated on or after the issue date of
    the customer's oldest invoice still open at as_of, and for nothing before: by then the
    customer had settled everything it owed, so the credit was used or refunded as far as
    latepay can tell (counting every credit ever issued would net years of settled history
    against today's balance). A customer with nothing open has no balance to net it against.
    """
    return con.execute(receivables_sql("unapplied_credit"), {"as_of": as_of}).df()


def age_buckets(days_past_due: pd.Series) -> pd.Series:
    """AGE_BUCKETS of days past due: ≤ 0 not due, 1–30, 31–60, 61–90, > 90."""
    return pd.cut(days_past_due, _AGE_EDGES, labels=list(AGE_BUCKETS), right=True)


def aged_balance_over_time(con: duckdb.DuckDBPyConnection, dates: Iterable[date]) -> pd.DataFrame:
    """Open amount by age bucket at each date. Grain: one row per as_of (index), one column per
    bucket of AGE_BUCKETS (0 when empty), plus `total`."""
    frame = open_invoices_at(con, dates)
    table = frame.pivot_table(
        index="as_of",
        columns="age_bucket",
        values="open_amount",
        aggfunc="sum",
        observed=False,
        fill_value=0.0,
    )
    table = table.reindex(columns=list(AGE_BUCKETS), fill_value=0.0).astype(float)
    table.columns = list(AGE_BUCKETS)
    table["total"] = table.sum(axis=1)
    return table


def aged_balance(con: duckdb.DuckDBPyConnection, as_of: date) -> pd.DataFrame:
    """The aged balance at `as_of` (see `aged_balance_of`)."""
    return aged_balance_of(open_invoices_at(con, [as_of]))


def aged_balance_of(open_invoices: pd.DataFrame) -> pd.DataFrame:
    """The aged balance of open invoices (invoice_id, open_amount, days_past_due): one row per
    bucket of AGE_BUCKETS (all five, in order), with invoices (count), open_amount and share (of
    the total open amount)."""
    table = (
        open_invoices.assign(age_bucket=age_buckets(open_invoices["days_past_due"]))
        .groupby("age_bucket", observed=False)
        .agg(invoices=("invoice_id", "count"), open_amount=("open_amount", "sum"))
        .reindex(list(AGE_BUCKETS), fill_value=0)
    )
    table["open_amount"] = table["open_amount"].astype(float)
    total = table["open_amount"].sum()
    table["share"] = table["open_amount"] / total if total else np.nan
    return table.rename_axis("age_bucket").reset_index()


def dso_trend(
    con: duckdb.DuckDBPyConnection, dates: Iterable[date], days: int = DSO_DAYS
) -> pd.DataFrame:
    """Days sales outstanding at each date: receivables / sales × days.

    Grain: one row per as_of. receivables: the open amount at as_of; sales: the amount of the
    invoices issued in the `days` days before as_of (as_of − days ≤ issue date < as_of; credit
    notes left out, as from receivables); dso is NaN without sales.
    """
    dates = sorted(set(dates))
    receivables = (
        open_invoices_at(con, dates)
        .groupby("as_of")["open_amount"]
        .sum()
        .reindex(pd.to_datetime(dates), fill_value=0.0)
    )
    frame = pd.DataFrame({"receivables": receivables.astype(float)})
    frame.index = pd.to_datetime(frame.index)
    frame["sales"] = sales_before(con, dates, days).reindex(frame.index).to_numpy()
    frame["dso"] = frame["receivables"] / frame["sales"].where(frame["sales"] > 0) * days
    return frame.rename_axis("as_of").reset_index()


def sales_before(
    con: duckdb.DuckDBPyConnection, dates: Iterable[date], days: int = DSO_DAYS
) -> pd.Series:
    """Amount invoiced in the `days` days before each date (credit notes left out), indexed by
    the dates as timestamps."""
    con.register("dso_dates", pd.DataFrame({"as_of": pd.to_datetime(sorted(set(dates))).date}))
    try:
        return (
            con.execute(
                """
                select d.as_of::timestamp as as_of, coalesce(sum(i.amount), 0)::double as sales
                from dso_dates as d
                left join staging.invoices as i
                    on i.amount > 0
                    and i.issue_date < d.as_of
                    and i.issue_date >= d.as_of - $days::integer
                group by d.as_of
                """,
                {"days": days},
            )
            .df()
            .set_index("as_of")["sales"]
        )
    finally:
        con.unregister("dso_dates")


def dso(con: duckdb.DuckDBPyConnection, as_of: date, days: int = DSO_DAYS) -> float:
    """Days sales outstanding at `as_of` over the last `days` days (see `dso_trend`)."""
    return float(dso_trend(con, [as_of], days)["dso"].iloc[0])


def dso_of(
    con: duckdb.DuckDBPyConnection, as_of: date, receivables: float, days: int = DSO_DAYS
) -> dict:
    """DSO at `as_of` for receivables already known (the night's scored invoices): as_of,
    receivables, sales (see `sales_before`), dso (None without sales)."""
    sales = float(sales_before(con, [as_of], days).iloc[0])
    value = receivables / sales * days if sales > 0 else None
    return {"as_of": as_of, "receivables": receivables, "sales": sales, "dso": value}


def invoice_lateness(
    con: duckdb.DuckDBPyConnection, as_of: date, grace_days: int = 0
) -> pd.DataFrame:
    """How each invoice whose lateness is decided at `as_of` was paid.

    Grain: one row per invoice (credit notes left out) issued before as_of with
    due date + grace_days < as_of. Columns: invoice_id, customer_id, segment, country, amount,
    issue_date, due_date, terms_days, disputed (a dispute opened before as_of), settled (settled
    before as_of), settled_date (null if not), days_late (settlement − due date, or as_of − due
    date while unpaid: a lower bound), late (days_late > grace_days).
    """
    frame = con.execute(
        receivables_sql("invoice_lateness"), {"as_of": as_of, "grace": grace_days}
    ).df()
    frame["late"] = frame["days_late"] > grace_days
    frame["terms_band"] = pd.cut(frame["terms_days"], _TERMS_EDGES, labels=list(TERMS_BANDS))
    return frame


def days_late_distribution(
    con: duckdb.DuckDBPyConnection, as_of: date, grace_days: int = 0
) -> pd.DataFrame:
    """Invoices settled before `as_of` by band of days late (DAYS_LATE_BANDS, all, in order),
    then one row "unpaid, overdue" for those past due and unpaid; with invoices, amount and
    share (of invoices)."""
    frame = invoice_lateness(con, as_of, grace_days)
    settled = frame[frame["settled"]]
    bands = pd.cut(settled["days_late"], _DAYS_LATE_EDGES, labels=list(DAYS_LATE_BANDS))
    table = (
        settled.groupby(bands, observed=False)
        .agg(invoices=("invoice_id", "count"), amount=("amount", "sum"))
        .reindex(list(DAYS_LATE_BANDS), fill_value=0)
    )
    unpaid = frame[~frame["settled"]]
    table.loc["unpaid, overdue"] = [len(unpaid), unpaid["amount"].sum()]
    table["invoices"] = table["invoices"].astype(int)
    table["amount"] = table["amount"].astype(float)
    table["share"] = table["invoices"] / max(len(frame), 1)
    return table.rename_axis("band").reset_index()


def lateness_by(frame: pd.DataFrame, by: str | list[str]) -> pd.DataFrame:
    """Summary of `invoice_lateness` rows per group: invoices, amount, share_late, and among
    settled invoices avg_days_late (days late, early payments counted as 0) and
    median_days_late (signed)."""
    frame = frame.assign(_days_late_settled=frame["days_late"].where(frame["settled"]))
    grouped = frame.groupby(by, observed=True)
    return pd.DataFrame(
        {
            "invoices": grouped["invoice_id"].count(),
            "amount": grouped["amount"].sum().astype(float),
            "share_late": grouped["late"].mean().astype(float),
            "avg_days_late": grouped["_days_late_settled"].apply(
                lambda s: float(s.clip(lower=0).mean())
            ),
            "median_days_late": grouped["_days_late_settled"].median().astype(float),
        }
    ).reset_index()


def costliest_customers(
    con: duckdb.DuckDBPyConnection,
    as_of: date,
    n: int = 10,
    *,
    since: date | None = None,
    annual_rate: float,
) -> pd.DataFrame:
    """The `n` customers whose late payments cost most: the overdue balance integrated over
    time, in amount × days, counted from `since` (default: all history) up to `as_of`.

    Each payment made after its due date counts amount × (payment date − the later of due date
    and `since`); what is still unpaid at as_of counts open amount × (as_of − that date).
    delay_cost prices it at `annual_rate` (amount × days × rate / 365, the statutory penalty
    formula). Grain: one row per customer, costliest first (ties by customer_id), with name,
    segment, late_invoices (invoices contributing), amount_days_late, delay_cost and
    overdue_amount (past due and unpaid at as_of).
    """
    frame = con.execute(
        receivables_sql("costliest_customers"),
        {"as_of": as_of, "since": since or _EARLIEST, "n": n},
    ).df()
    frame["delay_cost"] = frame["amount_days_late"] * annual_rate / 365
    columns = ["customer_id", "name", "segment", "late_invoices", "amount_days_late"]
    return frame[[*columns, "delay_cost", "overdue_amount"]]
