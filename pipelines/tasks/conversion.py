"""The conversion task: does a browsing session end in a purchase?

Sessions (``sessions`` entity: :mod:`pipelines.tasks.conversion_data`) come from a seeded
demo generator or the UCI "Online Shoppers Purchasing Intention" CSV; the features are in
:mod:`pipelines.tasks.conversion_features`. Models are binary classifiers
(:mod:`pipelines.train.classifiers`) whose ``predict`` is the probability of a purchase,
judged by log-loss (the selection metric and the gate's primary), ROC-AUC and Brier score
against the constant training base rate (:mod:`pipelines.evaluate.binary_metrics`).

Splits are by time: the newest months are the test part, the months before them the
validation part (:func:`pipelines.train.split.time_split` on ``month_start``: a month never
straddles two parts). Conversion shifts by month (2 % in February, 25 % in November in the
UCI file), so a model trained on earlier months meets a different base rate in the test
months; the calibration error in the metrics shows by how much.

This module stays light to import (no pandas or scikit-learn at module level): the task
registry is read when DAG files are parsed.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from pipelines.tasks.base import GateSpec, InputSpec, ScoringInput, Task
from pipelines.validate.entity_stage import rejects_path

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from pipelines.collect.formats import ReadLimits
    from pipelines.config import Settings
    from pipelines.paths import ProjectPaths

logger = logging.getLogger(__name__)

#: Families fitted when ``train.models`` is empty: all four fit 10k sessions in seconds.
DEFAULT_MODELS: tuple[str, ...] = ("logistic_regression", "lightgbm", "xgboost",
                                   "random_forest")


class ConversionSettings(BaseModel):
    """The ``conversion`` section of params.yaml."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    source: Literal["demo", "file"] = Field(
        "demo", title="Session source",
        description="demo: seeded synthetic sessions; file: the CSV at 'path' (the UCI "
                    "online-shoppers header).")
    path: str | None = Field(
        None, title="Sessions CSV",
        description="The sessions CSV for source=file, relative to the project root.")
    demo_rows: int = Field(
        10_000, ge=200, le=1_000_000, title="Demo sessions",
        description="How many synthetic sessions source=demo generates.")
    seed: int = Field(
        42, ge=0, title="Demo data seed",
        description="Seed of the synthetic sessions (the model seed is train.seed).")
    use_page_values: bool = Field(
        False, title="Use page values",
        description="Whether models see page_values. In the UCI data it is computed from "
                    "the pages visited before a transaction, so it is close to the label: "
                    "run with and without it and compare.")
    valid_fraction: float = Field(
        0.15, gt=0, lt=1, title="Validation share",
        description="Share of sessions, from the newest months before the test months, "
                    "that picks the best candidate (whole months).")
    test_fraction: float = Field(
        0.2, gt=0, lt=1, title="Test share",
        description="Share of sessions from the newest months that no choice sees (whole "
                    "months).")
    segment_key: Literal["none", "session_segment"] = Field(
        "none", title="Segment models",
        description="session_segment: each candidate also fits a model per learned session "
                    "segment (the newest registered session segmenter assigns it), kept only "
                    "where the gate shows it beats the global model; none: global only.")
    segment_min_samples: int = Field(
        300, ge=2, title="Segment model minimum",
        description="Training sessions a segment needs before its own model is fitted.")
    segment_min_holdout: int = Field(
        100, ge=2, title="Segment gate minimum",
        description="Validation sessions of a segment the gate needs to keep its model.")
    segment_shrinkage: float = Field(
        300.0, gt=0, title="Segment shrinkage k",
        description="A segment model's probability counts with weight n / (n + k) against "
                    "the global model's (n: the segment's training sessions).")

    @model_validator(mode="after")
    def _consistent(self) -> ConversionSettings:
        if self.source == "file" and not self.path:
            raise ValueError("conversion.path must name the sessions CSV when "
                             "conversion.source is 'file'; got none.")
        if self.valid_fraction + self.test_fraction > 0.8:
            raise ValueError(f"conversion.valid_fraction + conversion.test_fraction must be "
                             f"at most 0.8 (leave training months); got "
                             f"{self.valid_fraction} + {self.test_fraction}.")
        return self


