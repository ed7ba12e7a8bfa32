"""Features of an impression for the click-through models, the training table, and the
position-CTR baseline.

:class:`ImpressionFeaturizer` is the first step of every saved model, so a model takes the
impression columns a client sends (:data:`pipelines.tasks.click_data.INPUT_COLUMNS`).
Unlike the session featurizer it learns: the levels of the hashed categories (user
features, item categories, the item itself within its campaign) seen at least
``min_level_count`` times in the training rows get a one-hot column, the rest share
``<column>=_other``. It is fitted on the training part only, so levels met first in the
validation or test days are "other", as they would be for a model in production.

Features: position (one-hot: the click rate differs by slot and not monotonically),
log1p of the user's affinity with the item shown, whether it is positive, log1p of the
affinity total and maximum over the campaign's items, the item's number, and the one-hot
levels above.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from pipelines.tasks.click_data import (
    AFFINITY_COLUMNS,
    INPUT_COLUMNS,
    ITEM_CATEGORIES,
    POSITIONS,
    USER_FEATURES,
)

#: Categorical inputs whose levels are learned; ``item`` is ``<campaign>_<item_id>``.
LEVEL_COLUMNS: tuple[str, ...] = ("campaign", "item", *USER_FEATURES, *ITEM_CATEGORIES)
NUMERIC_FEATURES: tuple[str, ...] = (
    *(f"f_position_{p}" for p in POSITIONS), "f_log_item_affinity", "f_has_item_affinity",
    "f_log_affinity_total", "f_log_affinity_max", "f_item_feature_0")


def _categories(rows: pd.DataFrame) -> dict[str, np.ndarray]:
    """The categorical inputs as text, ``item`` included."""
    out = {c: rows[c].astype(str).to_numpy() for c in LEVEL_COLUMNS if c != "item"}
    out["item"] = (rows["campaign"].astype(str) + "_" + rows["item_id"].astype(str)).to_numpy()
    return out


def _numbers(rows: pd.DataFrame, column: str) -> np.ndarray:
    """A numeric input as floats.

    Raises:
        ValueError: for missing or non-numeric values, naming the column and examples.
    """
    values = pd.to_numeric(rows[column], errors="coerce").astype(float)
    if values.isna().any():
        raise ValueError(f"impression_features: column '{column}' needs numbers; "
                         f"{int(values.isna().sum())} row(s) are missing or not numeric, e.g. "
                         f"{rows.loc[values.isna(), column].head(3).tolist()}.")
    return values.to_numpy()


def check_inputs(rows: pd.DataFrame) -> None:
    """Raise if ``rows`` lacks an input column.

    Raises:
        ValueError: naming the missing columns.
    """
    missing = [c for c in INPUT_COLUMNS if c not in rows.columns]
    if missing:
        raise ValueError(f"impression_features: rows lack input column(s) {missing}; an "
                         f"impression needs {list(INPUT_COLUMNS)}.")


class ImpressionFeaturizer(TransformerMixin, BaseEstimator):
    """Impression columns -> model features (the first step of a saved model).

    Args:
        min_level_count: Fewest training rows a category level needs for its own column.

    Attributes:
        levels_: Per categorical column, the levels with their own column.
        feature_names_out_: The columns :meth:`transform` returns.
    """

    def __init__(self, min_level_count: int) -> None:
        self.min_level_count = min_level_count

    def fit(self, X: pd.DataFrame, y: Any = None) -> ImpressionFeaturizer:  # noqa: N803
        """Learn the levels of each categorical input from the training rows ``X``.

        Raises:
            ValueError: for a bad ``min_level_count`` or missing input columns.
        """
        if not isinstance(self.min_level_count, int) or self.min_level_count < 1:
            raise ValueError(f"ImpressionFeaturizer: 'min_level_count' must be an int >= 1; "
                             f"got {self.min_level_count!r}.")
        check_inputs(X)
        self.levels_ = {}
        for column, values in _categories(X).items():
            counts = pd.Series(values).value_counts()
            self.levels_[column] = tuple(sorted(counts[counts >= self.min_level_count].index))
        self.feature_names_out_ = np.array(
            [*NUMERIC_FEATURES, *(f"f_{c}={v}" for c, levels in self.levels_.items()
                                  for v in (*levels, "_other"))], dtype=object)
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:  # noqa: N803
        """Feature columns of impressions ``X`` (extra columns are ignored).

        Raises:
            ValueError: if ``X`` is not a DataFrame, lacks input columns or holds
                non-numeric numbers.
        """
        check_is_fitted(self, "levels_")
        if not isinstance(X, pd.DataFrame):
            raise ValueError(f"ImpressionFeaturizer.transform: 'X' must be a DataFrame of "
                             f"impression columns {list(INPUT_COLUMNS)}; got "
                             f"{type(X).__name__}.")
        check_inputs(X)
        out: dict[str, np.ndarray] = {}
        position = _numbers(X, "position")
        for p in POSITIONS:
            out[f"f_position_{p}"] = (position == p).astype(float)
        affinity = {c: np.clip(_numbers(X, c), 0, None) for c in AFFINITY_COLUMNS}
        out["f_log_item_affinity"] = np.log1p(affinity["item_affinity"])
        out["f_has_item_affinity"] = (affinity["item_affinity"] > 0).astype(float)
        out["f_log_affinity_total"] = np.log1p(affinity["affinity_total"])
        out["f_log_affinity_max"] = np.log1p(affinity["affinity_max"])
        out["f_item_feature_0"] = _numbers(X, "item_feature_0")
        for column, values in _categories(X).items():
            levels = self.levels_[column]
            for level in levels:
                out[f"f_{column}={level}"] = (values == level).astype(float)
            out[f"f_{column}=_other"] = (~np.isin(values, levels)).astype(float)
        return pd.DataFrame(out, index=X.index)[list(self.feature_names_out_)]

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        check_is_fitted(self, "levels_")
        return self.feature_names_out_


def build_impression_table(impressions: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The training table (one row per impression, in time order: ``shown_at``, then the
    order given) and its manifest (rows, click rate overall, per position, campaign,
    policy and day).

    Raises:
        ValueError: for missing key, time, target or input columns.
    """
    needed = ["impression_id", "shown_at", "click", "policy", "propensity_score"]
    missing = [c for c in needed if c not in impressions.columns]
    if missing:
        raise ValueError(f"build_impression_table: 'impressions' lacks {missing}.")
    check_inputs(impressions)
    table = impressions.sort_values("shown_at", kind="stable").reset_index(drop=True)
    table = table[[*needed, *INPUT_COLUMNS]]
    manifest = {
        "rows": len(table), "key": ["impression_id"], "time_column": "shown_at",
        "target": "click", "input_columns": list(INPUT_COLUMNS), **click_summary(table)}
    return table, manifest


