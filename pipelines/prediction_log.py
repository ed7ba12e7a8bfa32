"""The prediction log: every served prediction, and the outcomes they are judged against.

Two tables, written with SQLAlchemy Core so the same code runs on SQLite (the default,
``ProjectPaths.prediction_log_url``) and PostgreSQL (an URL in the environment):

- ``predictions``: one row per (request, post, target) answered by a model version and arm.
  A task served by its own route (``POST /tasks/<name>/predict``) logs its rows here too:
  ``post_id`` holds the row's key (the task's ``serve_key``, e.g. a session id),
  ``target`` the task's target, ``account_id`` and ``platform`` the row's values of those
  fields or ``""`` where it has none, ``posted_at`` the row's time (its task's
  ``input.time_column``) or, for a row sent without one, the time it was predicted;
- ``outcomes``: observations of a post's realized counts, appended. A post is observed many
  times while its counts grow; for each target the latest non-null observation (by
  ``observed_at``) supersedes the earlier ones.

Times are stored as naive UTC (SQLite keeps no offset) and come back tz-aware UTC.

Writes never fail for a busy SQLite file: one writer per process at a time (SQLite takes
one writer anyway; threads that raced for its lock starved each other past the busy
timeout, and "database is locked" reached ``POST /outcomes`` as a 500), and a write whose
lock another process holds past the busy timeout is retried with a bounded backoff for up
to ``write_timeout_seconds``; only then :class:`LogBusyError` (the API answers 503).

Serving writes the log; the champion-challenger test (``pipelines.registry``) and
monitoring read it offline. It sits below all three and imports none of them.
"""

from __future__ import annotations

import math
import numbers
import threading
import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from pipelines import schema
from pipelines.tasks import TASK_NAMES, get_task

#: Targets whose realized outcomes the ``outcomes`` table records (post counts).
TARGETS: tuple[str, ...] = ("likes", "comments", "shares")
#: Targets a prediction may be logged for: every task's (pipelines.tasks; the task
#: registry is light to import and knows no serving, registry or monitoring code).
PREDICTION_TARGETS: tuple[str, ...] = tuple(dict.fromkeys(
    get_task(name).target for name in TASK_NAMES))

PREDICTION_FIELDS: tuple[str, ...] = (
    "request_id", "post_id", "account_id", "platform", "model_name", "model_version", "arm",
    "target", "prediction", "features_hash", "predicted_at", "posted_at",
)
PAIR_COLUMNS: tuple[str, ...] = (
    "request_id", "post_id", "account_id", "platform", "arm", "model_version", "prediction",
    "actual", "predicted_at", "posted_at",
)
#: The largest count a ``BIGINT`` column stores.
INT64_MAX = 2**63 - 1
#: SQLite: how long one attempt waits for another connection's write lock.
SQLITE_BUSY_TIMEOUT_MS = 5000
_STRING_FIELDS = ("request_id", "post_id", "model_name", "model_version", "arm",
                  "features_hash")
#: Fields a row of a task without accounts or platforms leaves empty ("").
_OPTIONAL_STRING_FIELDS = ("account_id", "platform")


