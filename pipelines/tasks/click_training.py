"""Training and evaluation of the click-through candidates (the ``train`` and
``evaluate`` stage hooks of :class:`pipelines.tasks.click_through.ClickThroughTask`).

Every candidate is saved behind an :class:`~pipelines.tasks.click_features.
ImpressionFeaturizer` fitted on the training part, so a saved model takes the impression
columns a client sends and predicts P(click). Evaluation scores the candidates, the
position CTR and the prior rate on the validation and test parts; the validation log-loss
picks the best candidate, the test part never decides.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from pipelines.config import Settings
    from pipelines.paths import ProjectPaths
    from pipelines.tasks.click_through import ClickThroughTask

logger = logging.getLogger(__name__)


def train_click_models(task: ClickThroughTask, paths: ProjectPaths, settings: Settings
                       ) -> dict[str, Any]:
    """Fit every family of ``train.models`` (empty: the task's ``default_models``) on the
    oldest impressions, each behind an :class:`ImpressionFeaturizer` fitted on the same
    rows (``<name>.joblib`` takes impression columns and predicts P(click)).

    Raises:
        ValueError: for a model name that is not a binary family.
    """
    import time

    import joblib
    import pandas as pd
    from sklearn.pipeline import Pipeline

    from pipelines.tasks.click_data import INPUT_COLUMNS
    from pipelines.tasks.click_features import ImpressionFeaturizer
    from pipelines.train.classifiers import (
        TREE_CLASSIFIERS,
        default_hyperparameters,
        feature_importance,
        make_classifier,
    )
    from pipelines.train.split import time_split

    section = task.section(settings)
    models = tuple(settings.train.models) or tuple(task.default_models)
    unknown = [m for m in models if m not in task.families]
    if unknown:
        raise ValueError(f"click_through.train: train.models {list(unknown)} are not "
                         f"binary families; the task knows {list(task.families)}.")
    table = pd.read_parquet(paths.feature_table(task.table))
    split = time_split(table[task.table_time_column], section.valid_fraction,
                       section.test_fraction)
    rows = table.iloc[split.train]
    featurizer = ImpressionFeaturizer(section.min_level_count).fit(rows)
    names = [str(n) for n in featurizer.feature_names_out_]
    x, y = featurizer.transform(rows), rows[task.target].to_numpy()
    seed = settings.train.seed
    paths.models.mkdir(parents=True, exist_ok=True)
    candidates = {}
    for name in models:
        overrides = dict(settings.train.hyperparameters.get(name, {}))
        started = time.perf_counter()
        classifier = make_classifier(name, overrides, seed, names).fit(x, y)
        seconds = time.perf_counter() - started
        model = Pipeline([("features", featurizer), ("model", classifier)])
        joblib.dump(model, paths.models / f"{name}.joblib")
        importance = (feature_importance(classifier, names).round(6).to_dict()
                      if name in TREE_CLASSIFIERS else None)
        candidates[name] = {
            "fit_seconds": round(seconds, 3),
            "hyperparameters": {**default_hyperparameters(name, seed), **overrides},
            "feature_importance": importance}
        logger.info("click_through.train: %s fitted in %.2f s on %d impressions (%d "
                    "clicks)", name, seconds, len(rows), int(y.sum()))
    manifest = {
        "task": task.name, "target": task.target, "seed": seed, "rows": len(table),
        "input_columns": list(INPUT_COLUMNS), "feature_columns": names,
        "min_level_count": section.min_level_count,
        "split": _split_record(table, split, section.valid_fraction,
                               section.test_fraction),
        "candidates": candidates,
    }
    (paths.models / "manifest.json").write_text(json.dumps(manifest, indent=2,
                                                           default=str))
    return manifest

def evaluate_click_models(task: ClickThroughTask, paths: ProjectPaths,
                          settings: Settings) -> dict[str, Any]:
    """Score every candidate, the position CTR and the prior rate on the validation and
    test parts; the best candidate has the lowest validation log-loss. Writes
    ``paths.metrics``."""
    import joblib

    from pipelines.evaluate.binary_metrics import prior_rate_baseline, reliability_table
    from pipelines.evaluate.slices import slice_metrics

    manifest = json.loads((paths.models / "manifest.json").read_text())
    table, split = task.table_split(paths, manifest)
    train = table.iloc[split.train]
    parts = {"valid": table.iloc[split.valid], "test": table.iloc[split.test]}
    actual = {part: rows[task.target].to_numpy() for part, rows in parts.items()}
    results: dict[str, Any] = {}
    for name in manifest["candidates"]:
        model = joblib.load(paths.models / f"{name}.joblib")
        predicted = {part: task.predict(model, rows) for part, rows in parts.items()}
        results[name] = {part: task.metrics(actual[part], predicted[part])
                         for part in parts}
        results[name]["test_reliability"] = reliability_table(
            actual["test"], predicted["test"], n_bins=50)
        results[name][f"test_by_{task.slice_column}"] = slice_metrics(
            parts["test"], actual["test"], predicted["test"], by=task.slice_column,
            metrics=task.metrics)
    labels = train[task.target].to_numpy()
    baselines = {
        "position_ctr": {part: task.metrics(actual[part], task.baseline(train, rows))
                         for part, rows in parts.items()},
        "prior_rate": {part: task.metrics(actual[part],
                                          prior_rate_baseline(labels, len(rows)))
                       for part, rows in parts.items()}}
    best = min(results, key=lambda n: results[n]["valid"][task.selection_metric])
    position = baselines["position_ctr"]["test"]
    report = {
        "task": task.name, "target": task.target, "selection_metric": task.selection_metric,
        "best": best, "candidates": results, "baselines": baselines,
        "improvement_over_baseline_log_loss":
            position["log_loss"] - results[best]["test"]["log_loss"],
        "split": manifest["split"],
    }
    paths.metrics.parent.mkdir(parents=True, exist_ok=True)
    paths.metrics.write_text(json.dumps(report, indent=2))
    logger.info("click_through.evaluate: best %s, test log-loss %.5f (position CTR %.5f), "
                "NE %.4f, ROC-AUC %.3f", best, results[best]["test"]["log_loss"],
                position["log_loss"], results[best]["test"]["normalized_entropy"],
                results[best]["test"]["roc_auc"])
    return report


def _split_record(table: pd.DataFrame, split: Any, valid_fraction: float,
                  test_fraction: float) -> dict[str, Any]:
    """Rows, time range, clicks and click rate of each part, and the fractions."""
    record: dict[str, Any] = {"time_column": "shown_at", "valid_fraction": valid_fraction,
                              "test_fraction": test_fraction}
    for part in ("train", "valid", "test"):
        rows = table.iloc[getattr(split, part)]
        record[part] = {"rows": len(rows), "first": str(rows["shown_at"].min()),
                        "last": str(rows["shown_at"].max()), "clicks": int(rows["click"].sum()),
                        "ctr": round(float(rows["click"].mean()), 6)}
    return record
