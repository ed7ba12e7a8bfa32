"""A small client of the Airflow 3 REST API (``/auth/token`` + ``/api/v2``) for the tests."""

from __future__ import annotations

import time

import httpx


class AirflowRest:
    """Log in with the simple auth manager and drive DAG runs over HTTP."""

    def __init__(self, base_url: str, username: str, password: str) -> None:
        self.base_url = base_url.rstrip("/")
        reply = httpx.post(f"{self.base_url}/auth/token", timeout=30,
                           json={"username": username, "password": password})
        assert reply.status_code in (200, 201), (
            f"POST {self.base_url}/auth/token as {username!r}: HTTP {reply.status_code} "
            f"{reply.text[:500]}")
        self.client = httpx.Client(base_url=f"{self.base_url}/api/v2", timeout=30, headers={
            "Authorization": f"Bearer {reply.json()['access_token']}"})

    def _call(self, method: str, path: str, **kwargs) -> dict:
        reply = self.client.request(method, path, **kwargs)
        assert reply.status_code < 300, (
            f"{method} /api/v2{path}: HTTP {reply.status_code} {reply.text[:800]}")
        return reply.json()

    def wait_for_dag(self, dag_id: str, timeout: float = 180) -> None:
        """Wait until the dag-processor has parsed ``dag_id`` into the database."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.client.get(f"/dags/{dag_id}").status_code == 200:
                return
            time.sleep(2)
        raise AssertionError(f"DAG {dag_id!r} did not appear in {self.base_url} within "
                             f"{timeout:.0f} s (dag-processor log?)")

    def unpause(self, dag_id: str) -> None:
        self._call("PATCH", f"/dags/{dag_id}", json={"is_paused": False})

    def trigger(self, dag_id: str, conf: dict) -> str:
        run = self._call("POST", f"/dags/{dag_id}/dagRuns",
                         json={"logical_date": None, "conf": conf})
        return run["dag_run_id"]

    def dag_run(self, dag_id: str, run_id: str) -> dict:
        return self._call("GET", f"/dags/{dag_id}/dagRuns/{run_id}")

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        return self._call("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances"
                          )["task_instances"]

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float) -> dict:
        """Poll until the run is finished; return it (state ``success`` or ``failed``)."""
        deadline = time.monotonic() + timeout
        run = self.dag_run(dag_id, run_id)
        while run["state"] not in ("success", "failed") and time.monotonic() < deadline:
            time.sleep(3)
            run = self.dag_run(dag_id, run_id)
        return run

    def run_summary(self, dag_id: str, run_id: str) -> str:
        """Each task's state, hostname and executor: for failure messages."""
        return "; ".join(f"{t['task_id']}={t['state']} on {t.get('hostname')!r}"
                         for t in self.task_instances(dag_id, run_id))
