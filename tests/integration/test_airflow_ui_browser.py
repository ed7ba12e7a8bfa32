"""The faces of the product in a real browser, as a newcomer walks them: headless Chromium
(Debian's chromium + chromium-driver, driven by Selenium) logs in to `airflow standalone`,
triggers engagement_training through the trigger form with one Param changed and watches
the run succeed, triggers every other DAG with its form's defaults, opens a task log and
reads the counts there, opens the model version's card in the MLflow UI and the
prediction API's offline `/docs`.

Screenshots of the form, the finished run, the task log, the model card and `/docs` go to
the test's temporary folder, or, with ``ENGAGEFLOW_SCREENSHOTS=docs/images``, to the folder
named (how docs/images/ is refreshed): a test run never rewrites tracked files.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
import yaml
from airflow_helpers import airflow_env, stop_process_group
from airflow_rest import AirflowRest

from pipelines.deploy.local_stack import free_port
from pipelines.deploy.os_packages import MissingPackageError, ensure_debian_packages

pytestmark = [pytest.mark.integration, pytest.mark.browser, pytest.mark.timeout(1200)]

BIN = Path(sys.executable).parent
DAG_ID = "engagement_training"
PASSWORD = "ui-test-password"
DEMO_ROWS = 700          # the Param the test changes in the form (default 4000)
MODEL = "engagement-likes"
CHROMIUM_FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                  "--window-size=1400,1000"]


def _require(packages: list[str]) -> None:
    try:
        ensure_debian_packages(packages, "the Airflow UI browser test")
    except MissingPackageError as error:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(str(error))


@pytest.fixture(scope="module")
def standalone(tmp_path_factory, project_root, migrated_mlflow_db):
    """`airflow standalone` on 127.0.0.1 (own process group, stopped with SIGINT).

    The project copy keeps only ridge and 2 CV folds so the run takes seconds; the DAG files
    are the project's own.
    """
    _require(["chromium", "chromium-driver"])
    home = tmp_path_factory.mktemp("ui")
    project = home / "project"
    project.mkdir()
    params = yaml.safe_load((project_root / "params.yaml").read_text())
    params["train"].update(models=["ridge"], cv_folds=2)
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    (project / "expectations").symlink_to(project_root / "expectations")
    port = free_port()
    env = airflow_env(project_root, home)
    env.update({
        "ENGAGEFLOW_HOME": str(project),
        "PATH": f"{BIN}{os.pathsep}{env['PATH']}",
        "AIRFLOW__CORE__PARALLELISM": "2",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
    })
    (home / "state").mkdir()
    shutil.copyfile(migrated_mlflow_db, home / "state" / "mlflow.db")  # no task migrates it
    (home / "airflow" / "simple_auth_manager_passwords.json.generated").write_text(
        json.dumps({"admin": PASSWORD}))
    log = home / "standalone.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([str(BIN / "airflow"), "standalone"], env=env, stdout=out,
                                stderr=subprocess.STDOUT, cwd=home, start_new_session=True,
                                stdin=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while True:
            assert proc.poll() is None, f"airflow standalone exited:\n{log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"no Airflow UI at {base} after 300 s"
            try:
                if httpx.get(f"{base}/api/v2/monitor/health", timeout=3).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(2)
        api = AirflowRest(base, "admin", PASSWORD)
        api.wait_for_dag(DAG_ID, timeout=240)
        yield base, api, home
    finally:
        # standalone stops its children only on SIGINT, and rarely exits on its own within a
        # minute; the test's state is in tmp_path, so a short grace then SIGKILL is enough
        stop_process_group(proc, signal.SIGINT, grace=3)


@pytest.fixture(scope="module")
def browser(standalone, tmp_path_factory):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in [*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path_factory.mktemp('chromium')}"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver"))
    driver.implicitly_wait(0)
    yield driver
    driver.quit()


def _wait_for(driver, find, what: str, timeout: float = 60):
    """Poll ``find(driver)`` until it returns something truthy."""
    from selenium.common.exceptions import WebDriverException

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            found = find(driver)
            if found:
                return found
        except WebDriverException:
            pass
        time.sleep(0.5)
    raise AssertionError(f"the Airflow UI never showed {what} (at {driver.current_url})")


@pytest.fixture(scope="module")
def mlflow_ui(standalone):
    """The MLflow UI over the store the Airflow tasks write, started with the module: its
    start-up (tens of seconds) runs beside the DAG run; the test waits for its health only
    when it opens the model card. Yields (URL, wait-until-healthy)."""
    _, _, home = standalone
    env = standalone_env(home)
    url = f"http://127.0.0.1:{free_port()}"
    with _servers(home, env, {url: [
            str(BIN / "mlflow"), "ui", "--backend-store-uri", env["MLFLOW_TRACKING_URI"],
            "--host", "127.0.0.1", "--port", str(urlsplit(url).port), "-w", "1"]}) as healthy:
        yield url, healthy


def test_trigger_from_the_ui_form_and_see_the_run_succeed(standalone, browser, mlflow_ui,
                                                          project_root, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    base, api, home = standalone
    images = (project_root / os.environ["ENGAGEFLOW_SCREENSHOTS"]
              if os.environ.get("ENGAGEFLOW_SCREENSHOTS") else tmp_path / "screenshots")
    images.mkdir(parents=True, exist_ok=True)

    browser.get(f"{base}/")
    _wait_for(browser, lambda d: d.find_elements(By.NAME, "username"), "the login form")
    browser.find_element(By.NAME, "username").send_keys("admin")
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    _wait_for(browser, lambda d: [b for b in d.find_elements(By.TAG_NAME, "button")
                                  if b.text == "Sign in"], "a Sign in button")[0].click()
    _wait_for(browser, lambda d: "/auth/login" not in d.current_url, "the page after login")

    browser.get(f"{base}/dags/{DAG_ID}")
    trigger = _wait_for(browser, lambda d: d.find_elements(
        By.CSS_SELECTOR, "button[aria-label='Trigger Dag']"), "the Trigger button")
    trigger[0].click()
    rows = _wait_for(browser, lambda d: [e for e in d.find_elements(
        By.NAME, "element_collect.demo_rows") if e.is_displayed()], "the Demo rows field")[0]
    dialog = browser.find_element(By.XPATH, "//*[@role='dialog' and .//*[@name="
                                  "'element_collect.demo_rows']]")
    assert "Demo rows" in dialog.text and "Posts to generate" in dialog.text  # title, help
    assert rows.get_attribute("value") == "4000"
    rows.send_keys(Keys.CONTROL, "a")
    rows.send_keys(str(DEMO_ROWS))
    assert rows.get_attribute("value") == str(DEMO_ROWS)
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", rows)
    time.sleep(0.5)
    _screenshot(browser, images / "trigger-form.png")
    submit = [b for b in dialog.find_elements(By.TAG_NAME, "button") if b.text == "Trigger"]
    assert submit and submit[0].is_enabled(), "the form's Trigger button is disabled"
    submit[0].click()

    runs = _wait_for(browser, lambda d: api.client.get(f"/dags/{DAG_ID}/dagRuns").json()[
        "dag_runs"], "a new DAG run (REST)", timeout=60)
    assert len(runs) == 1 and runs[0]["run_type"] == "manual"
    run_id = runs[0]["dag_run_id"]
    assert runs[0]["conf"]["collect.demo_rows"] == DEMO_ROWS, runs[0]["conf"]
    run = api.wait_for_run(DAG_ID, run_id, timeout=600)
    assert run["state"] == "success", f"run {run_id}: {api.run_summary(DAG_ID, run_id)}"

    browser.get(f"{base}/dags/{DAG_ID}/runs/{run_id}")
    _wait_for(browser, lambda d: "register" in d.page_source and "Success" in d.find_element(
        By.TAG_NAME, "body").text, "the finished run with state Success")
    time.sleep(1)
    _screenshot(browser, images / "finished-run.png")
    validation = next((home / "state" / "runs").glob("*/02_validated/validation.json"))
    assert json.loads(validation.read_text())["rows_in"] == DEMO_ROWS

    mlflow_url, mlflow_healthy = mlflow_ui
    api_url = f"http://127.0.0.1:{free_port()}"
    with _servers(home, standalone_env(home), {api_url: [
            str(BIN / "engageflow"), "serve", "--port", str(urlsplit(api_url).port)]}
                  ) as serving_healthy:
        mlflow_healthy()
        serving_healthy()
        _task_log_shows_the_counts(browser, base, run_id, images)
        outcomes = _every_other_dag_triggers_with_its_defaults(browser, base, api)
        _model_card_in_mlflow(browser, mlflow_url, images)
        _offline_api_docs(browser, api_url, images)
    # after the other checks, so that one blocked form does not hide what else is wrong
    blocked = sorted(dag_id for dag_id, outcome in outcomes.items() if outcome == "blocked")
    assert not blocked, f"Trigger stays disabled with the form's defaults: {blocked}"


def standalone_env(home: Path) -> dict[str, str]:
    """The environment the Airflow tasks ran with (their MLflow store and data folders)."""
    return {**{k: v for k, v in os.environ.items()
               if not k.startswith(("AIRFLOW", "ENGAGEFLOW", "MLFLOW"))},
            "ENGAGEFLOW_HOME": str(home / "project"), "ENGAGEFLOW_STATE": str(home / "state"),
            "ENGAGEFLOW_DATA": str(home / "data"), "HF_HUB_OFFLINE": "1",
            "MLFLOW_TRACKING_URI": f"sqlite:///{home}/state/mlflow.db"}


@contextlib.contextmanager
def _servers(home: Path, env: dict[str, str], commands: dict[str, list[str]]):
    """Start each command (``url -> argv``, each in its own process group, stopped on exit)
    and yield a function that waits until every one answers ``url/health``: a server's
    start-up runs while the caller does other work."""
    procs = []

    def healthy() -> None:
        for url, log, proc in procs:
            deadline = time.monotonic() + 120
            while True:
                assert proc.poll() is None, \
                    f"{url} exited:\n{Path(log.name).read_text()[-3000:]}"
                assert time.monotonic() < deadline, f"nothing answered at {url} after 120 s"
                try:
                    if httpx.get(f"{url}/health", timeout=3).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(1)

    try:
        for url, command in commands.items():
            name = urlsplit(url).port
            log = open(home / f"server-{name}.log", "wb")  # noqa: SIM115 (kept open)
            procs.append((url, log, subprocess.Popen(
                command, env={**env, "ENGAGEFLOW_API_KEYS": "browser-test-key"}, stdout=log,
                stderr=subprocess.STDOUT, cwd=home, start_new_session=True,
                stdin=subprocess.DEVNULL)))
        yield healthy
    finally:
        for _, log, proc in procs:
            stop_process_group(proc, grace=3)  # tmp_path state: SIGKILL soon
            log.close()


def _screenshot(browser, path: Path) -> None:
    """Save the window as a 256-colour PNG (a fraction of the size, as legible)."""
    from PIL import Image

    browser.save_screenshot(str(path))
    with Image.open(path) as shot:
        shot.convert("RGB").quantize(colors=256).save(path, optimize=True)


def _task_log_shows_the_counts(browser, base: str, run_id: str, images: Path) -> None:
    """validate's log in the UI holds what it read, accepted and quarantined."""
    from selenium.webdriver.common.by import By

    browser.get(f"{base}/dags/{DAG_ID}/runs/{run_id}/tasks/validate")
    body = _wait_for(browser, lambda d: (lambda t: t if "rows_accepted" in t else None)(
        d.find_element(By.TAG_NAME, "body").text), "validate's log with its counts")
    assert f'"rows_in": {DEMO_ROWS}' in body and '"rows_quarantined"' in body, body[-2000:]
    time.sleep(0.5)
    _screenshot(browser, images / "task-log.png")


