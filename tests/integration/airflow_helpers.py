"""Run real Airflow commands against a throw-away home and the project's DAGs."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

BIN = Path(sys.executable).parent


def airflow_env(project_root: Path, home: Path) -> dict[str, str]:
    """Environment for an isolated Airflow (SQLite) + MLflow (SQLite) + EngageFlow state."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AIRFLOW", "ENGAGEFLOW", "MLFLOW"))}
    env.update({
        "ENGAGEFLOW_HOME": str(project_root),
        "ENGAGEFLOW_STATE": str(home / "state"),
        "ENGAGEFLOW_DATA": str(home / "data"),
        "AIRFLOW_HOME": str(home / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(project_root / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow/airflow.db",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "MLFLOW_TRACKING_URI": f"sqlite:///{home}/state/mlflow.db",
        "HF_HUB_OFFLINE": "1",
    })
    (home / "airflow").mkdir(parents=True, exist_ok=True)
    return env


def run_airflow(args: list[str], env: dict[str, str], check: bool = True
                ) -> subprocess.CompletedProcess:
    """Run the venv's ``airflow`` CLI; on failure (with ``check``) show its output tail."""
    done = subprocess.run([str(BIN / "airflow"), *args], env=env, capture_output=True,
                          text=True, timeout=600)
    if check:
        assert done.returncode == 0, (f"airflow {args} failed:\n{done.stdout[-4000:]}\n"
                                      f"{done.stderr[-4000:]}")
    return done


def stop_process_group(proc: subprocess.Popen, first: int = signal.SIGTERM,
                       grace: float = 10) -> None:
    """Send ``first`` to the process group of ``proc`` (started with
    ``start_new_session=True``); SIGKILL the group if it has not ended after ``grace`` s."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, first)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=grace)


@contextlib.contextmanager
def execution_api(env: dict[str, str], home: Path) -> Iterator[dict[str, str]]:
    """An ``airflow api-server`` (execution API only) on a free local port, for
    ``airflow dags test --use-executor``: executor-run tasks talk to the API server and
    write their own task log files, as under the scheduler. Yields the environment that
    points the tasks at it; stops the server's process group on exit.
    """
    from pipelines.deploy.local_stack import free_port

    port = free_port()
    env = {**env, "AIRFLOW__CORE__EXECUTION_API_SERVER_URL":
           f"http://127.0.0.1:{port}/execution/",
           "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port())}
    log = home / "api-server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [str(BIN / "airflow"), "api-server", "--apps", "execution", "-H", "127.0.0.1",
             "-p", str(port), "-w", "1"], env=env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, f"airflow api-server exited:\n{log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"no execution API on port {port} after 120 s"
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{port}/execution/health",
                             timeout=3).status_code == 200:
                    break
            time.sleep(1)
        yield env
    finally:
        stop_process_group(proc)


def run_airflow_executor_test(dag_id: str, conf: dict, env: dict[str, str], home: Path,
                              timeout: float = 600, grace: float = 30) -> str:
    """``airflow dags test DAG --use-executor -c CONF`` until its run has ended; returns the
    command's output.

    Airflow 3's ``dags test --use-executor`` sometimes never returns once the run has ended:
    the run is ``success`` in the metadata DB, every task log is written, and the process
    waits on its idle LocalExecutor workers (1 of 3 suite runs with two pytest workers on 2
    cores). So the run's own state decides: once the newest run of ``dag_id`` started by this
    command is final, the command gets ``grace`` seconds to exit, then its process group is
    stopped. A run that never ends still fails the test at ``timeout``.
    """
    import json
    import sqlite3

    db = home / "airflow" / "airflow.db"
    with contextlib.closing(sqlite3.connect(db)) as conn:
        before = {r[0] for r in conn.execute("select run_id from dag_run where dag_id = ?",
                                             (dag_id,))}
    out = home / f"{dag_id}-executor-run.log"
    with open(out, "wb") as handle:
        proc = subprocess.Popen(
            [str(BIN / "airflow"), "dags", "test", dag_id, "--use-executor", "-c",
             json.dumps(conf)], env=env, stdout=handle, stderr=subprocess.STDOUT,
            start_new_session=True, stdin=subprocess.DEVNULL)
    deadline, ended_at, state = time.monotonic() + timeout, None, None
    try:
        while proc.poll() is None:
            assert time.monotonic() < deadline, \
                f"airflow dags test {dag_id} ran past {timeout} s:\n{out.read_text()[-4000:]}"
            if ended_at is None:
                runs = []  # the database may be locked while Airflow writes: next second
                with contextlib.suppress(sqlite3.OperationalError), \
                        contextlib.closing(sqlite3.connect(db, timeout=5)) as conn:
                    runs = [r for r in conn.execute(
                        "select run_id, state from dag_run where dag_id = ? order by id",
                        (dag_id,)) if r[0] not in before]
                if runs and runs[-1][1] in ("success", "failed"):
                    ended_at, state = time.monotonic(), runs[-1][1]
            elif time.monotonic() > ended_at + grace:
                break
            time.sleep(1)
    finally:
        if proc.poll() is None:
            stop_process_group(proc)
    text = out.read_text(errors="replace")
    if state is None:
        assert proc.returncode == 0, f"airflow dags test {dag_id} failed:\n{text[-4000:]}"
    else:
        assert state == "success", f"the {dag_id} run ended {state}:\n{text[-4000:]}"
    return text
