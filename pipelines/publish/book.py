"""The figures of the managers' report, per currency (never added across currencies): pure
functions over one night's planned invoices (models.worklist.plan_invoices, with `currency` and
the customer's `collector`).

- `book_figures`: open, overdue, at risk, disputed, promised, at the agency;
- `aged_by_collector`: the aged balance of each collector's customers, their unapplied credit
  (credit notes and payments on account not yet applied, features/receivables.py
  `unapplied_credit`) netted in the total;
- `with_credit`: the worklist's rows with the customer's unapplied credit and what it owes net;
- `disputes`, `promises`, `agency`: totals and the invoices behind them;
- `cash_in`: the cash expected per week, Σ open amount × P(paid that week), from each invoice's
  predicted payment-date quantiles (P10, P50, P90) read as a distribution (`payment_cdf`).

No I/O, no clock: the as-of date is an argument.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.receivables import AGE_BUCKETS, age_buckets
from models.labels import DAYS_TO_PAY_HORIZON
from models.worklist import DEFAULT_CURRENCY, UNASSIGNED
from pipelines.publish.locale import currency_code

# The headline figures, in the order the report shows them.
FIGURES = (
    "open_amount",
    "overdue_amount",
    "at_risk",
    "disputed_amount",
    "promised_amount",
    "agency_amount",
)
CASH_IN_WEEKS = 12
# Promises: due in the next PROMISE_DAYS days (today included); broken in the last PROMISE_DAYS
# days, as the worklist calls for a call on a promise broken in the last 7 days.
PROMISE_DAYS = 7
LISTED = 5  # invoices listed under the disputes, the promises and the agency, per currency
# The worklist's columns of a customer's unapplied credit (credit notes and payments on account
# not yet applied, positive) and of its open amount net of it, after customer_open_amount.
CREDIT_COLUMNS = ("customer_credit_amount", "customer_net_open_amount")


def with_currency(invoices: pd.DataFrame) -> pd.DataFrame:
    """The invoices with a `currency` on every row (DEFAULT_CURRENCY when unknown)."""
    values = invoices["currency"] if "currency" in invoices else pd.Series(None, invoices.index)
    # each distinct value's code once (a map of 820,000 Arrow strings took a fifth of a second)
    positions, distinct = pd.factorize(values, use_na_sentinel=False)
    codes = [currency_code(v) for v in distinct]
    return invoices.assign(currency=np.asarray(codes, dtype=object)[positions])


def book_figures(invoices: pd.DataFrame) -> pd.DataFrame:
    """One row per currency (index), columns FIGURES plus open_invoices, customers,
    disputed_invoices, promised_invoices, agency_invoices. At risk leaves out the invoices at the
    agency (their amount at risk is 0 in the plan); promised: a pending promise to pay."""
    frame = with_currency(invoices)
    flags = {
        "overdue": frame["days_past_due"] > 0,
        "disputed": frame["is_disputed"].astype(bool),
        "promised": frame["promise_status"].eq("pending"),
        "agency": frame["with_agency"].astype(bool),
    }
    frame = frame.assign(
        **{f"{name}_amount": frame["open_amount"].where(flag, 0.0) for name, flag in flags.items()},
        **{f"{name}_invoices": flag.astype(int) for name, flag in flags.items()},
    )
    figures = frame.groupby("currency").agg(
        open_amount=("open_amount", "sum"),
        open_invoices=("invoice_id", "count"),
        customers=("customer_id", "nunique"),
        overdue_amount=("overdue_amount", "sum"),
        at_risk=("at_risk", "sum"),
        disputed_amount=("disputed_amount", "sum"),
        disputed_invoices=("disputed_invoices", "sum"),
        promised_amount=("promised_amount", "sum"),
        promised_invoices=("promised_invoices", "sum"),
        agency_amount=("agency_amount", "sum"),
        agency_invoices=("agency_invoices", "sum"),
    )
    return figures.astype({c: float for c in FIGURES})


def aged_by_collector(invoices: pd.DataFrame, credits: pd.DataFrame | None = None) -> pd.DataFrame:
    """The aged balance per (currency, collector): one column per bucket of AGE_BUCKETS, open
    (their sum), credit (the unapplied credit of the collector's customers, as a negative
    amount: finance's "unapplied credit" line), total (open + credit: what they owe net) and
    overdue (open past due); each currency's collectors by total, largest first, then its row
    "all collectors" (`collector` None). `credits`: unapplied_credit with the customer's
    `collector` (none: no credit)."""
    frame = with_currency(invoices).assign(
        age_bucket=lambda f: age_buckets(f["days_past_due"]),
        collector=lambda f: _collectors(f["collector"]),
    )
    table = frame.pivot_table(
        index=["currency", "collector"],
        columns="age_bucket",
        values="open_amount",
        aggfunc="sum",
        observed=False,
        fill_value=0.0,
    ).reindex(columns=list(AGE_BUCKETS), fill_value=0.0)
    table.columns = list(AGE_BUCKETS)
    table = table.astype(float)
    if credits is not None and len(credits):
        credit = with_currency(credits).assign(collector=lambda f: _collectors(f["collector"]))
        credit = -credit.groupby(["currency", "collector"])["open_credit"].sum().astype(float)
        table = table.join(credit.rename("credit"), how="outer").fillna(0.0)
    else:
        table = table.assign(credit=0.0)
    table = table.reset_index()
    parts = []
    amounts = [*AGE_BUCKETS, "open", "credit", "total"]
    for currency, rows in table.groupby("currency", sort=True):
        rows = rows.assign(open=rows[list(AGE_BUCKETS)].sum(axis=1))
        rows = rows.assign(total=rows["open"] + rows["credit"])
        rows = rows.sort_values(["total", "collector"], ascending=[False, True])
        total = rows[amounts].sum().to_frame().T.assign(currency=currency)
        parts += [rows, total.assign(collector=None)]
    out = pd.concat(parts, ignore_index=True) if parts else table.assign(open=0.0, total=0.0)
    out["overdue"] = out["open"] - out[AGE_BUCKETS[0]]
    return out[["currency", "collector", *amounts, "overdue"]]


def _collectors(values: pd.Series) -> pd.Series:
    return values.fillna(UNASSIGNED).replace("", UNASSIGNED)


def customer_credit(credits: pd.DataFrame) -> pd.DataFrame:
    """Unapplied credit per customer and currency (the worklist's: missing is
    DEFAULT_CURRENCY): customer_id, currency, customer_credit_amount (> 0)."""
    frame = credits.assign(currency=credits["currency"].fillna(DEFAULT_CURRENCY))
    return (
        frame.groupby(["customer_id", "currency"], as_index=False)["open_credit"]
        .sum()
        .rename(columns={"open_credit": CREDIT_COLUMNS[0]})
    )


def with_credit(worklist: pd.DataFrame, credits: pd.DataFrame) -> pd.DataFrame:
    """The worklist's rows with CREDIT_COLUMNS after customer_open_amount: the customer's
    unapplied credit in the row's currency (0 when none; `credits`: unapplied_credit) and its
    open amount net of it (negative: the customer is in credit). The row's own amounts (its
    action's invoices) stay gross: a credit note is applied to no invoice in particular."""
    credit, net = CREDIT_COLUMNS
    rows = worklist.drop(columns=[c for c in CREDIT_COLUMNS if c in worklist])
    found = customer_credit(credits)
    # (a lookup by key, not a merge: the rows keep their order and index)
    key = pd.MultiIndex.from_frame(rows[["customer_id", "currency"]].astype(object))
    amounts = found.set_index(["customer_id", "currency"])[credit].reindex(key)
    rows[credit] = amounts.fillna(0.0).to_numpy(float)
    rows[net] = rows["customer_open_amount"] - rows[credit]
    columns = list(rows.columns.drop(list(CREDIT_COLUMNS)))
    at = columns.index("customer_open_amount") + 1
    return rows[[*columns[:at], *CREDIT_COLUMNS, *columns[at:]]]


def _summary(frame: pd.DataFrame, rows: pd.Series) -> pd.DataFrame:
    """Amount, invoices and customers of `frame`'s rows where `rows`, per currency."""
    chosen = frame[rows]
    return chosen.groupby("currency").agg(
        amount=("open_amount", "sum"),
        invoices=("invoice_id", "count"),
        customers=("customer_id", "nunique"),
    )


def disputes(invoices: pd.DataFrame, as_of: pd.Timestamp) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per currency: amount, invoices, customers, oldest_days; the LISTED oldest disputed
    invoices per currency: currency, customer_id, name, invoice_id, open_amount,
    dispute_opened_date, days_open). `dispute_opened_date` may be missing (days unknown)."""
    frame = with_currency(invoices)
    if "dispute_opened_date" not in frame:
        frame = frame.assign(dispute_opened_date=pd.NaT)
    frame = frame.assign(
        days_open=(pd.Timestamp(as_of) - pd.to_datetime(frame["dispute_opened_date"])).dt.days
    )
    disputed = frame["is_disputed"].astype(bool)
    summary = _summary(frame, disputed)
    summary["oldest_days"] = frame[disputed].groupby("currency")["days_open"].max()
    oldest = frame[disputed].sort_values(
        ["currency", "days_open", "open_amount", "invoice_id"],
        ascending=[True, False, False, True],
        na_position="last",
    )
    columns = ["currency", "customer_id", "name", "invoice_id", "open_amount"]
    listed = oldest.groupby("currency").head(LISTED)
    return summary, listed[[*columns, "dispute_opened_date", "days_open"]]


def promises(invoices: pd.DataFrame, as_of: pd.Timestamp) -> dict[str, pd.DataFrame]:
    """Promises to pay: "due" (the latest promise of an open invoice falls in the next
    PROMISE_DAYS days, today included), "broken" (it fell in the last PROMISE_DAYS days and the
    invoice is still open) and "later" (pending beyond); each per currency (amount, invoices,
    customers), and "broken_invoices", the largest LISTED broken per currency."""
    frame = with_currency(invoices)
    promised = pd.to_datetime(frame.get("promised_date", pd.Series(pd.NaT, frame.index)))
    as_of = pd.Timestamp(as_of)
    week = pd.Timedelta(days=PROMISE_DAYS)
    due = (promised >= as_of) & (promised < as_of + week)
    broken = (promised < as_of) & (promised >= as_of - week)
    later = promised >= as_of + week
    listed = frame[broken].assign(promised_date=promised[broken])
    listed = listed.sort_values(["currency", "open_amount"], ascending=[True, False])
    return {
        "due": _summary(frame, due),
        "broken": _summary(frame, broken),
        "later": _summary(frame, later),
        "broken_invoices": listed.groupby("currency").head(LISTED)[
            ["currency", "customer_id", "name", "invoice_id", "open_amount", "promised_date"]
        ],
    }


def agency(invoices: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per currency: amount, invoices, customers handed over to an agency in the ledger; the
    LISTED customers with most at the agency per currency: currency, customer_id, name,
    invoices, open_amount)."""
    frame = with_currency(invoices)
    at_agency = frame["with_agency"].astype(bool)
    customers = (
        frame[at_agency]
        .groupby(["currency", "customer_id"], as_index=False)
        .agg(
            name=("name", "first"),
            invoices=("invoice_id", "count"),
            open_amount=("open_amount", "sum"),
        )
        .sort_values(["currency", "open_amount", "customer_id"], ascending=[True, False, True])
    )
    return _summary(frame, at_agency), customers.groupby("currency").head(LISTED)


