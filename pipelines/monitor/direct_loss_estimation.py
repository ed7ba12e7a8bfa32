"""Direct loss estimation (DLE): a regressor's mean absolute error on rows whose outcomes
have not arrived yet.

A second model (LightGBM, least squares) learns the champion's absolute error from the
champion's inputs and its prediction on rows with known outcomes the champion did not
train on (the registered candidate's held-out test rows). Its prediction for a new row is
the error expected there; their mean over a chunk is the chunk's expected MAE. The error is
taken on the scale the task is judged on: drift frames hold count predictions and outcomes
as ``log1p`` (:meth:`pipelines.tasks.post_counts.PostCountTask.drift_frame`), so for count
tasks the estimate is ``mae_log``; growth tasks are already on the log scale (``mae``).

Assumptions, as for CBPE (:mod:`confidence_based_estimation`): no concept shift
(``P(y | x)``, hence the error's dependence on ``x``, is what it was on the held-out rows),
and new rows fall where the error model was learned; the estimate then follows a covariate
shift into regions where the champion errs more or less. Under a concept shift the inputs
look as before, the estimate stays put and the realized error moves.

The band is ± ``sigmas`` standard errors of the realized MAE around its expectation for
the chunk's own rows: a second LightGBM learns the squared error, so each row's error
variance is ``E[e^2 | x] - E[|e| | x]^2`` and the chunk's standard error is the root of
their sum over ``rows``. Where a shift moves rows into regions of larger errors the band
widens with them (a band measured once on the held-out rows and scaled by ``1/sqrt(rows)``
was too narrow there in this module's tests).

References:
  * NannyML, "Estimating Performance for Regression" and "How it Works: Direct Loss
    Estimation (DLE)", https://nannyml.readthedocs.io
    (``nannyml.performance_estimation.direct_loss_estimation``). NannyML itself is not
    used: it pins ``lightgbm < 4.6`` (this stack runs lightgbm 4.7) and
    ``python-dateutil < 3``, and sends usage telemetry by default.
  * G. Ke et al. (2017), "LightGBM: A Highly Efficient Gradient Boosting Decision Tree",
    NeurIPS (the error model).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from pipelines.monitor.drift import PREDICTION, TARGET

#: The error model: small and regularized, it must generalize from a few thousand rows.
LIGHTGBM_PARAMS = {"objective": "regression", "learning_rate": 0.1, "num_leaves": 15,
                   "min_data_in_leaf": 20, "feature_fraction": 0.9, "lambda_l2": 1.0,
                   "max_bin": 63, "verbosity": -1, "deterministic": True, "num_threads": 1}
ROUNDS = 100


class DirectLossEstimator:
    """DLE of the mean absolute error ``metric`` (scikit-learn contract: ``fit`` returns
    self, learned state ends in ``_``).

    Args:
        metric: Name of the MAE estimated (the task's gate metric: ``mae_log``, ``mae``).
        sigmas: Half-width of the band in standard errors of the realized MAE.
        seed: Seed of the error models.
    """

    method = "DLE"

    def __init__(self, *, metric: str, sigmas: float, seed: int) -> None:
        self.metric = metric
        self.sigmas = sigmas
        self.seed = seed

    @property
    def metrics(self) -> tuple[str, ...]:
        """The one metric estimated."""
        return (self.metric,)

    def _matrix(self, frame: pd.DataFrame) -> np.ndarray:
        """The error model's inputs: numeric columns as they are, text columns as codes
        of the categories seen at fit time (unseen: missing)."""
        columns = []
        for column in self.features_:
            values = frame[column]
            if column in self.categories_:
                codes = pd.Categorical(values.astype(str), categories=self.categories_[column])
                columns.append(np.where(codes.codes < 0, np.nan, codes.codes).astype(float))
            else:
                columns.append(pd.to_numeric(values, errors="coerce").to_numpy(dtype=float))
        return np.column_stack(columns)

    def fit(self, frame: pd.DataFrame) -> DirectLossEstimator:
        """Learn the champion's absolute error from held-out rows.

        Args:
            frame: Rows the champion did not train on, as drift judges them
                (:meth:`pipelines.tasks.base.Task.drift_frame`): inputs, ``prediction``
                and the known ``target``.

        Raises:
            ValueError: for a bad setting, a missing outcome, or fewer than 100 rows.
        """
        import lightgbm as lgb

        if not self.sigmas > 0:
            raise ValueError(f"DirectLossEstimator: 'sigmas' must be > 0; got {self.sigmas!r}.")
        error = np.abs(frame[PREDICTION].to_numpy(dtype=float)
                       - frame[TARGET].to_numpy(dtype=float))
        if np.isnan(error).any():
            raise ValueError(f"DirectLossEstimator.fit: {int(np.isnan(error).sum())} rows lack "
                             f"an outcome or a prediction; fit on rows with known outcomes.")
        if len(frame) < 100:
            raise ValueError(f"DirectLossEstimator.fit: needs >= 100 held-out rows; got "
                             f"{len(frame)}.")
        self.features_ = [c for c in frame.columns if c != TARGET]
        self.categories_ = {c: sorted(frame[c].astype(str).unique().tolist())
                            for c in self.features_
                            if not (pd.api.types.is_numeric_dtype(frame[c])
                                    or pd.api.types.is_bool_dtype(frame[c]))}
        matrix = self._matrix(frame)
        categorical = [i for i, c in enumerate(self.features_) if c in self.categories_]
        data = lgb.Dataset(matrix, label=error, categorical_feature=categorical,
                           free_raw_data=False)
        params = {**LIGHTGBM_PARAMS, "seed": self.seed}
        self._boosters = {"abs": lgb.train(params, data, num_boost_round=ROUNDS),
                          "sq": lgb.train(params, lgb.Dataset(
                              matrix, label=error ** 2, categorical_feature=categorical),
                              num_boost_round=ROUNDS)}
        self.boosters_ = {k: b.model_to_string() for k, b in self._boosters.items()}
        prediction = frame[PREDICTION].to_numpy(dtype=float)
        self.prediction_range_ = (float(prediction.min()), float(prediction.max()))
        return self

    def _predict(self, kind: str, frame: pd.DataFrame) -> np.ndarray:
        if getattr(self, "_boosters", None) is None:
            import lightgbm as lgb

            self._boosters = {k: lgb.Booster(model_str=v) for k, v in self.boosters_.items()}
        return np.clip(self._boosters[kind].predict(self._matrix(frame)), 0, None)

    def estimate(self, frame: pd.DataFrame) -> dict[str, float]:
        """The expected MAE of ``frame``'s rows (inputs and ``prediction``; no outcome)."""
        return {self.metric: float(self._predict("abs", frame).mean())}

    def realized(self, frame: pd.DataFrame) -> dict[str, float]:
        """The MAE measured against ``frame``'s known outcomes (``target``)."""
        return {self.metric: float(np.mean(np.abs(frame[PREDICTION].to_numpy(dtype=float)
                                                  - frame[TARGET].to_numpy(dtype=float))))}

    def bands(self, frame: pd.DataFrame) -> dict[str, float]:
        """Half-width of the MAE's band for ``frame``'s rows: ``sigmas`` standard errors
        of the realized MAE around its expectation (module docstring)."""
        if len(frame) == 0:
            return {self.metric: float("inf")}
        variance = np.clip(self._predict("sq", frame) - self._predict("abs", frame) ** 2,
                           0, None)
        return {self.metric: self.sigmas * float(np.sqrt(variance.sum()) / len(frame))}

    def out_of_range(self, frame: pd.DataFrame) -> float:
        """Share of ``frame``'s predictions outside the held-out predictions' range (where
        the error model saw no example)."""
        q = frame[PREDICTION].to_numpy(dtype=float)
        low, high = self.prediction_range_
        return float(np.mean((q < low) | (q > high))) if len(q) else 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (the error models in LightGBM's text format)."""
        return {"method": self.method, "metric": self.metric, "sigmas": self.sigmas,
                "seed": self.seed, "features": self.features_,
                "categories": self.categories_, "boosters": self.boosters_,
                "prediction_range": list(self.prediction_range_)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DirectLossEstimator:
        """The inverse of :meth:`to_dict`."""
        out = cls(metric=data["metric"], sigmas=float(data["sigmas"]), seed=int(data["seed"]))
        out.features_ = list(data["features"])
        out.categories_ = {k: list(v) for k, v in data["categories"].items()}
        out.boosters_ = dict(data["boosters"])
        out._boosters = None
        out.prediction_range_ = tuple(data["prediction_range"])
        return out
