"""The feature stage: validated posts → the feature table (ids, time, inputs, targets,
features) and its manifest (feature names, settings, hash)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pandas as pd

from pipelines.features.engagement_features import (
    FeatureSettings,
    build_features,
    embedding_columns,
    feature_set_hash,
    tabular_columns,
)
from pipelines.features.history_source import mature_outcomes, young_labels
from pipelines.features.post_features import INPUT_COLUMNS

logger = logging.getLogger(__name__)

#: What a registered model takes: a canonical post as known at publication time.
MODEL_INPUT_COLUMNS: tuple[str, ...] = ("post_id", "account_id", *INPUT_COLUMNS)

#: Columns carried next to the features: the model inputs and the outcomes.
CARRIED_COLUMNS: tuple[str, ...] = (*MODEL_INPUT_COLUMNS, "campaign_id", "likes", "comments",
                                    "shares")


def build_feature_table(posts: pd.DataFrame, settings: FeatureSettings,
                        **embedding_locations: Path | None) -> pd.DataFrame:
    """Posts → carried columns + ``f_*`` (and ``emb_*``) features, time-ordered.

    Args:
        posts: Validated canonical posts.
        settings: Feature groups (the ``features`` section).
        embedding_locations: ``embedding_cache`` and ``model_cache_dir`` for text.
    """
    posts = posts.sort_values(["posted_at", "post_id"], kind="stable").reset_index(drop=True)
    # counts read before a post matured are still growing: neither targets nor history
    posts = mature_outcomes(posts, settings.maturity_hours)
    carried = posts[[c for c in CARRIED_COLUMNS if c in posts.columns]]
    return pd.concat([carried, build_features(posts, settings, **embedding_locations)], axis=1)


def run_features(
    validated_path: Path,
    features_path: Path,
    *,
    settings: FeatureSettings,
    embedding_cache: Path | None = None,
    model_cache_dir: Path | None = None,
    periods_path: Path | None = None,
) -> dict[str, object]:
    """Stage runner: read validated posts, write the feature table and its manifest, and
    (``periods_path``) the (account, period) table of the follower-growth target."""
    if embedding_cache is not None and not embedding_cache.exists():
        # an empty cache, so the file a DVC stage declares always exists
        import numpy as np

        from pipelines.features.embedding_cache import write_cache
        from pipelines.features.text_embeddings import EMBEDDING_DIM

        write_cache(embedding_cache, np.array([], dtype=object),
                    np.zeros((0, EMBEDDING_DIM), dtype=np.float32))
    posts = pd.read_parquet(validated_path)
    if periods_path is not None:
        from pipelines.features.follower_growth import TARGET, account_periods

        periods = account_periods(posts, period=settings.growth_period)
        periods["follower_growth"] = periods[TARGET]
        periods_path.parent.mkdir(parents=True, exist_ok=True)
        periods.to_parquet(periods_path, index=False)
    still_growing = int((young_labels(posts, settings.maturity_hours)
                         & posts["likes"].notna().to_numpy()).sum())
    table = build_feature_table(
        posts, settings,
        **({"embedding_cache": embedding_cache, "model_cache_dir": model_cache_dir}
           if settings.text_embeddings else {}),
    )
    features_path.parent.mkdir(parents=True, exist_ok=True)
    table.to_parquet(features_path, index=False)
    manifest = {"rows": len(table), "feature_columns": tabular_columns(settings),
                "embedding_columns": len(embedding_columns(settings)),
                "feature_set_hash": feature_set_hash(settings), "settings": settings.model_dump(),
                "labels_still_growing": still_growing}
    features_path.with_suffix(".json").write_text(json.dumps(manifest, indent=2))
    logger.info("features: %d rows × %d tabular + %d text features; %d posts whose counts "
                "were read before they were %g h old keep no outcome (not a target, not "
                "history)", len(table), len(manifest["feature_columns"]),
                manifest["embedding_columns"], still_growing, settings.maturity_hours)
    return manifest


def read_manifest(features_path: Path) -> dict[str, object]:
    """The manifest written beside a feature table."""
    return json.loads(features_path.with_suffix(".json").read_text())
