"""The shared shape of binary tasks whose training table is built once by the features
stage with its split in a ``part`` column (``train`` / ``valid`` / ``test``): account churn
and player retention.

A subclass says how its entity is read (:meth:`BinaryTableTask.load`), how the training
table and its split are built (:meth:`BinaryTableTask.build_table`), which columns a client
sends and how they become features (:attr:`BinaryTableTask.inputs`), and its naive rule
(:meth:`BinaryTableTask.baseline`). Everything else — the contract, the classifier
families, the metrics, the threshold chosen on validation, the request model — is here,
once.

Light to import: pandas and scikit-learn are imported inside the methods.
"""

from __future__ import annotations

import json
import logging
from abc import abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from pipelines.tasks.base import Task
from pipelines.validate.entity_stage import rejects_path

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    from pydantic import BaseModel

    from pipelines.collect.formats import ReadLimits
    from pipelines.config import Settings
    from pipelines.paths import ProjectPaths

logger = logging.getLogger(__name__)

#: pipelines.train.classifiers.CLASSIFIER_NAMES (literal: no scikit-learn at import).
BINARY_FAMILIES: tuple[str, ...] = ("logistic_regression", "lightgbm", "xgboost",
                                    "random_forest")
#: The training table's column naming each row's part of the split.
PART = "part"
#: The quarantine column naming a rejected row (the first column of the task's key).
QUARANTINE_KEY = "key"


@dataclass(frozen=True)
class Inputs:
    """What a client sends and how it becomes features.

    Attributes:
        dtypes: Input column -> pandas dtype (the request model's fields, in order).
        log_columns: Counts fed as log1p (clipped at 0).
        plain_columns: Numbers and 0/1 flags fed as they are.
        categories: Column -> its known levels (one-hot; any other level -> ``_other``).
    """

    dtypes: dict[str, str]
    log_columns: tuple[str, ...]
    plain_columns: tuple[str, ...]
    categories: dict[str, tuple[str, ...]]


@dataclass(frozen=True)
class Loaded:
    """What ``load`` read: canonical rows, reject rows, records read, a source label."""

    rows: pd.DataFrame
    rejects: pd.DataFrame
    records_read: int
    source: str


