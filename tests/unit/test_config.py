import pytest

from pipelines.config import (
    PARAM_KEYS,
    apply_overrides,
    flat_defaults,
    load_params,
    settings_from_params,
)


@pytest.fixture
def params(project_root):
    return load_params(project_root / "params.yaml")


def test_project_params_are_valid(params):
    settings = settings_from_params(params)
    assert settings.train.models and settings.register.model_name


def test_every_form_param_maps_to_a_params_key(params):
    assert set(flat_defaults(params)) == set(PARAM_KEYS)


def test_overrides_apply_without_touching_the_original(params):
    merged = apply_overrides(params, {"seed": 7, "demo_rows": 123})
    assert (merged["train"]["seed"], merged["collect"]["demo_rows"]) == (7, 123)
    assert params["train"]["seed"] != 7 or params["collect"]["demo_rows"] != 123


def test_unknown_override_is_named(params):
    with pytest.raises(ValueError, match="unknown parameter 'sed'"):
        apply_overrides(params, {"sed": 1})


@pytest.mark.parametrize("section,key,value,message", [
    ("collect", "demo_rows", 0, "'collect.demo_rows' must be an int in"),
    ("collect", "source", "ftp", "'collect.source' must be 'demo', 'file' or 'validated'"),
    ("validate", "max_quarantine_rate", 1.5, "'validate.max_quarantine_rate' must be"),
    ("train", "models", ["catboost"], "'train.models' must be a non-empty list"),
    ("train", "test_fraction", 0.9, "'train.test_fraction' must be a number in"),
    ("register", "model_name", "bad name!", "'register.model_name' must be"),
])
def test_invalid_values_name_key_rule_and_value(params, section, key, value, message):
    params[section][key] = value
    with pytest.raises(ValueError, match=message) as caught:
        settings_from_params(params)
    assert repr(value) in str(caught.value)


def test_file_source_needs_a_path(params):
    params["collect"]["source"] = "file"
    with pytest.raises(ValueError, match="'collect.path' must be a file or folder"):
        settings_from_params(params)


def test_missing_section_is_named(params):
    del params["train"]
    with pytest.raises(ValueError, match="missing key 'train'"):
        settings_from_params(params)


def test_known_models_match_the_model_zoo():
    from pipelines.config import KNOWN_MODELS
    from pipelines.train.model_zoo import MODEL_NAMES

    assert KNOWN_MODELS == MODEL_NAMES


def test_growth_model_names_match_the_growth_trainer():
    from pipelines.config import GROWTH_MODELS
    from pipelines.train.follower_growth_training import GROWTH_MODELS as TRAINER

    assert GROWTH_MODELS == TRAINER


def test_unknown_feature_key_is_named(params):
    params["features"] = {"maturity_hour": 1}
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['maturity_hour'\] in 'features'"):
        settings_from_params(params)


@pytest.mark.parametrize("target", ["likes", "comments", "shares"])
def test_each_target_gets_its_own_registered_model(params, target):
    params["train"]["target"] = target
    assert settings_from_params(params).register.model_name == f"engagement-{target}"


def test_unknown_target_is_named(params):
    params["train"]["target"] = "views"
    with pytest.raises(ValueError, match=r"'train.target' must be one of \['likes', 'comments'"):
        settings_from_params(params)


@pytest.mark.parametrize("section,key,value,message", [
    ("promote", "metric", "r2_log", "'promote.metric' must be 'mae_log' or 'rmse_log'"),
    ("promote", "confidence", 1.0, "'promote.confidence' must be a number in"),
    ("promote", "secondary_metrics", ["mape"], "'promote.secondary_metrics' must be"),
    ("promote", "non_inferiority_margin", -0.1, "'promote.non_inferiority_margin' must be"),
    ("champion_challenger", "alpha", 0.5, "'champion_challenger.alpha' must be"),
    ("champion_challenger", "max_outcomes", 50, "'champion_challenger.max_outcomes' must be"),
])
def test_gate_and_online_test_settings_are_validated(params, section, key, value, message):
    params[section][key] = value
    with pytest.raises(ValueError, match=message):
        settings_from_params(params)


def test_gate_settings_reject_unknown_keys_and_default_when_absent(params):
    params["promote"]["resample"] = 10
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['resample'\] in 'promote'"):
        settings_from_params(params)
    del params["promote"]
    assert settings_from_params(params).promote.metric == "mae_log"
