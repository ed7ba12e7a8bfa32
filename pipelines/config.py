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
    "segments": ("segments", "only"),
    "sources": ("collect_daily", "sources"),
    "score_model_uri": ("serve", "score_model_uri"),
    "score_input": ("serve", "score_input"),
    "score_format": ("serve", "score_format"),
    "score_output": ("serve", "score_output"),
    "daily_demo_rows": ("collect_daily", "demo_rows"),
    "api_accounts": ("collect_daily", "api_accounts"),
    "window_days": ("monitor", "window_days"),
    "window_end": ("monitor", "window_end"),
    "drift_share": ("monitor", "drift_share"),
    "thresholds": ("monitor", "min_effect"),
    "max_error_increase": ("monitor", "max_error_increase"),
    "notifier": ("monitor", "notifier"),
    "horizon_hours": ("champion_challenger", "horizon_hours"),
    "alpha": ("champion_challenger", "alpha"),
    "min_outcomes": ("champion_challenger", "min_outcomes"),
    "guardrail_margin": ("champion_challenger", "guardrail_margin"),
}

#: Run-conf keys that annotate a run instead of setting a parameter: drift_monitoring
#: triggers engagement_training with the reason in its conf.
RUN_NOTE_KEYS: tuple[str, ...] = ("reason", "source_dag_run")

#: The model zoo's names (pipelines.train.model_zoo.MODEL_NAMES; kept literal so DAG
#: parsing imports no ML library — a test checks the two agree).
KNOWN_MODELS: tuple[str, ...] = (
    "ridge", "random_forest", "xgboost", "lightgbm", "hist_gradient_boosting", "mlp",
    "two_stage_hard", "two_stage_soft",
)

#: Targets a model can learn, one registered model each: counts (log1p regression) and the
#: growth of log1p(followers) over an account's next period.
TARGETS: tuple[str, ...] = ("likes", "comments", "shares", "follower_growth")

