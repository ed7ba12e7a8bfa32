"""The weekly drift check of the feedback_sentiment task, end to end: a real champion
(VADER family) registered with its reference, then the check and the report in one go
through `pipelines.monitor.tasks.check` (the CLI's path) with the real MiniLM embeddings. The text
descriptors join the per-column verdict; the summary, the log and the HTML say what was
computed. Slow (a registration, langdetect, MiniLM): marked integration."""

from __future__ import annotations

import json
import logging

import pandas as pd
import pytest

from tests.conftest import PROJECT_ROOT, settings_for_test, tracking_uri_env

pytestmark = pytest.mark.integration

BASE = {"train.task": "feedback_sentiment", "feedback_sentiment.demo_rows": 800,
        "feedback_sentiment.text_backend": "torch", "register.experiment": "feedback-test",
        "train.models": ["vader"], "monitor.min_rows": 50, "monitor.min_outcomes": 50,
        "monitor.text_rows": 150, "monitor.embedding_permutations": 50,
        "monitor.window_days": 366}


@pytest.fixture(scope="module")
def registered(tmp_path_factory):
    from pipelines.paths import ProjectPaths
    from pipelines.registry.audit import move_alias
    from pipelines.registry.register import run_register
    from pipelines.tasks import get_task

    root = tmp_path_factory.mktemp("feedback")
    task = get_task("feedback_sentiment")
    paths = ProjectPaths(root=PROJECT_ROOT, state=root / ".engageflow", data=root / "data")
    settings = settings_for_test(BASE)
    task.collect(paths, settings)
    task.validate(paths, settings, as_of=pd.Timestamp("2030-01-01", tz="UTC"), reports=False)
    task.features(paths, settings)
    with tracking_uri_env(paths.tracking_uri):
        task.train(paths, settings)
        task.evaluate(paths, settings)
        record = run_register(task, paths, settings, run_key="feedback-vader")
        move_alias(record["model_name"], "champion", record["version"], actor="test",
                   reason="the monitored model")
    return task, paths, settings


def _check(registered, rows, run_key):
    from pipelines.monitor.tasks import check

    task, paths, settings = registered
    newest = pd.to_datetime(rows[task.input.time_column], utc=True).max()
    return check(paths, settings, run_key=run_key, rows=rows,
                 logical=(newest + pd.Timedelta(days=1)).isoformat(), report=True)


def test_the_feedback_check_judges_text_descriptors_and_embeddings(registered, caplog):
    task, paths, _ = registered
    rows = pd.read_parquet(paths.validated(task.input.entity))
    shifted = rows.copy()
    shifted["text"] = shifted["text"].astype(str) + (" " + shifted["text"].astype(str)) * 3
    with caplog.at_level(logging.INFO, logger="pipelines.monitor"):
        decision = _check(registered, shifted, "feedback-long")
    summary = json.loads(open(decision["summary"]).read())
    text = summary["drift"]["text"]
    assert {"text_length", "text_word_count"} <= set(text["drifted_descriptors"])
    assert "text" not in summary["drift"]["columns"]          # judged by its descriptors
    assert summary["drift"]["columns"]["text_length"]["drifted"] is True
    assert text["embedding"]["rows"] == {"reference": 150, "current": 150}
    assert "en" in text["languages"]["current"]
    assert any("text drift of 'text'" in r.getMessage() for r in caplog.records)
    page = open(decision["report"], encoding="utf-8").read()
    assert 'id="text-drift"' in page and 'id="estimated-performance"' in page
