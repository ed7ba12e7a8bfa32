"""The route of each served task: ``POST /tasks/<name>/predict`` with the task's own body.

FastAPI reads a route's body type from the function's annotations, by evaluating them
where the function was defined. A body built at run time (each task's request model)
therefore needs a module whose annotations are objects, not strings: this one has no
``from __future__ import annotations`` on purpose (and :func:`add_task_route` builds the
function inside, so ``body: Body`` is the task's own union of one row or a batch).
"""

import json
import uuid
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import Response
from pydantic import AfterValidator, BaseModel, ConfigDict, Discriminator, Field, Tag, create_model

from pipelines.serve.task_serving import (
    MAX_KEY_LENGTH,
    RETRY_AFTER_SECONDS,
    NoTaskModelError,
    TaskServer,
)


class TaskPrediction(BaseModel):
    # a task may answer more than the number (Task.answers: class probabilities, ...)
    model_config = ConfigDict(extra="allow")

    key: str = Field(description="The row's serve_key value (e.g. its session_id).")
    prediction: float = Field(description="What the task predicts (its `noun`); a task may "
                                          "add fields (Task.answers).")
    arm: str
    model_version: str


class TaskPredictResponse(BaseModel):
    request_id: str
    task: str
    model_name: str
    predictions: list[TaskPrediction]


def _shape(value: Any) -> str:
    return "batch" if isinstance(value, dict) and "rows" in value else "row"


def _title(name: str) -> str:
    return "".join(part.title() for part in name.split("_"))


def _loggable_key(value: Any) -> Any:
    text = str(value)
    if not text.strip() or len(text) > MAX_KEY_LENGTH:
        raise ValueError(f"the key must be 1 to {MAX_KEY_LENGTH} characters (the prediction "
                         f"log's key column); got {len(text)}")
    return value


def body_models(server: TaskServer) -> tuple[type[BaseModel], type[BaseModel]]:
    """(one row, a batch ``{"rows": [...]}``) of ``server``'s task: its request model, with
    the key it routes and logs by held to what the prediction log stores."""
    base, key = server.request_model, server.task.serve_key
    field = base.model_fields[key]
    row = create_model(base.__name__, __base__=base, __doc__=base.__doc__, **{
        key: (Annotated[field.annotation, AfterValidator(_loggable_key)],
              Field(description=field.description or f"Identifies the row; sticky "
                    f"champion/challenger routing hashes it ({server.task.name} serve_key)."))})
    batch = create_model(f"{base.__name__}Batch", __config__=ConfigDict(extra="forbid"),
                         __doc__=f"Several {server.task.input.entity} rows in one request (at "
                                 f"most serve.max_batch).",
                         rows=(list[row], Field(min_length=1)))
    return row, batch


def add_task_route(app: FastAPI, server: TaskServer, *, authorized: Callable[..., Any],
                   max_batch: int) -> None:
    """Add ``POST /tasks/<name>/predict`` for ``server``: one row or ``{"rows": [...]}``
    (at most ``max_batch``: 413 above), the API key of ``authorized``, 422 naming the field
    of a bad row, 503 with what is missing while the task has no champion."""
    task = server.task
    row_model, batch_model = body_models(server)
    body_type = Annotated[Annotated[row_model, Tag("row")] | Annotated[batch_model, Tag("batch")],
                          Discriminator(_shape)]

    async def predict(body: body_type, request: Request) -> Response:
        rows = body.rows if isinstance(body, batch_model) else [body]
        if len(rows) > max_batch:
            raise HTTPException(status_code=413, detail=(
                f"batch has {len(rows)} rows; the limit is {max_batch} (serve.max_batch)"))
        request_id = (request.headers.get("x-request-id") or uuid.uuid4().hex)[:64]
        try:
            return Response(server.predict(rows, request_id), media_type="application/json")
        except NoTaskModelError as error:
            return Response(json.dumps({"detail": error.args[0]}), status_code=503,
                            media_type="application/json",
                            headers={"Retry-After": str(RETRY_AFTER_SECONDS)})

    predict.__name__ = f"predict_{task.name}"
    predict.__doc__ = (f"Predict the {task.noun} ({task.target}) for one {task.input.entity} "
                       f"row or a batch `{{\"rows\": [...]}}`, answered by "
                       f"`{server.model_name}` @champion / @challenger (sticky by "
                       f"`{task.serve_key}`).")
    app.post(server.path, response_model=TaskPredictResponse, tags=["tasks"],
             summary=f"Predict {task.name}", dependencies=[Depends(authorized)],
             responses={401: {"description": "Missing or wrong API key"},
                        413: {"description": "Body or batch too large"},
                        422: {"description": f"Invalid {task.input.entity} row (field-level "
                                             f"messages)"},
                        503: {"description": f"{server.model_name} has no @champion yet; says "
                                             f"what is missing and the training it "
                                             f"started (Retry-After)"}})(predict)
    add_outcome_route(app, server, authorized=authorized, max_batch=max_batch)


class OutcomesResponse(BaseModel):
    task: str
    stored: int
    groups: dict[str, dict[str, int]] = Field(
        description="Per group (the task's slice_column, e.g. campaign): keys labelled in "
                    "all and since the group's model was last trained.")
    retrain: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Per group of the request: whether it was due for retraining, whether "
                    "it was retrained in this request (and the gate kept its model), the "
                    "row counts and a message.")


def add_outcome_route(app: FastAPI, server: TaskServer, *, authorized: Callable[..., Any],
                      max_batch: int) -> None:
    """Add ``POST /tasks/<name>/outcomes`` for a task with an
    :meth:`~pipelines.tasks.base.Task.outcome_model`: ``{"outcomes": [...]}`` (1 to
    ``max_batch``), 422 naming the field of a bad outcome. Each outcome is stored whole;
    the groups it makes due are retrained in the request (:meth:`TaskServer.retrain`,
    bounded by ``serve.auto_train_max_rows``)."""
    task, model = server.task, server.outcome_model
    if model is None or server.outcomes is None:
        return
    body_type = create_model(f"{_title(task.name)}Outcomes",
                             __config__=ConfigDict(extra="forbid"),
                             __doc__=f"Labelled outcomes of {task.name} rows answered "
                                     f"earlier (at most serve.max_batch).",
                             outcomes=(list[model], Field(min_length=1, max_length=max_batch)))
    group = task.slice_column

    def outcomes(body: body_type) -> Any:
        rows = [item.model_dump(mode="json") for item in body.outcomes]
        stored = server.outcomes.record(task.name, [
            {"key": str(row[task.serve_key]), "label": str(row[task.target]),
             "group": str(row.get(group, "")) if group else "", "record": row}
            for row in rows])
        groups = {str(row.get(group, "")) if group else "" for row in rows}
        retrain = server.retrain(groups)
        counts = server.outcomes.counts(task.name, groups, since=server.labels_since(groups))
        return {"task": task.name, "stored": stored, "groups": counts, "retrain": retrain}

    outcomes.__name__ = f"outcomes_{task.name}"
    outcomes.__doc__ = (f"Record the true {task.target} of {task.input.entity} rows answered "
                        f"earlier, by `{task.serve_key}`; counted per "
                        f"`{group or 'task'}` toward retraining.")
    app.post(f"/tasks/{task.name}/outcomes", response_model=OutcomesResponse, tags=["tasks"],
             summary=f"Labelled outcomes of {task.name}", dependencies=[Depends(authorized)],
             responses={401: {"description": "Missing or wrong API key"},
                        422: {"description": "Invalid outcome (field-level messages)"}}
             )(outcomes)
