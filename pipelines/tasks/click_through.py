"""The click-through task: is a recommended item, shown at a position, clicked?

Impressions (``impressions`` entity: :mod:`pipelines.tasks.click_data`) come from a seeded
demo generator or the Open Bandit Dataset's logs; the features are in
:mod:`pipelines.tasks.click_features`. Models are binary classifiers
(:mod:`pipelines.train.classifiers`) whose ``predict`` is P(click), judged by log-loss (the
selection metric and the gate's primary), normalized entropy, Brier, calibration and
ROC-AUC (:mod:`pipelines.evaluate.click_metrics`) against the **position CTR**: the
training rows' click rate of the impression's position, which is what a model that knows
nothing about users and items can know.

Splits are by time (``shown_at``): the oldest impressions train, the newest test.

This module stays light to import (no pandas or scikit-learn at module level).
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

#: Families fitted when ``train.models`` is empty (the random forest's probabilities at a
#: 0.5 % rate are coarse vote shares: it is available, not a default).
DEFAULT_MODELS: tuple[str, ...] = ("logistic_regression", "lightgbm", "xgboost")
#: The logs the Open Bandit small sample has (``<policy>/<campaign>``).
OpenBanditLog = Literal["random/all", "random/men", "random/women", "bts/all", "bts/men",
                        "bts/women"]


class ClickThroughSettings(BaseModel):
    """The ``click_through`` section of params.yaml."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    source: Literal["demo", "open_bandit"] = Field(
        "demo", title="Impression source",
        description="demo: seeded synthetic impressions; open_bandit: the Open Bandit "
                    "Dataset folder at 'path' (<policy>/<campaign>/<campaign>.csv and "
                    "item_context.csv).")
    path: str | None = Field(
        None, title="Open Bandit folder",
        description="The folder holding <policy>/<campaign>/ for source=open_bandit, "
                    "relative to the project root.")
    logs: tuple[OpenBanditLog, ...] = Field(
        ("random/men", "random/women", "bts/men"), title="Logs read",
        description="The <policy>/<campaign> logs source=open_bandit reads: random = "
                    "uniform-random logging policy, bts = Bernoulli Thompson sampling.")
    demo_rows: int = Field(
        60_000, ge=1_000, le=2_000_000, title="Demo impressions",
        description="How many synthetic impressions source=demo generates (0.5 % click: "
                    "60,000 give about 300 clicks).")
    seed: int = Field(
        42, ge=0, title="Demo data seed",
        description="Seed of the synthetic impressions (the model seed is train.seed).")
    min_level_count: int = Field(
        30, ge=1, le=100_000, title="Rows per category level",
        description="A hashed category level (user feature, item category, item) seen in "
                    "fewer training rows than this shares the '_other' column.")
    valid_fraction: float = Field(
        0.15, gt=0, lt=1, title="Validation share",
        description="Share of impressions, just before the test part in time, that picks "
                    "the best candidate.")
    test_fraction: float = Field(
        0.15, gt=0, lt=1, title="Test share",
        description="Share of the newest impressions that no choice sees.")

    @model_validator(mode="after")
    def _consistent(self) -> ClickThroughSettings:
        if self.source == "open_bandit" and not self.path:
            raise ValueError("click_through.path must name the Open Bandit folder when "
                             "click_through.source is 'open_bandit'; got none.")
        if not self.logs or len(set(self.logs)) != len(self.logs):
            raise ValueError(f"click_through.logs must name distinct logs, at least one; got "
                             f"{list(self.logs)}.")
        if self.valid_fraction + self.test_fraction > 0.8:
            raise ValueError(f"click_through.valid_fraction + click_through.test_fraction must "
                             f"be at most 0.8 (leave training rows); got "
                             f"{self.valid_fraction} + {self.test_fraction}.")
        return self


