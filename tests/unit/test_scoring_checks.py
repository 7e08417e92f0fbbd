"""The checks a scoring run makes before it publishes (pipelines/jobs/score.py)."""

from __future__ import annotations

import pandas as pd

from pipelines.jobs.score import check_features


def test_features_that_cannot_be_right_are_refused():
    features = pd.DataFrame({"a": [None, None], "b": [None, None], "c": [1.0, 2.0]})
    assert check_features(features, ["a", "b", "c"])[0].startswith(
        "2 of 3 numeric features are null for every open invoice"
    )
    assert check_features(features.drop(columns="a"), ["a", "c"])[0].startswith(
        "the champion model expects features the warehouse does not give: ['a']"
    )
    assert check_features(features, ["a", "c"]) == []
