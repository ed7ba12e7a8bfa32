"""``twitter_v2``: field mapping of X API v2 response pages, tweets numbered across pages."""

from __future__ import annotations

import json
from pathlib import Path

from pipelines.collect.formats import read_posts


def _twitter_response(tweets: list[dict[str, object]], media: list[dict[str, str]]
                      ) -> dict[str, object]:
    return {
        "data": tweets,
        "includes": {"users": [{"id": "u1", "username": "alice",
                                "public_metrics": {"followers_count": 777}}],
                     "media": media},
        "meta": {"result_count": len(tweets)},
    }


def _tweet(tweet_id: str, keys: list[str], **changes: object) -> dict[str, object]:
    return {
        "id": tweet_id, "text": "Hello #a #b @c https://t.co/x", "author_id": "u1",
        "created_at": "2022-03-01T12:00:00.000Z", "lang": "en",
        "public_metrics": {"like_count": 10, "reply_count": 2, "retweet_count": 3,
                           "quote_count": 1, "impression_count": 500, "bookmark_count": 4},
        "entities": {"hashtags": [{"tag": "a"}, {"tag": "b"}], "mentions": [{"username": "c"}],
                     "urls": [{"url": "https://t.co/x"}]},
        **({"attachments": {"media_keys": keys}} if keys else {}),
        **changes,
    }


def test_twitter_v2_mapping_and_content_types(tmp_path: Path, write, assert_canonical) -> None:
    media = [{"media_key": "m1", "type": "photo"}, {"media_key": "m2", "type": "photo"},
             {"media_key": "m3", "type": "animated_gif"}]
    pages = [
        _twitter_response([_tweet("1", []), _tweet("2", ["m1"])], media),
        _twitter_response([_tweet("3", ["m1", "m2"]), _tweet("4", ["m3"])], media),
        {"meta": {"result_count": 0}},
    ]
    path = write(tmp_path / "tw.json", json.dumps(pages))

    result = read_posts(path, "twitter_v2")

    assert_canonical(result)
    posts = result.posts
    assert posts["post_id"].tolist() == ["1", "2", "3", "4"]
    assert posts["content_type"].tolist() == ["text", "image", "carousel", "video"]
    assert posts["media_count"].tolist() == [0, 1, 2, 1]
    first = posts.iloc[0]
    assert first[["platform", "account_id", "followers_at_post_time", "likes", "comments",
                  "shares", "impressions", "saves", "hashtags_count", "mentions_count",
                  "urls_count"]].tolist() == ["twitter", "u1", 777, 10, 2, 4, 500, 4, 2, 1, 1]
    extra = json.loads(first["extra"])
    assert extra["username"] == "alice" and extra["followers_measured"] == "at_collection"
    assert extra["public_metrics"] == {"retweet_count": 3, "quote_count": 1}
    assert extra["lang"] == "en"


def test_twitter_v2_jsonl_pages_number_tweets_across_pages(tmp_path: Path, write) -> None:
    pages = [_twitter_response([_tweet("1", [])], []),
             _twitter_response([_tweet("2", [], author_id="ghost")], [])]
    path = write(tmp_path / "tw.jsonl", "\n".join(json.dumps(p) for p in pages))

    result = read_posts(path, "twitter_v2")

    assert result.records_read == 2 and len(result.posts) == 1
    reject = result.rejects.iloc[0]
    assert (reject["source_row"], reject["post_id"], reject["rule"], reject["value"]) == (
        2, "2", "lookup_missing", "'ghost'")


def test_referenced_tweets_map_to_post_kind(tmp_path: Path, write) -> None:
    refs = {
        "2": [{"type": "replied_to", "id": "9"}],
        "3": [{"type": "quoted", "id": "9"}],
        "4": [{"type": "retweeted", "id": "9"}],
        "5": [{"type": "quoted", "id": "8"}, {"type": "replied_to", "id": "9"}],
        "6": [],
        "7": [{"type": "mentioned", "id": "9"}],
    }
    tweets = [_tweet("1", [])] + [_tweet(n, [], referenced_tweets=r) for n, r in refs.items()]
    path = write(tmp_path / "tw.json", json.dumps(_twitter_response(tweets, [])))

    posts = read_posts(path, "twitter_v2").posts.set_index("post_id")

    # "1" has no referenced_tweets: original, as the file shows the field was requested
    assert posts["post_kind"].to_dict() == {
        "1": "original", "2": "reply", "3": "quote", "4": "share", "5": "reply",
        "6": "original", "7": "mentioned"}
    assert json.loads(posts.loc["5", "extra"])["referenced_tweets"] == refs["5"]


def test_file_where_no_tweet_has_referenced_tweets_leaves_post_kind_null(
        tmp_path: Path, write) -> None:
    path = write(tmp_path / "tw.json",
                 json.dumps(_twitter_response([_tweet("1", []), _tweet("2", [])], [])))

    posts = read_posts(path, "twitter_v2").posts

    assert posts["post_kind"].isna().all()


def test_referenced_tweets_of_the_wrong_shape_reject_the_tweet(tmp_path: Path, write) -> None:
    tweets = [_tweet("1", [], referenced_tweets=[{"type": "quoted"}]),
              _tweet("2", [], referenced_tweets=["replied_to"])]
    path = write(tmp_path / "tw.json", json.dumps(_twitter_response(tweets, [])))

    result = read_posts(path, "twitter_v2")

    assert result.posts["post_kind"].tolist() == ["quote"]
    reject = result.rejects.iloc[0]
    assert (reject["source_row"], reject["rule"], reject["column"]) == (
        2, "json_shape", "referenced_tweets")
