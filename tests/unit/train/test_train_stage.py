import json

import joblib
import numpy as np
import pytest

from pipelines.config import FeatureSettings
from pipelines.features.stage import read_manifest, run_features
from pipelines.train.model_zoo import make_model
from pipelines.train.stage import feature_matrix, run_train
from tests.conftest import SCALE

HYPER = {"lightgbm": {"n_estimators": 60, "num_leaves": 7}, "ridge": {"alpha": 1.0}}


@pytest.fixture(scope="module")
def features_path(tmp_path_factory, demo_posts):
    """The feature table of the demo posts (read-only: built once for the module)."""
    folder = tmp_path_factory.mktemp("features")
    demo_posts.to_parquet(folder / "validated.parquet")
    run_features(folder / "validated.parquet", folder / "features.parquet",
                 settings=FeatureSettings())
    return folder / "features.parquet"


def _train(features_path, out, seed=1, cv_folds=0):
    return run_train(features_path, out, target="likes", models=("lightgbm", "ridge"),
                     hyperparameters=HYPER, seed=seed, valid_fraction=0.15, test_fraction=0.15,
                     cold_account_fraction=0.0, history_dropout=0.0,
                     cv_folds=cv_folds, scale=SCALE)


@pytest.fixture(scope="module")
def trained(tmp_path_factory, features_path):
    """(models folder, manifest) of one ``_train`` with the defaults, shared read-only by
    the tests that only look at it."""
    out = tmp_path_factory.mktemp("trained") / "models"
    return out, _train(features_path, out)


def test_saved_models_take_posts_and_match_the_feature_regressor(trained, features_path):
    import pandas as pd

    folder, manifest = trained
    table = pd.read_parquet(features_path)
    model = joblib.load(folder / "lightgbm.joblib")
    train_rows = manifest["split"]["train"]
    names = read_manifest(features_path)["feature_columns"]
    regressor = make_model("lightgbm", HYPER["lightgbm"], 1, names, scale=SCALE).fit(
        feature_matrix(table, names).iloc[:train_rows],
        table["likes"].iloc[:train_rows].astype(float))
    # Train/serve parity: the registered pipeline (raw posts in) equals the regressor on the
    # feature stage's table, for training and test rows alike.
    for rows in (table.head(50), table.tail(50)):
        np.testing.assert_allclose(model.predict(rows),
                                   regressor.predict(feature_matrix(table, names).loc[rows.index]))
    assert (model.predict(table.head(50)) >= 0).all()


def test_same_seed_same_model(tmp_path, features_path, trained):
    import pandas as pd

    first, _ = trained
    _train(features_path, tmp_path / "b")
    rows = pd.read_parquet(features_path).tail(100)
    for name in ("lightgbm", "ridge"):
        np.testing.assert_array_equal(joblib.load(first / f"{name}.joblib").predict(rows),
                                      joblib.load(tmp_path / "b" / f"{name}.joblib").predict(rows))


def test_manifest_records_split_and_candidates(trained):
    folder, _ = trained
    manifest = json.loads((folder / "manifest.json").read_text())
    split = manifest["split"]
    assert split["train"] + split["valid"] + split["test"] == manifest["rows"]
    assert split["valid_start"] < split["test_start"]
    assert set(manifest["candidates"]) == {"lightgbm", "ridge"}


def test_cross_validation_and_importances_are_recorded(tmp_path, features_path):
    manifest = _train(features_path, tmp_path / "cv", cv_folds=3)
    lightgbm = manifest["candidates"]["lightgbm"]
    assert len(lightgbm["cv"]["folds"]) == 3 and "mae_log" in lightgbm["cv"]["mean"]
    assert sum(lightgbm["feature_importance"].values()) == pytest.approx(1, abs=1e-3)
    assert lightgbm["importance_kind"] == "gain"
    ridge = manifest["candidates"]["ridge"]   # a linear model: its coefficients' shares
    assert ridge["importance_kind"] == "coefficient"
    assert sum(ridge["feature_importance"].values()) == pytest.approx(1, abs=1e-3)


