"""Labelled outcomes of served tasks (``POST /tasks/<name>/outcomes``), counted per group.

A task whose :meth:`~pipelines.tasks.base.Task.outcome_model` is a pydantic model takes the
true outcome of rows it answered earlier, by their ``serve_key``: feedback_sentiment takes
the true sentiment of a feedback id with its campaign. Each outcome is one row of the
``task_outcomes`` table in the prediction log's database: the task, the key, the group (the
value of the task's ``slice_column`` in the outcome, ``""`` for a task without one), the
label (the task's ``target`` field, as text) and when it arrived. A key labelled again
counts once; its latest label is the one that holds.

:meth:`TaskOutcomes.counts` says, per group, how many keys are labelled in all and how many
arrived since a time (the served champion's registration: the last training); the task's
:meth:`~pipelines.tasks.base.Task.outcome_status` turns those into ``model_status`` fields.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from pipelines.prediction_log import UTCDateTime

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

logger = logging.getLogger(__name__)

metadata = sa.MetaData()

task_outcomes = sa.Table(
    "task_outcomes", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("task", sa.String(64), nullable=False),
    sa.Column("key", sa.String(256), nullable=False),
    sa.Column("group", sa.String(256), nullable=False),
    sa.Column("label", sa.String(64), nullable=False),
    sa.Column("recorded_at", UTCDateTime, nullable=False),
    sa.Index("ix_task_outcomes_task_group", "task", "group", "recorded_at"),
)


class TaskOutcomes:
    """The ``task_outcomes`` table on ``engine`` (created if missing).

    Args:
        engine: The prediction log's engine
            (:attr:`pipelines.prediction_log.PredictionLog.engine`).
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        metadata.create_all(engine)

    def record(self, task: str, rows: list[dict[str, str]], *,
               now: datetime | None = None) -> int:
        """Store ``rows`` (``key``, ``group``, ``label``) of ``task`` in one transaction;
        the number stored."""
        when = now or datetime.now(UTC)
        records = [{"task": task, "key": r["key"], "group": r["group"], "label": r["label"],
                    "recorded_at": when} for r in rows]
        if records:
            with self.engine.begin() as connection:
                connection.execute(task_outcomes.insert(), records)
        logger.info("serve [%s]: %d labelled outcomes stored (groups %s)", task, len(records),
                    sorted({r["group"] for r in records}))
        return len(records)

    def counts(self, task: str, groups: Iterable[str], *,
               since: datetime | None) -> dict[str, dict[str, int]]:
        """``{group: {"labelled": keys labelled in all, "since_training": keys labelled
        after since}}`` for the ``groups`` of ``task`` that have any (``since`` None: all
        count as since training)."""
        wanted = sorted(set(groups))
        if not wanted:
            return {}
        column = task_outcomes.c
        after = column.recorded_at > since if since is not None else sa.true()
        query = (sa.select(column.group, sa.func.count(sa.distinct(column.key)),
                           sa.func.count(sa.distinct(sa.case((after, column.key)))))
                 .where(column.task == task, column.group.in_(wanted))
                 .group_by(column.group))
        with self.engine.connect() as connection:
            rows = connection.execute(query).all()
        return {group: {"labelled": int(total), "since_training": int(recent)}
                for group, total, recent in rows}

    def labels(self, task: str) -> list[dict[str, Any]]:
        """Every stored outcome of ``task`` (oldest first): for retraining and tests."""
        query = (sa.select(task_outcomes).where(task_outcomes.c.task == task)
                 .order_by(task_outcomes.c.id))
        with self.engine.connect() as connection:
            return [dict(row._mapping) for row in connection.execute(query)]
