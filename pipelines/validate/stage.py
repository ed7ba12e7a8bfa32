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
from pipelines.config import ValidateConfig
from pipelines.validate.expectations import (
    ExpectationOutcome,
    load_suite,
    run_suite_with_result,
)

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
    quality: dict[str, float]
    platform_mix: dict[str, int]


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


#: Optional columns whose completeness enters the quality score.
COMPLETENESS_COLUMNS: tuple[str, ...] = (
    "caption", "hashtags_count", "mentions_count", "comments", "shares", "campaign_id",
)


def split_superseded(posts: pd.DataFrame, source_file: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Keep the latest observation of each (platform, post_id); quarantine the older ones.

    Engagement grows after posting, so when a post was seen twice the later counts win
    (latest ``collected_at``; on a tie, the later row). Rows without a platform or id are
    left for the not-null rules.
    """
    keyed = posts["platform"].notna() & posts["post_id"].notna()
    order = posts.assign(_position=range(len(posts))).sort_values(
        ["collected_at", "_position"], kind="stable", na_position="first")
    older = order[keyed.loc[order.index]].duplicated(["platform", "post_id"], keep="last")
    superseded_index = older[older].index
    rows = []
    for index in superseded_index:
        record = posts.loc[index]
        rows.append({
            "stage": "validate", "source_file": source_file, "source_row": int(index) + 1,
            "post_id": str(record["post_id"]), "rule": "superseded_duplicate",
            "column": "platform,post_id", "value": f"{record['platform']}/{record['post_id']}",
            "reasons": json.dumps([{"rule": "superseded_duplicate", "column": "platform,post_id",
                                    "value": str(record["post_id"]),
                                    "note": "a later observation of this post was kept"}]),
            "record": record.to_json(date_format="iso", default_handler=str),
        })
    return posts.drop(index=superseded_index), schema.quarantine_frame(rows)


def validate_posts(
    posts: pd.DataFrame,
    row_suite: dict[str, Any],
    table_suite: dict[str, Any],
    *,
    as_of: pd.Timestamp,
    min_rows: int,
    source_file: str = "",
) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Validate canonical posts against the table and row contracts (see below)."""
    accepted, quarantined, failures, _ = _validate_with_results(
        posts, row_suite, table_suite, as_of=as_of, min_rows=min_rows, source_file=source_file)
    return accepted, quarantined, failures


def _validate_with_results(
    posts: pd.DataFrame,
    row_suite: dict[str, Any],
    table_suite: dict[str, Any],
    *,
    as_of: pd.Timestamp,
    min_rows: int,
    source_file: str = "",
) -> tuple[pd.DataFrame, pd.DataFrame, list[str], list[Any]]:
    """Validate canonical posts against the table and row contracts.

    Args:
        posts: Canonical posts.
        row_suite: Row-level suite; failing rows are quarantined.
        table_suite: Dataset-level suite; failures are returned in the failure list.
        as_of: Posts after this instant are "in the future" (the run's logical date);
            a naive timestamp is taken as UTC.
        min_rows: Minimum rows the table contract expects.
        source_file: Recorded in quarantine rows and messages.

    Returns:
        (accepted, quarantined, table-level failure descriptions; empty when all passed).
        Every input row is in exactly one of accepted and quarantined unless a required
        column is missing (then the failure list says so and nothing is split).
    """
    posts = posts.reset_index(drop=True)
    as_of = pd.Timestamp(as_of)
    as_of = as_of.tz_localize("UTC") if as_of.tzinfo is None else as_of.tz_convert("UTC")
    table, table_result = run_suite_with_result(posts, table_suite, {"min_rows": min_rows})
    failures = [o.describe() for o in table if not o.success]
    if any(o.expectation == "expect_column_to_exist" and not o.success for o in table):
        # Row rules on absent columns would only add noise; report the missing columns.
        return posts.iloc[0:0], schema.quarantine_frame([]), failures, [table_result]
    current, superseded = split_superseded(posts, source_file)
    rows, row_result = run_suite_with_result(
        current, row_suite,
        {"as_of": as_of.isoformat(), "max_caption_chars": MAX_CAPTION_CHARS},
    )
    failures += [
        f"{o.describe()} (the expectation could not be evaluated)" for o in rows if o.error
    ]
    accepted, quarantined = split_by_row_outcomes(current, rows, source_file)
    return (accepted, pd.concat([superseded, quarantined], ignore_index=True), failures,
            [table_result, row_result])


def quality_score(accepted: pd.DataFrame, rows_in: int, rows_quarantined: int,
                  superseded: int) -> dict[str, float]:
    """A 0–100 data-quality score: the mean of validity, completeness and uniqueness.

    validity = accepted / rows in; completeness = non-null share of the optional columns
    in :data:`COMPLETENESS_COLUMNS` among accepted rows; uniqueness = 1 − superseded
    duplicates / rows in.
    """
    validity = 1 - rows_quarantined / rows_in if rows_in else 0.0
    present = [c for c in COMPLETENESS_COLUMNS if c in accepted.columns]
    completeness = (float(accepted[present].notna().to_numpy().mean())
                    if present and len(accepted) else 0.0)
    uniqueness = 1 - superseded / rows_in if rows_in else 0.0
    score = 100 * (validity + completeness + uniqueness) / 3
    return {"score": round(score, 2), "validity": round(validity, 4),
            "completeness": round(completeness, 4), "uniqueness": round(uniqueness, 4)}


def dataset_failures(
    accepted: pd.DataFrame, rows_in: int, rows_quarantined: int, quality: dict[str, float],
    rules: ValidateConfig,
) -> list[str]:
    """Every dataset-level rule the validated data breaks, one description each.

    ``rules``: the ``validate`` section (min_rows, max_quarantine_rate, max_platform_share,
    max_null_rate, min_quality_score).
    """
    failures = []
    rate = rows_quarantined / max(rows_in, 1)
    if rate > rules.max_quarantine_rate:
        failures.append(
            f"quarantine rate {rate:.2%} ({rows_quarantined} of {rows_in} rows) exceeds "
            f"validate.max_quarantine_rate {rules.max_quarantine_rate:.2%}"
        )
    if len(accepted) < rules.min_rows:
        failures.append(f"{len(accepted)} accepted rows is below validate.min_rows "
                        f"{rules.min_rows}")
    if len(accepted):
        shares = accepted["platform"].value_counts(normalize=True)
        for platform, share in shares[shares > rules.max_platform_share].items():
            failures.append(f"platform '{platform}' holds {share:.2%} of accepted rows, above "
                            f"validate.max_platform_share {rules.max_platform_share:.2%}")
        for column, limit in sorted(rules.max_null_rate.items()):
            if column not in accepted.columns:
                failures.append(f"validate.max_null_rate names unknown column '{column}'")
                continue
            null_rate = float(accepted[column].isna().mean())
            if null_rate > limit:
                failures.append(f"column '{column}' is {null_rate:.2%} null, above "
                                f"validate.max_null_rate.{column} {limit:.2%}")
    if quality["score"] < rules.min_quality_score:
        failures.append(f"data quality score {quality['score']} is below "
                        f"validate.min_quality_score {rules.min_quality_score} ({quality})")
    return failures


@dataclass(frozen=True)
class ValidationOutcome:
    """Everything one validation produced (before anything is written)."""

    accepted: pd.DataFrame
    quarantined: pd.DataFrame
    summary: ValidationSummary
    failures: list[str]
    gx_results: list[Any]


def validate_dataset(
    posts: pd.DataFrame,
    earlier_rejects: pd.DataFrame,
    *,
    row_suite: dict[str, Any],
    table_suite: dict[str, Any],
    as_of: pd.Timestamp,
    rules: ValidateConfig,
    source: str,
) -> ValidationOutcome:
    """Validate posts, merge earlier (collect-time) rejects, apply the dataset rules.

    Raises:
        RuntimeError: if rows went missing (rows in != accepted + quarantined) — a bug.
    """
    accepted, quarantined, failures, gx_results = _validate_with_results(
        posts, row_suite, table_suite, as_of=as_of, min_rows=rules.min_rows,
        source_file=source,
    )
    quarantined = pd.concat([earlier_rejects, quarantined], ignore_index=True)
    rows_in = len(posts) + len(earlier_rejects)
    split_done = not any("expect_column_to_exist" in f for f in failures)
    if split_done and len(accepted) + len(quarantined) != rows_in:
        raise RuntimeError(
            f"validate: {rows_in} rows in but {len(accepted)} accepted + "
            f"{len(quarantined)} quarantined for {source}"
        )
    superseded = int((quarantined["rule"] == "superseded_duplicate").sum())
    quality = quality_score(accepted, rows_in, len(quarantined), superseded)
    if split_done:
        failures += dataset_failures(accepted, rows_in, len(quarantined), quality, rules)
    summary = ValidationSummary(
        rows_in=rows_in, rows_accepted=len(accepted), rows_quarantined=len(quarantined),
        quarantine_rate=round(len(quarantined) / max(rows_in, 1), 6),
        top_reasons=quarantined["rule"].value_counts().head(10).to_dict(),
        quality=quality,
        platform_mix=accepted["platform"].value_counts().to_dict() if len(accepted) else {},
    )
    return ValidationOutcome(accepted, quarantined, summary, failures, gx_results)


def write_outcome(
    outcome: ValidationOutcome,
    *,
    validated_path: Path,
    quarantine_path: Path,
    report_path: Path,
    reports_dir: Path | None,
    as_of: pd.Timestamp,
    suites: list[str],
) -> None:
    """Write the validated and quarantine layers, the JSON report and (optionally) the
    Data Docs and exploration report under ``reports_dir``."""
    for path in (validated_path, quarantine_path, report_path):
        path.parent.mkdir(parents=True, exist_ok=True)
    outcome.accepted.to_parquet(validated_path, index=False)
    outcome.quarantined.to_parquet(quarantine_path, index=False)
    report = {**asdict(outcome.summary), "failures": outcome.failures,
              "as_of": as_of.isoformat(), "suites": suites}
    if reports_dir is not None:
        from pipelines.validate.data_docs import render_data_docs
        from pipelines.validate.exploration_report import exploration_report

        reports_dir.mkdir(parents=True, exist_ok=True)
        report["data_docs"] = str(render_data_docs(outcome.gx_results, reports_dir / "data_docs"))
        exploration_report(outcome.accepted, reports_dir / "exploration.html",
                           quarantined=outcome.quarantined)
        report["exploration_report"] = str(reports_dir / "exploration.html")
    report_path.write_text(json.dumps(report, indent=2, default=str))
    logger.info("validate: %d rows in, %d accepted, %d quarantined, quality %.1f",
                outcome.summary.rows_in, outcome.summary.rows_accepted,
                outcome.summary.rows_quarantined, outcome.summary.quality["score"])


def raise_on_failures(outcome: ValidationOutcome, partition: str, suites: list[str],
                      sample: pd.DataFrame) -> None:
    """Raise one :class:`DataContractError` listing every dataset-level failure.

    Raises:
        DataContractError: when ``outcome.failures`` is not empty.
    """
    if outcome.failures:
        rows = sample.head(3).to_dict(orient="records")
        raise DataContractError(
            f"validate: {len(outcome.failures)} dataset-level expectation(s) failed for "
            f"partition {partition} (suites {', '.join(suites)}):\n  - "
            + "\n  - ".join(outcome.failures) + f"\nsample rows: {rows}"
        )


def run_validate(
    raw_path: Path,
    validated_path: Path,
    quarantine_path: Path,
    report_path: Path,
    *,
    row_suite_path: Path,
    table_suite_path: Path,
    as_of: pd.Timestamp,
    rules: ValidateConfig,
    reports_dir: Path | None = None,
) -> ValidationSummary:
    """Stage runner: read raw posts (and collect-time rejects), validate, write the layers.

    Collect-time rejects (``<raw>.rejects.parquet`` beside the raw file, when present) are
    carried into the quarantine file, so rows in counts every record the source held.

    Raises:
        DataContractError: listing every dataset-level failure, the suites, the partition
            and sample rows. The quarantine file and report are written first.
    """
    posts = pd.read_parquet(raw_path)
    rejects_path = raw_path.with_suffix(".rejects.parquet")
    earlier = (pd.read_parquet(rejects_path) if rejects_path.exists()
               else schema.quarantine_frame([]))
    suites = [row_suite_path.name, table_suite_path.name]
    outcome = validate_dataset(
        posts, earlier, row_suite=load_suite(row_suite_path),
        table_suite=load_suite(table_suite_path), as_of=as_of, rules=rules,
        source=str(raw_path),
    )
    write_outcome(outcome, validated_path=validated_path, quarantine_path=quarantine_path,
                  report_path=report_path, reports_dir=reports_dir, as_of=as_of,
                  suites=suites)
    raise_on_failures(outcome, str(raw_path), suites, posts)
    return outcome.summary
