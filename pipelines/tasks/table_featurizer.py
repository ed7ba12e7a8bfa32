"""Features of a table of numbers and categories, as the first step of a saved model:
log1p of counts, numbers as they are, one-hot of categories over fixed levels.

It learns nothing (levels are given), so the features of the training table and of the
saved model are the same numbers by construction; a level not in the list goes to
``<column>_other`` (never an error).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin


class TableFeaturizer(TransformerMixin, BaseEstimator):
    """Input columns -> float feature columns.

    Args:
        log_columns: Counts, fed as log1p (clipped at 0).
        plain_columns: Numbers and flags, fed as floats.
        categories: Column -> known levels (one-hot, plus ``<column>_other``).

    Attributes:
        feature_names_out_: The columns :meth:`transform` returns.
    """

    def __init__(self, log_columns: tuple[str, ...], plain_columns: tuple[str, ...],
                 categories: dict[str, tuple[str, ...]]) -> None:
        self.log_columns = log_columns
        self.plain_columns = plain_columns
        self.categories = categories

    def _names(self) -> list[str]:
        names = [f"f_log_{c}" for c in self.log_columns]
        names += [f"f_{c}" for c in self.plain_columns]
        for column, levels in self.categories.items():
            names += [f"f_{column}_{level}" for level in levels] + [f"f_{column}_other"]
        return names

    def fit(self, X: pd.DataFrame, y: Any = None) -> TableFeaturizer:  # noqa: N803
        self.feature_names_out_ = np.array(self._names(), dtype=object)
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:  # noqa: N803
        """Feature columns of ``X`` (extra columns are ignored).

        Raises:
            ValueError: if ``X`` is not a DataFrame, lacks a column, or a numeric column
                holds missing or non-numeric values (naming the column and examples).
        """
        if not isinstance(X, pd.DataFrame):
            raise ValueError(f"TableFeaturizer.transform: 'X' must be a DataFrame; got "
                             f"{type(X).__name__}.")
        needed = [*self.log_columns, *self.plain_columns, *self.categories]
        missing = [c for c in needed if c not in X.columns]
        if missing:
            raise ValueError(f"TableFeaturizer.transform: 'X' lacks column(s) {missing}.")
        out: dict[str, np.ndarray] = {}
        for column in (*self.log_columns, *self.plain_columns):
            values = pd.to_numeric(X[column].map(_number), errors="coerce").astype(float)
            if values.isna().any():
                raise ValueError(
                    f"TableFeaturizer.transform: column '{column}' needs numbers; "
                    f"{int(values.isna().sum())} row(s) are missing or not numeric, e.g. "
                    f"{X.loc[values.isna(), column].head(3).tolist()}.")
            prefix = "f_log_" if column in self.log_columns else "f_"
            out[prefix + column] = (np.log1p(np.clip(values.to_numpy(), 0, None))
                                    if column in self.log_columns else values.to_numpy())
        for column, levels in self.categories.items():
            text = X[column].astype(str).to_numpy()
            for level in levels:
                out[f"f_{column}_{level}"] = (text == level).astype(float)
            out[f"f_{column}_other"] = (~np.isin(text, levels)).astype(float)
        return pd.DataFrame(out, index=X.index)[self._names()]

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return np.array(self._names(), dtype=object)


def _number(value: Any) -> Any:
    """Booleans (and "true"/"false" from a JSON client) as 1/0; anything else unchanged."""
    if isinstance(value, bool | np.bool_):
        return float(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return float(value.strip().lower() == "true")
    return value
