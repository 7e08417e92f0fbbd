"""Monitoring: how well the published lists caught the late money, now that outcomes are known,
and whether today's open invoices still look like the champion's training snapshots
(models/monitoring.py). Stored in `scoring.monitoring`, logged to an MLflow run of its own
("monitoring", one point per date), and turned into plain-words alerts for the nightly run."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime

import duckdb
import mlflow
import pandas as pd

from features.runner import build_features, snapshot_outcomes
from models.monitoring import alerts, drift, labelled_scores, realised
from models.promotion import GATE_METRIC
from models.train import InsufficientData
from pipelines import tracking
from pipelines.settings import Settings
from pipelines.warehouse import connect

MONITORING_RUN = "monitoring"


@dataclass
class MonitorResult:
    as_of: date
    realised: pd.DataFrame  # models.monitoring.REALISED_COLUMNS
    drift: pd.DataFrame  # feature, psi, missing_share, missing_share_trained
    alerts: list[str] = field(default_factory=list)

    def summary(self) -> dict:
        """The `--json` document: `realised` entries and `drift` per feature; NaN as null."""

        def records(frame: pd.DataFrame) -> list[dict]:
            out = frame.assign(
                **{
                    c: pd.to_datetime(frame[c]).dt.strftime("%Y-%m-%d")
                    for c in frame
                    if c.endswith("date")
                }
            ).to_dict("records")
            return [{k: _clean(v) for k, v in r.items()} for r in out]

        return {
            "as_of": self.as_of.isoformat(),
            "realised": records(self.realised),
            "drift": records(self.drift),
            "alerts": self.alerts,
        }


def _clean(value: object) -> object:
    return None if isinstance(value, float) and math.isnan(value) else value


def monitor(
    settings: Settings, as_of: date | None = None, features: pd.DataFrame | None = None
) -> MonitorResult:
    """Realised accuracy of every list published before `as_of` (default today) with the
    outcomes known at `as_of`, drift of today's open invoices, alerts; stored and logged.
    `features`: those of the open invoices as of `as_of`, when the caller has built them (the
    nightly run's scoring did)."""
    as_of = as_of or date.today()
    with connect(settings.warehouse_path) as con:
        if not con.execute("select count(*) from staging.invoices").fetchall()[0][0]:
            raise InsufficientData(
                f"the warehouse {settings.warehouse_path} holds no invoice: load the exports "
                "first (latepay ingest PATH...)"
            )
        published = _published_scores(con, as_of)
        frame = labelled_scores(
            published,
            snapshot_outcomes(con, published["invoice_id"].unique()),
            as_of,
            grace_days=settings.late_grace_days,
            serious_days=settings.serious_late_days,
        )
        table = realised(frame, grace_days=settings.late_grace_days)
        profile = tracking.champion_profile(settings.mlflow_tracking_uri, settings.model_name)
        if features is None:
            features = build_features(con, [as_of], grace_days=settings.late_grace_days)
        drifted = drift(profile or {}, features)
        result = MonitorResult(as_of, table, drifted, _alerts(settings, table, drifted))
        _store(con, result)
    _log(settings, result)
    return result


def _published_scores(con: duckdb.DuckDBPyConnection, as_of: date) -> pd.DataFrame:
    """The invoices of every list published before `as_of` (the run kept for each date)."""
    tables = {
        r[0]
        for r in con.execute(
            "select table_name from duckdb_tables() where schema_name = 'scoring'"
        ).fetchall()
    }
    columns = "s.as_of, s.invoice_id, s.open_amount, s.days_past_due, s.p_late, s.p_late_30"
    if "invoice_scores" not in tables:
        return pd.DataFrame(columns=[c.removeprefix("s.") for c in columns.split(", ")])
    return con.execute(
        f"""
        select {columns}
        from scoring.invoice_scores as s
        inner join scoring.runs as r using (run_id)
        where r.status = 'published' and s.as_of < $as_of
        """,
        {"as_of": as_of},
    ).df()


def _alerts(settings: Settings, table: pd.DataFrame, drifted: pd.DataFrame) -> list[str]:
    champion = tracking.champion_run(settings.mlflow_tracking_uri, settings.model_name)
    if champion is None:
        return []
    backtest_auc = champion[1].get(GATE_METRIC)
    model, _ = tracking.load_champion(settings.mlflow_tracking_uri, settings.model_name)
    gains = pd.Series(
        model.boosters["p_late_30"].feature_importance("gain"), index=model.feature_names
    )
    important = gains.sort_values(ascending=False).index.tolist()
    return alerts(table, drifted, backtest_auc=backtest_auc, important=important)


def _store(con: duckdb.DuckDBPyConnection, result: MonitorResult) -> None:
    """scoring.monitoring, long form: one row per (monitored_on, section, list_date, window,
    target, feature, metric); this date's rows replaced."""
    realised_rows = result.realised.melt(
        id_vars=["list_date", "window", "target"], var_name="metric", value_name="value"
    ).assign(section="realised", feature=None)
    drift_rows = result.drift.melt(
        id_vars=["feature"], var_name="metric", value_name="value"
    ).assign(section="drift", list_date=pd.NaT, window=None, target=None)
    rows = pd.concat([realised_rows, drift_rows], ignore_index=True).assign(
        monitored_on=pd.Timestamp(result.as_of), computed_at=datetime.now()
    )
    rows["value"] = pd.to_numeric(rows["value"], errors="coerce")
    con.register("monitoring_rows", rows)
    try:
        con.execute(
            "create table if not exists scoring.monitoring as select * from monitoring_rows limit 0"
        )
        con.execute("delete from scoring.monitoring where monitored_on = $d", {"d": result.as_of})
        con.execute("insert into scoring.monitoring by name select * from monitoring_rows")
    finally:
        con.unregister("monitoring_rows")


def _log(settings: Settings, result: MonitorResult) -> None:
    """One point per date on the "monitoring" run of the experiment (created once)."""
    tracking.use_store(settings.mlflow_tracking_uri)
    experiment = mlflow.get_experiment_by_name(settings.experiment_name)
    if experiment is None:
        return
    found = mlflow.search_runs(
        [experiment.experiment_id],
        filter_string=f"tags.mlflow.runName = '{MONITORING_RUN}'",
        output_format="list",
    )
    run_id = found[0].info.run_id if found else None
    step = result.as_of.toordinal()
    metrics = {}
    windows = result.realised[result.realised["window"] != "day"]
    for row in windows.itertuples():
        key = f"realised_{row.target}_{row.window.replace(' ', '')}"
        metrics |= {f"{key}_auc": row.auc, f"{key}_auc_aging": row.auc_aging,
                    f"{key}_capture_top20": row.capture_top20}  # fmt: skip
    if len(result.drift):
        metrics["psi_max"] = float(result.drift["psi"].max())
    with mlflow.start_run(
        run_id=run_id, experiment_id=experiment.experiment_id, run_name=MONITORING_RUN
    ):
        for key, value in metrics.items():
            if value is not None and not (isinstance(value, float) and math.isnan(value)):
                mlflow.log_metric(key, float(value), step=step)
