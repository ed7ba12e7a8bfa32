"""Entry points for the Airflow tasks: resolve paths and settings, call one stage runner.

Each function takes the run id and the trigger-form Params explicitly, and returns a small
JSON-able dict (paths and counts) for XCom — never a DataFrame.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import logging
import os
from collections.abc import Callable
from typing import Any, TypeVar

import pandas as pd

from pipelines import stages
from pipelines.config import Settings, load_settings
from pipelines.paths import ProjectPaths, project_paths

T = TypeVar("T")
logger = logging.getLogger(__name__)

TRAINING_DAG, COLLECT_DAG = "engagement_training", "engagement_collect"
CHAMPION_CHALLENGER_DAG = "champion_challenger"


def fail_fast_on_bad_input(func: Callable[..., T]) -> Callable[..., T]:
    """Turn ValueError (bad params, a failed data contract) into a no-retry task failure.

    The same input fails the same way, so retrying only delays the message; transient
    errors (I/O, network) keep Airflow's retries.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        try:
            return func(*args, **kwargs)
        except ValueError as error:
            from airflow.sdk.exceptions import AirflowFailException

            raise AirflowFailException(f"{type(error).__name__}: {error}") from error

    return wrapper


class _StderrToLog(io.TextIOBase):
    """A stand-in for ``sys.stderr`` that logs each complete line at INFO.

    Airflow shows whatever a task writes to stderr as ERROR, but what libraries print there
    during a stage is chatter (MLflow's "Created version '2' of model ...", its own
    WARNING lines); failures reach the task log as exceptions, not as stderr text.
    """

    def __init__(self, target: logging.Logger) -> None:
        self._target, self._pending = target, ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        *lines, self._pending = (self._pending + text).split("\n")
        for line in lines:
            # a progress bar redraws its line with carriage returns: keep its last state
            if line := line.rsplit("\r", 1)[-1].strip():
                self._target.info("%s", line)
        return len(text)

    def flush(self) -> None:
        if self._pending.strip():
            self.write("\n")


