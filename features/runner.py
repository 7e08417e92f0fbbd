"""Run the SQL feature definitions against a warehouse connection.

One code path for training and scoring: `build_features(con, as_of_dates)` computes every feature
for every invoice open at each of the given dates in one pass of set-based SQL (a nightly run
passes one date, a training set a few hundred). Nothing here reads the clock or the environment.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from importlib import resources

import duckdb
import pandas as pd

from features.catalog import CATEGORICAL_FEATURES

# Executed in this order; each becomes a temporary table named after its file.
FEATURE_TABLES = (
    "open_invoices",
    "customer_events",
    "customer_history",
    "customer_exposure",
    "invoice_features",
)
KEY_COLUMNS = ("invoice_id", "customer_id", "as_of")
# Columns of invoice_features that describe the row but are not model inputs.
DESCRIPTIVE_COLUMNS = ("issue_date", "due_date", "open_amount")


def feature_sql(table: str) -> str:
    """The SQL text of one feature table."""
    return resources.files("features").joinpath("sql", f"{table}.sql").read_text(encoding="utf-8")


def build_features(
    con: duckdb.DuckDBPyConnection,
    as_of_dates: Iterable[date],
    *,
    grace_days: int = 0,
    sample_one_in: int = 1,
) -> pd.DataFrame:
    """Features of every invoice open at each date in `as_of_dates`.

    Grain: one row per (invoice_id, as_of), sorted by as_of then invoice_id. A feature as of D uses
    only facts dated before D. Numeric features are float64 (missing = NaN), categorical ones text.
    `grace_days`: a settlement counts as late when more than this many
    days after the due date. `sample_one_in` > 1 keeps one customer in that many (by a hash of
    the id; all of a kept customer's invoices), to bound the training set of very large books.
    """
    dates = pd.DataFrame({"as_of": pd.to_datetime(sorted(set(as_of_dates))).date})
    if dates.empty:
        raise ValueError("build_features needs at least one as_of date")
    con.register("as_of_dates", dates)
    try:
        for table in FEATURE_TABLES:
            sql = feature_sql(table)
            values = {"grace_days": grace_days, "sample_one_in": sample_one_in}
            params = {k: v for k, v in values.items() if f"${k}" in sql} or None
            con.execute(f"create or replace temp table {table} as {sql}", params)
        frame = con.execute("select * from invoice_features order by as_of, invoice_id").df()
        numeric = [c for c in model_feature_columns(frame) if c not in CATEGORICAL_FEATURES]
        frame[numeric] = frame[numeric].astype("float64")
    finally:
        for table in FEATURE_TABLES:
            con.execute(f"drop table if exists temp.{table}")
        con.unregister("as_of_dates")
    return frame


def model_feature_columns(frame: pd.DataFrame) -> list[str]:
    """The model inputs among the columns of a `build_features` result."""
    return [c for c in frame.columns if c not in KEY_COLUMNS and c not in DESCRIPTIVE_COLUMNS]


def invoice_outcomes(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Final outcome of every invoice (never a feature: labels only).

    Grain: one row per invoice_id, with due_date and settled_date (null while unpaid).
    """
    return con.execute(
        """
        select i.invoice_id, i.due_date, s.settled_date
        from staging.invoices as i
        join staging.invoice_settlements as s using (invoice_id)
        where i.amount > 0
        """
    ).df()


def data_end(con: duckdb.DuckDBPyConnection) -> date:
    """The first date with no facts in the warehouse: the day after the latest issue or payment.

    Scoring "as of data_end" sees everything loaded; labels are known up to it.
    """
    [row] = con.execute(
        """
        select greatest(
            (select max(issue_date) from staging.invoices),
            coalesce((select max(payment_date) from staging.payments), date '0001-01-01')
        ) + interval 1 day
        """
    ).fetchall()
    if row[0] is None:
        raise ValueError("the warehouse holds no invoices: run `latepay ingest` first")
    return pd.Timestamp(row[0]).date()