class ClickThroughTask(Task):
    """Probability that an impression of a recommended item is clicked."""

    name = "click_through"
    input = InputSpec(entity="impressions", key=("impression_id",), time_column="shown_at",
                      row_suite="expectations/impressions_row_contract.json",
                      table_suite="expectations/impressions_table_contract.json")
    table = "impressions"
    table_key = ("impression_id",)
    table_time_column = "shown_at"
    target = "click"
    problem = "binary"
    #: pipelines.train.classifiers.CLASSIFIER_NAMES (literal: no scikit-learn at import).
    families = ("logistic_regression", "lightgbm", "xgboost", "random_forest")
    selection_metric = "log_loss"
    gate = GateSpec(primary="log_loss", guards=("roc_auc", "brier"),
                    first_model_bounds={"roc_auc": ("min", 0.55)}, baseline="position CTR")
    # The two catalogues (men's, women's items) differ in items and click rates: a model
    # must not buy one campaign's log-loss with the other's.
    slice_column = "campaign"
    segments = False
    noun = "probability of a click"
    default_models = DEFAULT_MODELS
    settings_model = ClickThroughSettings

    # --- stage hooks ---------------------------------------------------------------
    def collect(self, paths: ProjectPaths, settings: Settings) -> dict[str, Any]:
        """Generate or read impressions into ``01_raw/impressions.parquet``; unreadable
        records go to ``01_raw/impressions.rejects.parquet`` (always written)."""
        from pipelines.collect.formats import ReadLimits
        from pipelines.tasks import click_data as data

        section = self.section(settings)
        if section.source == "demo":
            rows = data.generate_impressions(section.demo_rows, section.seed)
            rejects, read = data.quarantine_frame([]), len(rows)
            source, files = f"demo(rows={section.demo_rows}, seed={section.seed})", []
        else:
            folder = paths.resolve(section.path)
            result = data.read_open_bandit(folder, logs=tuple(section.logs),
                                           limits=ReadLimits.from_settings(settings.collect))
            rows, rejects, read = result.impressions, result.rejects, result.records_read
            source, files = f"{folder} logs {list(section.logs)}", list(result.files)
        raw = paths.raw(self.input.entity)
        raw.parent.mkdir(parents=True, exist_ok=True)
        rows.to_parquet(raw, index=False)
        rejects.to_parquet(rejects_path(raw), index=False)
        logger.info("click_through.collect: %s: %d records, %d impressions, %d rejected",
                    source, read, len(rows), len(rejects))
        return {"source": source, "records_read": read, "rows": len(rows),
                "rejected": len(rejects), "read": files,
                "files": [str(raw), str(rejects_path(raw))]}

    def validate(self, paths: ProjectPaths, settings: Settings, *, as_of: Any,
                 reports: bool) -> dict[str, Any]:
        """Apply the impressions contract; write the validated and quarantine layers and
        the validation report (its ``summary``: click rates, :func:`~pipelines.tasks.
        click_features.click_summary`; :func:`pipelines.validate.entity_stage.
        validate_entity_stage`).

        Raises:
            ValueError: if ``as_of`` is None.
            DataContractError: (a ValueError) listing every dataset-level failure, after
                the layers and the report are written.
        """
        from pipelines.tasks.click_features import click_summary
        from pipelines.validate.entity_stage import validate_entity_stage

        return validate_entity_stage(
            paths, self.input, task=self.name, key="impression_id", as_of=as_of,
            min_rows=settings.validate.min_rows,
            max_quarantine_rate=settings.validate.max_quarantine_rate, reports=reports,
            summaries={"summary": click_summary})

    def features(self, paths: ProjectPaths, settings: Settings) -> dict[str, Any]:
        """Write ``03_features/impressions.parquet`` (time-ordered impressions: key, time,
        click, logging policy and propensity, input columns) and its manifest. The features
        themselves are computed by the featurizer each saved model starts with, fitted on
        the training part (it learns category levels)."""
        import pandas as pd

        from pipelines.tasks.click_features import build_impression_table

        rows = pd.read_parquet(paths.validated(self.input.entity))
        table, manifest = build_impression_table(rows)
        path = paths.feature_table(self.table)
        path.parent.mkdir(parents=True, exist_ok=True)
        table.to_parquet(path, index=False)
        path.with_suffix(".json").write_text(json.dumps(manifest, indent=2))
        logger.info("click_through.features: %d impressions, click rate %s, wrote %s",
                    len(table), manifest["ctr"], path)
        return manifest

    def train(self, paths: ProjectPaths, settings: Settings) -> dict[str, Any]:
        """Fit every family of ``train.models`` (empty: :data:`DEFAULT_MODELS`) on the
        oldest impressions (:func:`pipelines.tasks.click_training.train_click_models`).

        Raises:
            ValueError: for a model name that is not a binary family.
        """
        from pipelines.tasks.click_training import train_click_models

        return train_click_models(self, paths, settings)

    def evaluate(self, paths: ProjectPaths, settings: Settings) -> dict[str, Any]:
        """Score every candidate, the position CTR and the prior rate on the validation and
        test parts (:func:`pipelines.tasks.click_training.evaluate_click_models`)."""
        from pipelines.tasks.click_training import evaluate_click_models

        return evaluate_click_models(self, paths, settings)

    # --- model-facing hooks ----------------------------------------------------------
    def holdout(self, paths: ProjectPaths) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(training impressions, test impressions) of the split ``train`` recorded."""
        table, split = self.table_split(paths, _read_json(paths.models / "manifest.json"))
        return table.iloc[split.train], table.iloc[split.test]

    def baseline(self, train: pd.DataFrame, test: pd.DataFrame) -> np.ndarray:
        """The training click rate of each test impression's position."""
        from pipelines.tasks.click_features import position_ctr_baseline

        return position_ctr_baseline(train, test)

    def metrics(self, actual: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
        """:func:`pipelines.evaluate.click_metrics.click_metrics`."""
        from pipelines.evaluate.click_metrics import click_metrics

        return click_metrics(actual, predicted)

    def metric_columns(self) -> tuple[str, ...]:
        return (self.selection_metric, "normalized_entropy", *self.gate.guards, "calibration")

    def model_input(self, rows: pd.DataFrame) -> pd.DataFrame:
        """The impression columns a client sends.

        Raises:
            ValueError: naming the missing columns.
        """
        from pipelines.tasks.click_features import check_inputs

        check_inputs(rows)
        return rows[list(_input_columns())].copy()

    def predict(self, model: Any, rows: pd.DataFrame) -> np.ndarray:
        """P(click) for each row."""
        import numpy as np

        return np.asarray(model.predict(self.model_input(rows)), dtype=float)

    def drift_reference(self, train: pd.DataFrame) -> pd.DataFrame:
        """The training impressions' input columns, their time and outcome."""
        out = self.model_input(train)
        for column in (self.input.time_column, self.target):
            out[column] = train[column].to_numpy()
        return out

    # --- serving hooks -----------------------------------------------------------------
    serve_key = "impression_id"

    def request_model(self, paths: ProjectPaths) -> type[BaseModel]:
        """One impression as a client sends it: ``impression_id`` and the input columns,
        with the impressions row contract's one-row rules."""
        from pipelines.tasks.click_data import COLUMNS
        from pipelines.validate.expectations import load_suite
        from pipelines.validate.row_rules import request_model

        return request_model(
            "ClickImpression",
            {c: COLUMNS[c] for c in (self.serve_key, *_input_columns())},
            load_suite(paths.resolve(self.input.row_suite)),
            doc=f"One impression to score: the item, its position, the user's hashed "
                f"features and affinities, the item's features. Rules: "
                f"{self.input.row_suite}.")

    def read_for_scoring(self, path: Path, fmt: str, *, paths: ProjectPaths,
                         limits: ReadLimits) -> ScoringInput:
        """Impressions of one Open Bandit log (``canonical``: ``path`` is
        ``<folder>/<policy>/<campaign>/<campaign>.csv``, its item context found as for
        training; ``click`` may be absent); unreadable records and rows that break the row
        contract's rules on what a client sends go to the quarantine.

        Raises:
            ValueError: for a layout other than ``canonical``, or a path not shaped as
                above, naming it.
        """
        import pandas as pd

        from pipelines.tasks import click_data as data
        from pipelines.validate.entity_contract import split_scorable
        from pipelines.validate.expectations import load_suite

        path = Path(path)
        if fmt != "canonical":
            raise ValueError(f"click_through.read_for_scoring: 'format' must be 'canonical' "
                             f"(an Open Bandit <policy>/<campaign>/<campaign>.csv log); got "
                             f"{fmt!r}.")
        log = f"{path.parent.parent.name}/{path.parent.name}"
        read = data.read_open_bandit(path.parent.parent.parent, logs=(log,), limits=limits,
                                     outcome_required=False)
        rows, invalid = split_scorable(
            read.impressions, load_suite(paths.resolve(self.input.row_suite)),
            key=self.serve_key, columns=(self.serve_key, *_input_columns()), source=str(path))
        return ScoringInput(rows, pd.concat([read.rejects, invalid], ignore_index=True),
                            read.records_read)

    def example(self, paths: ProjectPaths) -> pd.DataFrame:
        """The newest impression of the training table: key, time, inputs and outcome."""
        import pandas as pd

        columns = [*self.table_key, self.table_time_column, *_input_columns(), self.target]
        return pd.read_parquet(paths.feature_table(self.table), columns=columns).tail(1)

    def describe(self, predicted: float, actual: Any) -> str:
        import pandas as pd

        if pd.isna(actual):
            known = "not known yet"
        else:
            known = "actual: clicked" if int(actual) == 1 else "actual: not clicked"
        return f"predicted {self.noun} {predicted:.2%} ({known})"

    # --- helpers -----------------------------------------------------------------------
    def table_split(self, paths: ProjectPaths, manifest: dict[str, Any]
                    ) -> tuple[pd.DataFrame, Any]:
        """The feature table and the split recorded in the models' manifest.

        Raises:
            ValueError: if the table is not the one the models were trained on.
        """
        import pandas as pd

        from pipelines.train.split import time_split

        path = paths.feature_table(self.table)
        table = pd.read_parquet(path)
        if len(table) != manifest["rows"]:
            raise ValueError(
                f"click_through: the feature table {path} ({len(table)} rows) is not the one "
                f"the models in {paths.models} were trained on ({manifest['rows']} rows); "
                f"rerun train.")
        record = manifest["split"]
        return table, time_split(table[record["time_column"]], record["valid_fraction"],
                                 record["test_fraction"])


def _input_columns() -> tuple[str, ...]:
    from pipelines.tasks.click_data import INPUT_COLUMNS

    return INPUT_COLUMNS



def _read_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


CLICK_THROUGH = ClickThroughTask()
