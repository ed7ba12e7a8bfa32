"""Killed `airflow dags test` runs: `engageflow fail-stale-runs` fails them in a real
(migrated SQLite) Airflow metadata DB and names them; scheduler-owned runs stay untouched."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys

import pytest

pytestmark = pytest.mark.integration

# Two running runs of the real engagement_training DAG (synced from dags/ as `dags test`
# does), each with its first task instance running: one as a killed `airflow dags test`
# leaves it, one triggered from the UI (a scheduler's to reap). Then fail_stale_runs with a
# 1 h age limit must leave both alone (they started 5 minutes ago).
SEED = """
import json
from datetime import UTC, datetime, timedelta

from airflow.dag_processing.bundles.manager import DagBundlesManager
from airflow.dag_processing.dagbag import BundleDagBag, sync_bag_to_db
from airflow.models.serialized_dag import SerializedDagModel
from airflow.utils.session import create_session
from airflow.utils.state import DagRunState, TaskInstanceState
from airflow.utils.types import DagRunTriggeredByType, DagRunType

from pipelines.deploy.stale_runs import fail_stale_runs

manager = DagBundlesManager()
manager.sync_bundles_to_db()
for bundle in manager.get_all_dag_bundles():
    bundle.initialize()
    sync_bag_to_db(BundleDagBag(dag_folder=bundle.path, bundle_path=bundle.path,
                                bundle_name=bundle.name), bundle.name, bundle.version)
dag = SerializedDagModel.get_dag("engagement_training")
start = datetime.now(UTC) - timedelta(minutes=5)
with create_session() as session:
    for run_id, by in (("manual__killed", DagRunTriggeredByType.TEST),
                       ("manual__from_ui", DagRunTriggeredByType.UI)):
        run = dag.create_dagrun(run_id=run_id, logical_date=None, data_interval=None,
                                run_after=start, conf={}, run_type=DagRunType.MANUAL,
                                triggered_by=by, state=DagRunState.RUNNING, start_date=start,
                                session=session)
        run.get_task_instance("collect", session=session).state = TaskInstanceState.RUNNING
print(json.dumps(len(fail_stale_runs(["engagement_training"], older_than=timedelta(hours=1)))))
"""


def _states(home) -> tuple[dict[str, str], dict[tuple[str, str], str | None]]:
    with sqlite3.connect(home / "airflow" / "airflow.db") as db:
        runs = dict(db.execute("SELECT run_id, state FROM dag_run"))
        tasks = {(r, t): s for r, t, s in
                 db.execute("SELECT run_id, task_id, state FROM task_instance")}
    return runs, tasks


def test_a_killed_dags_test_run_and_its_tasks_are_failed_and_named(airflow_home, project_root):
    home, env = airflow_home
    seeded = subprocess.run([sys.executable, "-c", SEED], env=env, capture_output=True,
                            text=True, timeout=300, cwd=project_root)
    assert seeded.returncode == 0, seeded.stderr[-4000:]
    assert json.loads(seeded.stdout.strip().splitlines()[-1]) == 0, \
        "a run younger than older_than is left alone"
    runs, tasks = _states(home)
    assert runs == {"manual__killed": "running", "manual__from_ui": "running"}

    done = subprocess.run([sys.executable, "-m", "pipelines.cli", "fail-stale-runs",
                           "engagement_training"], env=env, capture_output=True, text=True,
                          timeout=300, cwd=project_root)
    assert done.returncode == 0, done.stderr[-4000:]
    assert "marked failed: engagement_training manual__killed" in done.stdout
    assert "manual__from_ui" not in done.stdout
    log = done.stdout + done.stderr
    assert "marked stale DAG run failed: dag engagement_training, run manual__killed, " \
           "started 20" in log, "the INFO log names the DAG, the run and its start"

    runs, tasks = _states(home)
    assert runs == {"manual__killed": "failed", "manual__from_ui": "running"}
    killed = {t: s for (r, t), s in tasks.items() if r == "manual__killed"}
    assert killed and set(killed.values()) == {"failed"}, killed
    assert tasks[("manual__from_ui", "collect")] == "running"

