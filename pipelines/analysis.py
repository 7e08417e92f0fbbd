"""Analysis functions the analyst notebooks call (notebooks/): receivables overview, model quality,
feature lab. Each takes a DuckDB connection or DataFrames and returns a DataFrame or a figure;
nothing here reads the environment or the clock, so every number a notebook shows is reproducible
and tested (tests/test_analysis.py).

Conventions, as in the features: a figure "as of D" uses only facts dated before D (invoices
issued, payments received, disputes opened before D). An invoice is open at D when it is not
settled before D; its open amount is its amount less the payments dated before D. Credit notes
are applied when issued (the warehouse settles them on their issue date): they are never open and
are left out of receivables and sales alike. Amounts are in invoice currency units, summed
without conversion, as everywhere in latepay.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from typing import TYPE_CHECKING

import duckdb
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn.metrics import roc_auc_score

from features.catalog import CATALOG, CATEGORICAL_FEATURES, reason_sentence
from features.runner import KEY_COLUMNS, feature_sql, model_feature_columns
from models.dataset import LABEL_COLUMNS
from models.evaluate import BLOCKS, POPULATIONS
from models.explain import shap_values
from models.train import RiskModel, fit_risk_model

if TYPE_CHECKING:
    from pipelines.jobs import BacktestResult, TrainingData
    from pipelines.settings import Settings

# Aged balance buckets (days past due at as_of), as finance teams read them.
AGE_BUCKETS = ("not due", "1–30", "31–60", "61–90", ">90")
_AGE_EDGES = (-np.inf, 0, 30, 60, 90, np.inf)
# Bands of days late (settlement date − due date) of settled invoices.
DAYS_LATE_BANDS = ("early", "on the due date", "1–7", "8–30", "31–60", "61–90", ">90")
_DAYS_LATE_EDGES = (-np.inf, -1, 0, 7, 30, 60, 90, np.inf)
# Bands of payment terms (due date − issue date), in days.
TERMS_BANDS = ("≤ 30", "31–45", "46–60", "61–90", "> 90")
_TERMS_EDGES = (-np.inf, 30, 45, 60, 90, np.inf)
# Annual rate used to price delay: the French statutory late-payment rate, ECB main refinancing
# rate + 10 points (DOMAIN.md), about 12% a year.
DEFAULT_ANNUAL_RATE = 0.12
_EARLIEST = date(1900, 1, 1)


# ---------------------------------------------------------------- receivables (notebook 01)


def load_sample_if_empty(settings: Settings) -> bool:
    """Load the sample book (settings.sample_dir) into the warehouse when it holds no invoices,
    so a notebook runs on a fresh checkout; True when it loaded. `make demo` loads the same."""
    from pipelines import jobs  # MLflow and Prefect load only when needed
    from pipelines.warehouse import connect

    with connect(settings.warehouse_path) as con:
        [(invoices,)] = con.execute("select count(*) from staging.invoices").fetchall()
    if invoices:
        return False
    jobs.ingest(settings, [settings.sample_dir])
    return True


def month_starts(first: date, last: date) -> list[date]:
    """The first day of every month from the month after `first` up to `last` (inclusive): the
    dates of a monthly series (a balance as of the 1st = at the end of the previous month)."""
    current = (first.replace(day=1) + timedelta(days=32)).replace(day=1)
    dates = []
    while current <= last:
        dates.append(current)
        current = (current + timedelta(days=32)).replace(day=1)
    return dates


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
    """The aged balance at `as_of`: one row per bucket of AGE_BUCKETS (all five, in order), with
    invoices (count), open_amount and share (of the total open amount)."""
    frame = open_invoices_at(con, [as_of])
    table = (
        frame.groupby("age_bucket", observed=False)
        .agg(invoices=("invoice_id", "count"), open_amount=("open_amount", "sum"))
        .reindex(list(AGE_BUCKETS), fill_value=0)
    )
    table["open_amount"] = table["open_amount"].astype(float)
    total = table["open_amount"].sum()
    table["share"] = table["open_amount"] / total if total else np.nan
    return table.rename_axis("age_bucket").reset_index()


def dso_trend(
    con: duckdb.DuckDBPyConnection, dates: Iterable[date], days: int = 90
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
    con.register("dso_dates", pd.DataFrame({"as_of": pd.to_datetime(dates).date}))
    try:
        sales = (
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
    frame = pd.DataFrame({"receivables": receivables.astype(float)})
    frame.index = pd.to_datetime(frame.index)
    frame["sales"] = sales.reindex(frame.index).to_numpy()
    frame["dso"] = frame["receivables"] / frame["sales"].where(frame["sales"] > 0) * days
    return frame.rename_axis("as_of").reset_index()


def dso(con: duckdb.DuckDBPyConnection, as_of: date, days: int = 90) -> float:
    """Days sales outstanding at `as_of` over the last `days` days (see `dso_trend`)."""
    return float(dso_trend(con, [as_of], days)["dso"].iloc[0])


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
        """
        with

        invoices as (
            select invoice_id, customer_id, issue_date, due_date, amount::double as amount
            from staging.invoices
            where amount > 0 and issue_date < $as_of and due_date + $grace::integer < $as_of
        ),

        settled as (
            select invoice_id, settled_date
            from staging.invoice_settlements
            where settled_date < $as_of
        ),

        final as (
            select
                i.invoice_id,
                i.customer_id,
                c.segment,
                c.country,
                i.amount,
                i.issue_date,
                i.due_date,
                i.due_date - i.issue_date as terms_days,
                coalesce(d.opened_date < $as_of, false) as disputed,
                s.settled_date is not null as settled,
                s.settled_date,
                coalesce(s.settled_date, $as_of::date) - i.due_date as days_late
            from invoices as i
            left join settled as s using (invoice_id)
            left join staging.disputes as d using (invoice_id)
            left join staging.customers as c using (customer_id)
        )

        select * from final order by invoice_id
        """,
        {"as_of": as_of, "grace": grace_days},
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
    annual_rate: float = DEFAULT_ANNUAL_RATE,
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
        """
        with

        invoices as (
            select
                invoice_id,
                customer_id,
                amount::double as amount,
                greatest(due_date, $since::date) as counted_from
            from staging.invoices
            where amount > 0 and issue_date < $as_of and due_date < $as_of
        ),

        payments as (
            select invoice_id, payment_date, amount::double as amount
            from staging.payments
            where payment_date < $as_of
        ),

        per_invoice as (
            select
                i.invoice_id,
                i.customer_id,
                i.counted_from,
                any_value(i.amount) - coalesce(sum(p.amount), 0) as open_amount,
                coalesce(sum(p.amount * greatest(p.payment_date - i.counted_from, 0)), 0)
                    as paid_amount_days
            from invoices as i
            left join payments as p using (invoice_id)
            group by i.invoice_id, i.customer_id, i.counted_from
        ),

        cost as (
            select
                customer_id,
                paid_amount_days
                    + greatest(open_amount, 0) * greatest($as_of::date - counted_from, 0)
                    as amount_days_late,
                greatest(open_amount, 0) as overdue_amount
            from per_invoice
        ),

        final as (
            select
                customer_id,
                c.name,
                c.segment,
                count(*) filter (where amount_days_late > 0) as late_invoices,
                sum(amount_days_late)::double as amount_days_late,
                sum(overdue_amount)::double as overdue_amount
            from cost
            left join staging.customers as c using (customer_id)
            group by customer_id, c.name, c.segment
        )

        select * from final
        where amount_days_late > 0
        order by amount_days_late desc, customer_id
        limit $n
        """,
        {"as_of": as_of, "since": since or _EARLIEST, "n": n},
    ).df()
    frame["delay_cost"] = frame["amount_days_late"] * annual_rate / 365
    columns = ["customer_id", "name", "segment", "late_invoices", "amount_days_late"]
    return frame[[*columns, "delay_cost", "overdue_amount"]]


# ---------------------------------------------------------------- model quality (notebook 02)


def fit_model(train: pd.DataFrame, *, grace_days: int = 0, seed: int = 0) -> RiskModel:
    """Fit latepay's risk model on labelled snapshots (a `label_snapshots` result), every model
    feature among its columns, as the nightly training does."""
    features = model_feature_columns(train.drop(columns=[c for c in LABEL_COLUMNS if c in train]))
    return fit_risk_model(
        train, features, list(CATEGORICAL_FEATURES), grace_days=grace_days, seed=seed
    )


def backtest_table(per_cut: dict[str, dict], overall: dict) -> pd.DataFrame:
    """A backtest's metrics as one long table: one row per (cut, population, ranking), cut being
    the cut date (ISO) or "overall"; columns n, auc, pr_auc, brier, ece, capture_top10,
    capture_top20. Takes BacktestResult.per_cut and .overall."""
    rows = []
    for cut, blocks in [*per_cut.items(), ("overall", overall)]:
        for population in POPULATIONS:
            for ranking in BLOCKS:
                rows.append(
                    {"cut": cut, "population": population, "ranking": ranking}
                    | blocks[population][ranking]
                )
    return pd.DataFrame(rows)


def with_error_segments(predictions: pd.DataFrame, customers: pd.DataFrame) -> pd.DataFrame:
    """Backtest predictions with the columns error analysis groups by: segment and country (from
    `customers`), age_band (days since issue), overdue_bucket (AGE_BUCKETS of days past due) and
    amount_band (quartile of open amount)."""
    frame = predictions.merge(
        customers[["customer_id", "segment", "country"]], on="customer_id", how="left"
    )
    frame["age_band"] = pd.cut(
        frame["age_days"],
        [-np.inf, 30, 60, 90, 180, np.inf],
        labels=["0–30 days", "31–60 days", "61–90 days", "91–180 days", ">180 days"],
    )
    frame["overdue_bucket"] = age_buckets(frame["days_past_due"])
    quartile = pd.qcut(frame["open_amount"], 4, duplicates="drop")
    frame["amount_band"] = quartile.cat.rename_categories(
        [f"{q.left:,.0f}–{q.right:,.0f}" for q in quartile.cat.categories]
    )
    return frame


def error_by(
    predictions: pd.DataFrame,
    by: str,
    *,
    target: str = "p_late_30",
    label: str = "late_30",
) -> pd.DataFrame:
    """Where the model errs: per group of `by`, over snapshots whose label is known: snapshots,
    observed (share labelled 1), predicted (mean probability), gap (predicted − observed:
    > 0 over-estimates the risk), brier, and auc (NaN when the group has one class)."""
    known = predictions[predictions[label].notna()]

    def summary(group: pd.DataFrame) -> pd.Series:
        y, p = group[label].astype(float), group[target].astype(float)
        auc = roc_auc_score(y, p) if y.nunique() == 2 else np.nan
        return pd.Series(
            {
                "snapshots": len(group),
                "observed": y.mean(),
                "predicted": p.mean(),
                "gap": p.mean() - y.mean(),
                "brier": ((p - y) ** 2).mean(),
                "auc": auc,
            }
        )

    table = known.groupby(by, observed=True)[[label, target]].apply(summary)
    table["snapshots"] = table["snapshots"].astype(int)
    return table.reset_index()


def largest_misses(
    predictions: pd.DataFrame, n: int = 10, *, target: str = "p_late_30", label: str = "late_30"
) -> pd.DataFrame:
    """The `n` invoices the model most misjudged, money-wise: each invoice's snapshot with the
    largest |label − probability| × open amount (column weighted_miss), largest first."""
    known = predictions[predictions[label].notna()]
    miss = (known[label].astype(float) - known[target]).abs() * known["open_amount"]
    ranked = known.assign(weighted_miss=miss).sort_values(
        ["weighted_miss", "invoice_id"], ascending=[False, True]
    )
    return ranked.drop_duplicates("invoice_id").head(n)


def explain_invoice(
    model: RiskModel, row: pd.DataFrame, target: str = "p_late_30", k: int = 10
) -> pd.DataFrame:
    """The `k` features that move one invoice's score most: feature, value, shap (log-odds; > 0
    raises the risk) and the reason sentence a collector would read. `row`: one feature row."""
    values = shap_values(model, target, row).iloc[0]
    record = row.iloc[0].to_dict()
    top = values.reindex(values.abs().sort_values(ascending=False).index[:k])
    return pd.DataFrame(
        {
            "feature": top.index,
            "value": [record.get(f) for f in top.index],
            "shap": top.to_numpy(),
            "reason": [
                (reason_sentence(f, record) or "") if f in CATALOG else f for f in top.index
            ],
        }
    )


# ---------------------------------------------------------------- feature lab (notebook 03)


def candidate_feature(
    con: duckdb.DuckDBPyConnection,
    sql: str,
    dates: Iterable[date],
    params: dict[str, object] | None = None,
) -> pd.DataFrame:
    """Run a candidate feature's SQL at each date. The SQL reads the dates from a table
    `as_of_dates(as_of)`, as features/sql does, and returns one row per (customer_id, as_of) or
    (invoice_id, as_of) with the new column(s); it must use only facts dated before as_of."""
    dates_frame = pd.DataFrame({"as_of": pd.to_datetime(sorted(set(dates))).date})
    con.register("as_of_dates", dates_frame)
    try:
        frame = con.execute(sql, params).df()
    finally:
        con.unregister("as_of_dates")
    frame["as_of"] = pd.to_datetime(frame["as_of"])
    return frame


def add_feature(features: pd.DataFrame, candidate: pd.DataFrame) -> pd.DataFrame:
    """Feature snapshots with a candidate's columns joined on its keys (those of invoice_id,
    customer_id, as_of it has); rows keep their order and index; a missing match is NaN."""
    keys = [k for k in KEY_COLUMNS if k in candidate.columns]
    new = [c for c in candidate.columns if c not in keys]
    clash = [c for c in new if c in features.columns]
    if "as_of" not in keys or not new or clash:
        raise ValueError(
            f"a candidate needs as_of, a key and new columns; keys {keys}, new {new}, "
            f"already features: {clash}"
        )
    right = candidate.assign(
        as_of=pd.to_datetime(candidate["as_of"]).astype(features["as_of"].dtype)
    )
    merged = features.merge(right, on=keys, how="left", validate="m:1")
    merged.index = features.index
    return merged


def with_features(data: TrainingData, features: pd.DataFrame) -> TrainingData:
    """A copy of a jobs.TrainingData holding other feature snapshots."""
    return dataclasses.replace(data, features=features)


def compare_backtests(results: dict[str, BacktestResult]) -> pd.DataFrame:
    """The model's overall backtest metrics side by side: one row per (population, metric), one
    column per named BacktestResult, and `change` (last − first)."""
    columns = {}
    for name, result in results.items():
        table = backtest_table({}, result.overall)
        table = table[table["ranking"] == "model"].drop(columns=["cut", "ranking"])
        columns[name] = table.melt(id_vars="population", var_name="metric").set_index(
            ["population", "metric"]
        )["value"]
    frame = pd.DataFrame(columns)
    names = list(results)
    frame["change"] = frame[names[-1]] - frame[names[0]]
    return frame.drop(index="n", level="metric").reset_index()


def signal_by_quantile(
    frame: pd.DataFrame, column: str, label: str = "late_30", q: int = 10
) -> pd.DataFrame:
    """Share labelled 1 per quantile band of `column` (missing values as their own band), over
    rows with a known label: is there a signal before the model sees it?"""
    known = frame[frame[label].notna()]
    bands = pd.qcut(known[column], q, duplicates="drop").astype(str)
    bands = bands.where(known[column].notna(), "missing")
    return (
        known.groupby(bands, sort=False)
        .agg(
            low=(column, "min"),
            snapshots=(label, "size"),
            observed=(label, "mean"),
        )
        .sort_values("low", na_position="last")
        .rename_axis("band")
        .reset_index()
    )


# ---------------------------------------------------------------- figures


def aged_balance_figure(over_time: pd.DataFrame) -> Figure:
    """Stacked areas of open amount by age bucket over time (an aged_balance_over_time result)."""
    fig = Figure(figsize=(9, 4.5))
    ax = fig.subplots()
    x = pd.to_datetime(over_time.index)
    colors = ["#4c9f70", "#f2c14e", "#f78154", "#d1495b", "#6b2737"]
    ax.stackplot(x, *(over_time[b] for b in AGE_BUCKETS), labels=list(AGE_BUCKETS), colors=colors)
    ax.set(title="Aged balance over time", ylabel="open amount")
    ax.legend(loc="upper left", title="days past due")
    fig.tight_layout()
    return fig


def bar_figure(
    frame: pd.DataFrame, x: str, y: str, *, title: str, ylabel: str | None = None
) -> Figure:
    """One bar per row of `frame`: `x` as labels, `y` as heights."""
    fig = Figure(figsize=(8, 4))
    ax = fig.subplots()
    ax.bar(frame[x].astype(str), frame[y].to_numpy(dtype=float), color="#3b6ea5")
    ax.set(title=title, ylabel=ylabel or y)
    ax.tick_params(axis="x", labelrotation=30)
    fig.tight_layout()
    return fig


def line_figure(frame: pd.DataFrame, x: str, y: str, *, title: str, ylabel: str) -> Figure:
    """One line of `y` against `x`."""
    fig = Figure(figsize=(9, 4))
    ax = fig.subplots()
    ax.plot(frame[x], frame[y], marker="o", color="#3b6ea5")
    ax.set(title=title, ylabel=ylabel)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def days_late_figure(lateness: pd.DataFrame, clip: int = 120) -> Figure:
    """Histogram of days late (settlement − due date) of settled invoices, clipped to ±`clip`
    days; late payments to the right of the dashed line."""
    settled = lateness.loc[lateness["settled"], "days_late"].clip(-clip, clip)
    fig = Figure(figsize=(9, 4))
    ax = fig.subplots()
    ax.hist(settled, bins=range(-clip, clip + 5, 5), color="#3b6ea5")
    ax.axvline(0.5, ls="--", color="grey")
    ax.set(
        title=f"Days late of {len(settled):,} settled invoices (clipped at ±{clip})",
        xlabel="settlement date − due date (days)",
        ylabel="invoices",
    )
    fig.tight_layout()
    return fig


def backtest_figure(table: pd.DataFrame, metric: str = "auc") -> Figure:
    """One panel per population: `metric` of each ranking at each cut (a backtest_table)."""
    populations = list(POPULATIONS)
    fig = Figure(figsize=(4 * len(populations), 4))
    axes = fig.subplots(1, len(populations), sharey=True)
    for ax, population in zip(axes, populations, strict=True):
        wide = table[table["population"] == population].pivot(
            index="cut", columns="ranking", values=metric
        )[list(BLOCKS)]
        positions = np.arange(len(wide))
        for i, ranking in enumerate(BLOCKS):
            ax.bar(positions + (i - 1) * 0.27, wide[ranking], width=0.27, label=ranking)
        ax.set_xticks(positions, wide.index, rotation=20)
        ax.set(title=POPULATIONS[population], ylabel=metric)
    axes[0].legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    return fig


def shap_dependence_figure(
    model: RiskModel,
    frame: pd.DataFrame,
    features: Sequence[str],
    target: str = "p_late_30",
    rows: int = 2000,
    seed: int = 0,
) -> Figure:
    """SHAP dependence: each feature's value against its contribution (log-odds) on a sample
    of rows, one panel per feature; categorical features by level."""
    sample = frame.sample(min(rows, len(frame)), random_state=seed)
    values = shap_values(model, target, sample)
    fig = Figure(figsize=(4.2 * len(features), 3.8))
    axes = np.atleast_1d(fig.subplots(1, len(features)))
    for ax, feature in zip(axes, features, strict=True):
        x = sample[feature]
        if feature in model.categories:
            codes = pd.Categorical(x.astype("object"), categories=model.categories[feature])
            ax.scatter(codes.codes, values[feature], s=4, alpha=0.3)
            ax.set_xticks(range(len(codes.categories)), codes.categories, rotation=30)
        else:
            ax.scatter(x, values[feature], s=4, alpha=0.3)
        ax.axhline(0, color="grey", lw=0.5)
        ax.set(xlabel=feature, ylabel="SHAP (log-odds)")
    fig.suptitle(f"SHAP dependence ({target})")
    fig.tight_layout()
    return fig


def contributions_figure(explained: pd.DataFrame, title: str) -> Figure:
    """Horizontal bars of an explain_invoice result: red raises the risk, blue lowers it."""
    frame = explained.iloc[::-1]
    fig = Figure(figsize=(8, 0.4 * len(frame) + 1.2))
    ax = fig.subplots()
    colors = ["#d1495b" if v > 0 else "#3b6ea5" for v in frame["shap"]]
    ax.barh(frame["feature"], frame["shap"], color=colors)
    ax.axvline(0, color="grey", lw=0.5)
    ax.set(title=title, xlabel="SHAP contribution (log-odds)")
    fig.tight_layout()
    return fig


def error_figure(tables: dict[str, pd.DataFrame]) -> Figure:
    """Observed against predicted share per group, one panel per `error_by` table (keyed by the
    column it groups by): where the bars differ, the model is miscalibrated for that group."""
    fig = Figure(figsize=(4.5 * len(tables), 4))
    axes = np.atleast_1d(fig.subplots(1, len(tables), sharey=True))
    for ax, (by, table) in zip(axes, tables.items(), strict=True):
        positions = np.arange(len(table))
        ax.bar(positions - 0.2, table["observed"], width=0.4, label="observed")
        ax.bar(positions + 0.2, table["predicted"], width=0.4, label="predicted")
        ax.set_xticks(positions, table[by].astype(str), rotation=30)
        ax.set(title=by, ylabel="share late")
    axes[0].legend()
    fig.tight_layout()
    return fig


def comparison_figure(
    comparison: pd.DataFrame, metrics: Sequence[str] = ("auc", "brier")
) -> Figure:
    """The change of each metric (a compare_backtests result), one panel per metric, one bar per
    population. AUC: higher is better; Brier and ECE: lower is better."""
    fig = Figure(figsize=(4.5 * len(metrics), 3.8))
    axes = np.atleast_1d(fig.subplots(1, len(metrics)))
    for ax, metric in zip(axes, metrics, strict=True):
        rows = comparison[comparison["metric"] == metric]
        colors = [
            "#4c9f70" if (v > 0) == (metric.startswith(("auc", "pr_auc", "capture"))) else "#d1495b"
            for v in rows["change"]
        ]
        ax.bar(rows["population"], rows["change"], color=colors)
        ax.axhline(0, color="grey", lw=0.5)
        ax.set(title=f"change of {metric}", ylabel=metric)
        ax.tick_params(axis="x", labelrotation=20)
    fig.tight_layout()
    return fig
