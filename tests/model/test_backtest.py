"""The training set, the rolling-origin backtest and tuning on the trained book: time-ordered,
ahead of both baselines, tuning blind to the backtest's periods."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from features.catalog import CATEGORICAL_FEATURES
from models.backtest import default_cuts
from models.labels import LABEL_COLUMNS
from models.train import CALIBRATION_SHARE, DEFAULT_PARAMS, InsufficientData, _platt, size_params
from models.tune import TUNING_SPACE, tune
from pipelines.console import tuning as print_tuning
from pipelines.jobs import train as train_job
from pipelines.jobs.train import config, training_data
from pipelines.warehouse import connect


def test_backtest_beats_both_baselines(trained_book):
    result = trained_book.backtest
    for population in ("late", "late_30"):
        blocks = result.overall[population]
        assert blocks["model"]["n"] > 500
        for baseline in ("baseline_aging", "baseline_prior_late_rate"):
            assert blocks["model"]["auc"] > blocks[baseline]["auc"], (population, baseline)
            assert blocks["model"]["capture_top20"] > blocks[baseline]["capture_top20"]
    late = result.overall["late"]
    assert late["model"]["brier"] < late["baseline_prior_late_rate"]["brier"]
    # calibrated: better than the prior rate, within a few points on this small book
    assert late["model"]["ece"] < min(late["baseline_prior_late_rate"]["ece"], 0.08)


def test_backtest_is_time_ordered(trained_book):
    result = trained_book.backtest
    rows = result.predictions
    assert len(result.cuts) == 6  # a small book (models.backtest.backtest_cuts)
    for cut in result.cuts:
        tested = rows[rows["cut"] == cut]
        assert (tested["as_of"] >= pd.Timestamp(cut)).all()
    # the first cut's test period stops at the second cut
    first = rows[rows["cut"] == result.cuts[0]]
    assert (first["as_of"] < pd.Timestamp(result.cuts[1])).all()


def test_the_calibration_booster_sees_one_snapshot_per_invoice_of_the_earlier_dates():
    rng = np.random.default_rng(0)
    dates = pd.date_range("2024-01-01", periods=10, freq="7D")
    train = pd.DataFrame(
        {
            "invoice_id": np.repeat([f"I{i}" for i in range(60)], 10),
            "as_of": np.tile(dates, 60),
            "days_since_issue": np.tile(np.arange(0, 70, 7), 60),
            "late": rng.integers(0, 2, 600).astype(float),
        }
    )
    x = train[["late"]].to_numpy() + rng.normal(0, 1, (600, 1))
    fitted = []

    class Booster:
        def predict(self, rows, raw_score):
            return rows[:, 0]

    def fit(rows, label, objective, rounds):
        fitted.append(rows)
        return Booster()

    ids = pd.factorize(train["invoice_id"])[0]
    slope, *_ = _platt(train, x, ids, np.arange(600), "late", fit, 200, 0)
    (rows,) = fitted
    cut = dates[int(len(dates) * (1 - CALIBRATION_SHARE))]
    assert (train["as_of"].iloc[rows] < cut).all()
    assert sorted(train["invoice_id"].iloc[rows]) == sorted(train["invoice_id"].unique())
    assert slope > 0  # the late rows' scores do rank the labels


def test_tuning_chooses_before_the_backtest_and_never_sees_later_outcomes(trained_book, capsys):
    data, settings = trained_book.data, trained_book.settings
    tuning = tune(data, config(settings), trials=3)
    assert tuning.end == default_cuts(data.data_end)[0] and tuning.cut < tuning.end
    trials = tuning.trials
    assert len(trials) == 3 and trials["score"].notna().all()
    # the first trial is the defaults, sized for the validation's training invoices (a small
    # book: models.train.size_params); the chosen settings are those of the best score
    trained = data.features.loc[data.features["as_of"] < pd.Timestamp(tuning.cut), "invoice_id"]
    sized = {**DEFAULT_PARAMS, **size_params(trained.nunique())[0]}
    assert sized["num_leaves"] < DEFAULT_PARAMS["num_leaves"]
    assert trials.iloc[0][list(TUNING_SPACE)].to_dict() == pytest.approx(
        {k: sized[k] for k in TUNING_SPACE}
    )
    best = trials.loc[trials["score"].idxmax(), list(TUNING_SPACE)].to_dict()
    assert tuning.params == pytest.approx(best)
    assert trials[list(TUNING_SPACE)].drop_duplicates().shape[0] == 3
    # outcomes after the first backtest cut, and later snapshots, change nothing
    end = pd.Timestamp(tuning.end)
    features = data.features[data.features["as_of"] < end + pd.Timedelta(days=30)].copy()
    later = features["settled_date"] >= end
    features.loc[later, "settled_date"] += pd.Timedelta(days=90)
    assert later.sum() > 500
    again = tune(dataclasses.replace(data, features=features), config(settings), trials=3)
    pd.testing.assert_frame_equal(again.trials, trials)
    print_tuning(tuning)
    printed = capsys.readouterr().out
    assert f"validated up to {tuning.end}" in printed
    assert f"trial {trials['score'].idxmax() + 1} chosen" in printed


def test_tuning_needs_history_before_the_backtest(trained_book):
    data = trained_book.data
    end = pd.Timestamp(default_cuts(data.data_end)[0])
    short = data.features[data.features["as_of"] >= end - pd.Timedelta(days=30)]
    with pytest.raises(InsufficientData, match="train without --tune"):
        tune(dataclasses.replace(data, features=short), config(trained_book.settings), trials=2)


def test_a_thinned_training_set_keeps_every_first_snapshot(trained_book):
    # a book over the snapshot budget: every invoice keeps its first snapshot (issued in the week
    # before the date), the later ones are thinned, and all kept rows are those of the full set
    settings, full = trained_book.settings, trained_book.data
    small = settings.model_copy(update={"max_training_snapshots": 10_000})
    with connect(settings.warehouse_path, read_only=True) as con:
        thinned = training_data(con, small)
    assert (thinned.snapshot_one_in, thinned.sample_one_in) == (11, 1)
    assert len(thinned.features) < 10_000 < len(full.features)
    keys = ["invoice_id", "as_of"]
    first = full.features.loc[full.features["days_since_issue"] <= 7, keys]
    assert len(first) > 3_000
    assert len(first.merge(thinned.features[keys])) == len(first)
    kept = full.features.merge(thinned.features[keys]).reset_index(drop=True)
    pd.testing.assert_frame_equal(thinned.features.reset_index(drop=True), kept)


def test_batches_of_dates_give_the_same_training_set(trained_book):
    # memory: the training set is built a few snapshot dates at a time; the batching must not
    # change a single value, nor leave DuckDB's memory limit changed
    settings, data = trained_book.settings, trained_book.data
    with connect(settings.warehouse_path, read_only=True) as con:
        limit = con.execute("select current_setting('memory_limit')").fetchall()
        batched = training_data(con, settings, snapshots_per_batch=2_000)
        assert con.execute("select current_setting('memory_limit')").fetchall() == limit
    assert data.features["as_of"].nunique() > 3 * 8  # several batches of dates, really
    pd.testing.assert_frame_equal(batched.features, data.features)
    pd.testing.assert_frame_equal(batched.outcomes, data.outcomes)
    for column in CATEGORICAL_FEATURES:
        assert isinstance(data.features[column].dtype, pd.CategoricalDtype)
    # outcomes of the snapshot invoices only, attached once
    assert set(data.outcomes["invoice_id"]) == set(data.features["invoice_id"])


@pytest.mark.slow
def test_train_builds_the_snapshots_once_for_backtest_and_final_fit(book_copy, monkeypatch):
    import models.backtest

    builds, fits = [], []
    build_features, fit_risk_model = train_job.build_features, models.backtest.fit_risk_model

    def counted_build(con, dates, **kwargs):
        builds.append(list(dates))
        return build_features(con, dates, **kwargs)

    def recorded_fit(train, *args, **kwargs):
        fits.append(train)
        return fit_risk_model(train, *args, **kwargs)

    monkeypatch.setattr(train_job, "build_features", counted_build)
    monkeypatch.setattr(models.backtest, "fit_risk_model", recorded_fit)
    result = train_job.train(book_copy, force_promote=True)
    assert len(builds) == 1  # one batch on this small book, and no second build
    *backtest_fits, final = fits
    assert len(backtest_fits) == len(result.backtest.cuts) == 6  # a small book
    columns = [c for c in final.columns if c not in LABEL_COLUMNS]
    for cut, train in zip(result.backtest.cuts, backtest_fits, strict=True):
        # the backtest's training rows are the final set's rows dated before the cut, with the
        # same features (only the labels differ: known at the cut)
        before = final[final["as_of"] < pd.Timestamp(cut)]
        pd.testing.assert_frame_equal(train[columns], before[columns])
        assert train["late"].notna().sum() < before["late"].notna().sum()


def test_the_report_shows_parameters_the_training_run_logs(trained_book):
    from pipelines import tracking
    from pipelines.publish.report import REPORTED_PARAMS

    settings = trained_book.settings
    params, _ = tracking.champion_run(settings.mlflow_tracking_uri, settings.model_name)
    assert set(REPORTED_PARAMS) <= set(params)
    # LightGBM's size, as models.train.size_params chose it for the final fit's invoices
    invoices = trained_book.data.features["invoice_id"].nunique()
    sized, rounds = size_params(invoices)
    assert (params["num_leaves"], params["min_data_in_leaf"], params["rounds"]) == (
        str(sized["num_leaves"]),
        str(sized["min_data_in_leaf"]),
        str(rounds),
    )


def test_days_late_at_issue_are_measured_even_with_under_180_days_after_the_last_cut(
    trained_book, capsys
):
    from pipelines.cli import backtest_summary
    from pipelines.console import backtest as print_backtest

    result = trained_book.backtest
    assert (result.data_end - max(result.cuts)).days < 180
    d = result.overall["days_late_at_issue"]
    assert d["n"] > 100
    model, baseline = d["model"], d["baseline_customer_median"]
    assert 0 < model["mae_days"] < 90 and 0 < baseline["mae_days"] < 90, d
    assert 0.5 < model["p10_p90_coverage"] <= 1
    flat = result.flat_metrics()
    assert flat["backtest_days_late_at_issue_model_mae_days"] == model["mae_days"]
    summary = backtest_summary(result)["overall"]["populations"]["days_late_at_issue"]
    assert summary["baseline_customer_median"]["mae_days"] == baseline["mae_days"]
    print_backtest(result)
    out = " ".join(capsys.readouterr().out.split())
    assert "Days late at issue (first snapshot" in out, out