#: The families that can learn follower growth (pipelines.train.follower_growth_training.
#: GROWTH_MODELS, kept literal like KNOWN_MODELS — a test checks the two agree).
GROWTH_MODELS: tuple[str, ...] = (
    "ridge", "lightgbm", "xgboost", "random_forest", "hist_gradient_boosting")

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
        if self.target == "follower_growth":
            _check(all(m in GROWTH_MODELS for m in self.models), "train.models",
                   f"models that can learn follower growth: {list(GROWTH_MODELS)}",
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


DRIFT_METHODS: tuple[str, ...] = ("wasserstein", "psi", "jensenshannon")
NOTIFIER_KINDS: tuple[str, ...] = ("log", "webhook", "email")


@dataclass(frozen=True)
class MonitorConfig:
    """The drift_monitoring DAG: window, calibrated thresholds, budgets, notifier."""

    model_alias: str = "champion"
    window_days: int = 7
    window_end: str = ""
    min_rows: int = 100
    drift_share: float = 0.3
    min_effect: dict[str, float] = field(default_factory=lambda: dict.fromkeys(DRIFT_METHODS,
                                                                                0.1))
    chunks: int = 10
    quantile: float = 0.95
    safety_factor: float = 1.5
    calibration_rows: int = 100_000
    max_error_increase: float = 0.15
    min_outcomes: int = 100
    report_rows: int = 5_000
    seed: int = 42
    notifier: str = "log"
    webhook_url_env: str = "ENGAGEFLOW_ALERT_WEBHOOK_URL"
    smtp_host: str = "localhost"
    smtp_port: int = 25
    email_from: str = "engageflow@localhost"
    email_to: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check(isinstance(self.window_days, int) and 1 <= self.window_days <= 366,
               "monitor.window_days", "an int in [1, 366]", self.window_days)
        if self.window_end:
            try:
                import pandas as pd

                pd.Timestamp(self.window_end)
            except ValueError:
                _check(False, "monitor.window_end", "empty (the run's data interval) or a "
                       "date like 2022-04-01", self.window_end)
        _check(isinstance(self.min_rows, int) and self.min_rows >= 1, "monitor.min_rows",
               "an int >= 1", self.min_rows)
        _check(isinstance(self.drift_share, (int, float)) and 0 < self.drift_share <= 1,
               "monitor.drift_share", "a number in (0, 1]", self.drift_share)
        _check(isinstance(self.min_effect, dict) and set(self.min_effect) == set(DRIFT_METHODS)
               and all(isinstance(v, (int, float)) and v > 0 for v in self.min_effect.values()),
               "monitor.min_effect", f"a mapping of {list(DRIFT_METHODS)} to numbers > 0",
               self.min_effect)
        _check(isinstance(self.chunks, int) and 2 <= self.chunks <= 100, "monitor.chunks",
               "an int in [2, 100]", self.chunks)
        _check(isinstance(self.quantile, (int, float)) and 0 < self.quantile <= 1,
               "monitor.quantile", "a number in (0, 1]", self.quantile)
        _check(isinstance(self.safety_factor, (int, float)) and self.safety_factor >= 1,
               "monitor.safety_factor", "a number >= 1", self.safety_factor)
        for name in ("calibration_rows", "report_rows", "min_outcomes"):
            value = getattr(self, name)
            _check(isinstance(value, int) and value >= 1, f"monitor.{name}", "an int >= 1",
                   value)
        _check(isinstance(self.max_error_increase, (int, float)) and self.max_error_increase >= 0,
               "monitor.max_error_increase", "a number >= 0", self.max_error_increase)
        _check(self.notifier in NOTIFIER_KINDS, "monitor.notifier", f"one of "
               f"{list(NOTIFIER_KINDS)}", self.notifier)
        _check(self.notifier != "email" or bool(self.email_to), "monitor.email_to",
               "a non-empty list when monitor.notifier is 'email'", list(self.email_to))


def _check_keys(section: dict[str, Any], name: str, cls: type) -> None:
    """Name the keys of params section ``name`` that settings class ``cls`` does not have."""
    unknown = set(section) - set(cls.__dataclass_fields__)
    if unknown:
        raise ValueError(f"params.yaml: unknown key(s) {sorted(unknown)} in '{name}'; "
                         f"allowed: {sorted(cls.__dataclass_fields__)}.")


def _monitor(section: dict[str, Any]) -> MonitorConfig:
    _check_keys(section, "monitor", MonitorConfig)
    values = dict(section)
    if "min_effect" in values:
        values["min_effect"] = dict(values["min_effect"] or {})
    if "email_to" in values:
        values["email_to"] = tuple(values["email_to"] or ())
    if values.get("window_end") is None:
        values["window_end"] = ""
    return MonitorConfig(**values)


@dataclass(frozen=True)
class SegmentsConfig:
    """Per-platform and per-segment models (``segments`` in params.yaml)."""

    enabled: bool = True
    key: str = "campaign_id"
    min_samples: int = 20
    min_holdout: int = 10
    retrain_after: int = 50
    only: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "only", tuple(self.only or ()))  # `only:` empty in YAML
        _check(isinstance(self.enabled, bool), "segments.enabled", "true or false",
               self.enabled)
        _check(self.key in ("campaign_id", "account_id"), "segments.key",
               "'campaign_id' or 'account_id'", self.key)
        for name in ("min_samples", "min_holdout", "retrain_after"):
            value = getattr(self, name)
            _check(isinstance(value, int) and value >= 2, f"segments.{name}", "an int >= 2",
                   value)
        _check(all(isinstance(k, str) and (k == "global" or "=" in k) for k in self.only),
               "segments.only", "a list of segment keys such as 'platform=instagram' or "
               "'campaign=spring-sale'", list(self.only))
