"""``linkedin_share``: LinkedIn share/post objects (JSON, JSONL or Parquet).

The post shape is described in :mod:`pipelines.collect.formats.graph_post`. LinkedIn
specifics: the caption is ``text``, else ``commentary``; the account is ``account_id``, else
``author``; ``media_type`` IMAGE → image, VIDEO → video, CAROUSEL/DOCUMENT/MULTI_IMAGE →
carousel, ARTICLE/LINK/URL → link, NONE/TEXT → text. Business fields (``clicks``,
``engagement_rate`` inside ``engagement_metrics``, ``company_size``, ``industry``) go to
``extra``.
"""

from __future__ import annotations

from pathlib import Path

from pipelines.collect.formats.containers import Loaded
from pipelines.collect.formats.graph_post import GraphLayout, map_graph_posts
from pipelines.collect.formats.spec import FileFormat, Mapped

_LAYOUT = GraphLayout(
    platform="linkedin",
    caption_keys=("text", "commentary"),
    account_keys=("account_id", "author"),
    media_types={
        "IMAGE": "image", "VIDEO": "video", "CAROUSEL": "carousel", "DOCUMENT": "carousel",
        "MULTI_IMAGE": "carousel", "ARTICLE": "link", "LINK": "link", "URL": "link",
        "NONE": "text", "TEXT": "text",
    },
)


def _map(loaded: Loaded, path: Path) -> Mapped:
    return map_graph_posts(loaded, _LAYOUT)


FORMAT = FileFormat(
    name="linkedin_share",
    help="LinkedIn share objects with engagement_metrics (JSON, JSONL, Parquet).",
    map=_map,
    nested=True,
)
