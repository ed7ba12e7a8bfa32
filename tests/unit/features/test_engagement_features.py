import numpy as np
import pandas as pd
import pytest

from pipelines.features.account_history import HISTORY_COLUMNS, INTERACTION_COLUMNS
from pipelines.features.engagement_features import (
    FeatureSettings,
    build_features,
    feature_set_hash,
    tabular_columns,
)
from pipelines.features.post_features import FEATURE_COLUMNS


def test_all_groups_without_text(demo_posts):
    table = build_features(demo_posts, FeatureSettings())
    assert list(table.columns) == [f"f_{c}" for c in tabular_columns(FeatureSettings())]
    assert len(table.columns) == len(FEATURE_COLUMNS) + len(INTERACTION_COLUMNS) + \
        len(HISTORY_COLUMNS)
    assert not table.isna().any().any()
    assert table.index.equals(demo_posts.index)


def test_groups_can_be_switched_off(demo_posts):
    settings = FeatureSettings(account_history=False, interactions=False)
    table = build_features(demo_posts, settings)
    assert list(table.columns) == [f"f_{c}" for c in FEATURE_COLUMNS]
    assert feature_set_hash(settings) != feature_set_hash(FeatureSettings())


def test_a_posts_own_likes_never_change_its_features(demo_posts):
    posts = demo_posts.head(400)
    changed = posts.copy()
    changed.loc[changed.index[-1], "likes"] = 10**9
    np.testing.assert_array_equal(build_features(posts, FeatureSettings()).iloc[-1],
                                  build_features(changed, FeatureSettings()).iloc[-1])


def test_text_needs_a_cache_location(demo_posts):
    with pytest.raises(ValueError, match="need 'embedding_cache'"):
        build_features(demo_posts.head(5), FeatureSettings(text_embeddings=True))


@pytest.mark.parametrize("field,value,message", [
    ("maturity_hours", -1, r"'features.maturity_hours' must be a number >= 0; got -1"),
    ("text_backend", "gpu", r"'features.text_backend' must be 'onnx_int8' or 'torch'"),
    ("text_components", 0, r"'features.text_components' must be an int in \[1, 384\]; got 0"),
])
def test_settings_are_validated(project_root, field, value, message):
    from pipelines.config import load_settings

    with pytest.raises(ValueError, match=message):
        load_settings(project_root / "params.yaml", {f"features.{field}": value})
    with pytest.raises(ValueError, match=message):
        FeatureSettings(**{field: value})


def test_history_uses_only_matured_earlier_posts():
    t0 = pd.Timestamp("2026-01-01", tz="UTC")
    posts = pd.DataFrame({
        "post_id": ["a", "b", "c"], "account_id": "acct", "platform": "instagram",
        "content_type": "image", "caption": "x", "hashtags_count": 0, "mentions_count": 0,
        "urls_count": 0, "media_count": 1, "followers_at_post_time": 1000,
        "posted_at": [t0, t0 + pd.Timedelta(hours=50), t0 + pd.Timedelta(hours=60)],
        "likes": [99, 5, 7], "comments": 0, "shares": 0,
    })
    table = build_features(posts, FeatureSettings(maturity_hours=48))
    # c (60 h) sees a (60 h old, matured) but not b (10 h old)
    assert table.loc[2, "f_account_matured_posts"] == 1
    assert table.loc[2, "f_account_mean_log_likes_all"] == pytest.approx(np.log1p(99))
    assert table.loc[2, "f_prev_posts_count"] == 2


def test_featurizer_equals_the_builder_on_its_fitted_posts(demo_posts):
    from pipelines.features.engagement_features import EngagementFeaturizer

    featurizer = EngagementFeaturizer.from_settings(FeatureSettings()).fit(demo_posts)
    expected = build_features(demo_posts, FeatureSettings())
    np.testing.assert_allclose(featurizer.transform(demo_posts).to_numpy(),
                               expected.to_numpy())


def test_featurizer_ignores_the_outcomes_of_new_posts(demo_posts):
    from pipelines.features.engagement_features import EngagementFeaturizer

    featurizer = EngagementFeaturizer.from_settings(FeatureSettings()).fit(
        demo_posts.head(1000))
    new = demo_posts.tail(200)
    np.testing.assert_array_equal(featurizer.transform(new).to_numpy(),
                                  featurizer.transform(new.assign(likes=0)).to_numpy())


