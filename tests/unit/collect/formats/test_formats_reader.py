"""Reading a folder: supported files in name order, one error listing every bad file."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pandas as pd
import pytest

from pipelines.collect.formats import CollectError, read_posts


def test_folder_reads_supported_files_sorted_and_skips_others(
        tmp_path: Path, write, assert_canonical, canonical_row) -> None:
    write(tmp_path / "b.jsonl", json.dumps({**canonical_row, "post_id": "from-jsonl"}) + "\n")
    write(tmp_path / "a.csv", pd.DataFrame([canonical_row]).to_csv(index=False))
    write(tmp_path / "c.json.gz", gzip.compress(json.dumps(
        [{**canonical_row, "post_id": "from-gz", "likes": "x"}]).encode()))
    write(tmp_path / "README.md", "not data")
    write(tmp_path / ".hidden.csv", "junk")

    result = read_posts(tmp_path, "canonical")

    assert_canonical(result)
    assert result.records_read == 3
    assert result.posts["post_id"].tolist() == ["p1", "from-jsonl"]
    assert result.rejects["source_file"].tolist() == [str(tmp_path / "c.json.gz")]


def test_folder_with_bad_files_raises_once_listing_each(tmp_path: Path, write,
                                                        canonical_row) -> None:
    write(tmp_path / "a.csv", pd.DataFrame([canonical_row]).to_csv(index=False))
    write(tmp_path / "b.csv", "")
    write(tmp_path / "c.json", "[oops")

    with pytest.raises(CollectError, match="2 of 3 file") as caught:
        read_posts(tmp_path, "canonical")

    message = str(caught.value)
    assert "b.csv" in message and "empty_file" in message
    assert "c.json" in message and "json_syntax" in message
