"""The distributed topology without Docker, for real: what `make stack-up` starts.

PostgreSQL and Redis from the Debian packages (installed when missing), Airflow with the
CeleryExecutor on a PostgreSQL metadata DB (api-server, scheduler, dag-processor, one Celery
worker), the MLflow server on PostgreSQL. engagement_training is triggered over the Airflow
REST API and its model must land in the MLflow server's registry as @champion.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from airflow_rest import AirflowRest

from pipelines.deploy.local_stack import Ports, Stack, _group_alive, start_stack, stop_stack
from pipelines.deploy.os_packages import MissingPackageError

pytestmark = [pytest.mark.integration, pytest.mark.stack, pytest.mark.timeout(1200)]

DAG_ID = "engagement_training"
# enough posts that the first model can show it beats the naive baseline (the gate)
CONF = {"collect.demo_rows": 3000, "train.models": ["ridge"], "collect.seed": 11}


def _logs(stack: Stack, names: tuple[str, ...], lines: int = 25) -> str:
    out = []
    for name in names:
        log = stack.home / "logs" / f"{name}.log"
        text = log.read_text(errors="replace").splitlines()[-lines:] if log.exists() else []
        out.append(f"--- {log}:\n" + "\n".join(text))
    return "\n".join(out)


@pytest.fixture(scope="module")
def stack(tmp_path_factory, project_root):
    home = tmp_path_factory.mktemp("stack")
    started = time.monotonic()
    try:
        running = start_stack(home, root=project_root, ports=Ports(*[0] * 7), serving=False)
    except MissingPackageError as error:
        if os.environ.get("CI") == "true":
            raise  # CI must run the real thing: a missing package is a failure there
        pytest.skip(f"the local stack needs OS packages that cannot be installed: {error}")
    print(f"stack up in {time.monotonic() - started:.0f} s")
    yield running
    stop_stack(home)


@pytest.fixture(scope="module")
def finished_run(stack):
    api = AirflowRest(stack.urls["Airflow UI"], "admin", stack.admin_password)
    api.wait_for_dag(DAG_ID)
    api.unpause(DAG_ID)
    run_id = api.trigger(DAG_ID, CONF)
    run = api.wait_for_run(DAG_ID, run_id, timeout=600)
    assert run["state"] == "success", (
        f"{DAG_ID} run {run_id} ended {run['state']!r} on the Celery stack: "
        f"{api.run_summary(DAG_ID, run_id)}\n"
        + _logs(stack, ("airflow-celery-worker", "airflow-scheduler", "mlflow")))
    return api, run_id


def test_dag_runs_on_the_celery_worker_with_postgres_metadata(stack, finished_run):
    import sqlalchemy as sa

    api, run_id = finished_run
    tasks = api.task_instances(DAG_ID, run_id)
    expected = {"collect", "validate", "features", "train", "evaluate", "refit", "register",
                "promote", "segments"}
    assert {t["task_id"] for t in tasks} == expected
    assert all(t["state"] == "success" and t["queue"] == "default" for t in tasks)
    url = stack.env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    assert url.startswith("postgresql+psycopg2://")
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            runs = conn.execute(sa.text("SELECT state FROM dag_run WHERE dag_id = :d AND "
                                        "run_id = :r"), {"d": DAG_ID, "r": run_id}).all()
        # the Celery result backend (db+postgresql) records each task the worker ran; the
        # last result may land a moment after the scheduler marks the run done
        deadline = time.monotonic() + 60
        while True:
            with engine.connect() as conn:
                celery_done = conn.execute(sa.text(
                    "SELECT count(*) FROM celery_taskmeta WHERE status = 'SUCCESS'")).scalar()
            if celery_done >= len(expected) or time.monotonic() > deadline:
                break
            time.sleep(2)
    finally:
        engine.dispose()
    assert runs == [("success",)]
    assert celery_done >= len(expected), \
        f"the Celery result backend saw {celery_done} tasks, not {len(expected)}"


def test_model_is_champion_in_the_mlflow_server_registry(stack, finished_run):
    import mlflow
    from mlflow import MlflowClient

    from pipelines.collect.demo_data import generate_posts
    from pipelines.features.model_input import model_input

    server = stack.urls["MLflow UI"]
    client = MlflowClient(tracking_uri=server, registry_uri=server)
    champion = client.get_model_version_by_alias("engagement-likes", "champion")
    assert champion.version == "1"
    run = client.get_run(champion.run_id)
    assert run.data.tags["engageflow.candidate"] == "ridge"
    # artifacts went through the server's proxy into its artifact folder, not a local path
    assert client.get_experiment(run.info.experiment_id).artifact_location.startswith(
        "mlflow-artifacts:")
    stored = list((stack.home / "mlartifacts").rglob("MLmodel"))
    assert stored, f"no MLmodel under the server's artifact folder {stack.home / 'mlartifacts'}"
    before = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
    mlflow.set_tracking_uri(server)
    mlflow.set_registry_uri(server)
    try:
        model = mlflow.pyfunc.load_model("models:/engagement-likes@champion")
    finally:  # the process-wide URIs must not outlive the stack (later tests)
        mlflow.set_tracking_uri(before[0])
        mlflow.set_registry_uri(before[1])
    predictions = model.predict(model_input(generate_posts(4, 2, seed=3)))
    assert len(predictions) == 4 and (predictions >= 0).all()


def test_stack_down_stops_every_service(stack, finished_run):
    pids = [s["pid"] for s in stack.services if s["pid"]]
    assert len(pids) >= 7, f"expected 7 services, recorded {stack.services}"
    stopped = stop_stack(stack.home)
    assert set(stopped) == {"postgres", "redis", "mlflow", "airflow-api-server",
                            "airflow-scheduler", "airflow-dag-processor",
                            "airflow-celery-worker"}
    assert not [p for p in pids if _group_alive(p)]
    assert Stack.load(stack.home).services == []
    assert not Path(f"/tmp/engageflow-pg-{stack.ports.postgres}").exists()