def test_text_settings_need_a_fitted_reducer():
    from pipelines.features.engagement_features import EngagementFeaturizer

    with pytest.raises(ValueError, match="need a TextReducer fitted on the training rows"):
        EngagementFeaturizer.from_settings(FeatureSettings(text_embeddings=True))


def test_a_featurizer_fitted_before_post_kinds_reads_posts_with_or_without_them(demo_posts):
    """A model registered before schema 1.1 has no kind columns; its callers may or may not
    send post_kind, and it answers both the same."""
    from pipelines.features.batch_features import feature_matrix
    from pipelines.features.engagement_features import EngagementFeaturizer

    featurizer = EngagementFeaturizer.from_settings(FeatureSettings()).fit(demo_posts)
    featurizer.feature_names_ = [c for c in featurizer.feature_names_    # as pickled before
                                 if not c.startswith("kind_") and not c.endswith("_frac_all")]
    featurizer.history_.history_ = featurizer.history_.history_.drop(columns="kind")
    posts = demo_posts.tail(50)
    assert posts["post_kind"].notna().all()
    with_kind = featurizer.transform(posts)
    without = featurizer.transform(posts.drop(columns=["post_kind"]))
    assert list(with_kind.columns) == featurizer.feature_names_
    pd.testing.assert_frame_equal(with_kind, without)
    np.testing.assert_array_equal(feature_matrix(featurizer, posts.drop(columns=["post_kind"])),
                                  with_kind.to_numpy())


def test_feature_table_rows_reuse_their_own_embeddings_and_every_other_text_is_encoded(
        tmp_path, demo_posts, text_model_cache_dir, monkeypatch):
    """Evaluation and the gate predict for feature-table rows: their stored embedding is the
    one training saw and is reused where the row's text key is the model's; an edited
    caption, a served post or another text setting is embedded by the encoder."""
    from pipelines.features import text_embeddings as te
    from pipelines.features.engagement_features import (
        TEXT_HASH_COLUMN,
        EngagementFeaturizer,
        embedding_columns,
    )
    from pipelines.features.stage import build_feature_table

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    settings = FeatureSettings(text_embeddings=True, text_components=4)
    posts = demo_posts.head(60)
    table = build_feature_table(posts, settings, embedding_cache=tmp_path / "cache.parquet",
                                model_cache_dir=text_model_cache_dir)
    assert table[TEXT_HASH_COLUMN].notna().all()
    stored = table[embedding_columns(settings)].to_numpy(np.float32)
    reducer = te.TextReducer(4, random_state=0).fit(stored)
    asked: list[str] = []
    real = te.get_encoder

    class Recording:  # the real encoder, recording what it is asked to embed
        def __init__(self, backend, cache_dir):
            self.encoder = real(backend, cache_dir)

        def encode(self, texts, batch_size):
            asked.extend(texts)
            return self.encoder.encode(texts, batch_size=batch_size)

    monkeypatch.setattr(te, "get_encoder", Recording)
    featurizer = EngagementFeaturizer.from_settings(
        settings, text_reducer=reducer, model_cache_dir=text_model_cache_dir).fit(posts)
    rows = table.copy()
    rows.loc[3, "caption"] = "an edited caption"
    text = [f"text_svd_{i}" for i in range(4)]

    out = featurizer.transform(rows)[text].to_numpy()

    assert asked == ["an edited caption"]
    kept = np.arange(len(rows)) != 3
    np.testing.assert_allclose(out[kept], reducer.transform(stored)[kept], atol=1e-6)
    assert not np.allclose(out[3], reducer.transform(stored)[3], atol=1e-3)
    asked.clear()
    featurizer.transform(posts.head(5))  # served posts carry no stored embedding
    assert len(asked) == 5
    asked.clear()
    with_account = EngagementFeaturizer.from_settings(
        FeatureSettings(text_embeddings=True, text_components=4, text_with_account=True),
        text_reducer=reducer, model_cache_dir=text_model_cache_dir).fit(posts)
    with_account.transform(table)  # the rows' key is of the caption alone: all encoded
    assert len(asked) == len(table)
