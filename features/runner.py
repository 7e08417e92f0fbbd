"""Run the SQL feature definitions against a warehouse connection.

One code path for training and scoring: `build_features(con, as_of_dates)` computes every feature
for every invoice open at each of the given dates in one pass of set-based SQL (a nightly run
passes one date, a training set a few hundred). Nothing here reads the clock or the environment.

The customer's totals before each date (customer_totals) are aggregated in one of two ways, which
give identical values (tests/unit/test_features.py checks it): for a few dates, directly from the
customer's invoices at each date (customer_totals_direct: one read of the history per date, little
memory); for many dates, as running totals per customer and day read at each date with ASOF joins
(customer_facts + customer_events + customer_totals_running: one read of the history for all
dates).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Literal

import duckdb
import pandas as pd

from features.catalog import CATEGORICAL_FEATURES
from features.state import STATE_FEATURES, CodedBook, StatePrior, coded_state

# Up to this many dates, customer totals are aggregated directly from the invoices at each date;
# beyond, from running totals (each direct date costs about one read of the history).
DIRECT_MAX_DATES = 8
Aggregation = Literal["auto", "direct", "running"]

# (table, SQL file) executed in this order; each becomes a temporary table.
_TAIL = (
    ("customer_history", "customer_history"),
    ("customer_exposure", "customer_exposure"),
    ("invoice_features", "invoice_features"),
)
FEATURE_STEPS: dict[str, tuple[tuple[str, str], ...]] = {
    "direct": (
        ("open_invoices", "open_invoices"),
        ("customer_totals", "customer_totals_direct"),
        *_TAIL,
    ),
    "running": (
        ("open_invoices", "open_invoices"),
        ("customer_facts", "customer_facts"),
        ("customer_events", "customer_events"),
        ("customer_totals", "customer_totals_running"),
        *_TAIL,
    ),
}
# The table every build ends with: the SQL features plus the customer state (features/state.py).
FEATURE_TABLE = "features"
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
    snapshot_one_in: int = 1,
    first_snapshot_days: int = 0,
    aggregation: Aggregation = "auto",
) -> pd.DataFrame:
    """Features of every invoice open at each date in `as_of_dates`.

    Grain: one row per (invoice_id, as_of), sorted by as_of then invoice_id. A feature as of D uses
    only facts dated before D. Numeric features are float64 (missing = NaN), categorical ones text.
    `grace_days`: a settlement counts as late when more than this many
    days after the due date. `sample_one_in` > 1 keeps one customer in that many (by a hash of
    the id; all of a kept customer's invoices), to bound the training set of very large books.
    `snapshot_one_in` > 1 keeps one (invoice_id, as_of) row in that many (by a hash of the pair),
    and every row of an invoice issued at most `first_snapshot_days` days before as_of (with
    dates that many days apart, each invoice's first snapshot), with the values of the full
    build: training uses a few snapshots per invoice, so thinning the rows lets it keep more
    customers in the same memory.
    `aggregation`: how customer totals are computed ("direct" for up to DIRECT_MAX_DATES dates,
    "running" beyond, when "auto"); both give identical features, only speed and memory differ.
    """
    with _feature_table(
        con,
        as_of_dates,
        grace_days,
        sample_one_in,
        aggregation,
        snapshot_one_in,
        first_snapshot_days,
    ) as table:
        frame = con.execute(f"select * from {table} order by as_of, invoice_id").df()
    # (DuckDB's tables are freed before the conversion: pandas makes copies)
    # only the columns that are not float64 yet (counts): a copy of every column is large
    numeric = [c for c in model_feature_columns(frame) if c not in CATEGORICAL_FEATURES]
    for column in [c for c in numeric if frame[c].dtype != "float64"]:
        frame[column] = frame[column].astype("float64")
    return frame


def export_features(
    con: duckdb.DuckDBPyConnection, as_of: date, path: Path, *, grace_days: int = 0
) -> int:
    """Write the features of every invoice open at `as_of` to Parquet (CSV when the name ends in
    .csv), straight from DuckDB (no pandas copy); returns the row count. The rows, columns and
    values of `build_features`; whole numbers stay integers, amounts are doubles, dates dates."""
    path.parent.mkdir(parents=True, exist_ok=True)
    options = "format csv, header true" if path.suffix.lower() == ".csv" else "format parquet"
    with _feature_table(con, [as_of], grace_days, 1, "auto") as table:
        columns = con.execute(f"describe {table}").fetchall()
        select = ", ".join(
            f"{name}::double as {name}" if kind.startswith("DECIMAL") else name
            for name, kind, *_ in columns
        )
        target = str(path).replace("'", "''")
        con.execute(
            f"copy (select {select} from {table} order by as_of, invoice_id) "
            f"to '{target}' ({options})"
        )
        [(rows,)] = con.execute(f"select count(*) from {table}").fetchall()
    return rows


@contextmanager
def _feature_table(
    con: duckdb.DuckDBPyConnection,
    as_of_dates: Iterable[date],
    grace_days: int,
    sample_one_in: int,
    aggregation: Aggregation,
    snapshot_one_in: int = 1,
    first_snapshot_days: int = 0,
) -> Iterator[str]:
    """Run the feature steps into temporary tables, add the customer state features; yield the
    final table's name (FEATURE_TABLE); drop them all."""
    dates = pd.DataFrame({"as_of": pd.to_datetime(sorted(set(as_of_dates))).date})
    if dates.empty:
        raise ValueError("build_features needs at least one as_of date")
    if aggregation == "auto":
        aggregation = "direct" if len(dates) <= DIRECT_MAX_DATES else "running"
    steps = FEATURE_STEPS[aggregation]
    values = {
        "grace_days": grace_days,
        "sample_one_in": sample_one_in,
        "snapshot_one_in": snapshot_one_in,
        "first_snapshot_days": first_snapshot_days,
    }
    [(insertion_order,)] = con.execute(
        "select current_setting('preserve_insertion_order')"
    ).fetchall()
    # every table here has an explicit key and the result an explicit order: let DuckDB stream
    con.execute("set preserve_insertion_order = false")
    con.register("as_of_dates", dates)
    try:
        for table, file in steps:
            sql = feature_sql(file)
            params = {k: v for k, v in values.items() if f"${k}" in sql} or None
            con.execute(f"create or replace temp table {table} as {sql}", params)
        _add_state_features(con, steps[-1][0], grace_days)
        yield FEATURE_TABLE
    finally:
        con.execute(f"drop table if exists temp.{FEATURE_TABLE}")
        for table, _ in reversed(steps):
            con.execute(f"drop table if exists temp.{table}")
        con.unregister("as_of_dates")
        con.execute(f"set preserve_insertion_order = {str(insertion_order).lower()}")


def _add_state_features(con: duckdb.DuckDBPyConnection, table: str, grace_days: int) -> None:
    """FEATURE_TABLE: `table` with the customer state features of each row (as of its date).
    DuckDB numbers the customers, sorts the events and turns dates into days (features/state.py
    takes arrays); the features come back by row id."""
    # the customer's first invoice: tenure_days counts from it (customer_history)
    con.execute(
        f"""
        create or replace temp table state_rows as
        select
            rowid as row_id,
            dense_rank() over (order by customer_id) - 1 as code,
            customer_id,
            as_of,
            as_of - date '1970-01-01' as as_of_day,
            issue_date - date '1970-01-01' as issue_day,
            as_of - tenure_days::integer - date '1970-01-01' as first_day
        from {table}
        """
    )
    try:
        rows = con.execute(
            "select row_id, code, as_of_day, issue_day, first_day from state_rows order by row_id"
        ).fetchnumpy()
        events = con.execute(feature_sql("state_events"), {"grace_days": grace_days}).fetchnumpy()
    finally:
        con.execute("drop table temp.state_rows")
    coded = CodedBook(
        ev_code=events["code"],
        ev_issue=events["issue_day"],
        ev_known=events["known_day"],
        ev_late=events["late"].astype(bool),
        row_code=rows["code"],
        row_as_of=rows["as_of_day"],
        row_issue=rows["issue_day"],
        row_first=rows["first_day"],
    )
    # as many threads as DuckDB's (one on a Dask worker's task)
    [(threads,)] = con.execute("select current_setting('threads')").fetchall()
    p_late, deteriorating = coded_state(coded, StatePrior(), threads=int(threads))
    state = pd.DataFrame(
        {"row_id": rows["row_id"], "p_late": p_late, "deteriorating": deteriorating}
    )
    del rows, events, coded
    con.register("state_features", state)
    try:
        con.execute(
            f"create or replace temp table {FEATURE_TABLE} as select f.*, "
            f"s.p_late as {STATE_FEATURES[0]}, s.deteriorating as {STATE_FEATURES[1]} "
            f"from {table} as f join state_features as s on s.row_id = f.rowid"
        )
    finally:
        con.unregister("state_features")


def model_feature_columns(frame: pd.DataFrame) -> list[str]:
    """The model inputs among the columns of a `build_features` result."""
    return [c for c in frame.columns if c not in KEY_COLUMNS and c not in DESCRIPTIVE_COLUMNS]


def snapshot_outcomes(con: duckdb.DuckDBPyConnection, invoice_ids: object) -> pd.DataFrame:
    """Final outcome of the given invoices only (the outcomes of a whole 10M-invoice book would
    take about 1 GB in pandas). Labels only, never a feature.

    Grain: one row per invoice_id, with due_date and settled_date (null while unpaid).
    """
    con.register("snapshot_invoices", pd.DataFrame({"invoice_id": invoice_ids}))
    try:
        return con.execute(
            """
            select i.invoice_id, i.due_date, s.settled_date
            from staging.invoices as i
            inner join staging.invoice_settlements as s using (invoice_id)
            semi join snapshot_invoices as k using (invoice_id)
            """
        ).df()
    finally:
        con.unregister("snapshot_invoices")


def estimated_snapshots(
    con: duckdb.DuckDBPyConnection, dates: list[date], every_days: int
) -> tuple[float, int]:
    """About how many (invoice, as_of) snapshots the book has at these dates, spaced
    `every_days` apart (every customer), and how many invoices they come from."""
    [(estimate, invoices)] = con.execute(
        """
        with spans as (
            select greatest(
                least(coalesce(s.settled_date, $last), $last) - greatest(i.issue_date, $first), 0
            ) as open_days
            from staging.invoices as i
            inner join staging.invoice_settlements as s using (invoice_id)
            where i.amount > 0
        )
        select coalesce(sum(open_days), 0) / $every, count(*) filter (where open_days > 0)
        from spans
        """,
        {"first": dates[0], "last": dates[-1], "every": every_days},
    ).fetchall()
    return float(estimate), int(invoices)


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