def task_logging(func: Callable[..., T]) -> Callable[..., T]:
    """Make an Airflow task's log show what the stage read, wrote and decided.

    The ``pipelines`` loggers log at INFO (Airflow's ``logging_level`` must let INFO
    through too), progress bars are off (a task log is not a terminal), and library
    stderr output is logged at INFO instead of being shown as ERROR.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        logging.getLogger("pipelines").setLevel(logging.INFO)
        os.environ.setdefault("TQDM_DISABLE", "1")
        os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
        stderr = _StderrToLog(logger)
        try:
            with contextlib.redirect_stderr(stderr):
                return func(*args, **kwargs)
        finally:
            stderr.flush()

    return wrapper


def _resolve(
    project_dir: str, run_id: str, form_params: dict[str, Any]
) -> tuple[ProjectPaths, Settings]:
    """The run's paths and its settings: params.yaml with the form's dotted keys."""
    base = project_paths(project_dir)
    return base.for_run(run_id), load_settings(base.params_file, form_params)


@fail_fast_on_bad_input
@task_logging
def training_stage_task(
    stage: str, project_dir: str, run_id: str, form_params: dict[str, Any], as_of: str,
    asset_triggered: bool,
) -> dict[str, Any]:
    """engagement_training: run one pipeline stage (``pipelines.pipeline``) for the task
    of the form (``train.task``) in the run's own data folder.

    A run started by new validated data (the collection DAG's Asset), or with
    ``collect.source: validated``, starts from the validated store: collect takes its
    posts as they are and validate has nothing left to check (they passed the contract
    when their day was published). Validation reports go to the run's MLflow parent run,
    also when the data contract fails (then the task fails after logging).
    """
    from pipelines.pipeline import RunContext, run_stage
    from pipelines.tasks import get_task

    paths, settings = _resolve(project_dir, run_id, form_params)
    context = RunContext(run_key=f"{TRAINING_DAG}/{run_id}", as_of=pd.Timestamp(as_of),
                         reports=True)
    from_store = (asset_triggered or settings.collect.source == "validated") and \
        get_task(settings.train.task).input.entity == "posts"
    if from_store and stage in ("collect", "validate"):
        return stages.from_validated_store(paths, project_paths(project_dir), settings,
                                           stage=stage)
    try:
        record = run_stage(stage, paths=paths, settings=settings, context=context)
    finally:
        if stage == "validate":
            stages.log_validation(paths, settings, run_key=context.run_key,
                                  report=paths.validation_report,
                                  reports_dir=paths.validation_reports)
    if stage == "promote":
        from pipelines.summary import format_summary

        logger.info("%s", format_summary(get_task(settings.train.task), paths))
    return record


def partition_date(interval_start: str | None, interval_end: str | None, logical: str) -> str:
    """The day a collection run covers (YYYY-MM-DD), from the run's dates, never now().

    A run with a data interval covers the day its interval starts. A run without one (the
    default cron trigger and manual runs in Airflow 3) covers the day before its logical
    date (or, for a manual run without one, before it ran): the last complete day.
    """
    if interval_start and interval_end and interval_start != interval_end:
        return f"{pd.Timestamp(interval_start):%Y-%m-%d}"
    return f"{pd.Timestamp(logical) - pd.Timedelta(days=1):%Y-%m-%d}"


@fail_fast_on_bad_input
@task_logging
def collect_day_task(
    project_dir: str, run_id: str, form_params: dict[str, Any], logical_date: str
) -> dict[str, Any]:
    """engagement_collect: collect the day ``logical_date`` from every configured source.

    An expected API failure (auth, 429/5xx after the retries, a malformed page, a redirect)
    logs its redacted message and exits the task non-zero: Airflow logs "Task exited" and
    applies the DAG's retries, without a traceback. Watermarks move only after a success.

    Raises:
        SystemExit: exit code 1 on an API failure.
    """
    from pipelines.collect.api.errors import ApiError

    _, settings = _resolve(project_dir, run_id, form_params)
    try:
        return stages.collect_day(project_paths(project_dir), settings, day=logical_date)
    except ApiError as error:
        logger.error("%s %s: collect failed: %s", COLLECT_DAG, logical_date, error)
        raise SystemExit(1) from None


@fail_fast_on_bad_input
@task_logging
def validate_day_task(
    project_dir: str, run_id: str, form_params: dict[str, Any], logical_date: str, as_of: str
) -> dict[str, Any]:
    """engagement_collect: validate the logical date's raw partition."""
    from pipelines.validate.partition import partition_paths

    _, settings = _resolve(project_dir, run_id, form_params)
    base = project_paths(project_dir)
    where = partition_paths(base.data, logical_date)
    try:
        return stages.validate_day(base, settings, day=logical_date, as_of=pd.Timestamp(as_of))
    finally:
        stages.log_validation(base, settings, run_key=f"{COLLECT_DAG}/{run_id}",
                              report=where["report"], reports_dir=where["reports_dir"])


@fail_fast_on_bad_input
@task_logging
def materialize_history_task(project_dir: str, run_id: str, form_params: dict[str, Any]
                             ) -> dict[str, Any]:
    """engagement_collect: the validated store (every day published so far) → the account
    history feature store, offline source and online store (a full rewrite: idempotent)."""
    from datetime import UTC, datetime

    _, settings = _resolve(project_dir, run_id, form_params)
    # the snapshot's event time is when it is written (online stores keep the newest)
    return stages.materialize_history(project_paths(project_dir), settings,
                                      written_at=datetime.now(UTC))


@fail_fast_on_bad_input
@task_logging
def champion_challenger_task(
    project_dir: str, run_id: str, form_params: dict[str, Any], as_of: str
) -> dict[str, Any]:
    """champion_challenger: today's look of the online test (as of the run's date)."""
    from pipelines.registry.champion_challenger import format_look

    _, settings = _resolve(project_dir, run_id, form_params)
    record = stages.champion_challenger(
        project_paths(project_dir), settings, as_of=pd.Timestamp(as_of),
        run_key=f"{CHAMPION_CHALLENGER_DAG}/{run_id}")
    logger.info("%s", format_look(record))
    return {k: record.get(k) for k in ("decision", "reason", "champion_version",
                                       "challenger_version", "outcomes", "aliases")}


@fail_fast_on_bad_input
@task_logging
def publish_day_task(project_dir: str, logical_date: str, validation: dict[str, Any]
                     ) -> dict[str, Any]:
    """engagement_collect: record the validated day in the store's manifest.

    The Airflow task carrying this emits the validated-posts Asset event, which schedules
    engagement_training on the new data.
    """

    base = project_paths(project_dir)
    manifest_path = base.data / "02_validated" / "_manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    manifest[logical_date] = {k: validation[k] for k in
                              ("partition", "rows_in", "rows_accepted", "rows_quarantined")}
    manifest_path.parent.mkdir(parents=True, exist_ok=True)
    manifest_path.write_text(json.dumps(dict(sorted(manifest.items())), indent=2))
    return {"date": logical_date, **manifest[logical_date],
            "days_published": len(manifest)}