def payment_cdf(quantiles: np.ndarray, days: np.ndarray) -> np.ndarray:
    """P(paid before day d) for each invoice (rows) and each day of `days` (columns), days
    counted from the as-of date (0 = the as-of date itself).

    Each invoice's distribution is read from its predicted quantiles (P10, P50, P90 of the days
    to pay): linear between (0, 0), (P10, 0.1), (P50, 0.5), (P90, 0.9) and (DAYS_TO_PAY_HORIZON,
    1), the model's horizon (days to pay are capped there in training, so a P90 at the cap means
    at least 10% is not expected within it). Quantiles are sorted (crossed quantiles happen) and
    clipped to [0, horizon]; a missing quantile puts everything beyond the horizon. "Before"
    (strictly): a quantile equal to 0 puts its mass on day 0, in the week that contains it.
    """
    q = np.clip(np.sort(np.asarray(quantiles, dtype=float), axis=1), 0, DAYS_TO_PAY_HORIZON)
    unknown = np.isnan(q).any(axis=1)
    q = np.where(unknown[:, None], DAYS_TO_PAY_HORIZON, q)
    knots = np.column_stack([np.zeros(len(q)), q, np.full(len(q), float(DAYS_TO_PAY_HORIZON))])
    levels = np.array([0.0, 0.1, 0.5, 0.9, 1.0])
    d = np.asarray(days, dtype=float)[None, :]
    cdf = np.zeros((len(q), d.shape[1]))
    for k in range(len(levels) - 1):
        start, end = knots[:, k : k + 1], knots[:, k + 1 : k + 2]
        width = end - start
        ramp = np.clip((d - start) / np.where(width > 0, width, 1.0), 0.0, 1.0)
        step = (d > end).astype(float)  # a segment of no width: a step, counted once passed
        cdf += (levels[k + 1] - levels[k]) * np.where(width > 0, ramp, step)
    cdf[unknown] = 0.0
    return cdf


