"""The managers' report: one self-contained HTML file (inline CSS and SVG charts, no external
asset, no script) in the reader's language and locale (LATEPAY_LOCALE), every amount in its
currency, totals per currency.

Sections, by id, in the order a manager reads them in a minute: `headline` (the book per
currency, with the change since the previous published list and since a week before, and
the open invoices of customers under French law with payment terms over the French caps),
`aged-balance` (per collector, the customers' unapplied credit netted in the total),
`disputes`, `promises`, `agency`, `cash-in` (expected per week), `worklist` (the top of today's
list, one line per customer), `model-quality` (one plain sentence, then the backtest table),
`realised-accuracy` (how the recent lists did, once the nightly monitoring has measured them).

`context` gathers the figures (pipelines/publish/book.py over the night's planned invoices;
earlier lists from scoring.invoice_scores; sales per currency for DSO; the champion's backtest;
scoring.monitoring); `render` fills the Jinja2 template with autoescaping on, so text from the
data cannot become HTML.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from datetime import date, datetime, timedelta
from importlib import resources

import duckdb
import jinja2
import markupsafe
import pandas as pd

from features.receivables import AGE_BUCKETS, DSO_DAYS, dso_of, unapplied_credit
from models.evaluate import POPULATIONS
from pipelines.publish.book import (
    CASH_IN_WEEKS,
    FIGURES,
    PROMISE_DAYS,
    aged_by_collector,
    agency,
    book_figures,
    cash_in,
    disputes,
    promises,
    with_currency,
)
from pipelines.publish.figures import cash_in_figure, svg
from pipelines.publish.locale import DEFAULT_CURRENCY, DEFAULT_LOCALE, Formats, currency_code
from pipelines.publish.strings import Words

TOP_ROWS = 25
# A rise of these is bad news (shown in red); of the others, neither good nor bad in itself.
WORSE_WHEN_UP = ("overdue_amount", "at_risk", "disputed_amount", "agency_amount", "dso")
# The count shown under each headline figure.
DETAILS = {
    "disputed_amount": "disputed_invoices",
    "promised_amount": "promised_invoices",
    "agency_amount": "agency_invoices",
}
# Columns an earlier run's stored invoices may lack (stored from this version on), and the
# headline figure each one gives: unknown for such a run, never taken as 0.
STORED_SINCE = {
    "at_risk": "at_risk",
    "is_disputed": "disputed_amount",
    "promise_status": "promised_amount",
    "with_agency": "agency_amount",
}
# Parameters of the champion's training run the report shows (logged by pipelines.jobs.train; a
# test checks that training logs each of them).
REPORTED_PARAMS = ("data_end", "backtest_cuts")
BLOCKS = ("model", "baseline_aging", "baseline_prior_late_rate")
METRICS = ("auc", "capture_top20", "brier")
CAPTURE = "backtest_late_30_{block}_capture_top20"


def context(
    con: duckdb.DuckDBPyConnection,
    as_of: date,
    invoices: pd.DataFrame,
    published: pd.DataFrame,
    *,
    model_version: str,
    champion: tuple[dict, dict] | None,
    capacity: int,
    customers: pd.DataFrame | None = None,
    credits: pd.DataFrame | None = None,
    locale: str = DEFAULT_LOCALE,
    french_law: Collection[str] = ("FR",),
    not_reached: pd.DataFrame | None = None,
) -> dict:
    """Everything the report shows. `invoices`: the night's planned invoices (plan_invoices,
    with `currency`); `published`: today's list (with its reasons); `not_reached`: the worklist's
    rows with work due that the lists could not hold (worklist.not_reached); `customers`: customer_id,
    name, collector (default: staging.customers); `credits`: unapplied_credit at as_of (default:
    read here); `french_law`: the countries whose customers French law applies to
    (LATEPAY_FRENCH_LAW_COUNTRIES)."""
    day = pd.Timestamp(as_of)
    if customers is None:
        customers = con.execute("select customer_id, name, collector from staging.customers").df()
    book = _book(con, invoices, customers)
    today = _with_dso(con, as_of, book_figures(book))
    earlier = {
        name: (when, _with_dso(con, when, figures))
        for name, (when, figures) in earlier_lists(con, as_of).items()
    }
    cash = cash_in(book, day)
    formats = Formats(locale)
    words = Words(formats.language)
    return {
        "as_of": as_of,
        "locale": locale,
        "generated_at": datetime.now(),
        "model_version": model_version,
        "capacity": capacity,
        "customers_listed": len(published),
        "collectors": int(published["collector"].nunique()),
        "compared": {name: when for name, (when, _) in earlier.items()},
        "headline": headline(today, {name: f for name, (_, f) in earlier.items()}),
        "terms_over_cap": terms_over_cap(con, invoices["invoice_id"], french_law),
        "aged": _aged(book, _with_collector(credits, con, as_of, customers)),
        "disputes": _disputes(book, day),
        "promises": _promises(book, day),
        "agency": _agency(book),
        "cash": _blocks(cash),
        "top": top_rows(published),
        "not_reached": _not_reached(not_reached),
        "quality": model_quality(champion),
        "realised": realised_accuracy(con, as_of),
        "charts": _charts(cash, formats, words),
        # one DSO per run for scoring.runs, as before: receivables and sales of every currency
        # (the report shows DSO per currency)
        "dso": dso_of(con, as_of, float(book["open_amount"].sum())),
    }


def _book(
    con: duckdb.DuckDBPyConnection, invoices: pd.DataFrame, customers: pd.DataFrame
) -> pd.DataFrame:
    """The invoices with their currency, customer's name and collector, and the date their
    dispute opened."""
    own = [c for c in ("name", "collector") if c in customers and c not in invoices]
    book = with_currency(invoices).merge(
        customers[["customer_id", *own]], on="customer_id", how="left"
    )
    if "dispute_opened_date" not in book:
        opened = con.execute(
            "select invoice_id, dispute_opened_date from staging.invoice_settlements "
            "where dispute_opened_date is not null"
        ).df()
        book = book.merge(opened, on="invoice_id", how="left")
    return book


def _with_collector(
    credits: pd.DataFrame | None,
    con: duckdb.DuckDBPyConnection,
    as_of: date,
    customers: pd.DataFrame,
) -> pd.DataFrame:
    """The credit notes and payments on account not yet applied at `as_of` (`credits`, else
    unapplied_credit), with their customer's collector (unassigned when unknown)."""
    credits = unapplied_credit(con, as_of) if credits is None else credits
    if "collector" not in customers:
        return credits.assign(collector=None)
    return credits.merge(customers[["customer_id", "collector"]], on="customer_id", how="left")


