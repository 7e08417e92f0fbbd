"""The scoring tables: what each run scored and published, kept per run.

- `scoring.runs`: one row per run (published or refused), key run_id (DDL in sql/schema.sql);
- `scoring.invoice_scores`: one row per (run_id, invoice_id): each open invoice's scores and plan;
- `scoring.worklist`: one row per (run_id, customer_id): the ranked customers.

The last two follow the columns of the frames a run stores (a column added to the worklist is
added to the table), and one run is kept per as_of date: the latest published.
"""

from __future__ import annotations

from datetime import date, datetime

import duckdb
import pandas as pd

INVOICE_SCORE_COLUMNS = [
    "invoice_id",
    "customer_id",
    "open_amount",
    "days_past_due",
    "p_late",
    "p_late_30",
    "days_to_pay_p10",
    "days_to_pay_p50",
    "days_to_pay_p90",
    "predicted_payment_date",
    "payment_date_p10",
    "payment_date_p90",
    "dunning_stage",
    "next_action",
    "next_action_date",
    "late_interest",
    "recovery_fee",
    # what the report compares with earlier lists (pipelines/publish/report.py)
    "currency",
    "at_risk",
    "is_disputed",
    "with_agency",
    "promise_status",
    "promised_date",
]


def record_run(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    as_of: date,
    version: str | None,
    status: str,
    **values: object,
) -> None:
    """One row of scoring.runs; `values`: invoices_scored, customers_listed, message, dso..."""
    row = {
        "run_id": run_id,
        "as_of": as_of,
        "model_version": version,
        "status": status,
        "finished_at": datetime.now(),
        **values,
    }
    columns = ", ".join(row)
    marks = ", ".join(f"${k}" for k in row)
    con.execute(f"insert into scoring.runs ({columns}) values ({marks})", row)


def store_run(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    as_of: date,
    version: str,
    invoices: pd.DataFrame,
    worklist: pd.DataFrame,
    dso: dict,
) -> None:
    """Replace this date's rows of scoring.invoice_scores and scoring.worklist with this run's
    and record it as published, in the caller's transaction (committed once the files are
    published: jobs.score)."""
    keys = {"run_id": run_id, "as_of": as_of, "model_version": version}
    tables = {
        "invoice_scores": invoices[INVOICE_SCORE_COLUMNS].assign(**keys),
        "worklist": worklist.assign(**keys),
    }
    for name, frame in tables.items():
        con.register("frame", frame)
        con.execute(f"create table if not exists scoring.{name} as select * from frame limit 0")
        _add_missing_columns(con, f"scoring.{name}")
        con.execute(f"delete from scoring.{name} where as_of = $d", {"d": as_of})
        con.execute(f"insert into scoring.{name} by name select * from frame")
        con.unregister("frame")
    record_run(
        con,
        run_id,
        as_of,
        version,
        "published",
        invoices_scored=len(invoices),
        customers_listed=int(worklist["in_todays_list"].sum()),
        receivables=dso["receivables"],
        sales_90d=dso["sales"],
        dso=dso["dso"],
    )


def _add_missing_columns(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """The columns `frame` has and the table lacks (the worklist gained a column)."""
    have = {row[0] for row in con.execute(f"describe {table}").fetchall()}
    for name, kind, *_ in con.execute("describe frame").fetchall():
        if name not in have:
            con.execute(f'alter table {table} add column "{name}" {kind}')
