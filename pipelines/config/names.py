"""The closed sets of names settings may take, as Literal types and tuples.

Kept literal here so that DAG parsing imports no ML or data library; a test checks each
against the implementation it names.
"""

from __future__ import annotations

from typing import Literal, get_args

from pipelines.tasks import TASK_NAMES, get_task
from pipelines.tasks.base import Task

#: What a model can learn: the tasks of the registry (pipelines.tasks), one registered
#: model each. Task modules are light to import (no ML library at import time).
TaskName = Literal[TASK_NAMES]  # type: ignore[valid-type]

#: Tasks that declare the body of one row a client sends (Task.request_model): the ones
#: ``serve.tasks`` may list, each served by ``POST /tasks/<name>/predict``.
SERVABLE_TASKS: tuple[str, ...] = tuple(
    name for name in TASK_NAMES
    if type(get_task(name)).request_model is not Task.request_model)
ServableTask = Literal[SERVABLE_TASKS]  # type: ignore[valid-type]

#: Every model family some task can learn (each task says which are its own).
KNOWN_MODELS: tuple[str, ...] = tuple(dict.fromkeys(
    family for name in TASK_NAMES for family in get_task(name).families))
ModelName = Literal[KNOWN_MODELS]  # type: ignore[valid-type]

#: File layouts the readers know (pipelines.collect.formats.FORMATS).
FileFormat = Literal["canonical", "instagram_graph", "linkedin_share", "twitter_v2",
                     "tweets_csv", "instagram_scrape_csv", "facebook_uci"]
FILE_FORMATS: tuple[str, ...] = get_args(FileFormat)

DailySource = Literal["demo", "file", "instagram", "facebook", "linkedin", "x"]
DAILY_SOURCES: tuple[str, ...] = get_args(DailySource)
#: Daily sources that read an API (they need accounts).
API_SOURCES: tuple[str, ...] = tuple(s for s in DAILY_SOURCES if s not in ("demo", "file"))

DRIFT_METHODS: tuple[str, ...] = ("wasserstein", "psi", "jensenshannon")
Notifier = Literal["log", "webhook", "email"]
NOTIFIER_KINDS: tuple[str, ...] = get_args(Notifier)

#: The Airflow Asset that engagement_collect updates and engagement_training listens to.
VALIDATED_POSTS_ASSET = "engageflow_validated_posts"

#: Run-conf keys that annotate a run instead of setting a parameter: drift_monitoring
#: triggers engagement_training with the reason in its conf.
RUN_NOTE_KEYS: tuple[str, ...] = ("reason", "source_dag_run")
