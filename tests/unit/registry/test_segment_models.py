"""Segment models in a real MLflow registry: aliases per segment, fallback removes them."""

import json

import pytest
from mlflow import MlflowClient

from pipelines.registry import audit, tracking
from pipelines.registry.segment_models import run_register_segments, segment_models
from pipelines.segments.hierarchy import Segment


def _register(tmp_path, segments_path, key="r1"):
    return run_register_segments(
        segments_path=segments_path, tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}",
        artifact_root=tmp_path / "artifacts", experiment="seg", model_name="m", run_key=key)


def test_used_segments_get_an_alias_and_falling_back_removes_it(segment_run, segment_gate,
                                                                train_segments,
                                                                tmp_path):
    seg = tmp_path / "segments.json"
    result = train_segments(segment_run, segment_gate, segments_path=seg,
                                     min_samples=20)
    assert result["used"], "the boosted campaign should earn a model"
    first = _register(tmp_path, seg)
    assert set(first["registered"]) == set(result["used"])
    models = segment_models("m")
    for key in result["used"]:
        segment = Segment.from_key(key)
        assert models[segment]["version"] == first["registered"][key]
        assert models[segment]["trained_rows"] == result["segments"][key]["train_rows"]
        assert models[segment]["trained_through"] == result["trained_through"]
    # a retry registers nothing new
    again = _register(tmp_path, seg)
    assert again["registered"] == first["registered"]
    assert len(MlflowClient().search_model_versions("name='m'")) == len(result["used"])
    # the next run's decisions: every segment falls back
    data = json.loads(seg.read_text())
    for record in data["segments"].values():
        record.update(used=False, reason="did not beat the level above")
    seg.write_text(json.dumps(data))
    later = _register(tmp_path, seg, key="r2")
    assert sorted(later["removed"]) == sorted(result["used"])
    assert segment_models("m") == {}
    history = audit.alias_history("m")
    assert [e["action"] for e in history].count("remove") == len(result["used"])


def test_no_registered_model_means_no_segments(tmp_path):
    tracking.connect(f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert segment_models("nothing-here") == {}


@pytest.mark.parametrize("key", ["global", "platform=instagram"])
def test_segment_keys_parse(key):
    assert Segment.from_key(key).key == key
