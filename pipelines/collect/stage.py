"""The collection stage: demo generator or a file drop → raw canonical posts.

Writes ``posts.parquet`` and, beside it, ``posts.rejects.parquet`` with every record that
could not be read (the validation stage carries them into the quarantine).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pipelines import schema
from pipelines.collect.demo_data import generate_posts

if TYPE_CHECKING:
    from pipelines.collect.formats import ReadLimits

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CollectSummary:
    records_read: int
    posts: int
    rejected: int
    source: str


def run_collect(
    raw_path: Path,
    *,
    source: str,
    path: str,
    fmt: str,
    demo_rows: int,
    demo_accounts: int,
    seed: int,
    limits: ReadLimits,
) -> CollectSummary:
    """Stage runner: collect posts from ``source`` and write the raw layer.

    Args:
        raw_path: Where the raw posts Parquet goes.
        source: ``demo`` (seeded generator), ``file`` (read ``path`` in format ``fmt``) or
            ``validated`` (every day the collection DAG validated, under data root ``path``).
        path: File or folder for ``source='file'``; the data root for ``'validated'``.
        fmt: File layout name for ``source='file'``.
        demo_rows, demo_accounts, seed: Generator settings for ``source='demo'``.
        limits: What one file read may take (``collect.max_file_mb`` and the others).

    Raises:
        ValueError: for an unknown source; CollectError (a ValueError) for a file that
            cannot be read.
    """
    if source == "demo":
        posts = generate_posts(demo_rows, demo_accounts, seed)
        rejects = schema.quarantine_frame([])
    elif source == "validated":
        from pipelines.validate.partition import read_validated_posts

        posts = read_validated_posts(Path(path))
        rejects = schema.quarantine_frame([])
    elif source == "file":
        from pipelines.collect.formats import read_posts

        result = read_posts(path, fmt, limits=limits)
        posts, rejects = result.posts, result.rejects
    else:
        raise ValueError(
            f"run_collect: 'source' must be 'demo', 'file' or 'validated'; got {source!r}."
        )
    raw_path.parent.mkdir(parents=True, exist_ok=True)
    posts.to_parquet(raw_path, index=False)
    rejects.to_parquet(raw_path.with_suffix(".rejects.parquet"), index=False)
    summary = CollectSummary(len(posts) + len(rejects), len(posts), len(rejects), source)
    logger.info("collect: %d records from %s, %d posts, %d rejected", summary.records_read,
                source, summary.posts, summary.rejected)
    return summary
