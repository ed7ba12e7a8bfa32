"""Features of a news article for the ``news_shares`` models: the UCI file's own
features, heavy-tailed counts and keyword statistics on a signed log scale.

:class:`NewsFeaturizer` learns nothing (``fit`` records the columns), so the training
table's features and a saved model's are the same numbers by construction. ``timedelta``
(days before the data's acquisition) is left out: it encodes the publication date, and a
model extrapolating a trend in it to the test months would learn the calendar, not the
article.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from pipelines.tasks.news_data import FEATURES

#: Columns taken as sign(x) * log1p(|x|): counts and share statistics spanning decades.
LOG_COLUMNS: tuple[str, ...] = tuple(
    c for c in FEATURES if c.startswith(("n_tokens_content", "num_", "kw_", "self_reference")))


def news_features(rows: pd.DataFrame) -> pd.DataFrame:
    """The model's columns (same index), floats.

    Raises:
        ValueError: for missing columns, or values that are not finite numbers (naming
            the column and how many rows).
    """
    missing = [c for c in FEATURES if c not in rows.columns]
    if missing:
        raise ValueError(f"news_features: rows lack column(s) {missing}.")
    out = {}
    for column in FEATURES:
        values = pd.to_numeric(rows[column], errors="coerce").to_numpy(dtype=float)
        bad = int((~np.isfinite(values)).sum())
        if bad:
            raise ValueError(f"news_features: column '{column}' needs finite numbers; {bad} "
                             f"row(s) are missing or not numeric.")
        name = f"f_log_{column}" if column in LOG_COLUMNS else f"f_{column}"
        out[name] = (np.sign(values) * np.log1p(np.abs(values)) if column in LOG_COLUMNS
                     else values)
    return pd.DataFrame(out, index=rows.index)


class NewsFeaturizer(TransformerMixin, BaseEstimator):
    """:func:`news_features` as the first step of a saved model."""

    def fit(self, X: pd.DataFrame, y: Any = None) -> NewsFeaturizer:  # noqa: N803
        self.feature_names_out_ = np.array(news_features(X.head(1)).columns, dtype=object)
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:  # noqa: N803
        """The feature columns of ``X`` (extra columns are ignored)."""
        if not isinstance(X, pd.DataFrame):
            raise ValueError(f"NewsFeaturizer.transform: 'X' must be a DataFrame; got "
                             f"{type(X).__name__}.")
        return news_features(X)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return self.feature_names_out_
