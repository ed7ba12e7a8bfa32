"""The feedback data contract applied: table rules stop the run, row rules quarantine.

The rules live in ``expectations/feedback_row_contract.json`` and
``expectations/feedback_table_contract.json`` (Great Expectations suites); this module runs
them on canonical feedback (:mod:`pipelines.tasks.feedback_data`) and accounts for every
row: rows in = accepted + quarantined (collect-time rejects included), or it raises.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pandas as pd

from pipelines.tasks.feedback_data import CLASSES, quarantine_frame


@dataclass(frozen=True)
class FeedbackValidation:
    """Everything one validation produced, before anything is written.

    Attributes:
        accepted: Feedback rows that passed the row contract.
        quarantined: Collect-time rejects and the rows that failed the row contract.
        report: The JSON report (rows in/accepted/quarantined, top reasons, per class and
            campaign counts).
        failures: Dataset-level failures (table contract, min_rows, quarantine rate).
        gx_results: Great Expectations results (for Data Docs).
    """

    accepted: pd.DataFrame
    quarantined: pd.DataFrame
    report: dict[str, Any]
    failures: list[str]
    gx_results: list[Any]


def validate_feedback(
    feedback: pd.DataFrame,
    earlier_rejects: pd.DataFrame,
    *,
    row_suite: dict[str, Any],
    table_suite: dict[str, Any],
    as_of: pd.Timestamp,
    min_rows: int,
    max_quarantine_rate: float,
    source: str,
) -> FeedbackValidation:
    """Apply the feedback contract: table rules, then row rules, then dataset rules.

    Args:
        feedback: Canonical feedback (any index; it is reset).
        earlier_rejects: Collect-time rejects, counted in rows in and quarantined.
        row_suite, table_suite: The suites (dicts as stored in ``expectations/``).
        as_of: Feedback created later is "in the future" (the run's logical date).
        min_rows: Fewest accepted rows the dataset needs (``validate.min_rows``).
        max_quarantine_rate: Largest tolerated quarantined share of rows in.
        source: Recorded in quarantine rows and the report.

    Returns:
        The split and its report; ``failures`` lists every dataset-level failure.

    Raises:
        RuntimeError: if rows went missing (rows in != accepted + quarantined): a bug.
    """
    from pipelines.validate.expectations import run_suite_with_result

    feedback = feedback.reset_index(drop=True)
    as_of = pd.Timestamp(as_of)
    as_of = as_of.tz_localize("UTC") if as_of.tzinfo is None else as_of.tz_convert("UTC")
    rows_in = len(feedback) + len(earlier_rejects)
    table, table_result = run_suite_with_result(feedback, table_suite, {"min_rows": min_rows})
    failures = [o.describe() for o in table if not o.success]
    results = [table_result]
    if any(o.expectation == "expect_column_to_exist" and not o.success for o in table):
        accepted, quarantined = feedback.iloc[0:0], earlier_rejects
    else:
        rows, row_result = run_suite_with_result(feedback, row_suite,
                                                 {"as_of": as_of.isoformat()})
        results.append(row_result)
        failures += [f"{o.describe()} (the expectation could not be evaluated)"
                     for o in rows if o.error]
        accepted, failed = split_by_outcomes(feedback, rows, source, "validate")
        quarantined = pd.concat([earlier_rejects, failed], ignore_index=True)
        if len(accepted) + len(quarantined) != rows_in:
            raise RuntimeError(f"validate_feedback: {rows_in} rows in but {len(accepted)} "
                               f"accepted + {len(quarantined)} quarantined for {source}.")
        rate = len(quarantined) / max(rows_in, 1)
        if rate > max_quarantine_rate:
            failures.append(f"quarantine rate {rate:.2%} ({len(quarantined)} of {rows_in} "
                            f"rows) exceeds validate.max_quarantine_rate "
                            f"{max_quarantine_rate:.2%}")
        if len(accepted) < min_rows:
            failures.append(f"{len(accepted)} accepted rows is below validate.min_rows "
                            f"{min_rows}")
    reasons = (quarantined["rule"].astype(str) + " (" + quarantined["column"].astype(str)
               + ")")
    report = {
        "source": source, "as_of": as_of.isoformat(), "rows_in": rows_in,
        "rows_accepted": len(accepted), "rows_quarantined": len(quarantined),
        "quarantine_rate": round(len(quarantined) / max(rows_in, 1), 6),
        "top_reasons": reasons.value_counts().head(10).to_dict(),
        "classes": class_counts(accepted), "campaigns": int(accepted["campaign"].nunique())
        if "campaign" in accepted.columns else 0,
        "failures": failures,
    }
    return FeedbackValidation(accepted, quarantined, report, failures, results)


def split_by_outcomes(feedback: pd.DataFrame, outcomes: list[Any], source: str,
                      stage: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(accepted rows, quarantine rows with every failed rule, column and value)."""
    reasons: dict[Any, list[dict[str, str]]] = {}
    for outcome in outcomes:
        for index, value in zip(outcome.unexpected_index, outcome.unexpected_values,
                                strict=True):
            reasons.setdefault(index, []).append(
                {"rule": outcome.expectation, "column": outcome.column or "",
                 "value": str(value)[:200]})
    bad = feedback.index.isin(list(reasons))
    rows = []
    for index, record in feedback[bad].iterrows():
        first = reasons[index][0]
        feedback_id = record["feedback_id"]
        rows.append({
            "stage": stage, "source_file": source, "source_row": int(index) + 1,
            "feedback_id": None if pd.isna(feedback_id) else str(feedback_id),
            "rule": first["rule"], "column": first["column"], "value": first["value"],
            "reasons": json.dumps(reasons[index]),
            "record": record.to_json(date_format="iso", default_handler=str)[:2000],
        })
    return feedback[~bad], quarantine_frame(rows)


def class_counts(feedback: pd.DataFrame) -> dict[str, int]:
    """Accepted rows per sentiment class name."""
    if feedback.empty or "sentiment" not in feedback.columns:
        return {}
    counts = feedback["sentiment"].value_counts()
    return {name: int(counts.get(code, 0)) for code, name in enumerate(CLASSES)}
