"""The feedback task's text, as drift monitoring reads it: built from the settings."""

from __future__ import annotations

from pipelines.paths import ProjectPaths
from pipelines.tasks import get_task
from tests.conftest import settings_for_test


def test_the_text_spec_comes_from_the_feedback_and_monitor_settings(tmp_path):
    settings = settings_for_test({"monitor.text_rows": 123, "monitor.min_mmd": 0.02,
                                  "monitor.embedding_permutations": 77,
                                  "feedback_sentiment.language_min_letters": 10})
    paths = ProjectPaths(root=tmp_path, state=tmp_path / ".engageflow", data=tmp_path / "data")
    spec = get_task("feedback_sentiment").text_drift(paths, settings)
    assert (spec.column, spec.language_column) == ("text", "language")
    assert (spec.rows, spec.permutations, spec.min_mmd) == (123, 77, 0.02)
    languages = spec.languages(["el vuelo fue muy bueno y la tripulación amable", "ok thx",
                                "the flight was great and the crew friendly"])
    assert languages == ["es", "und", "en"]
    great, awful = spec.sentiment(["great flight, thank you", "awful, rude crew"])
    assert great > 0.3 > -0.3 > awful


def test_a_task_without_text_declares_none(tmp_path):
    paths = ProjectPaths(root=tmp_path, state=tmp_path / ".engageflow", data=tmp_path / "data")
    assert get_task("conversion").text_drift(paths, settings_for_test()) is None
