"""``canonical``: every container reads alike; given collected_at and extra are kept."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipelines.collect.formats import read_posts
from pipelines.validate.expectations import load_suite
from pipelines.validate.stage import validate_posts

PROJECT_ROOT = Path(__file__).resolve().parents[4]


@pytest.mark.parametrize("container", ["csv", "json", "jsonl", "parquet", "csv.gz", "jsonl.gz"])
def test_canonical_reads_every_container_alike(container: str, tmp_path: Path, write,
                                               assert_canonical, canonical_row, mtime) -> None:
    frame = pd.DataFrame([canonical_row, {**canonical_row, "post_id": "p2", "likes": 11}])
    path = tmp_path / f"posts.{container}"
    base = container.removesuffix(".gz")
    if base == "csv":
        data = frame.to_csv(index=False).encode()
    elif base == "json":
        data = frame.to_json(orient="records").encode()
    elif base == "jsonl":
        data = frame.to_json(orient="records", lines=True).encode()
    else:
        pq.write_table(pa.Table.from_pandas(frame.astype({"saves": "float64"})), path)
        data = path.read_bytes()
    write(path, gzip.compress(data) if container.endswith(".gz") else data)

    result = read_posts(path, "canonical")

    assert_canonical(result)
    assert len(result.rejects) == 0
    first = result.posts.iloc[0]
    assert (first["platform"], first["content_type"], first["account_id"]) == (
        "instagram", "image", "acct-1")
    assert result.posts["likes"].tolist() == [10, 11]
    assert pd.isna(first["saves"]) and pd.isna(first["campaign_id"])
    assert first["source"] == "canonical"
    assert json.loads(first["extra"]) == {"source": "demo"}
    assert first["collected_at"] == pd.Timestamp(mtime, unit="s", tz="UTC")


def test_canonical_keeps_given_collected_at_and_merges_extra(tmp_path: Path, write,
                                                             canonical_row) -> None:
    row = {**canonical_row, "collected_at": "2025-02-01T00:00:00Z",
           "extra": json.dumps({"a": 1}), "region": "EU"}
    path = write(tmp_path / "p.json", json.dumps({"posts": [row]}))

    post = read_posts(path, "canonical").posts.iloc[0]

    assert post["collected_at"] == pd.Timestamp("2025-02-01T00:00:00Z")
    assert json.loads(post["extra"]) == {"a": 1, "region": "EU", "source": "demo"}


@pytest.mark.parametrize("container", ["csv", "parquet"])
def test_post_kind_round_trips_and_an_unknown_kind_is_quarantined(
        container: str, tmp_path: Path, canonical_row) -> None:
    kinds = ["original", "reply", "quote", "share", None, "retweet"]
    frame = pd.DataFrame([{**canonical_row, "post_id": f"p{n}", "post_kind": kind}
                          for n, kind in enumerate(kinds)])
    path = tmp_path / f"posts.{container}"
    if container == "csv":
        frame.to_csv(path, index=False)
    else:
        frame.astype({"saves": "float64"}).to_parquet(path)

    read = read_posts(path, "canonical")
    accepted, quarantined, failures = validate_posts(
        read.posts, load_suite(PROJECT_ROOT / "expectations/posts_row_contract.json"),
        load_suite(PROJECT_ROOT / "expectations/posts_table_contract.json"),
        as_of=pd.Timestamp("2026-11-01", tz="UTC"), min_rows=1, source_file=str(path))

    assert failures == [] and read.rejects.empty
    assert read.posts["post_kind"].tolist()[:4] == kinds[:4]
    assert pd.isna(read.posts["post_kind"].iloc[4])
    assert accepted["post_id"].tolist() == ["p0", "p1", "p2", "p3", "p4"]
    reject = quarantined.iloc[0]
    assert len(quarantined) == 1 and reject["post_id"] == "p5"
    assert (reject["rule"], reject["column"], reject["value"]) == (
        "expect_column_values_to_be_in_set", "post_kind", "retweet")
