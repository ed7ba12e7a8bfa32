"""Binomial rate models and their judging, for the per-ad rate tasks
(:mod:`pipelines.tasks.ad_rates`): the ``train`` and ``evaluate`` stage hooks' bodies.

A rate (clicks per impression) is a binomial outcome with many trials per row. A model
learns it as a classifier of the trials: each ad becomes two rows, its successes (label 1,
weight = successes) and its failures (label 0, weight = trials - successes), so the
classifier's weighted log-loss is exactly the binomial log-likelihood of the ads
(:class:`BinomialRateModel`). Its ``predict`` is the rate.

Judging weighs every ad by its trials: the log-loss and Brier score are means over
impressions, not over ads (an ad with 87 impressions must not count as much as one with
3 million), the same numbers the promotion gate computes with the task's
``weight_column`` (:mod:`pipelines.evaluate.gate_metrics`). The rank metric is the
impression-weighted Spearman correlation of the observed and predicted rates.

Each candidate is saved as a :class:`CampaignRateModels`: the global model plus the
campaign models that :func:`pipelines.segments.gated_segment_models.fit_segment_models`
kept (a campaign with ``campaign_min_samples`` training ads gets a model of the same
family, shrunk toward the global rate model, kept only where it beats the global model on
the campaign's validation ads through the promotion gate, impression-weighted); the
decisions go to ``campaign_models.json``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, MetaEstimatorMixin, RegressorMixin, clone
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_limits

from pipelines.segments.gated_segment_models import SegmentModels, fit_segment_models

if TYPE_CHECKING:
    from pipelines.config import Settings
    from pipelines.paths import ProjectPaths
    from pipelines.tasks.ad_rates import AdRateTask

logger = logging.getLogger(__name__)

#: Defaults of the rate families that differ from the binary ones (params.yaml
#: ``train.hyperparameters`` still override them): lbfgs stops on the gradient of the mean
#: log-loss, which at rates of 1e-4 is tiny from the start, so the default tolerance (1e-4)
#: stops it several percent away from the maximum likelihood.
RATE_DEFAULTS: dict[str, dict[str, Any]] = {"logistic_regression": {"tol": 1e-12}}


class BinomialRateModel(MetaEstimatorMixin, RegressorMixin, BaseEstimator):
    """A classifier of trials whose ``predict`` is the success rate.

    Args:
        estimator: A scikit-learn classifier with ``predict_proba`` and ``sample_weight``
            in ``fit`` (cloned at fit).
        feature_names: The columns to learn from, in order.
        threads: Cap on native thread pools while fitting and predicting.

    Attributes:
        estimator_: The fitted clone.
    """

    def __init__(self, estimator: BaseEstimator, feature_names: Sequence[str],
                 threads: int | None = None) -> None:
        self.estimator = estimator
        self.feature_names = feature_names
        self.threads = threads

    def fit(self, X: pd.DataFrame, y: Any, sample_weight: Any) -> BinomialRateModel:  # noqa: N803
        """Fit on observed rates ``y`` with ``sample_weight`` trials per row.

        Raises:
            ValueError: if a rate is outside [0, 1], a trial count is not > 0, or the rows
                hold no success or no failure.
        """
        rate = np.asarray(y, dtype=float)
        trials = np.asarray(sample_weight, dtype=float)
        if not (np.isfinite(rate).all() and ((rate >= 0) & (rate <= 1)).all()):
            raise ValueError("BinomialRateModel.fit: 'y' must hold rates in [0, 1].")
        if not (np.isfinite(trials).all() and (trials > 0).all()):
            raise ValueError("BinomialRateModel.fit: 'sample_weight' must hold trial counts "
                             "> 0.")
        weights = np.concatenate([rate * trials, (1 - rate) * trials])
        if weights[: len(rate)].sum() <= 0 or weights[len(rate):].sum() <= 0:
            raise ValueError("BinomialRateModel.fit: the rows need both successes and "
                             "failures.")
        matrix = X[list(self.feature_names)]
        doubled = pd.concat([matrix, matrix], ignore_index=True)
        labels = np.repeat([1, 0], len(rate))
        keep = weights > 0
        estimator = clone(self.estimator)
        # a Pipeline (scaler + logistic regression) routes the weights to its last step
        key = (f"{estimator.steps[-1][0]}__sample_weight" if isinstance(estimator, Pipeline)
               else "sample_weight")
        with threadpool_limits(self.threads):
            self.estimator_ = estimator.fit(doubled[keep], labels[keep],
                                            **{key: weights[keep]})
        self.n_features_in_ = len(self.feature_names)
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        """The predicted success rate of each row."""
        check_is_fitted(self, "estimator_")
        with threadpool_limits(self.threads):
            return np.asarray(self.estimator_.predict_proba(X[list(self.feature_names)])[:, 1],
                              dtype=float)


class CampaignRateModels(SegmentModels):
    """The global rate model plus the campaign models the gate kept (rates blended per
    ``campaign``)."""

    column = "campaign"
    level = "campaign"
    method = "predict"
    noun = "training ads"


def rate_answers(model: Any, rows: pd.DataFrame, rates: np.ndarray
                 ) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """(the rates, the answer per row: ``prediction`` and ``model_status`` with ``level``
    (``campaign`` or ``global``), ``segment``, ``campaign_model``, ``trained_this_cycle``,
    ``retrained_this_cycle`` and a ``message``). A model without campaign models (trained
    before they existed) answers at the global level."""
    status = getattr(model, "segment_status", None)
    answers = []
    for i, campaign in enumerate(rows["campaign"].astype(str)):
        level = (status(campaign) if status is not None else
                 {"level": "global", "segment": f"campaign={campaign}", "segment_model": False,
                  "message": "this model has no campaign models; the global model answered"})
        answers.append({"prediction": float(rates[i]), "model_status": {
            "level": level["level"], "segment": level["segment"],
            "campaign_model": level["segment_model"], "trained_this_cycle": False,
            "retrained_this_cycle": False, "message": level["message"]}})
    return np.asarray(rates, dtype=float), answers


def weighted_rate_metrics(actual: np.ndarray, predicted: np.ndarray,
                          weights: np.ndarray) -> dict[str, float]:
    """Trial-weighted metrics of predicted rates: ``rate_log_loss`` (binomial log-loss per
    trial), ``normalized_entropy`` (it over the entropy of the pooled rate), ``rate_brier``,
    ``spearman`` (weighted correlation of full ranks), ``mean_predicted`` and
    ``mean_actual`` (both trial-weighted)."""
    from scipy.stats import rankdata

    from pipelines.evaluate.gate_metrics import LOG_LOSS_EPS

    a = np.asarray(actual, dtype=float)
    p = np.clip(np.asarray(predicted, dtype=float), LOG_LOSS_EPS, 1 - LOG_LOSS_EPS)
    w = np.asarray(weights, dtype=float) / np.sum(weights)
    loss = float(-np.sum(w * (a * np.log(p) + (1 - a) * np.log(1 - p))))
    base = float(np.clip(np.sum(w * a), LOG_LOSS_EPS, 1 - LOG_LOSS_EPS))
    entropy = -(base * np.log(base) + (1 - base) * np.log(1 - base))
    ra, rp = rankdata(a), rankdata(p)
    ra, rp = ra - np.sum(w * ra), rp - np.sum(w * rp)
    spread = np.sqrt(np.sum(w * ra**2) * np.sum(w * rp**2))
    return {"rate_log_loss": loss, "normalized_entropy": float(loss / entropy),
            "rate_brier": float(np.sum(w * (p - a) ** 2)),
            "spearman": float(np.sum(w * ra * rp) / spread) if spread > 0 else float("nan"),
            "mean_predicted": float(np.sum(w * p)), "mean_actual": float(np.sum(w * a))}


def train_rate_models(task: AdRateTask, paths: ProjectPaths, settings: Settings, *,
                      min_samples: int, min_holdout: int, shrinkage: float
                      ) -> dict[str, Any]:
    """Fit every family of ``train.models`` (empty: the task's ``default_models``) on the
    training part, each behind the task's featurizer, with its campaign models gated on the
    validation part with ``settings.promote`` (``min_samples``, ``min_holdout``,
    ``shrinkage``: the task's ``campaign_min_samples``, ``campaign_min_holdout`` and
    ``campaign_shrinkage``). ``<name>.joblib`` (a
    :class:`CampaignRateModels`) takes the input columns and predicts the rate; the
    decisions go to ``campaign_models.json``.

    Raises:
        ValueError: for a model name that is not a rate family.
    """
    import time

    import joblib

    from pipelines.tasks.binary_table_task import PART
    from pipelines.train.classifiers import default_hyperparameters, make_classifier

    models = tuple(settings.train.models) or tuple(task.default_models)
    unknown = [m for m in models if m not in task.families]
    if unknown:
        raise ValueError(f"{task.name}.train: train.models {list(unknown)} are not rate "
                         f"families; the task knows {list(task.families)}.")
    table = pd.read_parquet(paths.feature_table(task.table))
    rows, valid = table[table[PART] == "train"], table[table[PART] == "valid"]
    featurizer = task.featurizer().fit(rows)
    x = featurizer.transform(rows)
    names = list(x.columns)
    seed = settings.train.seed
    paths.models.mkdir(parents=True, exist_ok=True)
    candidates, decisions = {}, {}
    for name in models:
        overrides = {**RATE_DEFAULTS.get(name, {}),
                     **settings.train.hyperparameters.get(name, {})}
        wrapped = make_classifier(name, overrides, seed, names)

        def fit(part: pd.DataFrame, wrapped: Any = wrapped) -> Pipeline:
            model = BinomialRateModel(wrapped.estimator, names, wrapped.threads)
            model.fit(featurizer.transform(part), part[task.target].to_numpy(),
                      sample_weight=part[task.trials].to_numpy())
            return Pipeline([("features", featurizer), ("model", model)])

        started = time.perf_counter()
        hierarchy, decisions[name] = fit_segment_models(
            CampaignRateModels, fit(rows), fit=fit, features=task.model_input, train=rows,
            valid=valid, target=task.target, weight_column=task.weight_column,
            min_samples=min_samples, min_holdout=min_holdout, shrinkage=shrinkage,
            gate=task.gate,
            promote=settings.promote)
        seconds = time.perf_counter() - started
        joblib.dump(hierarchy, paths.models / f"{name}.joblib")
        candidates[name] = {"fit_seconds": round(seconds, 3),
                            "campaign_models": decisions[name]["kept"],
                            "hyperparameters": {**default_hyperparameters(name, seed),
                                                **overrides}}
        logger.info("%s.train: %s fitted in %.2f s on %d ads (%d %s)", task.name, name,
                    seconds, len(rows), int(rows[task.trials].sum()), task.trials)
    manifest = {"task": task.name, "target": task.target, "weight": task.weight_column,
                "seed": seed, "rows": len(table), "parts": table[PART].value_counts().to_dict(),
                "input_columns": list(task.inputs.dtypes), "feature_columns": names,
                "candidates": candidates}
    (paths.models / "campaign_models.json").write_text(
        json.dumps(decisions, indent=2, default=str))
    (paths.models / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str))
    return manifest


def evaluate_rate_models(task: AdRateTask, paths: ProjectPaths) -> dict[str, Any]:
    """Score every candidate, the global rate and the per-campaign rate on the validation
    and test parts (trial-weighted); the lowest validation ``rate_log_loss`` picks the best
    candidate. Writes ``paths.metrics``.

    Raises:
        ValueError: if the feature table changed since the models were trained.
    """
    import joblib

    from pipelines.tasks.binary_table_task import PART

    manifest = json.loads((paths.models / "manifest.json").read_text())
    table = pd.read_parquet(paths.feature_table(task.table))
    if len(table) != manifest["rows"]:
        raise ValueError(f"{task.name}.evaluate: the feature table has {len(table)} rows, the "
                         f"models in {paths.models} were trained on one of "
                         f"{manifest['rows']}; rerun train.")
    train = table[table[PART] == "train"]
    parts = {p: table[table[PART] == p] for p in ("valid", "test")}

    def judged(predict: Any) -> dict[str, dict[str, float]]:
        return {p: weighted_rate_metrics(rows[task.target].to_numpy(), predict(rows),
                                         rows[task.weight_column].to_numpy())
                for p, rows in parts.items()}

    results = {}
    for name in manifest["candidates"]:
        model = joblib.load(paths.models / f"{name}.joblib")
        results[name] = judged(lambda rows, m=model: task.predict(m, rows))
        results[name]["test_by_campaign"] = by_campaign(task, model, parts["test"])
        if isinstance(model, SegmentModels):  # the global model alone, for comparison
            results[name]["test_by_campaign_global_model"] = by_campaign(
                task, model.global_model, parts["test"])
    baselines = {"global_rate": judged(lambda rows: task.baseline(train, rows)),
                 "campaign_rate": judged(lambda rows: campaign_rate(task, train, rows))}
    metric = task.selection_metric
    best = min(results, key=lambda n: results[n]["valid"][metric])
    report = {"task": task.name, "target": task.target, "weight": task.weight_column,
              "selection_metric": metric, "best": best, "candidates": results,
              "baselines": baselines,
              "improvement_over_baseline_rate_log_loss":
                  baselines["global_rate"]["test"][metric] - results[best]["test"][metric],
              "split": manifest["parts"]}
    paths.metrics.parent.mkdir(parents=True, exist_ok=True)
    paths.metrics.write_text(json.dumps(report, indent=2, default=str))
    logger.info("%s.evaluate: best %s, test %s %.6f (global rate %.6f, campaign rate %.6f), "
                "weighted Spearman %.3f", task.name, best, metric,
                results[best]["test"][metric], baselines["global_rate"]["test"][metric],
                baselines["campaign_rate"]["test"][metric], results[best]["test"]["spearman"])
    return report


def by_campaign(task: AdRateTask, model: Any, rows: pd.DataFrame) -> dict[str, Any]:
    """Trial-weighted metrics of ``model`` per campaign of ``rows``."""
    return {str(c): weighted_rate_metrics(g[task.target].to_numpy(), task.predict(model, g),
                                          g[task.weight_column].to_numpy())
            for c, g in rows.groupby("campaign")}


def campaign_rate(task: AdRateTask, train: pd.DataFrame, rows: pd.DataFrame) -> np.ndarray:
    """Each row's campaign's pooled training rate (successes / trials); the global pooled
    rate for a campaign training never saw."""
    sums = train.groupby("campaign")[[task.successes, task.trials]].sum()
    rates = sums[task.successes] / sums[task.trials]
    base = float(train[task.successes].sum() / train[task.trials].sum())
    return rows["campaign"].map(rates).fillna(base).to_numpy(dtype=float)