class UTCDateTime(sa.types.TypeDecorator):
    """A tz-aware UTC datetime in Python, naive UTC in the database (SQLite and PostgreSQL)."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(
                f"PredictionLog: datetimes must be tz-aware (UTC); got naive {value!r}.")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


metadata = sa.MetaData()
#: Nullable columns of ``predictions`` added after logs existed, with their SQL type: a log
#: created before gets them on open.
_ADDED_COLUMNS = {"followers_at_post_time": "BIGINT", "post_kind": "VARCHAR(16)"}

predictions = sa.Table(
    "predictions", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("request_id", sa.String(64), nullable=False),
    sa.Column("post_id", sa.String(256), nullable=False),
    sa.Column("account_id", sa.String(256), nullable=False),
    sa.Column("platform", sa.String(32), nullable=False),
    sa.Column("model_name", sa.String(256), nullable=False),
    sa.Column("model_version", sa.String(32), nullable=False),
    sa.Column("arm", sa.String(32), nullable=False),
    sa.Column("target", sa.String(16), nullable=False),
    sa.Column("prediction", sa.Float, nullable=False),
    sa.Column("features_hash", sa.String(64), nullable=False),
    sa.Column("predicted_at", UTCDateTime, nullable=False),
    sa.Column("posted_at", UTCDateTime, nullable=False),
    # optional: what a post's outcome needs to join the account history (feature store)
    sa.Column("followers_at_post_time", sa.BigInteger, nullable=True),
    sa.Column("post_kind", sa.String(16), nullable=True),
    sa.Index("ix_predictions_model_target_posted", "model_name", "target", "posted_at"),
    sa.Index("ix_predictions_post", "post_id"),
    sa.Index("ix_predictions_request", "request_id"),
)

outcomes = sa.Table(
    "outcomes", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("post_id", sa.String(256), nullable=False),
    sa.Column("observed_at", UTCDateTime, nullable=False),
    sa.Column("likes", sa.BigInteger, nullable=True),
    sa.Column("comments", sa.BigInteger, nullable=True),
    sa.Column("shares", sa.BigInteger, nullable=True),
    sa.Column("recorded_at", UTCDateTime, nullable=False),
    sa.Index("ix_outcomes_post_observed", "post_id", "observed_at"),
)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the promotion gate read while the server writes; busy_timeout waits for locks
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_engine(url: str) -> Engine:
    """An engine for ``url``; for a SQLite file, its folder is created and WAL turned on."""
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            from pathlib import Path

            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"check_same_thread": False})
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return sa.create_engine(url, pool_pre_ping=True)


def _aware(where: str, field: str, value: Any) -> datetime:
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise ValueError(f"{where}: '{field}' must be a tz-aware UTC datetime; got {value!r}.")
    return value


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:      # a lone surrogate: no database stores it
        return False
    return True


def _locked(error: sa.exc.OperationalError) -> bool:
    return "database is locked" in str(error) or "database table is locked" in str(error)


class LogBusyError(RuntimeError):
    """The log's database stayed locked by another writer past the write deadline."""


def _check_prediction(index: int, record: dict[str, Any]) -> dict[str, Any]:
    where = f"PredictionLog.log_predictions: record {index}"
    missing = [f for f in PREDICTION_FIELDS if f not in record]
    if missing:
        raise ValueError(f"{where}: missing field(s) {missing}; "
                         f"required: {list(PREDICTION_FIELDS)}.")
    for field in _STRING_FIELDS:
        value = record[field]
        if not isinstance(value, str) or not value:
            raise ValueError(f"{where}: '{field}' must be a non-empty str; got {value!r}.")
    for field in _OPTIONAL_STRING_FIELDS:
        if not isinstance(record[field], str):
            raise ValueError(f"{where}: '{field}' must be a str ('' where the row has "
                             f"none); got {record[field]!r}.")
    if record["target"] not in PREDICTION_TARGETS:
        raise ValueError(f"{where}: 'target' must be one of {list(PREDICTION_TARGETS)}; "
                         f"got {record['target']!r}.")
    prediction = record["prediction"]
    if isinstance(prediction, bool) or not isinstance(prediction, numbers.Real) \
            or not math.isfinite(prediction) or prediction < 0:
        raise ValueError(f"{where}: 'prediction' must be a finite count >= 0 (not log scale) "
                         f"or probability; got {prediction!r}.")
    row = {field: record[field] for field in PREDICTION_FIELDS}
    row["prediction"] = float(prediction)
    row["predicted_at"] = _aware(where, "predicted_at", record["predicted_at"])
    row["posted_at"] = _aware(where, "posted_at", record["posted_at"])
    followers = record.get("followers_at_post_time")
    if followers is not None and (isinstance(followers, bool) or not isinstance(
            followers, numbers.Integral) or followers < 0):
        raise ValueError(f"{where}: 'followers_at_post_time' must be an int >= 0 or None; "
                         f"got {followers!r}.")
    row["followers_at_post_time"] = None if followers is None else int(followers)
    kind = record.get("post_kind")
    if kind is not None and kind not in schema.POST_KINDS:
        raise ValueError(f"{where}: 'post_kind' must be one of {list(schema.POST_KINDS)} or "
                         f"None; got {kind!r}.")
    row["post_kind"] = kind
    return row


