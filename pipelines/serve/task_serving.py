"""Serving any task of the registry beside the post API: ``POST /tasks/<name>/predict``.

Each task listed in ``serve.tasks`` gets a :class:`TaskServer`: its own
:class:`~pipelines.serve.model_store.ModelStore` on ``engagement-<name>`` (the
``register.model_name`` template) holding each arm's registered pipeline as a
:class:`TaskModel` (the generic DataFrame path: the task's ``predict``), sticky
champion/challenger routing by the task's ``serve_key`` with ``serve.challenger_share``,
and the server's prediction log writer and metrics. What a row looks like is the task's:
its ``request_model`` (the routes are built in :mod:`pipelines.serve.task_routes`).
Without a champion a server's :class:`~pipelines.serve.auto_train.AutoTrainer` trains the
task (the answers of that model then say ``trained_this_cycle``); with an outcome store
(:mod:`pipelines.serve.task_outcomes`) every ``model_status`` reports the labelled outcomes
of the row's group, and the groups they make due are retrained in the outcomes request
(:meth:`TaskServer.retrain`, the task's :meth:`~pipelines.tasks.base.Task.
retrain_on_outcomes`; answers of that version then say ``retrained_this_cycle``). Nothing
here asks which task it serves.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from pipelines.serve.model_store import ModelStore
from pipelines.serve.routing import StickyRouter

if TYPE_CHECKING:
    from pydantic import BaseModel

    from pipelines.config import Settings
    from pipelines.paths import ProjectPaths
    from pipelines.serve.auto_train import AutoTrainer
    from pipelines.serve.log_writer import PredictionLogWriter
    from pipelines.serve.metrics import Metrics
    from pipelines.serve.task_outcomes import TaskOutcomes
    from pipelines.tasks.base import Task

logger = logging.getLogger(__name__)

#: The longest key the prediction log stores (its ``post_id`` column).
MAX_KEY_LENGTH = 256
#: What a 503 asks the client to wait (its Retry-After header).
RETRY_AFTER_SECONDS = 30


class TaskModel:
    """A registered pipeline of ``task`` as an arm serves it: a DataFrame in, the task's
    prediction out (no compiled fast path).

    Attributes:
        kind: The class name of the estimator that predicts, for ``/health`` and
            ``/metrics``: the last step of a pipeline, what a meta-estimator wraps (its
            fitted ``estimator_``), repeatedly.
        fast: Always False: the DataFrame path.
    """

    fast = False

    def __init__(self, task: Task, pipeline: Any) -> None:
        self.task, self.pipeline = task, pipeline
        final = pipeline
        while hasattr(final, "steps") or hasattr(final, "estimator_"):
            final = final[-1] if hasattr(final, "steps") else final.estimator_
        self.kind = type(final).__name__

    def predict(self, rows: Any) -> np.ndarray:
        """The task's prediction for each row of the DataFrame ``rows``."""
        return np.asarray(self.task.predict(self.pipeline, rows), dtype=float)

    def answer(self, rows: Any) -> tuple[np.ndarray, list[dict[str, Any]]]:
        """(the logged value, the answer fields) of each row: the task's ``answers``."""
        return self.task.answers(self.pipeline, rows)


@dataclass(frozen=True)
class ServedTask:
    """A task to serve: the task, its registered model and the body of one row.

    Attributes:
        task: The task (:func:`pipelines.tasks.get_task`).
        model_name: Its registered model (``@champion`` / ``@challenger`` answer).
        request_model: Its :meth:`~pipelines.tasks.base.Task.request_model`.
        settings: The settings with ``train.task`` = this task (its own params section
            decides what ``model_status`` says of labelled outcomes); None: the answers
            carry no outcome counts.
        outcome_model: Its :meth:`~pipelines.tasks.base.Task.outcome_model` (None: no
            ``POST /tasks/<name>/outcomes``).
        paths: The project it was trained in (a retraining from outcomes reads its
            features table).
    """

    task: Task
    model_name: str
    request_model: type[BaseModel]
    settings: Settings | None = None
    outcome_model: type[BaseModel] | None = None
    paths: ProjectPaths | None = None


