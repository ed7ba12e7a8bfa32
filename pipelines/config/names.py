"""The closed sets of names settings may take, as Literal types and tuples.

Kept literal here so that DAG parsing imports no ML or data library; a test checks each
against the implementation it names.
"""

from __future__ import annotations

from typing import Literal, get_args

#: The model zoo's names (pipelines.train.model_zoo.MODEL_NAMES).
ModelName = Literal["ridge", "random_forest", "xgboost", "lightgbm", "hist_gradient_boosting",
                    "mlp", "two_stage_hard", "two_stage_soft"]
KNOWN_MODELS: tuple[str, ...] = get_args(ModelName)

#: The families that can learn follower growth (pipelines.train.follower_growth_training.
#: GROWTH_MODELS).
GROWTH_MODELS: tuple[str, ...] = (
    "ridge", "lightgbm", "xgboost", "random_forest", "hist_gradient_boosting")

#: What a model can learn, one registered model each: counts (log1p regression) and the
#: growth of log1p(followers) over an account's next period. (Literal for now; to be read
#: from the task registry.)
TaskName = Literal["likes", "comments", "shares", "follower_growth"]
TASK_NAMES: tuple[str, ...] = get_args(TaskName)

#: File layouts the readers know (pipelines.collect.file_formats.FORMATS).
FileFormat = Literal["canonical", "instagram_graph", "linkedin_share", "twitter_v2",
                     "tweets_csv", "instagram_scrape_csv", "facebook_uci"]
FILE_FORMATS: tuple[str, ...] = get_args(FileFormat)

DailySource = Literal["demo", "file", "instagram", "facebook", "linkedin", "x"]
DAILY_SOURCES: tuple[str, ...] = get_args(DailySource)
#: Daily sources that read an API (they need accounts).
API_SOURCES: tuple[str, ...] = tuple(s for s in DAILY_SOURCES if s not in ("demo", "file"))

#: Metrics the promotion gate computes (pipelines.evaluate.promotion_gate.GATE_METRICS).
GateMetric = Literal["mae_log", "rmse_log", "mae_raw", "spearman"]
GATE_METRICS: tuple[str, ...] = get_args(GateMetric)

DRIFT_METHODS: tuple[str, ...] = ("wasserstein", "psi", "jensenshannon")
Notifier = Literal["log", "webhook", "email"]
NOTIFIER_KINDS: tuple[str, ...] = get_args(Notifier)

#: The Airflow Asset that engagement_collect updates and engagement_training listens to.
VALIDATED_POSTS_ASSET = "engageflow_validated_posts"

#: Run-conf keys that annotate a run instead of setting a parameter: drift_monitoring
#: triggers engagement_training with the reason in its conf.
RUN_NOTE_KEYS: tuple[str, ...] = ("reason", "source_dag_run")
