"""Features of an article for the article-engagement models, one definition for training
and serving (:class:`ArticleFeaturizer`, the first step of every saved model).

What a client sends is the article as submitted: ``title``, ``url``, ``author`` and
``created_at``. From those:

* **title**: log length in characters and words, "Show HN" / "Ask HN" prefixes, a question
  mark, a digit, a bracketed tag (``[pdf]``, ``[video]``, a year), the share of capitals;
  and, with ``title_components > 0``, the all-MiniLM-L6-v2 embedding of the title (cached
  by content hash: :mod:`pipelines.features.text_embeddings`) reduced by an SVD fitted on
  the training titles only.
* **time**: hour of day and day of week as points on a circle, weekend.
* **domain** (the host of ``url``, ``www.`` dropped; a text post is ``(text)``) and
  **author history**, both leakage-safe: only the earlier articles of the same author (or
  domain) whose outcomes had matured count (``created_at <= t - maturity_hours`` and
  ``< t``), as for posts (:mod:`pipelines.features.account_history`). Columns: log1p of
  the number of earlier articles, the smoothed mean log1p points and comments of the
  matured ones (shrunk towards the training mean by :data:`PRIOR_WEIGHT` pseudo-articles,
  so one lucky article does not make a star), hours since the author's previous article,
  and a flag for no matured history.

Known outcomes are the articles the featurizer was fitted on (plus any added with
:meth:`ArticleFeaturizer.extend_history`) and the rows of the batch being transformed that
carry their outcomes (a backtest over a file of labelled articles); a client's request
carries none, so it reads the history frozen at training time.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from pipelines.tasks.articles_data import INPUT_COLUMNS, OUTCOME_COLUMNS

#: Pseudo-articles at the training mean that every author's / domain's mean is shrunk with.
PRIOR_WEIGHT = 3.0
TEXT_DOMAIN = "(text)"
#: Seconds since this instant order articles in the history lookups (the contract's floor).
_EPOCH = pd.Timestamp("2000-01-01", tz="UTC")
#: Keys are coded as code * _SPAN + seconds since _EPOCH (fits int64 for ~10^8 keys).
_SPAN = 10**10
_TAG = re.compile(r"[\[(]\s*(?:pdf|video|\d{4})\s*[\])]", re.IGNORECASE)

TITLE_FEATURES = ("f_log_title_chars", "f_log_title_words", "f_show_hn", "f_ask_hn",
                  "f_title_question", "f_title_digit", "f_title_tag", "f_title_upper_share",
                  "f_has_url")
TIME_FEATURES = ("f_hour_sin", "f_hour_cos", "f_weekday_sin", "f_weekday_cos", "f_weekend")
DOMAIN_FEATURES = ("f_domain_log_prior", "f_domain_mean_log_points",
                   "f_domain_mean_log_comments", "f_domain_missing")
AUTHOR_FEATURES = ("f_author_log_prior", "f_author_mean_log_points",
                   "f_author_mean_log_comments", "f_author_log_hours_since_prev",
                   "f_author_missing")


def domain_of(urls: pd.Series) -> pd.Series:
    """The lower-case host of each URL without ``www.``; :data:`TEXT_DOMAIN` for none."""
    text = urls.astype(object).where(urls.notna(), "").astype(str).str.strip().str.lower()
    host = text.str.replace(r"^[a-z][a-z0-9+.-]*://", "", regex=True).str.split(
        r"[/?#:]", n=1, regex=True).str[0].str.removeprefix("www.")
    return host.where(host != "", TEXT_DOMAIN)


def title_features(titles: pd.Series, urls: pd.Series) -> pd.DataFrame:
    """The title and link columns of :data:`TITLE_FEATURES` (same index)."""
    text = titles.astype(str).str.strip()
    letters = text.str.count(r"[A-Za-z]")
    out = pd.DataFrame({
        "f_log_title_chars": np.log1p(text.str.len()),
        "f_log_title_words": np.log1p(text.str.split().str.len().fillna(0)),
        "f_show_hn": text.str.lower().str.startswith("show hn").astype(float),
        "f_ask_hn": text.str.lower().str.startswith("ask hn").astype(float),
        "f_title_question": text.str.contains("?", regex=False).astype(float),
        "f_title_digit": text.str.contains(r"\d").astype(float),
        "f_title_tag": text.str.contains(_TAG).astype(float),
        "f_title_upper_share": (text.str.count(r"[A-Z]") / letters.clip(lower=1)),
        "f_has_url": (domain_of(urls) != TEXT_DOMAIN).astype(float)}, index=titles.index)
    return out.astype(float)


def time_features(created_at: pd.Series) -> pd.DataFrame:
    """The columns of :data:`TIME_FEATURES` (same index)."""
    times = pd.to_datetime(created_at, utc=True)
    hour = (times.dt.hour + times.dt.minute / 60).to_numpy(dtype=float)
    weekday = times.dt.weekday.to_numpy(dtype=float)
    return pd.DataFrame({
        "f_hour_sin": np.sin(2 * np.pi * hour / 24), "f_hour_cos": np.cos(2 * np.pi * hour / 24),
        "f_weekday_sin": np.sin(2 * np.pi * weekday / 7),
        "f_weekday_cos": np.cos(2 * np.pi * weekday / 7),
        "f_weekend": (weekday >= 5).astype(float)}, index=created_at.index)


def _seconds(times: pd.Series) -> np.ndarray:
    stamps = pd.to_datetime(times, utc=True)
    return np.clip((stamps - _EPOCH).dt.total_seconds().to_numpy(), 0, _SPAN - 1).astype(np.int64)


def prior_outcomes(keys: pd.Series, times: pd.Series, pool: pd.DataFrame, *,
                   maturity_hours: float) -> dict[str, np.ndarray]:
    """What the earlier articles of each row's key (author or domain) say, point in time.

    Args:
        keys, times: The rows asked about (aligned).
        pool: Known outcomes: columns ``key``, ``created_at``, ``log_points``,
            ``log_comments``.
        maturity_hours: An earlier article's outcome counts once it is this old.

    Returns:
        Arrays, one value per row: ``prior`` (earlier articles, matured or not),
        ``matured`` (their matured part), ``sum_log_points``, ``sum_log_comments`` (over the
        matured ones) and ``seconds_since_prev`` (NaN without an earlier article).
    """
    codes = pd.Index(pool["key"].astype(str).unique())
    pool_code = codes.get_indexer(pool["key"].astype(str)).astype(np.int64)
    composite = pool_code * _SPAN + _seconds(pool["created_at"])
    order = np.argsort(composite, kind="stable")
    composite = composite[order]
    seconds = composite % _SPAN
    cums = {name: np.concatenate([[0.0], np.cumsum(pool[name].to_numpy(float)[order])])
            for name in ("log_points", "log_comments")}
    query_code = codes.get_indexer(keys.astype(str)).astype(np.int64)
    known = query_code >= 0
    base = np.where(known, query_code, 0) * _SPAN
    t = _seconds(times)
    start = np.searchsorted(composite, base, side="left")
    before = np.searchsorted(composite, base + t, side="left")          # created < t
    lag = int(round(maturity_hours * 3600))
    matured_end = (np.minimum(np.searchsorted(composite, base + t - lag, side="right"), before)
                   if lag > 0 else before)
    matured_end = np.maximum(matured_end, start)
    prior = np.where(known, before - start, 0)
    matured = np.where(known, matured_end - start, 0)
    prev = np.where(prior > 0, t - seconds[np.maximum(before - 1, 0)], np.nan)
    return {"prior": prior.astype(float), "matured": matured.astype(float),
            "sum_log_points": np.where(known, cums["log_points"][matured_end]
                                       - cums["log_points"][start], 0.0),
            "sum_log_comments": np.where(known, cums["log_comments"][matured_end]
                                         - cums["log_comments"][start], 0.0),
            "seconds_since_prev": prev.astype(float)}


def outcome_pool(rows: pd.DataFrame, key: str) -> pd.DataFrame:
    """Labelled ``rows`` as a history pool keyed by ``key`` (``author`` or ``domain``)."""
    labelled = rows[rows[list(OUTCOME_COLUMNS)].notna().all(axis=1)]
    key_values = (domain_of(labelled["url"]) if key == "domain" else labelled[key])
    return pd.DataFrame({
        "key": key_values.astype(str).to_numpy(),
        "created_at": pd.to_datetime(labelled["created_at"], utc=True).to_numpy(),
        "log_points": np.log1p(labelled["points"].to_numpy(float)),
        "log_comments": np.log1p(labelled["comments"].to_numpy(float))})


def past_median(rows: pd.DataFrame, pool_rows: pd.DataFrame, target: str, *,
                maturity_hours: float, fallback: float) -> np.ndarray:
    """Each row's author's median ``target`` over their earlier matured articles in
    ``pool_rows`` (the naive reference); ``fallback`` for an author without one."""
    pool = pool_rows[pool_rows[target].notna()]
    pool = pool.assign(_t=_seconds(pool["created_at"])).sort_values("_t", kind="stable")
    by_author = {a: (g["_t"].to_numpy(), g[target].to_numpy(float))
                 for a, g in pool.groupby(pool["author"].astype(str), sort=False)}
    lag = int(round(maturity_hours * 3600))
    out = np.full(len(rows), float(fallback))
    times = _seconds(rows["created_at"])
    for i, (author, t) in enumerate(zip(rows["author"].astype(str), times, strict=True)):
        found = by_author.get(author)
        if found is None:
            continue
        stamps, values = found
        end = min(np.searchsorted(stamps, t - lag, side="right"),
                  np.searchsorted(stamps, t, side="left"))
        if end > 0:
            out[i] = float(np.median(values[:end]))
    return out


class ArticleFeaturizer(TransformerMixin, BaseEstimator):
    """Article rows (:data:`INPUT_COLUMNS`, outcomes optional) -> the feature matrix.

    Args:
        maturity_hours: An earlier article's outcome counts once it is this old.
        author_history: Whether the author-history columns are produced (False: the
            history-free reference).
        title_components: SVD size of the title embeddings (0: no embeddings).
        text_backend: The MiniLM backend (:data:`pipelines.features.text_embeddings.BACKENDS`).
        embedding_cache: Parquet cache of embeddings (read; misses are encoded).
        model_cache_dir: Where the exported ONNX text model lives.
        seed: Seed of the SVD.

    Attributes:
        pools_: Known outcomes by history key (``author``, ``domain``).
        means_: Training mean log1p points and comments (the shrinkage target).
        reducer_: The fitted :class:`TextReducer` (None without embeddings).
        feature_names_out_: The columns :meth:`transform` returns.
    """

    def __init__(self, maturity_hours: float, author_history: bool, title_components: int,
                 text_backend: str, embedding_cache: str | None, model_cache_dir: str | None,
                 seed: int) -> None:
        self.maturity_hours = maturity_hours
        self.author_history = author_history
        self.title_components = title_components
        self.text_backend = text_backend
        self.embedding_cache = embedding_cache
        self.model_cache_dir = model_cache_dir
        self.seed = seed

    def fit(self, X: pd.DataFrame, y: Any = None) -> ArticleFeaturizer:  # noqa: N803
        """Learn the history pools, the shrinkage means and the title SVD from labelled
        articles ``X``.

        Raises:
            ValueError: if ``X`` lacks input or outcome columns, or has no labelled row.
        """
        _check_columns(X, (*INPUT_COLUMNS, *OUTCOME_COLUMNS), "fit")
        self.pools_ = {key: outcome_pool(X, key) for key in ("author", "domain")}
        if self.pools_["author"].empty:
            raise ValueError("ArticleFeaturizer.fit: 'X' has no article with both points and "
                             "comments; the history needs labelled articles.")
        self.means_ = {name: float(self.pools_["author"][name].mean())
                       for name in ("log_points", "log_comments")}
        self.reducer_ = None
        if self.title_components > 0:
            from pipelines.features.text_embeddings import TextReducer

            self.reducer_ = TextReducer(int(self.title_components),
                                        random_state=int(self.seed)).fit(
                self._embed(X["title"]))
        self.feature_names_out_ = np.array(self._names(), dtype=object)
        return self

    def extend_history(self, rows: pd.DataFrame) -> ArticleFeaturizer:
        """Add labelled ``rows`` (later articles) to the known outcomes; nothing else is
        refitted."""
        _check_columns(rows, (*INPUT_COLUMNS, *OUTCOME_COLUMNS), "extend_history")
        self.pools_ = {key: pd.concat([pool, outcome_pool(rows, key)], ignore_index=True)
                       for key, pool in self.pools_.items()}
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:  # noqa: N803
        """The feature columns of articles ``X`` (extra columns are ignored; rows with
        outcomes also count as known history for the later rows of ``X``).

        Raises:
            ValueError: if ``X`` is not a DataFrame with the input columns.
        """
        if not isinstance(X, pd.DataFrame):
            raise ValueError(f"ArticleFeaturizer.transform: 'X' must be a DataFrame of article "
                             f"columns {list(INPUT_COLUMNS)}; got {type(X).__name__}.")
        _check_columns(X, INPUT_COLUMNS, "transform")
        X = X.reset_index(drop=True)  # noqa: N806
        parts = [title_features(X["title"], X["url"]), time_features(X["created_at"])]
        batch = (X if all(c in X.columns for c in OUTCOME_COLUMNS)
                 else X.iloc[0:0].assign(points=[], comments=[]))
        keys = {"author": X["author"], "domain": domain_of(X["url"])}
        for key in ("domain", "author") if self.author_history else ("domain",):
            extra = outcome_pool(batch, key)
            pool = (pd.concat([self.pools_[key], extra], ignore_index=True).drop_duplicates(
                ignore_index=True) if len(extra) else self.pools_[key])
            parts.append(self._history(key, prior_outcomes(
                keys[key], X["created_at"], pool, maturity_hours=self.maturity_hours)))
        if self.reducer_ is not None:
            reduced = self.reducer_.transform(self._embed(X["title"]))
            parts.append(pd.DataFrame(reduced, columns=self.reducer_.get_feature_names_out()))
        return pd.concat(parts, axis=1)[list(self.feature_names_out_)]

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return np.array(self._names(), dtype=object)

    def _names(self) -> list[str]:
        names = [*TITLE_FEATURES, *TIME_FEATURES, *DOMAIN_FEATURES]
        if self.author_history:
            names += list(AUTHOR_FEATURES)
        names += [f"text_svd_{i}" for i in range(int(self.title_components))]
        return names

    def _history(self, key: str, found: dict[str, np.ndarray]) -> pd.DataFrame:
        matured = found["matured"]
        out = {
            f"f_{key}_log_prior": np.log1p(found["prior"]),
            f"f_{key}_mean_log_points": (found["sum_log_points"] + PRIOR_WEIGHT
                                         * self.means_["log_points"]) / (matured + PRIOR_WEIGHT),
            f"f_{key}_mean_log_comments": (found["sum_log_comments"] + PRIOR_WEIGHT
                                           * self.means_["log_comments"])
            / (matured + PRIOR_WEIGHT),
            f"f_{key}_missing": (matured == 0).astype(float)}
        if key == "author":
            hours = found["seconds_since_prev"] / 3600
            # no earlier article: as if the last one were a year ago
            out["f_author_log_hours_since_prev"] = np.log1p(np.nan_to_num(hours, nan=24 * 365))
        return pd.DataFrame(out)

    def _embed(self, titles: pd.Series) -> np.ndarray:
        """MiniLM embeddings of ``titles``: cache hits from ``embedding_cache`` (never
        written here: serving must not race the features stage), misses encoded."""
        from pipelines.features.embedding_cache import read_cache
        from pipelines.features.text_embeddings import (
            EMBEDDING_DIM,
            get_encoder,
            normalize_text,
            text_hash,
        )

        texts = [normalize_text(t) for t in titles]
        hashes = [text_hash(t, backend=self.text_backend) for t in texts]
        cache = Path(self.embedding_cache) if self.embedding_cache else None
        if cache is not None and cache.exists():
            known, vectors = read_cache(cache, dim=EMBEDDING_DIM)
        else:
            known, vectors = np.array([], dtype=object), np.zeros((0, EMBEDDING_DIM), np.float32)
        position = pd.Index(known).get_indexer(hashes)
        out = np.zeros((len(texts), EMBEDDING_DIM), dtype=np.float32)
        out[position >= 0] = vectors[position[position >= 0]]
        missing = np.flatnonzero(position < 0)
        if missing.size:
            cache_dir = Path(self.model_cache_dir or Path.home() / ".cache" / "engageflow")
            out[missing] = get_encoder(self.text_backend, cache_dir).encode(
                [texts[i] for i in missing], batch_size=32)
        return out


def _check_columns(frame: pd.DataFrame, columns: tuple[str, ...], where: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"ArticleFeaturizer.{where}: rows lack article column(s) {missing}; "
                         f"an article needs {list(columns)}.")
