"""The settings models: params.yaml ⇄ model defaults, dotted overrides, messages, forms."""

import inspect
import subprocess
import sys

import pytest
import yaml

from pipelines.config import (
    KNOWN_MODELS,
    TASK_NAMES,
    CollectConfig,
    FeatureSettings,
    Settings,
    TrainConfig,
    field_schema,
    form_fields,
    load_settings,
    read_params,
    trigger_form,
)


@pytest.fixture
def params_file(project_root):
    return project_root / "params.yaml"


def write_params(tmp_path, params) -> str:
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    return str(path)


def test_project_params_are_valid(params_file):
    settings = load_settings(params_file)
    assert settings.train.task == "likes" and settings.register.model_name == "engagement-likes"
    assert settings.train.models == ()          # the task's default families


@pytest.mark.parametrize("section", sorted(Settings.model_fields))
def test_params_yaml_lists_every_setting_with_the_models_default(params_file, section):
    """The two places a default could live cannot drift apart: params.yaml lists every key
    of every section, with the value the model defaults to."""
    model = Settings.model_fields[section].annotation
    raw = read_params(params_file)[section]
    assert set(raw) == set(model.model_fields), f"params.yaml '{section}' keys differ"
    assert model.model_validate(raw) == model(), f"params.yaml '{section}' != {model.__name__}()"


def test_all_defaults_are_the_loaded_params(params_file):
    assert Settings() == load_settings(params_file)


def test_dotted_overrides_apply_and_run_notes_are_ignored(params_file):
    settings = load_settings(params_file, {"train.seed": 7, "collect.demo_rows": 123,
                                           "validate.min_rows": 5, "monitor.min_rows": 9,
                                           "reason": "drift", "source_dag_run": "x"})
    assert (settings.train.seed, settings.collect.demo_rows) == (7, 123)
    assert (settings.validate.min_rows, settings.monitor.min_rows) == (5, 9)
    assert load_settings(params_file).train.seed == 42


def test_an_unknown_override_key_is_named_with_the_allowed_ones(params_file):
    with pytest.raises(ValueError, match=r"unknown key 'collect.demo_row'; allowed in "
                                         r"'collect': \[.*'collect.demo_rows'"):
        load_settings(params_file, {"collect.demo_row": 1})
    with pytest.raises(ValueError, match=r"unknown key 'seed': no section 'seed'.*'train'"):
        load_settings(params_file, {"seed": 1})


@pytest.mark.parametrize("key,value,message", [
    ("collect.demo_rows", 0, "'collect.demo_rows' must be an int in [1, 10000000]; got 0."),
    ("collect.demo_rows", 1.5, "'collect.demo_rows' must be an int in [1, 10000000]; got 1.5."),
    ("collect.demo_rows", "10", "'collect.demo_rows' must be an int in [1, 10000000]; "
                                "got '10'."),
    ("train.seed", True, "'train.seed' must be an int >= 0; got True."),
    ("collect.source", "ftp", "'collect.source' must be 'demo', 'file' or 'validated'; "
                              "got 'ftp'."),
    ("collect.format", "xml", "'collect.format' must be 'canonical', 'instagram_graph', "),
    ("validate.max_quarantine_rate", 1.5, "'validate.max_quarantine_rate' must be a number "
                                          "in [0, 1]; got 1.5."),
    ("validate.max_platform_share", 0, "'validate.max_platform_share' must be a number in "
                                       "(0, 1]; got 0."),
    ("validate.max_null_rate", {"caption": 2}, "'validate.max_null_rate.caption' must be a "
                                               "number in [0, 1]; got 2."),
    ("train.models", ["catboost"], "'train.models' must be a list drawn from ['ridge', "),
    ("train.task", "views", "'train.task' must be " + ", ".join(
        repr(name) for name in TASK_NAMES[:-1]) + f" or {TASK_NAMES[-1]!r}; got 'views'."),
    ("train.cv_folds", 1, "'train.cv_folds' must be 0 (no cross-validation) or an int >= 2; "
                          "got 1."),
    ("train.test_fraction", 0.9, "'train.test_fraction' must be a number in [0.05, 0.5]; "
                                 "got 0.9."),
    ("register.model_name", "bad name!", "'register.model_name' must be letters, digits"),
    ("monitor.window_end", "yesterday", "'monitor.window_end' must be empty (the latest "
                                        "data) or a date like 2022-04-01; got 'yesterday'."),
    ("monitor.min_effect", {"psi": -1}, "'monitor.min_effect.psi' must be a number > 0; "
                                        "got -1."),
    ("promote.confidence", 1.0, "'promote.confidence' must be a number in [0.5, 1); got 1.0."),
    ("champion_challenger.alpha", 0.5, "'champion_challenger.alpha' must be a number in "
                                       "(0, 0.5); got 0.5."),
    ("champion_challenger.max_outcomes", 50, "'champion_challenger.max_outcomes' must be 0 "
                                             "(no cap) or an int >= champion_challenger."
                                             "min_outcomes; got 50."),
    ("segments.only", ["instagram"], "'segments.only' must be a list of segment keys"),
    ("features.growth_period", "1M", "'features.growth_period' must be a number of days or "
                                     "hours such as '7D' or '12H'; got '1M'."),
])
def test_an_invalid_value_names_the_key_the_rule_and_the_value(params_file, key, value,
                                                                message):
    with pytest.raises(ValueError) as caught:
        load_settings(params_file, {key: value})
    assert str(caught.value).startswith(f"params.yaml: {message}")


