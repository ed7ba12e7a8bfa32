"""The evaluation stage: score candidates on validation and test, pick the best."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import joblib
import pandas as pd

from pipelines.evaluate.classification import classification_metrics
from pipelines.evaluate.metrics import (
    account_median_baseline,
    regression_metrics,
    within_account_spearman,
)
from pipelines.evaluate.slices import regime_metrics, slice_metrics
from pipelines.train.split import labelled, manifest_split
from pipelines.train.two_stage import class_thresholds, popularity_classes

logger = logging.getLogger(__name__)

SELECTION_METRIC = "mae_log"


def run_evaluate(features_path: Path, models_dir: Path, metrics_path: Path) -> dict[str, Any]:
    """Stage runner: metrics for every candidate and the naive baseline → metrics.json.

    The best candidate is chosen on the validation part (lowest ``mae_log``); test metrics
    are reported for all, so the choice never peeks at the test part.
    """
    manifest = json.loads((models_dir / "manifest.json").read_text())
    target = manifest["target"]
    table = labelled(pd.read_parquet(features_path), target)
    split = manifest_split(table, manifest["split"])
    parts = {"valid": table.iloc[split.valid], "test": table.iloc[split.test]}
    test_regimes = split.regimes(split.test)
    train = table.iloc[split.train]
    thresholds = class_thresholds(train[target].to_numpy())
    actual_classes = popularity_classes(parts["test"][target].to_numpy(), thresholds)
    results: dict[str, Any] = {}
    for name in manifest["candidates"]:
        model = joblib.load(models_dir / f"{name}.joblib")
        predictions = {part: model.predict(rows) for part, rows in parts.items()}
        results[name] = {part: {**regression_metrics(rows[target].to_numpy(),
                                                     predictions[part]),
                                **within_account(rows, predictions[part], target)}
                         for part, rows in parts.items()}
        test_rows = parts["test"]
        results[name]["test_by_regime"] = regime_report(
            test_rows, predictions["test"], target, test_regimes)
        results[name]["test_by_platform"] = slice_metrics(
            test_rows, test_rows[target].to_numpy(), predictions["test"], by="platform")
        # The popularity class (0 < p75 <= 1 < p95 <= 2, thresholds from the training
        # part) of every model's predicted count; two-stage models also report their
        # own classifier.
        results[name]["test_popularity_class"] = classification_metrics(
            actual_classes, popularity_classes(predictions["test"], thresholds))
        if name.startswith("two_stage_"):
            results[name]["test_popularity_class_classifier"] = _class_report(
                model, test_rows, target)
        cv = manifest["candidates"][name].get("cv")
        if cv:
            results[name]["cv_mean"] = cv["mean"]
    baseline_predictions = {part: account_median_baseline(train, rows, target)
                            for part, rows in parts.items()}
    baseline = {part: {**regression_metrics(rows[target].to_numpy(),
                                            baseline_predictions[part]),
                       **within_account(rows, baseline_predictions[part], target)}
                for part, rows in parts.items()}
    baseline_by_regime = regime_report(parts["test"], baseline_predictions["test"], target,
                                       test_regimes)
    best = min(results, key=lambda name: results[name]["valid"][SELECTION_METRIC])
    report = {
        "target": target, "selection_metric": SELECTION_METRIC, "best": best,
        "feature_set_hash": manifest.get("feature_set_hash"),
        "candidates": results, "baselines": {"account_median": baseline},
        "baselines_by_regime": {"account_median": baseline_by_regime},
        "improvement_over_baseline_mae_log": baseline["test"]["mae_log"]
        - results[best]["test"]["mae_log"],
        "split": manifest["split"],
        "popularity_class_thresholds": {"p75": thresholds[0], "p95": thresholds[1]},
    }
    metrics_path.parent.mkdir(parents=True, exist_ok=True)
    metrics_path.write_text(json.dumps(report, indent=2))
    logger.info("evaluate: best %s, test mae_log %.4f (baseline %.4f)", best,
                results[best]["test"]["mae_log"], baseline["test"]["mae_log"])
    return report


#: Accounts with fewer scored posts are left out of the within-account Spearman.
WITHIN_ACCOUNT_MIN_POSTS = 10


def regime_report(rows: pd.DataFrame, predicted: Any, target: str, regimes: Any
                  ) -> dict[str, dict[str, Any]]:
    """The metrics of the warm (trained-on accounts) and cold (held-out accounts) test
    rows, each with its within-account Spearman and account count."""
    import numpy as np

    report = regime_metrics(rows[target].to_numpy(), np.asarray(predicted, dtype=float),
                            regime_labels=regimes, accounts=rows["account_id"].to_numpy(),
                            min_support=1, min_posts=WITHIN_ACCOUNT_MIN_POSTS,
                            metrics=regression_metrics)
    for regime, values in report.items():
        if "support" in values:
            values["accounts"] = int(rows["account_id"][np.asarray(regimes) == regime]
                                     .nunique())
    return report


def within_account(rows: pd.DataFrame, predicted: Any, target: str) -> dict[str, float]:
    """Does the model rank one account's own posts? (mean over accounts with at least
    :data:`WITHIN_ACCOUNT_MIN_POSTS` rows)."""
    value, accounts = within_account_spearman(
        rows[target].to_numpy(), predicted, rows["account_id"].to_numpy(),
        min_posts=WITHIN_ACCOUNT_MIN_POSTS)
    return {"within_account_spearman": value, "within_account_spearman_accounts": accounts}


def _class_report(model: Any, test_rows: pd.DataFrame, target: str) -> dict[str, Any]:
    """Popularity-class metrics of a two-stage model's classifier (its own thresholds)."""
    two_stage = model[-1]  # the fitted TwoStageRegressor after the featurizer
    features = model[:-1].transform(test_rows)
    actual = popularity_classes(test_rows[target].to_numpy(), two_stage.thresholds_)
    return classification_metrics(actual, two_stage.predict_class(features),
                                  two_stage.predict_proba(features))
