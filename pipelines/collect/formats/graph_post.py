"""The post-object shape that ``instagram_graph`` and ``linkedin_share`` have in common.

JSON post objects (JSON/JSONL/Parquet). ``id`` → post_id; the caption from the layout's
caption keys, absent → empty caption; ``account_id`` (else the layout's fallback key) →
account_id; ``posting_time`` (else ``timestamp``) → posted_at; ``audience_size`` →
followers_at_post_time; ``engagement_metrics{likes, comments, shares, saves, reach,
impressions}`` → the counts (likes/comments/shares required); ``media_type`` →
content_type through the layout's media table; hashtag, mention and URL counts are counted
in the caption; ``media_count`` from ``media_count`` or the length of ``children``;
post_kind as the layout says (its ``post_kind``). Every other field (unknown
``engagement_metrics`` keys included) goes to ``extra``.

Each of the two format modules declares a :class:`GraphLayout` and maps with
:func:`map_graph_posts`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pipelines.collect.formats.containers import Loaded
from pipelines.collect.formats.nested import Shape, nested_mapped, obj
from pipelines.collect.formats.spec import Issue, Mapped

_HASHTAG = re.compile(r"(?<![\w&])#\w+")
_MENTION = re.compile(r"(?<![\w])@\w+")
_URL = re.compile(r"https?://\S+")
_METRICS = ("likes", "comments", "shares", "saves", "reach", "impressions")

_SOURCE_OF = {
    "followers_at_post_time": "audience_size", "content_type": "media_type",
    **{m: f"engagement_metrics.{m}" for m in _METRICS},
}


@dataclass(frozen=True)
class GraphLayout:
    """What differs between the platforms that share this post shape.

    Attributes:
        platform: The canonical platform of every post.
        caption_keys: Caption fields, first present wins (the first when none is).
        account_keys: Account fields, first present wins (the first when none is).
        media_types: upper-case ``media_type`` -> canonical content type; other values pass
            through and are rejected as ``enum_value``.
        post_kind: ``post_kind(post, caption)``: the post's kind, or None where the
            platform's objects do not say; may raise :class:`Shape`.
    """

    platform: str
    caption_keys: tuple[str, ...]
    account_keys: tuple[str, ...]
    media_types: dict[str, str]
    post_kind: Callable[[dict[str, Any], object], object]


def _count_text(caption: object, pattern: re.Pattern[str]) -> int:
    """Occurrences of ``pattern`` in a caption (0 for no caption)."""
    return len(pattern.findall(caption)) if isinstance(caption, str) else 0


def _map_post(post: dict[str, Any], layout: GraphLayout
              ) -> tuple[dict[str, object], dict[str, Any]]:
    """Map one post object; returns (values, extra)."""
    metrics = obj(post, "engagement_metrics", "engagement_metrics")
    caption_key = next((k for k in layout.caption_keys if k in post), layout.caption_keys[0])
    account_key = next((k for k in layout.account_keys if k in post), layout.account_keys[0])
    time_key = "posting_time" if "posting_time" in post or "timestamp" not in post \
        else "timestamp"
    caption = post.get(caption_key)
    caption = "" if caption is None else caption
    media_type = post.get("media_type")
    content = (layout.media_types.get(media_type.strip().upper(), media_type)
               if isinstance(media_type, str) else media_type)
    children = post.get("children")
    if isinstance(children, dict):
        children = children.get("data")
    media_count = post.get("media_count", len(children) if isinstance(children, list) else None)
    values: dict[str, object] = {
        "post_id": post.get("id"), "platform": layout.platform,
        "account_id": post.get(account_key), "posted_at": post.get(time_key),
        "content_type": content, "post_kind": layout.post_kind(post, caption),
        "caption": caption,
        "hashtags_count": _count_text(caption, _HASHTAG),
        "mentions_count": _count_text(caption, _MENTION),
        "urls_count": _count_text(caption, _URL), "media_count": media_count,
        "followers_at_post_time": post.get("audience_size"),
    }
    for name in _METRICS:
        values[name] = metrics.get(name)
    used = {"id", caption_key, account_key, time_key, "media_type", "audience_size",
            "engagement_metrics", "media_count", "children"}
    extra = {k: v for k, v in post.items() if k not in used}
    if isinstance(post.get("children"), dict | list):
        extra["children"] = post["children"]
    leftover = {k: v for k, v in metrics.items() if k not in _METRICS}
    if leftover:
        extra["engagement_metrics"] = leftover
    return values, extra


def map_graph_posts(loaded: Loaded, layout: GraphLayout) -> Mapped:
    """Map every post object of a file; a record that is not an object, or has the wrong
    nesting, is rejected whole (``json_shape``)."""
    assert loaded.records is not None
    rows: dict[int, dict[str, object]] = {}
    extras: dict[int, object] = {}
    originals: dict[int, object] = {}
    issues: list[Issue] = []
    skip: set[int] = set()
    for number, post in sorted(loaded.records.items()):
        originals[number] = post
        rows[number], extras[number] = {}, None
        if not isinstance(post, dict):
            issues.append((number, "json_shape", None, post, "a post must be a JSON object"))
            skip.add(number)
            continue
        try:
            rows[number], extras[number] = _map_post(post, layout)
        except Shape as exc:
            issues.append((number, "json_shape", exc.column, exc.value, exc.detail))
            skip.add(number)
    return nested_mapped(loaded, rows, extras, originals, issues, skip, _SOURCE_OF)
