"""The drift check stage: champion + its reference, the current window, a decision.

Reads the champion (model and training-data sample) through its alias and the window's
validated rows of the task (posts, sessions: the task's ``input.time_column`` picks the
window), turns both into what the task judges (:meth:`pipelines.tasks.base.Task.
drift_frame`: post models compare every engineered and text feature as their own
featurizer computes it; other tasks their input columns), decides in numpy, writes the
JSON summary under ``out_dir`` and logs it to MLflow (:func:`run_drift_check`). Nothing
here asks which task it judges.

The Evidently HTML report people read costs a near-constant few seconds, more than the
decision itself at 100k rows, so it is a separate step (:func:`run_drift_report`) that the
verdict, the retraining trigger and the alert do not wait for. It rebuilds the same frames
from the same inputs and takes the methods, thresholds, window, model version and maturity
from the decision's summary, so the page shows the rule that decided.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from pipelines.monitor.decision import decide
from pipelines.monitor.drift import PREDICTION, TARGET, detect_drift
from pipelines.monitor.estimated_performance import estimate_window
from pipelines.monitor.realized_performance import served_performance
from pipelines.monitor.text_drift import text_drift_summary

if TYPE_CHECKING:
    from pipelines.monitor.text_drift import TextDrift
    from pipelines.tasks.base import Task

logger = logging.getLogger(__name__)

SUMMARY_FILE, REPORT_FILE = "drift_summary.json", "drift_report.html"
MONITORING_EXPERIMENT_SUFFIX = "-monitoring"


def judged_frames(task: Task, champion: Any, rows: pd.DataFrame, *, maturity_hours: float,
                  text: TextDrift | None) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series]:
    """The reference and current frames drift is judged on (the task's ``drift_frame``:
    its input columns as the model sees them, prediction and outcome), and which window
    rows' outcomes are known. The decision and the report both build them here, so the
    report shows exactly the rows and columns that were judged.

    Args:
        task: The task the champion predicts.
        champion: :class:`pipelines.registry.reference.Champion` (model, reference, target).
        rows: The window's rows (:func:`window_rows`).
        maturity_hours: An outcome counts once read this long after the row's time (tasks
            whose outcomes mature; :meth:`~pipelines.tasks.base.Task.outcome_known`).
        text: The task's free text (:meth:`~pipelines.tasks.base.Task.text_drift`): its
            column is replaced by its descriptors on both sides; None: no text.
    """
    from pipelines.monitor.text_drift import with_text_descriptors

    known = task.outcome_known(rows, maturity_hours=maturity_hours)
    reference = task.drift_frame(champion.model, champion.reference, outcome_known=None)
    current = task.drift_frame(champion.model, rows, outcome_known=known)
    if text is not None:
        reference = with_text_descriptors(reference, champion.reference, spec=text)
        current = with_text_descriptors(current, rows, spec=text)
    return reference, current, known


def window_rows(rows: pd.DataFrame, time_column: str, start: pd.Timestamp,
                end: pd.Timestamp) -> pd.DataFrame:
    """Rows whose ``time_column`` lies in ``[start, end)``, in time order."""
    when = pd.to_datetime(rows[time_column], utc=True)
    inside = rows[(when >= start) & (when < end)]
    return inside.sort_values(time_column, kind="stable").reset_index(drop=True)


def categorical_columns(frame: pd.DataFrame) -> list[str]:
    """The columns of a judged frame that are categories (neither numbers nor flags)."""
    return [c for c in frame.columns if not (pd.api.types.is_numeric_dtype(frame[c])
                                             or pd.api.types.is_bool_dtype(frame[c]))]


def _monitoring_run(*, tracking_uri: str, experiment: str, artifact_root: Path,
                    run_key: str) -> str:
    """The MLflow monitoring run of ``run_key`` (one per DAG run), created on first use."""
    from pipelines.registry import tracking

    tracking.connect(tracking_uri)
    experiment_id = tracking.ensure_experiment(experiment + MONITORING_EXPERIMENT_SUFFIX,
                                               artifact_root)
    return tracking.parent_run_id(experiment_id, run_key, run_name=run_key)


def _write_report(reference: pd.DataFrame, current: pd.DataFrame, summary: dict[str, Any],
                  summary_path: Path, *, run_id: str, report_rows: int, seed: int,
                  embeddings: tuple[Any, Any] | None = None) -> dict[str, Any]:
    """Evidently report of a decided window: HTML next to the summary, configured with the
    summary's methods and thresholds, headed by the text drift and estimated-performance
    sections (:mod:`pipelines.monitor.report_sections`); the summary gains Evidently's
    scores and the report path; both are logged to the monitoring run. ``embeddings``: the
    (reference, current) text embeddings the decision judged, for Evidently's embeddings
    drift. Returns the updated summary."""
    import mlflow

    from pipelines.monitor.drift_report import evidently_drift
    from pipelines.monitor.report_sections import add_sections

    html_path = summary_path.parent / REPORT_FILE
    summary["evidently"] = evidently_drift(reference, current, summary["drift"],
                                           categorical=categorical_columns(reference),
                                           sample_rows=report_rows, seed=seed,
                                           html_path=html_path, embeddings=embeddings)
    add_sections(html_path, summary)
    summary["report"] = str(html_path)
    summary_path.write_text(json.dumps(summary, indent=2, default=str))
    with mlflow.start_run(run_id=run_id):
        mlflow.log_metric("report_seconds", summary["evidently"]["seconds"])
        mlflow.log_artifact(str(html_path), artifact_path="monitoring")
        mlflow.log_artifact(str(summary_path), artifact_path="monitoring")
        page = (summary["evidently"].get("embedding") or {}).get("report")
        if page:        # linked from the report's text section, beside it
            mlflow.log_artifact(page, artifact_path="monitoring")
    return summary


def run_drift_check(
    *,
    task: Task,
    rows: pd.DataFrame,
    tracking_uri: str,
    experiment: str,
    artifact_root: Path,
    model_name: str,
    alias: str,
    window_start: pd.Timestamp,
    window_end: pd.Timestamp,
    out_dir: Path,
    run_key: str,
    maturity_hours: float,
    min_rows: int,
    drift_share: float,
    min_effect: dict[str, float],
    chunks: int,
    quantile: float,
    safety_factor: float,
    calibration_rows: int,
    max_error_increase: float,
    min_outcomes: int,
    report_rows: int,
    seed: int,
    text: TextDrift | None,
    report: bool = False,
    prediction_log_url: str | None = None,
) -> dict[str, Any]:
    """Stage runner: judge the window of ``rows`` against ``model_name@alias``.

    Args:
        task: The task ``model_name`` predicts (``train.task``); its drift frame, outcome
            rule and realized-performance loss decide.
        rows: The task's validated rows (posts, sessions: at least the window, by the
            task's ``input.time_column``; the rest is ignored).
        window_start, window_end: The window, ``[start, end)``.
        out_dir: Where ``drift_summary.json`` (and ``drift_report.html``) go.
        run_key: Idempotency key of the MLflow monitoring run (one per DAG run).
        maturity_hours: ``features.maturity_hours`` today. An outcome counts once read as
            long after posting as the champion was trained with (its
            ``engageflow.maturity_hours`` tag); this value only for a champion without the
            tag (tasks whose outcomes mature). The summary records the one used.
        text: The task's free text (:meth:`~pipelines.tasks.base.Task.text_drift`): its
            descriptors join the per-column verdict and its embeddings are judged (the
            summary's ``drift.text``); None: the task has none.
        report: Also write the Evidently HTML report now, in this process (the CLI). The
            DAG leaves it to :func:`run_drift_report` so the verdict does not wait for it.
        Others: see :class:`pipelines.config.MonitorConfig`.

    Returns:
        The decision (small, JSON-able): ``retrain``, ``reason``, the window, the summary
        path, the report path (where :func:`run_drift_report` writes it when ``report`` is
        False; None without a verdict) and the headline numbers.

    Raises:
        ValueError: if the champion or its reference is missing, the champion was
            registered for another task, or a setting is invalid.
    """
    import mlflow

    from pipelines.registry.reference import load_champion

    if window_end <= window_start:
        raise ValueError(f"run_drift_check: the window must end after it starts; got "
                         f"[{window_start}, {window_end}).")
    from pipelines.registry.tracking import MATURITY_TAG, trained_maturity_hours

    champion = load_champion(tracking_uri=tracking_uri, model_name=model_name, alias=alias)
    _check_task(task, champion)
    maturity_hours = trained_maturity_hours(
        champion.tags.get(MATURITY_TAG), configured=maturity_hours,
        model=f"drift check: {model_name}@{alias} (version {champion.version})")
    time_column, entity = task.input.time_column, task.input.entity
    current_rows = window_rows(rows, time_column, window_start, window_end)
    window = f"{window_start:%Y-%m-%d}..{window_end:%Y-%m-%d}"
    logger.info("drift check of %s@%s (version %s, task %s) on %s: %d %s in the window, %d "
                "reference rows", model_name, alias, champion.version, task.name, window,
                len(current_rows), entity, len(champion.reference))
    out_dir.mkdir(parents=True, exist_ok=True)
    drift, performance = None, {"performance_loss": None, "outcomes": 0}
    estimated: dict[str, Any] | None = None
    reference = current = None
    if len(current_rows) >= min_rows:
        reference, current, known = judged_frames(task, champion, current_rows,
                                                  maturity_hours=maturity_hours, text=text)
        features = [c for c in reference.columns if c not in (PREDICTION, TARGET)]
        drift = detect_drift(reference, current, feature_columns=features,
                             drift_share=drift_share, chunks=chunks, quantile=quantile,
                             safety_factor=safety_factor, min_effect=min_effect,
                             calibration_rows=calibration_rows, seed=seed,
                             reference_time=champion.reference[time_column],
                             current_time=current_rows[time_column],
                             calibration=champion.calibration)
        if text is not None:
            drift["text"] = text_drift_summary(
                champion.reference[text.column], current_rows[text.column], reference,
                current, drift, spec=text, quantile=quantile, safety_factor=safety_factor,
                seed=seed)
        mask = known.to_numpy()
        performance = task.realized_performance(
            current_rows[mask], current[mask], offline=champion.offline,
            max_error_increase=max_error_increase, min_outcomes=min_outcomes)
        if champion.performance_estimator is not None:
            estimated = estimate_window(
                champion.performance_estimator, current, current_rows[time_column],
                metric=task.gate.primary, chunks=chunks, min_rows=min_outcomes,
                offline=champion.offline, max_error_increase=max_error_increase)
        else:
            logger.info("no performance estimator stored with %s version %s: no estimate "
                        "before the labels", model_name, champion.version)
    else:
        logger.warning("drift check: %d %s in %s, fewer than monitor.min_rows %d: no "
                       "verdict", len(current_rows), entity, window, min_rows)
    served = served_performance(
        prediction_log_url, model_name=model_name, version=champion.version,
        target=champion.target, window_start=window_start, window_end=window_end,
        maturity_hours=maturity_hours, offline=champion.offline,
        max_error_increase=max_error_increase, min_outcomes=min_outcomes)
    if served is not None and served.get("judged"):
        # what users were actually served beats a re-prediction of the validated posts
        performance = {**served, "source": "prediction log (served predictions)"}
    retrain, reason = decide(drift, performance, entity=entity, estimated=estimated)
    # maturity_hours is recorded so that the report rebuilds the same outcome mask
    summary = {"model": f"{model_name}@{alias}", "version": champion.version,
               "task": task.name, "time_column": time_column,
               "window": {"start": window_start.isoformat(), "end": window_end.isoformat()},
               "maturity_hours": maturity_hours, "rows_in_window": len(current_rows),
               "retrain": retrain, "reason": reason, "drift": drift,
               "realized_performance": performance, "served_performance": served,
               "estimated_performance": estimated,
               "evidently": None, "report": None}
    summary_path = out_dir / SUMMARY_FILE
    summary_path.write_text(json.dumps(summary, indent=2, default=str))

    run_id = _monitoring_run(tracking_uri=tracking_uri, experiment=experiment,
                             artifact_root=artifact_root, run_key=run_key)
    with mlflow.start_run(run_id=run_id):
        mlflow.set_tags({"engageflow.model": f"{model_name}@{alias}",
                         "engageflow.model_version": champion.version,
                         "engageflow.window": window, "engageflow.retrain": str(retrain),
                         "engageflow.task": task.name})
        mlflow.log_metric("rows_in_window", len(current_rows))
        if drift is not None:
            mlflow.log_metric("share_drifted", drift["share_drifted"])
            mlflow.log_metrics({f"drift_{c}": v["score"] for c, v in drift["columns"].items()
                                if v["score"] is not None})
            if drift.get("text"):
                mlflow.log_metric(f"drift_{text.column}_embedding_mmd",
                                  drift["text"]["embedding"]["score"])
        metric = performance.get("metric")
        if metric is not None and performance.get(metric) is not None:
            mlflow.log_metric(f"realized_{metric}", performance[metric])
        if estimated is not None:
            mlflow.log_metrics({f"estimated_{m}": v["value"] for m, v in
                                estimated["window"]["estimated"].items()
                                if v["value"] == v["value"]})       # NaN is not a metric
        mlflow.log_artifact(str(summary_path), artifact_path="monitoring")
    logger.info("decision: %s — %s", "RETRAIN" if retrain else "no retraining", reason)
    if report and drift is not None:
        _write_report(reference, current, summary, summary_path, run_id=run_id,
                      report_rows=report_rows, seed=seed,
                      embeddings=_embeddings(text, champion.reference, current_rows, seed))
    return {"retrain": retrain, "reason": reason, "model": f"{model_name}@{alias}",
            "task": task.name, "version": champion.version, "window": window,
            "rows_in_window": len(current_rows), "verdict": drift is not None,
            "summary": str(summary_path),
            "report": str(out_dir / REPORT_FILE) if drift is not None else None,
            "share_drifted": drift["share_drifted"] if drift else None,
            "mlflow_run_id": run_id}


def run_drift_report(
    *,
    task: Task,
    rows: pd.DataFrame,
    tracking_uri: str,
    experiment: str,
    artifact_root: Path,
    model_name: str,
    alias: str,
    summary_path: Path,
    run_key: str,
    report_rows: int,
    seed: int,
    text: TextDrift | None,
) -> dict[str, Any]:
    """Stage runner: the Evidently HTML report of a window :func:`run_drift_check` decided.

    Loads the model version the decision judged (not whatever ``alias`` points to now)
    and its reference, rebuilds the same frames from the window and maturity recorded in
    the summary, runs Evidently with the summary's per-column methods and thresholds,
    writes ``drift_report.html`` next to the summary, records its path (and Evidently's
    scores) in the summary and logs both to the same MLflow monitoring run. A window
    without a verdict (too few rows) gets no report.

    Args:
        task: The task the decision judged.
        rows: Its validated rows (at least the window).
        summary_path: The decision's ``drift_summary.json``.
        run_key: Idempotency key of the MLflow monitoring run: the decision's.
        report_rows: Rows per side given to Evidently (a seeded sample when larger).
        seed: Seed of that sample.
        Others: as :func:`run_drift_check`.

    Returns:
        ``report`` (the HTML path, None without a verdict), ``summary``, ``window``, the
        seconds Evidently took and the MLflow run id.

    Raises:
        ValueError: if the summary is missing or belongs to another model, the window's
            rows are not those the decision judged, or the model version it names cannot
            be loaded.
    """
    from pipelines.registry.reference import load_champion

    if not summary_path.is_file():
        raise ValueError(f"run_drift_report: 'summary_path' must be the drift check's "
                         f"{SUMMARY_FILE}; got {summary_path}, which does not exist (run the "
                         "check first).")
    summary = json.loads(summary_path.read_text())
    if summary.get("model") != f"{model_name}@{alias}":
        raise ValueError(f"run_drift_report: the summary {summary_path} judged "
                         f"{summary.get('model')!r}; got model_name@alias "
                         f"'{model_name}@{alias}'.")
    start, end = (pd.Timestamp(summary["window"][k]) for k in ("start", "end"))
    window = f"{start:%Y-%m-%d}..{end:%Y-%m-%d}"
    if summary["drift"] is None:
        logger.info("drift report: no verdict for %s (%d %s in the window): %s; no report",
                    window, summary["rows_in_window"], task.input.entity, summary["reason"])
        return {"report": None, "summary": str(summary_path), "window": window,
                "reason": summary["reason"]}
    champion = load_champion(tracking_uri=tracking_uri, model_name=model_name, alias=alias,
                             version=summary["version"])
    _check_task(task, champion)
    current_rows = window_rows(rows, task.input.time_column, start, end)
    if len(current_rows) != summary["rows_in_window"]:
        raise ValueError(f"run_drift_report: 'rows' hold {len(current_rows)} "
                         f"{task.input.entity} in {window}; the decision judged "
                         f"{summary['rows_in_window']} (the store changed since the check: "
                         "re-run the check).")
    reference, current, _ = judged_frames(task, champion, current_rows,
                                          maturity_hours=summary["maturity_hours"], text=text)
    run_id = _monitoring_run(tracking_uri=tracking_uri, experiment=experiment,
                             artifact_root=artifact_root, run_key=run_key)
    summary = _write_report(reference, current, summary, summary_path, run_id=run_id,
                            report_rows=report_rows, seed=seed,
                            embeddings=_embeddings(text, champion.reference, current_rows,
                                                   seed))
    return {"report": summary["report"], "summary": str(summary_path), "window": window,
            "seconds": summary["evidently"]["seconds"], "mlflow_run_id": run_id}


def _embeddings(text: TextDrift | None, reference_rows: pd.DataFrame,
                current_rows: pd.DataFrame, seed: int) -> tuple[Any, Any] | None:
    """The embeddings of the text samples the decision judged (the same seeded samples:
    served from the embedding cache), for the report; None without text."""
    if text is None:
        return None
    from pipelines.monitor.text_drift import sample_texts

    return tuple(text.embed(sample_texts(rows[text.column], text.rows, seed))
                 for rows in (reference_rows, current_rows))


def _check_task(task: Task, champion: Any) -> None:
    """The champion must predict ``task`` (its registration records the task).

    Raises:
        ValueError: naming both tasks.
    """
    if champion.task is not None and champion.task != task.name:
        raise ValueError(f"drift: {champion.name} version {champion.version} was registered "
                         f"for task {champion.task!r}; got train.task {task.name!r} (set "
                         f"train.task to the model's task, or register.model_name to a model "
                         f"of task {task.name!r}).")