def earlier_lists(
    con: duckdb.DuckDBPyConnection, as_of: date
) -> dict[str, tuple[date, pd.DataFrame]]:
    """The book figures (book_figures) of the previous published list ("previous") and of the
    latest published a week or more before `as_of` ("week"), from scoring.invoice_scores; empty
    before any list was published."""
    if not _has_table(con, "scoring", "invoice_scores"):
        return {}
    dates = [
        d
        for (d,) in con.execute(
            "select distinct as_of from scoring.invoice_scores where as_of < $as_of order by 1",
            {"as_of": as_of},
        ).fetchall()
    ]
    chosen = {"previous": dates[-1]} if dates else {}
    weekly = [d for d in dates if d <= as_of - timedelta(days=7)]
    if weekly:
        chosen["week"] = weekly[-1]
    return {name: (when, _stored_figures(con, when)) for name, when in chosen.items()}


def _stored_figures(con: duckdb.DuckDBPyConnection, as_of: date) -> pd.DataFrame:
    """book_figures of the invoices stored for the list of `as_of`; the figures of columns a run
    of an older latepay did not store are unknown (NaN). Currencies from staging.invoices."""
    have = {row[0] for row in con.execute("describe scoring.invoice_scores").fetchall()}
    optional = ", ".join(
        f"s.{c}" if c in have else f"null as {c}" for c in (*STORED_SINCE, "currency")
    )
    frame = con.execute(
        f"""
        select s.invoice_id, s.customer_id, s.open_amount, s.days_past_due, {optional},
            i.currency as invoice_currency
        from scoring.invoice_scores as s
        left join staging.invoices as i using (invoice_id)
        where s.as_of = $as_of
        """,
        {"as_of": as_of},
    ).df()
    frame["currency"] = frame["currency"].fillna(frame["invoice_currency"])
    frame["at_risk"] = pd.to_numeric(frame["at_risk"]).fillna(0.0)
    for column in ("is_disputed", "with_agency"):
        frame[column] = frame[column].fillna(False).astype(bool)
    figures = book_figures(frame)
    for column, figure in STORED_SINCE.items():
        if column not in have:
            figures[figure] = float("nan")
    return figures


