"""Benchmark: fit time of every candidate model on 100k and 1M generated posts.

Run from the project root: ``.venv/bin/python bench/training_speed.py``. Writes
``bench/results/training_speed.json``: fit and predict seconds per model and size (one run
each, with the model zoo's defaults), the data, the machine and the library versions, and,
on a time-ordered 80/20 cut of the 100k set, the holdout metrics of each model and the
two-stage details (class metrics, hard vs soft, the count-scale blend for comparison).

Data: the per-post features (``build_post_features``) of the seeded demo generator. The
100k set is one generator run (1,000 accounts). The 1M set is ten independent runs of
100k posts (seeds 0-9, 1,000 accounts each, the first being the 100k set), concatenated:
the generator builds captions row by row (~7-11 s per 100k here), so ten runs cost about
two minutes but give 1M distinct, realistic rows, where tiling one run would give trees
ten copies of each row.

Fits that would run past ``--budget`` seconds at 1M (projected from the 100k fit with
:data:`GROWTH_1M`) run with the overrides in :data:`CAPS_1M` instead, recorded under
``capped``. ``--merge`` reruns some models and updates their entries in an existing result.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipelines.collect.demo_data import generate_posts
from pipelines.config.training import ScaleRelativeParams
from pipelines.evaluate.classification import classification_metrics
from pipelines.evaluate.metrics import regression_metrics
from pipelines.features.post_features import FEATURE_COLUMNS, build_post_features
from pipelines.train.model_zoo import MODEL_NAMES, TREE_MODELS, feature_importance, make_model
from pipelines.train.two_stage import class_thresholds, popularity_classes

logger = logging.getLogger("bench.training_speed")

RESULTS = Path(__file__).resolve().parent / "results" / "training_speed.json"
FEATURES = list(FEATURE_COLUMNS)
CHUNK_ROWS = 100_000
#: Fit time at 1M over fit time at 100k, measured here on 2026-11-22 (load 7-8 on 2 cores):
#: ~10-16x for the boosted models; ~2.6x for the random forest, whose trees draw at most
#: 50k rows; ~48x for the MLP (435 s uncapped), whose early stopping ran all 100 epochs on
#: 1M rows instead of ~26 on 100k.
GROWTH_1M: dict[str, float] = {"random_forest": 3.0, "mlp": 50.0}
#: Overrides for a 1M fit projected past the budget.
CAPS_1M: dict[str, dict[str, Any]] = {
    "random_forest": {"n_estimators": 50},
    "mlp": {"max_iter": 20},
    "two_stage_hard": {"classifier_params": {"n_estimators": 100},
                       "regressor_params": {"n_estimators": 100}},
    "two_stage_soft": {"classifier_params": {"n_estimators": 100},
                       "regressor_params": {"n_estimators": 100}},
}


def demo_matrix(chunks: int, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray, pd.Series, float]:
    """Features, likes and posting times of ``chunks`` x 100k demo posts; generation seconds."""
    started = time.perf_counter()
    frames, likes, times = [], [], []
    for i in range(chunks):
        posts = generate_posts(CHUNK_ROWS, accounts=1000, seed=seed + i, id_prefix=f"b{i}")
        frames.append(build_post_features(posts))
        likes.append(posts["likes"].astype(float).to_numpy())
        times.append(posts["posted_at"])
        logger.info("generated chunk %d/%d", i + 1, chunks)
    x = pd.concat(frames, ignore_index=True)
    return (x, np.concatenate(likes), pd.concat(times, ignore_index=True),
            round(time.perf_counter() - started, 1))


def timed_fit(name: str, hyperparameters: dict[str, Any], x: pd.DataFrame, y: np.ndarray,
              seed: int) -> tuple[Any, float, float]:
    """The fitted model, its fit seconds and its predict seconds on ``x``."""
    model = make_model(name, hyperparameters, seed, FEATURES,
                       scale=ScaleRelativeParams().model_dump())
    started = time.perf_counter()
    model.fit(x, y)
    fit_s = time.perf_counter() - started
    started = time.perf_counter()
    model.predict(x)
    return model, round(fit_s, 2), round(time.perf_counter() - started, 2)


def holdout_quality(x: pd.DataFrame, y: np.ndarray, posted_at: pd.Series, models: list[str],
                    seed: int) -> dict[str, Any]:
    """Fit on the oldest 80 % and score the newest 20 % (features of one 100k chunk)."""
    order = np.argsort(posted_at.to_numpy(), kind="stable")
    cut = int(len(order) * 0.8)
    train, test = order[:cut], order[cut:]
    out: dict[str, Any] = {"train_rows": len(train), "test_rows": len(test), "models": {}}
    for name in models:
        model = make_model(name, {}, seed, FEATURES, scale=ScaleRelativeParams().model_dump()
                           ).fit(x.iloc[train], y[train])
        predicted = model.predict(x.iloc[test])
        out["models"][name] = regression_metrics(y[test], predicted)
        if name in TREE_MODELS:
            out["models"][name]["top_features"] = (
                feature_importance(model, FEATURES).head(5).round(4).to_dict())
        if name == "two_stage_soft":
            out["two_stage"] = two_stage_details(model, x.iloc[test], y[test])
        logger.info("quality %s: mae_log %.4f", name, out["models"][name]["mae_log"])
    return out


def two_stage_details(model: Any, x_test: pd.DataFrame, y_test: np.ndarray) -> dict[str, Any]:
    """Class metrics of the classifier, and hard / soft-log / soft-count blends compared."""
    proba = model.predict_proba(x_test)
    true_classes = popularity_classes(y_test, model.thresholds_)
    by_class = model.predict_log_by_class(x_test)
    hard = by_class[np.arange(len(by_class)), proba.argmax(axis=1)]
    blends = {
        "hard": np.expm1(np.clip(hard, 0, None)),
        "soft_log_scale": np.expm1(np.clip(np.sum(proba * by_class, axis=1), 0, None)),
        "soft_count_scale": np.sum(proba * np.expm1(np.clip(by_class, 0, None)), axis=1),
    }
    classes = classification_metrics(true_classes, proba.argmax(axis=1), proba)
    return {
        "thresholds_train": list(model.thresholds_),
        "thresholds_if_test_were_used": list(class_thresholds(y_test)),
        "class_counts_train": model.class_counts_,
        "fallback_classes": model.fallback_classes_,
        "classifier": {k: classes[k] for k in
                       ("macro_f1", "accuracy", "brier", "per_class", "confusion_matrix")},
        "classifier_ece": {k: v["ece"] for k, v in classes["reliability"].items()},
        "blends": {k: regression_metrics(y_test, v) for k, v in blends.items()},
    }


def merge(old: dict[str, Any], new: dict[str, Any], models: list[str]) -> dict[str, Any]:
    """``old`` with the timings (and holdout metrics, if measured) of ``models`` from ``new``."""
    for key in ("fit_seconds", "predict_seconds_same_rows"):
        old[key].update({m: new[key][m] for m in models})
    old["capped"] = {m: v for m, v in old["capped"].items() if m not in models}
    old["capped"].update(new["capped"])
    if new["quality_100k_time_holdout"] and old.get("quality_100k_time_holdout"):
        old["quality_100k_time_holdout"]["models"].update(
            new["quality_100k_time_holdout"]["models"])
    old.setdefault("reruns", []).append({"models": models, "machine": new["machine"]})
    return old


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(MODEL_NAMES), choices=MODEL_NAMES)
    parser.add_argument("--chunks", type=int, default=10, help="100k chunks in the large set")
    parser.add_argument("--budget", type=float, default=180.0,
                        help="seconds a 1M fit may take before CAPS_1M applies")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-quality", action="store_true")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--merge", action="store_true",
                        help="update only these models' entries in an existing --out")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    load_start = os.getloadavg()[0]

    x_all, y_all, times_all, generate_s = demo_matrix(args.chunks, args.seed)
    sizes = {"100k": CHUNK_ROWS, "1m": len(x_all)}
    fit_s: dict[str, dict[str, Any]] = {name: {} for name in args.models}
    predict_s: dict[str, dict[str, Any]] = {name: {} for name in args.models}
    capped: dict[str, Any] = {}
    for label, rows in sizes.items():
        x, y = x_all.iloc[:rows], y_all[:rows]
        for name in args.models:
            hyper: dict[str, Any] = {}
            if label != "100k":
                growth = GROWTH_1M.get(name, 12.0) * rows / 1_000_000
                projected = fit_s[name]["100k"] * growth
                if projected > args.budget and name in CAPS_1M:
                    hyper = CAPS_1M[name]
                    capped[name] = {"size": label, "projected_s": round(projected, 1),
                                    "overrides": hyper}
            _, fit_s[name][label], predict_s[name][label] = timed_fit(name, hyper, x, y,
                                                                      args.seed)
            logger.info("%s on %s rows: fit %.1f s, predict %.1f s", name, label,
                        fit_s[name][label], predict_s[name][label])

    quality = None
    if not args.skip_quality:
        quality = holdout_quality(x_all.iloc[:CHUNK_ROWS], y_all[:CHUNK_ROWS],
                                  times_all.iloc[:CHUNK_ROWS], args.models, args.seed)

    import lightgbm
    import sklearn
    import xgboost

    result = {
        "benchmark": "training_speed",
        "machine": {
            "python": platform.python_version(), "cpus": os.cpu_count(),
            "processor": platform.machine(), "numpy": np.__version__,
            "pandas": pd.__version__, "scikit-learn": sklearn.__version__,
            "lightgbm": lightgbm.__version__, "xgboost": xgboost.__version__,
            "load_average_1m_at_start": round(load_start, 2),
            "load_average_1m_at_end": round(os.getloadavg()[0], 2),
        },
        "note": ("seconds, one run each, model zoo defaults (GBDTs 1 thread, random forest "
                 "2 jobs); the machine is shared, so loads above 2 slow every number"),
        "data": {
            "source": "build_post_features on seeded demo posts; 1m = 10 independent 100k "
                      "generator runs (seeds 0-9), not tiled",
            "generate_and_featurize_s": generate_s,
            "rows": sizes, "features": len(FEATURES),
        },
        "fit_seconds": fit_s,
        "predict_seconds_same_rows": predict_s,
        "capped": capped,
        "quality_100k_time_holdout": quality,
    }
    if args.merge and args.out.exists():
        result = merge(json.loads(args.out.read_text()), result, args.models)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, default=float))
    logger.info("wrote %s", args.out)


if __name__ == "__main__":
    main()
