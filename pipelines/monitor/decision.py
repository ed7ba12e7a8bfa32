"""The retraining decision of a monitored window: retrain or not, and why, in one sentence.

Pure: it reads what the drift check measured (data and prediction drift,
:func:`pipelines.monitor.drift.detect_drift`), the realized performance on matured outcomes
(the task's hook, or what serving answered:
:func:`pipelines.monitor.realized_performance.served_performance`) and the estimated
performance before the labels (:func:`pipelines.monitor.estimated_performance.estimate_window`),
and weighs them. The stage (:func:`pipelines.monitor.stage.run_drift_check`) gathers them.
"""

from __future__ import annotations

from typing import Any

from pipelines.monitor.drift import PREDICTION
from pipelines.monitor.estimated_performance import loss_reason


def decide(drift: dict[str, Any] | None, performance: dict[str, Any], *, entity: str,
           estimated: dict[str, Any] | None = None) -> tuple[bool, str]:
    """Retrain or not, and why, in one sentence that goes into the run conf and the alert.
    ``performance`` names its loss (``metric``: the task's realized-performance hook);
    ``entity`` is what the window holds (posts, sessions); ``estimated`` is the window's
    estimated performance (:func:`pipelines.monitor.estimated_performance.estimate_window`;
    None: no estimator stored with the model).

    An estimated loss past the budget retrains while the realized loss cannot be judged
    yet (too few outcomes matured); once it can, the realized loss decides.

    Prediction drift is a stand-in for an error that cannot be measured yet; where enough
    outcomes matured to judge the realized error and it is within budget, the outcomes
    moved with the predictions and the model still fits: reported, not retrained for.
    """
    reasons, notes = [], []
    metric = performance.get("metric")
    if drift is not None and drift["dataset_drift"]:
        reasons.append(f"data drift: {len(drift['drifted_features'])} of "
                       f"{drift['feature_columns']} features drifted (share "
                       f"{drift['share_drifted']:.2f} >= {drift['drift_share']:.2f}: "
                       f"{', '.join(drift['drifted_features'][:8])})")
    if drift is not None and drift["prediction_drift"]:
        column = drift["columns"][PREDICTION]
        text = (f"prediction drift: {column['method']} {column['score']:.3f} >= "
                f"{column['threshold']:.3f}")
        if performance.get("judged") and performance.get("performance_loss") is False:
            notes.append(f"{text}, but realized {metric} {performance[metric]:.3f} is within "
                         f"budget (offline {performance[f'offline_{metric}']:.3f} + "
                         f"{performance['max_error_increase']:.3f})")
        else:
            reasons.append(text)
    if performance.get("performance_loss"):
        reasons.append(f"realized performance loss: {metric} {performance[metric]:.3f} vs "
                       f"offline {performance[f'offline_{metric}']:.3f} (budget "
                       f"+{performance['max_error_increase']:.3f})")
    elif (estimated is not None and estimated.get("performance_loss")
          and not performance.get("judged")):
        reasons.append(loss_reason(estimated))
    if reasons:
        return True, "; ".join(reasons)
    if drift is None:
        return False, f"too few {entity} in the window for a verdict"
    if notes:
        return False, (f"no retraining: {'; '.join(notes)}; data drift: "
                       f"{len(drift['drifted_features'])} of {drift['feature_columns']} "
                       f"features drifted (share {drift['share_drifted']:.2f} < "
                       f"{drift['drift_share']:.2f})")
    return False, (f"no drift ({len(drift['drifted_features'])} of {drift['feature_columns']} "
                   f"features drifted, share {drift['share_drifted']:.2f} < "
                   f"{drift['drift_share']:.2f}; prediction drift {drift['prediction_drift']})"
                   " and no realized performance loss")
