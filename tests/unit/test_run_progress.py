"""`make run`'s progress lines, read from the log lines `airflow dags test` writes."""

from __future__ import annotations

import io
import subprocess

from pipelines.run_progress import RunProgress, follow

T = "2026-12-02T12:11:{:06.3f}Z [info     ] "
LOG = [
    T.format(15.0) + "[DAG TEST] starting task_id=collect map_index=-1 [airflow.sdk]",
    T.format(15.1) + "Task instance state updated  rows_affected=1 ti_id=1",
    T.format(20.0) + 'collect [likes]: {"raw": "/r/01_raw/posts.parquet", "records_read": 4000, '
                     '"posts": 4000, "rejected": 0, "source": "demo"} [pipelines.pipeline]',
    T.format(20.3) + "Task instance state updated  new_state=success rows_affected=1",
    T.format(20.4) + "[DAG TEST] end task task_id=collect map_index=-1 [airflow.sdk]",
    T.format(20.5) + "[DAG TEST] starting task_id=train map_index=-1 [airflow.sdk]",
    T.format(29.0) + 'train [likes]: {"models": "/r/04_models", "candidates": ["ridge", '
                     '"lightgbm"]} [pipelines.pipeline]',
    T.format(29.5) + "[DAG TEST] end task task_id=train map_index=-1 [airflow.sdk]",
    T.format(30.0) + "[DAG TEST] starting task_id=validate map_index=-1 [airflow.sdk]",
    T.format(31.0) + 'validate [likes]: data /r [pipelines.pipeline]',
    T.format(34.0) + "Task instance state updated  new_state=failed rows_affected=1",
    T.format(34.5) + "[DAG TEST] end task task_id=validate map_index=-1 [airflow.sdk]",
]


def test_each_task_gets_its_state_seconds_and_counts():
    progress = RunProgress()
    said = [text for line in LOG if (text := progress.read(line)) is not None]
    assert said == [
        "[1] collect              ...", "success 5.4 s: 4000 posts",
        "[2] train                ...", "ended 9.0 s: candidates ridge, lightgbm",
        "[3] validate             ...", "failed 4.5 s",
    ]
    assert progress.done == 3 and progress.current is None


def test_follow_reads_to_the_end_and_says_when_a_task_never_ended(tmp_path):
    log = tmp_path / "last-run.log"
    log.write_text("\n".join(LOG[:7]) + "\n")
    finished = subprocess.Popen(["true"])
    finished.wait()
    out = io.StringIO()
    assert follow(log, finished.pid, out=out, poll_seconds=0.01) == 1
    assert out.getvalue().splitlines() == [
        "[1] collect              ... success 5.4 s: 4000 posts",
        "[2] train                ... stopped"]
