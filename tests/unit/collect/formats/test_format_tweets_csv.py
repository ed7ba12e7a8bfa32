"""``tweets_csv``: field mapping of the tweets_2022 layout."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines import schema
from pipelines.collect.formats import read_posts
from pipelines.validate.expectations import load_suite
from pipelines.validate.stage import validate_posts

TWEETS_HEADER = (
    "tweet_id,username,author_id,created_at,text,like_count,retweet_count,reply_count,"
    "quote_count,has_media,n_media,media_types,video_view_count,n_hashtags,n_mentions,n_urls,"
    "referenced,author_followers,author_following,author_tweet_count,author_listed,"
    "snapshot_commit_date,age_days_at_snapshot,n_snapshots_observed\n"
)


def test_tweets_csv_mapping(tmp_path: Path, write, assert_canonical) -> None:
    rows = (
        '1365981465675259904,BBC,5402612,2021-02-28 11:05:34+00:00,"Two\nlines",1873,451,198,'
        "190,False,0,,,0,0,1,,49633344,3,37904,146493,2022-03-30 22:27:02+00:00,395.473,1\n"
        "2,BBC,5402612,2021-03-01 11:05:34+00:00,pics,5,1,0,0,True,2,photo,,1,0,0,quoted,"
        "49633344,3,37904,146493,2022-03-30 22:27:02+00:00,394.1,2\n"
        "3,BBC,5402612,2021-03-02 11:05:34+00:00,clip,5,1,0,0,True,1,video,1000.0,0,0,0,,"
        "49633344,3,37904,146493,2022-03-30 22:27:02+00:00,393.2,2\n"
    )
    path = write(tmp_path / "tweets.csv", TWEETS_HEADER + rows)

    result = read_posts(path, "tweets_csv")

    assert_canonical(result)
    posts = result.posts
    assert posts["post_id"].tolist() == ["1365981465675259904", "2", "3"]
    assert posts["content_type"].tolist() == ["text", "carousel", "video"]
    assert posts["caption"].iloc[0] == "Two\nlines"
    first = posts.iloc[0]
    assert first[["account_id", "likes", "comments", "shares", "followers_at_post_time",
                  "urls_count", "media_count"]].tolist() == [
        "5402612", 1873, 198, 641, 49633344, 1, 0]
    assert first["collected_at"] == pd.Timestamp("2022-03-30 22:27:02+00:00")
    extra = json.loads(first["extra"])
    assert extra["followers_measured"] == "at_collection"
    assert extra["age_days_at_snapshot"] == 395.473 and extra["username"] == "BBC"
    assert (extra["retweet_count"], extra["quote_count"]) == (451, 190)


PROJECT_ROOT = Path(__file__).resolve().parents[4]
ROW_SUITE = load_suite(PROJECT_ROOT / "expectations/posts_row_contract.json")
TABLE_SUITE = load_suite(PROJECT_ROOT / "expectations/posts_table_contract.json")
AS_OF = pd.Timestamp("2026-11-01", tz="UTC")


def _tweets(referenced: list[str], header: str = TWEETS_HEADER) -> str:
    """One tweet row per ``referenced`` value (CSV-quoted), otherwise alike."""
    rows = []
    for n, value in enumerate(referenced, start=1):
        quoted = '"' + value.replace('"', '""') + '"'
        rows.append(f"{n},BBC,5402612,2021-03-0{1 + n % 9} 11:05:34+00:00,hi,5,1,0,0,False,0,,,"
                    f"0,0,0,{quoted},49633344,3,37904,146493,2022-03-30 22:27:02+00:00,1,1\n")
    return header + "".join(rows)


def _validate(posts: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    accepted, quarantined, failures = validate_posts(
        posts, ROW_SUITE, TABLE_SUITE, as_of=AS_OF, min_rows=1, source_file="tweets.csv")
    assert failures == []
    return accepted, quarantined


def test_referenced_maps_to_post_kind_and_stays_in_extra(tmp_path: Path, write) -> None:
    values = ["", "replied_to", "quoted", "quoted,replied_to", "retweeted", " quoted "]
    path = write(tmp_path / "tweets.csv", _tweets(values))

    posts = read_posts(path, "tweets_csv").posts

    assert posts["post_kind"].tolist() == ["original", "reply", "quote", "reply", "share",
                                           "quote"]
    assert [json.loads(e).get("referenced") for e in posts["extra"]] == [
        None, "replied_to", "quoted", "quoted,replied_to", "retweeted", " quoted "]


def test_unknown_referenced_word_is_quarantined_naming_post_kind_and_value(
        tmp_path: Path, write) -> None:
    path = write(tmp_path / "tweets.csv", _tweets(["quoted", "quoted,mentioned", "liked"]))

    read = read_posts(path, "tweets_csv")
    accepted, quarantined = _validate(read.posts)

    assert read.rejects.empty and read.records_read == 3
    assert accepted["post_id"].tolist() == ["1"]
    assert len(accepted) + len(quarantined) == read.records_read
    assert quarantined["post_id"].tolist() == ["2", "3"]
    assert quarantined["rule"].unique().tolist() == ["expect_column_values_to_be_in_set"]
    assert quarantined["column"].unique().tolist() == ["post_kind"]
    assert quarantined["value"].tolist() == ["quoted,mentioned", "liked"]


def test_file_without_referenced_leaves_post_kind_null(tmp_path: Path, write) -> None:
    header = TWEETS_HEADER.replace("n_urls,referenced,", "n_urls,")
    body = _tweets(["x"], header).replace(',"x",', ",")
    path = write(tmp_path / "tweets.csv", body)

    posts = read_posts(path, "tweets_csv").posts

    assert len(posts) == 1 and pd.isna(posts["post_kind"].iloc[0])
    assert "referenced" not in json.loads(posts["extra"].iloc[0])


_WORDS = st.sampled_from(["quoted", "replied_to", "retweeted", "", " ", "mentioned",
                          "Quoted", "reply", "share", "NaN", "replied to"])
_REFERENCED = st.one_of(
    st.lists(_WORDS, max_size=3).map(",".join),
    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
            max_size=12),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values=st.lists(_REFERENCED, min_size=1, max_size=6))
def test_any_referenced_value_is_a_post_kind_or_quarantined_on_post_kind(values) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "tweets.csv"
        path.write_bytes(_tweets(values).encode("utf-8"))
        read = read_posts(path, "tweets_csv")
    assert read.rejects.empty and read.records_read == len(values)
    accepted, quarantined = _validate(read.posts)

    assert len(accepted) + len(quarantined) == len(values)
    assert set(accepted["post_kind"]) <= set(schema.POST_KINDS)
    assert set(quarantined["column"]) <= {"post_kind"}
    for value, kind in zip(values, read.posts["post_kind"], strict=True):
        tokens = {t.strip() for t in value.split(",")} - {""}
        if not tokens:
            assert kind == "original"
        elif tokens <= {"quoted", "replied_to", "retweeted"}:
            assert kind == ("reply" if "replied_to" in tokens else
                            "share" if "retweeted" in tokens else "quote")
        else:
            assert kind == value  # passed on unchanged: the contract judges it
