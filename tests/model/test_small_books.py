"""A book of 100 customers and 2,500 invoices over two years, the size of most companies' books:
the model, sized for it (models.train.size_params), is ahead of both baselines, and the backtest
gives each AUC an interval."""

from __future__ import annotations

import pytest

from tests.conftest import SMALL_BOOK_END, settings_in


@pytest.mark.slow
def test_the_model_beats_both_baselines_on_a_small_book(tmp_path):
    from pipelines.jobs.ingest import ingest
    from pipelines.jobs.train import backtest, training_data
    from pipelines.warehouse import connect
    from synthetic import generate_book, write_book

    write_book(generate_book(100, 2_500, seed=0, end_date=SMALL_BOOK_END, years=2.0), tmp_path)
    settings = settings_in(tmp_path / "work")
    ingest(settings, [tmp_path])
    with connect(settings.warehouse_path) as con:
        data = training_data(con, settings)
    result = backtest(settings, data)
    assert len(result.cuts) == 6
    for population in ("late", "late_30"):
        blocks = result.overall[population]
        model = blocks["model"]
        assert model["auc_low"] < model["auc"] < model["auc_high"]
        for baseline in ("baseline_aging", "baseline_prior_late_rate"):
            assert model["auc"] > blocks[baseline]["auc"], (population, baseline)