#: Metrics the promotion gate computes (pipelines.evaluate.promotion_gate.GATE_METRICS;
#: literal here so DAG parsing imports no numpy — a test checks the two agree).
GATE_METRICS: tuple[str, ...] = ("mae_log", "rmse_log", "mae_raw", "spearman")


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@dataclass(frozen=True)
class PromoteConfig:
    """The offline promotion gate (``promote`` in params.yaml; see docs/promotion.md).

    Attributes:
        metric: Primary metric, a per-row loss: ``mae_log`` or ``rmse_log``.
        secondary_metrics: Must stay non-inferior (from :data:`GATE_METRICS`).
        confidence: Level of the two-sided paired-bootstrap interval.
        resamples: Bootstrap resamples.
        bootstrap_unit: ``row`` (resample posts) or ``account`` (resample whole accounts,
            whose posts' errors are correlated; wider, more honest intervals).
        min_delta: Promote only if the improvement's lower bound exceeds this (metric units).
        non_inferiority_margin: Allowed worsening of a secondary metric or a slice at the
            interval's worst end, RELATIVE to the champion's value (0.05 = 5 %).
        min_slice_rows: Slices (values of ``slice_by``) with fewer holdout rows are not gated.
        slice_by: Column of the feature table the slices come from.
        seed: Seed of the bootstrap.
        max_mae_log, min_spearman: Absolute thresholds of the first model.
        min_baseline_improvement: The first model's lower bound of improvement over the
            naive baseline (account median) must exceed this.
    """

    metric: str = "mae_log"
    secondary_metrics: tuple[str, ...] = ("rmse_log", "mae_raw", "spearman")
    confidence: float = 0.95
    resamples: int = 2000
    bootstrap_unit: str = "row"
    min_delta: float = 0.0
    non_inferiority_margin: float = 0.05
    min_slice_rows: int = 100
    slice_by: str = "platform"
    seed: int = 0
    max_mae_log: float = 1.5
    min_spearman: float = 0.3
    min_baseline_improvement: float = 0.0

    def __post_init__(self) -> None:
        _check(self.metric in ("mae_log", "rmse_log"), "promote.metric",
               "'mae_log' or 'rmse_log'", self.metric)
        _check(all(m in GATE_METRICS for m in self.secondary_metrics),
               "promote.secondary_metrics", f"a list drawn from {list(GATE_METRICS)}",
               list(self.secondary_metrics))
        _check(_number(self.confidence) and 0.5 <= self.confidence < 1, "promote.confidence",
               "a number in [0.5, 1)", self.confidence)
        _check(isinstance(self.resamples, int) and 100 <= self.resamples <= 100_000,
               "promote.resamples", "an int in [100, 100000]", self.resamples)
        _check(self.bootstrap_unit in ("row", "account"), "promote.bootstrap_unit",
               "'row' or 'account'", self.bootstrap_unit)
        _check(_number(self.min_delta) and self.min_delta >= 0, "promote.min_delta",
               "a number >= 0", self.min_delta)
        _check(_number(self.non_inferiority_margin) and 0 <= self.non_inferiority_margin < 1,
               "promote.non_inferiority_margin", "a number in [0, 1) (relative)",
               self.non_inferiority_margin)
        _check(isinstance(self.min_slice_rows, int) and self.min_slice_rows >= 1,
               "promote.min_slice_rows", "an int >= 1", self.min_slice_rows)
        _check(isinstance(self.seed, int) and self.seed >= 0, "promote.seed", "an int >= 0",
               self.seed)
        _check(_number(self.max_mae_log) and self.max_mae_log > 0, "promote.max_mae_log",
               "a number > 0", self.max_mae_log)
        _check(_number(self.min_spearman) and -1 <= self.min_spearman <= 1,
               "promote.min_spearman", "a number in [-1, 1]", self.min_spearman)
        _check(_number(self.min_baseline_improvement), "promote.min_baseline_improvement",
               "a number", self.min_baseline_improvement)


