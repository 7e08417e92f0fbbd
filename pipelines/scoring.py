"""Nightly scoring: every invoice open at a date scored by the champion, customers ranked into the
collectors' worklist, reasons for the rows people read, stored in `scoring.*` and published."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd

from features.runner import build_features, data_end
from models.explain import top_reasons
from models.train import InsufficientData
from models.worklist import driver_invoices, rank_customers
from pipelines import tracking
from pipelines.publish import publish_worklist
from pipelines.settings import Settings
from pipelines.warehouse import connect

MAX_REASON_ROWS = 2000


@dataclass
class ScoreResult:
    as_of: date
    model_version: str
    invoices_scored: int
    worklist: pd.DataFrame
    worklist_path: Path
    scores: pd.DataFrame = field(repr=False)


def score(settings: Settings, as_of: date | None = None) -> ScoreResult:
    """Score every invoice open at `as_of` with the champion, rank customers, explain the top of
    the list, store scores and worklist in the warehouse, and publish worklist.csv."""
    model, version = tracking.load_champion(settings.mlflow_tracking_uri, settings.model_name)
    with connect(settings.warehouse_path) as con:
        as_of = as_of or data_end(con)
        features = build_features(con, [as_of], grace_days=settings.late_grace_days)
        if features.empty:
            raise InsufficientData(f"no invoice is open at {as_of}: nothing to score")
        scores = features.join(model.predict(features))
        customers = con.execute("select * from staging.customers").df()
        worklist = rank_customers(scores, customers)
        top = worklist["customer_id"].head(MAX_REASON_ROWS).tolist()
        drivers = driver_invoices(scores, top)
        reasons = top_reasons(model, "p_late_30", drivers, k=3)
        by_customer = dict(
            zip(drivers["customer_id"], ["; ".join(r) for r in reasons], strict=True)
        )
        worklist["reason"] = worklist["customer_id"].map(by_customer).fillna("")
        _store(con, scores, worklist, as_of, version)
    path = publish_worklist(worklist, settings.outputs_dir, as_of.isoformat())
    return ScoreResult(as_of, version, len(scores), worklist, path, scores)


def _store(
    con: duckdb.DuckDBPyConnection,
    scores: pd.DataFrame,
    worklist: pd.DataFrame,
    as_of: date,
    version: str,
) -> None:
    """Replace this date's rows of scoring.invoice_scores and scoring.worklist."""
    invoice_scores = scores[
        [
            "invoice_id",
            "customer_id",
            "as_of",
            "open_amount",
            "days_past_due",
            "p_late",
            "p_late_30",
            "days_to_pay_p10",
            "days_to_pay_p50",
            "days_to_pay_p90",
        ]
    ].assign(
        predicted_payment_date=pd.to_datetime(scores["as_of"])
        + pd.to_timedelta(scores["days_to_pay_p50"].round(), unit="D"),
        model_version=version,
    )
    tables = {
        "invoice_scores": invoice_scores,
        "worklist": worklist.assign(as_of=as_of, model_version=version),
    }
    con.execute("begin transaction")
    for name, frame in tables.items():
        con.register("frame", frame)
        con.execute(f"create table if not exists scoring.{name} as select * from frame limit 0")
        con.execute(f"delete from scoring.{name} where as_of = $d", {"d": as_of})
        con.execute(f"insert into scoring.{name} by name select * from frame")
        con.unregister("frame")
    con.execute("commit")
