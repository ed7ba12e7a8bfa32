"""The Evidently 0.7 report people read: data drift with the methods and thresholds that
decided, prediction and target drift, and data quality.

Evidently recomputes every score (and its plots) in pandas, ~15 s for 100k × 30 here, so
the decision is made in numpy (:mod:`pipelines.monitor.drift`) and the report runs on a
seeded row sample of each side, configured per column with the method and the calibrated
threshold the decision used, so the page shows the same rule. On a sample the scores carry
more noise than on the full window: the JSON summary is what decided.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)


#: Evidently's embeddings drift page of a task with text, beside the drift report.
EMBEDDING_REPORT_FILE = "embedding_drift.html"


def evidently_embedding_drift(reference: Any, current: Any, *, column: str, threshold: float,
                              html_path: Path | None) -> dict[str, Any]:
    """Evidently's ``EmbeddingsDrift`` with its ``mmd`` method at ``threshold`` (the one
    :func:`pipelines.monitor.text_drift.embedding_drift` calibrated) on the same embeddings:
    its own page (the embeddings have their own row count). Returns its score, threshold
    and verdict, and the page's path."""
    from evidently import DataDefinition, Dataset, Report
    from evidently.metrics import EmbeddingsDrift
    from evidently.metrics.embeddings import MMDDriftMethod

    names = [f"{column}_emb_{i}" for i in range(np.asarray(reference).shape[1])]
    definition = DataDefinition(embeddings={column: names})
    sides = [Dataset.from_pandas(pd.DataFrame(np.asarray(e, dtype=float), columns=names),
                                 data_definition=definition) for e in (current, reference)]
    snapshot = Report([EmbeddingsDrift(embeddings_name=column,
                                       drift_method=MMDDriftMethod(threshold=threshold))]
                      ).run(*sides)
    if html_path is not None:
        html_path.parent.mkdir(parents=True, exist_ok=True)
        snapshot.save_html(str(html_path))
    score = float(json.loads(snapshot.json())["metrics"][0]["value"])
    return {"method": "mmd", "score": score, "threshold": threshold,
            "drifted": bool(score > threshold), "report": str(html_path) if html_path else None}


def _sample(frame: pd.DataFrame, rows: int, seed: int) -> pd.DataFrame:
    return frame.sample(n=rows, random_state=seed) if len(frame) > rows else frame


def evidently_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    summary: dict[str, Any],
    *,
    categorical: list[str],
    sample_rows: int,
    seed: int,
    html_path: Path | None = None,
    data_quality: bool = True,
    embeddings: tuple[Any, Any] | None = None,
) -> dict[str, Any]:
    """Run the Evidently report for the columns of ``summary`` on a row sample.

    Args:
        reference, current: The frames the decision judged.
        summary: :func:`pipelines.monitor.drift.detect_drift`'s result (methods, thresholds).
        categorical: Which of the columns are categorical.
        sample_rows: Rows of each side given to Evidently (a seeded sample when larger).
        seed: Seed of the sample.
        html_path: Where to save the HTML report (None: no file).
        data_quality: Add Evidently's data summary (column statistics, missing values).
        embeddings: The (reference, current) text embeddings the decision judged
            (``summary["text"]``): Evidently's embeddings drift (its ``mmd`` method with
            the decided threshold) runs on them in a second report, saved beside
            ``html_path`` as :data:`EMBEDDING_REPORT_FILE`.

    Returns:
        Per column Evidently's score, method, threshold and verdict; its drifted-column
        share; the embeddings' MMD² and verdict (``embedding``, with text); the sample
        sizes and the seconds it took.
    """
    from evidently import DataDefinition, Dataset, Report
    from evidently.metrics import DriftedColumnsCount, ValueDrift
    from evidently.presets import DataSummaryPreset

    if sample_rows < 1:
        raise ValueError(f"evidently_drift: 'sample_rows' must be >= 1; got {sample_rows}.")
    started = time.perf_counter()
    columns = summary["columns"]
    names = list(columns)
    features = [c for c in names if columns[c]["role"] == "feature"]
    definition = DataDefinition(
        numerical_columns=[c for c in names if c not in categorical],
        categorical_columns=[c for c in names if c in categorical])
    ref = Dataset.from_pandas(_sample(reference[names], sample_rows, seed),
                              data_definition=definition)
    cur = Dataset.from_pandas(_sample(current[names], sample_rows, seed),
                              data_definition=definition)
    metrics: list[Any] = [DriftedColumnsCount(
        columns=features, drift_share=summary["drift_share"],
        per_column_method={c: columns[c]["method"] for c in features},
        per_column_threshold={c: columns[c]["threshold"] for c in features})]
    metrics += [ValueDrift(column=c, method=columns[c]["method"],
                           threshold=columns[c]["threshold"]) for c in names]
    if data_quality:
        metrics.append(DataSummaryPreset(columns=names))
    # a column constant in a side (a window without a share post) has no correlation:
    # the preset's numpy divides by a zero deviation and the report shows the cell empty;
    # without this, every run printed numpy's RuntimeWarning about it
    with np.errstate(invalid="ignore", divide="ignore"):
        snapshot = Report(metrics).run(cur, ref)
    if html_path is not None:
        html_path.parent.mkdir(parents=True, exist_ok=True)
        snapshot.save_html(str(html_path))
    result: dict[str, Any] = {"columns": {}, "share_drifted": None,
                              "rows": {"reference": min(len(reference), sample_rows),
                                       "current": min(len(current), sample_rows)}}
    for metric in json.loads(snapshot.json())["metrics"]:
        config = metric.get("config", {})
        name = str(metric.get("metric_name", ""))
        if name.startswith("DriftedColumnsCount"):
            result["share_drifted"] = metric["value"]["share"]
        elif name.startswith("ValueDrift") and config.get("column") in columns:
            column = config["column"]
            threshold = columns[column]["threshold"]
            result["columns"][column] = {"score": metric["value"], "method": config["method"],
                                         "threshold": threshold,
                                         "drifted": bool(metric["value"] >= threshold)}
    if embeddings is not None:
        result["embedding"] = evidently_embedding_drift(
            *embeddings, column=summary["text"]["column"],
            threshold=summary["text"]["embedding"]["threshold"],
            html_path=html_path.parent / EMBEDDING_REPORT_FILE if html_path else None)
    result["seconds"] = round(time.perf_counter() - started, 3)
    logger.info("evidently report: %d columns on %d/%d sampled rows in %.1f s%s",
                len(names), result["rows"]["reference"], result["rows"]["current"],
                result["seconds"], f" → {html_path}" if html_path else "")
    return result
