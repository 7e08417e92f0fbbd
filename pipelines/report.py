"""The managers' report: one self-contained HTML file (inline CSS and SVG charts, no external
asset, no script) with the top of the worklist, the aged balance, DSO, the expected cash-in by
week from the predicted payment dates, and the model's version and backtest quality.

`context` gathers the figures (from the night's scored invoices, plus one sales query for DSO);
`render` fills the Jinja2 template with autoescaping on, so text from the data cannot become HTML.
"""

from __future__ import annotations

import io
from datetime import date, datetime
from importlib import resources

import duckdb
import jinja2
import markupsafe
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from pipelines.analysis import AGE_BUCKETS, age_buckets, bar_figure, line_figure

TOP_ROWS = 25
CASH_IN_WEEKS = 12
DSO_DAYS = 90
# (population, label) and (block, label) of the backtest metrics logged with the champion.
POPULATIONS = (
    ("late_30", "still unpaid 30 days after due"),
    ("late", "paid after the due date"),
    ("late_age_1", "paid late, scored the day after issue"),
)
BLOCKS = (
    ("model", "model"),
    ("baseline_aging", "aging list (most overdue first)"),
    ("baseline_prior_late_rate", "customer's prior late rate"),
)
METRICS = (("auc", "AUC"), ("capture_top20", "late amount in top 20%"), ("brier", "Brier"))


def svg(fig: Figure) -> str:
    """A matplotlib figure as inline SVG markup (no XML prologue)."""
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight")
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def aged_balance(invoices: pd.DataFrame) -> pd.DataFrame:
    """Open amount and invoices by age bucket (not due, 1–30, 31–60, 61–90, > 90 days past due)."""
    buckets = age_buckets(invoices["days_past_due"])
    table = (
        invoices.assign(age_bucket=buckets)
        .groupby("age_bucket", observed=False)
        .agg(invoices=("invoice_id", "count"), open_amount=("open_amount", "sum"))
        .reindex(list(AGE_BUCKETS), fill_value=0)
    )
    total = table["open_amount"].sum()
    table["share"] = table["open_amount"] / total if total else np.nan
    return table.rename_axis("age_bucket").reset_index()


def cash_in_by_week(
    invoices: pd.DataFrame, as_of: date, weeks: int = CASH_IN_WEEKS
) -> pd.DataFrame:
    """Open amount expected in by week (weeks start on Monday) from each invoice's predicted
    payment date (P50), and the optimistic (P10) and cautious (P90) variants; later dates are
    summed into a last row "later"."""
    start = pd.Timestamp(as_of) - pd.Timedelta(days=pd.Timestamp(as_of).weekday())
    edges = [start + pd.Timedelta(weeks=i) for i in range(weeks + 1)]
    labels = [f"{e:%Y-%m-%d}" for e in edges[:-1]]
    out = pd.DataFrame({"week": [*labels, "later"]})
    for column, name in (
        ("predicted_payment_date", "expected"),
        ("payment_date_p10", "optimistic"),
        ("payment_date_p90", "cautious"),
    ):
        index = np.searchsorted(
            np.array(edges[1:], dtype="datetime64[ns]"),
            invoices[column].to_numpy(dtype="datetime64[ns]"),
            side="right",
        )
        sums = pd.Series(invoices["open_amount"].to_numpy()).groupby(index).sum()
        out[name] = sums.reindex(range(weeks + 1), fill_value=0.0).to_numpy()
    return out


def dso_now(con: duckdb.DuckDBPyConnection, as_of: date, receivables: float) -> dict:
    """Days sales outstanding at as_of: receivables (the open amount of the scored invoices) /
    sales of the DSO_DAYS days before as_of × DSO_DAYS (credit notes left out of both, as in
    pipelines.analysis.dso_trend). dso is None without sales."""
    [(sales,)] = con.execute(
        """
        select coalesce(sum(amount), 0)::double from staging.invoices
        where amount > 0 and issue_date < $as_of and issue_date >= $as_of - $days::integer
        """,
        {"as_of": as_of, "days": DSO_DAYS},
    ).fetchall()
    dso = receivables / sales * DSO_DAYS if sales > 0 else None
    return {"as_of": as_of, "receivables": receivables, "sales": sales, "dso": dso}


