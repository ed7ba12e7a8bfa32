"""Real-data samples (``../shared/data``, skipped where absent) parse in their formats."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from pipelines import schema
from pipelines.collect.formats import read_posts

SAMPLE_ROWS = 2000


@pytest.mark.shared_data
@pytest.mark.parametrize(("relative", "fmt", "platform", "sep"), [
    ("tweets_2022/tweets.csv", "tweets_csv", "twitter", ","),
    ("instagram_2017/instagram_posts.csv", "instagram_scrape_csv", "instagram", ","),
    ("facebook_uci/dataset_Facebook.csv", "facebook_uci", "facebook", ";"),
])
def test_real_data_samples_parse(shared_data_dir: Path, tmp_path: Path, assert_canonical,
                                 relative: str, fmt: str, platform: str, sep: str) -> None:
    # pandas, not `head`: the Instagram captions contain quoted newlines.
    sample = pd.read_csv(shared_data_dir / relative, sep=sep, dtype=str, keep_default_na=False,
                         nrows=SAMPLE_ROWS)
    path = tmp_path / Path(relative).name
    sample.to_csv(path, sep=sep, index=False)

    result = read_posts(path, fmt)

    assert_canonical(result)
    assert result.records_read == len(sample)
    assert len(result.posts) > 0.95 * len(sample)
    assert set(result.posts["platform"]) == {platform}
    assert set(result.posts["content_type"]) <= set(schema.CONTENT_TYPES)
    assert result.posts["likes"].notna().all()
    assert result.posts["posted_at"].notna().all()
