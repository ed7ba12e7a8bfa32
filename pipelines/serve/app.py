"""The online API: ``POST /predict``, ``POST /outcomes``, ``GET /health``, ``GET /metrics``,
and ``POST /tasks/<name>/predict`` for each task of ``serve.tasks``.

``create_app`` wires a :class:`ModelStore` (champion and challenger, hot-reloaded), a
router, the prediction log writer and the metrics into one FastAPI app. The post request
path stays free of pandas: pydantic validates the posts, the router picks an arm per post,
the arm's compiled model predicts from plain values, the log rows go to a queue and the
response is serialized once. Each served task (:mod:`pipelines.serve.task_serving`) has
its own model store, body and sticky routing, and shares the key check, the log writer and
the metrics.
"""

import asyncio
import gc
import hashlib
import hmac
import json
import logging
import threading
import time
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import PlainTextResponse, Response
from fastapi.security import APIKeyHeader
from pydantic import BaseModel, Field

from pipelines.config import SegmentsConfig, ServeConfig
from pipelines.serve.api_docs import add_offline_docs
from pipelines.serve.auto_train import AutoTrainer
from pipelines.serve.fast_path import CompiledPostModel
from pipelines.serve.metrics import Metrics
from pipelines.serve.model_store import ModelStore
from pipelines.serve.request_models import Post, request_bodies
from pipelines.serve.routing import StickyRouter, ThompsonRouter, rewards_by_arm
from pipelines.serve.segment_assign import PATH as SEGMENT_PATH
from pipelines.serve.segment_assign import add_segment_assign_route
from pipelines.serve.segment_models import SegmentModels
from pipelines.serve.strict_json import StrictJSONRoute, validation_error_response
from pipelines.serve.task_routes import add_task_route
from pipelines.serve.task_serving import ServedTask, TaskServer

logger = logging.getLogger(__name__)

API_KEY_HEADER = "X-API-Key"
PATHS = ("/predict", "/outcomes", "/health", "/metrics", "/docs", "/redoc", "/openapi.json")


# --- request and response bodies -----------------------------------------------------------

class ModelStatus(BaseModel):
    """Which level of the model hierarchy answered, and why (docs/segments.md)."""

    level: str | None = Field(description="campaign / account, platform or global")
    segment: str | None = Field(description="the level's key, e.g. platform=instagram")
    has_segment_model: bool
    trained_in_cycle: bool = Field(description="(re)trained in the last training cycle")
    model_version: str | None
    message: str


class Prediction(BaseModel):
    post_id: str
    prediction: float = Field(description="Predicted count of the target (not log scale).")
    arm: str
    model_version: str
    model_status: ModelStatus | None = None


class PredictResponse(BaseModel):
    request_id: str
    model_name: str
    target: str
    predictions: list[Prediction]


# --- wiring --------------------------------------------------------------------------------

