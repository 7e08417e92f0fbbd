"""Categorical codes as the model numbers its levels: missing, unseen and empty columns."""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.train import _category_codes

LEVELS = ["DE", "FR", "GB"]


def test_codes_of_text_values():
    values = pd.Series(["FR", None, "GB", "ES", "DE"])
    assert _category_codes(values, LEVELS).tolist() == [1, -1, 2, -1, 0]


def test_codes_of_a_categorical_with_unseen_and_missing_values():
    values = pd.Series(pd.Categorical(["GB", None, "ES", "FR"]))
    assert _category_codes(values, LEVELS).tolist() == [2, -1, -1, 1]


def test_a_categorical_column_with_no_category_at_all():
    """No customers file: country, segment and channel have no level (this crashed training)."""
    values = pd.Series(pd.Categorical([None, None, None]))
    codes = _category_codes(values, LEVELS)
    assert codes.tolist() == [-1, -1, -1]
    assert codes.dtype == np.int64


def test_no_levels_in_training():
    assert _category_codes(pd.Series(pd.Categorical(["FR", None])), []).tolist() == [-1, -1]
    assert _category_codes(pd.Series(["FR", None]), []).tolist() == [-1, -1]
