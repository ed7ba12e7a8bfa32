"""``engageflow segment-sessions``: the conversion task's validated demo sessions → k
compared → reports written → a registered MLflow version with a model card; the CLI reads
its params section; a missing input names the commands that write it."""

import json
from pathlib import Path

import pandas as pd
import pytest

from pipelines.config import load_settings
from pipelines.paths import ProjectPaths
from pipelines.segments.session_segments_stage import segment_sessions
from pipelines.tasks.conversion import ConversionTask

ROOT = Path(__file__).resolve().parents[3]
SMALL = {"session_segments.ks": [2, 3], "session_segments.bootstrap_rounds": 2,
         "session_segments.silhouette_rows": 300, "session_segments.seed": 3}


def _settings(**extra):
    return load_settings(ROOT / "params.yaml", {
        "train.task": "conversion", "conversion.demo_rows": 600, "validate.min_rows": 100,
        **SMALL, **extra})


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("segments")
    paths = ProjectPaths(root=ROOT, state=folder / ".engageflow", data=folder / "data")
    settings = _settings()
    task = ConversionTask()
    task.collect(paths, settings)
    task.validate(paths, settings, as_of=pd.Timestamp("2026-12-01", tz="UTC"), reports=False)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{folder / 'mlflow.db'}")
        record = segment_sessions(paths, settings.session_segments)
    return paths, record, f"sqlite:///{folder / 'mlflow.db'}"


def test_every_k_is_reported_and_the_chosen_one_follows_the_rule(run):
    _, record, _ = run
    assert set(record["per_k"]) == {"2", "3"}
    stable = [k for k, m in record["per_k"].items() if m["stability_ari"] >= 0.8]
    expected = (max(stable, key=lambda k: record["per_k"][k]["silhouette"]) if stable
                else max(record["per_k"], key=lambda k: record["per_k"][k]["stability_ari"]))
    assert str(record["chosen_k"]) == expected
    for values in record["per_k"].values():
        assert -1 <= values["silhouette"] <= 1 and values["davies_bouldin"] > 0


def test_reports_account_for_every_session_and_name_each_segment(run):
    paths, record, _ = run
    out = Path(record["reports"])
    assert {p.name for p in out.iterdir()} == {"k_comparison.json", "profiles.csv",
                                               "profiles.json", "profiles.png"}
    profiles = json.loads((out / "profiles.json").read_text())
    assert len(profiles) == record["chosen_k"]
    assert sum(p["sessions"] for p in profiles) == record["sessions"] == len(
        pd.read_parquet(paths.validated("sessions")))
    names = [p["name"] for p in profiles]
    assert len(set(names)) == len(names) and all(names)
    assert json.loads((out / "k_comparison.json").read_text())["chosen_k"] == record["chosen_k"]


def test_the_registered_version_assigns_segments_and_carries_a_model_card(run):
    import mlflow

    paths, record, uri = run
    client = mlflow.MlflowClient(uri, registry_uri=uri)
    version = client.get_model_version("segments-sessions", record["registered"]["version"])
    assert f"k={record['chosen_k']}" in version.description
    assert all(p["name"] in version.description for p in record["profiles"])
    before = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    try:
        model = mlflow.sklearn.load_model(f"models:/segments-sessions/{version.version}")
    finally:        # later tests must not find this module's store behind their back
        mlflow.set_tracking_uri(before[0])
        mlflow.set_registry_uri(before[1])
    sessions = pd.read_parquet(paths.validated("sessions")).head(50)
    assert set(model.predict(sessions)) <= set(range(record["chosen_k"]))


def test_absent_validated_sessions_name_the_commands_that_write_them(tmp_path):
    paths = ProjectPaths(root=ROOT, state=tmp_path / "state", data=tmp_path / "data")
    with pytest.raises(FileNotFoundError, match="train.task=conversion"):
        segment_sessions(paths, _settings().session_segments)


@pytest.mark.parametrize(("key", "value", "message"), [
    ("session_segments.ks", [], "session_segments.ks"),
    ("session_segments.ks", [1, 2], "session_segments.ks"),
    ("session_segments.ks", [3, 3], "session_segments.ks"),
    ("session_segments.n_components", 13, "session_segments.n_components"),
    ("session_segments.bootstrap_rounds", 1, "session_segments.bootstrap_rounds"),
    ("session_segments.min_stability", 1.5, "session_segments.min_stability")])
def test_bad_settings_name_the_key(key, value, message):
    with pytest.raises(ValueError, match=message):
        _settings(**{key: value})


def test_the_cli_reads_its_section_and_reports_a_missing_input(tmp_path, capsys):
    from pipelines.cli import main

    code = main(["segment-sessions", "--data-dir", str(tmp_path), "--set",
                 "session_segments.ks=[2]"])
    assert code == 2
    assert "02_validated" in capsys.readouterr().err


def test_the_conversion_segments_stage_learns_and_registers_them_and_train_finds_them(run):
    """The training DAG's / dvc.yaml's segments stage of the conversion task learns the
    session segments (a new registered version, the stage record written); the train
    stage's lookup then finds that newest version instead of learning again; with
    ``segments.enabled: false`` the stage skips and says so."""
    from pipelines.segments.stage import run_segments
    from pipelines.tasks.conversion_segments import newest_segmenter

    paths, first, uri = run
    settings, task, now = _settings(), ConversionTask(), pd.Timestamp("2026-12-01", tz="UTC")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", uri)
        record = run_segments(task, paths, settings, run_key="segments-test", now=now)
        written = json.loads(paths.segments.read_text())
        _, version = newest_segmenter(paths, settings)
        skipped = run_segments(task, paths, _settings(**{"segments.enabled": False}),
                               run_key="segments-test", now=now)
    assert written == record
    assert int(record["registered"]["version"]) == int(first["registered"]["version"]) + 1
    assert version == str(record["registered"]["version"])
    assert record["chosen_k"] == first["chosen_k"] and record["sessions"] == first["sessions"]
    assert skipped == {"skipped": "segments.enabled is false"}
    assert json.loads(paths.segments.read_text()) == skipped and paths.segment_models.is_dir()
