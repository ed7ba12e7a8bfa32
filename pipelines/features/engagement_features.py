"""The full feature set of a post: per-post, interactions, account history, caption text.

One builder for the feature stage, the quality benchmark and (through the fitted
transformer) serving. Every feature of a post uses only what was known when it was
published: account history reads only matured outcomes of the account's earlier posts
(see :mod:`pipelines.features.account_history`); caption embeddings are raw 384-d vectors
here and are reduced inside the model, so the reduction is fitted on training rows only.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from pipelines.features.account_history import (
    HISTORY_COLUMNS,
    INTERACTION_COLUMNS,
    account_history_features,
    interaction_features,
)
from pipelines.features.post_features import FEATURE_COLUMNS, build_post_features
from pipelines.features.settings import FeatureSettings

EMBEDDING_PREFIX = "emb_"
FEATURE_PREFIX = "f_"
#: The feature table's cache key of the text each row's embedding was computed from
#: (:func:`pipelines.features.text_embeddings.text_hash`: backend, model, text): a model
#: predicting for feature-table rows reuses an embedding only where the key is its own.
TEXT_HASH_COLUMN = "caption_text_hash"


def tabular_columns(settings: FeatureSettings) -> list[str]:
    """Names of the tabular feature columns (without the prefix) for ``settings``."""
    names = list(FEATURE_COLUMNS)
    if settings.interactions:
        names += list(INTERACTION_COLUMNS)
    if settings.account_history:
        names += list(HISTORY_COLUMNS)
    return names


def embedding_columns(settings: FeatureSettings) -> list[str]:
    """Names of the raw embedding columns (empty without text embeddings)."""
    from pipelines.features.text_embeddings import EMBEDDING_DIM

    return ([f"{EMBEDDING_PREFIX}{i}" for i in range(EMBEDDING_DIM)]
            if settings.text_embeddings else [])


def feature_set_hash(settings: FeatureSettings) -> str:
    """A short hash naming the feature set: groups, column names, text model."""
    text = "|".join([repr(settings), ",".join(tabular_columns(settings)),
                     ",".join(embedding_columns(settings)[:1])])
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def build_features(
    posts: pd.DataFrame,
    settings: FeatureSettings,
    *,
    embedding_cache: Path | None = None,
    model_cache_dir: Path | None = None,
    show_progress: bool = False,
) -> pd.DataFrame:
    """Every feature of ``posts``, aligned with its index.

    Account history is computed over ``posts`` itself (each post sees the matured
    outcomes of its account's earlier posts in the frame), which is what a history store
    holding all collected outcomes gives at serving time.

    Args:
        posts: Canonical posts (time order does not matter).
        settings: Which groups to build.
        embedding_cache: Parquet cache of caption embeddings (required with text).
        model_cache_dir: Where the exported ONNX text model is kept (required with text).

    Returns:
        ``f_<name>`` float columns for :func:`tabular_columns`, then ``emb_<i>`` float32
        columns when text embeddings are on.

    Raises:
        ValueError: when text embeddings are on without a cache location.
    """
    parts = [build_post_features(posts)]
    if settings.interactions:
        parts.append(interaction_features(posts))
    if settings.account_history:
        parts.append(account_history_features(posts, maturity_hours=settings.maturity_hours))
    table = pd.concat(parts, axis=1).astype(float).add_prefix(FEATURE_PREFIX)
    if settings.text_embeddings:
        if embedding_cache is None or model_cache_dir is None:
            raise ValueError("build_features: text embeddings need 'embedding_cache' and "
                             "'model_cache_dir'.")
        from pipelines.features.text_embeddings import (
            build_embedding_texts,
            embed_texts,
            text_hash,
        )

        texts = build_embedding_texts(
            posts["caption"].tolist(),
            posts["account_id"].tolist() if settings.text_with_account else None)
        vectors = embed_texts(texts, cache_path=embedding_cache, backend=settings.text_backend,
                              model_cache_dir=model_cache_dir, show_progress=show_progress)
        table = pd.concat([table, pd.DataFrame(vectors.astype(np.float32), index=posts.index,
                                               columns=embedding_columns(settings))], axis=1)
        table[TEXT_HASH_COLUMN] = [text_hash(t, backend=settings.text_backend) for t in texts]
    return table


class EngagementFeaturizer(BaseEstimator, TransformerMixin):
    """Canonical posts → the model's features, for a model that takes raw posts.

    ``fit(posts)`` freezes the account history (every labelled post it is given, as a
    history store would hold them); ``transform(posts)`` computes the same tabular columns
    as :func:`build_features`, reading outcomes only from that history. For the posts it was
    fitted on, ``fit(X).transform(X)`` equals ``build_features(X)`` (tested), so a model
    trained on the feature stage's table predicts the same through this featurizer.

    With caption embeddings, ``text_reducer`` is a :class:`TextReducer` already fitted on
    the training rows' embeddings (never on validation or test rows); transform embeds the
    captions (MiniLM, offline) and appends its ``text_svd_*`` columns.

    Args:
        maturity_hours, account_history, interactions, text_backend, text_with_account:
            As in :class:`FeatureSettings`.
        text_reducer: Fitted reducer, or None for no text features.
        model_cache_dir: Where the exported ONNX text model is kept (re-exported if absent).
    """

    def __init__(self, maturity_hours: float, account_history: bool, interactions: bool,
                 text_reducer: Any, text_backend: str, text_with_account: bool,
                 model_cache_dir: str | None = None) -> None:
        self.maturity_hours = maturity_hours
        self.account_history = account_history
        self.interactions = interactions
        self.text_reducer = text_reducer
        self.text_backend = text_backend
        self.text_with_account = text_with_account
        self.model_cache_dir = model_cache_dir

    @classmethod
    def from_settings(cls, settings: FeatureSettings, *, text_reducer: Any = None,
                      model_cache_dir: Path | None = None) -> EngagementFeaturizer:
        """The featurizer for ``settings``.

        Raises:
            ValueError: if ``settings`` turn caption embeddings on without a fitted reducer.
        """
        if settings.text_embeddings and text_reducer is None:
            raise ValueError("EngagementFeaturizer: text embeddings need a TextReducer fitted "
                             "on the training rows ('text_reducer').")
        return cls(settings.maturity_hours, settings.account_history, settings.interactions,
                   text_reducer if settings.text_embeddings else None, settings.text_backend,
                   settings.text_with_account,
                   str(model_cache_dir) if model_cache_dir is not None else None)

    def _settings(self) -> FeatureSettings:
        return FeatureSettings(maturity_hours=self.maturity_hours,
                               account_history=self.account_history,
                               interactions=self.interactions)

    def fit(self, X: pd.DataFrame, y: object = None) -> EngagementFeaturizer:  # noqa: N803
        from pipelines.features.account_history import AccountHistory

        text = (list(self.text_reducer.get_feature_names_out())
                if self.text_reducer is not None else [])
        self.feature_names_ = tabular_columns(self._settings()) + text
        self.history_ = (AccountHistory(self.maturity_hours).fit(X)
                         if self.account_history else None)
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:  # noqa: N803
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "feature_names_")
        parts = [build_post_features(X)]
        if self.interactions:
            parts.append(interaction_features(X))
        if self.history_ is not None:
            source = getattr(self, "history_source_", None)
            fresh = (None if source is None else
                     source.outcomes(X["account_id"].astype(str).unique().tolist()))
            parts.append(self.history_.transform(X, outcomes=fresh))
        if self.text_reducer is not None:
            parts.append(self._text_features(X))
        return pd.concat(parts, axis=1).astype(float)[self.feature_names_]

    def attach_history(self, source: Any) -> EngagementFeaturizer:
        """Read account history from ``source`` too (a
        :class:`~pipelines.features.history_source.HistorySource`), on top of the history
        frozen at training; None detaches it. Returns self."""
        if source is not None and not callable(getattr(source, "outcomes", None)):
            raise ValueError(f"EngagementFeaturizer.attach_history: the source must have an "
                             f"'outcomes(account_ids)' method; got {type(source).__name__}.")
        self.history_source_ = source
        return self

    def __getstate__(self) -> dict[str, Any]:
        # a source is a live connection of one process: never pickled with the model
        state = dict(super().__getstate__())
        state.pop("history_source_", None)
        return state

    def _text_features(self, posts: pd.DataFrame) -> pd.DataFrame:
        """The reduced caption embeddings of ``posts``: a feature-table row's stored embedding
        where its :data:`TEXT_HASH_COLUMN` is this model's key of the row's text (the
        embedding the model's training rows got too), the encoder for every other row (a
        served post, a row of another text setting)."""
        from pipelines.features.text_embeddings import build_embedding_texts, get_encoder

        texts = build_embedding_texts(
            posts["caption"].tolist(),
            posts["account_id"].tolist() if self.text_with_account else None)
        vectors, stored = self._stored_embeddings(posts, texts)
        if not stored.all():
            cache_dir = Path(self.model_cache_dir or Path.home() / ".cache" / "engageflow")
            missing = np.flatnonzero(~stored)
            vectors[missing] = get_encoder(self.text_backend, cache_dir).encode(
                [texts[i] for i in missing], batch_size=32)
        reduced = self.text_reducer.transform(vectors)
        return pd.DataFrame(reduced, index=posts.index,
                            columns=list(self.text_reducer.get_feature_names_out()))

    def _stored_embeddings(self, posts: pd.DataFrame, texts: list[str]
                           ) -> tuple[np.ndarray, np.ndarray]:
        """(n × 384 float32 embeddings, where stored; the mask of rows that had one)."""
        from pipelines.features.text_embeddings import EMBEDDING_DIM, text_hash

        vectors = np.zeros((len(posts), EMBEDDING_DIM), dtype=np.float32)
        columns = [f"{EMBEDDING_PREFIX}{i}" for i in range(EMBEDDING_DIM)]
        if TEXT_HASH_COLUMN not in posts.columns or not set(columns) <= set(posts.columns):
            return vectors, np.zeros(len(posts), dtype=bool)
        keys = [text_hash(t, backend=self.text_backend) for t in texts]
        stored = (posts[TEXT_HASH_COLUMN].astype(object).to_numpy() == np.array(keys, object))
        values = posts[columns].to_numpy(dtype=np.float32)
        stored &= np.isfinite(values).all(axis=1)
        vectors[stored] = values[stored]
        return vectors, stored

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        return np.array(self.feature_names_, dtype=object)
