"""The task registry: every listed task loads, declares what the platform needs, and its
literal lists agree with the modules that implement them."""

import pytest

from pipelines.tasks import TASK_NAMES, TASKS, get_task
from pipelines.tasks.base import Task


@pytest.mark.parametrize("name", TASK_NAMES)
def test_every_listed_task_loads_and_declares_the_platform_hooks(name):
    task = get_task(name)
    assert isinstance(task, Task)
    assert task.name == name
    assert task.input.entity and task.input.key and task.input.time_column
    assert task.target and task.table and task.table_time_column
    assert task.problem in ("count_regression", "growth_regression", "binary", "multiclass")
    assert task.gate.primary and task.gate.baseline
    assert set(task.default_models) <= set(task.families)
    assert task.selection_metric in task.metric_columns()


def test_an_unknown_task_is_refused_with_the_allowed_names():
    with pytest.raises(ValueError, match="'train.task' must be one of .*'likes'.*got 'clicks'"):
        get_task("clicks")


def test_the_registry_names_modules_without_importing_them():
    assert all(":" in entry and entry.startswith("pipelines.tasks.") for entry in TASKS.values())


def test_post_task_families_are_the_model_zoo():
    from pipelines.tasks.post_counts import POST_MODELS
    from pipelines.train.model_zoo import MODEL_NAMES

    assert set(POST_MODELS) == set(MODEL_NAMES)


def test_growth_task_families_are_the_growth_models():
    from pipelines.tasks.follower_growth import GROWTH_MODELS
    from pipelines.train.follower_growth_training import GROWTH_MODELS as TRAINED

    assert GROWTH_MODELS == TRAINED


def test_the_count_tasks_differ_only_in_their_target():
    likes, comments = get_task("likes"), get_task("comments")
    assert (likes.target, comments.target) == ("likes", "comments")
    assert likes.table == comments.table == "posts"
    assert likes.gate == comments.gate
