"""The references the registered model is compared with, built in the benchmark (they are
yardsticks, not the product): the account mean of past matured log-likes and the two seed
methods re-implemented. The history-free LightGBM reference is trained through the product
(:mod:`quality_product`).

Every reference learns from the same rows: the training project's validated posts whose
likes had matured when they were collected (``pipelines.features.history_source.
young_labels``), so no reference learns from a still-growing count.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

logger = logging.getLogger("bench.quality")

SEED_000_TREES = 100


def matured_targets(posts: pd.DataFrame, maturity_hours: float) -> pd.DataFrame:
    """Posts whose likes are known and were read at least ``maturity_hours`` after
    publication (the product's rule)."""
    from pipelines.features.history_source import young_labels

    keep = posts["likes"].notna().to_numpy() & ~young_labels(posts, maturity_hours)
    return posts[keep].reset_index(drop=True)


def history_free_fallback(train: pd.DataFrame) -> float:
    """The log1p median of the training targets (one platform per file, so the platform's
    median too): what the account-mean reference predicts without history."""
    return float(np.median(np.log1p(train["likes"].astype(float))))


def account_mean_reference(scored: pd.DataFrame, pool: pd.DataFrame, *,
                           maturity_hours: float, fallback_log: float
                           ) -> tuple[np.ndarray, np.ndarray]:
    """Per scored post at ``t``: expm1 of the mean log1p(likes) of its account's pool posts
    published at or before ``t - maturity_hours`` (and before ``t``) whose likes had matured
    at collection; ``expm1(fallback_log)`` where there is none.

    Returns:
        (predicted likes, True where the account had matured history).
    """
    from pipelines.features.history_source import mature_outcomes

    outcomes = mature_outcomes(pool, maturity_hours)
    outcomes = outcomes[outcomes["likes"].notna()]
    times = pd.to_datetime(outcomes["posted_at"], utc=True).astype("int64").to_numpy()
    logs = np.log1p(outcomes["likes"].astype(float).to_numpy())
    order = np.lexsort((times, outcomes["account_id"].astype(str).to_numpy()))
    accounts = outcomes["account_id"].astype(str).to_numpy()[order]
    times, logs = times[order], logs[order]
    cumulative = np.concatenate([[0.0], np.cumsum(logs)])
    starts = {a: (i, j) for a, i, j in _runs(accounts)}
    horizon = int(maturity_hours * 3_600_000_000_000)
    query_times = pd.to_datetime(scored["posted_at"], utc=True).astype("int64").to_numpy()
    predicted = np.full(len(scored), fallback_log)
    has_history = np.zeros(len(scored), dtype=bool)
    for k, (account, t) in enumerate(zip(scored["account_id"].astype(str), query_times,
                                         strict=True)):
        if account not in starts:
            continue
        i, j = starts[account]
        limit = min(t - horizon, t - 1)
        n = int(np.searchsorted(times[i:j], limit, side="right"))
        if n:
            predicted[k] = (cumulative[i + n] - cumulative[i]) / n
            has_history[k] = True
    return np.expm1(predicted), has_history


def _runs(sorted_keys: np.ndarray) -> list[tuple[str, int, int]]:
    """(key, start, end) of each run of equal keys in a sorted array."""
    if not len(sorted_keys):
        return []
    edges = np.flatnonzero(sorted_keys[1:] != sorted_keys[:-1]) + 1
    bounds = np.concatenate([[0], edges, [len(sorted_keys)]])
    return [(sorted_keys[a], int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:],
                                                             strict=True)]


def post_feature_matrix(posts: pd.DataFrame) -> pd.DataFrame:
    """seed-000's inputs: the per-post features only (time, content, caption length,
    counts, log followers: ``FEATURE_COLUMNS`` without the post-kind indicators, which came
    with schema 1.1 — the reference stays the model it re-implements)."""
    from pipelines.features.post_features import FEATURE_COLUMNS, build_post_features

    columns = [c for c in FEATURE_COLUMNS if not c.startswith("kind_")]
    return build_post_features(posts)[columns].astype(float)


def fit_seed_000(train: pd.DataFrame, seed: int) -> Any:
    """seed-000: a random forest of 100 trees (sklearn defaults, full depth) on the per-post
    features, learning log1p(likes)."""
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.ensemble import RandomForestRegressor

    from pipelines.train.model_zoo import expm1_nonnegative

    forest = RandomForestRegressor(n_estimators=SEED_000_TREES, n_jobs=2, random_state=seed)
    model = TransformedTargetRegressor(regressor=forest, func=np.log1p,
                                       inverse_func=expm1_nonnegative, check_inverse=False)
    return model.fit(post_feature_matrix(train), train["likes"].astype(float).to_numpy())


def fit_seed_001(train: pd.DataFrame, embeddings: np.ndarray, seed: int) -> Any:
    """seed-001: raw 384-d MiniLM caption embeddings → class-weighted XGBoost classifier of
    popularity classes (0 ≤ p75 < 1 ≤ p95 < 2 of training likes) → one XGBoost regressor
    per class on log1p(likes), hard routing."""
    from pipelines.train.two_stage import TwoStageRegressor

    model = TwoStageRegressor(routing="hard", seed=seed, classifier_params={"n_jobs": 2},
                              regressor_params={"n_jobs": 2})
    return model.fit(embedding_frame(embeddings), train["likes"].astype(float).to_numpy())


def embedding_frame(embeddings: np.ndarray) -> pd.DataFrame:
    """Embeddings as the two-stage model's input frame."""
    return pd.DataFrame(embeddings, columns=[f"emb_{i}" for i in range(embeddings.shape[1])])


def caption_embeddings(posts: pd.DataFrame, cache_dir: Path) -> np.ndarray:
    """Raw 384-d MiniLM caption embeddings (onnx_int8), cached by content under
    ``cache_dir`` so a re-run encodes nothing it has seen."""
    from pipelines.features.text_embeddings import embed_texts

    cache_dir.mkdir(parents=True, exist_ok=True)
    return embed_texts(posts["caption"].tolist(), cache_path=cache_dir / "captions.parquet",
                       backend="onnx_int8", model_cache_dir=cache_dir / "models",
                       show_progress=False)


def fixed_sample(posts: pd.DataFrame, n: int) -> pd.DataFrame:
    """The ``n`` posts with the smallest sha256 of ``platform:post_id``: a fixed sample that
    does not depend on row order or on the other rows."""
    if len(posts) <= n:
        return posts
    keys = (posts["platform"].astype(str) + ":" + posts["post_id"].astype(str)).map(
        lambda s: hashlib.sha256(s.encode("utf-8")).hexdigest())
    return posts.loc[keys.sort_values(kind="stable").index[:n]]