def _check_outcome(index: int, record: dict[str, Any], recorded_at: datetime) -> dict[str, Any]:
    where = f"PredictionLog.record_outcomes: outcome {index}"
    post_id = record.get("post_id")
    if not isinstance(post_id, str) or not post_id or not _encodable(post_id):
        raise ValueError(f"{where}: 'post_id' must be a non-empty str of valid Unicode; "
                         f"got {post_id!r}.")
    unknown = set(record) - {"post_id", "observed_at", *TARGETS}
    if unknown:
        raise ValueError(f"{where}: unknown field(s) {sorted(unknown)}; allowed: post_id, "
                         f"observed_at, {', '.join(TARGETS)}.")
    row: dict[str, Any] = {"post_id": post_id, "recorded_at": recorded_at,
                           "observed_at": _aware(where, "observed_at", record.get("observed_at"))}
    counts = 0
    for target in TARGETS:
        value = record.get(target)
        if value is None:
            row[target] = None
            continue
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= INT64_MAX:
            raise ValueError(f"{where}: '{target}' must be an int in [0, 2**63 - 1]; "
                             f"got {value!r}.")
        row[target] = int(value)
        counts += 1
    if counts == 0:
        raise ValueError(f"{where}: at least one of {list(TARGETS)} is required; got none "
                         f"for post {post_id!r}.")
    return row


