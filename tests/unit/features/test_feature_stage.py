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


def test_counts_read_before_a_post_matured_are_neither_targets_nor_history(tmp_path,
                                                                           demo_posts):
    posts = demo_posts.sort_values("posted_at").reset_index(drop=True)
    posts["collected_at"] = posts["posted_at"] + pd.Timedelta(hours=72)
    young = posts.index[-200:]
    posts.loc[young, "collected_at"] = posts.loc[young, "posted_at"] + pd.Timedelta(hours=3)
    posts.to_parquet(tmp_path / "posts.parquet")
    manifest = run_features(tmp_path / "posts.parquet", tmp_path / "features.parquet",
                            settings=FeatureSettings(maturity_hours=48))
    table = pd.read_parquet(tmp_path / "features.parquet")
    assert manifest["labels_still_growing"] == 200
    assert table["likes"].isna().sum() == 200
    young_ids = set(posts.loc[young, "post_id"])
    assert table.loc[table["likes"].isna(), "post_id"].isin(young_ids).all()
    # ... and no history: a post's matured count leaves out its account's young posts
    last = table.iloc[-1]
    earlier = posts[(posts["account_id"] == last["account_id"])
                    & (posts["posted_at"] <= last["posted_at"] - pd.Timedelta(hours=48))]
    assert last["f_account_matured_posts"] == (~earlier.index.isin(young)).sum()
    assert earlier.index.isin(young).any()
    at_zero = run_features(tmp_path / "posts.parquet", tmp_path / "again.parquet",
                           settings=FeatureSettings(maturity_hours=0))
    assert at_zero["labels_still_growing"] == 0