def _with_dso(con: duckdb.DuckDBPyConnection, as_of: date, figures: pd.DataFrame) -> pd.DataFrame:
    """The figures with `dso` per currency: open amount ÷ the amount invoiced in that currency in
    the DSO_DAYS days before `as_of` (credit notes left out) × DSO_DAYS; NaN without sales."""
    sales = con.execute(
        """
        select currency, sum(amount)::double as sales from staging.invoices
        where amount > 0 and issue_date < $as_of and issue_date >= $as_of - $days::integer
        group by currency
        """,
        {"as_of": as_of, "days": DSO_DAYS},
    ).df()
    per_currency = sales.groupby(sales["currency"].map(currency_code))["sales"].sum()
    sold = per_currency.reindex(figures.index)
    return figures.assign(dso=figures["open_amount"] / sold.where(sold > 0) * DSO_DAYS)


def headline(today: pd.DataFrame, earlier: dict[str, pd.DataFrame]) -> list[dict]:
    """One block per currency (the largest open amount first): for each figure its value, the
    count below it, and its change since each earlier list (None when unknown; a currency absent
    from an earlier list had 0 of each amount then)."""
    blocks = []
    for currency in today.sort_values("open_amount", ascending=False).index:
        now = today.loc[currency]
        rows = []
        for key in (*FIGURES, "dso"):
            changes = {}
            for name, figures in earlier.items():
                before = figures[key].get(currency, 0.0 if key != "dso" else float("nan"))
                change = now[key] - before
                changes[name] = None if pd.isna(change) else float(change)
            rows.append(
                {
                    "key": key,
                    "value": None if pd.isna(now[key]) else float(now[key]),
                    "changes": changes,
                    "worse_when_up": key in WORSE_WHEN_UP,
                    "invoices": int(now[DETAILS.get(key, "open_invoices")]),
                    "customers": int(now["customers"]),
                }
            )
        blocks.append({"currency": currency, "rows": rows})
    return blocks


def terms_over_cap(
    con: duckdb.DuckDBPyConnection, invoice_ids: pd.Series, french_law: Collection[str]
) -> dict[str, int]:
    """Of the given (open) invoices, those whose payment terms exceed the French caps
    (staging.invoices.terms_over_cap, set at ingest) and whose customer's country is one of
    `french_law`: {"invoices": n, "customers": n}."""
    countries = sorted({c.strip().upper() for c in french_law if c.strip()})
    if not countries:
        return {"invoices": 0, "customers": 0}
    con.register("report_open_ids", pd.DataFrame({"invoice_id": invoice_ids.unique()}))
    try:
        [(invoices, customers)] = con.execute(
            """
            select count(*), count(distinct i.customer_id)
            from staging.invoices as i
            join report_open_ids using (invoice_id)
            join staging.customers as c using (customer_id)
            where i.terms_over_cap and list_contains($countries, upper(trim(c.country)))
            """,
            {"countries": countries},
        ).fetchall()
    finally:
        con.unregister("report_open_ids")
    return {"invoices": invoices, "customers": customers}


def _aged(book: pd.DataFrame, credits: pd.DataFrame | None = None) -> list[dict]:
    """Per currency, the aged balance of each collector and of all: amounts per bucket, the
    unapplied credit (≤ 0), total (net of it), and each bucket's share of the open amount (the
    bar); `has_credit` when some collector's customers have credit (its column is shown)."""
    table = aged_by_collector(book, credits)
    blocks = []
    for currency, rows in table.groupby("currency", sort=False):
        records = []
        for row in rows.itertuples(index=False):
            amounts = [float(v) for v in row[2 : 2 + len(AGE_BUCKETS)]]
            shares = [100 * a / row.open if row.open > 0 else 0.0 for a in amounts]
            records.append(
                {"collector": row.collector, "amounts": amounts, "credit": float(row.credit),
                 "total": row.total, "shares": [round(s, 2) for s in shares]}
            )  # fmt: skip
        has_credit = bool((rows["credit"] < 0).any())
        blocks.append({"currency": currency, "rows": records, "has_credit": has_credit})
    return blocks


