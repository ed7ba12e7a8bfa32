import json

import joblib
import numpy as np
import pytest

from pipelines.features.stage import run_features
from pipelines.train.estimators import make_regressor
from pipelines.train.stage import feature_matrix, run_train

HYPER = {"lightgbm": {"n_estimators": 60, "num_leaves": 7}, "ridge": {"alpha": 1.0}}


@pytest.fixture
def features_path(tmp_path, demo_posts):
    demo_posts.to_parquet(tmp_path / "validated.parquet")
    run_features(tmp_path / "validated.parquet", tmp_path / "features.parquet")
    return tmp_path / "features.parquet"


def _train(features_path, out, seed=1):
    return run_train(features_path, out, target="likes", models=("lightgbm", "ridge"),
                     hyperparameters=HYPER, seed=seed, valid_fraction=0.15, test_fraction=0.15)


def test_saved_models_take_posts_and_match_the_feature_regressor(tmp_path, features_path):
    import pandas as pd

    manifest = _train(features_path, tmp_path / "models")
    table = pd.read_parquet(features_path)
    model = joblib.load(tmp_path / "models" / "lightgbm.joblib")
    train_rows = manifest["split"]["train"]
    regressor = make_regressor("lightgbm", HYPER["lightgbm"], 1).fit(
        feature_matrix(table).iloc[:train_rows], table["likes"].iloc[:train_rows].astype(float))
    np.testing.assert_allclose(model.predict(table.head(50)),
                               regressor.predict(feature_matrix(table).head(50)))
    assert (model.predict(table.head(50)) >= 0).all()


def test_same_seed_same_model(tmp_path, features_path):
    import pandas as pd

    _train(features_path, tmp_path / "a")
    _train(features_path, tmp_path / "b")
    rows = pd.read_parquet(features_path).tail(100)
    for name in ("lightgbm", "ridge"):
        np.testing.assert_array_equal(joblib.load(tmp_path / "a" / f"{name}.joblib").predict(rows),
                                      joblib.load(tmp_path / "b" / f"{name}.joblib").predict(rows))


def test_manifest_records_split_and_candidates(tmp_path, features_path):
    _train(features_path, tmp_path / "m")
    manifest = json.loads((tmp_path / "m" / "manifest.json").read_text())
    split = manifest["split"]
    assert split["train"] + split["valid"] + split["test"] == manifest["rows"]
    assert split["valid_start"] < split["test_start"]
    assert set(manifest["candidates"]) == {"lightgbm", "ridge"}


def test_unknown_model_name():
    with pytest.raises(ValueError, match="unknown model 'catboost'"):
        make_regressor("catboost", {}, 0)
