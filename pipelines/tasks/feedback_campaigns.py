"""Campaign models with fallback for the feedback_sentiment task: the feedback specifics of
:mod:`pipelines.segments.gated_segment_models` (which fits, gates and shrinks them).

:class:`CampaignModels` blends class probabilities per ``campaign`` and keeps the global
model's text facts (``reads_text``, ``languages``) for the serving answer
(:mod:`pipelines.tasks.feedback_serving`); :func:`fit_campaign_models` is the shared fit
with the feedback's column and the task's gate, the decisions written to
``campaign_models.json`` by the train stage.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sklearn.base import ClassifierMixin

from pipelines.segments.gated_segment_models import SegmentModels, fit_segment_models

if TYPE_CHECKING:
    from pipelines.config.training import PromoteConfig
    from pipelines.tasks.base import GateSpec

#: Validation rows of a campaign the gate needs (the rule the feedback task has had since
#: its campaign models: any two rows).
MIN_HOLDOUT = 2


class CampaignModels(ClassifierMixin, SegmentModels):
    """The global feedback model plus the campaign models the gate kept (class
    probabilities blended per campaign)."""

    column = "campaign"
    level = "campaign"
    method = "predict_proba"

    @property
    def classes_(self) -> Any:
        return getattr(self.global_model, "classes_", None)

    @property
    def reads_text(self) -> bool:
        return bool(getattr(self.global_model, "reads_text", False))

    @property
    def family(self) -> str:
        """The class name of the global model (what answers)."""
        return type(self.global_model).__name__

    def languages(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        return self.global_model.languages(X)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        return self.blended(X)

    def campaign_status(self, campaign: str) -> dict[str, Any]:
        """``level`` (``campaign`` or ``global``), ``campaign_model`` and a message."""
        status = self.segment_status(campaign)
        return {"level": status["level"], "campaign_model": status["segment_model"],
                "message": status["message"]}


def fit_campaign_models(global_model: Any, make: Callable[[], Any], *, train: pd.DataFrame,
                        valid: pd.DataFrame, target: str,
                        features: Callable[[pd.DataFrame], pd.DataFrame], min_samples: int,
                        shrinkage: float, gate: GateSpec, promote: PromoteConfig
                        ) -> tuple[SegmentModels, dict[str, Any]]:
    """(the global model with the kept campaign models, the decisions with numbers):
    :func:`pipelines.segments.gated_segment_models.fit_segment_models` with
    :class:`CampaignModels`. ``make`` returns an unfitted model of the global model's
    family; ``features`` is the task's ``model_input``."""

    def fit(rows: pd.DataFrame) -> Any:
        return make().fit(features(rows), rows[target].to_numpy(dtype=int))

    return fit_segment_models(CampaignModels, global_model, fit=fit, features=features,
                              train=train, valid=valid, target=target, weight_column=None,
                              min_samples=min_samples, min_holdout=MIN_HOLDOUT,
                              shrinkage=shrinkage, gate=gate,
                              promote=promote)
