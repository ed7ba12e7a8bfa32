"""Per-segment models with fallback to the global model, for any task whose rows carry a
segment column (a feedback's campaign, an ad's campaign).

At training (:func:`fit_segment_models`, called by a task's train stage for every
candidate), each segment with at least ``min_samples`` training rows gets its own model of
the global model's family, fitted on that segment's training rows only. Its predictions are
shrunk toward the global model's: ``w * segment + (1 - w) * global`` with
``w = n / (n + shrinkage)`` (``n``: the segment's training rows), so a segment with little
data answers close to the global model. The blended model is kept only if it beats the
global model on that segment's validation rows through the platform's promotion gate
(:func:`pipelines.evaluate.promotion_gate.promotion_decision` with the task's gate spec,
the ``promote`` settings and the task's row weights, the global model as champion);
otherwise the segment falls back to the global model.

The result is one estimator, a :class:`SegmentModels` (a task's subclass names the segment
column, the level and the prediction method), saved in place of the candidate, so the
registered model answers per segment. Segments the training never saw (or saw under the
minimum) are answered by the global model from the first request, and
:meth:`SegmentModels.segment_status` says which level answered and why, in words.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

if TYPE_CHECKING:
    from pipelines.config.training import PromoteConfig
    from pipelines.tasks.base import GateSpec

logger = logging.getLogger(__name__)


class SegmentModels(BaseEstimator):
    """The global model plus the segment models the gate kept.

    A subclass sets :attr:`column` (the input column naming a row's segment),
    :attr:`level` (its name in messages and ``model_status``), :attr:`method` (the models'
    prediction method that is blended) and :attr:`noun` (what a training row is).

    Args:
        global_model: The fitted global model.
        models: ``{segment: (fitted segment model, weight w)}`` of kept segments.
        samples: ``{segment: training rows}`` of every segment trained on.
        reasons: ``{segment: why it falls back}`` of segments without a kept model.
        min_samples: The minimum training rows of a segment model at training.
    """

    column: ClassVar[str]
    level: ClassVar[str]
    method: ClassVar[str]
    noun: ClassVar[str] = "labelled samples"

    def __init__(self, global_model: Any, models: dict[str, tuple[Any, float]],
                 samples: dict[str, int], reasons: dict[str, str], min_samples: int) -> None:
        self.global_model, self.models = global_model, models
        self.samples, self.reasons, self.min_samples = samples, reasons, min_samples

    def fit(self, X: pd.DataFrame, y: Any) -> SegmentModels:  # noqa: N803
        """Already fitted (by :func:`fit_segment_models`); kept for the sklearn API."""
        return self

    def __sklearn_is_fitted__(self) -> bool:
        """Built fitted (what a pipeline ending in it checks before predicting)."""
        return True

    def blended(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        """The global model's :attr:`method` output, blended with each kept segment
        model's on that segment's rows."""
        out = np.asarray(getattr(self.global_model, self.method)(X), dtype=float)
        names = X[self.column].astype(str).to_numpy()
        for name, (model, weight) in self.models.items():
            rows = names == name
            if rows.any():
                own = np.asarray(getattr(model, self.method)(X[rows]), dtype=float)
                out[rows] = weight * own + (1.0 - weight) * out[rows]
        return out

    def predict(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        """What the models predict (:attr:`method`), blended per segment."""
        return self.blended(X)

    def segment_status(self, segment: str) -> dict[str, Any]:
        """``level`` (:attr:`level` or ``global``), ``segment`` (``<level>=<segment>``),
        ``segment_model`` (whether the segment's own model answered) and a ``message``."""
        n = self.samples.get(segment, 0)
        key = f"{self.level}={segment}"
        if segment in self.models:
            weight = self.models[segment][1]
            return {"level": self.level, "segment": key, "segment_model": True,
                    "message": f"the {self.level} model of {segment!r} answered ({n} "
                               f"{self.noun}, weight {weight:.2f} against the global model)"}
        if n < self.min_samples:
            message = (f"{self.level} {segment!r} has {n} of {self.min_samples} {self.noun}; "
                       f"using the global model")
        else:
            message = self.reasons.get(segment, f"{self.level} {segment!r}: using the global "
                                                f"model")
        return {"level": "global", "segment": key, "segment_model": False, "message": message}


def shrink_weight(n: int, k: float) -> float:
    """The segment model's weight ``n / (n + k)``."""
    return n / (n + k)


def fit_segment_models(kind: type[SegmentModels], global_model: Any, *,
                       fit: Callable[[pd.DataFrame], Any],
                       features: Callable[[pd.DataFrame], pd.DataFrame],
                       train: pd.DataFrame, valid: pd.DataFrame, target: str,
                       weight_column: str | None, min_samples: int, min_holdout: int,
                       shrinkage: float, gate: GateSpec, promote: PromoteConfig
                       ) -> tuple[SegmentModels, dict[str, Any]]:
    """(the global model with the kept segment models as a ``kind``, the decisions with
    numbers).

    Args:
        kind: The task's :class:`SegmentModels` subclass.
        global_model: The fitted global model (takes ``features(rows)``).
        fit: Fits a new model of the global model's family on a segment's training rows
            (as they are in ``train``) and returns it.
        features: The task's ``model_input`` (what the models take).
        train, valid: The training and validation rows, with ``kind.column`` and
            ``target``.
        target: The column the gate judges (labels or rates).
        weight_column: The task's row weights in the gate (None: every row counts once).
        min_samples: Training rows a segment needs for its own model.
        min_holdout: Validation rows of a segment the gate needs (fewer: the segment
            falls back without a gate decision; a bootstrap of a handful of rows proves
            nothing).
        shrinkage, gate, promote: The task's settings and gate.
    """
    from pipelines.evaluate.promotion_gate import promotion_decision

    segments = train[kind.column].astype(str)
    samples = {str(c): int(n) for c, n in segments.value_counts().sort_index().items()}
    kept: dict[str, tuple[Any, float]] = {}
    reasons: dict[str, str] = {}
    decisions: dict[str, Any] = {}
    level = kind.level
    for name, n in samples.items():
        record: dict[str, Any] = {"train_rows": n, "min_samples": min_samples,
                                  "min_holdout": min_holdout, "kept": False}
        decisions[name] = record
        rows_valid = valid[valid[kind.column].astype(str) == name]
        record["valid_rows"] = len(rows_valid)
        if n < min_samples:
            record["reason"] = (f"{level} {name!r} has {n} of {min_samples} {kind.noun}; "
                                f"using the global model")
            continue
        own_rows = train[segments == name]
        if own_rows[target].nunique() < 2:
            reasons[name] = record["reason"] = (
                f"{level} {name!r}: its training rows all have the same {target}, so a "
                f"{level} model has nothing to learn; using the global model")
            continue
        if len(rows_valid) < min_holdout:
            reasons[name] = record["reason"] = (
                f"{level} {name!r}: {len(rows_valid)} validation rows (the gate needs "
                f"{min_holdout}) cannot show a {level} model beats the global model; using "
                f"the global model")
            continue
        model = fit(own_rows)
        weight = shrink_weight(n, shrinkage)
        x_valid = features(rows_valid)
        above = np.asarray(getattr(global_model, kind.method)(x_valid), dtype=float)
        blended = weight * np.asarray(getattr(model, kind.method)(x_valid), dtype=float) + \
            (1.0 - weight) * above
        decision = promotion_decision(
            rows_valid[target].to_numpy(), blended, above, baseline=None,
            metric=gate.primary, secondary_metrics=gate.guards,
            first_model_bounds=gate.first_model_bounds, baseline_name=gate.baseline,
            confidence=promote.confidence, resamples=promote.resamples,
            min_delta=promote.min_delta, non_inferiority_margin=promote.non_inferiority_margin,
            min_slice_rows=promote.min_slice_rows, seed=promote.seed,
            min_baseline_improvement=promote.min_baseline_improvement,
            row_weights=(None if weight_column is None
                         else rows_valid[weight_column].to_numpy(dtype=float)))
        primary = next((c for c in decision["checks"] if c.get("metric") == gate.primary
                        and "improvement" in c), {})
        record.update(weight=round(weight, 4), decision=decision["decision"],
                      gate_reasons=decision["reasons"], kept=bool(decision["promoted"]),
                      valid_metrics={level: decision.get("challenger"),
                                     "global": decision.get("champion")},
                      improvement={k: primary.get(k) for k in ("improvement", "ci_low",
                                                               "ci_high")})
        if record["kept"]:
            kept[name] = (model, weight)
            record["reason"] = (f"the {level} model of {name!r} beat the global model on "
                                f"its {len(rows_valid)} validation rows")
        else:
            reasons[name] = record["reason"] = (
                f"the {level} model of {name!r} was not shown to beat the global model "
                f"on its {len(rows_valid)} validation rows (gate: {decision['decision']}); "
                f"falling back to the global model")
        logger.info("%s models: %s: %d train rows, weight %.2f, %s", level, name, n, weight,
                    record["reason"])
    logger.info("%s models: %d %ss, %d under %d samples, %d %s models kept", level,
                len(samples), level, sum(n < min_samples for n in samples.values()),
                min_samples, len(kept), level)
    summary = {"column": kind.column, "min_samples": min_samples, "min_holdout": min_holdout,
               "shrinkage": shrinkage,
               "kept": sorted(kept), level + "s": decisions}
    return kind(global_model, kept, samples, reasons, min_samples), summary
