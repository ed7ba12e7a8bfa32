import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.config import FeatureSettings
from pipelines.features.post_features import (
    FEATURE_COLUMNS,
    INPUT_COLUMNS,
    build_post_features,
    caption_counts,
)
from pipelines.features.stage import build_feature_table, run_features


def _post(**overrides) -> pd.DataFrame:
    post = {"platform": "linkedin", "content_type": "video",
            "posted_at": pd.Timestamp("2026-03-07T18:30:00Z"),  # a Saturday
            "caption": "Big launch today #news", "hashtags_count": 1, "mentions_count": 0,
            "urls_count": 2, "media_count": 1, "followers_at_post_time": 999}
    post.update(overrides)
    return pd.DataFrame([post])


def test_features_of_a_known_post():
    row = build_post_features(_post()).iloc[0]
    assert list(row.index) == list(FEATURE_COLUMNS)
    assert (row["hour"], row["weekday"], row["month"], row["is_weekend"]) == (18, 5, 3, 1)
    assert row["platform_linkedin"] == 1 and row["platform_twitter"] == 0
    assert row["content_video"] == 1 and row["content_image"] == 0
    assert row["caption_chars"] == 22 and row["caption_words"] == 4
    assert row["log_followers"] == pytest.approx(np.log(1000))


def test_a_post_kind_sets_its_indicator_and_an_original_or_unsaid_one_none():
    kinds = ("reply", "quote", "share")
    for kind in kinds:
        row = build_post_features(_post(post_kind=kind)).iloc[0]
        assert row[f"kind_{kind}"] == 1
        assert all(row[f"kind_{other}"] == 0 for other in kinds if other != kind)
    for unsaid in ("original", None, pd.NA):
        row = build_post_features(_post(post_kind=unsaid)).iloc[0]
        assert all(row[f"kind_{k}"] == 0 for k in kinds)
    # a caller of a model trained before the column existed does not send it
    without = build_post_features(_post()).iloc[0]
    assert "post_kind" not in _post().columns
    assert all(without[f"kind_{k}"] == 0 for k in kinds)


def test_naive_timestamps_are_utc_and_other_zones_are_converted():
    naive = build_post_features(_post(posted_at=pd.Timestamp("2026-03-07 18:30")))
    paris = build_post_features(_post(posted_at=pd.Timestamp("2026-03-07 19:30",
                                                             tz="Europe/Paris")))
    assert naive["hour"].iloc[0] == paris["hour"].iloc[0] == 18


def test_missing_optional_counts_and_caption_do_not_produce_nan():
    row = build_post_features(_post(urls_count=None, media_count=pd.NA, caption=None))
    assert not row.isna().any().any()
    assert row["urls_count"].iloc[0] == 0 and row["caption_chars"].iloc[0] == 0


def test_missing_input_columns_are_named():
    with pytest.raises(ValueError, match=r"missing column\(s\) \['followers_at_post_time'\]"):
        build_post_features(_post().drop(columns=["followers_at_post_time"]))


def test_feature_table_is_time_ordered_and_carries_inputs(demo_posts):
    shuffled = demo_posts.sample(frac=1.0, random_state=0)
    table = build_feature_table(shuffled, FeatureSettings())
    assert table["posted_at"].is_monotonic_increasing
    assert set(INPUT_COLUMNS) <= set(table.columns)
    assert {f"f_{c}" for c in FEATURE_COLUMNS} <= set(table.columns)
    assert len(table) == len(demo_posts)


def test_stage_writes_table_and_manifest(tmp_path, demo_posts):
    demo_posts.to_parquet(tmp_path / "validated.parquet")
    manifest = run_features(tmp_path / "validated.parquet", tmp_path / "f" / "posts.parquet",
                            settings=FeatureSettings())
    assert manifest["rows"] == len(demo_posts)
    from pipelines.features import engagement_features

    assert manifest["feature_set_hash"] == engagement_features.feature_set_hash(FeatureSettings())
    assert manifest["feature_columns"] == engagement_features.tabular_columns(FeatureSettings())
    assert (tmp_path / "f" / "posts.json").exists()


# caption counts without a Python call per caption equal len() and len(str.split())
_TEXT = st.text(alphabet=st.one_of(
    st.sampled_from([" ", "\t", "\n", "\x0b", "\x1c", "\x1f", "\x85", "\xa0", "\u1680",
                     "\u2000", "\u200a", "\u200b", "\u2028", "\u202f", "\u205f", "\u3000",
                     "\ufeff", "a", "é", "😀", "#"]),
    st.characters(blacklist_categories=("Cs",))), max_size=40)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(st.none(), _TEXT), max_size=12))
def test_caption_counts_equal_len_and_str_split(captions):
    chars, words = caption_counts(pd.Series(captions, dtype="string"))
    assert chars.tolist() == [len(c or "") for c in captions]
    assert words.tolist() == [len((c or "").split()) for c in captions]
