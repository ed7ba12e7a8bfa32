"""Model families of the feedback_sentiment task: each takes canonical feedback columns
(:data:`pipelines.tasks.feedback_data.INPUT_COLUMNS`, plus ``language`` when known) and
``predict`` returns a ``(rows, 3)`` matrix of class probabilities (negative, neutral,
positive).

- ``vader``: the VADER lexicon (``vaderSentiment``, lexicon shipped in the package). Two
  compound-score thresholds are tuned on the training rows for macro-F1; probabilities are
  the training rows' class frequencies within each of the three threshold bins (add-one
  smoothed): the calibrated mapping.
- ``minilm_linear``: MiniLM sentence embeddings (:mod:`pipelines.features.text_embeddings`,
  cached by content hash) + multinomial logistic regression.
- ``categorical_nb``: CategoricalNB on the demographics and the campaign as categories.
- ``gaussian_nb``: GaussianNB on the same columns label-encoded as numbers: the seed's
  choice, kept to show the modelling error (codes have no order or distance).
- ``text_demographics``: embeddings + one-hot demographics and campaign, logistic
  regression.

Language: the text-reading families (vader, minilm_linear, text_demographics) never score a
non-English text as English (:mod:`pipelines.tasks.feedback_language`): for those rows they
abstain and answer the training class frequencies (the prior); the demographic families
do not read text and answer as for any row.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin

from pipelines.tasks.feedback_data import CLASSES, DEMOGRAPHICS
from pipelines.tasks.feedback_language import SCORED_AS_ENGLISH, detect_languages

FAMILIES: tuple[str, ...] = ("vader", "minilm_linear", "categorical_nb", "gaussian_nb",
                             "text_demographics")
TEXT_FAMILIES: tuple[str, ...] = ("vader", "minilm_linear", "text_demographics")
#: Categorical columns the demographic families read.
CATEGORICAL: tuple[str, ...] = ("campaign", *DEMOGRAPHICS)
_K = len(CLASSES)


def _prior(y: np.ndarray) -> np.ndarray:
    counts = np.bincount(np.asarray(y, dtype=int), minlength=_K) + 1.0
    return counts / counts.sum()


class FeedbackModel(ClassifierMixin, BaseEstimator):
    """Shared plumbing: language detection and the prior for abstained rows.

    Args:
        reads_text: Whether the family reads the text (then non-English rows abstain).
        language: ``(min_letters, min_confidence, seed)`` of language detection, used when
            a frame has no ``language`` column (a served request).
    """

    reads_text = True

    def __init__(self, language: tuple[int, float, int]) -> None:
        self.language = language

    def languages(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        """The ``language`` column, or detected when absent."""
        if "language" in X.columns:
            return X["language"].astype(str).to_numpy()
        letters, confidence, seed = self.language
        return np.array(detect_languages(X["text"].tolist(), min_letters=letters,
                                         min_confidence=confidence, seed=seed))

    def fit(self, X: pd.DataFrame, y: Any) -> FeedbackModel:  # noqa: N803
        y = np.asarray(y, dtype=int)
        self.classes_ = np.arange(_K)
        self.prior_ = _prior(y)
        keep = (np.isin(self.languages(X), SCORED_AS_ENGLISH) if self.reads_text
                else np.ones(len(X), dtype=bool))
        self._fit(X[keep], y[keep])
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        out = np.tile(self.prior_, (len(X), 1))
        scored = (np.isin(self.languages(X), SCORED_AS_ENGLISH) if self.reads_text
                  else np.ones(len(X), dtype=bool))
        if scored.any():
            out[scored] = self._proba(X[scored])
        return out / out.sum(axis=1, keepdims=True)

    def predict(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        """Class probabilities (the task's prediction), not labels."""
        return self.predict_proba(X)

    def _fit(self, X: pd.DataFrame, y: np.ndarray) -> None:  # noqa: N803
        raise NotImplementedError

    def _proba(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        raise NotImplementedError


def vader_scores(texts: list[str]) -> np.ndarray:
    """VADER compound score per text (empty text: 0)."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyzer = SentimentIntensityAnalyzer()
    return np.array([analyzer.polarity_scores(t)["compound"] if t else 0.0 for t in texts])


class VaderModel(FeedbackModel):
    """VADER compound score, thresholds tuned for macro-F1 on the training rows."""

    def _fit(self, X: pd.DataFrame, y: np.ndarray) -> None:  # noqa: N803
        from pipelines.evaluate.multiclass_metrics import multiclass_metrics

        compound = vader_scores(X["text"].tolist())
        grid = np.round(np.arange(-0.8, 0.81, 0.05), 2)
        best = (-1.0, -0.05, 0.05)
        for low in grid:
            for high in grid[grid >= low]:
                decided = np.digitize(compound, [low, high], right=True)
                f1 = multiclass_metrics(y, np.eye(_K)[decided], classes=CLASSES)["macro_f1"]
                if f1 > best[0]:
                    best = (f1, float(low), float(high))
        self.train_macro_f1_, self.low_, self.high_ = best
        decided = self._bin(compound)
        counts = np.ones((_K, _K))
        np.add.at(counts, (decided, y), 1.0)
        self.mapping_ = counts / counts.sum(axis=1, keepdims=True)

    def _bin(self, compound: np.ndarray) -> np.ndarray:
        return np.digitize(compound, [self.low_, self.high_], right=True)

    def _proba(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        return self.mapping_[self._bin(vader_scores(X["text"].tolist()))]


class _Embedder:
    """Embeddings of the feedback texts through the shared MiniLM cache."""

    def _embed(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        from pipelines.features.text_embeddings import embed_texts

        Path(self.cache_path).parent.mkdir(parents=True, exist_ok=True)
        return embed_texts(X["text"].tolist(), cache_path=Path(self.cache_path),
                           backend=self.backend, model_cache_dir=Path(self.model_cache_dir),
                           show_progress=False)


class MiniLMLinear(_Embedder, FeedbackModel):
    """MiniLM embeddings + multinomial logistic regression."""

    def __init__(self, language: tuple[int, float, int], *, cache_path: str,
                 model_cache_dir: str, backend: str, c: float, seed: int) -> None:
        super().__init__(language)
        self.cache_path, self.model_cache_dir, self.backend = cache_path, model_cache_dir, backend
        self.c, self.seed = c, seed

    def _features(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        return self._embed(X)

    def _fit(self, X: pd.DataFrame, y: np.ndarray) -> None:  # noqa: N803
        from sklearn.linear_model import LogisticRegression

        self.linear_ = LogisticRegression(C=self.c, max_iter=2000, random_state=self.seed)
        self.linear_.fit(self._features(X), y)
        self.seen_ = self.linear_.classes_

    def _proba(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        out = np.full((len(X), _K), 1e-9)
        out[:, self.seen_] = self.linear_.predict_proba(self._features(X))
        return out


class TextDemographics(MiniLMLinear):
    """MiniLM embeddings + one-hot demographics and campaign, logistic regression."""

    def _features(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        from scipy import sparse

        if not hasattr(self, "onehot_"):
            from sklearn.preprocessing import OneHotEncoder

            self.onehot_ = OneHotEncoder(handle_unknown="ignore").fit(
                X[list(CATEGORICAL)].astype(str))
        onehot = self.onehot_.transform(X[list(CATEGORICAL)].astype(str))
        return sparse.hstack([sparse.csr_matrix(self._embed(X)), onehot]).tocsr()

    def _fit(self, X: pd.DataFrame, y: np.ndarray) -> None:  # noqa: N803
        if hasattr(self, "onehot_"):
            del self.onehot_
        super()._fit(X, y)


class CategoricalDemographics(FeedbackModel):
    """CategoricalNB on demographics and campaign as categories. A value never seen in
    training (a new campaign) carries no evidence: its column is left out of that row's
    likelihood. (Scoring it as an empty category would favour the rarer classes, whose
    smoothed share of an empty category is larger.)"""

    reads_text = False

    def __init__(self, language: tuple[int, float, int], *, alpha: float) -> None:
        super().__init__(language)
        self.alpha = alpha

    def _fit(self, X: pd.DataFrame, y: np.ndarray) -> None:  # noqa: N803
        from sklearn.naive_bayes import CategoricalNB
        from sklearn.preprocessing import OrdinalEncoder

        self.encoder_ = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1)
        codes = self.encoder_.fit_transform(X[list(CATEGORICAL)].astype(str)).astype(int)
        self.sizes_ = [len(c) + 1 for c in self.encoder_.categories_]   # + unseen
        self.nb_ = CategoricalNB(alpha=self.alpha, min_categories=self.sizes_)
        self.nb_.fit(codes, y)
        self.seen_ = self.nb_.classes_

    def _proba(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        codes = self.encoder_.transform(X[list(CATEGORICAL)].astype(str)).astype(int)
        joint = np.tile(self.nb_.class_log_prior_, (len(X), 1))
        for j, table in enumerate(self.nb_.feature_log_prob_):   # (classes, categories)
            seen = codes[:, j] >= 0
            joint[seen] += table[:, codes[seen, j]].T
        joint -= joint.max(axis=1, keepdims=True)
        out = np.full((len(X), _K), 1e-9)
        out[:, self.seen_] = np.exp(joint) / np.exp(joint).sum(axis=1, keepdims=True)
        return out


class GaussianDemographics(CategoricalDemographics):
    """GaussianNB on label-encoded categories: treats codes as measurements (the seed's
    modelling error, reported beside CategoricalNB)."""

    def _fit(self, X: pd.DataFrame, y: np.ndarray) -> None:  # noqa: N803
        from sklearn.naive_bayes import GaussianNB
        from sklearn.preprocessing import OrdinalEncoder

        self.encoder_ = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1)
        codes = self.encoder_.fit_transform(X[list(CATEGORICAL)].astype(str))
        self.sizes_ = [len(c) + 1 for c in self.encoder_.categories_]
        self.nb_ = GaussianNB().fit(codes, y)
        self.seen_ = self.nb_.classes_

    def _proba(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        codes = self.encoder_.transform(X[list(CATEGORICAL)].astype(str))
        codes = np.where(codes < 0, np.array(self.sizes_) - 1, codes)   # unseen: a new code
        out = np.full((len(X), _K), 1e-9)
        out[:, self.seen_] = self.nb_.predict_proba(codes)
        return out


def make_model(name: str, *, language: tuple[int, float, int], cache_path: Path,
               model_cache_dir: Path, backend: str, seed: int, c: float,
               alpha: float) -> FeedbackModel:
    """An unfitted model of family ``name`` (``c``: the text models' inverse L2 strength,
    ``alpha``: the Naive Bayes smoothing; both from the task's params section).

    Raises:
        ValueError: for a name not in :data:`FAMILIES`.
    """
    if name == "vader":
        return VaderModel(language)
    if name in ("minilm_linear", "text_demographics"):
        cls = MiniLMLinear if name == "minilm_linear" else TextDemographics
        return cls(language, cache_path=str(cache_path), model_cache_dir=str(model_cache_dir),
                   backend=backend, c=c, seed=seed)
    if name in ("categorical_nb", "gaussian_nb"):
        cls = CategoricalDemographics if name == "categorical_nb" else GaussianDemographics
        return cls(language, alpha=alpha)
    raise ValueError(f"make_model: 'name' must be one of {list(FAMILIES)}; got {name!r}.")
