"""Train the first model when a prediction arrives and none exists ("auto-train on first
prediction").

The service answers such a request with 503 at once, naming what is missing, and starts at
most one training in the background:

- ``sync``: when the validated store holds at most ``max_rows`` posts, the same stage
  functions the training DAG runs (collect from the validated store → validate → features →
  train → evaluate → refit → register → promotion gate) run in a thread of the server; the
  alias poller then picks up the new ``@champion``.
- ``airflow``: the ``engagement_training`` DAG is triggered through the Airflow REST API
  (``POST /auth/token``, then ``POST /api/v2/dags/engagement_training/dagRuns`` with the
  reason in the run's conf). Credentials come from the environment
  (``ENGAGEFLOW_AIRFLOW_USER`` / ``ENGAGEFLOW_AIRFLOW_PASSWORD``).
- ``off``: the 503 says how to train.

``sync`` falls back to ``airflow`` (when a URL is set) for a store over ``max_rows``.

A served task of the registry (``POST /tasks/<name>/predict``, ``task`` set) trains the
same way with ``train.task`` = its name: in ``sync`` its own collect stage runs first in the
server's thread (the task's configured source, e.g. the seeded demo generator) and the
rest of the stages follow when it read at most ``max_rows`` rows; over that the training
DAG is triggered with ``train.task`` in its conf (or, without a URL, the status says so).
When the training finished, ``on_done`` runs (the task's server reloads its aliases) and the
status names the registered version (the answer's ``model_status`` then says the model
was trained in this cycle).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

logger = logging.getLogger(__name__)

TRAINING_DAG = "engagement_training"


class AutoTrainer:
    """Starts at most one first training; :meth:`ensure` says what is happening."""

    def __init__(self, mode: str, *, model_name: str, project_dir: str | None,
                 max_rows: int, airflow_url: str | None, task: str | None = None,
                 on_done: Callable[[], Any] | None = None) -> None:
        if mode not in ("off", "sync", "airflow"):
            raise ValueError(f"AutoTrainer: 'mode' must be off, sync or airflow; got {mode!r}.")
        if mode == "airflow" and not airflow_url:
            raise ValueError("AutoTrainer: mode 'airflow' needs serve.airflow_url (the Airflow "
                             "API server, e.g. http://127.0.0.1:8080).")
        self.mode, self.model_name, self.project_dir = mode, model_name, project_dir
        self.max_rows, self.airflow_url = max_rows, (airflow_url or "").rstrip("/")
        #: The served task it trains (None: the post model of ``train.task``'s params).
        self.task, self.on_done = task, on_done
        self.form_params: dict[str, Any] = {"train.task": task} if task else {}
        self.status: dict[str, Any] = {"state": "idle"}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def ensure(self) -> dict[str, Any]:
        """Start the first training if none started yet; the current status."""
        with self._lock:
            if self.status["state"] in ("idle", "failed") and self.mode != "off":
                self._start()
            return dict(self.status)

    def _start(self) -> None:
        if self.mode == "sync" and self.task is not None:
            # the task's source is read by its own collect stage, first in the thread
            self.status = {"state": "training", "how": "in this server", "task": self.task,
                           "since": datetime.now(UTC).isoformat(timespec="seconds")}
            self._thread = threading.Thread(target=self._train, name="auto-train",
                                            daemon=True)
            self._thread.start()
            return
        if self.mode == "sync":
            rows = self._validated_rows()
            if rows == 0:
                self.status = {"state": "failed", "reason": "the validated store is empty: "
                               "run the engagement_collect DAG (or make run) first"}
                return
            if rows <= self.max_rows:
                self.status = {"state": "training", "how": "in this server", "rows": rows,
                               "since": datetime.now(UTC).isoformat(timespec="seconds")}
                self._thread = threading.Thread(target=self._train, name="auto-train",
                                                daemon=True)
                self._thread.start()
                return
            if not self.airflow_url:
                self.status = {"state": "failed", "reason": f"{rows} validated posts exceed "
                               f"serve.auto_train_max_rows={self.max_rows}; trigger "
                               f"{TRAINING_DAG} in Airflow"}
                return
        self._trigger_airflow()

    def _validated_rows(self) -> int:
        from pipelines.paths import project_paths
        from pipelines.validate.partition import read_validated_posts

        return len(read_validated_posts(project_paths(self.project_dir).data))

    def _train(self) -> None:
        from pipelines.orchestration import training_stage_task
        from pipelines.pipeline import STAGE_NAMES

        run_id = f"serve-auto-train-{datetime.now(UTC):%Y%m%dT%H%M%S}"
        project, now = str(self.project_dir), datetime.now(UTC).isoformat()
        try:
            # the training DAG's stages, in the one pipeline order (the post model: on the
            # validated store; a task: from its own collect stage)
            results: dict[str, dict[str, Any]] = {}
            for stage in STAGE_NAMES:
                results[stage] = training_stage_task(
                    stage=stage, project_dir=project, run_id=run_id,
                    form_params=self.form_params, as_of=now,
                    asset_triggered=self.task is None)
                if stage == "collect" and self.task is not None:
                    rows = int(results[stage].get("rows", 0))
                    self.status = {**self.status, "rows": rows}
                    logger.info("serve: auto-train %s of %s: collect read %d rows (limit "
                                "serve.auto_train_max_rows=%d)", run_id, self.task, rows,
                                self.max_rows)
                    if rows > self.max_rows:
                        self._over_limit(rows)
                        return
            decision = results["promote"].get("decision")
            self.status = {**self.status, "state": "done", "run_id": run_id,
                           "decision": decision,
                           "version": str(results["register"].get("version"))}
            logger.info("serve: auto-train %s finished: %s", run_id, decision)
            if self.on_done is not None:
                self.on_done()
        except Exception as error:  # noqa: BLE001 - reported in the next 503
            logger.exception("serve: auto-train %s failed", run_id)
            self.status = {"state": "failed", "run_id": run_id,
                           "reason": f"{type(error).__name__}: {error}"}

    def _over_limit(self, rows: int) -> None:
        if self.airflow_url:
            self._trigger_airflow()
            return
        self.status = {"state": "failed", "task": self.task, "rows": rows,
                       "reason": f"{self.task}'s source has {rows} rows, over "
                                 f"serve.auto_train_max_rows={self.max_rows}; trigger "
                                 f"{TRAINING_DAG} with train.task={self.task} in Airflow"}

    def _trigger_airflow(self) -> None:
        import httpx

        user = os.environ.get("ENGAGEFLOW_AIRFLOW_USER", "admin")
        password = os.environ.get("ENGAGEFLOW_AIRFLOW_PASSWORD", "")
        try:
            with httpx.Client(base_url=self.airflow_url, timeout=10) as client:
                token = client.post("/auth/token", json={"username": user,
                                                         "password": password})
                token.raise_for_status()
                headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
                conf = {**self.form_params,
                        "reason": f"serving: no @champion of {self.model_name}; first "
                                  f"prediction arrived"}
                client.patch(f"/api/v2/dags/{TRAINING_DAG}", json={"is_paused": False},
                             headers=headers).raise_for_status()
                run = client.post(f"/api/v2/dags/{TRAINING_DAG}/dagRuns", headers=headers,
                                  json={"logical_date": None, "conf": conf})
                run.raise_for_status()
            self.status = {"state": "training", "how": f"Airflow {TRAINING_DAG}",
                           "dag_run_id": run.json().get("dag_run_id")}
        except (httpx.HTTPError, KeyError, ValueError) as error:
            self.status = {"state": "failed", "reason": f"triggering {TRAINING_DAG} at "
                           f"{self.airflow_url} failed: {error}"}

    def join(self, timeout: float | None = None) -> None:
        """Wait for an in-server training (tests, shutdown)."""
        if self._thread is not None:
            self._thread.join(timeout)
