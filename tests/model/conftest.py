"""The trained book's model and the invoices open at its data end."""

from __future__ import annotations

import pandas as pd
import pytest

from features.runner import build_features
from models.train import RiskModel
from pipelines.warehouse import connect


@pytest.fixture(scope="session")
def model(trained_book) -> RiskModel:
    return trained_book.trained.model


@pytest.fixture(scope="session")
def open_now(trained_book) -> pd.DataFrame:
    with connect(trained_book.settings.warehouse_path, read_only=True) as con:
        return build_features(con, [trained_book.data.data_end])
