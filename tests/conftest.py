"""Shared fixtures: a small generated book and settings that keep every file in a temp folder."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from pipelines.settings import Settings
from pipelines.synthetic import generate_book, write_book

REPO = Path(__file__).resolve().parents[1]
SMALL_BOOK_END = date(2026, 10, 31)


@pytest.fixture(scope="session")
def small_book_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-year book of 200 customers and 6,000 invoices (seconds to train on)."""
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
    return Settings(**values)


@pytest.fixture
def tmp_settings(tmp_path: Path) -> Settings:
    return settings_in(tmp_path)


@pytest.fixture
def settings_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The same temp settings, also set as LATEPAY_* variables for the CLI and flows."""
    settings = settings_in(tmp_path)
    for name, value in settings.model_dump().items():
        monkeypatch.setenv(f"LATEPAY_{name.upper()}", "" if value is None else str(value))
    return settings
