"""``POST /segments/sessions/assign``: the learned session segment of each session.

The newest registered version of ``session_segments.model_name`` (fitted by ``engageflow
segment-sessions``) answers; each session gets its segment id and the segment's profile
name (``segments/profiles.json`` of the version's run). The body is ``{"rows": [...]}``
of the conversion task's request model, so a session breaking the sessions row contract
is refused with 422 naming the field. No registered version yet: 503 saying what to run.

No ``from __future__ import annotations``: FastAPI evaluates the body annotation, a model
built at run time (as in :mod:`pipelines.serve.task_routes`).
"""

import json
import logging
import threading
from collections.abc import Callable
from typing import Any

from fastapi import Depends, FastAPI, HTTPException
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, create_model

logger = logging.getLogger(__name__)

PATH = "/segments/sessions/assign"


class NoSegmenterError(LookupError):
    """No version of the segmenter is registered yet."""


class SegmentAssigner:
    """The newest registered version of ``model_name`` and its segment names, loaded on the
    first assignment (and again while none is registered); a version registered after that
    is served after a restart.

    Args:
        model_name: The registered model (``session_segments.model_name``).
        key: The column that identifies a row in the answer (the conversion serve_key).
    """

    def __init__(self, model_name: str, key: str) -> None:
        self.model_name, self.key = model_name, key
        self.version: str | None = None
        self._model: Any = None
        self._names: dict[int, str] = {}
        self._lock = threading.Lock()

    def load(self) -> None:
        """Load the newest version and its profile names.

        Raises:
            NoSegmenterError: when ``model_name`` has no version, naming the command.
        """
        import mlflow
        from mlflow.exceptions import MlflowException

        client = mlflow.MlflowClient()
        try:
            versions = client.search_model_versions(f"name='{self.model_name}'")
        except MlflowException:
            versions = []
        if not versions:
            raise NoSegmenterError(
                f"no version of {self.model_name!r} is registered yet; run `engageflow "
                f"segment-sessions` (after collect and validate with train.task=conversion).")
        newest = max(versions, key=lambda v: int(v.version))
        model = mlflow.sklearn.load_model(f"models:/{self.model_name}/{newest.version}")
        profiles = json.loads(mlflow.artifacts.load_text(
            f"runs:/{newest.run_id}/segments/profiles.json"))
        self._names = {int(p["segment"]): str(p.get("name", f"segment {p['segment']}"))
                       for p in profiles}
        self._model, self.version = model, str(newest.version)
        logger.info("segment_assign: loaded %s version %s (%d segments)", self.model_name,
                    self.version, len(self._names))

    def assign(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        """Segment id and name of each row (canonical session columns).

        Raises:
            NoSegmenterError: as :meth:`load`.
        """
        import pandas as pd

        with self._lock:
            if self._model is None:
                self.load()
        frame = pd.DataFrame(rows)
        labels = self._model.predict(frame)
        return {"model_name": self.model_name, "model_version": self.version,
                "assignments": [{"key": str(row[self.key]), "segment": int(label),
                                 "name": self._names.get(int(label), f"segment {label}")}
                                for row, label in zip(rows, labels, strict=True)]}


class SegmentAssignment(BaseModel):
    key: str = Field(description="The session's session_id.")
    segment: int = Field(description="The segment id (the registered model's predict).")
    name: str = Field(description="The segment's profile name (what stands out in it).")


class SegmentAssignResponse(BaseModel):
    model_name: str
    model_version: str
    assignments: list[SegmentAssignment]


def add_segment_assign_route(app: FastAPI, assigner: SegmentAssigner, *,
                             request_model: type[BaseModel],
                             authorized: Callable[..., Any], max_batch: int) -> None:
    """Add ``POST /segments/sessions/assign``: ``{"rows": [...]}`` of ``request_model``
    (1 to ``max_batch``: 413 above), 422 naming the field of a bad row, 503 while no
    segmenter is registered."""
    body_type = create_model("SessionSegmentRows", __config__=ConfigDict(extra="forbid"),
                             __doc__="Sessions to assign to learned segments (at most "
                                     "serve.max_batch).",
                             rows=(list[request_model], Field(min_length=1)))

    def assign(body: body_type) -> Response:
        if len(body.rows) > max_batch:
            raise HTTPException(status_code=413, detail=(
                f"batch has {len(body.rows)} rows; the limit is {max_batch} "
                f"(serve.max_batch)"))
        try:
            answer = assigner.assign([row.model_dump() for row in body.rows])
        except NoSegmenterError as error:
            return Response(json.dumps({"detail": error.args[0]}), status_code=503,
                            media_type="application/json", headers={"Retry-After": "30"})
        return Response(json.dumps(answer), media_type="application/json")

    assign.__doc__ = (f"The learned segment (id and profile name) of each session, from the "
                      f"newest version of `{assigner.model_name}`.")
    app.post(PATH, response_model=SegmentAssignResponse, tags=["segments"],
             summary="Assign sessions to learned segments", dependencies=[Depends(authorized)],
             responses={401: {"description": "Missing or wrong API key"},
                        413: {"description": "Batch too large"},
                        422: {"description": "Invalid session row (field-level messages)"},
                        503: {"description": "No segmenter registered yet"}})(assign)
