"""News articles (task news_shares): the demo generator, the UCI CSV reader, the news
contract on good and broken rows, and the stateless featurizer."""

import json

import numpy as np
import pandas as pd
import pytest

from pipelines.collect.formats import ReadLimits
from pipelines.tasks.articles_data import quarantine_frame, validate_articles
from pipelines.tasks.news_data import COLUMNS, FEATURES, generate_news, read_online_news_csv
from pipelines.tasks.news_features import LOG_COLUMNS, news_features
from pipelines.validate.expectations import load_suite
from tests.unit.tasks.conftest import PROJECT_ROOT

LIMITS = ReadLimits.defaults()

GOOD = generate_news(40, seed=9)
AS_OF = pd.Timestamp("2026-12-01", tz="UTC")
#: Row -> (column, bad value, rule): the news contract's bad-input corpus.
BAD_CASES = {
    1: ("shares", -5, "expect_column_values_to_be_between"),
    2: ("LDA_02", 1.7, "expect_column_values_to_be_between"),
    3: ("data_channel_is_tech", 0.5, "expect_column_values_to_be_in_set"),
    4: ("global_sentiment_polarity", -2.0, "expect_column_values_to_be_between"),
    5: ("num_imgs", -1.0, "expect_column_values_to_be_between"),
    6: ("published_at", pd.Timestamp("2031-01-01", tz="UTC"),
        "expect_column_values_to_be_between"),
    7: ("n_tokens_title", np.nan, "expect_column_values_to_not_be_null"),
}


def test_demo_news_is_seeded_canonical_and_consistent():
    pd.testing.assert_frame_equal(GOOD, generate_news(40, seed=9))
    assert list(GOOD.columns) == list(COLUMNS) and GOOD["published_at"].is_monotonic_increasing
    channels = GOOD[[c for c in FEATURES if c.startswith("data_channel_is")]].sum(axis=1)
    assert channels.isin([0, 1]).all()
    assert np.allclose(GOOD[[f"LDA_0{i}" for i in range(5)]].sum(axis=1), 1)
    with pytest.raises(ValueError, match="generate_news: 'rows' must be an int >= 1"):
        generate_news(0, 1)


def test_the_contract_quarantines_each_bad_case_with_its_rule():
    broken = GOOD.copy()
    for row, (column, value, _) in BAD_CASES.items():
        broken.loc[row, column] = value
    outcome = validate_articles(
        broken, quarantine_frame([]),
        row_suite=load_suite(PROJECT_ROOT / "expectations/news_row_contract.json"),
        table_suite=load_suite(PROJECT_ROOT / "expectations/news_table_contract.json"),
        as_of=AS_OF, min_rows=1, max_quarantine_rate=1.0, source="test")
    assert len(outcome.accepted) + len(outcome.quarantined) == len(GOOD)
    quarantined = outcome.quarantined.set_index("source_row")
    assert sorted(quarantined.index) == sorted(r + 1 for r in BAD_CASES)
    for row, (column, _, rule) in BAD_CASES.items():
        reasons = json.loads(quarantined.loc[row + 1, "reasons"])
        assert {"rule": rule, "column": column} in [
            {"rule": r["rule"], "column": r["column"]} for r in reasons], (row, reasons)
    assert not outcome.failures


def test_reader_strips_header_spaces_dates_articles_and_rejects_bad_records(tmp_path):
    header = ", ".join(["url", "timedelta", *FEATURES, "shares"])
    values = ", ".join(["1"] * len(FEATURES))
    path = tmp_path / "news.csv"
    path.write_text(header + "\n"
                    + f"http://mashable.com/2013/01/07/a/, 731.0, {values}, 593\n"
                    + f"http://mashable.com/no-date/, 731.0, {values}, 10\n"
                    + f"http://mashable.com/2013/01/08/b/, 730.0, {values}, many\n"
                    + "http://mashable.com/2013/01/08/c/, 730.0\n")
    result = read_online_news_csv(path, limits=LIMITS)
    assert result.records_read == 4 == len(result.articles) + len(result.rejects)
    assert result.articles["published_at"].tolist() == [pd.Timestamp("2013-01-07", tz="UTC")]
    assert result.articles["shares"].tolist() == [593]
    assert list(zip(result.rejects["source_row"], result.rejects["rule"],
                    result.rejects["column"], strict=True)) == [
        (2, "parse_date", "url"), (3, "parse_int", "shares"), (4, "field_count", "")]


def test_features_log_the_heavy_columns_and_refuse_missing_values():
    out = news_features(GOOD)
    assert len(out.columns) == len(FEATURES)
    for column in LOG_COLUMNS:
        assert np.allclose(out[f"f_log_{column}"],
                           np.sign(GOOD[column]) * np.log1p(GOOD[column].abs()))
    with pytest.raises(ValueError, match="column 'num_imgs' needs finite numbers; 1 row"):
        news_features(GOOD.assign(num_imgs=[np.nan] + [1.0] * 39))


@pytest.mark.shared_data
def test_the_real_file_reads_whole_and_passes_the_contract(shared_data_dir):
    result = read_online_news_csv(shared_data_dir / "articles/online_news/OnlineNewsPopularity.csv",
                                  limits=LIMITS)
    assert result.records_read == len(result.articles) == 9_874 and result.rejects.empty
    assert result.articles["published_at"].is_monotonic_increasing
