"""Batch scoring's predictions for many rows: chunks of whole groups, on every thread.

A post model counts a batch's posts of an account as that account's earlier posts, so rows
are dealt to chunks by whole groups of the task's ``score_group``: each row's prediction
equals the one of a single call on all rows (tested). A task that predicts with
``model.predict`` (the default :meth:`pipelines.tasks.base.Task.predict`) is predicted by
:func:`pipelines.serve.batch_predict.batch_predictor` (equal, faster for batches); when
that compiles the model, ``threads`` chunks are featurized and predicted at once, each
with a single-threaded tree kernel (the features are numpy and pandas work that a second
chunk overlaps; a chunk is then at most ``chunk_rows / threads`` rows, so memory stays
that of one ``chunk_rows`` chunk).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)

#: Fewer rows than this are predicted in one call (threads would cost more than they save).
MIN_ROWS_PER_THREAD = 8192


def may_compile(scorer: Any) -> bool:
    """Whether ``scorer``'s model may be predicted by the compiled batch form: the task
    predicts with ``model.predict`` (the default :meth:`pipelines.tasks.base.Task.predict`)."""
    from pipelines.tasks.base import Task

    return type(scorer).predict is Task.predict


class ChunkPredictor:
    """Predicts rows of one task with one model, in chunks; built once per scoring run.

    Args:
        scorer: The task (:class:`pipelines.tasks.base.Task`).
        model: Its loaded model.
        threads: Threads to predict with (>= 1).
    """

    def __init__(self, scorer: Any, model: Any, *, threads: int) -> None:
        self.scorer = scorer
        self.workers = 1
        if not may_compile(scorer):
            self._predict: Callable[[pd.DataFrame], np.ndarray] = (
                lambda part: np.asarray(scorer.predict(model, scorer.model_input(part)), float))
            return
        from pipelines.serve.batch_predict import BatchPostModel, batch_predictor

        fast = batch_predictor(model, threads=1)
        compiled = getattr(fast, "__self__", None)
        if not isinstance(compiled, BatchPostModel):  # the model's own predict, its threads
            self._predict = lambda part: fast(scorer.model_input(part))
            return
        self.workers = threads
        if scorer.model_input_retypes_rows:
            # contract-checked canonical posts featurize as their model input does
            # (tested): no model-input copy of the rows
            self._predict = compiled.predict
        else:
            self._predict = lambda part: compiled.predict(scorer.model_input(part))

    def predict(self, rows: pd.DataFrame, *, chunk_rows: int) -> np.ndarray:
        """Predictions for ``rows`` (in their order), at most about ``chunk_rows`` rows in
        memory at a time.

        Raises:
            ValueError: if ``chunk_rows`` < 1.
        """
        if chunk_rows < 1:
            raise ValueError(f"ChunkPredictor.predict: 'chunk_rows' must be >= 1; got "
                             f"{chunk_rows}.")
        if not len(rows):
            return np.empty(0)
        workers = max(1, min(self.workers, len(rows) // MIN_ROWS_PER_THREAD))
        chunks = max(-(-len(rows) * workers // chunk_rows), workers)
        if chunks == 1:
            return self._predict(rows)
        labels = self._labels(rows, chunks)
        out = np.empty(len(rows))

        def one(chunk: int) -> tuple[np.ndarray, np.ndarray]:
            where = np.flatnonzero(labels == chunk)
            return where, (self._predict(rows.iloc[where]) if len(where) else np.empty(0))

        if workers == 1:
            done = map(one, range(chunks))
        else:
            pool = ThreadPoolExecutor(workers, thread_name_prefix="score")
            done = pool.map(one, range(chunks))
        try:
            for where, values in done:
                out[where] = values
        finally:
            if workers > 1:
                pool.shutdown()
        logger.info("score: %d rows predicted in %d chunks of <= ~%d rows, %d at a time",
                    len(rows), chunks, -(-len(rows) // chunks), workers)
        return out

    def _labels(self, rows: pd.DataFrame, chunks: int) -> np.ndarray:
        """The chunk of each row: whole groups, in order of first appearance, cut where the
        running row count crosses a multiple of the chunk size (a group larger than a chunk
        stays whole); without a group, consecutive rows."""
        if self.scorer.score_group is None:
            return np.arange(len(rows)) * chunks // len(rows)
        codes, _ = pd.factorize(rows[self.scorer.score_group], use_na_sentinel=False)
        sizes = np.bincount(codes)
        before = np.cumsum(sizes) - sizes
        return (before * chunks // len(rows))[codes]

