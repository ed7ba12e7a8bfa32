"""Every DAG imports cleanly, is tagged, retries, and has the expected task graph."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

DAGS_DIR = Path(__file__).resolve().parents[2] / "dags"
EXPECTED_EDGES = {
    "engagement_training": [
        ("collect", "validate"), ("validate", "features"), ("features", "train"),
        ("train", "evaluate"), ("evaluate", "refit"), ("refit", "register"),
        ("register", "promote"),
        ("promote", "segments"),
    ],
    "champion_challenger": [],
    "engagement_collect": [("collect", "validate"), ("validate", "publish"),
                           ("collect", "publish"), ("publish", "materialize_history")],
    "drift_monitoring": [("check", "decide"), ("check", "no_retraining"),
                         ("check", "notify"), ("check", "report"),
                         ("decide", "trigger_retraining"),
                         ("decide", "no_retraining"), ("trigger_retraining", "notify")],
    "batch_scoring": [],
}
EXPECTED_TASKS = {"batch_scoring": {"score"}}


def test_every_dag_file_imports_without_errors(dagbag):
    assert dagbag.import_errors == {}, f"import errors in {DAGS_DIR}: {dagbag.import_errors}"
    assert set(EXPECTED_EDGES) <= set(dagbag.dag_ids)


def test_dags_have_tags_and_retries(dagbag):
    for dag_id, dag in dagbag.dags.items():
        assert dag.tags, f"{dag_id} ({dag.fileloc}) has no tags"
        for task in dag.tasks:
            assert task.retries >= 1, f"{dag_id}.{task.task_id} ({dag.fileloc}) has no retries"


@pytest.mark.parametrize("dag_id", sorted(EXPECTED_EDGES))
def test_task_graph(dagbag, dag_id):
    dag = dagbag.dags[dag_id]
    edges = {(t.task_id, d) for t in dag.tasks for d in t.downstream_task_ids}
    assert edges == set(EXPECTED_EDGES[dag_id]), f"{dag_id} ({dag.fileloc}) graph differs"
    if dag_id in EXPECTED_TASKS:
        assert set(dag.task_ids) == EXPECTED_TASKS[dag_id], f"{dag_id} ({dag.fileloc}) tasks"


@pytest.mark.parametrize("dag_id", sorted(EXPECTED_EDGES))
def test_form_fields_are_params_keys_with_the_models_schema_and_params_yaml_defaults(
        dagbag, project_root, dag_id):
    from pipelines.config import field_schema, form_fields

    dag = dagbag.dags[dag_id]
    fields = form_fields(list(dag.params), project_root / "params.yaml")
    for name in dag.params:
        param_object = dag.params.get_param(name)
        where = f"{dag_id} ({dag.fileloc}) form field {name}"
        assert param_object.schema.get("title"), f"{where} has no title"
        assert param_object.description, f"{where} has no description"
        assert param_object.schema.get("type"), f"{where} has no type"
        model = field_schema(name)
        assert param_object.description == model.pop("description"), f"{where}: description"
        for key, value in model.items():
            assert param_object.schema.get(key) == value, f"{where}: {key} differs from the model"
        assert param_object.value == fields[name]["default"], f"{where} differs from params.yaml"


@pytest.mark.parametrize("dag_id", sorted(EXPECTED_EDGES))
def test_every_form_accepts_its_defaults(dagbag, dag_id):
    """Trigger is enabled with the defaults: each default passes its own schema."""
    dag = dagbag.dags[dag_id]
    dag.params.validate()


@pytest.mark.parametrize("path", sorted(DAGS_DIR.glob("*.py")), ids=lambda p: p.name)
def test_dag_files_import_nothing_heavy_at_top_level(path):
    heavy = {"pandas", "numpy", "mlflow", "sklearn", "lightgbm", "xgboost",
             "great_expectations", "evidently", "torch", "sentence_transformers"}
    tree = ast.parse(path.read_text())
    top_level = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
    names = {(n.module or "") if isinstance(n, ast.ImportFrom) else a.name
             for n in top_level for a in n.names}
    roots = {name.split(".")[0] for name in names}
    assert not roots & heavy, f"{path.name} imports {roots & heavy} at top level"
    pipeline_imports = {n for n in names if n.startswith("pipelines")}
    # settings (for the forms) and the pipeline order (the training DAG's tasks) are light
    # declarations; everything else is imported inside the tasks
    assert pipeline_imports <= {"pipelines.config", "pipelines.pipeline"}, \
        f"{path.name}: logic imported at top level"


def test_collect_publishes_the_asset_that_schedules_training(dagbag):
    from pipelines.config import VALIDATED_POSTS_ASSET

    publish = dagbag.dags["engagement_collect"].get_task("publish")
    assert [o.name for o in publish.outlets] == [VALIDATED_POSTS_ASSET]
    training = dagbag.dags["engagement_training"]
    assert VALIDATED_POSTS_ASSET in str(training.timetable.asset_condition)


def test_drift_monitoring_is_weekly_and_triggers_training_with_a_reason(dagbag):
    dag = dagbag.dags["drift_monitoring"]
    assert dag.catchup is False, f"drift_monitoring ({dag.fileloc}) must be catchup-safe"
    assert dag.timetable.expression == "0 0 * * 0", \
        f"drift_monitoring ({dag.fileloc}) is not weekly: {dag.timetable!r}"
    trigger = dag.get_task("trigger_retraining")
    assert trigger.trigger_dag_id == "engagement_training"
    assert "reason" in trigger.conf, "the triggered training run must carry the reason"
    assert "engagement_training" in dagbag.dag_ids


def test_drift_monitoring_and_batch_scoring_take_the_task_and_pass_it_on(dagbag):
    from pipelines.config import TASK_NAMES

    for dag_id in ("drift_monitoring", "batch_scoring"):
        dag = dagbag.dags[dag_id]
        assert dag.params.get_param("train.task").schema["enum"] == list(TASK_NAMES), \
            f"{dag_id} ({dag.fileloc}) must offer train.task in its trigger form"
    trigger = dagbag.dags["drift_monitoring"].get_task("trigger_retraining")
    assert "train.task" in trigger.conf and "['task']" in trigger.conf["train.task"], \
        "the triggered training run must retrain the task that drifted (the check's task)"
    training = dagbag.dags["engagement_training"]
    assert "train.task" in training.params, "engagement_training must accept train.task"


def test_champion_challenger_is_one_daily_decision_without_catchup(dagbag):
    dag = dagbag.dags["champion_challenger"]
    assert [t.task_id for t in dag.tasks] == ["decide"], f"{dag.fileloc}: tasks differ"
    assert dag.schedule == "@daily", f"{dag.fileloc}: schedule is {dag.schedule!r}"
    assert dag.catchup is False and dag.max_active_runs == 1
    assert set(dag.params) == {"train.task", "register.model_name", "features.maturity_hours",
                               "champion_challenger.alpha", "champion_challenger.min_outcomes",
                               "champion_challenger.guardrail_margin"}


def test_the_training_dag_runs_the_pipeline_order():
    from pipelines.pipeline import STAGE_NAMES

    chain = [a for a, _ in EXPECTED_EDGES["engagement_training"]]
    assert [*chain, EXPECTED_EDGES["engagement_training"][-1][1]] == list(STAGE_NAMES)


def test_every_task_gate_uses_metrics_the_gate_computes():
    from pipelines.evaluate.promotion_gate import GATE_METRICS, PRIMARY_METRICS
    from pipelines.tasks import TASK_NAMES, get_task

    for name in TASK_NAMES:
        gate = get_task(name).gate
        assert gate.primary in PRIMARY_METRICS, name
        assert set(gate.guards) | set(gate.first_model_bounds) <= set(GATE_METRICS), name


def test_batch_scoring_is_manual_and_its_formats_match_the_readers(dagbag):
    from pipelines.collect.formats import FORMATS
    from pipelines.config import FILE_FORMATS

    dag = dagbag.dags["batch_scoring"]
    assert type(dag.timetable).__name__ == "NullTimetable", \
        f"batch_scoring ({dag.fileloc}) must only run when triggered"
    assert FILE_FORMATS == FORMATS
    assert dag.params.get_param("serve.score_format").schema["enum"] == list(FORMATS)
