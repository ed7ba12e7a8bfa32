"""Articles: the seeded demo generator and the Hacker News CSV reader (every record read
is an article or a reject naming file, row, column, rule and value)."""

import json

import numpy as np
import pandas as pd
import pytest

from pipelines.collect.formats import ReadLimits
from pipelines.tasks.articles_data import (
    COLUMNS,
    QUARANTINE_COLUMNS,
    generate_articles,
    read_hacker_news_csv,
)

LIMITS = ReadLimits.defaults()

HEADER = "id,title,url,num_points,num_comments,author,created_at\n"


def test_demo_articles_are_seeded_canonical_time_ordered_and_heavy_tailed():
    first, again = generate_articles(800, 50, 3), generate_articles(800, 50, 3)
    pd.testing.assert_frame_equal(first, again)
    assert not generate_articles(800, 50, 4)["points"].equals(first["points"])
    assert list(first.columns) == list(COLUMNS)
    assert first["created_at"].is_monotonic_increasing and first["article_id"].is_unique
    assert (first["points"] >= 1).all() and (first["comments"] >= 0).all()
    # heavy tail: the top 5 % of articles hold a large share of all points
    top = first["points"].nlargest(40).sum() / first["points"].sum()
    assert top > 0.2
    assert first["url"].isna().mean() == pytest.approx(0.12, abs=0.05)


@pytest.mark.parametrize(("rows", "authors", "seed", "name"), [
    (0, 5, 1, "rows"), (10, 0, 1, "authors"), (10, 5, -1, "seed"), (True, 5, 1, "rows")])
def test_demo_generator_refuses_bad_arguments(rows, authors, seed, name):
    with pytest.raises(ValueError, match=f"generate_articles: '{name}' must be an int"):
        generate_articles(rows, authors, seed)


def test_reader_keeps_good_records_and_rejects_each_unreadable_one(tmp_path):
    path = tmp_path / "hn.csv"
    path.write_bytes((HEADER
                      + "1,Good one,https://a.com/x,10,2,alice,5/28/2016 19:51\n"
                      + "2,Text post,,3,0,bob,5/28/2016 20:00\n"
                      + "3,Bad points,https://b.com,ten,2,carol,5/28/2016 20:01\n"
                      + "4,Bad time,https://b.com,1,2,carol,2016-05-28T20:01\n"
                      + "5,,https://b.com,1,2,dave,5/28/2016 20:02\n"
                      + "6,Short,https://b.com,1,2\n").encode()
                     + b"7,Caf\xe9,https://b.com,1,2,erin,5/28/2016 20:03\n")
    result = read_hacker_news_csv(path, limits=LIMITS)
    assert result.records_read == 7 == len(result.articles) + len(result.rejects)
    assert result.articles["article_id"].tolist() == ["1", "2"]
    assert result.articles.loc[1, "url"] is None
    assert result.articles["created_at"].iloc[0] == pd.Timestamp("2016-05-28 19:51", tz="UTC")
    assert list(result.rejects.columns) == list(QUARANTINE_COLUMNS)
    rules = dict(zip(result.rejects["source_row"], zip(result.rejects["rule"],
                                                        result.rejects["column"],
                                                        strict=True), strict=True))
    assert rules == {3: ("parse_int", "num_points"), 4: ("parse_datetime", "created_at"),
                     5: ("required_value", "title"), 6: ("field_count", ""),
                     7: ("decode_utf8", "title")}
    assert set(result.rejects["source_file"]) == {str(path)}
    assert json.loads(result.rejects.iloc[0]["record"])["num_points"] == "ten"
    assert "\\xe9" in result.rejects.iloc[-1]["value"]


def test_reader_names_a_missing_column_and_an_empty_file(tmp_path):
    path = tmp_path / "hn.csv"
    path.write_text("id,title,url\n1,a,b\n")
    with pytest.raises(ValueError,
                       match=r"lacks column\(s\) \['author', 'created_at', 'num_points'"):
        read_hacker_news_csv(path, limits=LIMITS)
    path.write_text("")
    with pytest.raises(ValueError, match="is empty"):
        read_hacker_news_csv(path, limits=LIMITS)


@pytest.mark.shared_data
def test_the_real_hacker_news_file_reads_whole(shared_data_dir):
    result = read_hacker_news_csv(shared_data_dir / "articles/hacker_news/hacker_news.csv",
                                  limits=LIMITS)
    assert result.records_read == len(result.articles) + len(result.rejects) == 16_967
    assert len(result.rejects) == 0
    assert result.articles["created_at"].min() >= pd.Timestamp("2015-09-01", tz="UTC")
    assert np.log1p(result.articles["points"]).std() > 1.0   # heavy-tailed
