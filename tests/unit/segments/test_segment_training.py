"""Platform and campaign models: trained past the sample threshold, used only if they win."""

import json

import joblib
import numpy as np
import pandas as pd
import pytest


@pytest.fixture()
def segments(train_segments, segment_gate):
    return lambda root, **kwargs: train_segments(root, segment_gate, **kwargs)


def test_every_level_past_the_threshold_is_trained_and_gated(segment_run, segments):
    result = segments(segment_run, min_samples=20)
    records = result["segments"]
    table = pd.read_parquet(segment_run / "features.parquet")
    assert {k for k in records if k.startswith("platform=")} == {
        f"platform={p}" for p in table["platform"].unique()}
    for key, record in records.items():
        if record["train_rows"] < 20:
            assert "of 20 labelled training samples" in record["reason"]
            assert record["used"] is False and "gate" not in record
        elif record["test_rows"] >= 10:
            assert record["decision"] in ("promote", "keep_challenger", "reject"), key
            assert record["used"] == (record["decision"] == "promote")
    saved = json.loads((segment_run / "segments.json").read_text())
    assert saved["used"] == result["used"]


def test_the_boosted_campaign_earns_its_own_model_and_it_predicts_better(
        segment_run, boosted_campaign, segments):
    result = segments(segment_run, min_samples=20)
    boosted = boosted_campaign
    record = result["segments"][f"campaign={boosted}"]
    assert record["used"] is True, record.get("reason")
    model = joblib.load(record["model_file"])
    rows = pd.read_parquet(segment_run / "features.parquet")
    rows = rows[rows["campaign_id"] == boosted].tail(20)
    actual = np.log1p(rows["likes"].astype(float))
    global_model = joblib.load(segment_run / "models" / "lightgbm.joblib")
    assert np.mean(np.abs(np.log1p(model.predict(rows)) - actual)) < np.mean(
        np.abs(np.log1p(global_model.predict(rows)) - actual))


def test_only_the_named_segments_are_retrained(segment_run, segments):
    result = segments(segment_run, min_samples=20, only=("platform=instagram",))
    trained = [k for k, r in result["segments"].items() if "skipped" not in r]
    assert trained == ["platform=instagram"]


def test_a_high_threshold_leaves_everything_on_the_global_model(segment_run, segments):
    result = segments(segment_run, min_samples=10_000)
    assert result["used"] == []
    assert all("falls back to" in r["reason"] for r in result["segments"].values())


def test_a_level_with_too_few_holdout_rows_is_never_trusted(segment_run, segments):
    result = segments(segment_run, min_samples=20, min_holdout=10_000)
    assert result["used"] == []
    eligible = [r for r in result["segments"].values() if r["train_rows"] >= 20]
    assert eligible and all("holdout rows needed" in r["reason"] and "gate" not in r
                            for r in eligible)


def test_the_run_summary_says_how_many_levels_earned_a_model(segment_run, boosted_campaign,
                                                             segments):
    from pipelines.summary import _segment_lines

    result = segments(segment_run, min_samples=20)
    (line,) = _segment_lines(result)
    gated = sum(1 for r in result["segments"].values() if "gate" in r)
    assert line.startswith(f"segments (campaign_id, min 20 samples): "
                           f"{len(result['segments'])} levels, {gated} trained and gated, "
                           f"{len(result['used'])} earned their own model: ")
    assert f"campaign={boosted_campaign}" in line


def test_with_caption_embeddings_each_segment_model_reads_its_own_text_features(
        tmp_path_factory, train_segments, segment_gate, text_model_cache_dir, monkeypatch):
    """Text on: segment models train (each with a text reducer fitted on its own rows) and
    the one that wins carries the caption features and predicts its segment better."""
    from pipelines.collect.demo_data import generate_posts
    from pipelines.config import FeatureSettings
    from pipelines.evaluate.stage import run_evaluate
    from pipelines.features.stage import run_features
    from pipelines.train.stage import run_train
    from tests.conftest import SCALE

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    root = tmp_path_factory.mktemp("segments_text")
    posts = generate_posts(800, accounts=12, seed=5)
    boosted = np.random.default_rng(0).random(len(posts)) < 0.2
    posts.loc[boosted, "campaign_id"] = "camp-boosted"
    posts.loc[boosted, "likes"] = (posts.loc[boosted, "likes"] * 40).astype("Int64")
    posts.to_parquet(root / "posts.parquet")
    settings = FeatureSettings(text_embeddings=True, text_components=4)
    run_features(root / "posts.parquet", root / "features.parquet", settings=settings,
                 embedding_cache=root / "captions.parquet", model_cache_dir=text_model_cache_dir)
    run_train(root / "features.parquet", root / "models", target="likes", models=("lightgbm",),
              hyperparameters={"lightgbm": {"n_estimators": 60}}, seed=1, valid_fraction=0.15,
              test_fraction=0.25, cold_account_fraction=0.2, history_dropout=0.3, cv_folds=0,
              scale=SCALE, model_cache_dir=text_model_cache_dir)
    run_evaluate(root / "features.parquet", root / "models", root / "metrics.json")
    (root / "cache").symlink_to(text_model_cache_dir)

    result = train_segments(root, segment_gate, min_samples=20)

    gated = {k for k, r in result["segments"].items() if "gate" in r}
    assert {f"platform={p}" for p in posts["platform"].unique()} <= gated
    record = result["segments"]["campaign=camp-boosted"]
    assert record["used"] is True, record.get("reason")
    model = joblib.load(record["model_file"])
    assert model[0].feature_names_[-4:] == [f"text_svd_{i}" for i in range(4)]
    table = pd.read_parquet(root / "features.parquet")
    rows = table[table["campaign_id"] == "camp-boosted"].tail(20)
    actual = np.log1p(rows["likes"].astype(float))
    global_model = joblib.load(root / "models" / "lightgbm.joblib")
    assert np.mean(np.abs(np.log1p(model.predict(rows)) - actual)) < np.mean(
        np.abs(np.log1p(global_model.predict(rows)) - actual))
