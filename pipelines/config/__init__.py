"""params.yaml → frozen, validated settings: one pydantic model per section, the one
source of every setting's type, bounds, default, title and description.

Light on imports (DAG files build their trigger forms from it at parse time): pydantic and
yaml only. Modules: ``section`` (base and value types), ``names`` (closed sets), ``data``,
``training``, ``monitoring``, ``serving`` (the sections), ``settings`` (loading),
``errors`` (messages), ``form`` (Airflow trigger forms).
"""

from pipelines.config.data import CollectConfig, CollectDailyConfig, FeatureSettings, ValidateConfig
from pipelines.config.form import field_schema, form_fields, task_section_keys, trigger_form
from pipelines.config.monitoring import MinEffect, MonitorConfig
from pipelines.config.names import (
    API_SOURCES,
    DAILY_SOURCES,
    DRIFT_METHODS,
    FILE_FORMATS,
    KNOWN_MODELS,
    NOTIFIER_KINDS,
    RUN_NOTE_KEYS,
    TASK_NAMES,
    VALIDATED_POSTS_ASSET,
)
from pipelines.config.serving import ChampionChallengerConfig, ServeConfig
from pipelines.config.settings import (
    Settings,
    apply_overrides,
    load_settings,
    override_keys,
    read_params,
    settings_from_params,
)
from pipelines.config.training import (
    LightGBMParams,
    PromoteConfig,
    RegisterConfig,
    RidgeParams,
    SegmentsConfig,
    TrainConfig,
)

__all__ = [
    "API_SOURCES", "DAILY_SOURCES", "DRIFT_METHODS", "FILE_FORMATS",
    "KNOWN_MODELS", "NOTIFIER_KINDS", "RUN_NOTE_KEYS", "TASK_NAMES",
    "VALIDATED_POSTS_ASSET", "ChampionChallengerConfig", "CollectConfig", "CollectDailyConfig",
    "FeatureSettings", "LightGBMParams", "MinEffect", "MonitorConfig", "PromoteConfig",
    "RegisterConfig", "RidgeParams", "SegmentsConfig", "ServeConfig", "Settings",
    "TrainConfig", "ValidateConfig", "apply_overrides", "field_schema", "form_fields",
    "load_settings", "task_section_keys", "override_keys", "read_params",
    "settings_from_params", "trigger_form",
]
