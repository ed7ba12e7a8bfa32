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
