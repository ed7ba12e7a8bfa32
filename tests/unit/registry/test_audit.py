"""Alias moves are audited in a real MLflow store (SQLite + local artifacts)."""

import mlflow
import pytest
from mlflow import MlflowClient

from pipelines.registry import audit, tracking


class _Constant(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        return [0.0] * len(model_input)


@pytest.fixture()
def registry(tmp_path):
    tracking.connect(f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = tracking.ensure_experiment("audit-test", tmp_path / "artifacts")
    for _ in range(2):
        with mlflow.start_run(experiment_id=experiment):
            mlflow.pyfunc.log_model(name="model", python_model=_Constant(),
                                    registered_model_name="m", pip_requirements=[])
    return tmp_path


def test_moves_are_recorded_in_order_with_reason_and_versions(registry):
    first = audit.move_alias("m", "champion", 1, reason="first model", actor="tester")
    audit.move_alias("m", "challenger", "2", reason="new candidate", actor="tester",
                     metrics={"mae_log": 0.5})
    audit.move_alias("m", "champion", 2, reason="gate passed", actor="gate",
                     decision={"ci_low": 0.03})
    audit.move_alias("m", "challenger", None, reason="promoted", actor="gate")

    history = audit.alias_history("m")
    assert [(e["alias"], e["action"], e["from_version"], e["to_version"]) for e in history] == [
        ("champion", "set", None, "1"), ("challenger", "set", None, "2"),
        ("champion", "set", "1", "2"), ("challenger", "remove", "2", None)]
    assert first["sequence"] == 0 and history[2]["decision"] == {"ci_low": 0.03}
    assert history[1]["metrics"] == {"mae_log": 0.5}
    client = MlflowClient()
    assert str(client.get_model_version_by_alias("m", "champion").version) == "2"
    assert "challenger" not in client.get_registered_model("m").aliases
    assert "gate passed" in client.get_model_version("m", "2").tags["engageflow.audit.champion"]
    # audit artifacts sit beside the experiment's own, not in the process's cwd
    assert (registry / "artifacts-registry-audit").is_dir()


def test_a_repeated_move_writes_nothing(registry):
    audit.move_alias("m", "champion", 1, reason="first", actor="t")
    again = audit.move_alias("m", "champion", 1, reason="retry", actor="t")
    assert again["unchanged"] is True
    assert len(audit.alias_history("m")) == 1
    assert "champion" in audit.format_history(audit.alias_history("m"))


def test_history_of_an_unknown_model_is_empty(registry):
    assert audit.alias_history("nobody") == []
    assert audit.format_history([]) == "no alias moves recorded"


def test_cli_prints_the_history(registry, capsys, monkeypatch):
    from pipelines import cli

    audit.move_alias("m", "champion", 1, reason="first model", actor="tester")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{registry / 'mlflow.db'}")
    assert cli.main(["registry", "history", "m"]) == 0
    out = capsys.readouterr().out
    assert "champion" in out and "- -> 1" in out and "first model" in out
