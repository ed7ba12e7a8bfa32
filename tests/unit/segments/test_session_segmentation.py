"""Learned session segments: K-Means after PCA on behaviour, k compared by silhouette,
Davies-Bouldin and bootstrap stability, profiles, and registration in MLflow."""

import mlflow
import numpy as np
import pytest

from pipelines.segments.session_segmentation import (
    BEHAVIOUR_FEATURES,
    SessionSegmenter,
    behaviour_matrix,
    compare_k,
    profile_figure,
    segment_profiles,
)
from pipelines.tasks.conversion_data import generate_sessions

SESSIONS = generate_sessions(600, seed=8)


def test_the_label_and_page_values_never_enter_the_clustering():
    matrix = behaviour_matrix(SESSIONS)
    assert list(matrix.columns) == list(BEHAVIOUR_FEATURES)
    model = SessionSegmenter(3, 4, seed=0).fit(SESSIONS)
    changed = SESSIONS.assign(converted=1 - SESSIONS["converted"], page_values=0.0)
    np.testing.assert_array_equal(model.predict(SESSIONS), model.predict(changed))


def test_segments_are_seeded_and_bad_sizes_are_refused():
    first = SessionSegmenter(3, 4, seed=0).fit(SESSIONS).predict(SESSIONS)
    np.testing.assert_array_equal(first, SessionSegmenter(3, 4, seed=0).fit(SESSIONS)
                                  .predict(SESSIONS))
    assert set(first) == {0, 1, 2}
    with pytest.raises(ValueError, match="'n_clusters' must be an int in \\[2, 600\\]"):
        SessionSegmenter(1, 4, seed=0).fit(SESSIONS)
    with pytest.raises(ValueError, match="'n_components' must be an int in \\[1, 12\\]"):
        SessionSegmenter(3, 40, seed=0).fit(SESSIONS)


def test_compare_k_reports_every_k_and_follows_its_rule():
    result = compare_k(SESSIONS, [2, 3, 4], n_components=4, bootstrap_rounds=2,
                       silhouette_rows=400, min_stability=0.0, seed=1)
    assert set(result["per_k"]) == {2, 3, 4}
    for values in result["per_k"].values():
        assert -1 <= values["silhouette"] <= 1 and values["davies_bouldin"] > 0
        assert values["stability_ari_min"] <= values["stability_ari"] <= 1
    best = max(result["per_k"], key=lambda k: result["per_k"][k]["silhouette"])
    assert result["chosen_k"] == best            # every k is stable enough at 0.0
    strict = compare_k(SESSIONS, [2, 3], n_components=4, bootstrap_rounds=2,
                       silhouette_rows=400, min_stability=1.01, seed=1)
    assert strict["chosen_k"] == max(strict["per_k"],
                                     key=lambda k: strict["per_k"][k]["stability_ari"])
    assert "most stable" in strict["rule"]
    with pytest.raises(ValueError, match="bootstrap_rounds"):
        compare_k(SESSIONS, [2], n_components=4, bootstrap_rounds=1, silhouette_rows=10,
                  min_stability=0.5, seed=1)


def test_profiles_cover_every_session_and_register_as_a_model(tmp_path, monkeypatch):
    from pipelines.registry.session_segmenter import register_segmenter

    model = SessionSegmenter(3, 4, seed=0).fit(SESSIONS)
    labels = model.predict(SESSIONS)
    profiles = segment_profiles(SESSIONS, labels)
    assert profiles["sessions"].sum() == len(SESSIONS)
    assert profiles["conversion_rate"].is_monotonic_decreasing
    assert profiles.loc[labels[0], "sessions"] == int((labels == labels[0]).sum())
    figure = profile_figure(profiles)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    comparison = {"per_k": {3: {"silhouette": 0.3}}, "chosen_k": 3, "rule": "test"}
    record = register_segmenter(model, comparison=comparison, profiles=profiles,
                                figure=figure, example=SESSIONS.head(3),
                                model_name="segments-sessions", experiment="segments-test",
                                description="card: three segments")
    loaded = mlflow.sklearn.load_model(f"models:/segments-sessions/{record['version']}")
    np.testing.assert_array_equal(loaded.predict(SESSIONS), labels)
    artifacts = {a.path for a in mlflow.MlflowClient().list_artifacts(record["run_id"],
                                                                        "segments")}
    assert artifacts == {"segments/k_comparison.json", "segments/profiles.csv",
                         "segments/profiles.json", "segments/profiles.png",
                         "segments/model_card.md"}
    version = mlflow.MlflowClient().get_model_version("segments-sessions", record["version"])
    assert version.description == "card: three segments"
