"""The references latepay's stages are judged against: the least work each stage could do.

Each runs as its own child (`run.py --reference NAME ...`) and prints one JSON line with the
seconds of the timed part (`query_s`) and its row count:

- `plain_load`: DuckDB loading the book's CSV files into tables of a new database, as they are
  (`read_csv` with its own detection; no rule, no count, no raw row kept). Against `ingest`.
- `window_pass`: one as-of window pass over the customers' history *with payments*: invoices
  joined to their payments, then a running window per customer. Against `features`.
- `bare_predict`: the champion's lateness booster predicting the open invoices (the features
  stage's Parquet file, already a matrix). With `window_pass`, against the nightly run.
"""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path

# The book's files the ingest reads (the oracle is the generator's, not an export).
BOOK_FILES = ("customers", "invoices", "payments", "promises", "actions")

WINDOW_SQL = """
create temp table w as
with facts as (
    select i.customer_id, i.issue_date, i.due_date, i.amount, p.payment_date, p.amount as paid
    from staging.invoices as i
    left join staging.payments as p on p.invoice_id = i.invoice_id and p.payment_date < $as_of
    where i.issue_date < $as_of
)
select
    customer_id,
    issue_date,
    sum(amount) over history as running_amount,
    sum(paid) over history as running_paid,
    avg(payment_date - due_date) over history as running_days_late
from facts
window history as (
    partition by customer_id order by issue_date
    rows between unbounded preceding and current row
)
"""


def plain_load(book: Path, database: Path) -> dict[str, float]:
    """Load every export of `book` into a table of a new DuckDB file, timed."""
    import duckdb

    database.unlink(missing_ok=True)
    con = duckdb.connect(str(database))
    started = time.perf_counter()
    for name in BOOK_FILES:
        path = book / f"{name}.csv"
        if path.exists():
            con.execute(
                f"create table {name} as select * from read_csv(?, header = true)", [str(path)]
            )
    query_s = time.perf_counter() - started
    [(rows,)] = con.execute("select count(*) from invoices").fetchall()
    con.close()
    return {"query_s": query_s, "rows": float(rows)}


def window_pass(warehouse: Path, as_of: date) -> dict[str, float]:
    """The window pass over the warehouse's invoices and payments as of `as_of`, timed."""
    import duckdb

    con = duckdb.connect(str(warehouse), read_only=True)
    started = time.perf_counter()
    con.execute(WINDOW_SQL, {"as_of": as_of})
    query_s = time.perf_counter() - started
    [(rows,)] = con.execute("select count(*) from w").fetchall()
    return {"query_s": query_s, "rows": float(rows)}


def bare_predict(features: Path) -> dict[str, float]:
    """The champion's lateness booster (MLflow store from the environment) on the features
    file's rows; only the predict is timed (the matrix is built before)."""
    import pandas as pd

    from pipelines.settings import Settings
    from pipelines.tracking import load_champion

    settings = Settings()
    model, _ = load_champion(settings.mlflow_tracking_uri, settings.model_name)
    x = model.array(pd.read_parquet(features))
    started = time.perf_counter()
    model.boosters["p_late"].predict(x)
    return {"query_s": time.perf_counter() - started, "rows": float(len(x))}
