"""Model quality for the `backtest_quality` stage: the model's AUC against the oracle's.

The oracle is the generator's true probability of each invoice being late (`oracle.csv` of the
book). Both are scored on the backtest's test snapshots one day after issue (age 1, the closest
to "age 0": facts dated on the as-of date are invisible) whose outcome is known, overall and
within each of the generator's customer archetypes: where the model falls short.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

QUALITY_AGE_DAYS = 1


def quality(predictions: Path, oracle: Path, age_days: int = QUALITY_AGE_DAYS) -> dict:
    """Model and oracle AUC of p_late on the test snapshots at `age_days`, overall and within
    each of the generator's customer archetypes (deteriorating ones split by whether their
    trouble had started when the invoice was issued): where the model falls short."""
    rows = rows_at_age(predictions, oracle, age_days)
    if rows["late"].astype(int).nunique() < 2:
        raise ValueError(f"{len(rows)} test rows at age {age_days}: only one class")
    group = archetype_groups(rows, age_days)
    overall = aucs(rows)
    return {
        **overall,
        "gap": overall["model_auc"] - overall["oracle_auc"],
        "by_archetype": {name: aucs(part) for name, part in rows.groupby(group)},
    }


def rows_at_age(predictions: Path, oracle: Path, age_days: int) -> pd.DataFrame:
    """The backtest's predictions at `age_days` with a known outcome, joined with the oracle's
    probability (`p_oracle`), archetype and trouble date of each invoice."""
    import pandas as pd

    cols = ["invoice_id", "as_of", "age_days", "late", "p_late"]
    rows = pd.read_parquet(predictions, columns=cols)
    rows = rows[(rows["age_days"] == age_days) & rows["late"].notna()]
    truth = pd.read_csv(
        oracle,
        usecols=["invoice_id", "p_late", "archetype", "trouble_date"],
        engine="pyarrow",
        dtype_backend="numpy_nullable",
    ).rename(columns={"p_late": "p_oracle"})
    return rows.merge(truth, on="invoice_id", how="inner", validate="many_to_one")


def archetype_groups(rows: pd.DataFrame, age_days: int) -> pd.Series:
    """Each row's archetype; deteriorating customers split into "in trouble" and "not yet" by
    whether their trouble had started when the invoice was issued."""
    import pandas as pd

    issued = pd.to_datetime(rows["as_of"]) - pd.to_timedelta(age_days, unit="D")
    in_trouble = pd.to_datetime(rows["trouble_date"]) <= issued
    return (
        rows["archetype"]
        .astype(str)
        .where(
            rows["archetype"] != "deteriorating",
            "deteriorating, " + in_trouble.map({True: "in trouble", False: "not yet"}),
        )
    )


def aucs(part: pd.DataFrame) -> dict[str, float]:
    """Rows, late share, model AUC and oracle AUC of some rows (rows alone with one class)."""
    from sklearn.metrics import roc_auc_score

    late = part["late"].astype(int)
    if late.nunique() < 2:
        return {"rows": float(len(part))}
    return {
        "rows": float(len(part)),
        "late_share": float(late.mean()),
        "model_auc": float(roc_auc_score(late, part["p_late"].astype(float))),
        "oracle_auc": float(roc_auc_score(late, part["p_oracle"].astype(float))),
    }


def quality_table(q: dict) -> str:
    """The per-archetype AUCs of `quality` as a Markdown table."""
    lines = [
        f"| archetype (age {QUALITY_AGE_DAYS} test rows) | rows | late | model AUC | oracle AUC | gap |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, g in q.get("by_archetype", {}).items():
        if "model_auc" in g:
            lines.append(
                f"| {name} | {g['rows']:,.0f} | {g['late_share']:.0%} | {g['model_auc']:.3f} "
                f"| {g['oracle_auc']:.3f} | {g['model_auc'] - g['oracle_auc']:+.3f} |"
            )
    return "\n".join(lines)
