"""Finding finished runs' data folders: by task (newest first) and by registered version."""

from __future__ import annotations

import json
import os

from pipelines.paths import ProjectPaths
from pipelines.run_folders import finished_runs, newest_run, run_of_version


def _run(folder, *, task, model, version, mtime):
    (folder / "04_models").mkdir(parents=True)
    (folder / "04_models" / "manifest.json").write_text(json.dumps({"task": task}))
    (folder / "05_reporting").mkdir()
    registration = folder / "05_reporting" / "registration.json"
    registration.write_text(json.dumps({"model_name": model, "version": version}))
    os.utime(registration, (mtime, mtime))


def test_runs_are_found_by_task_and_by_version(tmp_path):
    paths = ProjectPaths(root=tmp_path, state=tmp_path / "state", data=tmp_path / "data")
    runs = paths.state / "runs"
    _run(runs / "b", task="likes", model="engagement-likes", version="1", mtime=1_000)
    _run(runs / "a", task="likes", model="engagement-likes", version="2", mtime=2_000)
    _run(runs / "c", task="conversion", model="engagement-conversion", version="1",
         mtime=3_000)
    (runs / "unfinished" / "02_validated").mkdir(parents=True)   # no registration yet
    _run(paths.data, task="likes", model="engagement-likes", version="3", mtime=500)

    assert [p.name for p in finished_runs(paths)] == ["b", "a", "c"]   # by registration
    assert newest_run(paths, "likes").data == runs / "a"
    assert newest_run(paths, "comments") is None
    assert run_of_version(paths, "engagement-likes", "1").data == runs / "b"
    assert run_of_version(paths, "engagement-likes", "3").data == paths.data   # CLI / dvc
    assert run_of_version(paths, "engagement-likes", "9") is None
    assert run_of_version(paths, "engagement-shares", "1") is None