class ConversionTask(Task):
    """Probability that a browsing session ends in a purchase."""

    name = "conversion"
    input = InputSpec(entity="sessions", key=("session_id",), time_column="month_start",
                      row_suite="expectations/sessions_row_contract.json",
                      table_suite="expectations/sessions_table_contract.json")
    table = "sessions"
    table_key = ("session_id",)
    table_time_column = "month_start"
    target = "converted"
    problem = "binary"
    #: pipelines.train.classifiers.CLASSIFIER_NAMES (literal: no scikit-learn at import).
    families = ("logistic_regression", "lightgbm", "xgboost", "random_forest")
    selection_metric = "log_loss"
    gate = GateSpec(primary="log_loss", guards=("roc_auc", "brier"),
                    first_model_bounds={"roc_auc": ("min", 0.6)}, baseline="prior rate")
    # New visitors convert at about twice the rate of returning ones: a model must not
    # trade one group's calibration for the other's.
    slice_column = "visitor_type"
    segments = False
    noun = "probability of a purchase"
    default_models = DEFAULT_MODELS
    settings_model = ConversionSettings

    def stage_sections(self, stage: str) -> tuple[str, ...]:
        """The train stage gates segment models with ``promote`` and finds (or first
        learns) the segmenter by ``session_segments``; the segments stage learns them."""
        return {"train": ("promote", "session_segments"),
                "segments": ("session_segments",)}.get(stage, ())

    def learn_segments(self, paths: ProjectPaths, settings: Settings) -> dict[str, Any]:
        """The segments stage learns the session segments
        (:func:`pipelines.tasks.conversion_segments.learn_session_segments`)."""
        from pipelines.tasks.conversion_segments import learn_session_segments

        return learn_session_segments(paths, settings)

    def segment_assigner(self, settings: Settings) -> Any:
        """Served sessions are assigned by the newest registered version of
        ``session_segments.model_name`` (the segmenter the segments stage learns)."""
        from pipelines.serve.segment_assign import SegmentAssigner

        return SegmentAssigner(settings.session_segments.model_name, self.serve_key)

    # --- stage hooks ---------------------------------------------------------------
    def collect(self, paths: ProjectPaths, settings: Settings) -> dict[str, Any]:
        """Generate or read sessions into ``01_raw/sessions.parquet``; unreadable records go
        to ``01_raw/sessions.rejects.parquet`` (always written, so none is stale)."""
        from pipelines.collect.formats import ReadLimits
        from pipelines.tasks import conversion_data as data

        section = self.section(settings)
        if section.source == "demo":
            sessions = data.generate_sessions(section.demo_rows, section.seed)
            rejects, read = data.quarantine_frame([]), len(sessions)
            source = f"demo(rows={section.demo_rows}, seed={section.seed})"
        else:
            csv_path = paths.resolve(section.path)
            result = data.read_sessions_csv(csv_path,
                                            limits=ReadLimits.from_settings(settings.collect))
            sessions, rejects, read = result.sessions, result.rejects, result.records_read
            source = str(csv_path)
        raw = paths.raw(self.input.entity)
        raw.parent.mkdir(parents=True, exist_ok=True)
        sessions.to_parquet(raw, index=False)
        rejects.to_parquet(rejects_path(raw), index=False)
        logger.info("conversion.collect: %s: %d records, %d sessions, %d rejected", source,
                    read, len(sessions), len(rejects))
        return {"source": source, "records_read": read, "rows": len(sessions),
                "rejected": len(rejects), "files": [str(raw), str(rejects_path(raw))]}

    def validate(self, paths: ProjectPaths, settings: Settings, *, as_of: Any,
                 reports: bool) -> dict[str, Any]:
        """Apply the sessions contract; write the validated and quarantine layers and the
        validation report (its ``months``: rows and conversion per month;
        :func:`pipelines.validate.entity_stage.validate_entity_stage`).

        Raises:
            ValueError: if ``as_of`` is None.
            DataContractError: (a ValueError) listing every dataset-level failure, after
                the layers and the report are written.
        """
        from pipelines.tasks.conversion_data import month_summary
        from pipelines.validate.entity_stage import validate_entity_stage

        return validate_entity_stage(
            paths, self.input, task=self.name, key="session_id", as_of=as_of,
            min_rows=settings.validate.min_rows,
            max_quarantine_rate=settings.validate.max_quarantine_rate, reports=reports,
            summaries={"months": month_summary})

    def features(self, paths: ProjectPaths, settings: Settings) -> dict[str, Any]:
        """Write ``03_features/sessions.parquet`` (time-ordered) and its manifest
        (``sessions.json``: input and feature columns, rows and conversion per month)."""
        import pandas as pd

        from pipelines.tasks.conversion_features import build_session_table

        section = self.section(settings)
        sessions = pd.read_parquet(paths.validated(self.input.entity))
        table, manifest = build_session_table(sessions, section.use_page_values)
        path = paths.feature_table(self.table)
        path.parent.mkdir(parents=True, exist_ok=True)
        table.to_parquet(path, index=False)
        path.with_suffix(".json").write_text(json.dumps(manifest, indent=2))
        logger.info("conversion.features: %d sessions x %d features (page values: %s)",
                    len(table), len(manifest["feature_columns"]), section.use_page_values)
        return manifest

    def train(self, paths: ProjectPaths, settings: Settings) -> dict[str, Any]:
        """Fit every family of ``train.models`` (empty: :data:`DEFAULT_MODELS`) on the
        training months; save each behind the session featurizer (``<name>.joblib`` takes
        canonical session columns and predicts the probability of a purchase).

        Raises:
            ValueError: for a model name that is not a binary family, or a feature table
                built with another ``use_page_values`` than the settings say.
        """
        import time

        import joblib
        from sklearn.pipeline import Pipeline

        from pipelines.tasks.conversion_features import SessionFeaturizer
        from pipelines.train.classifiers import candidate_facts, make_classifier
        from pipelines.train.split import time_split

        section = self.section(settings)
        models = tuple(settings.train.models) or DEFAULT_MODELS
        unknown = [m for m in models if m not in self.families]
        if unknown:
            raise ValueError(f"conversion.train: train.models {list(unknown)} are not binary "
                             f"families; the conversion task knows {list(self.families)}.")
        table, features = self._table(paths)
        if features["use_page_values"] != section.use_page_values:
            raise ValueError(
                f"conversion.train: the feature table {paths.feature_table(self.table)} was "
                f"built with use_page_values={features['use_page_values']}, but "
                f"conversion.use_page_values is {section.use_page_values}; rerun features.")
        split = time_split(table[self.table_time_column], section.valid_fraction,
                           section.test_fraction)
        names = list(features["feature_columns"])
        rows = table.iloc[split.train]
        seed = settings.train.seed
        paths.models.mkdir(parents=True, exist_ok=True)
        segmented = section.segment_key == "session_segment"
        if segmented:
            from pipelines.tasks.conversion_segments import newest_segmenter

            segmenter, version = newest_segmenter(paths, settings)
        candidates, decisions = {}, {}
        for name in models:
            overrides = dict(settings.train.hyperparameters.get(name, {}))

            def fit(part: pd.DataFrame, name: str = name, overrides: dict = overrides) -> Any:
                return Pipeline([
                    ("features", SessionFeaturizer(section.use_page_values).fit(part)),
                    ("model", make_classifier(name, overrides, seed, names).fit(
                        part[names], part[self.target].to_numpy()))])

            started = time.perf_counter()
            model = fit(rows)
            classifier = model[-1]
            if segmented:
                from pipelines.tasks.conversion_segments import with_segment_models

                model, decisions[name] = with_segment_models(
                    model, fit, segmenter=segmenter, version=version, train=rows,
                    valid=table.iloc[split.valid], target=self.target,
                    features=self.model_input, min_samples=section.segment_min_samples,
                    min_holdout=section.segment_min_holdout,
                    shrinkage=section.segment_shrinkage, gate=self.gate,
                    promote=settings.promote)
            seconds = time.perf_counter() - started
            joblib.dump(model, paths.models / f"{name}.joblib")
            candidates[name] = candidate_facts(name, classifier, names, seconds=seconds,
                                               overrides=overrides, seed=seed)
            logger.info("conversion.train: %s fitted in %.2f s on %d sessions", name, seconds,
                        len(rows))
        manifest = {
            "task": self.name, "target": self.target, "seed": seed, "rows": len(table),
            "input_columns": list(features["input_columns"]), "feature_columns": names,
            "use_page_values": section.use_page_values,
            "split": _split_record(table, split, section.valid_fraction,
                                   section.test_fraction),
            "candidates": candidates,
        }
        if segmented:
            (paths.models / "segment_models.json").write_text(
                json.dumps(decisions, indent=2, default=str))
        (paths.models / "manifest.json").write_text(json.dumps(manifest, indent=2,
                                                               default=str))
        return manifest

    def evaluate(self, paths: ProjectPaths, settings: Settings) -> dict[str, Any]:
        """Score every candidate and the prior-rate baseline on the validation and test
        months; the best candidate has the lowest validation log-loss (the test part never
        decides). Writes ``paths.metrics``."""
        import joblib

        from pipelines.evaluate.binary_metrics import binary_metrics, reliability_table
        from pipelines.evaluate.slices import slice_metrics

        manifest = _read_json(paths.models / "manifest.json")
        table, split = self._split(paths, manifest)
        train = table.iloc[split.train]
        parts = {"valid": table.iloc[split.valid], "test": table.iloc[split.test]}
        actual = {part: rows[self.target].to_numpy() for part, rows in parts.items()}
        results: dict[str, Any] = {}
        for name in manifest["candidates"]:
            model = joblib.load(paths.models / f"{name}.joblib")
            predicted = {part: self.predict(model, rows) for part, rows in parts.items()}
            results[name] = {part: binary_metrics(actual[part], predicted[part])
                             for part in parts}
            results[name]["test_reliability"] = reliability_table(actual["test"],
                                                                  predicted["test"])
            results[name][f"test_by_{self.slice_column}"] = slice_metrics(
                parts["test"], actual["test"], predicted["test"], by=self.slice_column,
                metrics=binary_metrics)
        baseline = {part: self.metrics(actual[part], self.baseline(train, rows))
                    for part, rows in parts.items()}
        best = min(results, key=lambda n: results[n]["valid"][self.selection_metric])
        report = {
            "task": self.name, "target": self.target, "selection_metric": self.selection_metric,
            "best": best, "use_page_values": manifest["use_page_values"],
            "candidates": results, "baselines": {"prior_rate": baseline},
            "improvement_over_baseline_log_loss":
                baseline["test"]["log_loss"] - results[best]["test"]["log_loss"],
            "split": manifest["split"],
        }
        paths.metrics.parent.mkdir(parents=True, exist_ok=True)
        paths.metrics.write_text(json.dumps(report, indent=2))
        logger.info("conversion.evaluate: best %s, test log-loss %.4f (prior rate %.4f), "
                    "ROC-AUC %.3f", best, results[best]["test"]["log_loss"],
                    baseline["test"]["log_loss"], results[best]["test"]["roc_auc"])
        return report

    # --- model-facing hooks ----------------------------------------------------------
    def holdout(self, paths: ProjectPaths) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(training months' rows, test months' rows) of the split ``train`` recorded."""
        table, split = self._split(paths, _read_json(paths.models / "manifest.json"))
        return table.iloc[split.train], table.iloc[split.test]

    def baseline(self, train: pd.DataFrame, test: pd.DataFrame) -> np.ndarray:
        """The training months' conversion rate for every test row."""
        from pipelines.evaluate.binary_metrics import prior_rate_baseline

        return prior_rate_baseline(train[self.target].to_numpy(), len(test))

    def metrics(self, actual: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
        """:func:`pipelines.evaluate.binary_metrics.binary_metrics`."""
        from pipelines.evaluate.binary_metrics import binary_metrics

        return binary_metrics(actual, predicted)

    def model_input(self, rows: pd.DataFrame) -> pd.DataFrame:
        """The session columns a client sends (``page_values`` included even when the
        models ignore it, so the input schema does not change with the setting).

        Raises:
            ValueError: naming the missing columns.
        """
        from pipelines.tasks.conversion_data import INPUT_COLUMNS

        missing = [c for c in INPUT_COLUMNS if c not in rows.columns]
        if missing:
            raise ValueError(f"conversion.model_input: rows lack session column(s) {missing}; "
                             f"a session needs {list(INPUT_COLUMNS)}.")
        return rows[list(INPUT_COLUMNS)].copy()

    def predict(self, model: Any, rows: pd.DataFrame) -> np.ndarray:
        """The probability of a purchase for each row."""
        import numpy as np

        return np.asarray(model.predict(self.model_input(rows)), dtype=float)

    def answers(self, model: Any, rows: pd.DataFrame) -> tuple[np.ndarray, list[dict[str, Any]]]:
        """The probability and, for a model with session-segment models, a
        ``model_status`` per row (:func:`pipelines.tasks.conversion_segments.
        segment_answers`)."""
        from pipelines.tasks.conversion_segments import segment_answers

        return segment_answers(model, self.model_input(rows), self.predict(model, rows))

    def drift_reference(self, train: pd.DataFrame) -> pd.DataFrame:
        """The training sessions' input columns, their month and outcome."""
        out = self.model_input(train)
        for column in (self.input.time_column, self.target):
            out[column] = train[column].to_numpy()
        return out

    # --- serving hooks -----------------------------------------------------------------
    #: Sticky A/B routing hashes the session: a session is answered by one arm.
    serve_key = "session_id"

    def request_model(self, paths: ProjectPaths) -> type[BaseModel]:
        """One session as a client sends it: ``session_id`` and the input columns, typed as
        the canonical table stores them, with the sessions row contract's one-row rules
        (required, bounds, sets: :func:`pipelines.validate.row_rules.request_model`)."""
        from pipelines.tasks.conversion_data import COLUMNS, INPUT_COLUMNS
        from pipelines.validate.expectations import load_suite
        from pipelines.validate.row_rules import request_model

        return request_model(
            "ConversionSession", {c: COLUMNS[c][0] for c in (self.serve_key, *INPUT_COLUMNS)},
            load_suite(paths.resolve(self.input.row_suite)),
            doc=f"One browsing session to score: its id and what was seen of it so far. "
                f"Rules: {self.input.row_suite} (required fields, bounds, allowed values).")

    def read_for_scoring(self, path: Path, fmt: str, *, paths: ProjectPaths,
                         limits: ReadLimits) -> ScoringInput:
        """Sessions in the UCI online-shoppers CSV layout (``Revenue`` may be absent: the
        outcome of a session to score is not known yet); records the reader cannot read and
        sessions that break the row contract's rules on what a client sends (the online
        route's rules, plus unique ids) go to the quarantine.

        Raises:
            ValueError: for a layout other than ``canonical`` (the sessions CSV) or an
                unreadable file, naming it.
        """
        import pandas as pd

        from pipelines.tasks import conversion_data as data
        from pipelines.validate.expectations import load_suite

        if fmt != "canonical":
            raise ValueError(f"conversion.read_for_scoring: 'format' must be 'canonical' (the "
                             f"sessions CSV with the UCI online-shoppers header); got {fmt!r}.")
        read = data.read_sessions_csv(Path(path), limits=limits, outcome_required=False)
        rows, invalid = data.split_scorable(
            read.sessions, load_suite(paths.resolve(self.input.row_suite)),
            columns=(self.serve_key, *data.INPUT_COLUMNS), source=str(path))
        rejects = pd.concat([read.rejects, invalid], ignore_index=True)
        return ScoringInput(rows, rejects, read.records_read)

    def example(self, paths: ProjectPaths) -> pd.DataFrame:
        """The newest session of the training table: its key, month, inputs and outcome."""
        import pandas as pd

        from pipelines.tasks.conversion_data import INPUT_COLUMNS

        columns = [*self.table_key, self.table_time_column, *INPUT_COLUMNS, self.target]
        return pd.read_parquet(paths.feature_table(self.table), columns=columns).tail(1)

    def describe(self, predicted: float, actual: Any) -> str:
        import pandas as pd

        if pd.isna(actual):
            known = "not known yet"
        else:
            known = "actual: purchased" if int(actual) == 1 else "actual: no purchase"
        return f"predicted {self.noun} {predicted:.1%} ({known})"

    # --- helpers -----------------------------------------------------------------------
    def _table(self, paths: ProjectPaths) -> tuple[pd.DataFrame, dict[str, Any]]:
        import pandas as pd

        path = paths.feature_table(self.table)
        return pd.read_parquet(path), _read_json(path.with_suffix(".json"))

    def _split(self, paths: ProjectPaths, manifest: dict[str, Any]) -> tuple[pd.DataFrame, Any]:
        """The feature table and the split recorded in the models' manifest.

        Raises:
            ValueError: if the table is not the one the models were trained on.
        """
        from pipelines.train.split import time_split

        table, features = self._table(paths)
        if len(table) != manifest["rows"] or features["feature_columns"] != manifest[
                "feature_columns"]:
            raise ValueError(
                f"conversion: the feature table {paths.feature_table(self.table)} "
                f"({len(table)} rows) is not the one the models in {paths.models} were trained "
                f"on ({manifest['rows']} rows); rerun train.")
        record = manifest["split"]
        split = time_split(table[record["time_column"]], record["valid_fraction"],
                           record["test_fraction"])
        return table, split


def _split_record(table: pd.DataFrame, split: Any, valid_fraction: float,
                  test_fraction: float) -> dict[str, Any]:
    """Rows, months and conversion rate of each part, and the fractions that made them."""
    record: dict[str, Any] = {"time_column": "month_start", "valid_fraction": valid_fraction,
                              "test_fraction": test_fraction}
    for part in ("train", "valid", "test"):
        rows = table.iloc[getattr(split, part)]
        record[part] = {
            "rows": len(rows),
            "months": sorted(rows["month_start"].dt.strftime("%Y-%m").unique().tolist()),
            "conversion_rate": round(float(rows["converted"].mean()), 6)}
    return record



def _read_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


CONVERSION = ConversionTask()