def cash_in(
    invoices: pd.DataFrame, as_of: pd.Timestamp, weeks: int = CASH_IN_WEEKS
) -> pd.DataFrame:
    """Cash expected per week and currency: Σ open amount × P(paid that week).

    Rows: per currency, the current week (from the as-of date to Sunday), then `weeks` − 1
    weeks starting on Mondays, then "later" (not expected within them: paid later, or beyond
    the model's horizon, or never). Columns: currency, week (its Monday; NaT for "later"),
    expected (invoices being worked), disputed, agency (invoices in dispute, and handed over to
    an agency, shown apart). Each column adds up to the open amount of its invoices."""
    frame = with_currency(invoices)
    as_of = pd.Timestamp(as_of)
    first = 7 - as_of.weekday()  # days from the as-of date to the next Monday
    edges = np.array([0, *(first + 7 * k for k in range(weeks))], dtype=float)
    quantiles = frame[["days_to_pay_p10", "days_to_pay_p50", "days_to_pay_p90"]].to_numpy(float)
    cdf = payment_cdf(quantiles, edges)
    shares = np.column_stack([np.diff(cdf, axis=1), 1.0 - cdf[:, -1]])
    amounts = shares * frame["open_amount"].to_numpy(float)[:, None]
    agency_rows = frame["with_agency"].astype(bool).to_numpy()
    disputed_rows = frame["is_disputed"].astype(bool).to_numpy() & ~agency_rows
    kind = np.where(agency_rows, "agency", np.where(disputed_rows, "disputed", "expected"))
    monday = as_of - pd.Timedelta(days=as_of.weekday())
    labels = [monday + pd.Timedelta(weeks=k) for k in range(weeks)] + [pd.NaT]
    long = pd.DataFrame(amounts, columns=range(weeks + 1)).assign(
        currency=frame["currency"].to_numpy(), kind=kind
    )
    table = long.groupby(["currency", "kind"]).sum().stack().unstack("kind", fill_value=0.0)
    table = table.reindex(columns=["expected", "disputed", "agency"], fill_value=0.0)
    table = table.rename_axis(index=["currency", "row"], columns=None).reset_index()
    table["week"] = [labels[i] for i in table["row"]]
    return table[["currency", "week", "expected", "disputed", "agency"]]
