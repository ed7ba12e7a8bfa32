"""The validate stage of a task whose entity is keyed by one id column (sessions,
impressions, account days, players, feedback, articles): read the raw layer and the
collect-time rejects, apply the entity's contract
(:func:`pipelines.validate.entity_contract.validate_entity`), write the validated and
quarantine layers and the validation report, and stop the run on a dataset-level failure.
Each task's ``validate`` hook calls it with its own key and report summaries, so the tasks
cannot drift apart.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from pipelines.paths import ProjectPaths
    from pipelines.tasks.base import InputSpec

logger = logging.getLogger(__name__)


def rejects_path(raw: Path) -> Path:
    """Collect-time rejects beside the raw file (``<entity>.rejects.parquet``)."""
    return raw.with_suffix(".rejects.parquet")


def validate_entity_stage(
    paths: ProjectPaths,
    spec: InputSpec,
    *,
    task: str,
    key: str,
    as_of: Any,
    min_rows: int,
    max_quarantine_rate: float,
    reports: bool,
    summaries: Mapping[str, Callable[[pd.DataFrame], dict[str, Any]]] | None = None,
    quarantine_key: str | None = None,
    record_chars: int | None = None,
) -> dict[str, Any]:
    """Stage runner: apply ``spec``'s contract to ``01_raw/<entity>.parquet`` (and its
    rejects); write the validated and quarantine layers, the report and, with ``reports``,
    the Data Docs and an exploration report.

    Args:
        paths: The project's data layers.
        spec: The task's entity and suites.
        task: The task's name (messages and logs).
        key, summaries, quarantine_key, record_chars: As :func:`~pipelines.validate.entity_contract.
            validate_entity`.
        as_of: The run's logical date.
        min_rows, max_quarantine_rate: ``validate.min_rows``, ``validate.max_quarantine_rate``.
        reports: Also render Great Expectations Data Docs and the exploration report.

    Returns:
        The validation report (also written to ``paths.validation_report``).

    Raises:
        ValueError: if ``as_of`` is None.
        DataContractError: (a ValueError) listing every dataset-level failure, after the
            layers and the report are written.
    """
    import pandas as pd

    from pipelines.validate.entity_contract import quarantine_frame, validate_entity
    from pipelines.validate.expectations import load_suite
    from pipelines.validate.stage import DataContractError

    if as_of is None:
        raise ValueError(f"{task}.validate: 'as_of' must be the run's logical date; got None.")
    entity = spec.entity
    raw = paths.raw(entity)
    rows = pd.read_parquet(raw)
    earlier = (pd.read_parquet(rejects_path(raw)) if rejects_path(raw).exists()
               else quarantine_frame([], quarantine_key or key))
    suites = [spec.row_suite, spec.table_suite]
    outcome = validate_entity(
        rows, earlier, key=key, quarantine_key=quarantine_key,
        row_suite=load_suite(paths.resolve(spec.row_suite)),
        table_suite=load_suite(paths.resolve(spec.table_suite)), as_of=as_of,
        min_rows=min_rows, max_quarantine_rate=max_quarantine_rate, source=str(raw),
        summaries=summaries, record_chars=record_chars)
    report = {**outcome.report, "suites": suites}
    for path in (paths.validated(entity), paths.quarantined(entity)):
        path.parent.mkdir(parents=True, exist_ok=True)
    outcome.accepted.to_parquet(paths.validated(entity), index=False)
    outcome.quarantined.to_parquet(paths.quarantined(entity), index=False)
    if reports:
        from pipelines.validate.data_docs import render_data_docs

        report["data_docs"] = str(render_data_docs(
            outcome.gx_results, paths.validation_reports / entity))
        report["exploration_report"] = str(_explore(outcome, paths, spec, task))
    paths.validation_report.write_text(json.dumps(report, indent=2, default=str))
    logger.info("%s.validate: %d rows in, %d accepted, %d quarantined %s", task,
                report["rows_in"], report["rows_accepted"], report["rows_quarantined"],
                report["top_reasons"])
    if outcome.failures:
        raise DataContractError(
            f"{task}.validate: {len(outcome.failures)} dataset-level rule(s) failed for "
            f"{raw} (suites {', '.join(suites)}):\n  - " + "\n  - ".join(outcome.failures)
            + f"\nsample rows: {rows.head(3).to_dict(orient='records')}")
    return report


def _explore(outcome: Any, paths: ProjectPaths, spec: InputSpec, task: str) -> Path:
    """The exploration report of the accepted rows (the same page as for posts): the task's
    target where the entity carries it as a number, the entity's time column."""
    import pandas as pd

    from pipelines.tasks import get_task
    from pipelines.validate.exploration_report import exploration_report

    accepted = outcome.accepted
    target = get_task(task).target
    if target not in accepted.columns or not (
            pd.api.types.is_numeric_dtype(accepted[target])
            and not pd.api.types.is_bool_dtype(accepted[target])):
        target = None
    path = paths.validation_reports / spec.entity / "exploration.html"
    exploration_report(accepted, path, target=target, time_column=spec.time_column,
                       quarantined=outcome.quarantined)
    return path
