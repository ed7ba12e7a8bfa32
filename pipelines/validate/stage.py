"""The validation stage: table contract → row contract → quarantine → dataset gate.

Rows that fail a row-level expectation go to the quarantine file with every failed rule,
column and value; the others go on. Dataset-level failures (missing columns, too few rows,
too much quarantined) stop the run with one message that lists all of them.
Invariant, checked on every run: rows in = rows accepted + rows quarantined.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from pipelines import schema
from pipelines.validate.expectations import ExpectationOutcome, load_suite, run_suite

logger = logging.getLogger(__name__)

MAX_CAPTION_CHARS = 100_000


class DataContractError(ValueError):
    """A dataset-level expectation failed; the message lists every failure."""


@dataclass(frozen=True)
class ValidationSummary:
    rows_in: int
    rows_accepted: int
    rows_quarantined: int
    quarantine_rate: float
    top_reasons: dict[str, int]


def split_by_row_outcomes(
    posts: pd.DataFrame, outcomes: list[ExpectationOutcome], source_file: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split ``posts`` into accepted rows and quarantine rows with their reasons.

    Args:
        posts: Canonical posts with a unique index.
        outcomes: Row-level expectation outcomes on ``posts``.
        source_file: Recorded in the quarantine rows.

    Returns:
        (accepted posts, quarantine frame) — together they hold every input row once.
    """
    reasons: dict[Any, list[dict[str, str]]] = {}
    for outcome in outcomes:
        for index, value in zip(outcome.unexpected_index, outcome.unexpected_values, strict=True):
            reasons.setdefault(index, []).append(
                {"rule": outcome.expectation, "column": outcome.column or "",
                 "value": str(value)[:200]}
            )
    bad = posts.index.isin(list(reasons))
    rows = []
    for position, (index, record) in zip(
        (int(i) for i in bad.nonzero()[0]), posts[bad].iterrows(), strict=True
    ):
        first = reasons[index][0]
        rows.append({
            "stage": "validate", "source_file": source_file, "source_row": position + 1,
            "post_id": None if pd.isna(record["post_id"]) else str(record["post_id"]),
            "rule": first["rule"], "column": first["column"], "value": first["value"],
            "reasons": json.dumps(reasons[index]),
            "record": record.to_json(date_format="iso", default_handler=str),
        })
    return posts[~bad], schema.quarantine_frame(rows)


def validate_posts(
    posts: pd.DataFrame,
    row_suite: dict[str, Any],
    table_suite: dict[str, Any],
    *,
    as_of: pd.Timestamp,
    min_rows: int,
    max_quarantine_rate: float,
    source_file: str = "",
) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Validate canonical posts against the table and row contracts.

    Args:
        posts: Canonical posts.
        row_suite: Row-level suite; failing rows are quarantined.
        table_suite: Dataset-level suite; failures are returned in the failure list.
        as_of: Posts after this instant are "in the future" (the run's logical date).
        min_rows: Minimum accepted rows for the dataset to be usable.
        max_quarantine_rate: Largest tolerated share of quarantined rows.
        source_file: Recorded in quarantine rows and messages.

    Returns:
        (accepted, quarantined, dataset-level failure descriptions; empty when all passed).
    """
    posts = posts.reset_index(drop=True)
    table = run_suite(posts, table_suite, {"min_rows": min_rows})
    failures = [o.describe() for o in table if not o.success]
    if any(o.expectation == "expect_column_to_exist" and not o.success for o in table):
        # Row rules on absent columns would only add noise; report the missing columns.
        return posts.iloc[0:0], schema.quarantine_frame([]), failures
    rows = run_suite(
        posts, row_suite,
        {"as_of": as_of.isoformat(), "max_caption_chars": MAX_CAPTION_CHARS},
    )
    failures += [
        f"{o.describe()} (the expectation could not be evaluated)" for o in rows if o.error
    ]
    accepted, quarantined = split_by_row_outcomes(posts, rows, source_file)
    rate = len(quarantined) / max(len(posts), 1)
    if rate > max_quarantine_rate:
        failures.append(
            f"quarantine rate {rate:.2%} ({len(quarantined)} of {len(posts)} rows) exceeds "
            f"validate.max_quarantine_rate {max_quarantine_rate:.2%}"
        )
    if len(accepted) < min_rows:
        failures.append(
            f"{len(accepted)} accepted rows is below validate.min_rows {min_rows}"
        )
    return accepted, quarantined, failures


def run_validate(
    raw_path: Path,
    validated_path: Path,
    quarantine_path: Path,
    report_path: Path,
    *,
    row_suite_path: Path,
    table_suite_path: Path,
    as_of: pd.Timestamp,
    min_rows: int,
    max_quarantine_rate: float,
) -> ValidationSummary:
    """Stage runner: read raw posts (and collect-time rejects), validate, write the layers.

    Collect-time rejects (``<raw>.rejects.parquet`` beside the raw file, when present) are
    carried into the quarantine file, so rows in counts every record the source held.

    Raises:
        DataContractError: listing every dataset-level failure, the suites, the partition
            and sample rows. The quarantine file and report are written first.
    """
    posts = pd.read_parquet(raw_path)
    collect_rejects_path = raw_path.with_suffix(".rejects.parquet")
    earlier = (
        pd.read_parquet(collect_rejects_path) if collect_rejects_path.exists()
        else schema.quarantine_frame([])
    )
    accepted, quarantined, failures = validate_posts(
        posts, load_suite(row_suite_path), load_suite(table_suite_path),
        as_of=as_of, min_rows=min_rows, max_quarantine_rate=max_quarantine_rate,
        source_file=str(raw_path),
    )
    quarantined = pd.concat([earlier, quarantined], ignore_index=True)
    rows_in = len(posts) + len(earlier)
    if not failures and len(accepted) + len(quarantined) != rows_in:
        # Only a missing-column failure skips the row split; anything else is a bug.
        raise RuntimeError(
            f"validate: {rows_in} rows in but {len(accepted)} accepted + "
            f"{len(quarantined)} quarantined for {raw_path}"
        )
    summary = ValidationSummary(
        rows_in=rows_in, rows_accepted=len(accepted), rows_quarantined=len(quarantined),
        quarantine_rate=round(len(quarantined) / max(rows_in, 1), 6),
        top_reasons=quarantined["rule"].value_counts().head(10).to_dict(),
    )
    for path in (validated_path, quarantine_path, report_path):
        path.parent.mkdir(parents=True, exist_ok=True)
    accepted.to_parquet(validated_path, index=False)
    quarantined.to_parquet(quarantine_path, index=False)
    report_path.write_text(json.dumps(
        {**asdict(summary), "failures": failures, "as_of": as_of.isoformat(),
         "suites": [str(row_suite_path), str(table_suite_path)]}, indent=2
    ))
    logger.info("validate: %d rows in, %d accepted, %d quarantined", summary.rows_in,
                summary.rows_accepted, summary.rows_quarantined)
    if failures:
        sample = posts.head(3).to_dict(orient="records")
        raise DataContractError(
            f"validate: {len(failures)} dataset-level expectation(s) failed for partition "
            f"{raw_path} (suites {row_suite_path.name}, {table_suite_path.name}):\n  - "
            + "\n  - ".join(failures) + f"\nsample rows: {sample}"
        )
    return summary
