"""A fitted :class:`EngagementFeaturizer`'s features for a large batch, as one float matrix.

``EngagementFeaturizer.transform`` builds three DataFrames (per-post, interactions,
account history), parses ``posted_at`` in each, concatenates them, casts and reorders
the result; batch scoring then turns it into a matrix. :func:`feature_matrix` computes the
same columns straight into a numpy matrix in ``feature_names_`` order, once per column:
the publication time is parsed once and its hour, weekday and month are integer
arithmetic on the nanoseconds (civil calendar from days, UTC); platform and content type
are indexed once and serve the one-hot and interaction columns; caption lengths, counts
and followers go through the same numpy expressions as :mod:`.post_features`; the
interaction harmonics are the same expressions on the same inputs; account history is the
fitted :class:`~pipelines.features.account_history.AccountHistory` itself. No value is
computed by per-row Python.

Every value equals ``transform``'s (tested on fuzzed posts). What it does not cover
(caption embeddings, a missing publication time) returns ``transform``'s own matrix.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from pipelines import schema
from pipelines.features.post_features import (
    KIND_FEATURES,
    caption_counts,
    caption_counts_arrow,
    missing_inputs,
)

_NS_PER_HOUR = 3_600_000_000_000
_NS_PER_DAY = 24 * _NS_PER_HOUR


def feature_matrix(featurizer: Any, posts: pd.DataFrame) -> np.ndarray:
    """``featurizer.transform(posts)`` as a float64 matrix (rows × ``feature_names_``).

    Args:
        featurizer: A fitted :class:`~pipelines.features.engagement_features.
            EngagementFeaturizer`.
        posts: Model-input rows (:func:`pipelines.features.model_input.model_input`).

    Raises:
        ValueError: naming the missing input columns (as ``transform`` does).
    """
    names = list(featurizer.feature_names_)
    missing = missing_inputs(posts.columns)
    posted_at = (pd.to_datetime(posts["posted_at"], utc=True, cache=False)
                 if not missing else None)
    if (missing or featurizer.text_reducer is not None or posted_at.isna().any()):
        return featurizer.transform(posts).to_numpy(dtype=float)
    ns = posted_at.dt.tz_convert(None).astype("datetime64[ns]").to_numpy().view("int64")
    columns = _post_columns(posts, ns)
    platform, content = columns.pop("_platform"), columns.pop("_content")
    if featurizer.interactions:
        columns.update(_interaction_columns(platform, content, columns["hour"]))
    if featurizer.history_ is not None:
        source = getattr(featurizer, "history_source_", None)
        fresh = (None if source is None else
                 source.outcomes(posts["account_id"].astype(str).unique().tolist()))
        history = featurizer.history_.transform(posts, outcomes=fresh)
        columns.update({name: history[name].to_numpy(dtype=float)
                        for name in history.columns})
    out = np.empty((len(posts), len(names)), order="F")   # filled column by column
    for i, name in enumerate(names):
        out[:, i] = columns[name]
    return out


def civil_fields(ns: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(hour, weekday with Monday 0, month 1-12) of UTC nanoseconds since the epoch, as
    pandas' ``.dt`` gives them (proleptic Gregorian; H. Hinnant's ``civil_from_days``)."""
    days = ns // _NS_PER_DAY
    hour = (ns - days * _NS_PER_DAY) // _NS_PER_HOUR
    weekday = (days + 3) % 7                           # 1970-01-01 was a Thursday
    z = days + 719_468
    era = z // 146_097
    doe = z - era * 146_097
    yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    month = np.where(mp < 10, mp + 3, mp - 9)
    return hour, weekday, month