def served_task(name: str, *, model_name: str, paths: ProjectPaths,
                settings: Settings | None = None) -> ServedTask:
    """The task ``name`` of the registry, ready to serve under ``model_name``.

    Raises:
        ValueError: for a task that is not in the registry, declares no request model, or
            whose request model lacks its ``serve_key`` (naming the task and the field).
    """
    from pipelines.tasks import get_task

    task = get_task(name)
    model = task.request_model(paths)
    if task.serve_key not in model.model_fields:
        raise ValueError(f"serve.tasks: task {name!r} routes by serve_key "
                         f"{task.serve_key!r}, which its request model {model.__name__} "
                         f"lacks; its fields are {list(model.model_fields)}.")
    return ServedTask(task, model_name, model, settings, task.outcome_model(paths), paths)


class NoTaskModelError(Exception):
    """The task's registered model has no champion yet; the detail says what is missing."""


def _input_hash(row: dict[str, Any]) -> str:
    return hashlib.blake2b(json.dumps(row, default=str, sort_keys=True).encode(),
                           digest_size=8).hexdigest()


class TaskServer:
    """One served task: its model store, router, and what a prediction logs.

    Args:
        served: The task, its registered model and request model.
        challenger_share: ``serve.challenger_share``: share of keys the challenger answers.
        writer: The server's prediction log writer.
        metrics: The server's metrics.
        on_reload: Called with (ok, message) after every attempted alias change.
        store: A prepared model store (tests); default: one for ``served.model_name``
            holding :class:`TaskModel` arms.
        trainer: Trains the first model when a prediction finds none
            (:class:`~pipelines.serve.auto_train.AutoTrainer` for this task); its
            ``on_done`` becomes this server's alias reload.
        outcomes: Where labelled outcomes of this task are kept; with ``served.settings``
            every ``model_status`` says how many arrived (:meth:`Task.outcome_status`).
        retrain_max_rows: ``serve.auto_train_max_rows``: a group due for retraining from
            its outcomes is retrained in the request that made it due when it has at most
            this many rows (:meth:`retrain`); None: never in the server.
    """

    def __init__(self, served: ServedTask, *, challenger_share: float,
                 writer: PredictionLogWriter, metrics: Metrics,
                 on_reload: Callable[[bool, str], None],
                 store: ModelStore | None = None, trainer: AutoTrainer | None = None,
                 outcomes: TaskOutcomes | None = None,
                 retrain_max_rows: int | None = None) -> None:
        self.task, self.model_name = served.task, served.model_name
        self.request_model, self.settings = served.request_model, served.settings
        self.outcome_model, self.paths = served.outcome_model, served.paths
        self.trainer, self.outcomes = trainer, outcomes
        self.retrain_max_rows = retrain_max_rows
        #: The last retraining from outcomes: {"version", "groups": {group: report}}.
        self.retrained: dict[str, Any] = {}
        # one retraining at a time: two intake requests must not both replace the champion
        self._retraining = threading.Lock()
        if trainer is not None:
            trainer.on_done = self._trained
        self.writer, self.metrics = writer, metrics
        self.store = store or ModelStore(served.model_name,
                                         compile_model=functools.partial(TaskModel, served.task),
                                         on_reload=on_reload)
        self.router = StickyRouter(challenger_share)
        self.missing: str | None = None

    @property
    def path(self) -> str:
        return f"/tasks/{self.task.name}/predict"

    def start(self, poll_seconds: float) -> None:
        """Load the arms and poll the aliases every ``poll_seconds`` (0: never); without a
        champion the route answers 503 until one appears."""
        try:
            self.store.refresh()
        except LookupError as error:
            self.missing = str(error)
            logger.warning("serve [%s]: %s; %s answers 503 until a champion appears",
                           self.task.name, error, self.path)
        self.store.start_polling(poll_seconds)

    def stop(self) -> None:
        self.store.stop()

    def _trained(self) -> None:
        """After an auto-train: serve its model now (not at the next poll)."""
        try:
            self.store.refresh()
            self.missing = None
        except LookupError as error:        # the gate kept it from @champion
            self.missing = str(error)
            logger.warning("serve [%s]: auto-train finished but %s", self.task.name, error)

    def no_model_detail(self) -> dict[str, Any]:
        """What a 503 says: the missing model, how to get one and (with a trainer) the
        training this request started or found running."""
        if self.trainer is not None and self.trainer.mode != "off":
            training = self.trainer.ensure()
            return {"error": "no model to answer with", "task": self.task.name,
                    "missing": self.missing or f"registered model {self.model_name!r} has "
                                               f"no @champion",
                    "action": "training could not start" if training["state"] == "failed"
                    else f"training started ({training.get('how')}); retry after "
                         f"{RETRY_AFTER_SECONDS} s",
                    "training": training, "retry_after_seconds": RETRY_AFTER_SECONDS}
        return {"error": "no model to answer with", "task": self.task.name,
                "missing": self.missing or f"registered model {self.model_name!r} has no "
                                           f"@champion",
                "action": f"train, register and promote one: the engagement_training DAG "
                          f"with train.task={self.task.name}, or `engageflow <stage> --set "
                          f"train.task={self.task.name}` for each stage through promote; "
                          f"this server picks it up without a restart",
                "retry_after_seconds": RETRY_AFTER_SECONDS}

    def health(self) -> dict[str, Any]:
        arms = self.store.arms
        return {"status": "ok" if arms else "no_model" if self.missing else "loading",
                "model_name": self.model_name, "target": self.task.target,
                "serve_key": self.task.serve_key, "routing": self.router.mode,
                "arms": {a: m.version for a, m in arms.items()},
                "paths": {a: m.model.kind for a, m in arms.items()}}

    def predict(self, rows: list[BaseModel], request_id: str) -> bytes:
        """Route, predict and log validated ``rows``; the JSON response body.

        Raises:
            NoTaskModelError: if no champion is loaded.
        """
        arms = self.store.arms                       # one snapshot for the whole request
        if not arms:
            raise NoTaskModelError(self.no_model_detail())
        available = tuple(arms)
        task, key = self.task, self.task.serve_key
        values = [row.model_dump() for row in rows]
        groups: dict[str, list[int]] = {}
        for i, row in enumerate(values):
            groups.setdefault(self.router.choose(str(row[key]), available), []).append(i)
        answers: list[dict[str, Any]] = [{}] * len(values)
        records = []
        now = datetime.now(UTC)
        time_column = task.input.time_column
        for arm, index in groups.items():
            served = arms[arm]
            logged, fields = served.model.answer(
                task.request_frame([values[i] for i in index]))
            self.metrics.observe_task_prediction(task.name, arm, served.version, len(index))
            for j, i in enumerate(index):
                row, value = values[i], float(logged[j])
                answers[i] = {"key": row[key], **fields[j], "arm": arm,
                              "model_version": served.version}
                when = row.get(time_column)
                records.append({
                    "request_id": request_id, "post_id": str(row[key]),
                    "account_id": str(row.get("account_id") or ""),
                    "platform": str(row.get("platform") or ""),
                    "model_name": self.model_name, "model_version": served.version,
                    "arm": arm, "target": task.target, "prediction": value,
                    "features_hash": _input_hash(row), "predicted_at": now,
                    "posted_at": now if not isinstance(when, datetime) else
                    when if when.tzinfo is not None else when.replace(tzinfo=UTC)})
        self._annotate_status(values, answers)
        self.writer.submit(records)
        return json.dumps({"request_id": request_id, "task": task.name,
                           "model_name": self.model_name, "predictions": answers}).encode()

    def _annotate_status(self, values: list[dict[str, Any]],
                         answers: list[dict[str, Any]]) -> None:
        """Add to each answer's ``model_status``: whether its model was trained in this
        cycle (by this server's auto-train) and, with an outcome store and settings, the
        task's word on the labelled outcomes of the row's group (its ``slice_column``)."""
        trained = (self.trainer.status if self.trainer is not None
                   and self.trainer.status.get("state") == "done" else {})
        counts: dict[str, dict[str, int]] = {}
        column = self.task.slice_column
        counting = self.outcomes is not None and self.settings is not None
        if counting:
            counts = self.outcomes.counts(
                self.task.name, {str(v.get(column, "")) for v in values} if column else {""},
                since=self.labels_since({str(v.get(column, "")) for v in values}
                                        if column else {""}))
        retrained = self.retrained.get("groups", {})
        for row, answer in zip(values, answers, strict=True):
            status = answer.get("model_status")
            if not trained and not counting and status is None:
                continue
            status = answer.setdefault("model_status", {})
            if trained and trained.get("version") == answer["model_version"]:
                status["trained_this_cycle"] = True
                status["message"] = (f"{status.get('message', 'answered')}; this model was "
                                     f"trained in this cycle: the first request found no "
                                     f"model and this server trained it (run "
                                     f"{trained.get('run_id')})")
            group = str(row.get(column, "")) if column else ""
            if (self.retrained.get("version") == answer["model_version"]
                    and retrained.get(group, {}).get("retrained")):
                status["retrained_this_cycle"] = True
                status["message"] = f"{status.get('message', 'answered')}; " \
                                    f"{retrained[group]['message']}"
            if counting:
                status.update(self.task.outcome_status(
                    self.settings, group, counts.get(group, {"labelled": 0,
                                                             "since_training": 0})))

    def labels_since(self, groups: set[str]) -> dict[str, datetime | None]:
        """Per group, since when its labelled outcomes count toward retraining: the
        champion's own word (:meth:`Task.labels_since`), else its registration."""
        champion = self.store.arms.get("champion")
        if champion is None:
            return dict.fromkeys(groups)
        registered = self.trained_at(champion.version)
        pipeline = getattr(champion.model, "pipeline", None)
        return {g: self.task.labels_since(pipeline, g) or registered for g in groups}

    def retrain(self, groups: set[str]) -> dict[str, dict[str, Any]]:
        """Retrain the ``groups`` of the champion that their labelled outcomes make due
        (:meth:`Task.retrain_on_outcomes`, at most ``retrain_max_rows`` rows a group),
        register the result as the new @champion and serve it now; per group, what was
        decided. Runs in the outcomes request (the bound keeps it small)."""
        champion = self.store.arms.get("champion")
        if (self.retrain_max_rows is None or champion is None or self.outcomes is None
                or self.settings is None or self.paths is None):
            return {}
        with self._retraining:
            return self._retrain(groups)

    def _retrain(self, groups: set[str]) -> dict[str, dict[str, Any]]:
        from pipelines.registry.retrained import register_retrained

        champion = self.store.arms["champion"]
        name = self.task.name
        try:
            counts = self.outcomes.counts(name, groups, since=self.labels_since(groups))
            records = {g: self.outcomes.records(name, g) for g in sorted(groups)}
            model, report = self.task.retrain_on_outcomes(
                champion.model.pipeline, records, counts, paths=self.paths,
                settings=self.settings, max_rows=self.retrain_max_rows,
                now=datetime.now(UTC), registered_at=self.trained_at(champion.version))
            if model is None:
                return report
            done = sorted(g for g, r in report.items() if r.get("retrained"))
            example = self.task.model_input(self.task.request_frame([records[done[0]][-1]]))
            version = register_retrained(
                self.model_name, champion.version, model, example, actor=f"serve:{name}",
                reason=f"{name}: group(s) {done} retrained from labelled outcomes",
                decision={g: report[g] for g in done})
            self.store.refresh()
        except Exception as error:  # noqa: BLE001 - the outcomes are stored; say why
            logger.exception("serve [%s]: retraining %s from outcomes failed", name,
                             sorted(groups))
            return {g: {"retrained": False, "message": f"retraining failed: "
                        f"{type(error).__name__}: {error}"} for g in sorted(groups)}
        self.retrained = {"version": version, "groups": report}
        logger.info("serve [%s]: v%s registered as @champion after retraining %s", name,
                    version, done)
        return report

    @functools.lru_cache(maxsize=8)  # noqa: B019 - one server per task, a few versions
    def trained_at(self, version: str) -> datetime | None:
        """When ``version`` of the served model was registered (the last training)."""
        from mlflow import MlflowClient

        try:
            stamp = MlflowClient().get_model_version(self.model_name, version).creation_timestamp
        except Exception:  # noqa: BLE001 - counts since the start of time then
            logger.exception("serve [%s]: no registration time of v%s", self.task.name,
                             version)
            return None
        return datetime.fromtimestamp(stamp / 1000, tz=UTC)
