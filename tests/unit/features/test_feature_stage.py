"""The feature stage's outputs: the table, the growth periods and the embedding cache."""

import pandas as pd

from pipelines.config import FeatureSettings
from pipelines.features.embedding_cache import read_cache
from pipelines.features.follower_growth import TARGET
from pipelines.features.stage import run_features


def test_stage_writes_periods_and_an_empty_cache_without_text(tmp_path, demo_posts):
    demo_posts.to_parquet(tmp_path / "posts.parquet")
    cache = tmp_path / "store" / "caption_embeddings.parquet"
    run_features(tmp_path / "posts.parquet", tmp_path / "features.parquet",
                 embedding_cache=cache, periods_path=tmp_path / "periods.parquet",
                 settings=FeatureSettings())
    hashes, vectors = read_cache(cache, dim=384)
    assert len(hashes) == 0 and vectors.shape == (0, 384)  # exists, so DVC can track it
    periods = pd.read_parquet(tmp_path / "periods.parquet")
    assert periods["follower_growth"].equals(periods[TARGET])
    assert periods.groupby(["account_id", "platform"]).ngroups == demo_posts.groupby(
        ["account_id", "platform"]).ngroups