class _TooLarge(HTTPException):
    """A body read past ``serve.max_body_bytes`` (a chunked one, without a Content-Length):
    an ``HTTPException`` so that FastAPI's body reading passes it on as the 413 it is."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(status_code=413, detail=_too_large(size, limit))


def _too_large(size: int, limit: int) -> str:
    return (f"request body is {size} bytes or more; the limit is {limit} bytes "
            f"(serve.max_body_bytes)")


class LimitAndMeasure:
    """Pure ASGI middleware: 413 above ``max_body_bytes`` (by Content-Length before the body
    is read, or while a chunked body is read); counts and times every request (by path:
    ``known_paths``, every other path as ``other``); answers an unhandled error 500 itself.

    Starlette's outermost error middleware sends its 500 and then re-raises the error to
    the server, and uvicorn closes a connection whose application raised: the next request
    a client sends on that keep-alive connection is reset. Answered here, the error ends
    the request, not the connection (it is logged with its traceback). An error after the
    response started cannot be answered and still closes the connection.
    """

    def __init__(self, app: Any, max_body_bytes: int, metrics: Metrics,
                 known_paths: tuple[str, ...]) -> None:
        self.app, self.max_body_bytes, self.metrics = app, max_body_bytes, metrics
        self.known_paths = frozenset(known_paths)

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        path = scope["path"] if scope["path"] in self.known_paths else "other"
        state = {"status": 500, "sent": False, "received": 0}
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() \
                    and int(value) > self.max_body_bytes:
                await self._reject(send, int(value))
                self.metrics.observe_request(path, 413, time.perf_counter() - started)
                return

        async def limited_receive() -> dict:
            message = await receive()
            if message["type"] == "http.request":
                state["received"] += len(message.get("body", b""))
                if state["received"] > self.max_body_bytes:
                    raise _TooLarge(state["received"], self.max_body_bytes)
            return message

        async def measured_send(message: dict) -> None:
            if message["type"] == "http.response.start":
                state["status"], state["sent"] = message["status"], True
            await send(message)

        try:
            await self.app(scope, limited_receive, measured_send)
        except _TooLarge:
            if state["sent"]:
                raise
            state["status"] = 413
            await self._reject(send, state["received"])
        except Exception:
            if state["sent"]:
                raise
            logger.exception("serve: unhandled error on %s %s", scope.get("method"),
                             scope["path"])
            state["status"] = 500
            body = json.dumps({"detail": "internal server error (logged by the server)"}
                              ).encode()
            await send({"type": "http.response.start", "status": 500,
                        "headers": [(b"content-type", b"application/json"),
                                    (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
        finally:
            self.metrics.observe_request(path, state["status"], time.perf_counter() - started)

    async def _reject(self, send: Any, size: int) -> None:
        body = json.dumps({"detail": _too_large(size, self.max_body_bytes)}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


def _features_hash(row: Any) -> str:
    return hashlib.blake2b(row.tobytes(), digest_size=8).hexdigest()


def _input_hash(post: dict[str, Any]) -> str:
    return hashlib.blake2b(json.dumps(post, default=str, sort_keys=True).encode(),
                           digest_size=8).hexdigest()


class Service:
    """The running parts of one server: models, router, log, metrics, background threads.

    Args:
        serve: The ``serve`` settings (routing, limits, log writer, auto-train).
        model_name: Registered model whose ``@champion`` / ``@challenger`` answer.
        task: What the model predicts (``train.task``); logged with every prediction.
        maturity_hours: Outcomes count as Thompson rewards once their post is this old
            (``features.maturity_hours``).
        segments: The ``segments`` settings: with ``enabled``, platform and segment models
            answer their posts.
        row_suite: The posts row contract (``validate.suite``, loaded): its one-row rules
            are the ``/predict`` body's (:mod:`pipelines.serve.request_models`).
        prediction_log_url, tracking_uri: Where predictions go and models come from.
        api_keys: Accepted ``X-API-Key`` values; None turns authentication off.
        project_dir: The project whose validated store auto-train reads.
        tasks: The tasks of ``serve.tasks``, each served by ``POST /tasks/<name>/predict``
            (:func:`pipelines.serve.task_serving.served_task`).
        history: Where the post models read account history collected since training
            (``serve.history_store``: a
            :class:`~pipelines.features.history_cache.CachedHistory` over the feature
            store; see :func:`pipelines.features.feature_store.open_history`); None: the
            history frozen at training only. ``POST /outcomes`` writes the outcomes of
            predicted posts into it when its source takes writes.
        store: A prepared model store (tests); default: one for ``model_name``.
        freeze_gc: A server process: after loading, move everything alive into the GC's
            permanent generation.
        session_segments: ``(SegmentAssigner, conversion request model)`` to serve
            ``POST /segments/sessions/assign`` (:mod:`pipelines.serve.segment_assign`);
            None: no such route.
    """

    def __init__(self, serve: ServeConfig, *, model_name: str, task: str,
                 maturity_hours: float, segments: SegmentsConfig,
                 row_suite: Mapping[str, Any], prediction_log_url: str,
                 tracking_uri: str | None, api_keys: frozenset[str] | None,
                 project_dir: str | None, tasks: Sequence[ServedTask],
                 history: Any = None, store: ModelStore | None = None,
                 freeze_gc: bool = False, session_segments: Any = None) -> None:
        from pipelines.prediction_log import PredictionLog
        from pipelines.serve.log_writer import PredictionLogWriter
        from pipelines.serve.task_outcomes import TaskOutcomes

        self.serve, self.model_name, self.task = serve, model_name, task
        self.maturity_hours, self.tracking_uri, self.api_keys = (maturity_hours, tracking_uri,
                                                                 api_keys)
        self.freeze_gc = freeze_gc
        # (SegmentAssigner, the conversion request model): POST /segments/sessions/assign
        self.session_segments = session_segments
        self.bodies = request_bodies(row_suite,
                                     future_tolerance_seconds=serve.future_tolerance_seconds)
        self.metrics = Metrics()
        self.history = history
        self.store = store or ModelStore(model_name, on_reload=self._reloaded,
                                         compile_model=self._compile)
        self.router: StickyRouter | ThompsonRouter = (
            ThompsonRouter(serve.exploration_floor, serve.seed)
            if serve.routing == "thompson" else StickyRouter(serve.challenger_share))
        self.segments = (SegmentModels(model_name, segment_key=segments.key,
                                       min_samples=segments.min_samples)
                         if segments.enabled else None)
        self.trainer = AutoTrainer(serve.auto_train, model_name=model_name,
                                   project_dir=project_dir, max_rows=serve.auto_train_max_rows,
                                   airflow_url=serve.airflow_url)
        self.missing: str | None = None
        self.log = PredictionLog(prediction_log_url)
        self.writer = PredictionLogWriter(self.log, batch_size=serve.log_batch_size,
                                          flush_seconds=serve.log_flush_seconds)
        outcomes = TaskOutcomes(self.log.engine) if tasks else None
        self.tasks = {served.task.name: TaskServer(
            served, challenger_share=serve.challenger_share, writer=self.writer,
            metrics=self.metrics, on_reload=self._reloaded, outcomes=outcomes,
            retrain_max_rows=(serve.auto_train_max_rows if serve.auto_train != "off"
                              else None),
            trainer=AutoTrainer(serve.auto_train, model_name=served.model_name,
                                project_dir=project_dir, max_rows=serve.auto_train_max_rows,
                                airflow_url=serve.airflow_url, task=served.task.name))
            for served in tasks}
        self._stop = threading.Event()
        self._reward_thread: threading.Thread | None = None
        self.metrics.gauges.update({
            "engageflow_task_model_info": lambda: [
                ({"task": name, "arm": a, "model_version": m.version, "path": m.model.kind},
                 1.0) for name, server in self.tasks.items()
                for a, m in server.store.arms.items()],
            "engageflow_model_info": lambda: [
                ({"arm": a, "model_version": m.version, "path": m.model.kind}, 1.0)
                for a, m in self.store.arms.items()],
            "engageflow_prediction_log_queue_depth": lambda: [({}, float(self.writer.depth))],
            "engageflow_prediction_log_rows": lambda: [
                ({"result": "written"}, float(self.writer.written)),
                ({"result": "dropped"}, float(self.writer.dropped)),
                ({"result": "failed"}, float(self.writer.failed))],
        })

        if hasattr(self.history, "refresh_failures"):     # a CachedHistory
            self.metrics.gauges["engageflow_history_cache_reads"] = lambda: [
                ({"kind": "miss"}, float(self.history.reads)),
                ({"kind": "refresh"}, float(self.history.refreshes)),
                ({"kind": "refresh_failed"}, float(self.history.refresh_failures))]

    def _compile(self, model: Any) -> CompiledPostModel:
        return CompiledPostModel(model).attach_history(self.history)

    def record_outcomes(self, rows: list[dict[str, Any]]) -> dict[str, int]:
        """Log outcome observations; with a writable history store, also merge those of
        predicted posts into their accounts' history (read at ``observed_at``, so the
        maturity rule applies) and drop the accounts from this process's cache."""
        stored = self.log.record_outcomes(rows)
        source = getattr(self.history, "source", None)
        if not callable(getattr(source, "write_posts", None)):
            return {"stored": stored}
        import pandas as pd

        known = self.log.predicted_posts([r["post_id"] for r in rows])
        if not len(known):
            return {"stored": stored, "history_posts": 0}
        seen = pd.DataFrame(rows).rename(columns={"observed_at": "collected_at"})
        seen = seen.sort_values("collected_at", kind="stable").drop_duplicates(
            "post_id", keep="last")
        for column in ("likes", "comments", "shares"):
            seen[column] = pd.to_numeric(seen.get(column), errors="coerce")
        posts = known.merge(seen, on="post_id", how="inner")
        posts["collected_at"] = pd.to_datetime(posts["collected_at"], utc=True)
        written = source.write_posts(posts, written_at=datetime.now(UTC))
        self.history.invalidate(posts["account_id"].unique().tolist())
        logger.info("serve: outcomes of %d predicted posts of %d accounts written to the "
                    "history store", len(posts), written["accounts"])
        return {"stored": stored, "history_posts": len(posts)}

    def _reloaded(self, ok: bool, message: str) -> None:
        if ok:
            self.metrics.reloads += 1
        else:
            self.metrics.reload_failures += 1

    def start(self) -> None:
        if self.tracking_uri:
            from pipelines.registry import tracking

            tracking.connect(self.tracking_uri)
        try:
            self.store.refresh()
        except LookupError as error:  # no model yet: answer 503 until one appears
            self.missing = str(error)
            logger.warning("serve: %s; /predict answers 503 (auto_train=%s)", error,
                           self.serve.auto_train)
        if self.segments is not None:
            self.segments.refresh()
            self.store.followers.append(self.segments.refresh)
        for server in self.tasks.values():
            server.start(self.serve.poll_seconds)
        if self.freeze_gc:
            # a server process: the loaded libraries and models live as long as it does, so
            # keep them out of the cyclic GC's generations (no walk over them mid-request)
            gc.collect()
            gc.freeze()
        self.store.start_polling(self.serve.poll_seconds)
        self.writer.start()
        if isinstance(self.router, ThompsonRouter):
            self.refresh_rewards()
            self._reward_thread = threading.Thread(target=self._reward_loop, daemon=True,
                                                   name="reward-refresher")
            self._reward_thread.start()
        logger.info("serve: %s (%s routing), tasks %s, auth %s", self.model_name,
                    self.router.mode, {n: s.model_name for n, s in self.tasks.items()},
                    "on" if self.api_keys else "OFF")

    def stop(self) -> None:
        self._stop.set()
        self.store.stop()
        for server in self.tasks.values():
            server.stop()
        if self._reward_thread is not None:
            self._reward_thread.join(timeout=10)
        if callable(getattr(self.history, "close", None)):
            self.history.close()            # the history cache's refresher thread
        self.writer.close()
        self.log.close()

    def refresh_rewards(self) -> None:
        """Feed the Thompson router the realized rewards of the current versions."""
        if not isinstance(self.router, ThompsonRouter):
            return
        pairs = self.log.matured_pairs(model_name=self.model_name, target=self.task,
                                       horizon_hours=self.maturity_hours,
                                       now=datetime.now(UTC))
        versions = {a: m.version for a, m in self.store.arms.items()}
        self.router.update(rewards_by_arm(pairs, versions))

    def _reward_loop(self) -> None:
        while not self._stop.wait(self.serve.reward_refresh_seconds):
            try:
                self.refresh_rewards()
            except Exception:  # noqa: BLE001 - routing keeps its last statistics
                logger.exception("serve: refreshing arm rewards failed")

    def no_model_detail(self) -> dict[str, Any]:
        """What a 503 says: the missing model and the training it started (if any)."""
        training = self.trainer.ensure()
        how = {"off": "train one: `make run`, or trigger the engagement_training DAG",
               "sync": "training started in this server",
               "airflow": "the engagement_training DAG was triggered"}[self.serve.auto_train]
        return {"error": "no model to answer with",
                "missing": self.missing or f"registered model {self.model_name!r} "
                                           f"has no @champion",
                "action": how if training["state"] != "failed" else "training could not "
                "start", "training": training, "retry_after_seconds": 30}

    def predict(self, posts: list[Post], request_id: str) -> bytes:
        """Route, predict and log ``posts``; the JSON response body."""
        arms = self.store.arms                      # one snapshot for the whole request
        if not arms:
            raise NoModelError(self.no_model_detail())
        available = tuple(arms)
        key = self.serve.sticky_key
        groups: dict[str, list[int]] = {}
        values = [post.__dict__ for post in posts]
        statuses: list[dict[str, Any] | None] = [None] * len(values)
        by_segment: dict[str, Any] = {}
        for i, post in enumerate(values):
            arm = self.router.choose(post[key], available)
            if self.segments is not None:
                own, statuses[i] = self.segments.answer(post, arms[arm].version)
                if own is not None:     # the segment's own model answers, outside the A/B
                    arm = f"segment:{own.segment.key}"
                    by_segment[arm] = own
            groups.setdefault(arm, []).append(i)
        answers: list[dict[str, Any]] = [{}] * len(values)
        records = []
        now = datetime.now(UTC)
        name, task = self.model_name, self.task
        for arm, index in groups.items():
            served = arms.get(arm) or by_segment[arm]
            batch = [values[i] for i in index]
            predictions, matrix = served.model.predict(batch)
            self.metrics.observe_prediction(arm, served.version, len(index))
            for j, i in enumerate(index):
                post, value = values[i], float(predictions[j])
                answers[i] = {"post_id": post["post_id"], "prediction": value, "arm": arm,
                              "model_version": served.version}
                if statuses[i] is not None:
                    answers[i]["model_status"] = statuses[i]
                posted_at = post["posted_at"]
                records.append({
                    "request_id": request_id, "post_id": post["post_id"],
                    "account_id": post["account_id"], "platform": post["platform"],
                    "model_name": name, "model_version": served.version, "arm": arm,
                    "target": task, "prediction": value,
                    "features_hash": _features_hash(matrix[j]) if matrix is not None
                    else _input_hash(post),
                    "predicted_at": now,
                    "posted_at": posted_at if posted_at.tzinfo is not None
                    else posted_at.replace(tzinfo=UTC),
                    "followers_at_post_time": post["followers_at_post_time"],
                    "post_kind": post.get("post_kind")})
        self.writer.submit(records)
        return json.dumps({"request_id": request_id, "model_name": name, "target": task,
                           "predictions": answers}).encode()


