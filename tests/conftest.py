"""Shared fixtures: a small generated book, settings that keep every file in a temp folder, and
one trained book (warehouse + backtest + registered champion) built once per session.

Layers (folders): unit/ hand-written rows and exact values; data/ ingest rules and data
contracts; model/ model behaviour and the promotion gate; e2e/ whole workloads. Tests that take
more than a few seconds are marked `slow`: `pytest -m "not slow"` is the quick run.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from pipelines.settings import Settings

# No network here: Prefect's temporary server must not try to send analytics.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("MPLBACKEND", "Agg")

REPO = Path(__file__).resolve().parents[1]
SMALL_BOOK_END = date(2026, 10, 31)


@pytest.fixture(scope="session")
def small_book_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-year book of 200 customers and 6,000 invoices (seconds to train on)."""
    from synthetic import generate_book, write_book

    out = tmp_path_factory.mktemp("small_book")
    book = generate_book(200, 6_000, seed=11, end_date=SMALL_BOOK_END, years=2.0)
    write_book(book, out)
    return out


def settings_in(folder: Path, **overrides: object) -> Settings:
    """Settings with the warehouse, MLflow store and outputs inside `folder`."""
    values: dict[str, object] = {
        "warehouse_path": folder / "warehouse.duckdb",
        "mlflow_tracking_uri": f"sqlite:///{folder / 'mlflow.db'}",
        "mlflow_artifacts_dir": folder / "mlartifacts",
        "outputs_dir": folder / "outputs",
        "inbox_dir": folder / "inbox",
        **overrides,
    }
    return Settings(_env_file=None, **values)


def set_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """The settings as LATEPAY_* variables, for the CLI and the flows."""
    for name, value in settings.model_dump().items():
        monkeypatch.setenv(f"LATEPAY_{name.upper()}", "" if value is None else str(value))


@pytest.fixture(autouse=True)
def settlements_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every load of every test after the first updates the settlements in place (whatever
    share of the invoices it touched), and the table must then equal a rebuild: a statement that
    changes an invoice's facts without marking it touched fails the test that ran it."""
    import pipelines.ingest as ingest
    from pipelines.warehouse import SCOPE, sql_text

    update = ingest.update_settlements

    def checked(con, touched: str) -> None:
        update(con, touched)
        rebuilt = f"select * from ({sql_text('invoice_settlements').replace(SCOPE, '')})"
        stored = "select * from staging.invoice_settlements"
        wrong = con.execute(
            f"select distinct invoice_id from (({stored} except all {rebuilt}) "
            f"union all ({rebuilt} except all {stored})) order by 1 limit 10"
        ).fetchall()
        assert not wrong, f"settlements updated in place differ from a rebuild for {wrong}"

    monkeypatch.setattr(ingest, "update_settlements", checked)
    monkeypatch.setattr(ingest, "REBUILD_SHARE", float("inf"))


@pytest.fixture
def tmp_settings(tmp_path: Path) -> Settings:
    return settings_in(tmp_path)


@pytest.fixture
def settings_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The same temp settings, also set as LATEPAY_* variables for the CLI and flows."""
    settings = settings_in(tmp_path)
    set_env(settings, monkeypatch)
    return settings


@dataclass
class TrainedBook:
    """The small book loaded, its snapshots built, backtested, and its model registered as
    champion: what most model and scoring tests start from. Never change it in place: take
    `book_copy`."""

    settings: Settings
    data: object  # models.backtest.TrainingData
    backtest: object  # models.backtest.BacktestResult
    trained: object  # pipelines.jobs.train.TrainResult


@pytest.fixture(scope="session")
def trained_book(small_book_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> TrainedBook:
    from pipelines.jobs.ingest import ingest
    from pipelines.jobs.train import backtest, register, training_data
    from pipelines.warehouse import connect

    settings = settings_in(tmp_path_factory.mktemp("trained_book"), sample_dir=small_book_dir)
    ingest(settings, [small_book_dir])
    with connect(settings.warehouse_path) as con:
        data = training_data(con, settings)
    result = backtest(settings, data)
    trained = register(settings, data, result, force_promote=True)
    return TrainedBook(settings, data, result, trained)


@pytest.fixture
def book_copy(trained_book: TrainedBook, tmp_path: Path) -> Settings:
    """Settings on a copy of the trained book's warehouse and MLflow store (the same champion),
    with outputs and inbox of its own: for tests that score, publish, rename or register."""
    source = trained_book.settings
    shutil.copy(source.warehouse_path, tmp_path / "warehouse.duckdb")
    shutil.copy(source.mlflow_tracking_uri.removeprefix("sqlite:///"), tmp_path / "mlflow.db")
    return settings_in(
        tmp_path,
        sample_dir=source.sample_dir,
        mlflow_artifacts_dir=source.mlflow_artifacts_dir,
    )
