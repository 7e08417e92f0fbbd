"""Where the model is right and wrong: backtest tables, errors by segment, the largest misses,
one invoice explained, two backtests compared. Pure functions over backtest results and
feature rows, used by notebook 02 and 03."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from features.catalog import CATALOG, reason_sentence
from features.receivables import age_buckets
from models.backtest import BacktestResult
from models.evaluate import BLOCKS, POPULATIONS
from models.explain import shap_values
from models.train import RiskModel


def backtest_table(per_cut: dict[str, dict], overall: dict) -> pd.DataFrame:
    """A backtest's metrics as one long table: one row per (cut, population, ranking), cut being
    the cut date (ISO) or "overall"; columns n, auc, pr_auc, brier, ece, capture_top10,
    capture_top20. Takes BacktestResult.per_cut and .overall."""
    rows = []
    for cut, blocks in [*per_cut.items(), ("overall", overall)]:
        for population in POPULATIONS:
            for ranking in BLOCKS:
                rows.append(
                    {"cut": cut, "population": population, "ranking": ranking}
                    | blocks[population][ranking]
                )
    return pd.DataFrame(rows)


def with_error_segments(predictions: pd.DataFrame, customers: pd.DataFrame) -> pd.DataFrame:
    """Backtest predictions with the columns error analysis groups by: segment and country (from
    `customers`), age_band (days since issue), overdue_bucket (AGE_BUCKETS of days past due) and
    amount_band (quartile of open amount)."""
    frame = predictions.merge(
        customers[["customer_id", "segment", "country"]], on="customer_id", how="left"
    )
    frame["age_band"] = pd.cut(
        frame["age_days"],
        [-np.inf, 30, 60, 90, 180, np.inf],
        labels=["0–30 days", "31–60 days", "61–90 days", "91–180 days", ">180 days"],
    )
    frame["overdue_bucket"] = age_buckets(frame["days_past_due"])
    quartile = pd.qcut(frame["open_amount"], 4, duplicates="drop")
    frame["amount_band"] = quartile.cat.rename_categories(
        [f"{q.left:,.0f}–{q.right:,.0f}" for q in quartile.cat.categories]
    )
    return frame


def error_by(
    predictions: pd.DataFrame,
    by: str,
    *,
    target: str = "p_late_30",
    label: str = "late_30",
) -> pd.DataFrame:
    """Where the model errs: per group of `by`, over snapshots whose label is known: snapshots,
    observed (share labelled 1), predicted (mean probability), gap (predicted − observed:
    > 0 over-estimates the risk), brier, and auc (NaN when the group has one class)."""
    known = predictions[predictions[label].notna()]

    def summary(group: pd.DataFrame) -> pd.Series:
        y, p = group[label].astype(float), group[target].astype(float)
        auc = roc_auc_score(y, p) if y.nunique() == 2 else np.nan
        return pd.Series(
            {
                "snapshots": len(group),
                "observed": y.mean(),
                "predicted": p.mean(),
                "gap": p.mean() - y.mean(),
                "brier": ((p - y) ** 2).mean(),
                "auc": auc,
            }
        )

    table = known.groupby(by, observed=True)[[label, target]].apply(summary)
    table["snapshots"] = table["snapshots"].astype(int)
    return table.reset_index()


def largest_misses(
    predictions: pd.DataFrame, n: int = 10, *, target: str = "p_late_30", label: str = "late_30"
) -> pd.DataFrame:
    """The `n` invoices the model most misjudged, money-wise: each invoice's snapshot with the
    largest |label − probability| × open amount (column weighted_miss), largest first."""
    known = predictions[predictions[label].notna()]
    miss = (known[label].astype(float) - known[target]).abs() * known["open_amount"]
    ranked = known.assign(weighted_miss=miss).sort_values(
        ["weighted_miss", "invoice_id"], ascending=[False, True]
    )
    return ranked.drop_duplicates("invoice_id").head(n)


def explain_invoice(
    model: RiskModel, row: pd.DataFrame, target: str = "p_late_30", k: int = 10
) -> pd.DataFrame:
    """The `k` features that move one invoice's score most: feature, value, shap (log-odds; > 0
    raises the risk) and the reason sentence a collector would read. `row`: one feature row."""
    values = shap_values(model, target, row).iloc[0]
    record = row.iloc[0].to_dict()
    top = values.reindex(values.abs().sort_values(ascending=False).index[:k])
    return pd.DataFrame(
        {
            "feature": top.index,
            "value": [record.get(f) for f in top.index],
            "shap": top.to_numpy(),
            "reason": [
                (reason_sentence(f, record) or "") if f in CATALOG else f for f in top.index
            ],
        }
    )


def compare_backtests(results: dict[str, BacktestResult]) -> pd.DataFrame:
    """The model's overall backtest metrics side by side: one row per (population, metric), one
    column per named BacktestResult, and `change` (last − first)."""
    columns = {}
    for name, result in results.items():
        table = backtest_table({}, result.overall)
        table = table[table["ranking"] == "model"].drop(columns=["cut", "ranking"])
        columns[name] = table.melt(id_vars="population", var_name="metric").set_index(
            ["population", "metric"]
        )["value"]
    frame = pd.DataFrame(columns)
    names = list(results)
    frame["change"] = frame[names[-1]] - frame[names[0]]
    return frame.drop(index="n", level="metric").reset_index()
