"""Campaign models with fallback for the feedback_sentiment task.

At training (:func:`fit_campaign_models`, called by the train stage for every candidate),
each campaign with at least ``campaign_min_samples`` labelled training rows gets its own
model of the global model's family, fitted on that campaign's training rows only. Its
class probabilities are shrunk toward the global model's: ``w * campaign + (1 - w) *
global`` with ``w = n / (n + campaign_shrinkage)`` (``n``: the campaign's training rows),
so a campaign with little data answers close to the global model. The blended model is
kept only if it beats the global model on that campaign's validation rows through the
platform's promotion gate (:func:`pipelines.evaluate.promotion_gate.promotion_decision`
with the task's gate spec and the ``promote`` settings, the global model as champion);
otherwise the campaign falls back to the global model.

The result is one estimator, :class:`CampaignModels`, saved in place of the candidate
(``<family>.joblib``), so the registered model answers per campaign; the decisions, with
their numbers, are written to ``campaign_models.json`` beside the models. Campaigns the
training never saw (or saw under the minimum) are answered by the global model from the
first request, and :meth:`CampaignModels.campaign_status` says why in words.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin

if TYPE_CHECKING:
    from pipelines.config.training import PromoteConfig
    from pipelines.tasks.base import GateSpec

logger = logging.getLogger(__name__)


class CampaignModels(ClassifierMixin, BaseEstimator):
    """The global model plus the campaign models the gate kept.

    Args:
        global_model: The fitted global model (a feedback family).
        campaigns: ``{campaign: (fitted campaign model, weight w)}`` of kept campaigns.
        samples: ``{campaign: labelled training rows}`` of every campaign trained on.
        reasons: ``{campaign: why it falls back}`` of campaigns without a kept model.
        min_samples: ``campaign_min_samples`` at training.
    """

    def __init__(self, global_model: Any, campaigns: dict[str, tuple[Any, float]],
                 samples: dict[str, int], reasons: dict[str, str], min_samples: int) -> None:
        self.global_model, self.campaigns = global_model, campaigns
        self.samples, self.reasons, self.min_samples = samples, reasons, min_samples
        self.classes_ = getattr(global_model, "classes_", None)

    @property
    def reads_text(self) -> bool:
        return bool(getattr(self.global_model, "reads_text", False))

    @property
    def family(self) -> str:
        """The class name of the global model (what answers)."""
        return type(self.global_model).__name__

    def languages(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        return self.global_model.languages(X)

    def fit(self, X: pd.DataFrame, y: Any) -> CampaignModels:  # noqa: N803
        """Already fitted (by :func:`fit_campaign_models`); kept for the sklearn API."""
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        out = np.asarray(self.global_model.predict_proba(X), dtype=float)
        names = X["campaign"].astype(str).to_numpy()
        for name, (model, weight) in self.campaigns.items():
            rows = names == name
            if rows.any():
                own = np.asarray(model.predict_proba(X[rows]), dtype=float)
                out[rows] = weight * own + (1.0 - weight) * out[rows]
        return out

    def predict(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        """Class probabilities (the task's prediction), not labels."""
        return self.predict_proba(X)

    def campaign_status(self, campaign: str) -> dict[str, Any]:
        """``level`` (``campaign`` or ``global``), ``campaign_model`` and a message."""
        n = self.samples.get(campaign, 0)
        if campaign in self.campaigns:
            weight = self.campaigns[campaign][1]
            return {"level": "campaign", "campaign_model": True,
                    "message": f"the campaign model of {campaign!r} answered ({n} labelled "
                               f"samples, weight {weight:.2f} against the global model)"}
        if n < self.min_samples:
            message = (f"campaign {campaign!r} has {n} of {self.min_samples} labelled "
                       f"samples; using the global model")
        else:
            message = self.reasons.get(campaign, f"campaign {campaign!r}: using the global "
                                                 f"model")
        return {"level": "global", "campaign_model": False, "message": message}


def shrink_weight(n: int, k: float) -> float:
    """The campaign model's weight ``n / (n + k)``."""
    return n / (n + k)


def fit_campaign_models(global_model: Any, make: Callable[[], Any], *, train: pd.DataFrame,
                        valid: pd.DataFrame, target: str,
                        features: Callable[[pd.DataFrame], pd.DataFrame], min_samples: int,
                        shrinkage: float, gate: GateSpec, promote: PromoteConfig
                        ) -> tuple[CampaignModels, dict[str, Any]]:
    """(the global model with the kept campaign models, the decisions with numbers).

    ``make`` returns an unfitted model of the global model's family; ``features`` is the
    task's ``model_input``.
    """
    from pipelines.evaluate.promotion_gate import promotion_decision

    campaigns = train["campaign"].astype(str)
    samples = {str(c): int(n) for c, n in campaigns.value_counts().sort_index().items()}
    kept: dict[str, tuple[Any, float]] = {}
    reasons: dict[str, str] = {}
    decisions: dict[str, Any] = {}
    for name, n in samples.items():
        record: dict[str, Any] = {"train_rows": n, "min_samples": min_samples, "kept": False}
        decisions[name] = record
        rows_valid = valid[valid["campaign"].astype(str) == name]
        record["valid_rows"] = len(rows_valid)
        if n < min_samples:
            record["reason"] = (f"campaign {name!r} has {n} of {min_samples} labelled "
                                f"samples; using the global model")
            continue
        own_rows = train[campaigns == name]
        if own_rows[target].nunique() < 2 or len(rows_valid) < 2:
            reasons[name] = record["reason"] = (
                f"campaign {name!r}: {own_rows[target].nunique()} class(es) in training and "
                f"{len(rows_valid)} validation rows cannot show a campaign model beats the "
                f"global model; using the global model")
            continue
        model = make()
        model.fit(features(own_rows), own_rows[target].to_numpy(dtype=int))
        weight = shrink_weight(n, shrinkage)
        x_valid = features(rows_valid)
        above = np.asarray(global_model.predict_proba(x_valid), dtype=float)
        blended = weight * np.asarray(model.predict_proba(x_valid), dtype=float) + \
            (1.0 - weight) * above
        decision = promotion_decision(
            rows_valid[target].to_numpy(dtype=int), blended, above, baseline=None,
            metric=gate.primary, secondary_metrics=gate.guards,
            first_model_bounds=gate.first_model_bounds, baseline_name=gate.baseline,
            confidence=promote.confidence, resamples=promote.resamples,
            min_delta=promote.min_delta, non_inferiority_margin=promote.non_inferiority_margin,
            min_slice_rows=promote.min_slice_rows, seed=promote.seed,
            min_baseline_improvement=promote.min_baseline_improvement)
        record.update(weight=round(weight, 4), decision=decision["decision"],
                      gate_reasons=decision["reasons"], kept=bool(decision["promoted"]),
                      valid_metrics={"campaign": decision.get("challenger"),
                                     "global": decision.get("champion")})
        if record["kept"]:
            kept[name] = (model, weight)
            record["reason"] = (f"the campaign model of {name!r} beat the global model on "
                                f"its {len(rows_valid)} validation rows")
        else:
            reasons[name] = record["reason"] = (
                f"the campaign model of {name!r} was not shown to beat the global model "
                f"on its {len(rows_valid)} validation rows (gate: {decision['decision']}); "
                f"falling back to the global model")
        logger.info("feedback.campaigns: %s: %d train rows, weight %.2f, %s", name, n, weight,
                    record["reason"])
    logger.info("feedback.campaigns: %d campaigns, %d under %d samples, %d campaign models "
                "kept", len(samples), sum(n < min_samples for n in samples.values()),
                min_samples, len(kept))
    summary = {"min_samples": min_samples, "shrinkage": shrinkage,
               "kept": sorted(kept), "campaigns": decisions}
    return CampaignModels(global_model, kept, samples, reasons, min_samples), summary

