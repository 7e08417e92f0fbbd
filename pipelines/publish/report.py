"""The managers' report: one self-contained HTML file (inline CSS and SVG charts, no external
asset, no script) with the top of the worklist, the aged balance, DSO, the expected cash-in by
week from the predicted payment dates, and the model's version and backtest quality.

`context` gathers the figures (from the night's scored invoices, plus one sales query for DSO);
`render` fills the Jinja2 template with autoescaping on, so text from the data cannot become HTML.
"""

from __future__ import annotations

from datetime import date, datetime
from importlib import resources

import duckdb
import jinja2
import markupsafe
import numpy as np
import pandas as pd

from features.receivables import DSO_DAYS, aged_balance_of, dso_of
from models.evaluate import POPULATIONS
from pipelines.publish.figures import bar_figure, cash_in_figure, line_figure, svg

TOP_ROWS = 25
CASH_IN_WEEKS = 12
# The backtest's populations (models.evaluate.POPULATIONS) in a manager's words.
POPULATION_LABELS = {
    "late_30": "still unpaid 30 days after due",
    "late": "paid after the due date",
    "late_age_1": "paid late, scored the day after issue",
}
BLOCKS = (
    ("model", "model"),
    ("baseline_aging", "aging list (most overdue first)"),
    ("baseline_prior_late_rate", "customer's prior late rate"),
)
# Parameters of the champion's training run shown beside its version (logged by
# pipelines.jobs.train; a test checks that training logs each of them).
REPORTED_PARAMS = ("data_end", "training_rows", "backtest_cuts")
METRICS = (("auc", "AUC"), ("capture_top20", "late amount in top 20%"), ("brier", "Brier"))


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


def model_quality(champion: tuple[dict, dict] | None) -> dict:
    """The champion's backtest metrics as a table: rows population × block, columns METRICS."""
    if champion is None:
        return {"rows": [], "params": {}}
    params, metrics = champion
    rows = []
    for population in POPULATIONS:
        population_label = POPULATION_LABELS[population]
        for block, block_label in BLOCKS:
            values = [metrics.get(f"backtest_{population}_{block}_{m}") for m, _ in METRICS]
            if any(v is not None for v in values):
                rows.append(
                    {"population": population_label, "block": block_label, "values": values}
                )
    return {"rows": rows, "params": {k: v for k, v in params.items() if k in REPORTED_PARAMS}}


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
    aged = aged_balance_of(invoices)
    cash = cash_in_by_week(invoices, as_of)
    dso = dso_of(con, as_of, float(invoices["open_amount"].sum()))
    today = pd.DataFrame([{"as_of": as_of, "dso": dso["dso"]}])
    history = [] if dso_history is None or dso_history.empty else [dso_history]
    trend = pd.concat([*history, today]).dropna(subset=["dso"])
    charts = {
        "aged": bar_figure(
            aged, "age_bucket", "open_amount", title="Aged balance", ylabel="open amount"
        ),
        "cash": cash_in_figure(cash),
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
        resources.files("pipelines.publish")
        .joinpath("templates", "report.html.j2")
        .read_text(encoding="utf-8")
    )
    charts = {k: markupsafe.Markup(v) for k, v in values["charts"].items()}
    return env.from_string(template).render(**{**values, "charts": charts})
