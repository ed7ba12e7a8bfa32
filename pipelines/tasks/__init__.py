"""The prediction tasks EngageFlow runs, by name (``train.task``).

Adding a task is one module implementing :class:`pipelines.tasks.base.Task` and one entry
in :data:`TASKS`. Entries name the object as ``module:attribute`` so reading the list
imports nothing heavy (DAG files read :data:`TASK_NAMES` at parse time).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pipelines.tasks.base import Task

TASKS: dict[str, str] = {
    "likes": "pipelines.tasks.post_counts:LIKES",
    "comments": "pipelines.tasks.post_counts:COMMENTS",
    "shares": "pipelines.tasks.post_counts:SHARES",
    "follower_growth": "pipelines.tasks.follower_growth:FOLLOWER_GROWTH",
    "conversion": "pipelines.tasks.conversion:CONVERSION",
    "account_churn": "pipelines.tasks.churn:ACCOUNT_CHURN",
    "player_retention": "pipelines.tasks.retention:PLAYER_RETENTION",
    "click_through": "pipelines.tasks.click_through:CLICK_THROUGH",
    "article_points": "pipelines.tasks.article_counts:ARTICLE_POINTS",
    "article_comments": "pipelines.tasks.article_counts:ARTICLE_COMMENTS",
    "news_shares": "pipelines.tasks.news_shares:NEWS_SHARES",
    "feedback_sentiment": "pipelines.tasks.feedback:FEEDBACK_SENTIMENT",
}

TASK_NAMES: tuple[str, ...] = tuple(TASKS)


def get_task(name: str) -> Task:
    """The task called ``name``.

    Raises:
        ValueError: for a name not in :data:`TASKS`.
    """
    if name not in TASKS:
        raise ValueError(f"get_task: 'train.task' must be one of {list(TASKS)}; "
                         f"got {name!r}.")
    module, _, attribute = TASKS[name].partition(":")
    return getattr(import_module(module), attribute)
