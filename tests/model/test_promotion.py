"""The champion gate: a pure rule, its same-backtest check, and one registration."""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest

from models.evaluate import POPULATIONS
from models.promotion import GATE_METRIC, TEST_ROWS_METRIC, same_backtest, should_promote
from pipelines import tracking
from pipelines.jobs import train as train_job


@pytest.mark.parametrize(
    ("new", "champion", "force", "promoted"),
    [
        (0.80, None, False, True),  # no champion yet: the first model is promoted
        (0.80, 0.80, False, True),  # a tie promotes: the newer data wins
        (0.81, 0.80, False, True),
        (0.79, 0.80, False, False),  # worse on the same backtest: the champion stays
        (0.79, 0.80, True, True),  # unless forced
    ],
)
def test_the_gate(new, champion, force, promoted):
    assert should_promote(new, champion, force=force) is promoted


CUTS = [date(2025, 11, 6), date(2026, 5, 5)]
PARAMS = {"data_end": "2026-11-01", "backtest_cuts": "2025-11-06,2026-05-05"}
METRICS = {GATE_METRIC: 0.8, TEST_ROWS_METRIC: 1000.0}


@pytest.mark.parametrize(
    ("params", "metrics", "same"),
    [
        (PARAMS, METRICS, True),
        ({**PARAMS, "data_end": "2026-11-02"}, METRICS, False),  # later data
        ({**PARAMS, "backtest_cuts": "2026-05-05"}, METRICS, False),  # other cuts
        (PARAMS, {**METRICS, TEST_ROWS_METRIC: 999.0}, False),  # sampled otherwise
        (PARAMS, {TEST_ROWS_METRIC: 1000.0}, False),  # a run without the gate metric
    ],
)
def test_the_champion_is_backtested_again_unless_it_tested_the_same_snapshots(
    params, metrics, same
):
    assert (
        same_backtest(params, metrics, data_end=date(2026, 11, 1), cuts=CUTS, test_rows=1000.0)
        is same
    )


def test_a_worse_model_is_registered_but_not_promoted(trained_book, book_copy, monkeypatch):
    data, result, champion = trained_book.data, trained_book.backtest, trained_book.trained
    reruns = []
    monkeypatch.setattr(train_job, "backtest", lambda *args, **kwargs: reruns.append(args))
    worse = {
        population: {**blocks, "model": {**blocks["model"], "auc": blocks["model"]["auc"] - 0.05}}
        for population, blocks in result.overall.items()
        if population in POPULATIONS  # the ranked outcomes (not days to pay or days late)
    }
    second = train_job.register(book_copy, data, dataclasses.replace(result, overall=worse))
    assert not second.registered.promoted
    assert second.registered.version != champion.registered.version
    # the champion's stored backtest was read, not run again (same snapshots)
    assert second.champion_score == result.flat_metrics()[GATE_METRIC] and not reruns
    _, version = tracking.load_champion(book_copy.mlflow_tracking_uri, book_copy.model_name)
    assert version == champion.registered.version


def test_a_champion_tested_on_other_snapshots_is_backtested_again(trained_book, monkeypatch):
    data, result = trained_book.data, trained_book.backtest
    reruns = []
    monkeypatch.setattr(
        train_job, "backtest", lambda *args, **kwargs: reruns.append(kwargs) or result
    )
    late_30 = result.overall["late_30"]
    other = {**result.overall, "late_30": {**late_30, "model": {**late_30["model"], "n": 7}}}
    train_job.champion_backtest(
        trained_book.settings, data, dataclasses.replace(result, overall=other)
    )
    # with the champion's own LightGBM settings
    assert reruns == [{"params": trained_book.trained.model.params}]
