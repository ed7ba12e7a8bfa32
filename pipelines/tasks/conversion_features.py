"""Features of a browsing session for the conversion models, and the training table.

One definition serves both the training table and the saved model: :class:`
SessionFeaturizer` computes the feature columns from the canonical session columns; the
features stage writes its output beside the sessions, and the training stage puts the same
featurizer in front of each fitted classifier, so a saved model takes what a client sends.
The featurizer learns nothing (category levels are fixed below), so the table's features
and the saved model's are the same numbers by construction.

Features: log1p of page counts and seconds (heavy-tailed), the bounce and exit rates, the
seconds per product page, closeness to a special day, weekend, one-hot visitor type and
month (the twelve names: a month not seen in training gets a zero column, never an error),
one-hot operating system, browser, region and traffic-source codes (identifiers, not
quantities; codes beyond the UCI file's go to ``<code>_other``), and ``page_values`` (log1p
and > 0) only when asked: in the UCI data it is computed from pages visited before a
transaction, so it is close to the label.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from pipelines.tasks.conversion_data import (
    CODE_COLUMNS,
    COUNT_COLUMNS,
    DURATION_COLUMNS,
    INPUT_COLUMNS,
    MONTHS,
    RATE_COLUMNS,
    VISITOR_TYPES,
    month_summary,
)

FEATURE_PREFIX = "f_"
#: The code levels of the UCI file; others share one ``<code>_other`` column.
CODE_LEVELS: dict[str, tuple[int, ...]] = {
    "operating_systems": tuple(range(1, 9)),
    "browser": tuple(range(1, 14)),
    "region": tuple(range(1, 10)),
    "traffic_type": tuple(range(1, 21)),
}
PAGE_VALUE_FEATURES: tuple[str, ...] = ("f_log_page_values", "f_has_page_value")
_NUMERIC_INPUTS = (*COUNT_COLUMNS, *DURATION_COLUMNS, *RATE_COLUMNS, "page_values",
                   "special_day", *CODE_COLUMNS)


def feature_names(use_page_values: bool) -> list[str]:
    """The feature columns, in model order."""
    names = [f"f_log_{c}" for c in (*COUNT_COLUMNS, *DURATION_COLUMNS)]
    names += ["f_log_total_pages", "f_log_seconds_per_product_page"]
    names += [f"f_{c}" for c in RATE_COLUMNS] + ["f_special_day", "f_weekend"]
    if use_page_values:
        names += list(PAGE_VALUE_FEATURES)
    names += [f"f_visitor_{v}" for v in VISITOR_TYPES] + [f"f_month_{m}" for m in MONTHS]
    for code, levels in CODE_LEVELS.items():
        names += [f"f_{code}_{level}" for level in levels] + [f"f_{code}_other"]
    return names


def session_features(sessions: pd.DataFrame, use_page_values: bool) -> pd.DataFrame:
    """The feature columns of canonical sessions (same index), as floats.

    Raises:
        ValueError: if an input column is missing, or a numeric one holds missing or
            non-numeric values (naming the column and how many rows).
    """
    missing = [c for c in INPUT_COLUMNS if c not in sessions.columns]
    if missing:
        raise ValueError(f"session_features: 'sessions' lacks input column(s) {missing}; "
                         f"a session needs {list(INPUT_COLUMNS)}.")
    numeric = {}
    for column in _NUMERIC_INPUTS:
        values = pd.to_numeric(sessions[column], errors="coerce").astype(float)
        bad = int(values.isna().sum())
        if bad:
            raise ValueError(f"session_features: column '{column}' needs numbers; {bad} row(s) "
                             f"are missing or not numeric, e.g. "
                             f"{sessions.loc[values.isna(), column].head(3).tolist()}.")
        numeric[column] = values.to_numpy()
    out: dict[str, np.ndarray] = {}
    for column in (*COUNT_COLUMNS, *DURATION_COLUMNS):
        out[f"f_log_{column}"] = np.log1p(np.clip(numeric[column], 0, None))
    pages = sum(np.clip(numeric[c], 0, None) for c in COUNT_COLUMNS)
    out["f_log_total_pages"] = np.log1p(pages)
    out["f_log_seconds_per_product_page"] = np.log1p(
        np.clip(numeric["product_related_duration"], 0, None)
        / np.maximum(numeric["product_related"], 1))
    for column in RATE_COLUMNS:
        out[f"f_{column}"] = numeric[column]
    out["f_special_day"] = numeric["special_day"]
    out["f_weekend"] = _flags(sessions["weekend"])
    if use_page_values:
        out["f_log_page_values"] = np.log1p(np.clip(numeric["page_values"], 0, None))
        out["f_has_page_value"] = (numeric["page_values"] > 0).astype(float)
    visitor = sessions["visitor_type"].astype(str).to_numpy()
    for value in VISITOR_TYPES:
        out[f"f_visitor_{value}"] = (visitor == value).astype(float)
    month = sessions["month"].astype(str).to_numpy()
    for value in MONTHS:
        out[f"f_month_{value}"] = (month == value).astype(float)
    for code, levels in CODE_LEVELS.items():
        values = numeric[code]
        for level in levels:
            out[f"f_{code}_{level}"] = (values == level).astype(float)
        out[f"f_{code}_other"] = (~np.isin(values, levels)).astype(float)
    return pd.DataFrame(out, index=sessions.index)[feature_names(use_page_values)]


class SessionFeaturizer(TransformerMixin, BaseEstimator):
    """:func:`session_features` as a scikit-learn step (the first step of a saved model).

    It learns nothing; ``fit`` only records the output columns.

    Args:
        use_page_values: Whether ``page_values`` features are produced.

    Attributes:
        feature_names_out_: The columns :meth:`transform` returns.
    """

    def __init__(self, use_page_values: bool) -> None:
        self.use_page_values = use_page_values

    def fit(self, X: pd.DataFrame, y: Any = None) -> SessionFeaturizer:  # noqa: N803
        self.feature_names_out_ = np.array(feature_names(bool(self.use_page_values)),
                                           dtype=object)
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:  # noqa: N803
        """Feature columns of canonical sessions ``X`` (extra columns are ignored)."""
        if not isinstance(X, pd.DataFrame):
            raise ValueError(f"SessionFeaturizer.transform: 'X' must be a DataFrame of "
                             f"session columns {list(INPUT_COLUMNS)}; got {type(X).__name__}.")
        return session_features(X, bool(self.use_page_values))

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return np.array(feature_names(bool(self.use_page_values)), dtype=object)


def build_session_table(sessions: pd.DataFrame, use_page_values: bool
                        ) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The training table and its manifest.

    Rows are in time order: by ``month_start``, then in the order given (file order within
    a month). Columns: the key, the time, the target, the input columns (what a client
    sends; the saved models read these) and the feature columns.

    Raises:
        ValueError: as :func:`session_features`, or for missing key/time/target columns.
    """
    needed = ["session_id", "month_start", "converted"]
    missing = [c for c in needed if c not in sessions.columns]
    if missing:
        raise ValueError(f"build_session_table: 'sessions' lacks {missing}.")
    ordered = sessions.sort_values("month_start", kind="stable").reset_index(drop=True)
    features = session_features(ordered, use_page_values)
    table = pd.concat([ordered[[*needed, *INPUT_COLUMNS]], features], axis=1)
    manifest = {
        "rows": len(table), "key": ["session_id"], "time_column": "month_start",
        "target": "converted", "input_columns": list(INPUT_COLUMNS),
        "feature_columns": list(features.columns), "use_page_values": bool(use_page_values),
        "conversion_rate": round(float(ordered["converted"].mean()), 6) if len(table) else None,
        "months": month_summary(ordered),
    }
    return table, manifest


def _flags(values: pd.Series) -> np.ndarray:
    """Booleans (or 0/1, or "true"/"false" text from a JSON client) as 0.0/1.0.

    Raises:
        ValueError: for anything else, naming the values.
    """
    text = values.astype(str).str.strip().str.lower()
    known = text.isin(["true", "false", "1", "0", "1.0", "0.0"])
    if not known.all():
        raise ValueError(f"session_features: column 'weekend' needs true/false; got "
                         f"{values[~known].head(3).tolist()}.")
    return text.isin(["true", "1", "1.0"]).to_numpy(dtype=float)
