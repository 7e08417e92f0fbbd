"""The champion gate: a new model becomes champion only if it is at least as good as the
champion on the same backtest. Pure: the caller reads the champion's run from MLflow."""

from __future__ import annotations

from datetime import date

# The gate's metric (serious lateness, the collectors' target) ...
GATE_METRIC = "backtest_late_30_model_auc"
# ... measured on the same test snapshots: as many of them.
TEST_ROWS_METRIC = "backtest_late_30_model_n"


def same_backtest(
    champion_params: dict[str, str],
    champion_metrics: dict[str, float],
    *,
    data_end: date,
    cuts: list[date],
    test_rows: float,
) -> bool:
    """Whether the champion's stored backtest tested the same snapshots as this one: same data
    end, cut dates and number of test snapshots (a training set sampled otherwise tests other
    snapshots). If not, the champion must be backtested again on this data."""
    return (
        champion_params.get("data_end") == data_end.isoformat()
        and champion_params.get("backtest_cuts") == ",".join(c.isoformat() for c in cuts)
        and champion_metrics.get(TEST_ROWS_METRIC) == test_rows
        and GATE_METRIC in champion_metrics
    )


def should_promote(new_score: float, champion_score: float | None, *, force: bool = False) -> bool:
    """Promote when forced, when there is no champion, or when the new model's GATE_METRIC is at
    least the champion's on the same backtest (a tie promotes: the newer data wins)."""
    return force or champion_score is None or new_score >= champion_score
