"""Drift of a task's free text: per-row descriptors and the drift of its embeddings.

A raw text column cannot be judged like a category (every text is new), so a task that
declares one (:meth:`pipelines.tasks.base.Task.text_drift`) has it replaced, on both sides,
by descriptor columns that go into the same per-column verdict as its other columns
(:func:`with_text_descriptors`, scored and calibrated by :mod:`pipelines.monitor.drift`):

- ``<text>_length``: characters per text, Evidently's ``TextLength`` descriptor;
- ``<text>_word_count``: words per text, Evidently's ``WordCount`` definition (runs of ASCII
  letters after removing everything else: a text in another script counts few words);
- ``<text>_vader_compound``: the VADER compound score in [-1, 1] (the task's sentiment
  scorer; Evidently's own Sentiment descriptor needs an NLTK download and fails offline);
- ``<text>_language``: the detected language code, a categorical column: its drift is the
  Jensen-Shannon distance of the language mix (shares per language are in the summary).

The texts' meaning is judged on their sentence embeddings (:func:`embedding_drift`): the
unbiased MMD² with an RBF kernel of median-heuristic width, Evidently's ``mmd`` embeddings
drift method (same formula, same width rule; the HTML report runs Evidently's own with the
threshold decided here), on a seeded sample of at most ``rows`` texts per side. The
threshold is calibrated by a permutation test on the same sample: ``max(min_mmd,
safety_factor × the quantile of MMD² over random relabellings)``, so it adapts to the sample
size and to how spread the texts are.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)

#: The descriptor suffixes, in the order the columns are added.
DESCRIPTORS: tuple[str, ...] = ("length", "word_count", "vader_compound", "language")
#: Evidently's WordCount: everything but ASCII letters and spaces is removed first.
_NOT_WORD = re.compile(r"[^a-zA-Z ]+")
#: Evidently's MMD width rule samples at most this many rows per side; the sample drawn here
#: stays within it, so the width (and the score) equal Evidently's.
MAX_EMBEDDING_ROWS = 1000


@dataclass(frozen=True)
class TextDrift:
    """A task's free text as drift monitoring describes it (built by the task from its
    settings: :meth:`pipelines.tasks.base.Task.text_drift`).

    Attributes:
        column: The text column of the task's rows and drift frame.
        languages: Texts → one language code each (``"und"``: undetermined).
        sentiment: Texts → one VADER compound score each.
        embed: Texts → an ``(n, d)`` embedding array.
        language_column: A column of the task's rows that already holds each text's
            language as ``languages`` detects it (the features stage's), read instead of
            detecting again where present (the stored training reference: detection costs
            milliseconds a text); None: always detect.
        rows: Texts per side embedded for :func:`embedding_drift` (``monitor.text_rows``).
        permutations: Relabellings of the permutation test (``monitor.embedding_permutations``).
        min_mmd: The smallest MMD² called drift (``monitor.min_effect.mmd``).
    """

    column: str
    languages: Callable[[list[str]], Sequence[str]]
    sentiment: Callable[[list[str]], Sequence[float]]
    embed: Callable[[list[str]], np.ndarray]
    language_column: str | None
    rows: int
    permutations: int
    min_mmd: float


def descriptor_names(column: str) -> list[str]:
    """The descriptor columns :func:`with_text_descriptors` adds for ``column``."""
    return [f"{column}_{name}" for name in DESCRIPTORS]


def word_count(text: object) -> int:
    """Evidently's ``WordCount`` of one text (0 for a missing one)."""
    return len(_NOT_WORD.sub("", text).split()) if isinstance(text, str) else 0


def describe_texts(texts: pd.Series, *, spec: TextDrift,
                   languages: Sequence[str] | None = None) -> pd.DataFrame:
    """The descriptor columns of ``texts`` (index reset), named by :func:`descriptor_names`;
    ``languages``: the texts' languages when already detected (else ``spec.languages``).

    Raises:
        ValueError: if the task's scorers return a wrong number of values.
    """
    values = ["" if pd.isna(t) else str(t) for t in texts]
    length, words, vader, language = descriptor_names(spec.column)
    sentiment = np.asarray(spec.sentiment(values), dtype=float)
    languages = [str(code) for code in (spec.languages(values) if languages is None
                                        else languages)]
    if len(sentiment) != len(values) or len(languages) != len(values):
        raise ValueError(f"describe_texts: column {spec.column!r}: the task's scorers gave "
                         f"{len(sentiment)} sentiment scores and {len(languages)} languages "
                         f"for {len(values)} texts; they must give one per text.")
    return pd.DataFrame({length: [len(t) for t in values],
                         words: [word_count(t) for t in values],
                         vader: sentiment, language: languages})


def with_text_descriptors(frame: pd.DataFrame, rows: pd.DataFrame, *, spec: TextDrift
                          ) -> pd.DataFrame:
    """``frame`` (the drift frame of ``rows``, one row each) with the text column replaced
    by the descriptor columns of ``rows``' texts (their ``spec.language_column`` read where
    present).

    Raises:
        ValueError: if the lengths differ or ``rows`` lack the text column.
    """
    if spec.column not in rows.columns:
        raise ValueError(f"with_text_descriptors: the rows lack the text column "
                         f"{spec.column!r}; they have {list(rows.columns)[:20]}.")
    if len(frame) != len(rows):
        raise ValueError(f"with_text_descriptors: column {spec.column!r}: {len(rows)} texts "
                         f"for {len(frame)} drift-frame rows; they must match.")
    known = (rows[spec.language_column].astype(str).tolist()
             if spec.language_column and spec.language_column in rows.columns else None)
    out = frame.drop(columns=[spec.column], errors="ignore").reset_index(drop=True)
    described = describe_texts(rows[spec.column].reset_index(drop=True), spec=spec,
                               languages=known)
    return pd.concat([out, described], axis=1)


def language_mix(languages: pd.Series) -> dict[str, float]:
    """Share of each language, largest first."""
    shares = languages.astype(str).value_counts(normalize=True)
    return {str(k): round(float(v), 4) for k, v in shares.items()}


def sample_texts(texts: pd.Series, rows: int, seed: int) -> list[str]:
    """At most ``rows`` texts, a seeded sample in their original order (the decision and
    the report draw the same one)."""
    values = ["" if pd.isna(t) else str(t) for t in texts]
    if len(values) <= rows:
        return values
    chosen = np.sort(np.random.default_rng(seed).choice(len(values), rows, replace=False))
    return [values[i] for i in chosen]


def rbf_kernel(reference: np.ndarray, current: np.ndarray) -> np.ndarray:
    """The RBF kernel over the stacked rows with Evidently's width: ``gamma = 1 /
    median(‖x - y‖)²`` over the reference × current pairs."""
    x, y = np.asarray(reference, dtype=float), np.asarray(current, dtype=float)
    stacked = np.vstack([x, y])
    norms = (stacked ** 2).sum(axis=1)
    squared = np.maximum(norms[:, None] + norms[None, :] - 2 * stacked @ stacked.T, 0.0)
    cross = np.sqrt(squared[: len(x), len(x):])
    sigma2 = float(np.median(cross)) ** 2
    return np.exp(-squared / max(sigma2, 1e-12))


def mmd2u(kernel: np.ndarray, m: int) -> float:
    """The unbiased MMD² of the first ``m`` rows against the rest (Evidently's ``MMD2u``)."""
    n = len(kernel) - m
    kx, ky, kxy = kernel[:m, :m], kernel[m:, m:], kernel[:m, m:]
    return float((kx.sum() - np.trace(kx)) / (m * (m - 1))
                 + (ky.sum() - np.trace(ky)) / (n * (n - 1)) - 2 * kxy.sum() / (m * n))


def _mmd2u_labelled(kernel: np.ndarray, labels: np.ndarray, m: int) -> np.ndarray:
    """:func:`mmd2u` for each column of ``labels`` (1: a row of the first sample, ``m`` of
    them): one matrix product instead of a reindexed kernel per relabelling."""
    n = len(kernel) - m
    row_sums, diagonal, total = kernel.sum(axis=1), np.diag(kernel), kernel.sum()
    xx = (labels * (kernel @ labels)).sum(axis=0)
    x_rows = row_sums @ labels
    xy, yy = x_rows - xx, total - 2 * x_rows + xx
    x_diag = diagonal @ labels
    return ((xx - x_diag) / (m * (m - 1)) + (yy - (diagonal.sum() - x_diag)) / (n * (n - 1))
            - 2 * xy / (m * n))


def embedding_drift(reference: np.ndarray, current: np.ndarray, *, permutations: int,
                    quantile: float, safety_factor: float, min_mmd: float, seed: int
                    ) -> dict[str, Any]:
    """MMD² of ``current`` against ``reference`` embeddings with a permutation-calibrated
    threshold.

    Args:
        reference, current: ``(m, d)`` and ``(n, d)`` embeddings, each at most
            :data:`MAX_EMBEDDING_ROWS` rows and at least 2.
        permutations: Random relabellings of the pooled rows (the null distribution).
        quantile, safety_factor: The threshold is ``safety_factor`` × this quantile of the
            null MMD² values (``monitor.quantile``, ``monitor.safety_factor``) ...
        min_mmd: ... and at least this.
        seed: Seed of the relabellings.

    Returns:
        ``method`` ("mmd"), ``score`` (MMD², floored at 0 as Evidently does), ``threshold``,
        ``drifted`` (score above threshold, Evidently's rule), ``p_value`` (share of
        relabellings at least as large), ``null_quantile`` and the row counts.

    Raises:
        ValueError: for too few or too many rows, or bad settings.
    """
    m, n = len(reference), len(current)
    if min(m, n) < 2 or max(m, n) > MAX_EMBEDDING_ROWS:
        raise ValueError(f"embedding_drift: each side needs 2 to {MAX_EMBEDDING_ROWS} rows; "
                         f"got {m} reference and {n} current.")
    if permutations < 1 or not 0 < quantile <= 1 or safety_factor < 1 or min_mmd < 0:
        raise ValueError(f"embedding_drift: needs permutations >= 1, 0 < quantile <= 1, "
                         f"safety_factor >= 1, min_mmd >= 0; got {permutations}, {quantile}, "
                         f"{safety_factor}, {min_mmd}.")
    kernel = rbf_kernel(reference, current)
    score = mmd2u(kernel, m)
    rng = np.random.default_rng(seed)
    labels = np.zeros((m + n, permutations))
    for i in range(permutations):
        labels[rng.permutation(m + n)[:m], i] = 1.0
    null = _mmd2u_labelled(kernel, labels, m)
    null_quantile = float(np.quantile(null, quantile))
    threshold = max(min_mmd, safety_factor * null_quantile)
    return {"method": "mmd", "score": max(score, 0.0), "threshold": threshold,
            "drifted": bool(score > threshold),
            "p_value": float((1 + (null >= score).sum()) / (1 + permutations)),
            "null_quantile": null_quantile, "permutations": permutations,
            "rows": {"reference": m, "current": n}}


def text_drift_summary(reference_texts: pd.Series, current_texts: pd.Series,
                       reference: pd.DataFrame, current: pd.DataFrame,
                       drift: dict[str, Any], *, spec: TextDrift, quantile: float,
                       safety_factor: float, seed: int) -> dict[str, Any]:
    """What the check says about the text: each descriptor's verdict (from ``drift``, the
    per-column decision), the language mix on both sides and the embedding drift.

    Args:
        reference_texts, current_texts: The raw texts of both sides.
        reference, current: The judged frames (with the descriptor columns).
        drift: :func:`pipelines.monitor.drift.detect_drift`'s summary of those frames.
        spec: The task's :class:`TextDrift`.
        quantile, safety_factor, seed: As :func:`embedding_drift`.
    """
    started = time.perf_counter()
    names = descriptor_names(spec.column)
    descriptors = {name: {k: drift["columns"][name][k]
                          for k in ("method", "score", "threshold", "drifted")}
                   for name in names}
    language = names[-1]
    ref_sample = sample_texts(reference_texts, spec.rows, seed)
    cur_sample = sample_texts(current_texts, spec.rows, seed)
    embedded = time.perf_counter()
    ref_emb, cur_emb = spec.embed(ref_sample), spec.embed(cur_sample)
    embed_seconds = time.perf_counter() - embedded
    embedding = embedding_drift(ref_emb, cur_emb, permutations=spec.permutations,
                                quantile=quantile, safety_factor=safety_factor,
                                min_mmd=spec.min_mmd, seed=seed)
    summary = {"column": spec.column, "descriptors": descriptors,
               "drifted_descriptors": [n for n in names if descriptors[n]["drifted"]],
               "languages": {"reference": language_mix(reference[language]),
                             "current": language_mix(current[language])},
               "embedding": {**embedding, "embed_seconds": round(embed_seconds, 3)},
               "seconds": round(time.perf_counter() - started, 3)}
    logger.info("text drift of %r: descriptors %s; drifted %s; languages %s → %s; embedding "
                "MMD² %.4f (threshold %.4f, p %.3f, %d/%d texts embedded in %.1f s) → %s",
                spec.column, {n: round(d["score"] or 0.0, 4) for n, d in descriptors.items()},
                summary["drifted_descriptors"] or "none", summary["languages"]["reference"],
                summary["languages"]["current"], embedding["score"], embedding["threshold"],
                embedding["p_value"], len(ref_sample), len(cur_sample), embed_seconds,
                "drifted" if embedding["drifted"] else "no drift")
    return summary
