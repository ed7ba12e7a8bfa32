"""``instagram_graph``: Instagram Graph API media objects (JSON, JSONL or Parquet).

The post shape is described in :mod:`pipelines.collect.formats.graph_post`. Instagram
specifics: the caption is ``caption``; the account is ``account_id``, else ``username``;
``media_type`` IMAGE/VIDEO/REELS/CAROUSEL_ALBUM → image/video/video/carousel. Media objects
are the account's own posts (Instagram has no reply or repost media), so post_kind is
``original``.
"""

from __future__ import annotations

from pathlib import Path

from pipelines.collect.formats.containers import Loaded
from pipelines.collect.formats.graph_post import GraphLayout, map_graph_posts
from pipelines.collect.formats.spec import FileFormat, Mapped

_LAYOUT = GraphLayout(
    platform="instagram",
    caption_keys=("caption",),
    account_keys=("account_id", "username"),
    media_types={
        "IMAGE": "image", "VIDEO": "video", "REELS": "video", "CAROUSEL_ALBUM": "carousel",
    },
    post_kind=lambda post, caption: "original",
)


def _map(loaded: Loaded, path: Path) -> Mapped:
    return map_graph_posts(loaded, _LAYOUT)


FORMAT = FileFormat(
    name="instagram_graph",
    help="Instagram Graph API media objects with engagement_metrics (JSON, JSONL, Parquet).",
    map=_map,
    nested=True,
)
