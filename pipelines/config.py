"""params.yaml → frozen, validated settings objects, one per stage.

Only entry points (the CLI, the DAG task wrappers) read YAML; core functions receive these
objects' fields as explicit arguments.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pipelines.features.settings import FeatureSettings

#: Trigger-form Param name → (params.yaml section, key). The Airflow form shows these flat.
PARAM_KEYS: dict[str, tuple[str, str]] = {
    "source": ("collect", "source"),
    "input_path": ("collect", "path"),
    "input_format": ("collect", "format"),
    "demo_rows": ("collect", "demo_rows"),
    "data_seed": ("collect", "seed"),
    "min_rows": ("validate", "min_rows"),
    "max_quarantine_rate": ("validate", "max_quarantine_rate"),
    "max_platform_share": ("validate", "max_platform_share"),
    "models": ("train", "models"),
    "seed": ("train", "seed"),
    "test_fraction": ("train", "test_fraction"),
    "target": ("train", "target"),
    "model_name": ("register", "model_name"),
    "sources": ("collect_daily", "sources"),
    "score_model_uri": ("serve", "score_model_uri"),
    "score_input": ("serve", "score_input"),
    "score_format": ("serve", "score_format"),
    "score_output": ("serve", "score_output"),
    "daily_demo_rows": ("collect_daily", "demo_rows"),
    "api_accounts": ("collect_daily", "api_accounts"),
}

#: The model zoo's names (pipelines.train.model_zoo.MODEL_NAMES; kept literal so DAG
#: parsing imports no ML library — a test checks the two agree).
KNOWN_MODELS: tuple[str, ...] = (
    "ridge", "random_forest", "xgboost", "lightgbm", "hist_gradient_boosting", "mlp",
    "two_stage_hard", "two_stage_soft",
)

#: Count targets a model can learn (log1p regression); one registered model each.
TARGETS: tuple[str, ...] = ("likes", "comments", "shares")

#: The Airflow Asset that engagement_collect updates and engagement_training listens to.
VALIDATED_POSTS_ASSET = "engageflow_validated_posts"


def _check(condition: bool, where: str, rule: str, value: Any) -> None:
    if not condition:
        raise ValueError(f"params.yaml: '{where}' must be {rule}; got {value!r}.")


@dataclass(frozen=True)
class CollectConfig:
    source: str
    path: str
    format: str
    demo_rows: int
    demo_accounts: int
    seed: int

    def __post_init__(self) -> None:
        _check(self.source in ("demo", "file", "validated"), "collect.source",
               "'demo', 'file' or 'validated'", self.source)
        _check(self.source != "file" or bool(self.path), "collect.path",
               "a file or folder when collect.source is 'file'", self.path)
        _check(isinstance(self.demo_rows, int) and 1 <= self.demo_rows <= 10_000_000,
               "collect.demo_rows", "an int in [1, 10000000]", self.demo_rows)
        _check(isinstance(self.demo_accounts, int) and 1 <= self.demo_accounts <= 1_000_000,
               "collect.demo_accounts", "an int in [1, 1000000]", self.demo_accounts)
        _check(isinstance(self.seed, int) and self.seed >= 0, "collect.seed", "an int >= 0",
               self.seed)


DAILY_SOURCES: tuple[str, ...] = ("demo", "file", "instagram", "facebook", "linkedin", "x")


@dataclass(frozen=True)
class CollectDailyConfig:
    """The engagement_collect DAG: which sources feed one partition per logical date."""

    sources: tuple[str, ...]
    demo_rows: int
    api_accounts: dict[str, tuple[str, ...]]
    api_base_urls: dict[str, str]
    lookback_hours: float

    def __post_init__(self) -> None:
        _check(len(self.sources) > 0 and all(s in DAILY_SOURCES for s in self.sources),
               "collect_daily.sources", f"a non-empty list drawn from {list(DAILY_SOURCES)}",
               list(self.sources))
        _check(isinstance(self.demo_rows, int) and 1 <= self.demo_rows <= 1_000_000,
               "collect_daily.demo_rows", "an int in [1, 1000000]", self.demo_rows)
        for api in self.sources:
            if api not in ("demo", "file"):
                _check(bool(self.api_accounts.get(api)), f"collect_daily.api_accounts.{api}",
                       f"a non-empty list of account ids when '{api}' is a source",
                       self.api_accounts.get(api))
        _check(isinstance(self.lookback_hours, (int, float)) and self.lookback_hours >= 0,
               "collect_daily.lookback_hours", "a number >= 0", self.lookback_hours)


@dataclass(frozen=True)
class ValidateConfig:
    suite: str
    table_suite: str
    min_rows: int
    max_quarantine_rate: float
    max_platform_share: float = 1.0
    max_null_rate: dict[str, float] = field(default_factory=dict)
    min_quality_score: float = 0.0

    def __post_init__(self) -> None:
        _check(isinstance(self.min_rows, int) and self.min_rows >= 1, "validate.min_rows",
               "an int >= 1", self.min_rows)
        _check(isinstance(self.max_quarantine_rate, (int, float))
               and 0.0 <= self.max_quarantine_rate <= 1.0,
               "validate.max_quarantine_rate", "a number in [0, 1]", self.max_quarantine_rate)
        _check(isinstance(self.max_platform_share, (int, float))
               and 0.0 < self.max_platform_share <= 1.0,
               "validate.max_platform_share", "a number in (0, 1]", self.max_platform_share)
        for column, limit in self.max_null_rate.items():
            _check(isinstance(limit, (int, float)) and 0.0 <= limit <= 1.0,
                   f"validate.max_null_rate.{column}", "a number in [0, 1]", limit)
        _check(isinstance(self.min_quality_score, (int, float))
               and 0 <= self.min_quality_score <= 100,
               "validate.min_quality_score", "a number in [0, 100]", self.min_quality_score)


@dataclass(frozen=True)
class TrainConfig:
    target: str
    models: tuple[str, ...]
    seed: int
    valid_fraction: float
    test_fraction: float
    hyperparameters: dict[str, dict[str, Any]] = field(default_factory=dict)
    cv_folds: int = 5

    def __post_init__(self) -> None:
        _check(self.target in TARGETS, "train.target", f"one of {list(TARGETS)}", self.target)
        _check(len(self.models) > 0 and all(m in KNOWN_MODELS for m in self.models),
               "train.models", f"a non-empty list drawn from {list(KNOWN_MODELS)}",
               list(self.models))
        _check(isinstance(self.seed, int) and self.seed >= 0, "train.seed", "an int >= 0",
               self.seed)
        _check(isinstance(self.cv_folds, int) and (self.cv_folds == 0 or self.cv_folds >= 2),
               "train.cv_folds", "0 (no cross-validation) or an int >= 2", self.cv_folds)
        for name in ("valid_fraction", "test_fraction"):
            value = getattr(self, name)
            _check(isinstance(value, (int, float)) and 0.05 <= value <= 0.5,
                   f"train.{name}", "a number in [0.05, 0.5]", value)


@dataclass(frozen=True)
class RegisterConfig:
    model_name: str
    experiment: str

    def __post_init__(self) -> None:
        _check(bool(self.model_name) and self.model_name.replace("-", "").replace("_", "")
               .isalnum(), "register.model_name", "letters, digits, '-' or '_'",
               self.model_name)


SCORE_FORMATS: tuple[str, ...] = (
    "canonical", "instagram_graph", "linkedin_share", "twitter_v2", "tweets_csv",
    "instagram_scrape_csv", "facebook_uci",
)  # pipelines.collect.file_formats.FORMATS, literal so DAG parsing stays light


@dataclass(frozen=True)
class ServeConfig:
    """Online serving and batch scoring (``serve`` section). Secrets (API keys) come from
    the environment, never from here."""

    host: str = "127.0.0.1"
    port: int = 8000
    routing: str = "sticky"
    sticky_key: str = "account_id"
    challenger_share: float = 0.1
    exploration_floor: float = 0.05
    reward_horizon_hours: float = 48.0
    reward_refresh_seconds: float = 60.0
    seed: int = 0
    poll_seconds: float = 10.0
    max_body_bytes: int = 1_000_000
    max_batch: int = 256
    log_batch_size: int = 500
    log_flush_seconds: float = 0.5
    score_model_uri: str = "models:/engagement-{target}@champion"
    score_input: str = ""
    score_format: str = "canonical"
    score_output: str = "data/07_scoring/predictions.parquet"

    def __post_init__(self) -> None:
        _check(self.routing in ("sticky", "thompson"), "serve.routing",
               "'sticky' or 'thompson'", self.routing)
        _check(self.sticky_key in ("account_id", "post_id"), "serve.sticky_key",
               "'account_id' or 'post_id'", self.sticky_key)
        _check(isinstance(self.port, int) and 1 <= self.port <= 65535, "serve.port",
               "an int in [1, 65535]", self.port)
        _check(isinstance(self.challenger_share, (int, float))
               and 0 <= self.challenger_share <= 1, "serve.challenger_share",
               "a number in [0, 1]", self.challenger_share)
        _check(isinstance(self.exploration_floor, (int, float))
               and 0 <= self.exploration_floor <= 0.5, "serve.exploration_floor",
               "a number in [0, 0.5]", self.exploration_floor)
        _check(isinstance(self.seed, int) and self.seed >= 0, "serve.seed", "an int >= 0",
               self.seed)
        for name in ("reward_horizon_hours", "poll_seconds", "reward_refresh_seconds",
                     "log_flush_seconds"):
            value = getattr(self, name)
            _check(isinstance(value, (int, float)) and value >= 0, f"serve.{name}",
                   "a number >= 0", value)
        for name, low, high in (("max_body_bytes", 1_000, 100_000_000),
                                ("max_batch", 1, 10_000), ("log_batch_size", 1, 100_000)):
            value = getattr(self, name)
            _check(isinstance(value, int) and low <= value <= high, f"serve.{name}",
                   f"an int in [{low}, {high}]", value)
        _check(self.score_format in SCORE_FORMATS, "serve.score_format",
               f"one of {list(SCORE_FORMATS)}", self.score_format)
        _check(self.score_model_uri.startswith("models:/"), "serve.score_model_uri",
               "a registry URI 'models:/NAME@ALIAS' or 'models:/NAME/VERSION'",
               self.score_model_uri)


def _serve(section: dict[str, Any], target: str) -> ServeConfig:
    unknown = set(section) - set(ServeConfig.__dataclass_fields__)
    if unknown:
        raise ValueError(f"params.yaml: unknown key(s) {sorted(unknown)} in 'serve'; "
                         f"allowed: {sorted(ServeConfig.__dataclass_fields__)}.")
    values = {k: (v.replace("{target}", target) if isinstance(v, str) else v)
              for k, v in section.items()}
    if "score_model_uri" not in values:
        values["score_model_uri"] = ServeConfig.score_model_uri.replace("{target}", target)
    return ServeConfig(**values)


@dataclass(frozen=True)
class Settings:
    collect: CollectConfig
    collect_daily: CollectDailyConfig
    validate: ValidateConfig
    train: TrainConfig
    features: FeatureSettings
    register: RegisterConfig
    serve: ServeConfig = field(default_factory=ServeConfig)


def _features(section: dict[str, Any]) -> FeatureSettings:
    unknown = set(section) - set(FeatureSettings.__dataclass_fields__)
    if unknown:
        raise ValueError(f"params.yaml: unknown key(s) {sorted(unknown)} in 'features'; "
                         f"allowed: {sorted(FeatureSettings.__dataclass_fields__)}.")
    return FeatureSettings(**section)


def load_params(path: str | Path) -> dict[str, Any]:
    """Read params.yaml as a plain dict.

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        ValueError: if the file is not a YAML mapping.
    """
    with open(path, encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a YAML mapping of stage sections; got {type(data)}.")
    return data


def apply_overrides(params: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """Return a copy of ``params`` with flat trigger-form overrides applied.

    Raises:
        ValueError: for an override name that is not in :data:`PARAM_KEYS`.
    """
    merged = copy.deepcopy(params)
    for name, value in overrides.items():
        if name not in PARAM_KEYS:
            raise ValueError(
                f"apply_overrides: unknown parameter {name!r}; allowed: {sorted(PARAM_KEYS)}."
            )
        section, key = PARAM_KEYS[name]
        merged.setdefault(section, {})[key] = value
    return merged


def flat_defaults(params: dict[str, Any]) -> dict[str, Any]:
    """The trigger-form defaults: each :data:`PARAM_KEYS` entry read from ``params``."""
    return {name: params[section][key] for name, (section, key) in PARAM_KEYS.items()}


def settings_from_params(params: dict[str, Any]) -> Settings:
    """Build validated settings from a params dict.

    Raises:
        ValueError: naming the params key, the rule and the value for any invalid entry.
    """
    try:
        c, v, t, r = params["collect"], params["validate"], params["train"], params["register"]
        d = params.get("collect_daily") or {}
        models = tuple(t["models"])
        return Settings(
            collect_daily=CollectDailyConfig(
                sources=tuple(d.get("sources") or ("demo",)),
                demo_rows=d.get("demo_rows", 300),
                api_accounts={k: tuple(v) for k, v in (d.get("api_accounts") or {}).items()},
                api_base_urls=dict(d.get("api_base_urls") or {}),
                lookback_hours=d.get("lookback_hours", 48.0),
            ),
            collect=CollectConfig(
                source=c["source"], path=str(c.get("path") or ""), format=c["format"],
                demo_rows=c["demo_rows"], demo_accounts=c["demo_accounts"], seed=c["seed"],
            ),
            validate=ValidateConfig(
                suite=v["suite"], table_suite=v["table_suite"], min_rows=v["min_rows"],
                max_quarantine_rate=v["max_quarantine_rate"],
                max_platform_share=v.get("max_platform_share", 1.0),
                max_null_rate=dict(v.get("max_null_rate") or {}),
                min_quality_score=v.get("min_quality_score", 0.0),
            ),
            train=TrainConfig(
                target=t["target"], models=models, seed=t["seed"],
                valid_fraction=t["valid_fraction"], test_fraction=t["test_fraction"],
                hyperparameters={m: dict(t.get(m) or {}) for m in models},
                cv_folds=t.get("cv_folds", 5),
            ),
            features=_features(params.get("features") or {}),
            register=RegisterConfig(
                model_name=str(r["model_name"]).replace("{target}", str(t["target"])),
                experiment=r["experiment"]),
            serve=_serve(dict(params.get("serve") or {}), str(t["target"])),
        )
    except KeyError as missing:
        raise ValueError(f"params.yaml: missing key {missing}.") from None