def model_quality(champion: tuple[dict, dict] | None) -> dict:
    """The champion's backtest metrics as a table: rows population × block, columns METRICS."""
    if champion is None:
        return {"rows": [], "params": {}}
    params, metrics = champion
    rows = []
    for population, population_label in POPULATIONS:
        for block, block_label in BLOCKS:
            values = [metrics.get(f"backtest_{population}_{block}_{m}") for m, _ in METRICS]
            if any(v is not None for v in values):
                rows.append(
                    {"population": population_label, "block": block_label, "values": values}
                )
    keep = ("trained_at", "train_rows", "data_end", "backtest_cuts")
    return {"rows": rows, "params": {k: v for k, v in params.items() if k in keep}}


def context(
    con: duckdb.DuckDBPyConnection,
    as_of: date,
    invoices: pd.DataFrame,
    published: pd.DataFrame,
    *,
    model_version: str,
    champion: tuple[dict, dict] | None,
    capacity: int,
    dso_history: pd.DataFrame | None = None,
) -> dict:
    """Everything the report shows, computed from the night's scored invoices. `dso_history`:
    as_of, dso of earlier published dates (scoring.runs), drawn with today's DSO."""
    aged = aged_balance(invoices)
    cash = cash_in_by_week(invoices, as_of)
    dso = dso_now(con, as_of, float(invoices["open_amount"].sum()))
    today = pd.DataFrame([{"as_of": as_of, "dso": dso["dso"]}])
    history = [] if dso_history is None or dso_history.empty else [dso_history]
    trend = pd.concat([*history, today]).dropna(subset=["dso"])
    charts = {
        "aged": bar_figure(
            aged, "age_bucket", "open_amount", title="Aged balance", ylabel="open amount"
        ),
        "cash": _cash_figure(cash),
    }
    if len(trend) >= 2:
        charts["dso"] = line_figure(
            trend.assign(as_of=pd.to_datetime(trend["as_of"])),
            "as_of",
            "dso",
            title=f"DSO ({DSO_DAYS}-day sales) at each published date",
            ylabel="days",
        )
    top = published.head(TOP_ROWS)
    return {
        "as_of": as_of,
        "generated_at": f"{datetime.now():%Y-%m-%d %H:%M}",
        "model_version": model_version,
        "invoices_scored": len(invoices),
        "customers_open": invoices["customer_id"].nunique(),
        "customers_listed": len(published),
        "collectors": published["collector"].nunique(),
        "capacity": capacity,
        "open_amount": float(invoices["open_amount"].sum()),
        "overdue_amount": float(invoices.loc[invoices["days_past_due"] > 0, "open_amount"].sum()),
        "at_risk": float(invoices["at_risk"].sum()),
        "late_interest": float(invoices["late_interest"].sum()),
        "recovery_fees": float(invoices["recovery_fee"].sum()),
        "dso": dso,
        "top": top.to_dict("records"),
        "aged": aged.to_dict("records"),
        "cash": cash.to_dict("records"),
        "quality": model_quality(champion),
        "metric_names": [label for _, label in METRICS],
        "charts": {name: svg(fig) for name, fig in charts.items()},
    }


def _cash_figure(cash: pd.DataFrame) -> Figure:
    fig = Figure(figsize=(9, 4))
    ax = fig.subplots()
    x = np.arange(len(cash))
    ax.bar(x, cash["expected"], color="#3b6ea5", label="expected (P50 date)")
    ax.plot(x, cash["optimistic"], "o--", color="#4c9f70", label="optimistic (P10 date)")
    ax.plot(x, cash["cautious"], "o--", color="#d1495b", label="cautious (P90 date)")
    ax.set_xticks(x, cash["week"], rotation=45, ha="right")
    ax.set(title="Expected cash-in by week", ylabel="open amount")
    ax.legend()
    fig.tight_layout()
    return fig


def _money(value: object) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "–"
    return f"{float(value):,.2f}".replace(",", "\u202f")


def _day(value: object) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "–"
    return f"{pd.Timestamp(value):%Y-%m-%d}"


def _percent(value: object) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "–"
    return f"{float(value):.0%}"


def _number(value: object, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "–"
    return f"{float(value):.{digits}f}"


def render(values: dict) -> str:
    """The report as one HTML document."""
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    env.filters.update(money=_money, day=_day, percent=_percent, number=_number)
    template = (
        resources.files("pipelines")
        .joinpath("templates", "report.html.j2")
        .read_text(encoding="utf-8")
    )
    charts = {k: markupsafe.Markup(v) for k, v in values["charts"].items()}
    return env.from_string(template).render(**{**values, "charts": charts})
