"""Validate one day's raw partition and publish it to the validated store.

The validated store is ``02_validated/date=<YYYY-MM-DD>/posts.parquet`` (one file per
day, rewritten whole by a re-run of that day, so re-runs are idempotent); the training DAG
reads every day with :func:`read_validated_posts`, the latest observation of each post
winning.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from pipelines import schema
from pipelines.collect import raw_store
from pipelines.collect.partition import day_bounds
from pipelines.config import ValidateConfig
from pipelines.validate.expectations import load_suite
from pipelines.validate.stage import (
    raise_on_failures,
    validate_dataset,
    write_outcome,
)

VALIDATED_LAYER, QUARANTINE_LAYER, REPORTING_LAYER = "02_validated", "02_quarantine", "05_reporting"


def partition_paths(data_root: Path, run_date: str | pd.Timestamp) -> dict[str, Path]:
    """Where one day's validation outputs go."""
    day = f"date={day_bounds(run_date)[0]:%Y-%m-%d}"
    return {
        "validated": data_root / VALIDATED_LAYER / day / "posts.parquet",
        "quarantine": data_root / QUARANTINE_LAYER / day / "posts.parquet",
        "report": data_root / VALIDATED_LAYER / day / "validation.json",
        "reports_dir": data_root / REPORTING_LAYER / "validation" / day,
    }


def read_raw_partition(data_root: Path, run_date: str | pd.Timestamp
                       ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """All raw posts and collect-time rejects of one day, across sources."""
    day = f"date={day_bounds(run_date)[0]:%Y-%m-%d}"
    files = [f for f in raw_store.raw_files(data_root) if day in f.parts]
    posts = (pd.concat([schema.conform(pd.read_parquet(f)) for f in files], ignore_index=True)
             if files else schema.empty_posts())
    reject_files = sorted((data_root / raw_store.RAW_LAYER / raw_store.QUARANTINE_DIR)
                          .glob(f"source=*/{day}/*.parquet"))
    rejects = (pd.concat([pd.read_parquet(f) for f in reject_files], ignore_index=True)
               if reject_files else schema.quarantine_frame([]))
    return posts, rejects


def run_validate_partition(
    *,
    data_root: Path,
    run_date: str | pd.Timestamp,
    row_suite_path: Path,
    table_suite_path: Path,
    as_of: pd.Timestamp,
    rules: ValidateConfig,
    with_reports: bool = True,
) -> dict[str, Any]:
    """Stage runner: validate one day's raw partition, write validated/quarantine/reports.

    Raises:
        DataContractError: listing every dataset-level failure (outputs written first).
    """
    posts, rejects = read_raw_partition(data_root, run_date)
    paths = partition_paths(data_root, run_date)
    suites = [row_suite_path.name, table_suite_path.name]
    outcome = validate_dataset(
        posts, rejects, row_suite=load_suite(row_suite_path),
        table_suite=load_suite(table_suite_path), as_of=as_of, rules=rules,
        source=str(paths["validated"].parent),
    )
    write_outcome(outcome, validated_path=paths["validated"],
                  quarantine_path=paths["quarantine"], report_path=paths["report"],
                  reports_dir=paths["reports_dir"] if with_reports else None, as_of=as_of,
                  suites=suites)
    raise_on_failures(outcome, str(paths["validated"].parent), suites, posts)
    return {"partition": str(paths["validated"]), "report": str(paths["report"]),
            "reports_dir": str(paths["reports_dir"]) if with_reports else None,
            "rows_in": outcome.summary.rows_in, "rows_accepted": outcome.summary.rows_accepted,
            "rows_quarantined": outcome.summary.rows_quarantined}


def read_validated_posts(data_root: Path) -> pd.DataFrame:
    """Every validated day, one row per (platform, post_id): the latest observation."""
    files = sorted((data_root / VALIDATED_LAYER).glob("date=*/posts.parquet"))
    if not files:
        return schema.empty_posts()
    return raw_store.latest_per_post(
        pd.concat([schema.conform(pd.read_parquet(f)) for f in files], ignore_index=True))
