"""The training pipeline, written once: the stage order, what each stage reads and writes,
and the one runner every driver calls.

The Airflow training DAG makes one task per :data:`PIPELINE` stage, ``dvc.yaml`` is
generated from it (:func:`dvc_stages`; a test checks the committed file is current), the
``engageflow`` CLI has one subcommand per stage, and serving's auto-train runs the same
list. Each stage calls the task's hook or a generic stage that takes the task; none of them
asks which task it runs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from pipelines.config import Settings
    from pipelines.paths import ProjectPaths
    from pipelines.tasks.base import Task

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunContext:
    """What a stage needs to know about the run that is not a setting.

    Attributes:
        run_key: Identifies the run in MLflow (``<dag>/<run id>`` or ``cli/<name>``);
            register, promote and segments are idempotent per key.
        as_of: The run's time (validation's "future post" rule, segment retraining).
        reports: Write validation Data Docs and the exploration report.
    """

    run_key: str
    as_of: pd.Timestamp
    reports: bool


@dataclass(frozen=True)
class Stage:
    """One step of the pipeline.

    Attributes:
        name: The stage (also the DAG task id, the CLI subcommand and the dvc.yaml stage).
        sections: params.yaml sections the stage reads (``dvc.yaml`` ``params:``).
        code: Package folders whose code the stage runs (``dvc.yaml`` ``deps``).
        run: ``(task, paths, settings, context) -> record``.
        outputs: ``(task, paths) -> {path: kind}`` for ``dvc.yaml``: ``out`` (cached
            data), ``metric`` and ``plot`` (small git-tracked files for ``dvc metrics`` /
            ``dvc plots``), ``record`` (a small JSON the next stage reads, not cached),
            ``report`` (for people, not cached) or ``persist`` (a cache kept between runs).
    """

    name: str
    sections: tuple[str, ...]
    code: tuple[str, ...]
    run: Callable[[Task, ProjectPaths, Settings, RunContext], dict[str, Any]]
    outputs: Callable[[Task, ProjectPaths], dict[Path, str]]


def _collect(task: Task, paths: ProjectPaths, settings: Settings, ctx: RunContext) -> dict:
    return task.collect(paths, settings)


def _validate(task: Task, paths: ProjectPaths, settings: Settings, ctx: RunContext) -> dict:
    from pipelines.evaluate.experiment_files import write_validation_metrics

    record = task.validate(paths, settings, as_of=ctx.as_of, reports=ctx.reports)
    write_validation_metrics(paths)
    return record


def _features(task: Task, paths: ProjectPaths, settings: Settings, ctx: RunContext) -> dict:
    manifest = task.features(paths, settings)
    return {"table": str(paths.feature_table(task.table)), "rows": manifest["rows"]}


def _train(task: Task, paths: ProjectPaths, settings: Settings, ctx: RunContext) -> dict:
    import json

    manifest = task.train(paths, settings)
    # the task travels with the models: evaluate, the summary and registry read it here
    manifest["task"] = task.name
    (paths.models / "manifest.json").write_text(json.dumps(manifest, indent=2, default=float))
    return {"models": str(paths.models), "candidates": list(manifest["candidates"])}


def _evaluate(task: Task, paths: ProjectPaths, settings: Settings, ctx: RunContext) -> dict:
    from pipelines.evaluate.experiment_files import write_evaluation_files

    report = task.evaluate(paths, settings)
    write_evaluation_files(task, paths)
    best = report["candidates"][report["best"]]["test"]
    return {"metrics": str(paths.metrics), "best": report["best"],
            "test": {k: best[k] for k in task.metric_columns() if k in best}}


def _refit(task: Task, paths: ProjectPaths, settings: Settings, ctx: RunContext) -> dict:
    return task.refit(paths, settings)


def _register(task: Task, paths: ProjectPaths, settings: Settings, ctx: RunContext) -> dict:
    from pipelines.registry.register import run_register

    record = run_register(task, paths, settings, run_key=ctx.run_key)
    return {k: record[k] for k in ("model_name", "version", "alias", "model_uri",
                                   "champion_version")}


def _promote(task: Task, paths: ProjectPaths, settings: Settings, ctx: RunContext) -> dict:
    from pipelines.registry.promotion import format_gate, run_promotion_gate

    record = run_promotion_gate(task, paths, settings, run_key=ctx.run_key)
    logger.info("%s", format_gate(record))
    return {"decision": record["decision"], "promoted": record["promoted"],
            "model_uri": record.get("model_uri"), "aliases": record.get("aliases"),
            "decision_record": str(paths.promotion)}


def _segments(task: Task, paths: ProjectPaths, settings: Settings, ctx: RunContext) -> dict:
    from pipelines.segments.stage import run_segments

    return run_segments(task, paths, settings, run_key=ctx.run_key, now=ctx.as_of)


def _raw_outputs(task: Task, paths: ProjectPaths) -> dict[Path, str]:
    raw = paths.raw(task.input.entity)
    return {raw: "out", raw.with_name(f"{raw.stem}.rejects.parquet"): "out"}


def _validate_outputs(task: Task, paths: ProjectPaths) -> dict[Path, str]:
    from pipelines.evaluate.experiment_files import validation_metrics_path

    return {paths.validated(task.input.entity): "out",
            paths.quarantined(task.input.entity): "out",
            paths.validation_reports: "report", paths.validation_report: "record",
            validation_metrics_path(paths): "metric"}


def _evaluate_outputs(task: Task, paths: ProjectPaths) -> dict[Path, str]:
    from pipelines.evaluate.experiment_files import evaluation_metrics_path, plot_outputs

    return {paths.metrics: "record", evaluation_metrics_path(paths): "metric",
            **{path: "plot" for path in plot_outputs(task, paths)}}


def _feature_outputs(task: Task, paths: ProjectPaths) -> dict[Path, str]:
    table = paths.feature_table(task.table)
    return {table: "out", table.with_suffix(".json"): "report",
            **task.feature_caches(paths)}


PIPELINE: tuple[Stage, ...] = (
    Stage("collect", ("collect",), ("pipelines/collect", "pipelines/tasks"), _collect,
          _raw_outputs),
    Stage("validate", ("validate",), ("pipelines/validate", "expectations"), _validate,
          _validate_outputs),
    Stage("features", ("features",), ("pipelines/features",), _features, _feature_outputs),
    Stage("train", ("train",), ("pipelines/train", "pipelines/features"), _train,
          lambda task, paths: {paths.models: "out"}),
    Stage("evaluate", (), ("pipelines/evaluate",), _evaluate, _evaluate_outputs),
    Stage("refit", (), ("pipelines/train",), _refit,
          lambda task, paths: {paths.final_model: "out"}),
    # monitor: the drift calibration stored with the model's reference
    Stage("register", ("register", "train", "features", "monitor"),
          ("pipelines/registry", "pipelines/monitor"), _register,
          lambda task, paths: {paths.registration: "record"}),
    Stage("promote", ("promote",), ("pipelines/registry", "pipelines/evaluate"), _promote,
          lambda task, paths: {paths.promotion: "record"}),
    Stage("segments", ("segments", "promote", "register", "train", "features"),
          ("pipelines/segments",), _segments,
          lambda task, paths: {paths.segments: "record", paths.segment_models: "out"}),
)

STAGE_NAMES: tuple[str, ...] = tuple(stage.name for stage in PIPELINE)


def stage(name: str) -> Stage:
    """The stage called ``name``.

    Raises:
        ValueError: for a name not in :data:`STAGE_NAMES`.
    """
    for candidate in PIPELINE:
        if candidate.name == name:
            return candidate
    raise ValueError(f"pipeline: stage must be one of {list(STAGE_NAMES)}; got {name!r}.")


def run_stage(name: str, *, paths: ProjectPaths, settings: Settings,
              context: RunContext) -> dict[str, Any]:
    """Run one stage for the task ``train.task`` of ``settings``; log what it did."""
    from pipelines.tasks import get_task

    task = get_task(settings.train.task)
    step = stage(name)
    logger.info("%s [%s]: data %s", name, task.name, paths.data)
    record = step.run(task, paths, StageSettings(settings, step.name,
                                                 declared_sections(step, task)), context)
    logger.info("%s [%s]: %s", name, task.name, _brief(record))
    return record


class StageSettings:
    """The settings as one stage sees them: only the params sections it declares (plus
    ``train.task``), so a stage that reads an undeclared section — one ``dvc.yaml`` would
    not re-run it for — fails at once instead of going stale silently."""

    def __init__(self, settings: Settings, stage: str, sections: tuple[str, ...]) -> None:
        self._settings, self._stage, self._sections = settings, stage, sections

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._settings, name)
        if name == "task_sections":
            return {k: v for k, v in value.items() if k in self._sections}
        if name in type(self._settings).model_fields and name not in self._sections:
            if name == "train":
                return _TaskOnly(value, self._stage)
            raise AttributeError(
                f"pipeline: stage {self._stage!r} reads params section {name!r} but declares "
                f"only {list(self._sections)}; add it to its Stage in pipelines/pipeline.py "
                f"(and regenerate dvc.yaml).")
        return value


class _TaskOnly:
    """``train`` for a stage that does not declare it: only ``train.task`` is readable."""

    def __init__(self, train: Any, stage: str) -> None:
        self._train, self._stage = train, stage

    def __getattr__(self, name: str) -> Any:
        if name != "task":
            raise AttributeError(
                f"pipeline: stage {self._stage!r} reads 'train.{name}' but does not declare "
                f"the 'train' section; add it to its Stage in pipelines/pipeline.py.")
        return self._train.task


def run_pipeline(*, paths: ProjectPaths, settings: Settings, context: RunContext,
                 stages: tuple[str, ...] = STAGE_NAMES) -> dict[str, dict[str, Any]]:
    """Run ``stages`` in pipeline order (serving's auto-train, tests)."""
    return {name: run_stage(name, paths=paths, settings=settings, context=context)
            for name in STAGE_NAMES if name in stages}


def _brief(record: dict[str, Any]) -> str:
    import json

    text = json.dumps(record, default=str)
    return text if len(text) <= 600 else text[:600] + " ..."


#: How a ``dvc.yaml`` stage runs its CLI subcommand: the project's own venv by a path
#: relative to the project root (where DVC runs commands), so neither PATH nor an
#: activated venv matters, and ``-m`` imports the checkout's ``pipelines``.
DVC_COMMAND = ".venv/bin/python -m pipelines {stage}"


def dvc_stages(task: Task, paths: ProjectPaths) -> dict[str, Any]:
    """``dvc.yaml``'s ``stages`` for ``task``: one per pipeline stage, each depending on the
    previous stage's outputs and its own code, listing the params it reads (``train.task``
    always: it picks the task; the task's own section where it has one). Metrics and
    plots are git-tracked (``cache: false``); plots carry how ``dvc plots`` draws them."""
    from pipelines.evaluate.experiment_files import plot_outputs

    drawn = {_relative(path, paths): props for path, props in plot_outputs(task, paths).items()}
    stages: dict[str, Any] = {}
    previous: list[str] = []
    for step in PIPELINE:
        outputs = {_relative(path, paths): kind
                   for path, kind in step.outputs(task, paths).items()}
        params = ["train.task", *declared_sections(step, task)]
        entry: dict[str, Any] = {
            "cmd": DVC_COMMAND.format(stage=step.name),
            "deps": [*previous, *step.code],
            "params": [p for p in dict.fromkeys(params) if p != "train" or
                       "train" in step.sections],
            "outs": [p if kind == "out" else
                     {p: {"persist": True} if kind == "persist" else {"cache": False}}
                     for p, kind in outputs.items() if kind not in ("metric", "plot")],
        }
        metrics = [{p: {"cache": False}} for p, kind in outputs.items() if kind == "metric"]
        if metrics:
            entry["metrics"] = metrics
        plots = [{p: {"cache": False, **drawn[p]}} for p, kind in outputs.items()
                 if kind == "plot"]
        if plots:
            entry["plots"] = plots
        stages[step.name] = entry
        previous = [p for p, kind in outputs.items() if kind in ("out", "record")]
    return stages


def declared_sections(step: Stage, task: Task) -> tuple[str, ...]:
    """The params sections ``step`` may read for ``task``: its own, those the task's hook
    of the stage adds (:meth:`Task.stage_sections`) and the task's."""
    own = (task.section_name,) if task.section_name is not None else ()
    return tuple(dict.fromkeys((*step.sections, *task.stage_sections(step.name), *own)))


def _relative(path: Path, paths: ProjectPaths) -> str:
    return str(Path(path).relative_to(paths.root))