def _arrow_text(values: pd.Series) -> Any:
    """``values`` as a pyarrow ``large_string`` array with nulls as "", when they are all
    text or null (model input: object columns of ``str``); None otherwise."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if values.dtype != object and not isinstance(values.dtype, pd.StringDtype):
        return None
    try:
        texts = pa.array(values.to_numpy(dtype=object), type=pa.large_string(),
                         from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError, UnicodeError):
        return None
    return pc.fill_null(texts, "") if texts.null_count else texts


def _index(values: pd.Series, names: tuple[str, ...]) -> np.ndarray:
    """Position of each value in ``names`` (-1: null or unknown), as the featurizers
    compare them (as strings)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    texts = _arrow_text(values)
    if texts is None:
        return pd.Index(names).get_indexer(values.astype("string").fillna("")).astype(np.int64)
    found = pc.index_in(texts, value_set=pa.array(names, type=pa.large_string()))
    return np.asarray(pc.fill_null(found, -1), dtype=np.int64)


def _post_columns(posts: pd.DataFrame, ns: np.ndarray) -> dict[str, np.ndarray]:
    """:func:`~pipelines.features.post_features.build_post_features`' columns, plus the
    platform and content indices (``_platform``, ``_content``)."""
    hour, weekday, month = civil_fields(ns)
    platform = _index(posts["platform"], schema.PLATFORMS)
    content = _index(posts["content_type"], schema.CONTENT_TYPES)
    columns: dict[str, np.ndarray] = {
        "hour": hour.astype(float), "weekday": weekday.astype(float),
        "month": month.astype(float), "is_weekend": (weekday >= 5).astype(float),
        "_platform": platform, "_content": content}
    for i, name in enumerate(schema.PLATFORMS):
        columns[f"platform_{name}"] = (platform == i).astype(float)
    for i, name in enumerate(schema.CONTENT_TYPES):
        columns[f"content_{name}"] = (content == i).astype(float)
    kind = (_index(posts["post_kind"], KIND_FEATURES) if "post_kind" in posts.columns
            else np.full(len(posts), -1, dtype=np.int64))
    for i, name in enumerate(KIND_FEATURES):
        columns[f"kind_{name}"] = (kind == i).astype(float)
    texts = _arrow_text(posts["caption"])
    chars, words = (caption_counts_arrow(texts) if texts is not None
                    else caption_counts(posts["caption"].astype("string").fillna("")))
    columns["caption_chars"], columns["caption_words"] = chars.astype(float), words.astype(float)
    for name in ("hashtags_count", "mentions_count", "urls_count", "media_count"):
        columns[name] = pd.to_numeric(posts[name], errors="coerce").to_numpy(
            dtype=float, na_value=np.nan)
        columns[name][np.isnan(columns[name])] = 0.0
    followers = pd.to_numeric(posts["followers_at_post_time"], errors="coerce").to_numpy(
        dtype=float, na_value=np.nan)
    followers = np.clip(followers, 0, None)
    columns["log_followers"] = np.log1p(np.where(np.isnan(followers), 0.0, followers))
    return columns


def _interaction_columns(platform: np.ndarray, content: np.ndarray, hour: np.ndarray
                         ) -> dict[str, np.ndarray]:
    """:func:`~pipelines.features.account_history.interaction_features`' columns for rows
    whose hour is known (the same expressions)."""
    n_content = len(schema.CONTENT_TYPES)
    columns: dict[str, np.ndarray] = {
        "platform_content_code": np.where((platform >= 0) & (content >= 0),
                                          platform * n_content + content, -1).astype(float),
        "platform_hour_code": np.where(platform >= 0, platform * 24 + hour, -1
                                       ).astype(float),
    }
    for i, p in enumerate(schema.PLATFORMS):
        for j, c in enumerate(schema.CONTENT_TYPES):
            columns[f"pc_{p}_{c}"] = ((platform == i) & (content == j)).astype(float)
    angle = 2 * np.pi * hour / 24
    harmonics = {(k, f): fn(k * angle) for k in (1, 2) for f, fn in (("sin", np.sin),
                                                                     ("cos", np.cos))}
    for i, p in enumerate(schema.PLATFORMS):
        on = platform == i
        for (k, f), values in harmonics.items():
            columns[f"hour_{f}{k}_{p}"] = np.where(on, values, 0.0)
    return columns
