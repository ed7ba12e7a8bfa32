"""The promotion gate against a real MLflow registry (SQLite + local artifacts in tmp_path):
aliases move as the decision says, through the audit history, idempotently."""

import json
from pathlib import Path

import joblib
import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient
from sklearn.base import BaseEstimator, RegressorMixin

from pipelines.config import PromoteConfig, load_settings
from pipelines.paths import ProjectPaths
from pipelines.registry import audit, tracking
from pipelines.registry.promotion import format_gate, run_promotion_gate
from pipelines.tasks import get_task

MODEL = "engagement-likes-gate"
PARAMS = Path(__file__).resolve().parents[3] / "params.yaml"
SETTINGS = load_settings(PARAMS, {"promote.resamples": 500, "promote.min_slice_rows": 50})


class NoisyOracle(BaseEstimator, RegressorMixin):
    """Predicts the true count with log-scale noise: a shared part (the rows' ``shared``
    column, so models err together, as real ones do) plus its own of sd ``extra``."""

    def __init__(self, extra: float = 0.0, scale: float = 1.0, seed: int = 0):
        self.extra, self.scale, self.seed = extra, scale, seed

    def fit(self, rows, y=None):
        return self

    def predict(self, rows: pd.DataFrame) -> np.ndarray:
        own = np.random.default_rng(self.seed).normal(0, self.extra, len(rows))
        return self.scale * np.expm1(np.log1p(rows["likes"].to_numpy(float))
                                     + rows["shared"].to_numpy(float) + own)


