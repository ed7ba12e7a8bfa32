"""Per-segment conversion models on the learned session segments, with fallback to the
global model (``conversion.segment_key: session_segment``).

The segment of a session is assigned by the newest registered session segmenter
(``session_segments.model_name``, fitted by ``engageflow segment-sessions``:
:mod:`pipelines.segments.session_segmentation`); the segment models are fitted, gated and
shrunk by :func:`pipelines.segments.gated_segment_models.fit_segment_models` (the same code
as the feedback and ad campaign models). The saved model is a pipeline: assign the segment
(:class:`AssignSessionSegment`, holding the segmenter), then :class:`SessionSegmentModels`,
so the registered conversion model assigns and answers per segment on its own.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.pipeline import Pipeline

from pipelines.segments.gated_segment_models import SegmentModels, fit_segment_models

if TYPE_CHECKING:
    from pipelines.config import Settings
    from pipelines.config.training import PromoteConfig
    from pipelines.paths import ProjectPaths
    from pipelines.tasks.base import GateSpec

logger = logging.getLogger(__name__)

#: The column the assigned segment is written to.
SEGMENT_COLUMN = "session_segment"


class AssignSessionSegment(TransformerMixin, BaseEstimator):
    """Adds :data:`SEGMENT_COLUMN` (the segmenter's segment id, as text) to sessions.

    Args:
        segmenter: A fitted session segmenter (``predict`` of canonical sessions).
        version: Its registered version (said in ``model_status``).
    """

    def __init__(self, segmenter: Any, version: str) -> None:
        self.segmenter, self.version = segmenter, version

    def fit(self, X: pd.DataFrame, y: Any = None) -> AssignSessionSegment:  # noqa: N803
        return self

    def __sklearn_is_fitted__(self) -> bool:
        """Holds a fitted segmenter."""
        return True

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:  # noqa: N803
        return X.assign(**{SEGMENT_COLUMN: np.asarray(self.segmenter.predict(X)).astype(str)})


class SessionSegmentModels(SegmentModels):
    """The global conversion model plus the session-segment models the gate kept."""

    column = SEGMENT_COLUMN
    level = SEGMENT_COLUMN
    method = "predict"


def with_segment_models(global_model: Any, fit: Callable[[pd.DataFrame], Any], *,
                        segmenter: Any, version: str, train: pd.DataFrame,
                        valid: pd.DataFrame, target: str,
                        features: Callable[[pd.DataFrame], pd.DataFrame], min_samples: int,
                        min_holdout: int, shrinkage: float, gate: GateSpec,
                        promote: PromoteConfig) -> tuple[Pipeline, dict[str, Any]]:
    """(assign the segment → the global model with the kept segment models, the
    decisions). ``fit`` fits a new model of the global model's family on sessions."""
    assign = AssignSessionSegment(segmenter, version)
    models, decisions = fit_segment_models(
        SessionSegmentModels, global_model, fit=fit, features=features,
        train=assign.transform(train), valid=assign.transform(valid), target=target,
        weight_column=None, min_samples=min_samples, min_holdout=min_holdout,
        shrinkage=shrinkage, gate=gate, promote=promote)
    decisions["segmenter_version"] = version
    return Pipeline([("assign", assign), ("segments", models)]), decisions


def segment_answers(model: Any, rows: pd.DataFrame, values: np.ndarray
                    ) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """(the probabilities, per row ``prediction`` and, for a model with segment models,
    ``model_status``: ``level`` (``session_segment`` or ``global``), ``segment``,
    ``segment_model``, ``trained_this_cycle``, ``retrained_this_cycle``, ``message``)."""
    values = np.asarray(values, dtype=float)
    if not (isinstance(model, Pipeline) and isinstance(model[-1], SessionSegmentModels)):
        return values, [{"prediction": float(v)} for v in values]
    assign, models = model[0], model[-1]
    segments = assign.transform(rows)[SEGMENT_COLUMN].tolist()
    answers = []
    for value, segment in zip(values, segments, strict=True):
        status = models.segment_status(segment)
        answers.append({"prediction": float(value), "model_status": {
            **status, "trained_this_cycle": False, "retrained_this_cycle": False,
            "message": f"{status['message']} (segmenter version {assign.version})"}})
    return values, answers


def newest_segmenter(paths: ProjectPaths, settings: Settings) -> tuple[Any, str]:
    """(the newest registered session segmenter, its version), from the project's MLflow;
    where none is registered yet, the segments are learned first
    (:func:`learn_session_segments`), so the first segmented training needs no other
    command."""
    from pipelines.registry import tracking
    from pipelines.registry.session_segmenter import load_newest_segmenter

    tracking.connect(paths.tracking_uri)
    try:
        return load_newest_segmenter(settings.session_segments.model_name)
    except LookupError as why:
        logger.info("conversion.train: %s; learning the session segments first", why)
    from pipelines.segments.session_segments_stage import segment_sessions

    segment_sessions(paths, settings.session_segments)
    return load_newest_segmenter(settings.session_segments.model_name)


def learn_session_segments(paths: ProjectPaths, settings: Settings) -> dict[str, Any]:
    """The conversion task's ``segments`` stage record: learn, profile and register the
    session segments (:func:`pipelines.segments.session_segments_stage.segment_sessions`,
    what ``engageflow segment-sessions`` runs) on this run's validated sessions, so the
    training DAG and ``dvc repro`` keep them current (the stage runner,
    :func:`pipelines.segments.stage.run_segments`, writes the record)."""
    from pipelines.segments.session_segments_stage import segment_sessions

    learned = segment_sessions(paths, settings.session_segments)
    record = {k: learned[k] for k in ("sessions", "chosen_k", "rule", "registered", "reports")}
    logger.info("conversion.segments: learned %d session segments on %d sessions, registered "
                "%s version %s; reports in %s", record["chosen_k"], record["sessions"],
                record["registered"]["model_name"], record["registered"]["version"],
                record["reports"])
    return record