def click_summary(impressions: pd.DataFrame) -> dict[str, Any]:
    """Impressions and click rate overall and per position, campaign, policy and day."""
    if impressions.empty:
        return {"ctr": None}

    def rates(by: pd.Series) -> dict[str, dict[str, float]]:
        stats = impressions.groupby(by)["click"].agg(["size", "mean"])
        return {str(k): {"rows": int(r["size"]), "ctr": round(float(r["mean"]), 6)}
                for k, r in stats.iterrows()}

    return {"ctr": round(float(impressions["click"].mean()), 6),
            "by_position": rates(impressions["position"]),
            "by_campaign": rates(impressions["campaign"]),
            "by_policy": rates(impressions["policy"]),
            "by_day": rates(pd.to_datetime(impressions["shown_at"], utc=True)
                            .dt.strftime("%Y-%m-%d"))}


def position_ctr(positions: Any, clicks: Any) -> dict[int, float]:
    """The click rate of each position in training rows (the position-CTR baseline).

    Raises:
        ValueError: for empty or unequal inputs or clicks other than 0/1.
    """
    position = np.asarray(positions)
    click = np.asarray(clicks, dtype=float)
    if position.size == 0 or position.shape != click.shape:
        raise ValueError(f"position_ctr: 'positions' and 'clicks' must be non-empty and "
                         f"equally long; got {position.shape} and {click.shape}.")
    if not np.isin(click, (0.0, 1.0)).all():
        raise ValueError(f"position_ctr: 'clicks' must be 0 or 1; got "
                         f"{sorted(set(click[~np.isin(click, (0.0, 1.0))].tolist()))[:5]}.")
    frame = pd.DataFrame({"position": position.astype(int), "click": click})
    return {int(k): float(v) for k, v in frame.groupby("position")["click"].mean().items()}


def position_ctr_baseline(train: pd.DataFrame, test: pd.DataFrame) -> np.ndarray:
    """For each ``test`` row the training click rate of its position; a position absent
    from training gets the overall training rate."""
    rates = position_ctr(train["position"].to_numpy(), train["click"].to_numpy())
    overall = float(train["click"].astype(float).mean())
    return test["position"].astype(int).map(rates).fillna(overall).to_numpy(dtype=float)
