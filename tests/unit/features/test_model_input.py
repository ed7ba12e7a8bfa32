"""model_input: canonical posts as a client sends them (plain dtypes, no nulls in strings)."""

import pandas as pd

from pipelines.features.model_input import model_input
from pipelines.features.stage import MODEL_INPUT_COLUMNS


def test_model_input_keeps_the_input_columns_with_plain_dtypes(demo_posts):
    posts = demo_posts.head(4).copy()
    posts.loc[posts.index[0], "caption"] = None
    posts.loc[posts.index[1], "followers_at_post_time"] = pd.NA
    posts.index = [10, 11, 12, 13]

    out = model_input(posts)

    assert list(out.columns) == list(MODEL_INPUT_COLUMNS)
    assert list(out.index) == [0, 1, 2, 3]
    assert out["followers_at_post_time"].dtype == "float64"
    assert out["followers_at_post_time"].isna().sum() == 1
    assert out["caption"].iloc[0] == "" and out["caption"].dtype == object
    assert out["posted_at"].dt.tz is None
    assert out["posted_at"].iloc[2] == posts["posted_at"].iloc[2].tz_convert(None)