def test_every_invalid_value_is_reported_at_once(params_file):
    with pytest.raises(ValueError) as caught:
        load_settings(params_file, {"collect.demo_rows": 0, "train.seed": -1,
                                    "serve.port": 0})
    assert str(caught.value).splitlines() == [
        "params.yaml: 'collect.demo_rows' must be an int in [1, 10000000]; got 0.",
        "params.yaml: 'train.seed' must be an int >= 0; got -1.",
        "params.yaml: 'serve.port' must be an int in [1, 65535]; got 0."]


@pytest.mark.parametrize("overrides,message", [
    ({"collect.source": "file"},
     "'collect.path' must be a file or folder when collect.source is 'file'; got ''."),
    ({"monitor.notifier": "email"},
     "'monitor.email_to' must be a non-empty list when monitor.notifier is 'email'; got []."),
    ({"serve.auto_train": "airflow"},
     "'serve.airflow_url' must be the Airflow API server URL when serve.auto_train is "
     "'airflow'; got ''."),
    ({"collect_daily.sources": ["demo", "x"]},
     "'collect_daily.api_accounts.x' must be a non-empty list of account ids when 'x' is a "
     "source; got None."),
    ({"train.task": "follower_growth", "train.models": ["mlp"]},
     "'train.models' must be empty or models that can learn task 'follower_growth': "
     "['ridge', "),
])
def test_cross_field_rules_name_the_key_they_are_about(params_file, overrides, message):
    with pytest.raises(ValueError) as caught:
        load_settings(params_file, overrides)
    assert str(caught.value).startswith(f"params.yaml: {message}")


def test_cross_field_rules_pass_when_satisfied(params_file):
    settings = load_settings(params_file, {
        "collect.source": "file", "collect.path": "posts.csv",
        "collect_daily.sources": ["x"], "collect_daily.api_accounts": {"x": ["1"]},
        "monitor.notifier": "email", "monitor.email_to": ["ops@example.org"]})
    assert settings.collect_daily.api_accounts == {"x": ("1",)}
    assert settings.monitor.email_to == ("ops@example.org",)


def test_unknown_yaml_keys_and_sections_are_named(tmp_path, params_file):
    params = read_params(params_file)
    params["features"]["maturity_hour"] = 1
    params["colour"] = {"x": 1}
    with pytest.raises(ValueError) as caught:
        load_settings(write_params(tmp_path, params))
    lines = str(caught.value).splitlines()
    assert lines[0].startswith("params.yaml: unknown key 'features.maturity_hour'; allowed: "
                               "['account_history', ")
    # Task sections join the allowed list as tasks are added: check one fixed section.
    assert lines[1].startswith("params.yaml: unknown key 'colour'; allowed: [")
    assert "'champion_challenger'" in lines[1]