def _disputes(book: pd.DataFrame, as_of: pd.Timestamp) -> list[dict]:
    summary, oldest = disputes(book, as_of)
    return [
        {
            "currency": currency,
            "amount": row.amount,
            "invoices": int(row.invoices),
            "customers": int(row.customers),
            "oldest_days": None if pd.isna(row.oldest_days) else int(row.oldest_days),
            "oldest": oldest[oldest["currency"] == currency].to_dict("records"),
        }
        for currency, row in summary.iterrows()
    ]


def _promises(book: pd.DataFrame, as_of: pd.Timestamp) -> dict:
    found = promises(book, as_of)
    currencies = sorted(set().union(*(found[k].index for k in ("due", "broken", "later"))))
    blocks = []
    for currency in currencies:
        block = {"currency": currency}
        for kind in ("due", "broken", "later"):
            table = found[kind]
            block[kind] = (
                {k: table.at[currency, k] for k in ("amount", "invoices", "customers")}
                if currency in table.index
                else None
            )
        listed = found["broken_invoices"]
        block["broken_invoices"] = listed[listed["currency"] == currency].to_dict("records")
        blocks.append(block)
    week = pd.Timedelta(days=PROMISE_DAYS - 1)
    return {
        "blocks": blocks,
        "due_from": as_of,
        "due_to": as_of + week,
        "broken_from": as_of - week - pd.Timedelta(days=1),
        "broken_to": as_of - pd.Timedelta(days=1),
    }


def _agency(book: pd.DataFrame) -> list[dict]:
    summary, customers = agency(book)
    return [
        {
            "currency": currency,
            "amount": row.amount,
            "invoices": int(row.invoices),
            "customers": int(row.customers),
            "listed": customers[customers["currency"] == currency].to_dict("records"),
        }
        for currency, row in summary.iterrows()
    ]


def _blocks(cash: pd.DataFrame) -> list[dict]:
    """The cash-in table per currency (the largest open amount first), with its totals."""
    order = cash.groupby("currency")[["expected", "disputed", "agency"]].sum().sum(axis=1)
    blocks = []
    for currency in order.sort_values(ascending=False).index:
        rows = cash[cash["currency"] == currency]
        totals = rows[["expected", "disputed", "agency"]].sum().to_dict()
        records = rows.to_dict("records")
        for row in records:  # the later row ends where the last week ends
            row["later"] = pd.isna(row["week"])
            row["week"] = None if row["later"] else row["week"]
            row["week_end"] = (row["week"] or records[-2]["week"]) + timedelta(days=6)
        blocks.append({"currency": currency, "rows": records, "totals": totals})
    return blocks


def _charts(cash: pd.DataFrame, formats: Formats, words: Words) -> dict[str, str]:
    """One cash-in chart per currency, as inline SVG: "cash_<currency>"."""
    charts = {}
    for currency, rows in cash.groupby("currency"):
        weeks = rows[rows["week"].notna()]
        labels = [formats.short_day(w) for w in weeks["week"]]
        labels[0] = words("this_week_short")
        figure = cash_in_figure(
            weeks,
            labels,
            title=words("chart_cash", currency=currency),
            legend=[words(k) for k in ("col_expected", "col_from_disputed", "col_from_agency")],
            tick=lambda v, c=currency: formats.compact_money(v, c),
        )
        charts[f"cash_{currency}"] = svg(figure)
    return charts


def _not_reached(rows: pd.DataFrame | None) -> dict:
    """How many customers with work due today's lists could not hold, since when the oldest of
    their actions is due, and per currency (most at risk first) their expected amount at risk."""
    if rows is None or rows.empty:
        return {"customers": 0, "since": None, "currencies": []}
    at_risk = with_currency(rows).groupby("currency")["expected_amount_at_risk"].sum()
    return {
        "customers": len(rows),
        "since": rows["next_action_date"].min(),
        "currencies": [
            {"currency": c, "at_risk": a} for c, a in at_risk.sort_values(ascending=False).items()
        ],
    }


def top_rows(published: pd.DataFrame) -> list[dict]:
    """The first TOP_ROWS rows of today's list as the report shows them: one line each."""
    rows = with_currency(published.head(TOP_ROWS)).to_dict("records")
    for row in rows:
        invoices = [i for i in str(row.get("action_invoices") or "").split(", ") if i]
        row["invoice_list"] = invoices
        row["reasons"] = [r for r in (row.get(f"reason_{k}") for k in (1, 2, 3)) if r]
    return rows


