"""``linkedin_share``: LinkedIn share/post objects (JSON, JSONL or Parquet).

The post shape is described in :mod:`pipelines.collect.formats.graph_post`. LinkedIn
specifics: the caption is ``text``, else ``commentary``; the account is ``account_id``, else
``author``; ``media_type`` IMAGE → image, VIDEO → video, CAROUSEL/DOCUMENT/MULTI_IMAGE →
carousel, ARTICLE/LINK/URL → link, NONE/TEXT → text. Business fields (``clicks``,
``engagement_rate`` inside ``engagement_metrics``, ``company_size``, ``industry``) go to
``extra``. A ``reshareContext`` object (the Posts API's mark of a reshare; kept in
``extra``) makes the post a ``quote`` when its text has words of its own and a ``share``
when not. Without one post_kind stays null: an export may leave the field out, so its
absence does not prove an original post (the API client, which reads the API itself, does
call those original).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipelines.collect.formats.containers import Loaded
from pipelines.collect.formats.graph_post import GraphLayout, map_graph_posts
from pipelines.collect.formats.nested import obj
from pipelines.collect.formats.spec import FileFormat, Mapped
from pipelines.collect.post_kinds import repost_kind


def _post_kind(post: dict[str, Any], caption: object) -> object:
    """quote/share for a reshare, None (not reported) otherwise; see the module doc."""
    if post.get("reshareContext") is None:
        return None
    obj(post, "reshareContext", "reshareContext")  # a non-object is a shape error
    return repost_kind(True, caption)


_LAYOUT = GraphLayout(
    platform="linkedin",
    caption_keys=("text", "commentary"),
    account_keys=("account_id", "author"),
    media_types={
        "IMAGE": "image", "VIDEO": "video", "CAROUSEL": "carousel", "DOCUMENT": "carousel",
        "MULTI_IMAGE": "carousel", "ARTICLE": "link", "LINK": "link", "URL": "link",
        "NONE": "text", "TEXT": "text",
    },
    post_kind=_post_kind,
)


def _map(loaded: Loaded, path: Path) -> Mapped:
    return map_graph_posts(loaded, _LAYOUT)


FORMAT = FileFormat(
    name="linkedin_share",
    help="LinkedIn share objects with engagement_metrics (JSON, JSONL, Parquet).",
    map=_map,
    nested=True,
)
