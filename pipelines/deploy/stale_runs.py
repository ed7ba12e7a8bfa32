"""Fail DAG runs that no process owns any more, so a killed run does not stay `running`.

``airflow dags test`` (what ``make run`` and the integration tests use) runs a DAG inside its
own process, without a scheduler: kill that process and its run, and the task instance it was
running, stay ``running`` in the metadata DB forever; no scheduler will ever reap them. Such
runs are recorded as triggered by ``test``, and this module fails them. Runs triggered any
other way (the UI, the REST API, a schedule) belong to a scheduler, which detects its own
dead tasks; they are never touched here, so a live ``make airflow`` keeps its runs.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FailedRun:
    """One DAG run marked failed: which run, when it started, which tasks were failed."""

    dag_id: str
    run_id: str
    start_date: datetime | None
    task_ids: tuple[str, ...]


def fail_stale_runs(dag_ids: Sequence[str], *, older_than: timedelta,
                    now: datetime | None = None) -> list[FailedRun]:
    """Mark ``airflow dags test`` runs of ``dag_ids`` still ``queued``/``running`` as failed.

    A run is stale when it was triggered by ``airflow dags test`` (no scheduler owns it; its
    only owner was the process that ran it) and it started (or, never started, was queued)
    more than ``older_than`` before ``now``. Its unfinished task instances (running, queued,
    scheduled, up for retry, never started, ...) are failed with it and given an end date.
    ``make run`` passes ``older_than=0``: it is the only runner of its embedded Airflow, so a
    run still open when it starts, or after it was interrupted, was left by a killed process.

    Args:
        dag_ids: the DAGs whose runs are checked (at least one).
        older_than: runs younger than this are left alone (a process may still own them).
        now: the instant the age is measured from (default: the current time, UTC).

    Returns:
        The runs marked failed, oldest first (empty when there were none).

    Raises:
        ValueError: ``dag_ids`` is empty or ``older_than`` is negative.
    """
    if not dag_ids or isinstance(dag_ids, str):
        raise ValueError(f"fail_stale_runs: 'dag_ids' must be a non-empty list of DAG ids; "
                         f"got {dag_ids!r}.")
    if older_than < timedelta(0):
        raise ValueError(f"fail_stale_runs: 'older_than' must be >= 0; got {older_than}.")
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState, State, TaskInstanceState
    from airflow.utils.types import DagRunTriggeredByType
    from sqlalchemy import select

    now = now or datetime.now(UTC)
    cutoff = now - older_than
    failed: list[FailedRun] = []
    with create_session() as session:
        runs = session.scalars(
            select(DagRun)
            .where(DagRun.dag_id.in_(list(dag_ids)),
                   DagRun.state.in_([DagRunState.QUEUED, DagRunState.RUNNING]),
                   DagRun.triggered_by == DagRunTriggeredByType.TEST)
            .order_by(DagRun.id)).all()
        for run in runs:
            began = run.start_date or run.queued_at
            if began is not None and began > cutoff:
                continue
            tasks = session.scalars(
                select(TaskInstance).where(
                    TaskInstance.dag_id == run.dag_id, TaskInstance.run_id == run.run_id,
                    TaskInstance.state.in_([s for s in State.unfinished if s is not None])
                    | TaskInstance.state.is_(None))).all()
            for ti in tasks:
                ti.state = TaskInstanceState.FAILED
                ti.end_date = now
            run.set_state(DagRunState.FAILED)
            record = FailedRun(run.dag_id, run.run_id, run.start_date,
                               tuple(sorted(ti.task_id for ti in tasks)))
            logger.info("marked stale DAG run failed: dag %s, run %s, started %s "
                        "(%d unfinished task(s) failed: %s)", record.dag_id, record.run_id,
                        record.start_date, len(record.task_ids),
                        ", ".join(record.task_ids) or "none")
            failed.append(record)
    return failed