def model_quality(champion: tuple[dict, dict] | None) -> dict:
    """The champion's backtest: the share of the seriously late money caught in the top fifth,
    by the model and by an aging list (the sentence); the table (population × ranking ×
    METRICS); the cut dates and data end."""
    if champion is None:
        return {"rows": [], "capture": None, "cuts": [], "data_end": None, "days_late": None}
    params, metrics = champion
    rows = []
    for population in POPULATIONS:
        for block in BLOCKS:
            values = [metrics.get(f"backtest_{population}_{block}_{m}") for m in METRICS]
            if any(v is not None for v in values):
                rows.append({"population": population, "block": block, "values": values})
    model, aging = (metrics.get(CAPTURE.format(block=b)) for b in BLOCKS[:2])
    data_end, cuts = (params.get(name) for name in REPORTED_PARAMS)
    return {
        "days_late": _days_late(metrics),
        "rows": rows,
        "capture": (model, aging) if model is not None and aging is not None else None,
        "cuts": [c for c in str(cuts or "").split(",") if c],
        "data_end": data_end,
    }


def _days_late(metrics: dict) -> dict | None:
    """The champion's days late at issue (models/days_late.py) beside the customer's median, or
    None when its backtest did not measure them."""
    name = "backtest_days_late_at_issue_{}"
    model, baseline, n, cap = (
        metrics.get(name.format(k))
        for k in ("model_mae_days", "baseline_customer_median_mae_days", "n", "cap_days")
    )
    if model is None or baseline is None or not n or math.isnan(model):
        return None
    return {"model": model, "baseline": baseline, "n": n, "cap": int(cap or 0)}


def realised_accuracy(con: duckdb.DuckDBPyConnection, as_of: date) -> dict | None:
    """How the lists of the last 4 weeks did, as the latest monitoring up to `as_of` measured
    them (scoring.monitoring, serious lateness): list_date, n, model and aging capture of the
    top fifth; None before any measure."""
    if not _has_table(con, "scoring", "monitoring"):
        return None
    rows = con.execute(
        """
        select list_date, metric, value from scoring.monitoring
        where section = 'realised' and target = 'late_30' and "window" = '4 weeks'
          and monitored_on = (select max(monitored_on) from scoring.monitoring
                              where section = 'realised' and monitored_on <= $as_of)
        """,
        {"as_of": as_of},
    ).df()
    values = dict(zip(rows["metric"], rows["value"], strict=True))
    needed = ("n", "capture_top20", "capture_top20_aging")
    if rows.empty or any(pd.isna(values.get(k)) for k in needed):
        return None
    return {
        "weeks": 4,
        "list_date": rows["list_date"].iloc[0],
        "n": int(values["n"]),
        "model": values["capture_top20"],
        "aging": values["capture_top20_aging"],
    }


def _has_table(con: duckdb.DuckDBPyConnection, schema: str, name: str) -> bool:
    [(found,)] = con.execute(
        "select count(*) from duckdb_tables() where schema_name = $s and table_name = $n",
        {"s": schema, "n": name},
    ).fetchall()
    return bool(found)


def render(values: dict) -> str:
    """The report as one HTML document, in the words and formats of `values["locale"]`."""
    formats = Formats(values["locale"])
    words = Words(formats.language)
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    env.filters.update(
        money=formats.money,
        change=formats.change,
        count=formats.count,
        number=formats.number,
        signed=formats.signed,
        percent=formats.percent,
        day=formats.day,
        short_day=formats.short_day,
    )
    env.globals.update(
        t=words,
        counted=lambda n, noun, written=None: words.counted(
            noun, n, formats.count(n) if written is None else written
        ),
        buckets=range(len(AGE_BUCKETS)),
        weeks=CASH_IN_WEEKS,
    )
    template = (
        resources.files("pipelines.publish")
        .joinpath("templates", "report.html.j2")
        .read_text(encoding="utf-8")
    )
    charts = {k: markupsafe.Markup(v) for k, v in values["charts"].items()}
    return env.from_string(template).render(
        **{**values, "charts": charts},
        language=formats.language,
        default_currency=DEFAULT_CURRENCY,
        generated=f"{values['generated_at']:%Y-%m-%d %H:%M}",
    )
