"""Per-post features computed from the post alone (time, platform, content, followers).

Everything here uses only what is known when the post is published, so the same code serves
training and online prediction without skew (through
:class:`pipelines.features.engagement_features.EngagementFeaturizer`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipelines import schema

#: Columns a post must carry to be featurized (the model's input signature).
INPUT_COLUMNS: tuple[str, ...] = (
    "platform", "content_type", "posted_at", "caption", "hashtags_count",
    "mentions_count", "urls_count", "media_count", "followers_at_post_time",
)

FEATURE_COLUMNS: tuple[str, ...] = (
    "hour", "weekday", "month", "is_weekend",
    *(f"platform_{p}" for p in schema.PLATFORMS),
    *(f"content_{c}" for c in schema.CONTENT_TYPES),
    "caption_chars", "caption_words", "hashtags_count", "mentions_count", "urls_count",
    "media_count", "log_followers",
)

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
    missing = [c for c in INPUT_COLUMNS if c not in posts.columns]
    if missing:
        raise ValueError(
            f"build_post_features: input is missing column(s) {missing}; "
            f"required: {list(INPUT_COLUMNS)}."
        )
    posted_at = pd.to_datetime(posts["posted_at"], utc=True)
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
    out["caption_chars"] = caption.str.len()
    out["caption_words"] = caption.str.split().str.len().fillna(0)
    for name in ("hashtags_count", "mentions_count", "urls_count", "media_count"):
        out[name] = pd.to_numeric(posts[name], errors="coerce").fillna(0)
    followers = pd.to_numeric(posts["followers_at_post_time"], errors="coerce")
    out["log_followers"] = np.log1p(followers.clip(lower=0).fillna(0).astype(float))
    return out[list(FEATURE_COLUMNS)].astype(float)
