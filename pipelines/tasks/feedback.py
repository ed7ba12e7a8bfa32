"""The feedback_sentiment task: is a piece of campaign feedback negative, neutral or
positive?

Feedback (``feedback`` entity: :mod:`pipelines.tasks.feedback_data`, contract in
:mod:`pipelines.tasks.feedback_contract`) comes from a seeded demo generator, the Twitter
US Airline Sentiment CSV or the Women's E-Commerce Clothing Reviews CSV. The features stage
detects each text's language (:mod:`pipelines.tasks.feedback_language`), fills the MiniLM
embedding cache and assigns the split. Models (:mod:`pipelines.tasks.feedback_models`)
predict a ``(rows, 3)`` class-probability matrix; they are judged by multiclass log-loss
(selection and gate primary) with macro-F1 as the guard, against the training class
frequencies (the prior) and the majority class (:mod:`pipelines.evaluate.multiclass_metrics`).

Split: the rows of ``holdout_campaign`` (if set) all go to the test part (the
unseen-campaign slice: no model met that campaign); the other rows are split at random
with ``seed`` (the women's-reviews file has no dates, the tweets cover one week).

This module stays light to import: heavy libraries are imported inside the methods.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from pipelines.tasks.base import GateSpec, InputSpec, Task
from pipelines.tasks.feedback_columns import SPLIT_COLUMN, UNSEEN_COLUMN
from pipelines.validate.entity_stage import rejects_path

if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import datetime

    import numpy as np
    import pandas as pd

    from pipelines.config import Settings
    from pipelines.monitor.text_drift import TextDrift
    from pipelines.paths import ProjectPaths

logger = logging.getLogger(__name__)

#: Families fitted when ``train.models`` is empty: the measured winners (docs/feedback.md).
DEFAULT_MODELS: tuple[str, ...] = ("minilm_linear",)


class FeedbackSettings(BaseModel):
    """The ``feedback_sentiment`` section of params.yaml."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    source: Literal["demo", "airline_tweets", "womens_reviews"] = Field(
        "demo", title="Feedback source",
        description="demo: seeded synthetic feedback; airline_tweets / womens_reviews: the "
                    "CSV at 'path' in that layout (docs/feedback.md).")
    path: str | None = Field(None, title="Feedback CSV",
                             description="The CSV for a file source, relative to the "
                                         "project root.")
    demo_rows: int = Field(3000, ge=100, le=1_000_000, title="Demo feedback rows",
                           description="How many synthetic feedback rows source=demo "
                                       "generates.")
    seed: int = Field(42, ge=0, title="Data and split seed",
                      description="Seed of the demo data and the random split.")
    valid_fraction: float = Field(0.15, gt=0, lt=1, title="Validation share",
                                  description="Random share of rows that picks the best "
                                              "candidate.")
    test_fraction: float = Field(0.2, gt=0, lt=1, title="Test share",
                                 description="Random share of rows no choice sees (plus "
                                             "every row of holdout_campaign).")
    holdout_campaign: str | None = Field(
        None, title="Unseen campaign",
        description="A campaign whose rows all go to the test part (the unseen-campaign "
                    "slice); null: none.")
    language_min_letters: int = Field(
        20, ge=1, title="Letters to detect a language",
        description="Texts with fewer letters are 'und' (undetermined) and scored as "
                    "English.")
    language_min_confidence: float = Field(
        0.95, gt=0, le=1, title="Language confidence",
        description="A text is non-English only when the detector is this sure.")
    language_seed: int = Field(0, ge=0, title="Language detector seed",
                               description="langdetect is random by design; the seed makes "
                                           "its answers repeatable.")
    text_backend: Literal["torch", "onnx_int8"] = Field(
        "onnx_int8", title="Embedding backend", description="MiniLM backend (docs/embeddings.md).")
    c: float = Field(1.0, gt=0, title="Logistic regression C",
                     description="Inverse L2 strength of the text models.")
    alpha: float = Field(1.0, gt=0, title="Naive Bayes smoothing",
                         description="Additive smoothing of categorical_nb.")
    campaign_min_samples: int = Field(
        20, ge=1, title="Campaign model minimum",
        description="Labelled feedbacks a campaign needs before a campaign model may be "
                    "trained (model_status reports progress toward it).")
    retrain_after: int = Field(
        50, ge=1, title="Retrain after",
        description="Labelled feedbacks of a campaign since the last training that make a "
                    "retrain due (POST /tasks/feedback_sentiment/outcomes counts them).")
    campaign_shrinkage: float = Field(
        20.0, gt=0, title="Campaign shrinkage k",
        description="A campaign model's probabilities count with weight n / (n + k) against "
                    "the global model's (n: the campaign's labelled training rows).")

    @model_validator(mode="after")
    def _consistent(self) -> FeedbackSettings:
        if self.source != "demo" and not self.path:
            raise ValueError(f"feedback_sentiment.path must name the CSV when "
                             f"feedback_sentiment.source is {self.source!r}; got none.")
        if self.valid_fraction + self.test_fraction > 0.8:
            raise ValueError(f"feedback_sentiment.valid_fraction + test_fraction must be at "
                             f"most 0.8; got {self.valid_fraction} + {self.test_fraction}.")
        return self


