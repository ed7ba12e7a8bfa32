"""The data contract of a task's entity table, for tasks whose rows are one key each (an
account-day, a player): the quarantine layout, the reader's reject rows, and the
validation that splits rows into accepted and quarantined (row rules) and collects
dataset-level failures (table rules, row count, quarantine rate).

The same shape as the sessions contract (:mod:`pipelines.tasks.conversion_data`), with the
key column named by the caller, so one implementation serves every such entity.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pandas as pd

#: Columns of a quarantine file: one row per rejected record, never dropped.
QUARANTINE_COLUMNS: tuple[str, ...] = (
    "stage", "source_file", "source_row", "key", "rule", "column", "value", "reasons",
    "record")


def quarantine_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """A quarantine frame from dicts keyed by :data:`QUARANTINE_COLUMNS`."""
    frame = pd.DataFrame(rows, columns=list(QUARANTINE_COLUMNS))
    for name in QUARANTINE_COLUMNS:
        frame[name] = frame[name].astype("Int64" if name == "source_row" else "string")
    return frame


def parse_rejects(raw: pd.DataFrame, parsed: dict[str, pd.Series], *, key: str,
                  source: str, rules: dict[str, str]) -> tuple[pd.Series, pd.DataFrame]:
    """Records a reader could not read: a value present in ``raw`` (text) whose parsed
    value in ``parsed`` is missing, or a required value that is empty.

    Args:
        raw: The file's records as text (index = data row number - 1).
        parsed: Column -> parsed values (same index); missing = unreadable or empty.
        key: Column of ``raw`` naming the record (written to the quarantine's ``key``).
        source: The file, recorded in every reject.
        rules: Column -> the rule named when its value cannot be read (``parse_int``...).

    Returns:
        (a boolean Series: the record is readable, the quarantine rows of stage
        ``collect`` naming file, row, column, rule and value of every failure).
    """
    reasons: dict[int, list[dict[str, str]]] = {}
    for column, values in parsed.items():
        text = raw[column].astype("string")
        empty = text.isna() | (text.str.strip() == "")
        for position in values.index[values.isna().to_numpy()]:
            rule = "required_value" if empty.loc[position] else rules[column]
            reasons.setdefault(position, []).append(
                {"rule": rule, "column": column,
                 "value": "" if empty.loc[position] else str(text.loc[position])[:200]})
    rows = []
    for position, found in sorted(reasons.items()):
        record = raw.loc[position]
        rows.append({
            "stage": "collect", "source_file": source, "source_row": int(position) + 1,
            "key": None if pd.isna(record.get(key)) else str(record.get(key)),
            "rule": found[0]["rule"], "column": found[0]["column"],
            "value": found[0]["value"], "reasons": json.dumps(found),
            "record": json.dumps({k: None if pd.isna(v) else str(v)[:200]
                                  for k, v in record.items()}),
        })
    readable = ~raw.index.isin(list(reasons))
    return pd.Series(readable, index=raw.index), quarantine_frame(rows)


@dataclass(frozen=True)
class EntityValidation:
    """Everything one validation produced, before anything is written.

    Attributes:
        accepted: Rows that passed the row contract.
        quarantined: Collect-time rejects and the rows that failed the row contract.
        report: The JSON report (rows in / accepted / quarantined, top reasons).
        failures: Dataset-level failures (table contract, min_rows, quarantine rate).
        gx_results: Great Expectations results (for Data Docs).
    """

    accepted: pd.DataFrame
    quarantined: pd.DataFrame
    report: dict[str, Any]
    failures: list[str]
    gx_results: list[Any]


def validate_entity(
    frame: pd.DataFrame,
    earlier_rejects: pd.DataFrame,
    *,
    key: str,
    row_suite: dict[str, Any],
    table_suite: dict[str, Any],
    parameters: dict[str, Any],
    min_rows: int,
    max_quarantine_rate: float,
    source: str,
) -> EntityValidation:
    """Apply an entity's contract: table rules, then row rules, then dataset rules.

    Args:
        frame: Canonical rows (any index; it is reset).
        earlier_rejects: Collect-time rejects, counted in rows in and quarantined.
        key: The column that names a row in quarantine records.
        row_suite, table_suite: The suites (dicts as stored in ``expectations/``).
        parameters: Values of the row suite's ``$PARAMETER`` placeholders (``as_of``).
        min_rows: Fewest accepted rows the dataset needs (``validate.min_rows``).
        max_quarantine_rate: Largest tolerated quarantined share of rows in.
        source: Recorded in quarantine rows and the report.

    Returns:
        The split and its report; ``failures`` lists every dataset-level failure (empty
        when the data may be used). When a column is missing nothing is split.

    Raises:
        RuntimeError: if rows went missing (rows in != accepted + quarantined): a bug.
    """
    from pipelines.validate.expectations import run_suite_with_result

    frame = frame.reset_index(drop=True)
    rows_in = len(frame) + len(earlier_rejects)
    table, table_result = run_suite_with_result(frame, table_suite, {"min_rows": min_rows})
    failures = [o.describe() for o in table if not o.success]
    results = [table_result]
    if any(o.expectation == "expect_column_to_exist" and not o.success for o in table):
        accepted, quarantined = frame.iloc[0:0], earlier_rejects
    else:
        outcomes, row_result = run_suite_with_result(frame, row_suite, parameters)
        results.append(row_result)
        failures += [f"{o.describe()} (the expectation could not be evaluated)"
                     for o in outcomes if o.error]
        accepted, failed = split_by_outcomes(frame, outcomes, key=key, source=source,
                                             stage="validate")
        quarantined = pd.concat([earlier_rejects, failed], ignore_index=True)
        if len(accepted) + len(quarantined) != rows_in:
            raise RuntimeError(f"validate_entity: {rows_in} rows in but {len(accepted)} "
                               f"accepted + {len(quarantined)} quarantined for {source}.")
        rate = len(quarantined) / max(rows_in, 1)
        if rate > max_quarantine_rate:
            failures.append(f"quarantine rate {rate:.2%} ({len(quarantined)} of {rows_in} rows) "
                            f"exceeds validate.max_quarantine_rate {max_quarantine_rate:.2%}")
        if len(accepted) < min_rows:
            failures.append(f"{len(accepted)} accepted rows is below validate.min_rows "
                            f"{min_rows}")
    reasons = quarantined["rule"].astype(str) + " (" + quarantined["column"].astype(str) + ")"
    report = {
        "source": source, "rows_in": rows_in, "rows_accepted": len(accepted),
        "rows_quarantined": len(quarantined),
        "quarantine_rate": round(len(quarantined) / max(rows_in, 1), 6),
        "top_reasons": reasons.value_counts().head(10).to_dict(), "failures": failures,
    }
    return EntityValidation(accepted.reset_index(drop=True), quarantined, report, failures,
                            results)


def split_by_outcomes(frame: pd.DataFrame, outcomes: list[Any], *, key: str, source: str,
                      stage: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(accepted rows, quarantine rows with every failed rule, column and value)."""
    reasons: dict[Any, list[dict[str, str]]] = {}
    for outcome in outcomes:
        for index, value in zip(outcome.unexpected_index, outcome.unexpected_values,
                                strict=True):
            reasons.setdefault(index, []).append(
                {"rule": outcome.expectation, "column": outcome.column or "",
                 "value": str(value)[:200]})
    bad = frame.index.isin(list(reasons))
    rows = []
    for index, record in frame[bad].iterrows():
        first = reasons[index][0]
        rows.append({
            "stage": stage, "source_file": source, "source_row": int(index) + 1,
            "key": None if pd.isna(record[key]) else str(record[key]),
            "rule": first["rule"], "column": first["column"], "value": first["value"],
            "reasons": json.dumps(reasons[index]),
            "record": record.to_json(date_format="iso", default_handler=str),
        })
    return frame[~bad], quarantine_frame(rows)
