"""Labelled outcomes of served tasks (``POST /tasks/<name>/outcomes``), counted per group.

A task whose :meth:`~pipelines.tasks.base.Task.outcome_model` is a pydantic model takes the
true outcome of rows it answered earlier, by their ``serve_key``: feedback_sentiment takes
the true sentiment of a feedback id with its campaign. Each outcome is one row of the
``task_outcomes`` table in the prediction log's database: the task, the key, the group (the
value of the task's ``slice_column`` in the outcome, ``""`` for a task without one), the
label (the task's ``target`` field, as text), the whole validated outcome as JSON
(``record``: for feedback_sentiment the text, campaign and demographics a retraining
learns from) and when it arrived. A key labelled again counts once; its latest label is
the one that holds.

:meth:`TaskOutcomes.counts` says, per group, how many keys are labelled in all and how many
arrived since a time (per group: when the group's model was last trained); the task's
:meth:`~pipelines.tasks.base.Task.outcome_status` turns those into ``model_status`` fields.
:meth:`TaskOutcomes.records` gives a group's labelled records for a retraining.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
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
    # the whole outcome as JSON (null in rows stored before records were kept)
    sa.Column("record", sa.Text, nullable=True),
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
        columns = {c["name"] for c in sa.inspect(engine).get_columns("task_outcomes")}
        if "record" not in columns:         # a log written before records were kept
            with engine.begin() as connection:
                connection.execute(sa.text("ALTER TABLE task_outcomes ADD COLUMN record TEXT"))

    def record(self, task: str, rows: list[dict[str, Any]], *,
               now: datetime | None = None) -> int:
        """Store ``rows`` (``key``, ``group``, ``label`` and optionally ``record``: the
        whole outcome, JSON-able) of ``task`` in one transaction; the number stored."""
        when = now or datetime.now(UTC)
        records = [{"task": task, "key": r["key"], "group": r["group"], "label": r["label"],
                    "recorded_at": when,
                    "record": json.dumps(r["record"], default=str) if r.get("record")
                    else None} for r in rows]
        if records:
            with self.engine.begin() as connection:
                connection.execute(task_outcomes.insert(), records)
        logger.info("serve [%s]: %d labelled outcomes stored (groups %s)", task, len(records),
                    sorted({r["group"] for r in records}))
        return len(records)

    def counts(self, task: str, groups: Iterable[str], *,
               since: datetime | None | Mapping[str, datetime | None]
               ) -> dict[str, dict[str, int]]:
        """``{group: {"labelled": keys labelled in all, "since_training": keys labelled
        after since}}`` for the ``groups`` of ``task`` that have any (``since`` None: all
        count as since training; a mapping: each group's own time)."""
        wanted = sorted(set(groups))
        if not wanted:
            return {}
        if isinstance(since, Mapping):
            by_time: dict[datetime | None, list[str]] = {}
            for group in wanted:
                by_time.setdefault(since.get(group), []).append(group)
            out: dict[str, dict[str, int]] = {}
            for when, some in by_time.items():
                out.update(self.counts(task, some, since=when))
            return out
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

    def records(self, task: str, group: str) -> list[dict[str, Any]]:
        """The labelled records of ``group`` of ``task``: each key's latest outcome that
        kept its record (oldest first), with ``label`` and ``recorded_at`` added."""
        latest: dict[str, dict[str, Any]] = {}
        column = task_outcomes.c
        query = (sa.select(column.key, column.label, column.recorded_at, column.record)
                 .where(column.task == task, column.group == group,
                        column.record.is_not(None))
                 .order_by(column.id))
        with self.engine.connect() as connection:
            for key, label, when, record in connection.execute(query):
                latest.pop(key, None)            # re-inserted: ordered by its latest label
                latest[key] = {**json.loads(record), "label": label, "recorded_at": when}
        return list(latest.values())
