"""fail_stale_runs refuses bad arguments before it touches Airflow."""

from __future__ import annotations

from datetime import timedelta

import pytest

from pipelines.deploy.stale_runs import fail_stale_runs


def test_no_dag_ids_is_refused():
    with pytest.raises(ValueError, match="'dag_ids' must be a non-empty list"):
        fail_stale_runs([], older_than=timedelta(0))


def test_a_bare_string_is_not_a_list_of_dag_ids():
    with pytest.raises(ValueError, match="'dag_ids'.*got 'engagement_training'"):
        fail_stale_runs("engagement_training", older_than=timedelta(0))


def test_a_negative_age_is_refused():
    with pytest.raises(ValueError, match="'older_than' must be >= 0"):
        fail_stale_runs(["engagement_training"], older_than=timedelta(seconds=-1))
