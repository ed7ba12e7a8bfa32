"""The raw layer: partitioned, append-only, content-addressed, latest counts win."""

from __future__ import annotations

import datetime as dt
import hashlib
import os

import pandas as pd
import pytest

from pipelines import schema
from pipelines.collect.raw_store import (
    append_raw,
    append_raw_rejects,
    raw_files,
    read_latest_posts,
)


def posts(rows: list[tuple[str, str, int, str]], platform: str = "twitter") -> pd.DataFrame:
    """Canonical posts from (post_id, posted_at, likes, collected_at) tuples."""
    frame = pd.DataFrame({
        "post_id": [r[0] for r in rows], "platform": platform, "account_id": "acc",
        "posted_at": [r[1] for r in rows], "content_type": "text", "caption": "hi",
        "hashtags_count": 0, "mentions_count": 0, "followers_at_post_time": 100,
        "likes": [r[2] for r in rows], "comments": 1, "shares": 0,
        "collected_at": [r[3] for r in rows], "source": "x_api_v2",
    })
    return schema.conform(frame)


def fingerprint(paths) -> dict:
    return {p: (os.stat(p).st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest())
            for p in paths}


def test_layout_is_source_and_run_date_partitioned(tmp_path):
    path = append_raw(tmp_path, posts([("1", "2026-06-01T10:00Z", 5, "2026-06-02T00:00Z")]),
                      "x_api_v2", dt.date(2026, 6, 2))
    assert path.relative_to(tmp_path).parts[:3] == ("01_raw", "source=x_api_v2",
                                                    "date=2026-06-02")
    assert path.name.startswith("part-") and path.suffix == ".parquet"
    assert not (path.stat().st_mode & 0o222)
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp files left


def test_same_batch_twice_writes_one_file_and_never_touches_it(tmp_path):
    batch = posts([("1", "2026-06-01T10:00Z", 5, "2026-06-02T00:00Z"),
                   ("2", "2026-06-01T11:00Z", 8, "2026-06-02T00:00Z")])
    first = append_raw(tmp_path, batch, "x_api_v2", "2026-06-02")
    before = fingerprint([first])
    shuffled = batch.iloc[::-1].reset_index(drop=True)  # row order must not matter
    again = append_raw(tmp_path, shuffled, "x_api_v2", "2026-06-02")
    assert again == first and raw_files(tmp_path) == [first]
    assert fingerprint([first]) == before


def test_new_batches_add_files_and_old_files_stay_unchanged(tmp_path):
    one = append_raw(tmp_path, posts([("1", "2026-06-01T10:00Z", 5, "2026-06-02T00:00Z")]),
                     "x_api_v2", "2026-06-02")
    before = fingerprint([one])
    two = append_raw(tmp_path, posts([("1", "2026-06-01T10:00Z", 9, "2026-06-03T00:00Z")]),
                     "x_api_v2", "2026-06-02")
    three = append_raw(tmp_path, posts([("1", "2026-06-01T10:00Z", 9, "2026-06-03T00:00Z")]),
                       "x_api_v2", "2026-06-03")
    assert len({one, two, three}) == 3 and len(raw_files(tmp_path)) == 3
    assert fingerprint([one]) == before


def test_read_latest_keeps_the_last_collected_counts(tmp_path):
    append_raw(tmp_path, posts([("1", "2026-06-01T10:00Z", 5, "2026-06-02T00:00Z"),
                                ("2", "2026-06-01T12:00Z", 3, "2026-06-02T00:00Z")]),
               "x_api_v2", "2026-06-02")
    append_raw(tmp_path, posts([("1", "2026-06-01T10:00Z", 40, "2026-06-04T00:00Z")]),
               "x_api_v2", "2026-06-04")
    # an older reading that lands later (a backfill) must not win over newer counts
    append_raw(tmp_path, posts([("1", "2026-06-01T10:00Z", 20, "2026-06-03T00:00Z")]),
               "x_api_v2", "2026-06-05")
    # same post id on another platform is another post
    append_raw(tmp_path, posts([("1", "2026-06-01T09:00Z", 7, "2026-06-02T00:00Z")],
                               platform="instagram"), "instagram_graph_api", "2026-06-02")

    latest = read_latest_posts(tmp_path)
    assert list(latest.columns) == list(schema.COLUMN_NAMES)
    assert latest[["platform", "post_id", "likes"]].values.tolist() == [
        ["instagram", "1", 7], ["twitter", "1", 40], ["twitter", "2", 3]]
    assert latest.dtypes.equals(schema.empty_posts().dtypes)

    only_x = read_latest_posts(tmp_path, sources=["x_api_v2"])
    assert set(only_x["platform"]) == {"twitter"} and len(only_x) == 2


def test_reading_an_empty_root_gives_an_empty_canonical_frame(tmp_path):
    frame = read_latest_posts(tmp_path, sources=["x_api_v2"])
    assert frame.empty and list(frame.columns) == list(schema.COLUMN_NAMES)


def test_rejects_are_kept_apart_and_idempotent(tmp_path):
    rejects = schema.quarantine_frame([{"stage": "collect", "source_file": "http://h/p",
                                        "source_row": 1, "post_id": "x", "rule": "r"}])
    path = append_raw_rejects(tmp_path, rejects, "x_api_v2", "2026-06-02")
    assert path is not None and "_quarantine" in path.parts
    assert append_raw_rejects(tmp_path, rejects, "x_api_v2", "2026-06-02") == path
    assert append_raw_rejects(tmp_path, schema.quarantine_frame([]), "x_api_v2",
                              "2026-06-02") is None
    assert raw_files(tmp_path) == []  # quarantine is not read as posts


@pytest.mark.parametrize(("source", "run_date", "match"), [
    ("../evil", "2026-06-02", "'source' must match"),
    ("x_api_v2", "2026-13-01", "'run_date' must be a date"),
    ("x_api_v2", "yesterday", "'run_date' must be a date.*'yesterday'"),
])
def test_bad_partition_arguments_raise(tmp_path, source, run_date, match):
    with pytest.raises(ValueError, match=match):
        append_raw(tmp_path, posts([("1", "2026-06-01T10:00Z", 5, "2026-06-02T00:00Z")]),
                   source, run_date)


def test_posts_missing_required_columns_are_refused(tmp_path):
    with pytest.raises(ValueError, match="required canonical column"):
        append_raw(tmp_path, pd.DataFrame({"post_id": ["1"]}), "x_api_v2", "2026-06-02")
