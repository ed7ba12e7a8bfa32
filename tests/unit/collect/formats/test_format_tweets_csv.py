"""``tweets_csv``: field mapping of the tweets_2022 layout."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from pipelines.collect.formats import read_posts

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
