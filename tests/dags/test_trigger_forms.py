"""Every DAG's trigger form can be submitted with its defaults, and refuses what the
settings refuse: the form's bounds and closed sets are the settings models' own, so a value
the form lets through never fails later in the task (and none is clamped on the way)."""

from __future__ import annotations

from pathlib import Path

import pytest

DAG_IDS = ("batch_scoring", "champion_challenger", "drift_monitoring", "engagement_collect",
           "engagement_training")
#: Scheduled DAGs: none catches up (a paused week is not replayed day by day on unpause)
#: and none runs two of its own runs at once (they share their partition and aliases).
SCHEDULED = ("champion_challenger", "drift_monitoring", "engagement_collect",
             "engagement_training")


@pytest.fixture(scope="module")
def dags(dagbag):
    assert dagbag.import_errors == {}, dagbag.import_errors
    return dagbag.dags


def _settings_error(params_file: Path, key: str, value: object) -> str | None:
    """The settings' message for ``key = value`` (None if they accept it)."""
    from pipelines.config import load_settings

    try:
        load_settings(params_file, {key: value})
    except ValueError as error:
        return str(error)
    return None


def _form_error(param, value: object) -> str | None:
    from airflow.sdk.exceptions import ParamValidationError

    try:
        param.resolve(value)
    except ParamValidationError as error:
        return str(error)
    return None


def _ui_requires(param) -> bool:
    """The Airflow UI's rule: a field whose type does not allow null is required, and an
    empty one disables the Trigger button (ui/src/components/FlexibleForm)."""
    kind = param.schema.get("type")
    return bool(kind) and (not isinstance(kind, list) or "null" not in kind)


@pytest.mark.parametrize("dag_id", DAG_IDS)
def test_every_default_passes_its_own_schema_and_no_required_field_is_empty(dags, dag_id):
    params = dags[dag_id].params
    params.validate()   # Airflow's check before a run is created
    for key in params:
        param = params.get_param(key)
        assert _form_error(param, param.value) is None, f"{dag_id}: {key}"
        if param.value in (None, "", [], {}):
            assert not _ui_requires(param) or param.value in ([], {}), \
                f"{dag_id}: {key} is required in the form but its default is empty"


@pytest.mark.parametrize("dag_id", DAG_IDS)
def test_out_of_range_and_unknown_values_are_refused_by_form_and_settings_alike(
        dags, dag_id, project_root):
    params_file = project_root / "params.yaml"
    params = dags[dag_id].params
    checked = 0
    for key in params:
        param = params.get_param(key)
        schema = param.schema
        bad: list[object] = []
        if "minimum" in schema:
            bad.append(schema["minimum"] - 1)
        if "exclusiveMinimum" in schema:
            bad.append(schema["exclusiveMinimum"])
        if "maximum" in schema:
            bad.append(schema["maximum"] + 1)
        if "exclusiveMaximum" in schema:
            bad.append(schema["exclusiveMaximum"])
        if "enum" in schema:
            bad.append("no-such-" + str(schema["enum"][0]))
        for value in bad:
            form, settings = _form_error(param, value), _settings_error(params_file, key, value)
            assert form is not None, f"{dag_id}: the form accepts {key} = {value!r}"
            assert settings is not None and key in settings, \
                f"{dag_id}: the settings accept {key} = {value!r} (or do not name the key)"
            checked += 1
        for edge in (schema.get("minimum"), schema.get("maximum")):
            if edge is not None:   # the bounds agree: an edge value passes both
                assert _form_error(param, edge) is None, f"{dag_id}: {key} = {edge}"
                assert _settings_error(params_file, key, edge) is None, f"{key} = {edge}"
    assert checked, f"{dag_id}: no bounded or closed field checked"


def test_window_end_is_an_optional_date(dags, project_root):
    from pipelines.config import load_settings

    param = dags["drift_monitoring"].params.get_param("monitor.window_end")
    assert param.value is None and not _ui_requires(param)
    assert param.schema["format"] == "date"
    settings = load_settings(project_root / "params.yaml", {"monitor.window_end": None})
    assert settings.monitor.window_end == ""   # empty: the latest data
    assert _form_error(param, "2026-06-29") is None
    assert _form_error(param, "2026-13-01") is not None
    assert "monitor.window_end" in _settings_error(project_root / "params.yaml",
                                                   "monitor.window_end", "2026-13-01")


def test_batch_scoring_says_what_an_empty_input_scores(dags):
    param = dags["batch_scoring"].params.get_param("serve.score_input")
    assert param.value is None and not _ui_requires(param)
    assert "newest training run" in param.description


@pytest.mark.parametrize("dag_id", SCHEDULED)
def test_scheduled_dags_do_not_catch_up_and_run_one_at_a_time(dags, dag_id):
    dag = dags[dag_id]
    assert dag.catchup is False, f"{dag_id} ({dag.fileloc}) would replay missed intervals"
    assert dag.max_active_runs == 1, f"{dag_id} ({dag.fileloc}): max_active_runs " \
        f"{dag.max_active_runs}"


def test_manual_dags_have_no_schedule(dags):
    scheduled = {dag_id for dag_id, dag in dags.items()
                 if type(dag.timetable).__name__ != "NullTimetable"}
    assert scheduled == set(SCHEDULED)