def test_empty_yaml_values_mean_empty_and_absent_sections_their_defaults(tmp_path,
                                                                        params_file):
    params = read_params(params_file)
    params["collect"]["path"] = None
    params["monitor"]["window_end"] = None
    params["segments"]["only"] = None
    params["validate"]["max_null_rate"] = None
    params["promote"] = None
    del params["serve"]
    settings = load_settings(write_params(tmp_path, params))
    assert (settings.collect.path, settings.monitor.window_end) == ("", "")
    assert (settings.segments.only, settings.validate.max_null_rate) == ((), {})
    assert settings == Settings()


def test_a_yaml_date_is_a_window_end(tmp_path, params_file):
    params_file = write_params(tmp_path, read_params(params_file))
    text = open(params_file).read().replace("window_end: ''", "window_end: 2022-04-01")
    open(params_file, "w").write(text)
    assert load_settings(params_file).monitor.window_end == "2022-04-01"


@pytest.mark.parametrize("task", TASK_NAMES)
def test_each_task_gets_its_own_registered_model(params_file, task):
    settings = load_settings(params_file, {"train.task": task, "train.models": []})
    assert settings.register.model_name == f"engagement-{task}"
    assert settings.serve.score_model_uri == f"models:/engagement-{task}@champion"


def test_params_are_the_effective_settings_as_plain_data(params_file):
    """What a training run logs to MLflow (stages.register)."""
    import json

    params = load_settings(params_file, {"train.task": "comments"}).params()
    assert json.loads(json.dumps(params)) == params
    assert params["train"]["models"] == []
    assert params["train"]["lightgbm"]["num_leaves"] == 7
    assert params["register"]["model_name"] == "engagement-comments"
    assert "horizon_hours" not in params["champion_challenger"]


def test_hyperparameters_come_from_the_model_sub_sections(params_file):
    train = load_settings(params_file, {"train.lightgbm": {"num_leaves": 15},
                                        "train.models": ["lightgbm", "ridge", "mlp"]}).train
    assert train.hyperparameters["lightgbm"]["num_leaves"] == 15
    assert train.hyperparameters["lightgbm"]["n_estimators"] == 500    # from params.yaml
    assert train.hyperparameters["ridge"] == {"alpha": 1.0}
    assert "mlp" not in train.hyperparameters          # no sub-section: the zoo's defaults
    with pytest.raises(ValueError, match=r"unknown key 'train.lightgbm.num_leave'"):
        load_settings(params_file, {"train.lightgbm": {"num_leave": 3}})


def test_a_partial_sub_section_override_keeps_the_other_params_values(tmp_path, params_file):
    params = read_params(params_file)
    params["monitor"]["min_effect"]["psi"] = 0.3
    effect = load_settings(write_params(tmp_path, params),
                           {"monitor.min_effect": {"wasserstein": 0.2}}).monitor.min_effect
    assert (effect.wasserstein, effect.psi, effect.jensenshannon) == (0.2, 0.3, 0.1)


def test_sections_built_directly_say_the_same_and_are_frozen():
    with pytest.raises(ValueError) as caught:
        TrainConfig(seed=-1, lightgbm={"num_leaves": 1})
    assert str(caught.value).splitlines() == [
        "params.yaml: 'train.seed' must be an int >= 0; got -1.",
        "params.yaml: 'train.lightgbm.num_leaves' must be an int in [2, 131072]; got 1."]
    with pytest.raises(ValueError, match="frozen"):
        FeatureSettings().maturity_hours = 1


# --- trigger forms ------------------------------------------------------------------------

def test_a_form_field_carries_the_models_bounds_title_and_params_default(params_file):
    fields = form_fields(["collect.demo_rows", "validate.max_platform_share", "train.models",
                          "monitor.notifier"], params_file)
    rows = CollectConfig.model_fields["demo_rows"]
    bounds = {type(m).__name__: m for m in rows.metadata}
    assert fields["collect.demo_rows"] == {
        "default": 4000, "type": "integer", "minimum": bounds["Ge"].ge,
        "maximum": bounds["Le"].le, "title": rows.title, "description": rows.description}
    assert fields["validate.max_platform_share"]["exclusiveMinimum"] == 0
    assert fields["train.models"]["items"]["enum"] == list(KNOWN_MODELS)
    assert fields["train.models"]["default"] == []
    assert fields["monitor.notifier"]["enum"] == ["log", "webhook", "email"]


