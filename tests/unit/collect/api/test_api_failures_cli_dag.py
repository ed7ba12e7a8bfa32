"""Expected API failures end cleanly in the CLI and the collection DAG's task (issue 14).

The real client, collector and stage code run against a local server speaking the X API
v2: a 401, 429 and 5xx until the retries are spent, a malformed page and a redirect each end
with the clear, redacted message, a non-zero exit, no traceback, the watermark unchanged
and nothing written to the raw layer.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from pipelines.cli import main
from pipelines.collect import raw_store, watermarks
from pipelines.orchestration import collect_day_task

USER = "42"
PATH = f"/2/users/{USER}/tweets"
DAY = "2026-06-02"
MARK = pd.Timestamp("2026-06-01T08:00:00Z")
NOW = "Retry-After", "0"   # retried at once: the tests do not sleep

FAILURES = {
    "unauthorized_401": (lambda api: api.step(401, {"title": "Unauthorized"}),
                         ["HTTP 401", "ENGAGEFLOW_X_BEARER_TOKEN"]),
    "rate_limited_429_exhausted": (
        lambda api: api.step(429, {"title": "Too Many Requests"}, headers=dict([NOW])),
        ["failed after 6 attempt(s)", "HTTP 429"]),
    "server_error_5xx_exhausted": (
        lambda api: api.step(503, {"title": "Service Unavailable"}, headers=dict([NOW])),
        ["failed after 6 attempt(s)", "HTTP 503"]),
    "malformed_page_not_json": (lambda api: api.step(200, text="<html>maintenance</html>"),
                                ["HTTP 200 but the body is not valid JSON"]),
    "malformed_page_shape": (lambda api: api.step(200, {"data": "oops", "meta": []}),
                             ["page 1 of GET", "must hold a 'meta' object"]),
    "redirect": (lambda api: api.step(302, headers={
        "Location": "http://elsewhere.invalid/2/tweets?access_token=SECRET-TOKEN-abc123xyz"}),
        ["redirected (HTTP 302)", "http://elsewhere.invalid/2/tweets",
         "redirects are not followed"]),
}


@pytest.fixture(autouse=True)
def _logging_left_as_found():
    """``main`` configures logging (quiets urllib3 & co.) for its process; not for others."""
    root = logging.getLogger()
    names = ("great_expectations", "mlflow", "alembic", "urllib3")
    levels = {name: logging.getLogger(name).level for name in names}
    handlers, level = list(root.handlers), root.level
    yield
    for name, saved in levels.items():
        logging.getLogger(name).setLevel(saved)
    root.handlers[:], root.level = handlers, level


@pytest.fixture
def project(tmp_path: Path, fake_api, token: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project folder: params.yaml pointing the x API at the local server, a watermark."""
    root = Path(__file__).resolve().parents[4]
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["collect_daily"].update(sources=["x"], api_accounts={"x": [USER]},
                                   api_base_urls={"x": fake_api.base_url})
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    monkeypatch.setenv("ENGAGEFLOW_X_BEARER_TOKEN", token)
    watermarks.advance_watermark(_db(tmp_path), "x_api_v2", USER, MARK)
    return tmp_path


def _db(project: Path) -> Path:
    from pipelines.paths import project_paths

    return project_paths(project).watermarks


def _assert_nothing_moved(project: Path) -> None:
    assert watermarks.get_watermark(_db(project), "x_api_v2", USER) == MARK
    assert raw_store.raw_files(project / "data") == []


def _cli(project: Path) -> list[str]:
    return ["collect-day", "--date", DAY, "--sources", "x", "--account", f"x:{USER}",
            "--project-dir", str(project)]


@pytest.mark.parametrize("case", list(FAILURES))
def test_cli_prints_the_message_exits_non_zero_keeps_the_watermark(
        case: str, project: Path, fake_api, token: str, capsys: pytest.CaptureFixture) -> None:
    respond, fragments = FAILURES[case]
    fake_api.route(PATH, respond(fake_api))

    code = main(_cli(project))

    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("engageflow collect-day: error: x: ") and err.count("\n") == 1
    for fragment in fragments:
        assert fragment in err, err
    assert "Traceback" not in err and token not in err
    _assert_nothing_moved(project)


@pytest.mark.parametrize("case", list(FAILURES))
def test_dag_task_logs_the_message_and_exits_without_a_traceback(
        case: str, project: Path, fake_api, token: str, caplog: pytest.LogCaptureFixture
) -> None:
    respond, fragments = FAILURES[case]
    fake_api.route(PATH, respond(fake_api))

    with caplog.at_level(logging.INFO), pytest.raises(SystemExit) as exited:
        collect_day_task(project_dir=str(project), run_id="manual__test", form_params={},
                         logical_date=DAY)

    assert exited.value.code == 1
    assert exited.value.__cause__ is None and exited.value.__suppress_context__
    failures = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(failures) == 1 and failures[0].exc_info is None
    message = failures[0].getMessage()
    assert message.startswith(f"engagement_collect {DAY}: collect failed: x: ")
    for fragment in fragments:
        assert fragment in message, message
    assert token not in caplog.text
    _assert_nothing_moved(project)


def test_the_console_script_process_exits_1_with_one_line_and_no_traceback(
        project: Path, fake_api, token: str) -> None:
    fake_api.route(PATH, fake_api.step(401, {"title": "Unauthorized"}))
    root = Path(__file__).resolve().parents[4]
    env = {**os.environ, "PYTHONPATH": str(root)}
    done = subprocess.run([sys.executable, "-m", "pipelines.cli", *_cli(project)],
                          capture_output=True, text=True, env=env, timeout=120, check=False)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr and token not in done.stderr
    errors = [line for line in done.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1 and "HTTP 401" in errors[0], done.stderr
    _assert_nothing_moved(project)
    shutil.rmtree(project / "data", ignore_errors=True)
