"""What a prediction task is: the one interface every stage, the gate, the registry, the
summary, serving and monitoring talk to.

A task is one kind of prediction (a post's likes, an account's follower growth, a browsing
session's conversion). Everything that differs between kinds lives in the task's module;
the platform code never asks which task it runs (house style 28: a new kind of thing is a
module, not a branch). Task modules stay light to import (DAG files read the registry at
parse time): heavy libraries are imported inside the methods.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

if TYPE_CHECKING:
    from datetime import datetime

    import numpy as np
    import pandas as pd
    from pydantic import BaseModel

    from pipelines.collect.formats import ReadLimits
    from pipelines.config import Settings
    from pipelines.monitor.text_drift import TextDrift
    from pipelines.paths import ProjectPaths

#: What a model of the task predicts, which decides its metrics and its gate's metric set.
#: ``rate``: a share of trials (clicks per impression), learned as a binomial.
Problem = Literal["count_regression", "growth_regression", "binary", "multiclass", "rate"]


@dataclass(frozen=True)
class GateSpec:
    """How the promotion gate judges a task's models (see docs/promotion.md).

    Attributes:
        primary: The per-row loss the challenger must improve (a gate metric name).
        guards: Metrics that must stay non-inferior.
        first_model_bounds: Absolute bounds a first model must meet, e.g.
            ``{"mae_log": ("max", 1.5), "spearman": ("min", 0.3)}``.
        baseline: Name of the naive baseline every model must beat (words in reasons).
    """

    primary: str
    guards: tuple[str, ...]
    first_model_bounds: Mapping[str, tuple[str, float]]
    baseline: str


@dataclass(frozen=True)
class InputSpec:
    """The entity a task reads and its data contract.

    Attributes:
        entity: Name of the entity table in the data layers (``posts``, ``sessions``): the
            raw, validated and quarantine files are ``01_raw/<entity>.parquet`` etc.
        key: Columns that identify one row.
        time_column: Column that orders rows in time (splits, windows, drift).
        row_suite, table_suite: Great Expectations suites (paths relative to the project
            root) of the row contract (bad rows are quarantined) and the table contract
            (a failure stops the run).
    """

    entity: str
    key: tuple[str, ...]
    time_column: str
    row_suite: str
    table_suite: str


@dataclass(frozen=True)
class ScoringInput:
    """A file to batch-score as a task reads it (:meth:`Task.read_for_scoring`).

    Attributes:
        rows: Rows that may be scored: the entity's canonical columns.
        rejects: Every record that cannot be scored, with every reason (the entity's
            quarantine layout).
        records_read: Records in the input; always ``len(rows) + len(rejects)``.
    """

    rows: pd.DataFrame
    rejects: pd.DataFrame
    records_read: int


class Task(ABC):
    """One kind of prediction. Subclasses set the class attributes and the stage hooks.

    The stage hooks take the project paths and the validated settings (one typed section
    per params.yaml section) and return a small JSON-able record; the generic stages
    (register, promote, segments) use the model-facing hooks.
    """

    name: ClassVar[str]
    #: The input entity and its contract.
    input: ClassVar[InputSpec]
    #: The training table the models learn from: ``03_features/<table>.parquet``.
    table: ClassVar[str]
    #: Key and time columns of the training table (one row per prediction).
    table_key: ClassVar[tuple[str, ...]]
    table_time_column: ClassVar[str]
    #: The column a model predicts.
    target: ClassVar[str]
    problem: ClassVar[Problem]
    #: Model families that can learn this task (names in ``train.models``).
    families: ClassVar[tuple[str, ...]]
    #: The validation metric that picks the best candidate, and whether higher is better.
    selection_metric: ClassVar[str]
    gate: ClassVar[GateSpec]
    #: Column of the training table whose values are gated as slices (None: no slices).
    slice_column: ClassVar[str | None]
    #: Column of the training table weighing each row in the gate's means (a rate's
    #: trials, e.g. impressions); None: every row weighs 1.
    weight_column: ClassVar[str | None] = None
    #: Whether per-platform / per-campaign models with fallback apply (pipelines.segments).
    segments: ClassVar[bool] = False
    #: Human words for the summary: "likes", "probability of a purchase", ...
    noun: ClassVar[str]

    #: The task's own params.yaml section (a pydantic model), or None.
    settings_model: ClassVar[type | None] = None

    @property
    def section_name(self) -> str | None:
        """The params.yaml section holding this task's settings: its own (named after it)
        when it declares a :attr:`settings_model`, else None. A task that reads another
        task's section (two instances of one class sharing one source of settings)
        overrides this; the pipeline then declares that section for its stages."""
        return self.name if self.settings_model is not None else None

    def section(self, settings: Settings) -> Any:
        """This task's params section (:attr:`section_name`) as its :attr:`settings_model`;
        a plain mapping (what a stage's view of the settings may hold) is validated."""
        section = settings.task_sections[self.section_name or self.name]
        model = self.settings_model
        return (section if model is None or isinstance(section, model)
                else model.model_validate(section))

    def stage_sections(self, stage: str) -> tuple[str, ...]:
        """Further params sections the task's hook of ``stage`` reads, beyond the stage's
        own and the task's section (the pipeline declares them; dvc.yaml lists them). Default:
        none."""
        return ()

    # --- stage hooks ---------------------------------------------------------------
    @abstractmethod
    def collect(self, paths: ProjectPaths, settings: Settings) -> dict[str, Any]:
        """Read the configured source into ``paths.raw(self.input.entity)``."""

    @abstractmethod
    def validate(self, paths: ProjectPaths, settings: Settings, *, as_of: Any,
                 reports: bool) -> dict[str, Any]:
        """Apply the data contract: validated and quarantine files, a validation report."""

    @abstractmethod
    def features(self, paths: ProjectPaths, settings: Settings) -> dict[str, Any]:
        """Build the training table ``paths.feature_table(self.table)`` from the validated
        entity; returns its manifest (``rows`` at least)."""

    @abstractmethod
    def train(self, paths: ProjectPaths, settings: Settings) -> dict[str, Any]:
        """Fit every candidate of ``train.models`` on the training part; write
        ``paths.models`` (``<name>.joblib`` + ``manifest.json``)."""

    @abstractmethod
    def evaluate(self, paths: ProjectPaths, settings: Settings) -> dict[str, Any]:
        """Score every candidate and the naive baselines; write ``paths.metrics``."""

    def refit(self, paths: ProjectPaths, settings: Settings) -> dict[str, Any]:
        """Refit the chosen candidate by its recipe on every matured label into
        ``paths.final_model`` (``model.joblib`` + ``refit.json``), the model that is
        registered; the gate's evidence stays the candidate fitted without its holdout.

        This default does not refit: it records that the evaluated candidate is
        registered as it is (``refit.json`` with ``refit: false``)."""
        import json

        best = json.loads(paths.metrics.read_text())["best"]
        paths.final_model.mkdir(parents=True, exist_ok=True)
        record = {"candidate": best, "refit": False,
                  "reason": f"task {self.name!r} registers the evaluated candidate as it is"}
        (paths.final_model / "refit.json").write_text(json.dumps(record, indent=2))
        (paths.final_model / "model.joblib").unlink(missing_ok=True)
        return record

    def learn_segments(self, paths: ProjectPaths, settings: Settings
                       ) -> dict[str, Any] | None:
        """The ``segments`` stage of a task that learns its own segments (its record), run
        instead of the platform / segment hierarchy of
        :func:`pipelines.segments.stage.run_segments`. Default: None (the hierarchy
        applies)."""
        return None

    # --- model-facing hooks (registry, gate, summary, serving) -----------------------
    @abstractmethod
    def holdout(self, paths: ProjectPaths) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The run's (training rows, test rows): the split train and evaluate used."""

    @abstractmethod
    def baseline(self, train: pd.DataFrame, test: pd.DataFrame) -> np.ndarray:
        """The naive baseline's predictions for ``test`` (``gate.baseline``)."""

    @abstractmethod
    def metrics(self, actual: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
        """The task's metrics of one set of predictions (includes ``selection_metric``)."""

    @abstractmethod
    def model_input(self, rows: pd.DataFrame) -> pd.DataFrame:
        """The columns a client sends (the registered model's input schema)."""

    def predict(self, model: Any, rows: pd.DataFrame) -> np.ndarray:
        """What the model says for ``rows`` (a count, a growth, a probability)."""
        import numpy as np

        return np.asarray(model.predict(rows), dtype=float)

    # --- serving hooks (pipelines.serve) ------------------------------------------------
    @property
    def serve_key(self) -> str:
        """The request column that names one served row: sticky champion/challenger
        routing hashes it, the response and the prediction log (``post_id``) carry it.
        Default: the last column of ``input.key``."""
        return self.input.key[-1]

    def request_model(self, paths: ProjectPaths) -> type[BaseModel]:
        """The pydantic model of one row a client sends to ``POST /tasks/<name>/predict``
        (it must have a :attr:`serve_key` field). ``paths`` locates the task's contract.

        Raises:
            ValueError: the task declares no request model (the default), so it cannot be
                listed in ``serve.tasks``.
        """
        raise ValueError(
            f"task {self.name!r} declares no request model (Task.request_model), so it "
            f"cannot be served by POST /tasks/{self.name}/predict.")

    def segment_assigner(self, settings: Settings) -> Any:
        """What assigns this task's rows to its learned segments, for ``engageflow serve`` to
        expose at ``POST /segments/sessions/assign`` with :meth:`request_model` as the row
        body (a :class:`~pipelines.serve.segment_assign.SegmentAssigner`). Default None:
        the task learns no segments of its own, no such route."""
        return None

    def answers(self, model: Any, rows: pd.DataFrame) -> tuple[np.ndarray, list[dict[str, Any]]]:
        """What ``POST /tasks/<name>/predict`` says for each row: (one number per row for
        the prediction log, one dict per row merged into the row's answer). Default: the
        :meth:`predict` value as ``prediction``."""
        import numpy as np

        values = np.asarray(self.predict(model, rows), dtype=float)
        return values, [{"prediction": float(v)} for v in values]

    def outcome_model(self, paths: ProjectPaths) -> type[BaseModel] | None:
        """The pydantic model of one labelled outcome a client sends to
        ``POST /tasks/<name>/outcomes``: the ``serve_key`` of a row answered earlier, its
        true ``target``, (with a ``slice_column``) its group and whatever else a
        retraining needs (stored whole). ``paths`` locates the task's contract. Default
        None: the task takes no outcomes over HTTP (:mod:`pipelines.serve.task_outcomes`)."""
        return None

    def labels_since(self, model: Any, group: str) -> datetime | None:
        """When ``model`` last learned from ``group``'s labelled outcomes (outcomes after
        it count toward a retraining); None (the default): when the model version was
        registered."""
        return None

    def retrain_on_outcomes(self, model: Any, outcomes: Mapping[str, list[dict[str, Any]]],
                            counts: Mapping[str, dict[str, int]], *, paths: ProjectPaths,
                            settings: Settings, max_rows: int, now: datetime,
                            registered_at: datetime | None
                            ) -> tuple[Any | None, dict[str, dict[str, Any]]]:
        """Retrain the groups of the served ``model`` that ``outcomes`` (each group's
        labelled records, :meth:`TaskOutcomes.records`) and ``counts`` make due, on at
        most ``max_rows`` rows each (``registered_at``: when the served version was
        registered). Returns (the model to register in its place, or None
        when nothing changed; per group considered, what was decided and why). Default:
        the task retrains only through its training DAG: (None, {})."""
        return None, {}

    def outcome_status(self, settings: Settings, group: str,
                       counts: dict[str, int]) -> dict[str, Any]:
        """What ``model_status`` says of the labelled outcomes of a row's group (``counts``:
        ``labelled`` in all, ``since_training``). Default: the two counts."""
        return {"labelled": counts["labelled"],
                "labelled_since_training": counts["since_training"]}

    def request_frame(self, rows: list[dict[str, Any]]) -> pd.DataFrame:
        """Validated request rows (dicts of :meth:`request_model` fields) as the DataFrame
        :meth:`predict` takes."""
        import pandas as pd

        return pd.DataFrame.from_records(rows)

    def read_for_scoring(self, path: Path, fmt: str, *, paths: ProjectPaths,
                         limits: ReadLimits) -> ScoringInput:
        """Read a file (or folder) of rows to batch-score in layout ``fmt`` and split off
        the rows the task's contract rejects (``paths`` locates the contract; ``limits``
        are the ``collect`` params' read limits, applied as the collect readers apply
        them).

        Raises:
            ValueError: the task is not batch-scored (the default).
        """
        raise ValueError(
            f"task {self.name!r} declares no batch-scoring reader (Task.read_for_scoring), "
            f"so it cannot be batch-scored.")

    def read_for_scoring_in_parts(self, path: Path, fmt: str, *, part_rows: int,
                                  workdir: Path) -> Iterator[ScoringInput] | None:
        """The file :meth:`read_for_scoring` would read, as parts of whole
        :attr:`score_group` groups of about ``part_rows`` rows, one in memory at a time
        (spilled to ``workdir``); each part's quarantine rows name their row in the file.
        None (the default): read it whole with :meth:`read_for_scoring` (a small file, a
        layout the task does not split, or a task that does not)."""
        return None

    #: Batch scoring predicts in chunks of whole groups of this column (a row's prediction
    #: may depend on other rows of its group: posts of an account count as its earlier
    #: posts); None: the rows depend on no other row, any chunk will do.
    score_group: ClassVar[str | None] = None
    #: True when :meth:`model_input` only retypes the canonical rows (same values: posts'
    #: :func:`pipelines.features.model_input.model_input`), so a compiled batch model may
    #: featurize scorable rows as they are (:mod:`pipelines.serve.chunked_predict`).
    model_input_retypes_rows: ClassVar[bool] = False

    @property
    def score_columns(self) -> tuple[str, ...]:
        """Input columns batch scoring writes beside each prediction: the entity's key and
        time column."""
        return (*self.input.key, self.input.time_column)

    # --- monitoring hooks (pipelines.monitor) -------------------------------------------
    def monitored_rows(self, paths: ProjectPaths) -> pd.DataFrame:
        """The validated rows drift monitoring takes its window from: the validated layer
        of the entity in ``paths.data`` (``02_validated/<entity>.parquet``, written by the
        CLI and ``dvc repro``).

        Raises:
            ValueError: if that file does not exist, naming it.
        """
        import pandas as pd

        path = paths.validated(self.input.entity)
        if not path.is_file():
            raise ValueError(
                f"{self.name}.monitored_rows: the validated {self.input.entity} file {path} "
                f"does not exist; run `engageflow validate --set train.task={self.name}` "
                f"(or dvc repro) with this data folder first.")
        return pd.read_parquet(path)

    def outcome_known(self, rows: pd.DataFrame, *, maturity_hours: float) -> pd.Series:
        """Whether each row's outcome (``target``) counts as a realized result. Default:
        it is known (a row's outcome is final once recorded)."""
        return rows[self.target].notna().astype(bool)

    def drift_frame(self, model: Any, rows: pd.DataFrame, *,
                    outcome_known: pd.Series | None) -> pd.DataFrame:
        """What drift is judged on, one row per input row (index reset): the model's input
        columns as a client sends them (text as str, flags as 0/1), the model's prediction
        (``pipelines.monitor.drift.PREDICTION``) and the outcome (``TARGET``: NaN where not
        known or ``outcome_known`` is False; None: every known outcome)."""
        import numpy as np
        import pandas as pd

        from pipelines.monitor.drift import PREDICTION, TARGET

        frame = self.model_input(rows).reset_index(drop=True)
        for column in frame.columns:
            if pd.api.types.is_bool_dtype(frame[column]):
                frame[column] = frame[column].astype(float)       # a flag: a 0/1 number
            elif not pd.api.types.is_numeric_dtype(frame[column]):
                frame[column] = frame[column].astype(str)
        frame[PREDICTION] = self.predict(model, rows)
        outcome = pd.to_numeric(rows[self.target], errors="coerce").to_numpy(dtype=float)
        if outcome_known is not None:
            outcome = np.where(np.asarray(outcome_known, dtype=bool), outcome, np.nan)
        frame[TARGET] = outcome
        return frame

    def text_drift(self, paths: ProjectPaths, settings: Settings) -> TextDrift | None:
        """The task's free-text column as drift monitoring describes it: the column, its
        language detector, sentiment scorer and embedder, with the ``monitor`` settings of
        its embedding drift (:mod:`pipelines.monitor.text_drift`). The check then judges the
        text's descriptors (length, word count, VADER compound, language) in place of the
        raw column, and its embeddings. None: the task has no free text."""
        return None

    def realized_performance(self, rows: pd.DataFrame, judged: pd.DataFrame, *,
                             offline: Mapping[str, float], max_error_increase: float,
                             min_outcomes: int) -> dict[str, Any]:
        """The model's realized error on ``rows`` (rows whose outcome is known; ``judged``:
        their :meth:`drift_frame` rows) against its offline test error: the gate's primary
        loss (``gate.primary``), overall and per ``input.time_column`` day."""
        from pipelines.monitor.drift import PREDICTION
        from pipelines.monitor.realized_performance import realized_loss

        primary = self.gate.primary
        return realized_loss(
            actual=rows[self.target].to_numpy(dtype=float),
            predicted=judged[PREDICTION].to_numpy(dtype=float),
            times=rows[self.input.time_column], metric=primary,
            loss=lambda a, p: self.metrics(a, p)[primary], offline=offline,
            max_error_increase=max_error_increase, min_outcomes=min_outcomes)

    def performance_estimator(self, *, seed: int) -> Any:
        """An unfitted estimator of this task's performance before its outcomes arrive,
        fitted at registration on the held-out rows' :meth:`drift_frame` and applied by
        the drift check to each window (:mod:`pipelines.monitor.estimated_performance`):
        CBPE for binary problems, DLE of the gate's primary loss for regressions. None:
        not estimated."""
        from pipelines.monitor.estimated_performance import ESTIMATORS

        make = ESTIMATORS.get(self.problem)
        return None if make is None else make(self.gate.primary, seed)

    def figures(self, name: str, actual: np.ndarray, predicted: np.ndarray
                ) -> dict[str, Any]:
        """Evaluation plots of one candidate on the test part (MLflow artifact path ->
        matplotlib figure)."""
        return {}

    def plot_values(self, values: Any) -> tuple[str, np.ndarray]:
        """Target values as the predicted-vs-actual plot table shows them, with the
        scale's name (``""``: as they are; ``"log1p"`` for counts)."""
        import numpy as np

        return "", np.asarray(values, dtype=float)

    def feature_caches(self, paths: ProjectPaths) -> dict[Path, str]:
        """Caches the features stage keeps between runs (``dvc.yaml`` ``persist``)."""
        return {}

    def drift_reference(self, train: pd.DataFrame) -> pd.DataFrame | None:
        """The training rows drift monitoring compares new data with: the model's input
        columns and the target (None: not watched)."""
        return None

    def example(self, paths: ProjectPaths) -> pd.DataFrame:
        """One row a user might score, for the run summary (the newest known row)."""
        import pandas as pd

        return pd.read_parquet(paths.feature_table(self.table)).tail(1)

    def describe(self, predicted: float, actual: Any) -> str:
        """The summary's line on one prediction."""
        import pandas as pd

        known = "not known yet" if pd.isna(actual) else f"actual {actual}"
        return f"predicted {self.noun} {predicted:.4f} ({known})"

    def metric_columns(self) -> tuple[str, ...]:
        """Metrics shown in the summary's candidate table, in order."""
        return (self.selection_metric, *self.gate.guards)


def registered_name(template: str, task: Task) -> str:
    """The registered model name of ``task`` from ``register.model_name`` (``{task}``)."""
    return template.replace("{task}", task.name)


def table_path(paths: ProjectPaths, task: Task) -> Path:
    """Where ``task``'s training table lives for ``paths``."""
    return paths.feature_table(task.table)