@dataclass(frozen=True)
class ChampionChallengerConfig:
    """The online champion-challenger test (``champion_challenger`` in params.yaml).

    Attributes:
        horizon_hours: A prediction is judged once its post is this old (outcome matured).
        alpha: Error level of the anytime-valid confidence sequence (valid under any number
            of looks, e.g. one a day).
        min_outcomes: Matured outcomes each arm needs before any decision.
        max_outcomes: With this many per arm and still no decision, the test ends
            inconclusive and the challenger is removed (0: never).
        guardrail_margin: Roll back at once when the challenger's mean loss is this much
            (relative) above the champion's, significant or not.
        mixture_sd: Standard deviation of the normal mixture over the loss difference
            (log1p units): the effect size the test is most sensitive to.
        experiment: MLflow experiment of the daily decisions.
    """

    horizon_hours: float = 48.0
    alpha: float = 0.05
    min_outcomes: int = 200
    max_outcomes: int = 20_000
    guardrail_margin: float = 0.25
    mixture_sd: float = 0.05
    experiment: str = "engageflow-champion-challenger"

    def __post_init__(self) -> None:
        where = "champion_challenger"
        _check(_number(self.horizon_hours) and self.horizon_hours >= 0,
               f"{where}.horizon_hours", "a number >= 0", self.horizon_hours)
        _check(_number(self.alpha) and 0 < self.alpha < 0.5, f"{where}.alpha",
               "a number in (0, 0.5)", self.alpha)
        _check(isinstance(self.min_outcomes, int) and self.min_outcomes >= 2,
               f"{where}.min_outcomes", "an int >= 2", self.min_outcomes)
        _check(isinstance(self.max_outcomes, int) and (self.max_outcomes == 0
               or self.max_outcomes >= self.min_outcomes), f"{where}.max_outcomes",
               "0 (no cap) or an int >= min_outcomes", self.max_outcomes)
        _check(_number(self.guardrail_margin) and self.guardrail_margin > 0,
               f"{where}.guardrail_margin", "a number > 0 (relative)", self.guardrail_margin)
        _check(_number(self.mixture_sd) and self.mixture_sd > 0, f"{where}.mixture_sd",
               "a number > 0", self.mixture_sd)
        _check(bool(self.experiment), f"{where}.experiment", "a non-empty name",
               self.experiment)
SCORE_FORMATS: tuple[str, ...] = (
    "canonical", "instagram_graph", "linkedin_share", "twitter_v2", "tweets_csv",
    "instagram_scrape_csv", "facebook_uci",
)  # pipelines.collect.formats.FORMATS, literal so DAG parsing stays light


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
    auto_train: str = "sync"
    auto_train_max_rows: int = 20_000
    airflow_url: str = ""

    def __post_init__(self) -> None:
        _check(self.auto_train in ("off", "sync", "airflow"), "serve.auto_train",
               "'off', 'sync' or 'airflow'", self.auto_train)
        _check(self.auto_train != "airflow" or bool(self.airflow_url), "serve.airflow_url",
               "the Airflow API server URL when serve.auto_train is 'airflow'",
               self.airflow_url)
        _check(isinstance(self.auto_train_max_rows, int) and self.auto_train_max_rows >= 1,
               "serve.auto_train_max_rows", "an int >= 1", self.auto_train_max_rows)
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
    _check_keys(section, "serve", ServeConfig)
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
    segments: SegmentsConfig = field(default_factory=SegmentsConfig)
    monitor: MonitorConfig = field(default_factory=MonitorConfig)
    promote: PromoteConfig = field(default_factory=PromoteConfig)
    champion_challenger: ChampionChallengerConfig = field(
        default_factory=ChampionChallengerConfig)
    serve: ServeConfig = field(default_factory=ServeConfig)


def _section(params: dict[str, Any], name: str, cls: type) -> Any:
    """A settings object from an optional params section; unknown keys are named."""
    section = dict(params.get(name) or {})
    _check_keys(section, name, cls)
    for key, value in section.items():
        if isinstance(value, list):
            section[key] = tuple(value)
    return cls(**section)


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
        if name in RUN_NOTE_KEYS:
            continue
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
            features=_section(params, "features", FeatureSettings),
            register=RegisterConfig(
                model_name=str(r["model_name"]).replace("{target}", str(t["target"])),
                experiment=r["experiment"]),
            segments=_section(params, "segments", SegmentsConfig),
            monitor=_monitor(params.get("monitor") or {}),
            promote=_section(params, "promote", PromoteConfig),
            champion_challenger=_section(params, "champion_challenger",
                                         ChampionChallengerConfig),
            serve=_serve(dict(params.get("serve") or {}), str(t["target"])),
        )
    except KeyError as missing:
        raise ValueError(f"params.yaml: missing key {missing}.") from None