class BinaryTableTask(Task):
    """A binary task whose features stage writes the table and its split."""

    problem = "binary"
    families = BINARY_FAMILIES
    selection_metric = "log_loss"
    segments = False
    default_models: ClassVar[tuple[str, ...]] = BINARY_FAMILIES
    inputs: ClassVar[Inputs]
    #: The suite whose one-row rules the request model carries.
    request_suite: ClassVar[str]

    # --- what a subclass says ----------------------------------------------------------
    @abstractmethod
    def load(self, paths: ProjectPaths, section: Any, *, limits: ReadLimits) -> Loaded:
        """Generate or read the entity's rows (a file under ``limits``, the ``collect``
        params' read limits)."""

    @abstractmethod
    def build_table(self, rows: pd.DataFrame, section: Any
                    ) -> tuple[pd.DataFrame, dict[str, Any]]:
        """The training table (key, time, target, inputs, :data:`PART`) and its manifest."""

    # --- stage hooks -------------------------------------------------------------------
    def collect(self, paths: ProjectPaths, settings: Settings) -> dict[str, Any]:
        """Write the entity's raw rows and its collect-time rejects (always, so none is
        stale)."""
        from pipelines.collect.formats import ReadLimits

        loaded = self.load(paths, self.section(settings),
                           limits=ReadLimits.from_settings(settings.collect))
        raw = paths.raw(self.input.entity)
        raw.parent.mkdir(parents=True, exist_ok=True)
        loaded.rows.to_parquet(raw, index=False)
        loaded.rejects.to_parquet(rejects_path(raw), index=False)
        logger.info("%s.collect: %s: %d records, %d rows, %d rejected", self.name,
                    loaded.source, loaded.records_read, len(loaded.rows), len(loaded.rejects))
        return {"source": loaded.source, "records_read": loaded.records_read,
                "rows": len(loaded.rows), "rejected": len(loaded.rejects),
                "files": [str(raw), str(rejects_path(raw))]}

    def validate(self, paths: ProjectPaths, settings: Settings, *, as_of: Any,
                 reports: bool) -> dict[str, Any]:
        """Apply the entity's contract; write the validated and quarantine layers and the
        validation report (:func:`pipelines.validate.entity_stage.validate_entity_stage`).

        Raises:
            ValueError: if ``as_of`` is None.
            DataContractError: (a ValueError) listing every dataset-level failure, after
                the layers and the report are written.
        """
        from pipelines.validate.entity_stage import validate_entity_stage

        return validate_entity_stage(
            paths, self.input, task=self.name, key=self.input.key[0],
            quarantine_key=QUARANTINE_KEY, as_of=as_of, min_rows=settings.validate.min_rows,
            max_quarantine_rate=settings.validate.max_quarantine_rate, reports=reports)

    def features(self, paths: ProjectPaths, settings: Settings) -> dict[str, Any]:
        """Write ``03_features/<table>.parquet`` with its split and its manifest."""
        import pandas as pd

        rows = pd.read_parquet(paths.validated(self.input.entity))
        table, manifest = self.build_table(rows, self.section(settings))
        manifest["feature_columns"] = self._featurizer().fit(table).feature_names_out_.tolist()
        path = paths.feature_table(self.table)
        path.parent.mkdir(parents=True, exist_ok=True)
        table.to_parquet(path, index=False)
        path.with_suffix(".json").write_text(json.dumps(manifest, indent=2, default=str))
        logger.info("%s.features: %d rows (%s) -> %s", self.name, len(table),
                    table[PART].value_counts().to_dict(), path)
        return manifest

    def train(self, paths: ProjectPaths, settings: Settings) -> dict[str, Any]:
        """Fit every family of ``train.models`` (empty: :attr:`default_models`) on the
        training part, each saved behind the featurizer (it takes the input columns).

        Raises:
            ValueError: for a model name that is not a binary family.
        """
        import time

        import joblib
        from sklearn.pipeline import Pipeline

        from pipelines.train.classifiers import candidate_facts, make_classifier

        models = tuple(settings.train.models) or self.default_models
        unknown = [m for m in models if m not in self.families]
        if unknown:
            raise ValueError(f"{self.name}.train: train.models {unknown} are not binary "
                             f"families; the task knows {list(self.families)}.")
        table = self._table(paths)
        rows = table[table[PART] == "train"]
        featurizer = self._featurizer().fit(rows)
        x = featurizer.transform(rows)
        names = list(x.columns)
        y, seed = rows[self.target].to_numpy(), settings.train.seed
        paths.models.mkdir(parents=True, exist_ok=True)
        candidates = {}
        for name in models:
            overrides = dict(settings.train.hyperparameters.get(name, {}))
            started = time.perf_counter()
            classifier = make_classifier(name, overrides, seed, names).fit(x, y)
            seconds = time.perf_counter() - started
            joblib.dump(Pipeline([("features", featurizer), ("model", classifier)]),
                        paths.models / f"{name}.joblib")
            candidates[name] = candidate_facts(name, classifier, names, seconds=seconds,
                                               overrides=overrides, seed=seed)
            logger.info("%s.train: %s fitted in %.2f s on %d rows", self.name, name, seconds,
                        len(rows))
        manifest = {"task": self.name, "target": self.target, "seed": seed,
                    "rows": len(table), "parts": table[PART].value_counts().to_dict(),
                    "input_columns": list(self.inputs.dtypes), "feature_columns": names,
                    "candidates": candidates}
        (paths.models / "manifest.json").write_text(json.dumps(manifest, indent=2,
                                                               default=str))
        return manifest

    def evaluate(self, paths: ProjectPaths, settings: Settings) -> dict[str, Any]:
        """Score every candidate, the prior rate and the task's rule on the validation and
        test parts; the best candidate has the lowest validation log-loss. Each one's
        decision threshold is the F1-best on validation
        (:func:`pipelines.evaluate.threshold.choose_threshold`); test precision and recall
        are read at it. Writes ``paths.metrics``."""
        import joblib

        from pipelines.evaluate.binary_metrics import (
            binary_metrics,
            prior_rate_baseline,
            reliability_table,
        )

        manifest = json.loads((paths.models / "manifest.json").read_text())
        table = self._table(paths)
        if len(table) != manifest["rows"]:
            raise ValueError(f"{self.name}.evaluate: the feature table has {len(table)} rows, "
                             f"the models in {paths.models} were trained on one of "
                             f"{manifest['rows']}; rerun train.")
        train = table[table[PART] == "train"]
        parts = {p: table[table[PART] == p] for p in ("valid", "test")}
        actual = {p: rows[self.target].to_numpy() for p, rows in parts.items()}

        def judged(predicted: dict[str, Any]) -> dict[str, Any]:
            out = {p: binary_metrics(actual[p], predicted[p]) for p in parts}
            out["test_reliability"] = reliability_table(actual["test"], predicted["test"])
            out["decision"] = _decision(actual, predicted)
            return out

        results = {}
        for name in manifest["candidates"]:
            model = joblib.load(paths.models / f"{name}.joblib")
            results[name] = judged({p: self.predict(model, rows) for p, rows in parts.items()})
        judged_baselines = {
            "prior_rate": judged({p: prior_rate_baseline(train[self.target].to_numpy(),
                                                         len(rows)) for p, rows in parts.items()}),
            _slug(self.gate.baseline): judged({p: self.baseline(train, rows)
                                               for p, rows in parts.items()})}
        best = min(results, key=lambda n: results[n]["valid"][self.selection_metric])
        rule = judged_baselines[_slug(self.gate.baseline)]["test"]
        # The registry logs ``baselines`` as flat metrics per part; the rest goes beside.
        report = {"task": self.name, "target": self.target,
                  "selection_metric": self.selection_metric, "best": best,
                  "candidates": results,
                  "baselines": {n: {p: b[p] for p in parts}
                                for n, b in judged_baselines.items()},
                  "baseline_decisions": {n: {"decision": b["decision"],
                                             "test_reliability": b["test_reliability"]}
                                         for n, b in judged_baselines.items()},
                  "threshold_rule": "F1-best on the validation part",
                  "improvement_over_baseline_log_loss":
                      rule["log_loss"] - results[best]["test"]["log_loss"],
                  "split": manifest["parts"]}
        paths.metrics.parent.mkdir(parents=True, exist_ok=True)
        paths.metrics.write_text(json.dumps(report, indent=2, default=str))
        decision = results[best]["decision"]["test"]
        logger.info("%s.evaluate: best %s, test log-loss %.4f (%s %.4f), ROC-AUC %.3f, "
                    "precision %.3f recall %.3f at threshold %.3f", self.name, best,
                    results[best]["test"]["log_loss"], self.gate.baseline, rule["log_loss"],
                    results[best]["test"]["roc_auc"], decision["precision"],
                    decision["recall"], decision["threshold"])
        return report

    # --- model-facing hooks ------------------------------------------------------------
    def holdout(self, paths: ProjectPaths) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(training part, test part) of the feature table."""
        table = self._table(paths)
        return table[table[PART] == "train"], table[table[PART] == "test"]

    def metrics(self, actual: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
        """:func:`pipelines.evaluate.binary_metrics.binary_metrics`."""
        from pipelines.evaluate.binary_metrics import binary_metrics

        return binary_metrics(actual, predicted)

    def model_input(self, rows: pd.DataFrame) -> pd.DataFrame:
        """The input columns a client sends.

        Raises:
            ValueError: naming the missing columns.
        """
        missing = [c for c in self.inputs.dtypes if c not in rows.columns]
        if missing:
            raise ValueError(f"{self.name}.model_input: rows lack column(s) {missing}; a row "
                             f"needs {list(self.inputs.dtypes)}.")
        return rows[list(self.inputs.dtypes)].copy()

    def predict(self, model: Any, rows: pd.DataFrame) -> np.ndarray:
        """The probability of the target for each row."""
        import numpy as np

        return np.asarray(model.predict(self.model_input(rows)), dtype=float)

    def drift_reference(self, train: pd.DataFrame) -> pd.DataFrame:
        """The training rows' input columns, time and outcome; the time also under the
        entity's time column name (what the registry sorts the reference by)."""
        out = self.model_input(train)
        for column in (self.table_time_column, self.target):
            out[column] = train[column].to_numpy()
        out[self.input.time_column] = train[self.table_time_column].to_numpy()
        return out

    def request_model(self, paths: ProjectPaths) -> type[BaseModel]:
        """One row as a client sends it: the key and the input columns, with the one-row
        rules of :attr:`request_suite`."""
        from pipelines.validate.expectations import load_suite
        from pipelines.validate.row_rules import request_model

        return request_model(
            f"{self.name.title().replace('_', '')}Request",
            {self.serve_key: "object", **self.inputs.dtypes},
            load_suite(paths.resolve(self.request_suite)),
            doc=f"One row to score for task {self.name}. Rules: {self.request_suite}.")

    def example(self, paths: ProjectPaths) -> pd.DataFrame:
        """The newest row of the test part."""
        return self.holdout(paths)[1].tail(1)

    def describe(self, predicted: float, actual: Any) -> str:
        import pandas as pd

        known = "not known yet" if pd.isna(actual) else f"actual {int(actual)}"
        return f"predicted {self.noun} {predicted:.1%} ({known})"

    # --- helpers -----------------------------------------------------------------------
    def _featurizer(self) -> Any:
        from pipelines.tasks.table_featurizer import TableFeaturizer

        return TableFeaturizer(self.inputs.log_columns, self.inputs.plain_columns,
                               self.inputs.categories)

    def _table(self, paths: ProjectPaths) -> pd.DataFrame:
        import pandas as pd

        return pd.read_parquet(paths.feature_table(self.table))


def _decision(actual: dict[str, Any], predicted: dict[str, Any]) -> dict[str, Any]:
    """The F1-best threshold on validation; precision and recall at it in both parts."""
    from pipelines.evaluate.threshold import choose_threshold, precision_recall_at

    threshold = choose_threshold(actual["valid"], predicted["valid"])
    return {part: precision_recall_at(actual[part], predicted[part], threshold)
            for part in ("valid", "test")}


def _slug(words: str) -> str:
    return words.replace(" ", "_").replace("-", "_")

