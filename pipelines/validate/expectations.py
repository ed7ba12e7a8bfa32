"""Run Great Expectations 1.x suites (JSON files in ``expectations/``) on a DataFrame.

GE is imported inside the functions: it costs seconds to import and Airflow parses DAG
files that import this package's wiring constantly.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExpectationOutcome:
    """The result of one expectation on one batch.

    Attributes:
        expectation: The expectation type, e.g. ``expect_column_values_to_be_between``.
        column: The column it is about (None for table-level expectations).
        kwargs: Its arguments after suite parameters were filled in.
        success: Whether it passed.
        observed: The observed value for aggregate expectations, if any.
        unexpected_index: Index labels of the failing rows (row-level expectations).
        unexpected_values: The failing values, aligned with ``unexpected_index``.
        error: GE's exception message if the expectation could not be evaluated.
    """

    expectation: str
    column: str | None
    kwargs: dict[str, Any]
    success: bool
    observed: Any
    unexpected_index: list[Any]
    unexpected_values: list[Any]
    error: str | None

    def describe(self) -> str:
        """One line for an error message: rule, column, arguments, what was seen."""
        args = {k: v for k, v in self.kwargs.items() if k not in ("column", "batch_id")}
        seen = self.error or (
            f"observed {self.observed!r}" if self.observed is not None
            else f"{len(self.unexpected_index)} failing row(s), e.g. {self.unexpected_values[:3]!r}"
        )
        where = f" on column '{self.column}'" if self.column else ""
        return f"{self.expectation}{where} {args}: {seen}"


def exception_message(info: Any) -> str | None:
    """GE's exception message: ``exception_info`` is either one exception record or, when a
    metric failed, a dict of records keyed by metric id."""
    if not isinstance(info, dict):
        return None
    if "raised_exception" in info:
        return str(info.get("exception_message")) if info["raised_exception"] else None
    for record in info.values():
        if isinstance(record, dict) and record.get("raised_exception"):
            return str(record.get("exception_message"))
    return None


def load_suite(path: str | Path) -> dict[str, Any]:
    """Read a suite JSON file.

    Raises:
        ValueError: if the file is not a suite (a name and a list of expectations).
    """
    with open(path, encoding="utf-8") as handle:
        suite = json.load(handle)
    if not isinstance(suite, dict) or not isinstance(suite.get("expectations"), list):
        raise ValueError(f"{path}: not an expectation suite (need 'name' and 'expectations').")
    return suite


def run_suite(
    frame: pd.DataFrame, suite: dict[str, Any], parameters: dict[str, Any] | None = None
) -> list[ExpectationOutcome]:
    """Validate ``frame`` against ``suite`` with Great Expectations, in memory.

    Args:
        frame: The data; index labels identify rows in the outcomes.
        suite: A suite dict as stored in ``expectations/*.json``.
        parameters: Values for ``{"$PARAMETER": name}`` placeholders in the suite.

    Returns:
        One outcome per expectation, in suite order.
    """
    return run_suite_with_result(frame, suite, parameters)[0]


def run_suite_with_result(
    frame: pd.DataFrame, suite: dict[str, Any], parameters: dict[str, Any] | None = None
) -> tuple[list[ExpectationOutcome], Any]:
    """Like :func:`run_suite`, also returning GE's ``ExpectationSuiteValidationResult``.

    The GE result is what Data Docs render; the outcomes are what the pipeline decides on.
    """
    # before the import: GE logs "Skipping registering function ..." at INFO while importing
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    gx_suite = context.suites.add(
        gx.ExpectationSuite(name=suite["name"], expectations=suite["expectations"])
    )
    batch = (
        context.data_sources.add_pandas("engageflow")
        .add_dataframe_asset("posts")
        .add_batch_definition_whole_dataframe("whole")
        .get_batch(batch_parameters={"dataframe": frame})
    )
    result = batch.validate(
        gx_suite, result_format="COMPLETE", expectation_parameters=parameters or {}
    )
    by_id = {r.expectation_config.id: r for r in result.results}
    outcomes = []
    for expectation in gx_suite.expectations:
        raw = by_id[expectation.id].to_json_dict()
        config, detail = raw["expectation_config"], raw.get("result") or {}
        outcomes.append(ExpectationOutcome(
            expectation=config["type"],
            column=config["kwargs"].get("column")
            or ",".join(config["kwargs"].get("column_list") or [])
            or ",".join(config["kwargs"].get(k) for k in ("column_A", "column_B")
                        if config["kwargs"].get(k)) or None,
            kwargs=dict(config["kwargs"]),
            success=bool(raw["success"]),
            observed=detail.get("observed_value"),
            unexpected_index=list(detail.get("unexpected_index_list") or []),
            unexpected_values=list(detail.get("unexpected_list") or []),
            error=exception_message(raw.get("exception_info")),
        ))
    return outcomes, result