class NoModelError(Exception):
    """No model exists yet; the detail says what is missing and what was started."""


def create_app(service: Service) -> FastAPI:
    """The FastAPI app of ``service``; models load and threads start with its lifespan."""
    from pipelines.prediction_log import LogBusyError

    serve, api_keys = service.serve, service.api_keys

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await asyncio.to_thread(service.start)
        try:
            yield
        finally:
            await asyncio.to_thread(service.stop)

    app = FastAPI(title="EngageFlow serving", lifespan=lifespan,
                  docs_url=None, redoc_url=None,   # offline pages: add_offline_docs below
                  description="Predicted engagement of social-media posts (`/predict`) "
                              "and the predictions of each task of serve.tasks "
                              "(`/tasks/<task>/predict`) from the @champion / @challenger "
                              "models of the registry. Send the API key in the "
                              f"`{API_KEY_HEADER}` header.")
    app.router.route_class = StrictJSONRoute   # every body route below parses strictly
    app.add_exception_handler(RequestValidationError, validation_error_response)
    app.state.service = service
    add_offline_docs(app)
    app.add_middleware(LimitAndMeasure, max_body_bytes=serve.max_body_bytes,
                       metrics=service.metrics,
                       known_paths=(*PATHS, *(s.path for s in service.tasks.values()),
                                    *((SEGMENT_PATH,) if service.session_segments else ())))
    header = APIKeyHeader(name=API_KEY_HEADER, auto_error=False)
    keys = tuple(k.encode() for k in api_keys or ())

    # a default, not Annotated: the annotations are strings and `header` is a local
    async def authorized(key: str | None = Depends(header)) -> None:  # noqa: B008
        if api_keys is None:
            return
        given = (key or "").encode()
        if not key or not any(hmac.compare_digest(given, k) for k in keys):
            raise HTTPException(status_code=401, headers={"WWW-Authenticate": "ApiKey"},
                                detail=f"missing or invalid API key (header {API_KEY_HEADER})")

    bodies = service.bodies     # the row contract's body types of this server

    @app.post("/predict", response_model=PredictResponse,
              dependencies=[Depends(authorized)],
              responses={401: {"description": "Missing or wrong API key"},
                         413: {"description": "Body or batch too large"},
                         503: {"description": "No model exists yet; says what is missing "
                                              "and which training was started"},
                         422: {"description": "Invalid post (field-level messages)"}})
    async def predict(body: bodies.predict, request: Request) -> Response:
        """Predict the target count for one post or a batch ``{"posts": [...]}``."""
        posts = body.posts if isinstance(body, bodies.post_batch) else [body]
        if len(posts) > serve.max_batch:
            raise HTTPException(status_code=413, detail=(
                f"batch has {len(posts)} posts; the limit is {serve.max_batch} "
                f"(serve.max_batch)"))
        request_id = request.headers.get("x-request-id") or uuid.uuid4().hex
        try:
            return Response(service.predict(posts, request_id[:64]),
                            media_type="application/json")
        except NoModelError as error:
            return Response(json.dumps({"detail": error.args[0]}), status_code=503,
                            media_type="application/json", headers={"Retry-After": "30"})

    for server in service.tasks.values():
        add_task_route(app, server, authorized=authorized, max_batch=serve.max_batch)
    if service.session_segments is not None:
        assigner, session_model = service.session_segments
        add_segment_assign_route(app, assigner, request_model=session_model,
                                 authorized=authorized, max_batch=serve.max_batch)

    @app.post("/outcomes", dependencies=[Depends(authorized)],
              responses={503: {"description": "The prediction log stayed locked; nothing "
                                              "was stored, send again"}})
    def outcomes(body: bodies.outcomes) -> Any:
        """Record realized counts of posts (a later observation supersedes earlier ones)."""
        now = datetime.now(UTC)
        rows = []
        for outcome in body.outcomes:
            observed = outcome.observed_at or now
            row: dict[str, Any] = {"post_id": outcome.post_id, "observed_at": observed
                                   if observed.tzinfo else observed.replace(tzinfo=UTC)}
            for target in ("likes", "comments", "shares"):
                if getattr(outcome, target) is not None:
                    row[target] = getattr(outcome, target)
            rows.append(row)
        try:
            return service.record_outcomes(rows)
        except LogBusyError as error:   # nothing stored: the client sends them again
            return Response(json.dumps({"detail": f"{error} Send the outcomes again."}),
                            status_code=503, media_type="application/json",
                            headers={"Retry-After": "1"})

    @app.get("/health")
    async def health() -> dict[str, Any]:
        """Liveness and what is served (no key needed)."""
        arms = service.store.arms
        return {"status": "ok" if arms else "no_model" if service.missing else "loading",
                "model_name": service.model_name,
                "segment_models": {} if service.segments is None else
                {s.key: m.version for s, m in service.segments.state.models.items()},
                "target": service.task, "routing": service.router.mode,
                "arms": {a: m.version for a, m in arms.items()},
                "paths": {a: m.model.kind for a, m in arms.items()},
                "tasks": {name: server.health() for name, server in service.tasks.items()},
                "log_queue_depth": service.writer.depth}

    @app.get("/metrics", response_class=PlainTextResponse)
    async def metrics() -> PlainTextResponse:
        """Prometheus text exposition (no key needed)."""
        return PlainTextResponse(service.metrics.render(),
                                 media_type="text/plain; version=0.0.4; charset=utf-8")

    return app


def run_server(service: Service) -> None:
    """Serve ``service`` on ``serve.host``:``serve.port`` with uvicorn (one worker: the log
    writer and poller are in-process). Build the service with ``freeze_gc=True``.

    The GIL switch interval drops from 5 ms to 1 ms so the background threads (log writer,
    alias poller) can hold up the event loop for at most ~1 ms at a time (tail latency).
    """
    import sys

    import uvicorn

    sys.setswitchinterval(0.001)
    uvicorn.run(create_app(service), host=service.serve.host, port=service.serve.port,
                log_level="warning", access_log=False)
