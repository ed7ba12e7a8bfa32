"""A task entity's data contract applied to a table: table rules stop the run, row rules
quarantine rows with every failed rule, column and value, and no row goes missing
(rows in = rows accepted + rows quarantined).

One implementation for every entity whose rows are named by one id column (sessions,
impressions, account days, players, feedback, articles): how a reader reads its file (the
post reader's guards: regular files only, the read limits, no file changed while read), the
quarantine layout, a reader's reject rows, the validation split and the split of rows to
score. Each entity names its id column, the quarantine column that records it, what its
report says about the accepted rows and, where rows hold long texts, how much of a
quarantined row its ``record`` keeps.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pandas as pd

if TYPE_CHECKING:
    from pipelines.collect.formats.source_file import ReadLimits, SourceFile

_T = TypeVar("_T")

#: Columns of a quarantine file beside the record's key column (``KEY`` marks its place).
KEY = "<key>"
QUARANTINE_LAYOUT: tuple[str, ...] = (
    "stage", "source_file", "source_row", KEY, "rule", "column", "value", "reasons", "record")


def quarantine_columns(key: str) -> tuple[str, ...]:
    """The quarantine columns whose key column is named ``key``."""
    return tuple(key if c == KEY else c for c in QUARANTINE_LAYOUT)


def quarantine_frame(rows: list[dict[str, Any]], key: str) -> pd.DataFrame:
    """A quarantine frame from dicts keyed by :func:`quarantine_columns` of ``key``."""
    columns = quarantine_columns(key)
    frame = pd.DataFrame(rows, columns=list(columns))
    for name in columns:
        frame[name] = frame[name].astype("Int64" if name == "source_row" else "string")
    return frame


def read_text_csv(path: Path, header: Mapping[str, str], *, reader: str,
                  limits: ReadLimits) -> pd.DataFrame:
    """A CSV file's records as text (an empty field is ``""``), the file's columns
    (``header`` values) renamed to canonical names (its keys), in ``header`` order; the
    index is the data row number - 1, as :func:`parse_rejects` reads it. The file is read
    as :func:`csv_records` reads one (``.gz`` gunzipped).

    Raises:
        ValueError: if the file cannot be read as CSV or lacks a column, naming ``reader``,
            the file and the columns.
        CollectError: (a ``ValueError``) as :func:`csv_records`.
    """
    def parse(source: SourceFile) -> pd.DataFrame:
        return pd.read_csv(source.stream, dtype=str, keep_default_na=False, compression=None)

    raw = _read_guarded(path, limits, parse, reader=reader)
    check_columns(path, [str(c) for c in raw.columns], limits, reader=reader)
    missing = [h for h in header.values() if h not in raw.columns]
    if missing:
        raise ValueError(f"{reader}: {path} lacks column(s) {missing}; its header is "
                         f"{list(raw.columns)}.")
    return raw.rename(columns={v: k for k, v in header.items()})[list(header)]


def csv_records(path: Path, *, reader: str, limits: ReadLimits, encoding: str, errors: str,
                skipinitialspace: bool = False) -> list[list[str]]:
    """Every record of a CSV file (the header first) as lists of text, read the way the
    post reader reads a file (:func:`pipelines.collect.formats.source_file.read_unchanged`):
    only a regular file (never a FIFO or a link to a device), at most
    ``collect.max_file_mb`` (``.gz`` content gunzipped and counted), at most
    ``collect.max_columns`` header columns, and not one that changed while it was read.

    Args:
        path: The file.
        reader: The public reader, named first in every error.
        limits: The ``collect`` params' read limits.
        encoding: Text encoding (``utf-8-sig`` drops a byte-order mark).
        errors: What undecodable bytes become (``surrogateescape``, ``replace``).
        skipinitialspace: Drop spaces after each delimiter.

    Raises:
        CollectError: (a ``ValueError``) naming ``reader``, the file and the rule:
            ``not_regular_file``, ``max_file_mb``, ``max_columns``, ``file_changed``.
        ValueError: a file that cannot be read as CSV (missing, broken quoting, broken
            gzip), naming ``reader`` and the file.
    """
    def parse(source: SourceFile) -> list[list[str]]:
        text = io.TextIOWrapper(source.stream, encoding=encoding, errors=errors, newline="")
        try:
            return list(csv.reader(text, skipinitialspace=skipinitialspace))
        finally:
            text.detach()  # the source closes its stream, after checking it

    records = _read_guarded(path, limits, parse, reader=reader)
    if records:
        check_columns(path, records[0], limits, reader=reader)
    return records


def _read_guarded(path: Path, limits: ReadLimits, parse: Callable[[SourceFile], _T], *,
                  reader: str) -> _T:
    """``parse`` of the opened file through ``read_unchanged``; what the parser or the
    file system raise becomes a ValueError naming ``reader`` and the file."""
    from pipelines.collect.formats.rejects import CollectError
    from pipelines.collect.formats.source_file import read_unchanged

    try:
        return read_unchanged(Path(path), limits, parse, reader=reader)
    except CollectError:
        raise
    except (OSError, EOFError, ValueError, csv.Error) as error:
        raise ValueError(f"{reader}: cannot read {path} as CSV: {error}.") from None


def check_columns(path: Path, names: list[str], limits: ReadLimits, *, reader: str) -> None:
    """The post reader's ``max_columns`` rule, naming ``reader``.

    Raises:
        CollectError: rule ``max_columns``.
    """
    from pipelines.collect.formats import CollectError
    from pipelines.collect.formats.containers import check_columns as check

    try:
        check(Path(path), names, limits)
    except CollectError as error:
        raise error.named(reader) from None


def parse_rejects(raw: pd.DataFrame, parsed: dict[str, pd.Series], *, key: str,
                  source: str, rules: dict[str, str], quarantine_key: str | None = None
                  ) -> tuple[pd.Series, pd.DataFrame]:
    """Records a reader could not read: a value present in ``raw`` (text) whose parsed
    value in ``parsed`` is missing, or a required value that is empty.

    Args:
        raw: The file's records as text (index = data row number - 1).
        parsed: Column -> parsed values (same index); missing = unreadable or empty.
        key: Column of ``raw`` naming the record.
        source: The file, recorded in every reject.
        rules: Column -> the rule named when its value cannot be read (``parse_int``...).
        quarantine_key: The quarantine column the key is written to (``key`` when None).

    Returns:
        (a boolean Series: the record is readable, the quarantine rows of stage
        ``collect`` naming file, row, column, rule and value of every failure).
    """
    quarantine_key = quarantine_key or key
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
            quarantine_key: None if pd.isna(record.get(key)) else str(record.get(key)),
            "rule": found[0]["rule"], "column": found[0]["column"],
            "value": found[0]["value"], "reasons": json.dumps(found),
            "record": json.dumps({k: None if pd.isna(v) else str(v)[:200]
                                  for k, v in record.items()}),
        })
    readable = ~raw.index.isin(list(reasons))
    return pd.Series(readable, index=raw.index), quarantine_frame(rows, quarantine_key)


@dataclass(frozen=True)
class EntityValidation:
    """Everything one validation produced, before anything is written.

    Attributes:
        accepted: Rows that passed the row contract (index reset).
        quarantined: Collect-time rejects and the rows that failed the row contract.
        report: The JSON report (rows in/accepted/quarantined, top reasons, summaries).
        failures: Dataset-level failures (table contract, min_rows, quarantine rate).
        gx_results: Great Expectations results (for Data Docs).
    """

    accepted: pd.DataFrame
    quarantined: pd.DataFrame
    report: dict[str, Any]
    failures: list[str]
    gx_results: list[Any]


def validate_entity(
    rows: pd.DataFrame,
    earlier_rejects: pd.DataFrame,
    *,
    key: str,
    row_suite: dict[str, Any],
    table_suite: dict[str, Any],
    as_of: Any,
    min_rows: int,
    max_quarantine_rate: float,
    source: str,
    summaries: Mapping[str, Callable[[pd.DataFrame], dict[str, Any]]] | None = None,
    quarantine_key: str | None = None,
    record_chars: int | None = None,
) -> EntityValidation:
    """Apply a contract: table rules, then row rules, then dataset rules.

    Args:
        rows: Canonical rows (any index; it is reset).
        earlier_rejects: Collect-time rejects, counted in rows in and quarantined.
        key: The id column, recorded in quarantine rows.
        row_suite, table_suite: The suites (dicts as stored in ``expectations/``); the row
            suite may use the parameter ``as_of``, the table suite ``min_rows``.
        as_of: The run's logical date (rows from after it are "in the future"); naive
            means UTC.
        min_rows: Fewest accepted rows the dataset needs (``validate.min_rows``).
        max_quarantine_rate: Largest tolerated quarantined share of rows in.
        source: Recorded in quarantine rows and the report.
        summaries: Report key -> what the report says there about the accepted rows
            (``{}`` when none are accepted); None: no summary.
        quarantine_key: The quarantine column the key is written to (``key`` when None).
        record_chars: A row-rule reject's ``record`` (the row as JSON) is cut to this many
            characters (a task whose rows hold long texts bounds its quarantine file);
            None: the whole row.

    Returns:
        The split and its report; ``failures`` lists every dataset-level failure (empty
        when the data may be used). When a column is missing nothing is split.

    Raises:
        RuntimeError: if rows went missing (rows in != accepted + quarantined): a bug.
    """
    from pipelines.validate.expectations import run_suite_with_result

    rows = rows.reset_index(drop=True)
    as_of = pd.Timestamp(as_of)
    as_of = as_of.tz_localize("UTC") if as_of.tzinfo is None else as_of.tz_convert("UTC")
    rows_in = len(rows) + len(earlier_rejects)
    table, table_result = run_suite_with_result(rows, table_suite, {"min_rows": min_rows})
    failures = [o.describe() for o in table if not o.success]
    results = [table_result]
    if any(o.expectation == "expect_column_to_exist" and not o.success for o in table):
        # Row rules on absent columns would only add noise; report the missing columns.
        accepted, quarantined = rows.iloc[0:0], earlier_rejects
    else:
        outcomes, row_result = run_suite_with_result(rows, row_suite,
                                                     {"as_of": as_of.isoformat()})
        results.append(row_result)
        failures += [f"{o.describe()} (the expectation could not be evaluated)"
                     for o in outcomes if o.error]
        accepted, failed = split_by_outcomes(rows, outcomes, key=key, source=source,
                                             stage="validate", quarantine_key=quarantine_key,
                                             record_chars=record_chars)
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
    reasons = (quarantined["rule"].astype(str) + " (" + quarantined["column"].astype(str) + ")")
    report = {
        "source": source, "as_of": as_of.isoformat(), "rows_in": rows_in,
        "rows_accepted": len(accepted), "rows_quarantined": len(quarantined),
        "quarantine_rate": round(len(quarantined) / max(rows_in, 1), 6),
        "top_reasons": reasons.value_counts().head(10).to_dict(),
        **{name: summary(accepted) if len(accepted) else {}
           for name, summary in (summaries or {}).items()},
        "failures": failures,
    }
    return EntityValidation(accepted.reset_index(drop=True), quarantined, report, failures,
                            results)


def split_by_outcomes(rows: pd.DataFrame, outcomes: list[Any], *, key: str, source: str,
                      stage: str, quarantine_key: str | None = None,
                      record_chars: int | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(accepted rows, quarantine rows with every failed rule, column and value; the
    ``source_row`` is the row's position in ``rows`` counted from 1; the key is written to
    the quarantine column ``quarantine_key``, ``key`` when None; the ``record`` is cut to
    ``record_chars`` characters, whole when None)."""
    quarantine_key = quarantine_key or key
    reasons: dict[Any, list[dict[str, str]]] = {}
    for outcome in outcomes:
        for index, value in zip(outcome.unexpected_index, outcome.unexpected_values,
                                strict=True):
            reasons.setdefault(index, []).append(
                {"rule": outcome.expectation, "column": outcome.column or "",
                 "value": str(value)[:200]})
    bad = rows.index.isin(list(reasons))
    quarantined = []
    for index, record in rows[bad].iterrows():
        first = reasons[index][0]
        ident = record[key]
        quarantined.append({
            "stage": stage, "source_file": source, "source_row": int(index) + 1,
            quarantine_key: None if pd.isna(ident) else str(ident),
            "rule": first["rule"], "column": first["column"], "value": first["value"],
            "reasons": json.dumps(reasons[index]),
            "record": record.to_json(date_format="iso", default_handler=str)[:record_chars],
        })
    return rows[~bad], quarantine_frame(quarantined, quarantine_key)


def split_scorable(rows: pd.DataFrame, row_suite: dict[str, Any], *, key: str,
                   columns: tuple[str, ...], source: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rows to score, split by the row contract's rules on ``columns`` (what a client
    sends: :func:`pipelines.validate.row_rules.request_rules`, the rules the online route's
    request model carries).

    Returns:
        (the rows that pass, quarantine rows of stage ``score`` with every failed rule,
        column and value).
    """
    from pipelines.validate.expectations import run_suite
    from pipelines.validate.row_rules import request_rules

    rows = rows.reset_index(drop=True)
    if rows.empty:
        return rows, quarantine_frame([], key)
    outcomes = run_suite(rows, request_rules(row_suite, columns))
    return split_by_outcomes(rows, outcomes, key=key, source=source, stage="score")