def _every_other_dag_triggers_with_its_defaults(browser, base: str, api: AirflowRest
                                               ) -> dict[str, str]:
    """Open each DAG's form and, where Trigger is enabled with the defaults, submit it
    untouched: the run must appear with the form's defaults as its conf. The DAG stays
    paused (the "unpause on trigger" box is cleared), so the run is queued, not executed,
    which is enough for the form. Returns each DAG's outcome: ``triggered`` or
    ``blocked`` (Trigger disabled with the defaults)."""
    from selenium.webdriver.common.by import By

    dags = [d["dag_id"] for d in api.client.get("/dags").json()["dags"]]
    assert {"engagement_collect", "drift_monitoring", "batch_scoring",
            "champion_challenger"} <= set(dags), dags
    outcomes = {}
    for dag_id in sorted(set(dags) - {DAG_ID}):
        browser.get(f"{base}/dags/{dag_id}")
        _wait_for(browser, lambda d: d.find_elements(
            By.CSS_SELECTOR, "button[aria-label='Trigger Dag']"), f"{dag_id}'s Trigger button"
        )[0].click()
        dialog = _wait_for(browser, lambda d: [e for e in d.find_elements(
            By.XPATH, "//*[@role='dialog']") if "Trigger" in e.text], f"{dag_id}'s form")[0]
        time.sleep(1)  # the form fills in its defaults
        for box in dialog.find_elements(By.XPATH, ".//label[contains(., 'on trigger')]"):
            if box.find_element(By.TAG_NAME, "input").is_selected():
                box.click()                     # leave it paused: no scheduled catch-up
        submit = [b for b in dialog.find_elements(By.TAG_NAME, "button") if b.text == "Trigger"]
        assert submit, f"{dag_id}: no Trigger button in the form"
        if not submit[0].is_enabled():
            outcomes[dag_id] = "blocked"
            browser.find_element(By.TAG_NAME, "body").send_keys("\ue00c")  # Escape
            continue
        submit[0].click()
        runs = _wait_for(browser, lambda d, dag_id=dag_id: api.client.get(
            f"/dags/{dag_id}/dagRuns").json()["dag_runs"], f"a run of {dag_id} (REST)",
            timeout=20)
        assert runs[0]["run_type"] == "manual", runs[0]
        assert api.client.get(f"/dags/{dag_id}").json()["is_paused"], f"{dag_id} unpaused"
        outcomes[dag_id] = "triggered"
    return outcomes


