"""The end-of-run summary people read: rows, candidates, registration, one prediction,
where the reports are and what to do next."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pipelines.paths import ProjectPaths
    from pipelines.tasks.base import Task


def format_summary(task: Task, paths: ProjectPaths) -> str:
    """Render the summary of the run whose layers are under ``paths.data``.

    Loads the registered model back through ``models:/NAME@ALIAS`` (the way a user would)
    and predicts the task's example row (the newest one).
    """
    import mlflow

    if not paths.registration.exists():
        return _unregistered_summary(task, paths)
    validation = json.loads(paths.validation_report.read_text())
    metrics = json.loads(paths.metrics.read_text())
    record = json.loads(paths.registration.read_text())
    lines = ["", "=" * 72, f"EngageFlow run summary: task {task.name}", "=" * 72,
             _rows_line(validation), *_candidate_lines(task, metrics)]
    lines += _regime_lines(metrics)
    lines += _refit_lines(record.get("refit") or {})
    lines.append(f"registered {record['model_name']} version {record['version']} as "
                 f"@{record['alias']}  ({record['model_uri']})")
    gate = json.loads(paths.promotion.read_text()) if paths.promotion.exists() else None
    model_uri = record["model_uri"]
    if gate is not None:
        model_uri = gate.get("model_uri") or f"models:/{record['model_name']}/{record['version']}"
    mlflow.set_tracking_uri(paths.tracking_uri)
    mlflow.set_registry_uri(paths.tracking_uri)
    # suppress_warnings: no check of the model's pip requirements against this environment
    # (4-5 s of package-metadata scans; the model was logged from this very environment)
    model = mlflow.pyfunc.load_model(model_uri, suppress_warnings=True)
    row = task.example(paths)
    example = task.model_input(row)
    predicted = model.predict(example)[0]
    # one number for most tasks, a row of class probabilities for a multiclass task
    predicted = float(predicted) if predicted.ndim == 0 else predicted
    lines.append(f"example prediction with {model_uri}:")
    for key, value in example.iloc[0].items():
        text = str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
        lines.append(f"  {key:<24}{text[:60] + ('…' if len(text) > 60 else '')}")
    lines.append(f"  -> {task.describe(predicted, row[task.target].iloc[0])}")
    if paths.segments.exists():
        segments = json.loads(paths.segments.read_text())
        if "segments" in segments:
            lines.extend(_segment_lines(segments))
    if gate is not None:  # the verdict closes the results
        lines += _gate_lines(gate)
    lines += _report_lines(validation, record)
    lines.append("=" * 72)
    return "\n".join(lines)


def _rows_line(validation: dict) -> str:
    return (f"rows collected {validation['rows_in']}, accepted {validation['rows_accepted']}, "
            f"quarantined {validation['rows_quarantined']}")


def _candidate_lines(task: Task, metrics: dict) -> list[str]:
    """The candidates and the naive baselines on the test part, the chosen one starred."""
    columns = task.metric_columns()
    lines = [f"candidates (test part, target={metrics['target']}, chosen on validation "
             f"{metrics['selection_metric']}):",
             f"  {'model':<26}" + "".join(f"{c:>11}" for c in columns)]
    rows = {**metrics["candidates"],
            **{f"baseline ({name.replace('_', ' ')})": parts
               for name, parts in (metrics.get("baselines") or {}).items()}}
    for name, values in rows.items():
        t = values["test"]
        marker = " *" if name == metrics["best"] else ""
        lines.append(f"  {name + marker:<26}" + "".join(
            f"{t[c]:>11.4f}" if isinstance(t.get(c), (int, float)) else f"{'-':>11}"
            for c in columns))
    return lines


def _unregistered_summary(task: Task, paths: ProjectPaths) -> str:
    """What a pipeline that stopped before ``register`` produced (``dvc repro evaluate``,
    a failed stage): the rows and the candidates where they exist, and what is missing.

    Raises:
        ValueError: nothing of the pipeline's output is under ``paths.data``.
    """
    shown = [p for p in (paths.validation_report, paths.metrics) if p.exists()]
    if not shown:
        raise ValueError(
            f"summary: no pipeline output under {paths.data} (neither "
            f"{paths.validation_report.name} nor {paths.metrics.name}); run the pipeline "
            f"first: `make repro` (DVC), `make run` (Airflow; then `engageflow summary "
            f"--latest-run`) or `engageflow collect` ... `engageflow promote`.")
    lines = ["", "=" * 72, f"EngageFlow run summary: task {task.name} (not registered)",
             "=" * 72]
    if paths.validation_report.exists():
        lines.append(_rows_line(json.loads(paths.validation_report.read_text())))
    if paths.metrics.exists():
        metrics = json.loads(paths.metrics.read_text())
        lines += [*_candidate_lines(task, metrics), *_regime_lines(metrics)]
    lines += [f"no model registered from {paths.data}: {paths.registration} does not exist, "
              f"so the pipeline stopped before `register` (the registered model, its example "
              f"prediction and the promotion gate's verdict come after it).",
              "finish it: `make repro` (DVC) or `engageflow register` then "
              "`engageflow promote`; `engageflow summary --latest-run` shows the newest "
              "Airflow run instead.", "=" * 72]
    return "\n".join(lines)


#: Where `make mlflow-ui`, `make airflow` and `make serve` listen (the Makefile's ports).
MLFLOW_UI, AIRFLOW_UI, API = ("http://127.0.0.1:5000", "http://127.0.0.1:8080",
                              "http://127.0.0.1:8000")


def _report_lines(validation: dict, record: dict) -> list[str]:
    """Where the run's reports are (Data Docs, exploration report, the MLflow run and the
    registered version in the MLflow UI) and three next steps."""
    from mlflow import MlflowClient

    from pipelines.registry.tracking import experiment_url

    experiment = MlflowClient().get_experiment_by_name(record["experiment"])
    run_url = (experiment_url(MLFLOW_UI, experiment.experiment_id, record["parent_run_id"])
               if experiment and record.get("parent_run_id")
               else f"{MLFLOW_UI} (experiment {record['experiment']})")
    mlflow_ui = experiment_url(MLFLOW_UI, experiment.experiment_id) if experiment else MLFLOW_UI
    not_written = "not written by this run (its rows came from the validated store)"
    return [
        "reports:",
        f"  Data Docs            {validation.get('data_docs') or not_written}",
        f"  exploration report   {validation.get('exploration_report') or not_written}",
        f"  MLflow run           {run_url}",
        f"  registry             {MLFLOW_UI}/#/models/{record['model_name']}/versions/"
        f"{record['version']}  (`engageflow registry history {record['model_name']}`)",
        "next:",
        f"  1. open the UIs: `make airflow` ({AIRFLOW_UI}: runs, task logs) and "
        f"`make mlflow-ui` ({mlflow_ui}: runs, plots, model cards)",
        "  2. trigger from the form: in Airflow, drift_monitoring → Trigger (with its "
        "defaults it judges the champion's newest two weeks of data) or engagement_training "
        "→ Trigger with other settings",
        f"  3. serve: `make serve`, then POST a post to {API}/predict (README: Ask for a "
        "prediction; API docs at /docs)",
    ]


def latest_summary(paths: ProjectPaths) -> str:
    """The summary of the newest run under ``paths.state/runs`` (``engageflow summary``)."""
    from dataclasses import replace

    from pipelines.tasks import get_task

    runs = sorted((p for p in (paths.state / "runs").glob("*")
                   if (p / "05_reporting" / "registration.json").exists()),
                  key=lambda p: (p / "05_reporting" / "registration.json").stat().st_mtime)
    if not runs:
        raise ValueError(f"summary: no finished run under {paths.state / 'runs'}.")
    run = replace(paths, data=runs[-1])
    manifest = json.loads(run.models.joinpath("manifest.json").read_text())
    return format_summary(get_task(manifest["task"]), run)


def _regime_lines(metrics: dict) -> list[str]:
    """Warm and cold accounts side by side (post tasks with held-out accounts)."""
    rows = {**{name: c.get("test_by_regime") for name, c in metrics["candidates"].items()},
            **{f"baseline ({name.replace('_', ' ')})": regimes for name, regimes in
               (metrics.get("baselines_by_regime") or {}).items()}}
    rows = {name: regimes for name, regimes in rows.items() if regimes}
    if not rows:
        return []
    first = next(iter(rows.values()))
    sizes = ", ".join(f"{regime} {values.get('support', values.get('insufficient_support'))}"
                      f" rows" for regime, values in first.items())
    lines = [f"by account regime (test part: warm = accounts trained on, cold = accounts "
             f"held out of training; {sizes}):",
             f"  {'model':<26}{'warm mae_log':>13}{'cold mae_log':>13}{'cold bias':>11}"
             f"{'within-acct rho':>16}"]
    for name, regimes in rows.items():
        warm, cold = regimes.get("warm", {}), regimes.get("cold", {})
        marker = " *" if name == metrics["best"] else ""
        lines.append(f"  {name + marker:<26}{_num(warm.get('mae_log'), 13)}"
                     f"{_num(cold.get('mae_log'), 13)}{_num(cold.get('bias_log'), 11)}"
                     f"{_num(warm.get('within_account_spearman'), 16)}")
    return lines


def _refit_lines(refit: dict) -> list[str]:
    if not refit.get("refit"):
        return []
    return [f"final refit: {refit['candidate']} on {refit['rows']:,} matured labels of "
            f"{refit['accounts']} accounts up to {refit['newest_label'][:10]} (the gate's "
            f"evidence model: {refit['evidence_rows']:,} rows); "
            f"{refit['labels_still_growing']:,} posts younger than the maturity horizon at "
            f"collection were left out as targets"]


def _num(value: object, width: int) -> str:
    import math

    ok = isinstance(value, (int, float)) and math.isfinite(value)
    return f"{value:>{width}.4f}" if ok else f"{'-':>{width}}"


def _segment_lines(result: dict) -> list[str]:
    """One line on the platform / segment models of the run (docs/segments.md)."""
    records = result["segments"].values()
    trained = [r for r in records if "gate" in r]
    used = result["used"]
    return [f"segments ({result['segment_key']}, min {result['min_samples']} samples): "
            f"{len(result['segments'])} levels, {len(trained)} trained and gated, "
            f"{len(used)} earned their own model{': ' + ', '.join(used) if used else ''}"]


def _gate_lines(gate: dict) -> list[str]:
    """The promotion gate's verdict: decision, the primary interval, failed checks, aliases."""
    lines = [f"promotion gate: {gate['decision'].upper()} - {gate['reasons'][0]}"]
    primary = gate.get("primary")
    if primary and primary.get("ci_low") is not None:
        against = "baseline" if gate.get("mode") == "first_model" else \
            f"champion v{gate.get('champion_version')}"
        level = f"{gate['settings']['confidence']:.0%}"
        lines.append(
            f"  {primary['metric']} {primary['candidate']:.4f} vs {against} "
            f"{primary['reference']:.4f} on {gate['n_rows']} holdout rows: improvement "
            f"{primary['improvement']:+.4f}, {level} CI [{primary['ci_low']:+.4f}, "
            f"{primary['ci_high']:+.4f}] ({gate['settings']['resamples']} paired resamples)")
    lines += [f"  {reason}" for reason in gate["reasons"][1:]
              if reason.startswith(("FAILED", "NOT PROVEN"))]
    aliases = gate.get("aliases") or {}
    held = ", ".join(f"@{alias} v{version}" for alias, version in aliases.items() if version)
    lines.append(f"  registry now: {held or 'no aliases'}")
    return lines