@pytest.fixture()
def project(tmp_path):
    """A run folder (features + manifest) and a fresh MLflow store."""
    rng = np.random.default_rng(0)
    n = 1200
    table = pd.DataFrame({
        "post_id": [f"p{i:05d}" for i in range(n)],
        "account_id": [f"a{i % 40:03d}" for i in range(n)],
        "platform": np.array(["facebook", "instagram", "x"])[rng.integers(0, 3, n)],
        "posted_at": pd.date_range("2026-01-01", periods=n, freq="h", tz="UTC"),
        "likes": np.round(np.expm1(rng.uniform(1, 8, n))),
        "shared": rng.normal(0, 0.5, n),
    })
    features = tmp_path / "03_features" / "posts.parquet"
    features.parent.mkdir(parents=True)
    table.to_parquet(features)
    models = tmp_path / "04_models"
    models.mkdir()
    (models / "manifest.json").write_text(json.dumps(
        {"target": "likes", "split": {"valid_fraction": 0.15, "test_fraction": 0.25}}))
    tracking.connect(f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = tracking.ensure_experiment("gate-test", tmp_path / "mlartifacts")
    return tmp_path, features, models, experiment


def _register_and_gate(project, model: NoisyOracle, key: str) -> dict:
    """What register + promotion_gate do for one training run."""
    root, features, models, experiment = project
    parent = tracking.parent_run_id(experiment, key, run_name=key)
    with mlflow.start_run(run_id=parent):
        info = mlflow.sklearn.log_model(
            model, name="model", registered_model_name=MODEL, pip_requirements=[],
            serialization_format=mlflow.sklearn.SERIALIZATION_FORMAT_CLOUDPICKLE)
    version = str(info.registered_model_version)
    audit.move_alias(MODEL, "challenger", version, reason="new candidate", actor=key)
    registration = root / key / "05_reporting" / "registration.json"
    registration.parent.mkdir(parents=True)
    registration.write_text(json.dumps({"model_name": MODEL, "version": version,
                                        "parent_run_id": parent, "candidate": key}))
    # the run's evidence model: what the gate scores for the challenger
    joblib.dump(model, models / f"{key}.joblib")
    return _gate(project, key)


def _gate(project, key: str) -> dict:
    """The promote stage of run ``key``: its folder holds the registration and decision,
    and shares the project's feature table and models."""
    root = project[0]
    run = root / key
    run.mkdir(exist_ok=True)
    for layer in ("03_features", "04_models"):
        if not (run / layer).exists():
            (run / layer).symlink_to(root / layer)
    paths = ProjectPaths(root=root, state=root, data=run)
    return run_promotion_gate(get_task("likes"), paths, SETTINGS, run_key=key)


def _aliases() -> dict:
    return {k: str(v) for k, v in MlflowClient().get_registered_model(MODEL).aliases.items()}


def test_first_model_then_a_better_one_then_a_worse_one(project):
    root = project[0]
    first = _register_and_gate(project, NoisyOracle(extra=0.5, seed=1), "run-1")
    assert (first["mode"], first["decision"]) == ("first_model", "promote")
    assert _aliases() == {"champion": "1"}
    assert first["model_uri"] == f"models:/{MODEL}@champion"
    assert first["holdout"]["rows"] == 300 and first["n_rows"] == 300

    better = _register_and_gate(project, NoisyOracle(extra=0.0, seed=2), "run-2")
    assert (better["mode"], better["decision"]) == ("challenger_vs_champion", "promote")
    assert better["primary"]["ci_low"] > 0
    assert _aliases() == {"champion": "2", "previous": "1"}

    worse = _register_and_gate(project, NoisyOracle(extra=0.6, seed=3), "run-3")
    assert worse["decision"] == "reject" and worse["champion_version"] == "2"
    assert _aliases() == {"champion": "2", "previous": "1"}

    history = audit.alias_history(MODEL)
    moves = [(e["alias"], e["action"], e["to_version"], e["actor"]) for e in history]
    assert moves == [
        ("challenger", "set", "1", "run-1"),
        ("champion", "set", "1", "promotion_gate:run-1"),
        ("challenger", "remove", None, "promotion_gate:run-1"),
        ("challenger", "set", "2", "run-2"),
        ("previous", "set", "1", "promotion_gate:run-2"),
        ("champion", "set", "2", "promotion_gate:run-2"),
        ("challenger", "remove", None, "promotion_gate:run-2"),
        ("challenger", "set", "3", "run-3"),
        ("challenger", "remove", None, "promotion_gate:run-3"),
    ]
    promoted = history[5]
    assert promoted["decision"]["primary"]["ci_low"] == better["primary"]["ci_low"]
    assert promoted["metrics"]["decision"] == "promote"

    # the decision is in the run folder and in the MLflow parent run
    written = json.loads((root / "run-2" / "05_reporting" / "promotion.json").read_text())
    assert written["decision"] == "promote" and written["aliases"]["champion"] == "2"
    client = MlflowClient()
    parent = client.get_run(written["parent_run_id"])
    assert parent.data.metrics["gate_promoted"] == 1.0
    assert parent.data.tags["engageflow.gate.decision"] == "promote"
    logged = mlflow.artifacts.load_dict(f"runs:/{parent.info.run_id}/promotion/decision.json")
    assert logged["primary"] == written["primary"]
    assert client.get_model_version(MODEL, "3").tags["engageflow.gate.decision"] \
        .startswith("reject")
    assert "REJECT" in format_gate(worse)

    # a retried gate re-applies its decision: no new events, nothing moves
    again = _gate(project, "run-3")
    assert again["decision"] == "reject" and len(audit.alias_history(MODEL)) == len(history)


def test_a_first_model_below_the_thresholds_never_becomes_champion(project):
    bad = _register_and_gate(project, NoisyOracle(extra=0.0, scale=30.0), "run-1")
    assert (bad["mode"], bad["decision"]) == ("first_model", "reject")
    failed = {c["name"] for c in bad["checks"] if not c["passed"]}
    assert "absolute: mae_log max 1.5" in failed
    assert _aliases() == {}
    assert bad["model_uri"] == f"models:/{MODEL}/1"


def test_a_challenger_that_is_not_clearly_better_is_kept_for_the_online_test(project):
    _register_and_gate(project, NoisyOracle(extra=0.3, seed=1), "run-1")
    kept = _register_and_gate(project, NoisyOracle(extra=0.3, seed=2), "run-2")
    assert kept["decision"] == "keep_challenger"
    assert _aliases() == {"champion": "1", "challenger": "2"}
    assert kept["model_uri"] == f"models:/{MODEL}@challenger"
    last = audit.alias_history(MODEL)[-1]
    assert (last["alias"], last["action"], last["to_version"]) == ("challenger", "keep", "2")
    count = len(audit.alias_history(MODEL))
    _gate(project, "run-2")
    assert len(audit.alias_history(MODEL)) == count


def test_a_challenger_moved_away_since_register_is_skipped(project):
    _register_and_gate(project, NoisyOracle(extra=0.3, seed=1), "run-1")
    root, *_ = project
    record = _register_and_gate(project, NoisyOracle(extra=0.0, seed=2), "run-2")
    assert record["decision"] == "promote"
    # a stale run folder whose version is no longer the challenger
    stale = root / "run-2" / "05_reporting" / "promotion.json"
    stale.unlink()
    skipped = _gate(project, "run-2")
    assert skipped["decision"] == "skipped" and "SKIPPED" in format_gate(skipped)
    assert _aliases() == {"champion": "2", "previous": "1"}


def test_settings_reject_bad_values():
    with pytest.raises(ValueError, match="'promote.bootstrap_unit' must be 'row' or 'account'"):
        PromoteConfig(bootstrap_unit="post")


def test_registration_file_must_exist(project):
    root = project[0]
    with pytest.raises(FileNotFoundError):
        _gate(project, "missing-run")
    assert not (Path(root) / "missing-run" / "05_reporting" / "promotion.json").exists()


def test_holdout_rows_the_champion_trained_on_are_not_judged(project):
    """A champion refitted past this run's cut-off saw (some of) its holdout: those rows
    are left out, and with too few left the challenger waits for the online test."""
    root, features, *_ = project
    _register_and_gate(project, NoisyOracle(extra=0.5, seed=1), "run-1")
    table = pd.read_parquet(features)
    holdout_times = table["posted_at"].sort_values().iloc[-300:]
    client = MlflowClient()
    # the champion learned from all but the last 100 holdout rows
    client.set_model_version_tag(MODEL, "1", "engageflow.trained_through",
                                 str(holdout_times.iloc[199]))
    partly = _register_and_gate(project, NoisyOracle(extra=0.0, seed=2), "run-2")
    assert partly["judged"]["holdout_rows_the_champion_trained_on"] == 200
    assert partly["n_rows"] == 100 and partly["decision"] == "promote"
    # now the champion (v2) learned from every holdout row
    client.set_model_version_tag(MODEL, "2", "engageflow.trained_through",
                                 str(holdout_times.iloc[-1]))
    blind = _register_and_gate(project, NoisyOracle(extra=0.1, seed=3), "run-3")
    assert blind["decision"] == "keep_challenger" and blind["n_rows"] == 0
    assert "no fair offline comparison" in blind["reasons"][0]
    assert _aliases()["challenger"] == "3"
