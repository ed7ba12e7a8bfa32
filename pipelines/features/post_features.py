"""Per-post features computed from the post alone (time, platform, content, followers).

Everything here uses only what is known when the post is published, so the same code serves
training and online prediction without skew (through
:class:`pipelines.features.engagement_features.EngagementFeaturizer`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from pipelines import schema

#: Columns a post must carry to be featurized (the model's input signature).
INPUT_COLUMNS: tuple[str, ...] = (
    "platform", "content_type", "post_kind", "posted_at", "caption", "hashtags_count",
    "mentions_count", "urls_count", "media_count", "followers_at_post_time",
)
#: Inputs a post may leave out (read as not reported): callers of models trained before
#: they existed do not send them.
OPTIONAL_INPUT_COLUMNS: tuple[str, ...] = ("post_kind",)
#: The kinds of :data:`pipelines.schema.POST_KINDS` that get an indicator; an original post,
#: or one whose source does not say, has none set.
KIND_FEATURES: tuple[str, ...] = tuple(k for k in schema.POST_KINDS if k != "original")


def missing_inputs(columns: object) -> list[str]:
    """The required :data:`INPUT_COLUMNS` that ``columns`` lacks (optional ones may be
    left out)."""
    return [c for c in INPUT_COLUMNS if c not in columns and c not in OPTIONAL_INPUT_COLUMNS]

FEATURE_COLUMNS: tuple[str, ...] = (
    "hour", "weekday", "month", "is_weekend",
    *(f"platform_{p}" for p in schema.PLATFORMS),
    *(f"content_{c}" for c in schema.CONTENT_TYPES),
    *(f"kind_{k}" for k in KIND_FEATURES),
    "caption_chars", "caption_words", "hashtags_count", "mentions_count", "urls_count",
    "media_count", "log_followers",
)

#: What ``str.split()`` splits on: the code points for which ``str.isspace()`` is true.
_SPACE_CODE_POINTS: tuple[int, ...] = (
    0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x1C, 0x1D, 0x1E, 0x1F, 0x20, 0x85, 0xA0, 0x1680,
    *range(0x2000, 0x200B), 0x2028, 0x2029, 0x202F, 0x205F, 0x3000,
)

_ASCII_SPACE = np.zeros(256, dtype=bool)
_ASCII_SPACE[[c for c in _SPACE_CODE_POINTS if c < 0x80]] = True
_MULTIBYTE_SPACES = tuple(chr(c).encode() for c in _SPACE_CODE_POINTS if c >= 0x80)
_MULTIBYTE_SPACE_LEAD = np.zeros(256, dtype=bool)
_MULTIBYTE_SPACE_LEAD[[e[0] for e in _MULTIBYTE_SPACES]] = True


def caption_counts(caption: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(characters, words) of each caption, as ``len(text)`` and ``len(text.split())``
    give them (a missing caption is empty), without a Python call per caption.

    Words are counted on the captions' UTF-8 bytes: a word starts at a byte that is not
    part of a whitespace character (:data:`_SPACE_CODE_POINTS`) and follows one, or
    begins its caption. A test compares it with ``str.split`` on arbitrary text.
    """
    import pyarrow as pa

    return caption_counts_arrow(
        pa.array(caption.astype(object).where(caption.notna(), ""), type=pa.large_string()))


def caption_counts_arrow(texts: Any) -> tuple[np.ndarray, np.ndarray]:
    """:func:`caption_counts` of a pyarrow ``large_string`` array without nulls."""
    import pyarrow.compute as pc

    chars = pc.utf8_length(texts).to_numpy(zero_copy_only=False).astype(np.int64)
    offsets = np.frombuffer(texts.buffers()[1], dtype=np.int64)[:len(texts) + 1]
    data = (np.frombuffer(texts.buffers()[2], dtype=np.uint8)[:offsets[-1]]
            if texts.buffers()[2] is not None else np.zeros(0, dtype=np.uint8))
    space = _ASCII_SPACE[data]
    leads = np.flatnonzero(_MULTIBYTE_SPACE_LEAD[data])   # few: checked one by one
    for encoded in _MULTIBYTE_SPACES:
        at = leads[data[leads] == encoded[0]]
        for k, byte in enumerate(encoded[1:], start=1):
            at = at[at + k < len(data)]
            at = at[data[at + k] == byte]
        for k in range(len(encoded)):
            space[at + k] = True
    starts = ~space
    starts[1:] &= space[:-1]
    first = offsets[:-1][offsets[:-1] < offsets[1:]]
    starts[first] = ~space[first]           # a caption's first byte follows no other
    at = np.flatnonzero(starts)
    words = np.searchsorted(at, offsets[1:]) - np.searchsorted(at, offsets[:-1])
    return chars, words


def build_post_features(posts: pd.DataFrame) -> pd.DataFrame:
    """Compute the per-post feature matrix.

    Args:
        posts: Frame with at least :data:`INPUT_COLUMNS`; ``posted_at`` is converted to UTC
            (naive timestamps are taken as UTC). Missing optional counts become 0.

    Returns:
        A float frame with :data:`FEATURE_COLUMNS`, aligned with ``posts.index``.

    Raises:
        ValueError: naming the missing input columns.
    """
    missing = missing_inputs(posts.columns)
    if missing:
        raise ValueError(
            f"build_post_features: input is missing column(s) {missing}; "
            f"required: {list(INPUT_COLUMNS)}."
        )
    posted_at = pd.to_datetime(posts["posted_at"], utc=True, cache=False)
    caption = posts["caption"].astype("string").fillna("")
    out = pd.DataFrame(index=posts.index)
    out["hour"] = posted_at.dt.hour
    out["weekday"] = posted_at.dt.weekday
    out["month"] = posted_at.dt.month
    out["is_weekend"] = (out["weekday"] >= 5).astype(int)
    platform = posts["platform"].astype("string")
    for name in schema.PLATFORMS:
        out[f"platform_{name}"] = (platform == name).fillna(False).astype(int)
    content = posts["content_type"].astype("string")
    for name in schema.CONTENT_TYPES:
        out[f"content_{name}"] = (content == name).fillna(False).astype(int)
    kind = (posts["post_kind"].astype("string") if "post_kind" in posts.columns
            else pd.Series(pd.NA, index=posts.index, dtype="string"))
    for name in KIND_FEATURES:
        out[f"kind_{name}"] = (kind == name).fillna(False).astype(int)
    out["caption_chars"], out["caption_words"] = caption_counts(caption)
    for name in ("hashtags_count", "mentions_count", "urls_count", "media_count"):
        out[name] = pd.to_numeric(posts[name], errors="coerce").fillna(0)
    followers = pd.to_numeric(posts["followers_at_post_time"], errors="coerce")
    out["log_followers"] = np.log1p(followers.clip(lower=0).fillna(0).astype(float))
    return out[list(FEATURE_COLUMNS)].astype(float)
