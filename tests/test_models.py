"""Model behaviour on a small generated book: monotone in the obvious directions, blind to names,
time-ordered evaluation ahead of the baselines, and the champion gate."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from features.runner import build_features
from models.dataset import label_snapshots
from models.train import CALIBRATION_SHARE, DEFAULT_PARAMS, _platt
from pipelines import cli, jobs, tracking
from pipelines.warehouse import connect
from tests.conftest import settings_in


@pytest.fixture(scope="module")
def trained(small_book_dir, tmp_path_factory):
    settings = settings_in(tmp_path_factory.mktemp("models"))
    jobs.ingest(settings, [small_book_dir])
    with connect(settings.warehouse_path) as con:
        data = jobs.training_data(con, settings)
    result = jobs.backtest(settings, data)
    return settings, data, result


@pytest.fixture(scope="module")
def model(trained):
    settings, data, _ = trained
    labelled = label_snapshots(data.features, data.outcomes, known_at=data.data_end)
    return jobs._fit(settings, labelled)


@pytest.fixture(scope="module")
def open_now(trained):
    settings, data, _ = trained
    with connect(settings.warehouse_path) as con:
        return build_features(con, [data.data_end])


def test_backtest_beats_both_baselines(trained):
    _, _, result = trained
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


def test_young_snapshots_have_their_own_calibration(model, open_now):
    """Invoices at most YOUNG_DAYS old get the young slope and shift on top of the others; a
    model saved with two numbers per target still predicts as it did."""
    from models.train import YOUNG_DAYS

    young = (open_now["days_since_issue"] <= YOUNG_DAYS).to_numpy()
    assert 0 < young.sum() < len(open_now)
    plain = dataclasses.replace(model, calibration={"p_late": (1.0, 0.0, 0.0, 0.0)})
    shifted = dataclasses.replace(model, calibration={"p_late": (1.0, 0.0, 0.0, 1.0)})
    legacy = dataclasses.replace(model, calibration={"p_late": (1.0, 0.0)})
    p, q = plain.predict(open_now)["p_late"], shifted.predict(open_now)["p_late"]
    pending = (open_now["days_past_due"] <= 0).to_numpy()
    logit = lambda x: np.log(x / (1 - x))  # noqa: E731
    np.testing.assert_allclose(logit(q[young & pending]), logit(p[young & pending]) + 1.0)
    assert q[~young].equals(p[~young])
    assert legacy.predict(open_now)["p_late"].equals(p)
    # the fitted calibration of the small book does use them
    assert model.calibration["p_late"][2:] != (0.0, 0.0)


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


def test_backtest_is_time_ordered(trained):
    *_, result = trained
    rows = result.predictions
    assert len(result.cuts) == 2
    for cut in result.cuts:
        tested = rows[rows["cut"] == cut]
        assert (tested["as_of"] >= pd.Timestamp(cut)).all()
    # the first cut's test period stops at the second cut
    first = rows[rows["cut"] == result.cuts[0]]
    assert (first["as_of"] < pd.Timestamp(result.cuts[1])).all()


def test_more_days_overdue_never_lowers_risk_on_average(model, open_now):
    before = model.predict(open_now)["p_late_30"].mean()
    later = open_now.assign(
        days_past_due=open_now["days_past_due"] + 30,
        days_since_issue=open_now["days_since_issue"] + 30,
    )
    assert model.predict(later)["p_late_30"].mean() >= before


def test_a_worse_history_never_lowers_risk_on_average(model, open_now):
    before = model.predict(open_now)
    worse = open_now.copy()
    # the state model's estimate summarises the same history: it worsens with it
    for column in (
        "share_paid_late",
        "share_paid_late_365d",
        "share_paid_late_90d",
        "state_p_late",
    ):
        worse[column] = np.minimum(worse[column].fillna(0) + 0.3, 1.0)
    for column in (
        "avg_days_late",
        "avg_days_late_365d",
        "avg_days_late_90d",
        "avg_days_late_last5",
    ):
        worse[column] = worse[column].fillna(0) + 15
    after = model.predict(worse)
    pending = open_now["days_past_due"] <= 0
    assert after["p_late"][pending].mean() >= before["p_late"][pending].mean()
    assert after["p_late_30"].mean() >= before["p_late_30"].mean()


def test_already_overdue_invoices_are_late(model, open_now):
    overdue = open_now["days_past_due"] > 0
    assert overdue.any()
    assert (model.predict(open_now)["p_late"][overdue] == 1.0).all()


def test_renaming_customers_and_invoices_changes_nothing(trained, model, open_now):
    settings, data, _ = trained
    with connect(settings.warehouse_path) as con:
        for table, columns in {
            "staging.customers": ["customer_id"],
            "staging.invoices": ["invoice_id", "customer_id"],
            "staging.payments": ["invoice_id"],
            "staging.disputes": ["invoice_id"],
            "staging.invoice_settlements": ["invoice_id", "customer_id"],
        }.items():
            sets = ", ".join(f"{c} = 'renamed-' || {c}" for c in columns)
            con.execute(f"update {table} set {sets}")
        renamed = build_features(con, [data.data_end])
    assert (renamed["invoice_id"] == "renamed-" + open_now["invoice_id"]).all()
    pd.testing.assert_frame_equal(model.predict(renamed), model.predict(open_now))


def test_a_worse_model_is_not_promoted(trained, tmp_path):
    _, data, result = trained
    settings = settings_in(tmp_path)
    first = jobs.register(settings, data, result, force_promote=False)
    assert first.registered.promoted  # no champion yet: the first model is promoted
    overall = {
        population: {**blocks, "model": {**blocks["model"], "auc": blocks["model"]["auc"] - 0.05}}
        for population, blocks in result.overall.items()
        if population != "days_to_pay"
    }
    worse = dataclasses.replace(result, overall=overall)
    second = jobs.register(settings, data, worse, force_promote=False)
    assert not second.registered.promoted
    _, version = tracking.load_champion(settings.mlflow_tracking_uri, settings.model_name)
    assert version == first.registered.version
    forced = jobs.register(settings, data, worse, force_promote=True)
    assert forced.registered.promoted
    assert tracking.load_champion(settings.mlflow_tracking_uri, settings.model_name)[1] == (
        forced.registered.version
    )


def test_tuning_chooses_before_the_backtest_and_never_sees_later_outcomes(trained, capsys):
    settings, data, _ = trained
    tuning = jobs.tune(settings, data, trials=3)
    assert tuning.end == jobs.default_cuts(data.data_end)[0] and tuning.cut < tuning.end
    trials = tuning.trials
    assert len(trials) == 3 and trials["score"].notna().all()
    # the first trial is the defaults; the chosen settings are those of the best score
    assert trials.iloc[0][list(jobs.TUNING_SPACE)].to_dict() == pytest.approx(
        {k: DEFAULT_PARAMS[k] for k in jobs.TUNING_SPACE}
    )
    best = trials.loc[trials["score"].idxmax(), list(jobs.TUNING_SPACE)].to_dict()
    assert tuning.params == pytest.approx(best)
    assert trials[list(jobs.TUNING_SPACE)].drop_duplicates().shape[0] == 3
    # outcomes after the first backtest cut, and later snapshots, change nothing
    end = pd.Timestamp(tuning.end)
    features = data.features[data.features["as_of"] < end + pd.Timedelta(days=30)].copy()
    later = features["settled_date"] >= end
    features.loc[later, "settled_date"] += pd.Timedelta(days=90)
    assert later.sum() > 500
    again = jobs.tune(settings, dataclasses.replace(data, features=features), trials=3)
    pd.testing.assert_frame_equal(again.trials, trials)
    cli._print_tuning(tuning)
    printed = capsys.readouterr().out
    assert f"validated up to {tuning.end}" in printed
    assert f"trial {trials['score'].idxmax() + 1} chosen" in printed


def test_a_negative_number_of_tuning_trials_is_refused():
    result = CliRunner().invoke(cli.app, ["train", "--tune", "-1"], terminal_width=160)
    assert result.exit_code == 2 and "greater than or equal to 0" in result.output


def test_tuning_needs_history_before_the_backtest(trained):
    settings, data, _ = trained
    end = pd.Timestamp(jobs.default_cuts(data.data_end)[0])
    short = data.features[data.features["as_of"] >= end - pd.Timedelta(days=30)]
    with pytest.raises(jobs.InsufficientData, match="train without --tune"):
        jobs.tune(settings, dataclasses.replace(data, features=short), trials=2)


def test_the_gate_backtests_the_champion_again_when_its_test_snapshots_differ(
    trained, tmp_path, monkeypatch
):
    # same data end and cut dates, but a training set sampled otherwise: its stored AUC was
    # measured on other snapshots, so the champion is backtested again on this one
    _, data, result = trained
    settings = settings_in(tmp_path)
    jobs.register(settings, data, result, force_promote=True)
    reruns = []
    monkeypatch.setattr(jobs, "backtest", lambda *args, **kwargs: reruns.append(args) or result)
    stored = jobs.champion_backtest(settings, data, result)
    assert stored == result.flat_metrics()[jobs.GATE_METRIC] and not reruns
    late_30 = result.overall["late_30"]
    other = {**result.overall, "late_30": {**late_30, "model": {**late_30["model"], "n": 7}}}
    jobs.champion_backtest(settings, data, dataclasses.replace(result, overall=other))
    assert len(reruns) == 1


@pytest.mark.parametrize(
    ("estimate", "invoices", "expected"),
    [
        (1_500_000, 200_000, (1, 1)),  # fits: every snapshot of every customer
        # first snapshots and half as many later ones (one in 18), every customer
        (2_500_000, 250_000, (18, 1)),
        # the 1M benchmark book: every customer, the first snapshots and one in 11 of the others
        (6_119_559, 948_696, (11, 1)),
        # the 10M book: the same share of the rows, and one customer in 8
        (60_979_491, 9_493_232, (11, 8)),
        (5_000_000, 2_500_000, (2, 2)),  # first snapshots alone exceed the budget
        (3_000_000, 3_000_000, (1, 2)),  # only first snapshots: customers sampled only
    ],
)
def test_training_sample_keeps_first_snapshots_thins_later_ones_then_samples_customers(
    estimate, invoices, expected
):
    assert jobs.training_sample(estimate, invoices, 2_000_000) == expected


@hypothesis_settings(max_examples=300, deadline=None)
@given(
    invoices=st.integers(1, 50_000_000),
    per_invoice=st.floats(1.0, 30.0),
    budget=st.integers(10_000, 5_000_000),
)
def test_training_sample_fits_the_budget_with_no_more_sampling_than_needed(
    invoices, per_invoice, budget
):
    estimate = invoices * per_invoice
    snapshot_one_in, sample_one_in = jobs.training_sample(estimate, invoices, budget)
    if estimate <= budget:
        assert (snapshot_one_in, sample_one_in) == (1, 1)
        return
    rows = jobs.training_rows(estimate, invoices, snapshot_one_in, sample_one_in)
    assert rows <= budget * (1 + 1e-9)
    # about half as many later snapshots as first ones: no more, and not much fewer
    later = estimate - invoices
    assert later / snapshot_one_in <= invoices / 2 * (1 + 1e-9)
    if snapshot_one_in > 1:
        assert later / (snapshot_one_in - 1) > invoices / 2
    # one customer in fewer would not hold them
    assert invoices + min(later, invoices / 2) > budget * (sample_one_in - 1)


def test_a_thinned_training_set_keeps_every_first_snapshot(trained):
    # a book over the snapshot budget: every invoice keeps its first snapshot (issued in the week
    # before the date), the later ones are thinned, and all kept rows are those of the full set
    settings, _, _ = trained
    small = settings.model_copy(update={"max_training_snapshots": 10_000})
    with connect(settings.warehouse_path) as con:  # (another test may have renamed the ids)
        full = jobs.training_data(con, settings)
        thinned = jobs.training_data(con, small)
    assert (thinned.snapshot_one_in, thinned.sample_one_in) == (11, 1)
    assert len(thinned.features) < 10_000 < len(full.features)
    keys = ["invoice_id", "as_of"]
    first = full.features.loc[full.features["days_since_issue"] <= 7, keys]
    assert len(first) > 3_000
    assert len(first.merge(thinned.features[keys])) == len(first)
    kept = full.features.merge(thinned.features[keys]).reset_index(drop=True)
    pd.testing.assert_frame_equal(thinned.features.reset_index(drop=True), kept)


def test_batches_of_dates_give_the_same_training_set(trained):
    # memory: the training set is built a few snapshot dates at a time; the batching must not
    # change a single value, nor leave DuckDB's memory limit changed
    settings, _, _ = trained
    with connect(settings.warehouse_path) as con:  # (another test may have renamed the ids)
        limit = con.execute("select current_setting('memory_limit')").fetchall()
        data = jobs.training_data(con, settings)
        batched = jobs.training_data(con, settings, snapshots_per_batch=2_000)
        assert con.execute("select current_setting('memory_limit')").fetchall() == limit
    assert data.features["as_of"].nunique() > 3 * 8  # several batches of dates, really
    pd.testing.assert_frame_equal(batched.features, data.features)
    pd.testing.assert_frame_equal(batched.outcomes, data.outcomes)
    for column in jobs.CATEGORICAL_FEATURES:
        assert isinstance(data.features[column].dtype, pd.CategoricalDtype)
    # outcomes of the snapshot invoices only, attached once
    assert set(data.outcomes["invoice_id"]) == set(data.features["invoice_id"])


def test_train_builds_the_snapshots_once_for_backtest_and_final_fit(trained, tmp_path, monkeypatch):
    settings, _, _ = trained
    settings = settings.model_copy(
        update={
            "mlflow_tracking_uri": f"sqlite:///{tmp_path / 'mlflow.db'}",
            "mlflow_artifacts_dir": tmp_path / "mlartifacts",
        }
    )
    builds, fits = [], []
    build_features, fit_risk_model = jobs.build_features, jobs.fit_risk_model

    def counted_build(con, dates, **kwargs):
        builds.append(list(dates))
        return build_features(con, dates, **kwargs)

    def recorded_fit(train, *args, **kwargs):
        fits.append(train)
        return fit_risk_model(train, *args, **kwargs)

    monkeypatch.setattr(jobs, "build_features", counted_build)
    monkeypatch.setattr(jobs, "fit_risk_model", recorded_fit)
    result = jobs.train(settings, force_promote=True)
    assert len(builds) == 1  # one batch on this small book, and no second build
    *backtest_fits, final = fits
    assert len(backtest_fits) == len(result.backtest.cuts) == 2
    columns = [c for c in final.columns if c not in jobs.LABEL_COLUMNS]
    for cut, train in zip(result.backtest.cuts, backtest_fits, strict=True):
        # the backtest's training rows are the final set's rows dated before the cut, with the
        # same features (only the labels differ: known at the cut)
        before = final[final["as_of"] < pd.Timestamp(cut)]
        pd.testing.assert_frame_equal(train[columns], before[columns])
        assert train["late"].notna().sum() < before["late"].notna().sum()
