"""The retraining decision: prediction drift, realized and estimated performance weighed
into one verdict and one sentence."""

from __future__ import annotations

from pipelines.monitor.decision import decide


def _decision_inputs(*, judged: bool, loss: bool | None) -> tuple[dict, dict]:
    drift = {"dataset_drift": False, "drifted_features": [], "feature_columns": 60,
             "share_drifted": 0.0, "drift_share": 0.3, "prediction_drift": True,
             "columns": {"prediction": {"method": "wasserstein", "score": 0.31,
                                        "threshold": 0.25}}}
    performance = {"metric": "mae_log", "judged": judged, "performance_loss": loss,
                   "mae_log": 0.9, "offline_mae_log": 0.85, "max_error_increase": 0.15}
    return drift, performance


def test_prediction_drift_with_outcomes_in_budget_is_reported_not_retrained():
    retrain, reason = decide(*_decision_inputs(judged=True, loss=False), entity="posts")
    assert retrain is False
    assert reason.startswith("no retraining: prediction drift: wasserstein 0.310 >= 0.250")
    assert "within budget" in reason
    # too few matured outcomes to judge the error: prediction drift decides
    retrain, reason = decide(*_decision_inputs(judged=False, loss=None), entity="posts")
    assert retrain is True and reason == "prediction drift: wasserstein 0.310 >= 0.250"


def test_an_estimated_loss_retrains_only_until_the_realized_loss_can_be_judged():
    drift, _ = _decision_inputs(judged=False, loss=None)
    drift["prediction_drift"] = False
    estimated = {"method": "DLE", "metric": "mae_log", "performance_loss": True,
                 "offline_mae_log": 0.85, "max_error_increase": 0.15,
                 "window": {"estimated": {"mae_log": {"value": 1.2, "lower": 1.1,
                                                      "upper": 1.3}}}}
    unjudged = {"metric": "mae_log", "judged": False, "performance_loss": None}
    retrain, reason = decide(drift, unjudged, entity="posts", estimated=estimated)
    assert retrain is True
    assert reason == ("estimated performance loss (DLE, before the labels): mae_log 1.200 "
                      "[1.100, 1.300] vs offline 0.850 (budget +0.150)")
    # once enough outcomes matured, the realized error decides
    judged = {"metric": "mae_log", "judged": True, "performance_loss": False,
              "mae_log": 0.9, "offline_mae_log": 0.85, "max_error_increase": 0.15}
    retrain, reason = decide(drift, judged, entity="posts", estimated=estimated)
    assert retrain is False and "estimated" not in reason
    # an estimate within budget retrains for nothing
    retrain, _ = decide(drift, unjudged, entity="posts",
                        estimated={**estimated, "performance_loss": False})
    assert retrain is False
