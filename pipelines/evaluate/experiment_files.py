"""The small files ``dvc exp show``, ``dvc metrics diff`` and ``dvc plots diff`` read.

The full reports (``02_validated/validation.json``, ``05_reporting/metrics.json``) sit in
the git-ignored data folder and carry run-specific values (instants, absolute paths), so
DVC could not load them for HEAD or an experiment. These files hold only numbers that a
run of the same inputs reproduces, and live where git tracks them (``metrics/`` and
``plots/`` at the project root for the CLI and ``dvc repro``; under ``05_reporting/`` of
an Airflow run's folder). Task-generic: everything comes from the task's hooks.
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from pipelines.paths import ProjectPaths
    from pipelines.tasks.base import Task

logger = logging.getLogger(__name__)

#: Most test rows in the predicted-vs-actual table (evenly spaced in time order): the file
#: stays small enough to commit whatever the data size.
MAX_PLOTTED_ROWS = 1000
#: Slices with fewer test rows are left out of the per-slice error table.
MIN_SLICE_ROWS = 10
#: Decimals kept: enough to compare runs, few enough that a re-run diffs cleanly.
DECIMALS = 4
#: Problems whose model gives one number per row, which a predicted-vs-actual table can
#: hold (a multiclass model gives a probability per class: no plot tables).
ONE_NUMBER_PROBLEMS = ("count_regression", "growth_regression", "binary")


def validation_metrics_path(paths: ProjectPaths) -> Path:
    return paths.tracked_metrics / "validation.json"


def evaluation_metrics_path(paths: ProjectPaths) -> Path:
    return paths.tracked_metrics / "evaluation.json"


def predictions_plot_path(paths: ProjectPaths) -> Path:
    return paths.tracked_plots / "predicted_vs_actual.csv"


def slice_errors_plot_path(paths: ProjectPaths, task: Task) -> Path:
    return paths.tracked_plots / f"error_by_{task.slice_column}.csv"


def plot_outputs(task: Task, paths: ProjectPaths) -> dict[Path, dict[str, Any]]:
    """The evaluate stage's plot files with how ``dvc plots`` draws each (template, axes,
    title: ``dvc.yaml`` plot properties); none for a task whose model gives more than
    one number per row."""
    if task.problem not in ONE_NUMBER_PROBLEMS:
        return {}
    scale, _ = task.plot_values([0.0])
    label = f"{scale}({task.target})" if scale else task.target
    plots: dict[Path, dict[str, Any]] = {predictions_plot_path(paths): {
        "template": "scatter", "x": "actual", "y": "predicted",
        "title": f"test part: predicted vs actual {label}",
        "x_label": f"actual {label}", "y_label": f"predicted {label}"}}
    if task.slice_column is not None:
        plots[slice_errors_plot_path(paths, task)] = {
            "template": "bar_horizontal", "x": task.selection_metric, "y": task.slice_column,
            "title": f"test {task.selection_metric} of the chosen model by {task.slice_column}"}
    return plots


def _number(value: Any) -> float | int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, int):
        return value
    return round(value, DECIMALS) if math.isfinite(value) else None


def _pick(values: dict[str, Any], columns: tuple[str, ...]) -> dict[str, float | int]:
    out = {c: _number(values.get(c)) for c in columns}
    return {c: v for c, v in out.items() if v is not None}


def write_validation_metrics(paths: ProjectPaths) -> dict[str, Any]:
    """Rows in / accepted / quarantined and the quality score of the validation report."""
    report = json.loads(paths.validation_report.read_text())
    quality = report.get("quality") or {}
    metrics = {**_pick(report, ("rows_in", "rows_accepted", "rows_quarantined",
                                "quarantine_rate")),
               **({"quality_score": _number(quality["score"])}
                  if _number(quality.get("score")) is not None else {})}
    _write_json(validation_metrics_path(paths), metrics)
    logger.info("validate: wrote %s %s", validation_metrics_path(paths), metrics)
    return metrics


def write_evaluation_files(task: Task, paths: ProjectPaths) -> dict[str, Any]:
    """``metrics/evaluation.json`` (the chosen candidate's test metrics, the naive
    baselines', every candidate's validation and test metrics) and the plot tables:
    the chosen candidate's predictions against the actual values on the test part, and
    its error per slice (:attr:`Task.slice_column`)."""
    import joblib

    report = json.loads(paths.metrics.read_text())
    columns = tuple(dict.fromkeys((task.selection_metric, *task.metric_columns())))
    best = report["best"]
    metrics = {
        "chosen": _pick(report["candidates"][best]["test"], columns),
        "baselines": {name: _pick(parts["test"], columns)
                      for name, parts in (report.get("baselines") or {}).items()},
        "candidates": {name: {part: _pick(values[part], columns) for part in ("valid", "test")}
                       for name, values in report["candidates"].items()},
    }
    _write_json(evaluation_metrics_path(paths), metrics)
    if not plot_outputs(task, paths):
        logger.info("evaluate: wrote %s (chosen %s; no plot tables for a %s task)",
                    evaluation_metrics_path(paths), best, task.problem)
        return metrics
    _, test = task.holdout(paths)
    model = joblib.load(paths.models / f"{best}.joblib")
    predicted = task.predict(model, test)
    _write_csv(predictions_plot_path(paths), _predictions_table(task, test, predicted))
    written = [evaluation_metrics_path(paths), predictions_plot_path(paths)]
    if task.slice_column is not None:
        path = slice_errors_plot_path(paths, task)
        _write_csv(path, slice_errors(task, test, predicted))
        written.append(path)
    logger.info("evaluate: wrote %s (chosen %s, %d test rows)",
                ", ".join(str(p) for p in written), best, len(test))
    return metrics


def _predictions_table(task: Task, test: pd.DataFrame, predicted: Any) -> pd.DataFrame:
    """Actual and predicted values (on the task's plot scale) of at most
    :data:`MAX_PLOTTED_ROWS` test rows, evenly spaced in time order."""
    import numpy as np
    import pandas as pd

    order = np.argsort(pd.to_datetime(test[task.table_time_column], utc=True).to_numpy(),
                       kind="stable")
    if len(order) > MAX_PLOTTED_ROWS:
        order = order[np.linspace(0, len(order) - 1, MAX_PLOTTED_ROWS).round().astype(int)]
    _, actual = task.plot_values(pd.to_numeric(test[task.target]).to_numpy(dtype=float))
    _, shown = task.plot_values(np.asarray(predicted, dtype=float))
    table = pd.DataFrame({"actual": actual[order].round(DECIMALS),
                          "predicted": shown[order].round(DECIMALS)})
    if task.slice_column is not None:
        table[task.slice_column] = test[task.slice_column].astype(str).to_numpy()[order]
    return table


def slice_errors(task: Task, test: pd.DataFrame, predicted: Any) -> pd.DataFrame:
    """The selection metric of ``predicted`` on each slice of the test rows with at
    least :data:`MIN_SLICE_ROWS` rows, sorted by slice."""
    import numpy as np
    import pandas as pd

    column, metric = task.slice_column, task.selection_metric
    actual = pd.to_numeric(test[task.target]).to_numpy(dtype=float)
    predicted = np.asarray(predicted, dtype=float)
    keys = test[column].astype(str).to_numpy()
    rows = []
    for key in sorted(set(keys)):
        mask = keys == key
        if mask.sum() >= MIN_SLICE_ROWS:
            value = task.metrics(actual[mask], predicted[mask])[metric]
            rows.append({column: key, metric: round(float(value), DECIMALS),
                         "rows": int(mask.sum())})
    return pd.DataFrame(rows, columns=[column, metric, "rows"])


def _write_json(path: Path, data: dict[str, Any]) -> dict[str, Any]:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n")
    return data


def _write_csv(path: Path, table: pd.DataFrame) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(path, index=False, lineterminator="\n")