def test_a_target_a_source_does_not_report_trains_on_the_rows_that_have_it(tmp_path,
                                                                           demo_posts):
    posts = demo_posts.copy()
    posts.loc[posts.index[:300], "comments"] = None  # e.g. a scrape without comments
    posts.to_parquet(tmp_path / "validated.parquet")
    run_features(tmp_path / "validated.parquet", tmp_path / "features.parquet",
                 settings=FeatureSettings())
    manifest = run_train(tmp_path / "features.parquet", tmp_path / "m", target="comments",
                         models=("ridge",), hyperparameters={}, seed=0, valid_fraction=0.15,
                         test_fraction=0.15,
                         cold_account_fraction=0.0, history_dropout=0.0, cv_folds=0, scale=SCALE)
    from pipelines.features.history_source import young_labels

    # young posts' counts were still growing at collection: not targets either
    young = int((young_labels(posts, 48) & posts["comments"].notna().to_numpy()).sum())
    assert manifest["rows"] == len(posts) - 300 - young
    assert manifest["rows_without_target"] == 300 + young
    model = joblib.load(tmp_path / "m" / "ridge.joblib")
    assert (model.predict(posts.tail(20)) >= 0).all()


def test_caption_embeddings_reach_the_registered_model(tmp_path, demo_posts, monkeypatch,
                                                       text_model_cache_dir):
    """Text on: the SVD is fitted on training rows and the model embeds captions itself."""

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    posts = demo_posts.head(300)
    posts.to_parquet(tmp_path / "validated.parquet")
    settings = FeatureSettings(text_embeddings=True, text_components=4)
    run_features(tmp_path / "validated.parquet", tmp_path / "features.parquet",
                 settings=settings, embedding_cache=tmp_path / "cache.parquet",
                 model_cache_dir=text_model_cache_dir)
    manifest = run_train(tmp_path / "features.parquet", tmp_path / "m", target="likes",
                         models=("ridge",), hyperparameters={}, seed=0, valid_fraction=0.15,
                         test_fraction=0.15,
                         cold_account_fraction=0.0, history_dropout=0.0, cv_folds=0,
                         model_cache_dir=text_model_cache_dir, scale=SCALE)
    model = joblib.load(tmp_path / "m" / "ridge.joblib")
    featurizer = model[0]
    assert featurizer.feature_names_[-4:] == [f"text_svd_{i}" for i in range(4)]
    assert featurizer.text_reducer.n_features_in_ == 384
    assert manifest["rows"] == 300
    predictions = model.predict(posts.tail(20))
    assert predictions.shape == (20,) and np.isfinite(predictions).all()


def _train_full(features_path, out, cold=0.3, dropout=0.3, seed=1):
    return run_train(features_path, out, target="likes", models=("ridge",),
                     hyperparameters={}, seed=seed, valid_fraction=0.15, test_fraction=0.15,
                     cold_account_fraction=cold, history_dropout=dropout, cv_folds=0, scale=SCALE)


def test_held_out_accounts_never_reach_the_evidence_models(tmp_path, features_path):
    import pandas as pd

    from pipelines.train.split import cold_accounts

    manifest = _train_full(features_path, tmp_path / "m")
    table = pd.read_parquet(features_path)
    held = set(table.loc[cold_accounts(table["account_id"], 0.3), "account_id"])
    model = joblib.load(tmp_path / "m" / "ridge.joblib")
    known = set(model[0].history_.history_["account_id"])
    assert held and not held & known and manifest["split"]["cold_accounts"] == len(held)
    assert manifest["candidates"]["ridge"]["history_dropout_rows"] > 0
    split = manifest["split"]
    assert split["train"] + split["valid"] + split["test"] < manifest["rows"]  # cold past


def test_the_refit_learns_every_matured_label_by_the_same_recipe(tmp_path, features_path):
    import pandas as pd

    from pipelines.evaluate.stage import run_evaluate
    from pipelines.train.stage import run_refit

    _train_full(features_path, tmp_path / "m")
    run_evaluate(features_path, tmp_path / "m", tmp_path / "metrics.json")
    record = run_refit(features_path, tmp_path / "m", tmp_path / "metrics.json",
                       tmp_path / "final")
    table = pd.read_parquet(features_path)
    assert record["refit"] and record["candidate"] == "ridge"
    assert record["rows"] == int(table["likes"].notna().sum()) > record["evidence_rows"]
    final = joblib.load(tmp_path / "final" / "model.joblib")
    assert set(final[0].history_.history_["account_id"]) == set(table["account_id"])
    again = run_refit(features_path, tmp_path / "m", tmp_path / "metrics.json",
                      tmp_path / "final2")
    assert again["rows"] == record["rows"]
    rows = table.tail(50)
    np.testing.assert_array_equal(
        joblib.load(tmp_path / "final2" / "model.joblib").predict(rows), final.predict(rows))
    assert not np.array_equal(final.predict(rows),
                              joblib.load(tmp_path / "m" / "ridge.joblib").predict(rows))