class FeedbackTask(Task):
    """Sentiment class of a piece of campaign feedback."""

    name = "feedback_sentiment"
    input = InputSpec(entity="feedback", key=("feedback_id",), time_column="created_at",
                      row_suite="expectations/feedback_row_contract.json",
                      table_suite="expectations/feedback_table_contract.json")
    table = "feedback"
    table_key = ("feedback_id",)
    table_time_column = "created_at"
    target = "sentiment"
    problem = "multiclass"
    #: pipelines.tasks.feedback_models.FAMILIES (literal: nothing heavy at import).
    families = ("vader", "minilm_linear", "categorical_nb", "gaussian_nb",
                "text_demographics")
    selection_metric = "multiclass_log_loss"
    gate = GateSpec(primary="multiclass_log_loss", guards=("macro_f1",),
                    first_model_bounds={"macro_f1": ("min", 0.4)}, baseline="class prior")
    slice_column = "campaign"
    segments = False
    noun = "sentiment"
    default_models = DEFAULT_MODELS
    settings_model = FeedbackSettings

    def stage_sections(self, stage: str) -> tuple[str, ...]:
        """The train stage gates campaign models with ``promote``."""
        return ("promote",) if stage == "train" else ()

    # --- stage hooks ---------------------------------------------------------------
    def collect(self, paths: ProjectPaths, settings: Settings) -> dict[str, Any]:
        """Generate or read feedback into ``01_raw/feedback.parquet``; unreadable records
        go to ``01_raw/feedback.rejects.parquet`` (always written)."""
        from pipelines.collect.formats import ReadLimits
        from pipelines.tasks import feedback_data as data

        section = self.section(settings)
        if section.source == "demo":
            rows = data.generate_feedback(section.demo_rows, section.seed)
            rejects, read = data.quarantine_frame([]), len(rows)
            source = f"demo(rows={section.demo_rows}, seed={section.seed})"
        else:
            csv_path = paths.resolve(section.path)
            result = data.read_feedback_csv(csv_path, section.source,
                                            limits=ReadLimits.from_settings(settings.collect))
            rows, rejects, read = result.feedback, result.rejects, result.records_read
            source = f"{section.source}:{csv_path}"
        raw = paths.raw(self.input.entity)
        raw.parent.mkdir(parents=True, exist_ok=True)
        rows.to_parquet(raw, index=False)
        rejects.to_parquet(rejects_path(raw), index=False)
        logger.info("feedback.collect: %s: %d records, %d rows, %d rejected", source, read,
                    len(rows), len(rejects))
        return {"source": source, "records_read": read, "rows": len(rows),
                "rejected": len(rejects), "files": [str(raw), str(rejects_path(raw))]}

    def validate(self, paths: ProjectPaths, settings: Settings, *, as_of: Any,
                 reports: bool) -> dict[str, Any]:
        """Apply the feedback contract; write the validated and quarantine layers and the
        validation report (:func:`pipelines.validate.entity_stage.validate_entity_stage`
        with :data:`pipelines.tasks.feedback_contract.CONTRACT`).

        Raises:
            DataContractError: (a ValueError) listing every dataset-level failure, after
                the layers and the report are written.
        """
        from pipelines.tasks.feedback_contract import CONTRACT
        from pipelines.validate.entity_stage import validate_entity_stage

        return validate_entity_stage(
            paths, self.input, task=self.name, as_of=as_of,
            min_rows=settings.validate.min_rows,
            max_quarantine_rate=settings.validate.max_quarantine_rate, reports=reports,
            **CONTRACT)

    def features(self, paths: ProjectPaths, settings: Settings) -> dict[str, Any]:
        """Write ``03_features/feedback.parquet``: the validated rows with ``language``,
        ``split`` and ``unseen_campaign``; manifest ``feedback.json``."""
        import pandas as pd

        from pipelines.tasks.feedback_language import detect_languages
        from pipelines.tasks.feedback_training import assign_split, language_report

        section = self.section(settings)
        rows = pd.read_parquet(paths.validated(self.input.entity)).reset_index(drop=True)
        rows["language"] = detect_languages(
            rows["text"].tolist(), min_letters=section.language_min_letters,
            min_confidence=section.language_min_confidence, seed=section.language_seed)
        rows[SPLIT_COLUMN], rows[UNSEEN_COLUMN] = assign_split(
            rows["campaign"], holdout_campaign=section.holdout_campaign,
            valid_fraction=section.valid_fraction, test_fraction=section.test_fraction,
            seed=section.seed)
        path = paths.feature_table(self.table)
        path.parent.mkdir(parents=True, exist_ok=True)
        rows.to_parquet(path, index=False)
        manifest = {"rows": len(rows), "languages": language_report(rows["language"]),
                    "splits": rows[SPLIT_COLUMN].value_counts().to_dict(),
                    "unseen_campaign": section.holdout_campaign,
                    "unseen_rows": int(rows[UNSEEN_COLUMN].sum())}
        path.with_suffix(".json").write_text(json.dumps(manifest, indent=2))
        logger.info("feedback.features: %d rows, languages %s, splits %s, unseen campaign "
                    "%r (%d rows)", len(rows), manifest["languages"]["counts"],
                    manifest["splits"], section.holdout_campaign, manifest["unseen_rows"])
        return manifest

    def train(self, paths: ProjectPaths, settings: Settings) -> dict[str, Any]:
        """Fit every family of ``train.models`` (empty: :data:`DEFAULT_MODELS`) on the
        training rows; save each as ``<name>.joblib``. With a text family, every text of
        the table is embedded once first (the cache then serves evaluation and the gate).
        Each candidate carries its campaign models with fallback
        (:mod:`pipelines.tasks.feedback_campaigns`, judged with ``promote``)."""
        from pipelines.tasks.feedback_training import train_candidates

        section = self.section(settings)
        models = tuple(settings.train.models) or DEFAULT_MODELS
        return train_candidates(self, paths, section, models, seed=settings.train.seed,
                                promote=settings.promote)

    def evaluate(self, paths: ProjectPaths, settings: Settings) -> dict[str, Any]:
        """Score every candidate and both baselines on the validation and test rows (the
        unseen-campaign slice and each campaign too); the best candidate has the lowest
        validation log-loss. Writes ``paths.metrics``."""
        from pipelines.tasks.feedback_training import evaluate_candidates

        return evaluate_candidates(self, paths)

    # --- model-facing hooks ----------------------------------------------------------
    def holdout(self, paths: ProjectPaths) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(training rows, test rows) of the features stage's split."""
        import pandas as pd

        table = pd.read_parquet(paths.feature_table(self.table))
        return (table[table[SPLIT_COLUMN] == "train"], table[table[SPLIT_COLUMN] == "test"])

    def baseline(self, train: pd.DataFrame, test: pd.DataFrame) -> np.ndarray:
        """The training class frequencies (add-one smoothed) for every test row."""
        from pipelines.evaluate.multiclass_metrics import prior_baseline
        from pipelines.tasks.feedback_data import CLASSES

        return prior_baseline(train[self.target].to_numpy(), len(test), len(CLASSES))

    def metrics(self, actual: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
        """:func:`pipelines.evaluate.multiclass_metrics.multiclass_metrics`."""
        from pipelines.evaluate.multiclass_metrics import multiclass_metrics
        from pipelines.tasks.feedback_data import CLASSES

        return multiclass_metrics(actual, predicted, classes=CLASSES)

    def model_input(self, rows: pd.DataFrame) -> pd.DataFrame:
        """The feedback columns a client sends, plus ``language`` where already detected.

        Raises:
            ValueError: naming the missing columns.
        """
        from pipelines.tasks.feedback_data import INPUT_COLUMNS

        missing = [c for c in INPUT_COLUMNS if c not in rows.columns]
        if missing:
            raise ValueError(f"feedback.model_input: rows lack column(s) {missing}; "
                             f"feedback needs {list(INPUT_COLUMNS)}.")
        columns = [*INPUT_COLUMNS, *(["language"] if "language" in rows.columns else [])]
        return rows[columns].reset_index(drop=True)

    def predict(self, model: Any, rows: pd.DataFrame) -> np.ndarray:
        """The ``(rows, 3)`` class probabilities (negative, neutral, positive)."""
        import numpy as np

        return np.asarray(model.predict(self.model_input(rows)), dtype=float)

    # --- monitoring hooks (pipelines.monitor) -------------------------------------------
    def drift_reference(self, train: pd.DataFrame) -> pd.DataFrame:
        """The training rows' input columns (text included: its descriptors and embeddings
        are judged), detected language, time and sentiment."""
        from pipelines.tasks.feedback_data import INPUT_COLUMNS

        out = train[list(INPUT_COLUMNS)].reset_index(drop=True)
        for column in ("language", self.input.time_column, self.target):
            out[column] = train[column].to_numpy()
        return out

    def drift_frame(self, model: Any, rows: pd.DataFrame, *,
                    outcome_known: pd.Series | None) -> pd.DataFrame:
        """The input columns a client sends (the detected ``language`` is left out: the
        check describes the text itself, :meth:`text_drift`), the decided class index as
        the prediction and the known sentiment index as the outcome."""
        import numpy as np

        from pipelines.monitor.drift import PREDICTION, TARGET
        from pipelines.tasks.feedback_data import INPUT_COLUMNS

        frame = rows[list(INPUT_COLUMNS)].reset_index(drop=True).astype(str)
        frame[PREDICTION] = self.predict(model, rows).argmax(axis=1).astype(float)
        outcome = rows[self.target].to_numpy(dtype=float)
        if outcome_known is not None:
            outcome = np.where(np.asarray(outcome_known, dtype=bool), outcome, np.nan)
        frame[TARGET] = outcome
        return frame

    def realized_performance(self, rows: pd.DataFrame, judged: pd.DataFrame, *,
                             offline: Mapping[str, float], max_error_increase: float,
                             min_outcomes: int) -> dict[str, Any]:
        """The realized error rate (1 - accuracy of the decided class) against the offline
        test error rate: the drift frame keeps the decided class, not the probabilities the
        log-loss needs."""
        from pipelines.monitor.drift import PREDICTION
        from pipelines.monitor.realized_performance import realized_loss

        base = {"error_rate": 1 - offline["accuracy"]} if "accuracy" in offline else {}
        return realized_loss(
            actual=rows[self.target].to_numpy(dtype=float),
            predicted=judged[PREDICTION].to_numpy(dtype=float),
            times=rows[self.input.time_column], metric="error_rate",
            loss=lambda a, p: float((a != p).mean()), offline=base,
            max_error_increase=max_error_increase, min_outcomes=min_outcomes)

    def text_drift(self, paths: ProjectPaths, settings: Settings) -> TextDrift:
        """The feedback text: :func:`pipelines.tasks.feedback_monitoring.text_drift`."""
        from pipelines.tasks.feedback_monitoring import text_drift

        return text_drift(paths, self.section(settings), settings.monitor)

    # --- serving hooks -----------------------------------------------------------------
    def request_model(self, paths: ProjectPaths) -> type[BaseModel]:
        """:class:`pipelines.tasks.feedback_serving.FeedbackRow`: text, optional campaign
        and demographics."""
        from pipelines.tasks.feedback_serving import FeedbackRow

        return FeedbackRow

    def request_frame(self, rows: list[dict[str, Any]]) -> pd.DataFrame:
        import pandas as pd

        from pipelines.tasks.feedback_data import fill_unknown

        frame = pd.DataFrame.from_records(rows)
        for column in ("campaign", "gender", "age_range", "education", "country", "state",
                       "timezone"):
            frame[column] = fill_unknown(frame[column])
        return frame

    def answers(self, model: Any, rows: pd.DataFrame) -> tuple[np.ndarray, list[dict[str, Any]]]:
        """Class, probabilities, VADER compound, language and ``model_status`` per row
        (:func:`pipelines.tasks.feedback_serving.feedback_answers`); the logged value is
        the decided class index."""
        from pipelines.tasks.feedback_serving import feedback_answers

        return feedback_answers(model, self.model_input(rows), self.predict(model, rows))

    def outcome_model(self, paths: ProjectPaths) -> type[BaseModel]:
        """A labelled feedback record under the row contract
        (:func:`pipelines.tasks.feedback_serving.feedback_outcome`)."""
        from pipelines.tasks.feedback_serving import feedback_outcome

        return feedback_outcome(paths.resolve(self.input.row_suite))

    def labels_since(self, model: Any, group: str) -> datetime | None:
        """:func:`pipelines.tasks.feedback_retrain.labels_since`."""
        from pipelines.tasks.feedback_retrain import labels_since

        return labels_since(model, group)

    def retrain_on_outcomes(self, model: Any, outcomes: Any, counts: Any, *,
                            paths: ProjectPaths, settings: Settings, max_rows: int,
                            now: datetime, registered_at: datetime | None
                            ) -> tuple[Any | None, dict[str, dict[str, Any]]]:
        """The due campaigns retrained and gated
        (:func:`pipelines.tasks.feedback_retrain.retrain_campaigns`); a model without
        campaign models is never retrained here."""
        from pipelines.tasks.feedback_campaigns import CampaignModels
        from pipelines.tasks.feedback_retrain import retrain_campaigns

        if not isinstance(model, CampaignModels):
            return None, {}
        return retrain_campaigns(self, model, outcomes, counts, paths=paths,
                                 settings=settings, max_rows=max_rows, now=now,
                                 registered_at=registered_at)

    def outcome_status(self, settings: Settings, group: str,
                       counts: dict[str, int]) -> dict[str, Any]:
        """The campaign's labelled feedback against ``campaign_min_samples`` and
        ``retrain_after`` (:func:`pipelines.tasks.feedback_serving.labelled_status`)."""
        from pipelines.tasks.feedback_serving import labelled_status

        section = self.section(settings)
        return labelled_status(group, counts, min_samples=section.campaign_min_samples,
                               retrain_after=section.retrain_after)

    def example(self, paths: ProjectPaths) -> pd.DataFrame:
        return self.holdout(paths)[1].tail(1)

    def describe(self, predicted: Any, actual: Any) -> str:
        import numpy as np
        import pandas as pd

        from pipelines.tasks.feedback_data import CLASSES

        p = np.ravel(np.asarray(predicted, dtype=float))
        known = "not known yet" if pd.isna(actual) else f"actual {CLASSES[int(actual)]}"
        return (f"predicted {CLASSES[int(p.argmax())]} ("
                + ", ".join(f"{c} {v:.0%}" for c, v in zip(CLASSES, p, strict=True))
                + f"; {known})")


FEEDBACK_SENTIMENT = FeedbackTask()
