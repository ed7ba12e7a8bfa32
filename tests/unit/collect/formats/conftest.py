"""Shared helpers for the file-format tests: a canonical row, files with a fixed mtime, and
the canonical-schema check every read result must pass."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pipelines import schema

MTIME = 1_700_000_000  # 2023-11-14T22:13:20Z
CANONICAL_ROW = {
    "post_id": "p1", "platform": "Instagram", "account_id": " acct-1 ", "campaign_id": "",
    "posted_at": "2025-01-02T10:00:00Z", "content_type": "photo", "caption": "hi #sun @bob",
    "hashtags_count": 1, "mentions_count": 1, "followers_at_post_time": 1000, "likes": 10,
    "comments": 2, "shares": 1, "saves": None, "source": "demo",
}


def write(path: Path, content: bytes | str) -> Path:
    """Write ``content`` to ``path`` with modification time :data:`MTIME`."""
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    os.utime(path, (MTIME, MTIME))
    return path


def assert_canonical(result: Any) -> None:
    """Every record is counted once and the posts have exactly the canonical columns/dtypes."""
    assert result.records_read == len(result.posts) + len(result.rejects)
    expected = schema.empty_posts()
    assert list(result.posts.columns) == list(expected.columns)
    assert result.posts.dtypes.astype(str).tolist() == expected.dtypes.astype(str).tolist()


@pytest.fixture(name="mtime", scope="session")
def mtime_fixture() -> int:
    return MTIME


@pytest.fixture(name="canonical_row")
def canonical_row_fixture() -> dict[str, Any]:
    return dict(CANONICAL_ROW)


@pytest.fixture(name="write", scope="session")
def write_fixture() -> Callable[[Path, bytes | str], Path]:
    return write


@pytest.fixture(name="assert_canonical", scope="session")
def assert_canonical_fixture() -> Callable[[Any], None]:
    return assert_canonical