def test_the_form_keeps_the_task_placeholder_and_empty_texts_are_optional(params_file):
    fields = form_fields(["register.model_name", "serve.score_model_uri", "monitor.window_end",
                          "collect.path"], params_file)
    assert fields["register.model_name"]["default"] == "engagement-{task}"
    assert fields["serve.score_model_uri"]["default"] == "models:/engagement-{task}@champion"
    assert fields["monitor.window_end"]["type"] == ["null", "string"]
    assert fields["collect.path"] == {**fields["collect.path"], "default": None,
                                      "type": ["null", "string"]}


def test_a_sub_section_field_is_an_object_with_its_keys(params_file):
    field = form_fields(["monitor.min_effect"], params_file)["monitor.min_effect"]
    assert field["type"] == "object" and field["additionalProperties"] is False
    assert set(field["properties"]) == {"wasserstein", "psi", "jensenshannon"}
    assert field["default"] == {"wasserstein": 0.1, "psi": 0.1, "jensenshannon": 0.1}


def test_an_unknown_form_key_is_refused():
    with pytest.raises(ValueError, match="trigger_form: unknown key 'demo_rows'"):
        field_schema("demo_rows")


def test_trigger_form_params_refuse_what_the_model_refuses(params_file):
    from airflow.sdk import Param

    form = trigger_form(["collect.demo_rows", "collect.source", "monitor.window_end"],
                        params_file)
    assert all(isinstance(p, Param) for p in form.values())
    assert form["collect.demo_rows"].resolve(600) == 600
    for key, bad in (("collect.demo_rows", 0), ("collect.demo_rows", 20_000_000),
                     ("collect.source", "ftp")):
        with pytest.raises(Exception, match="is not|less than|greater than|minimum|maximum"):
            form[key].resolve(bad)
        with pytest.raises(ValueError, match=f"'{key}' must be"):
            load_settings(params_file, {key: bad})
    assert form["monitor.window_end"].resolve(None) is None
    assert load_settings(params_file, {"monitor.window_end": None}).monitor.window_end == ""


# --- the literals and the code they name ---------------------------------------------------

def test_known_models_are_every_tasks_families():
    from pipelines.tasks import TASK_NAMES, get_task

    assert set(KNOWN_MODELS) == {f for name in TASK_NAMES for f in get_task(name).families}


def test_the_task_names_are_the_registry():
    from pipelines.config import TASK_NAMES
    from pipelines.tasks import TASKS

    assert TASK_NAMES == tuple(TASKS)


def test_config_imports_no_data_library():
    """DAG files build their forms from it at parse time."""
    code = ("import sys, pipelines.config; heavy = {'pandas', 'numpy', 'sklearn', 'mlflow'}; "
            "print(sorted(heavy & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


# --- one source: core functions restate no default ------------------------------------------

@pytest.mark.parametrize("module,function,parameter", [
    ("pipelines.features.account_history", "account_history_features", "maturity_hours"),
    ("pipelines.features.account_history", "AccountHistory", "maturity_hours"),
    ("pipelines.features.engagement_features", "EngagementFeaturizer", "maturity_hours"),
    ("pipelines.registry.champion_challenger", "run_champion_challenger", "maturity_hours"),
    ("pipelines.serve.app", "Service", "maturity_hours"),
    ("pipelines.serve.app", "Service", "tasks"),
    ("pipelines.serve.task_serving", "TaskServer", "challenger_share"),
    ("pipelines.serve.scoring", "run_score", "task"),
    ("pipelines.train.stage", "run_train", "cv_folds"),
    ("pipelines.collect.stage", "run_collect", "demo_rows"),
    ("pipelines.collect.partition", "collect_partition", "lookback_hours"),
    ("pipelines.collect.stage", "run_collect", "limits"),
    ("pipelines.collect.partition", "collect_partition", "limits"),
    ("pipelines.evaluate.sequential_test", "sequential_decision", "alpha"),
    ("pipelines.monitor.notifiers", "notify", "recipients"),
    ("pipelines.features.follower_growth", "account_periods", "period"),
])
def test_a_core_function_takes_the_setting_without_a_default(module, function, parameter):
    import importlib

    target = getattr(importlib.import_module(module), function)
    default = inspect.signature(target).parameters[parameter].default
    assert default is inspect.Parameter.empty, f"{function}({parameter}={default!r})"


def test_train_config_has_no_target():
    assert "target" not in TrainConfig.model_fields and "task" in TrainConfig.model_fields
