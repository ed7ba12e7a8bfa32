"""Which segments have enough new labelled posts to be retrained.

A post counts once its outcome matured (``maturity_hours`` after posting, as for the
account-history features) and it is newer than what the segment's model was trained
through. A segment with its own model uses that model's ``trained_through``; a segment that
fell back uses the global model's (the last time training looked at it). Past
``retrain_after`` new posts — and at least ``min_samples`` labelled posts in all — the
segment is due.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from pipelines.segments.hierarchy import Segment, level_name


def _utc(value: Any) -> pd.Timestamp:
    stamp = pd.Timestamp(value)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def segments_due(
    posts: pd.DataFrame,
    models: Mapping[Segment, Mapping[str, Any]],
    *,
    target: str,
    segment_key: str,
    min_samples: int,
    retrain_after: int,
    maturity_hours: float,
    now: pd.Timestamp,
) -> list[dict[str, Any]]:
    """Every platform and segment past the retraining threshold, with its counts.

    Args:
        posts: Validated canonical posts (reads ``posted_at``, ``platform``, the target and
            ``segment_key``).
        models: :func:`pipelines.registry.segment_models.segment_models` of the target.
        now: The instant of the check (outcomes mature relative to it).

    Returns:
        ``[{"segment": key, "new_labelled": n, "labelled": total, "since": ts,
        "has_model": bool}]`` for the due segments, most new posts first.

    Raises:
        ValueError: if a needed column is missing.
    """
    needed = ["posted_at", "platform", target]
    missing = [c for c in needed if c not in posts.columns]
    if missing:
        raise ValueError(f"segments_due: posts lack column(s) {missing}; got "
                         f"{list(posts.columns)}.")
    posted = pd.to_datetime(posts["posted_at"], utc=True)
    matured = posts[target].notna() & (posted <= now - pd.Timedelta(hours=maturity_hours))
    global_info = models.get(Segment("global"), {})
    default_since = global_info.get("trained_through")
    groups: dict[Segment, pd.Series] = {}
    for platform, mask in posts.groupby("platform").groups.items():
        groups[Segment("platform", str(platform))] = posts.index.isin(mask)
    if segment_key in posts.columns and segment_key != "platform":
        keys = posts[segment_key].astype("string")
        level = level_name(segment_key)
        for value in keys.dropna().unique():
            groups[Segment(level, str(value))] = (keys == value).fillna(False).to_numpy()
    due = []
    for segment, mask in groups.items():
        mask = pd.Series(mask, index=posts.index) & matured
        info = models.get(segment)
        since = (info or {}).get("trained_through") or default_since
        new = mask & (posted > _utc(since)) if since else mask
        n_new, n_all = int(new.sum()), int(mask.sum())
        if n_new >= retrain_after and n_all >= min_samples:
            due.append({"segment": segment.key, "new_labelled": n_new, "labelled": n_all,
                        "since": since, "has_model": info is not None})
    return sorted(due, key=lambda d: (-d["new_labelled"], d["segment"]))
