import pytest

from pipelines.orchestration import fail_fast_on_bad_input, partition_date


@pytest.mark.parametrize("start,end,logical,expected", [
    ("2026-11-19T00:00:00+00:00", "2026-11-20T00:00:00+00:00", "2026-11-20", "2026-11-19"),
    ("", "", "2026-11-20T00:00:00+00:00", "2026-11-19"),
    ("2026-11-20T00:00:00+00:00", "2026-11-20T00:00:00+00:00", "2026-11-20T00:00:00+00:00",
     "2026-11-19"),
    ("", "", "2026-11-22T09:30:00+00:00", "2026-11-21"),
])
def test_partition_date(start, end, logical, expected):
    assert partition_date(start, end, logical) == expected


def test_bad_input_fails_without_retry_and_keeps_the_message():
    from airflow.sdk.exceptions import AirflowFailException

    @fail_fast_on_bad_input
    def task() -> None:
        raise ValueError("params.yaml: 'x' must be 1; got 2.")

    with pytest.raises(AirflowFailException, match="ValueError: params.yaml: 'x' must be 1"):
        task()


def test_other_errors_keep_airflow_retries():
    @fail_fast_on_bad_input
    def task() -> None:
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        task()


def test_an_asset_triggered_run_trains_on_the_validated_store(tmp_path, project_root,
                                                              monkeypatch):
    from pipelines.orchestration import (
        collect_day_task,
        training_stage_task,
        validate_day_task,
    )

    monkeypatch.setenv("ENGAGEFLOW_STATE", str(tmp_path / "state"))
    monkeypatch.setenv("ENGAGEFLOW_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    for day in ("2026-11-01", "2026-11-02"):
        collect_day_task(project_dir=str(project_root), run_id=f"c-{day}",
                         form_params={"collect_daily.demo_rows": 150}, logical_date=day)
        validate_day_task(project_dir=str(project_root), run_id=f"c-{day}",
                          form_params={}, logical_date=day, as_of="2026-11-03T00:00:00Z")
    result = training_stage_task(stage="collect", project_dir=str(project_root), run_id="t-1",
                                 form_params={"collect.source": "demo"},
                                 as_of="2026-11-03T00:00:00Z", asset_triggered=True)
    assert (result["source"], result["rows_accepted"]) == ("validated store", 300)
    # nothing is validated twice: the store's days passed the contract when published
    again = training_stage_task(stage="validate", project_dir=str(project_root), run_id="t-1",
                                form_params={}, as_of="2026-11-03T00:00:00Z",
                                asset_triggered=True)
    assert "skipped" in again


def test_task_logging_turns_library_stderr_into_info_lines(caplog, monkeypatch):
    """What MLflow prints to stderr reaches the task log at INFO, a progress bar as its
    last state, and the pipelines loggers log at INFO."""
    import logging
    import sys

    from pipelines.orchestration import task_logging

    for name in ("TQDM_DISABLE", "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"):
        monkeypatch.delenv(name, raising=False)  # restored after the test: tasks set them

    @task_logging
    def stage() -> str:
        print("Created version '2' of model 'm'.", file=sys.stderr)
        sys.stderr.write("\rDownloading:  50%\rDownloading: 100%\n")
        logging.getLogger("pipelines.pipeline").info("validate [likes]: rows_accepted 870")
        return "done"

    with caplog.at_level(logging.INFO):
        assert stage() == "done"
    lines = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert ("INFO", "Created version '2' of model 'm'.") in lines
    assert ("INFO", "Downloading: 100%") in lines
    assert ("INFO", "validate [likes]: rows_accepted 870") in lines
    assert not [m for level, m in lines if level == "ERROR"]