def _model_card_in_mlflow(browser, mlflow_url: str, images: Path) -> None:
    """The registered version's page shows its model card (description) and its tags."""
    from selenium.webdriver.common.by import By

    browser.get(f"{mlflow_url}/#/models/{MODEL}/versions/1")
    body = _wait_for(browser, lambda d: (lambda t: t if "Known limits" in t else None)(
        d.find_element(By.TAG_NAME, "body").text), "the model card on the version page")
    assert f"{MODEL} v1" in body and "Promotion gate" in body and "Training data" in body
    assert "engageflow.family" in body, "the version's tags are not shown"
    time.sleep(1)
    _screenshot(browser, images / "model-card.png")


def _offline_api_docs(browser, api_url: str, images: Path) -> None:
    """`/docs` renders Swagger UI from the app's own assets (no CDN) with the routes."""
    from selenium.webdriver.common.by import By

    browser.get(f"{api_url}/docs")
    body = _wait_for(browser, lambda d: (lambda t: t if "/predict" in t else None)(
        d.find_element(By.TAG_NAME, "body").text), "Swagger UI with the /predict route")
    assert "POST" in body
    scripts = [e.get_attribute("src") for e in browser.find_elements(By.TAG_NAME, "script")]
    assert all(src.startswith(api_url) for src in scripts if src), scripts
    time.sleep(0.5)
    _screenshot(browser, images / "api-docs.png")