class PredictionLog:
    """Logged predictions and realized outcomes in one SQL database.

    Args:
        url: A SQLAlchemy URL (``sqlite:///path.db`` or ``postgresql+psycopg://...``).
            Tables are created if missing.
        write_timeout_seconds: Longest a write keeps retrying a locked SQLite database.
    """

    def __init__(self, url: str, *, write_timeout_seconds: float = 10.0) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.write_timeout_seconds = write_timeout_seconds
        self._sqlite = self.engine.dialect.name == "sqlite"
        self._write_lock = threading.Lock()
        metadata.create_all(self.engine)
        self._add_missing_columns()

    def _add_missing_columns(self) -> None:
        """Columns added after a log was created (nullable, so old rows stay valid)."""
        have = {c["name"] for c in sa.inspect(self.engine).get_columns("predictions")}
        for name, kind in _ADDED_COLUMNS.items():
            if name not in have:
                with self.engine.begin() as connection:
                    connection.execute(sa.text(
                        f"ALTER TABLE predictions ADD COLUMN {name} {kind}"))

    def close(self) -> None:
        """Release pooled connections."""
        self.engine.dispose()

    def log_predictions(self, records: list[dict[str, Any]]) -> None:
        """Insert prediction records (keys: :data:`PREDICTION_FIELDS`) in one transaction.

        Raises:
            ValueError: naming the record, the field, the rule and the value, before
                anything is written.
        """
        rows = [_check_prediction(i, r) for i, r in enumerate(records)]
        if rows:
            self._insert(predictions, rows)

    def record_outcomes(self, outcomes_: list[dict[str, Any]]) -> int:
        """Append outcome observations (``post_id``, ``observed_at`` and any of
        likes/comments/shares); for each target the latest observation of a post wins.

        Returns:
            The number of rows stored.

        Raises:
            ValueError: naming the outcome, the field, the rule and the value.
        """
        now = datetime.now(UTC)
        rows = [_check_outcome(i, r, now) for i, r in enumerate(outcomes_)]
        if rows:
            self._insert(outcomes, rows)
        return len(rows)

    def _insert(self, table: sa.Table, rows: list[dict[str, Any]]) -> None:
        """Insert ``rows`` in one transaction; on SQLite one writer of this process at a
        time, a locked database retried (backoff 50 ms doubling to 1 s) until
        ``write_timeout_seconds``.

        Raises:
            LogBusyError: the database was still locked at the deadline (nothing written).
        """
        if not self._sqlite:
            with self.engine.begin() as connection:
                connection.execute(table.insert(), rows)
            return
        deadline = time.monotonic() + self.write_timeout_seconds
        delay, attempts = 0.05, 0
        while True:
            if not self._write_lock.acquire(timeout=max(deadline - time.monotonic(), 0.001)):
                raise LogBusyError(f"PredictionLog: {table.name} insert waited "
                                   f"{self.write_timeout_seconds:g} s for this process's "
                                   f"other writers; nothing written.")
            attempts += 1
            try:
                with self.engine.begin() as connection:
                    connection.execute(table.insert(), rows)
                return
            except sa.exc.OperationalError as error:
                if not _locked(error):
                    raise
                if time.monotonic() + delay >= deadline:
                    raise LogBusyError(
                        f"PredictionLog: the database stayed locked by another writer for "
                        f"{self.write_timeout_seconds:g} s ({attempts} attempts); "
                        f"{len(rows)} {table.name} rows not written.") from error
            finally:
                self._write_lock.release()
            time.sleep(delay)
            delay = min(2 * delay, 1.0)

    def _latest_outcome(self, target: str) -> sa.Subquery:
        """Per post, the latest observation that reports ``target``."""
        column = outcomes.c[target]
        ranked = (
            sa.select(outcomes.c.post_id, column.label("actual"),
                      sa.func.row_number().over(
                          partition_by=outcomes.c.post_id,
                          order_by=(outcomes.c.observed_at.desc(), outcomes.c.id.desc()),
                      ).label("rank"))
            .where(column.is_not(None))
            .subquery("ranked")
        )
        return sa.select(ranked.c.post_id, ranked.c.actual).where(ranked.c.rank == 1) \
            .subquery("latest")

    def matured_pairs(self, *, model_name: str, target: str, horizon_hours: float,
                      now: datetime, since: datetime | None = None) -> pd.DataFrame:
        """Logged predictions of ``model_name``/``target`` joined with their realized outcome.

        A pair is matured when its post has an outcome for ``target`` and was posted at least
        ``horizon_hours`` before ``now`` (its counts have had time to settle). ``since``
        keeps only predictions made at or after that time.

        Returns:
            One row per logged prediction, columns :data:`PAIR_COLUMNS`, oldest post first.

        Raises:
            ValueError: for an unknown target, a negative horizon or a naive datetime.
        """
        where = "PredictionLog.matured_pairs"
        if target not in TARGETS:
            raise ValueError(f"{where}: 'target' must be one of {list(TARGETS)}; got {target!r}.")
        if not isinstance(horizon_hours, (int, float)) or horizon_hours < 0:
            raise ValueError(f"{where}: 'horizon_hours' must be a number >= 0; "
                             f"got {horizon_hours!r}.")
        cutoff = _aware(where, "now", now) - timedelta(hours=float(horizon_hours))
        latest = self._latest_outcome(target)
        query = (
            sa.select(predictions.c.request_id, predictions.c.post_id, predictions.c.account_id,
                      predictions.c.platform, predictions.c.arm, predictions.c.model_version,
                      predictions.c.prediction, latest.c.actual, predictions.c.predicted_at,
                      predictions.c.posted_at)
            .join(latest, latest.c.post_id == predictions.c.post_id)
            .where(predictions.c.model_name == model_name, predictions.c.target == target,
                   predictions.c.posted_at <= cutoff)
            .order_by(predictions.c.posted_at, predictions.c.id)
        )
        if since is not None:
            query = query.where(predictions.c.predicted_at >= _aware(where, "since", since))
        with self.engine.connect() as connection:
            rows = connection.execute(query).all()
        frame = pd.DataFrame([tuple(r) for r in rows], columns=list(PAIR_COLUMNS))
        frame["prediction"] = frame["prediction"].astype("float64")
        frame["actual"] = frame["actual"].astype("float64")
        for column in ("predicted_at", "posted_at"):
            frame[column] = pd.to_datetime(frame[column], utc=True)
        return frame

    def predicted_posts(self, post_ids: Iterable[str]) -> pd.DataFrame:
        """What the log knows of these posts from their latest prediction: ``post_id``,
        ``account_id``, ``platform``, ``posted_at``, ``followers_at_post_time``,
        ``post_kind`` (posts of tasks without accounts are left out)."""
        ids = list(dict.fromkeys(post_ids))
        columns = ["post_id", "account_id", "platform", "posted_at", "followers_at_post_time",
                   "post_kind"]
        latest = sa.select(sa.func.max(predictions.c.id)).where(
            predictions.c.post_id.in_(ids), predictions.c.account_id != "").group_by(
            predictions.c.post_id)
        query = sa.select(*(predictions.c[c] for c in columns)).where(
            predictions.c.id.in_(latest))
        with self.engine.connect() as connection:
            rows = connection.execute(query).all() if ids else []
        frame = pd.DataFrame([r._asdict() for r in rows], columns=columns)
        frame["posted_at"] = pd.to_datetime(frame["posted_at"], utc=True)
        return frame

    def count_predictions(self, **filters: str) -> int:
        """Number of logged predictions matching equality ``filters`` (column=value)."""
        query = sa.select(sa.func.count()).select_from(predictions)
        for column, value in filters.items():
            query = query.where(predictions.c[column] == value)
        with self.engine.connect() as connection:
            return int(connection.execute(query).scalar_one())

    def predictions_for(self, request_ids: Iterable[str]) -> pd.DataFrame:
        """The logged rows of the given request ids (for audits and tests)."""
        query = sa.select(predictions).where(predictions.c.request_id.in_(list(request_ids))) \
            .order_by(predictions.c.id)
        with self.engine.connect() as connection:
            rows = connection.execute(query).all()
        return pd.DataFrame([r._asdict() for r in rows],
                            columns=[c.name for c in predictions.columns])
