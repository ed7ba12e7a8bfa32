"""Samples of the real files in ../shared/data through the connectors and the contracts."""

import pandas as pd
import pytest

from pipelines.collect.formats import read_posts
from pipelines.config import ValidateConfig
from pipelines.validate.expectations import load_suite
from pipelines.validate.stage import validate_dataset

pytestmark = pytest.mark.shared_data

FILES = {
    "tweets_csv": "tweets_2022/tweets.csv",
    "instagram_scrape_csv": "instagram_2017/instagram_posts.csv",
    "facebook_uci": "facebook_uci/dataset_Facebook.csv",
}


@pytest.mark.parametrize("fmt", sorted(FILES))
def test_real_sample_validates_with_every_row_accounted_for(fmt, shared_data_dir, tmp_path,
                                                            project_root):
    source = shared_data_dir / FILES[fmt]
    sample = tmp_path / source.name
    separator = ";" if fmt == "facebook_uci" else ","
    pd.read_csv(source, sep=separator, nrows=1500).to_csv(sample, sep=separator, index=False)
    read = read_posts(sample, fmt)
    outcome = validate_dataset(
        read.posts, read.rejects,
        row_suite=load_suite(project_root / "expectations/posts_row_contract.json"),
        table_suite=load_suite(project_root / "expectations/posts_table_contract.json"),
        as_of=pd.Timestamp("2026-11-22", tz="UTC"),
        rules=ValidateConfig(min_rows=100, max_quarantine_rate=0.05),
        source=str(sample),
    )
    summary = outcome.summary
    assert summary.rows_in == read.records_read
    assert summary.rows_accepted + summary.rows_quarantined == summary.rows_in
    assert summary.rows_accepted >= 0.95 * summary.rows_in
    assert outcome.failures == []
    assert len(summary.platform_mix) == 1
