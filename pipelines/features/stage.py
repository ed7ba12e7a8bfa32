"""The feature stage: validated posts → the feature table (ids, time, target, features)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pandas as pd

from pipelines.features.post_features import (
    FEATURE_COLUMNS,
    INPUT_COLUMNS,
    build_post_features,
    feature_set_hash,
)

logger = logging.getLogger(__name__)

#: Columns carried next to the features: identity, time order, raw inputs and targets.
CARRIED_COLUMNS: tuple[str, ...] = ("post_id", "account_id", "likes", "comments", "shares")


def build_feature_table(posts: pd.DataFrame) -> pd.DataFrame:
    """Posts → the raw inputs, targets and features, one row per post, time-ordered."""
    carried = list(dict.fromkeys([*CARRIED_COLUMNS, *INPUT_COLUMNS]))
    table = pd.concat(
        [posts[carried].reset_index(drop=True),
         build_post_features(posts).reset_index(drop=True).add_prefix("f_")],
        axis=1,
    )
    return table.sort_values(["posted_at", "post_id"], kind="stable").reset_index(drop=True)


def run_features(validated_path: Path, features_path: Path) -> dict[str, object]:
    """Stage runner: read validated posts, write the feature table and its manifest."""
    table = build_feature_table(pd.read_parquet(validated_path))
    features_path.parent.mkdir(parents=True, exist_ok=True)
    table.to_parquet(features_path, index=False)
    manifest = {"rows": len(table), "feature_columns": list(FEATURE_COLUMNS),
                "feature_set_hash": feature_set_hash()}
    features_path.with_suffix(".json").write_text(json.dumps(manifest, indent=2))
    logger.info("features: %d rows × %d features", len(table), len(FEATURE_COLUMNS))
    return manifest
