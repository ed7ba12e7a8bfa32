"""X API v2 user-tweets collector against documented response shapes on a local server."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from pipelines.collect.api import ApiAuthError, ApiRequestError, HttpSettings, fetch_x_posts

FAST = HttpSettings(read_timeout_s=2.0, max_retries=2, backoff_base_s=0.001,
                    backoff_max_s=0.001, rate_limit_margin_s=0.0)
NOW = pd.Timestamp("2026-07-01T00:00:00Z")
USER = "2244994945"


def tweet(n, when, likes=50, text="Hello #ai @devs https://t.co/x", media_keys=None, **more):
    record = {
        "id": str(n), "text": text, "created_at": when, "author_id": USER,
        "edit_history_tweet_ids": [str(n)],
        "public_metrics": {"retweet_count": 4, "reply_count": 3, "like_count": likes,
                           "quote_count": 1, "bookmark_count": 2, "impression_count": 900},
        "entities": {"hashtags": [{"start": 6, "end": 9, "tag": "ai"}],
                     "mentions": [{"start": 10, "end": 15, "username": "devs"}],
                     "urls": [{"start": 16, "end": 39, "url": "https://t.co/x",
                               "expanded_url": "https://example.com"}]},
    }
    if media_keys:
        record["attachments"] = {"media_keys": media_keys}
    record.update(more)
    return record


def page(tweets, next_token=None, media=()):
    body = {"data": tweets,
            "includes": {"users": [{"id": USER, "name": "X Dev", "username": "XDevelopers",
                                    "public_metrics": {"followers_count": 70000,
                                                       "following_count": 10}}],
                         "media": list(media)},
            "meta": {"result_count": len(tweets), "newest_id": "9", "oldest_id": "1"}}
    if next_token:
        body["meta"]["next_token"] = next_token
    return body


def fetch(fake_api, token, sleeps, **kwargs):
    return fetch_x_posts(token=token, base_url=fake_api.base_url, account_id=USER,
                         collected_at=NOW, settings=FAST, sleep=sleeps.append, page_size=5,
                         **kwargs)


PATH = f"/2/users/{USER}/tweets"


def test_paginates_with_next_token_and_maps(fake_api, token, sleeps):
    fake_api.route(PATH,
                   page([tweet(9, "2026-06-30T12:00:00.000Z", media_keys=["3_1", "3_2"]),
                         tweet(8, "2026-06-29T12:00:00.000Z", media_keys=["7_1"])],
                        next_token="7140dibdnow9c7btw3w29",
                        media=[{"media_key": "3_1", "type": "photo"},
                               {"media_key": "3_2", "type": "photo"},
                               {"media_key": "7_1", "type": "video"}]),
                   page([tweet(7, "2026-06-28T12:00:00.000Z", text="plain words", entities={})]))
    result = fetch(fake_api, token, sleeps)

    pages = fake_api.requests_to(PATH)
    assert len(pages) == 2 and "pagination_token" not in pages[0].query
    assert pages[1].query["pagination_token"] == "7140dibdnow9c7btw3w29"
    first = pages[0]
    assert first.headers["Authorization"] == f"Bearer {token}"
    assert first.query["tweet.fields"] == \
        "created_at,public_metrics,entities,attachments,referenced_tweets"
    assert first.query["expansions"] == "author_id,attachments.media_keys"
    assert first.query["user.fields"] == "public_metrics" and first.query["max_results"] == "5"
    assert "start_time" not in first.query

    posts = result.posts.set_index("post_id")
    assert result.records_read == 3 and result.rejects.empty
    nine = posts.loc["9"]
    assert (nine["platform"], nine["account_id"]) == ("twitter", USER)
    assert (nine["likes"], nine["comments"], nine["shares"], nine["saves"],
            nine["impressions"]) == (50, 3, 4, 2, 900)
    assert (nine["content_type"], nine["media_count"]) == ("image", 2)
    assert (nine["hashtags_count"], nine["mentions_count"], nine["urls_count"]) == (1, 1, 1)
    assert nine["followers_at_post_time"] == 70000
    assert json.loads(nine["extra"]) == {"quote_count": 1}
    assert set(posts["post_kind"]) == {"original"}
    assert posts.loc["8", "content_type"] == "video"
    assert (posts.loc["7", "content_type"], posts.loc["7", "hashtags_count"]) == ("text", 0)
    assert set(posts["source"]) == {"x_api_v2"}


def test_referenced_tweets_give_the_post_kind(fake_api, token, sleeps):
    refs = {"2": [{"type": "replied_to", "id": "1"}], "3": [{"type": "quoted", "id": "1"}],
            "4": [{"type": "retweeted", "id": "1"}],
            "5": [{"type": "quoted", "id": "1"}, {"type": "replied_to", "id": "2"}],
            "6": [{"type": "mentioned", "id": "1"}]}
    fake_api.route(PATH, page(
        [tweet(1, "2026-06-30T12:00:00.000Z")]
        + [tweet(n, "2026-06-30T12:00:00.000Z", referenced_tweets=r) for n, r in refs.items()]))
    result = fetch(fake_api, token, sleeps)

    assert result.rejects.empty and result.records_read == 6
    posts = result.posts.set_index("post_id")
    # "1" has no referenced_tweets: the API leaves the field out of an original tweet
    assert posts["post_kind"].to_dict() == {"1": "original", "2": "reply", "3": "quote",
                                            "4": "share", "5": "reply", "6": "mentioned"}
    assert json.loads(posts.loc["5", "extra"])["referenced_tweets"] == refs["5"]
    assert "referenced_tweets" not in json.loads(posts.loc["1", "extra"])


def test_since_is_sent_as_start_time(fake_api, token, sleeps):
    fake_api.route(PATH, {"meta": {"result_count": 0}})  # no 'data' key when empty
    result = fetch(fake_api, token, sleeps, since=pd.Timestamp("2026-06-01T08:30:00+02:00"))
    assert fake_api.requests_to(PATH)[0].query["start_time"] == "2026-06-01T06:30:00Z"
    assert result.posts.empty and result.records_read == 0


def test_429_waits_for_rate_limit_reset_then_succeeds(fake_api, token, sleeps):
    import time

    reset = int(time.time()) + 2
    fake_api.route(PATH,
                   fake_api.step(429, {"title": "Too Many Requests", "status": 429},
                                 headers={"x-rate-limit-limit": "900",
                                          "x-rate-limit-remaining": "0",
                                          "x-rate-limit-reset": str(reset)}),
                   page([tweet(1, "2026-06-30T00:00:00.000Z")]))
    result = fetch(fake_api, token, sleeps)
    assert len(result.posts) == 1 and len(fake_api.requests_to(PATH)) == 2
    assert len(sleeps) == 1 and 0.5 <= sleeps[0] <= 2.1


def test_malformed_record_is_quarantined(fake_api, token, sleeps):
    broken = tweet(2, "2026-06-30T00:00:00.000Z")
    del broken["public_metrics"]
    fake_api.route(PATH, page([tweet(1, "2026-06-30T00:00:00.000Z"), broken]))
    result = fetch(fake_api, token, sleeps)
    assert list(result.posts["post_id"]) == ["1"] and result.records_read == 2
    reject = result.rejects.iloc[0]
    assert (reject["post_id"], reject["source_row"], reject["rule"]) == (
        "2", 2, "expect_field_present")
    assert {r["column"] for r in json.loads(reject["reasons"])} == {"likes", "comments",
                                                                     "shares"}
    assert reject["source_file"] == f"{fake_api.base_url}{PATH}"


def test_page_without_meta_is_a_response_error(fake_api, token, sleeps):
    from pipelines.collect.api import ApiResponseError

    fake_api.route(PATH, {"data": []})
    with pytest.raises(ApiResponseError, match=r"page 1 of GET .*/tweets must hold a 'meta'"):
        fetch(fake_api, token, sleeps)


def test_401_is_an_auth_error(fake_api, token, sleeps):
    fake_api.route(PATH, fake_api.step(401, {"title": "Unauthorized", "type": "about:blank",
                                             "status": 401, "detail": "Unauthorized"}))
    with pytest.raises(ApiAuthError, match="ENGAGEFLOW_X_BEARER_TOKEN") as info:
        fetch(fake_api, token, sleeps)
    assert token not in str(info.value) and len(fake_api.requests_to(PATH)) == 1


def test_persistent_503_fails_after_max_retries(fake_api, token, sleeps):
    fake_api.route(PATH, fake_api.step(503, {"title": "Service Unavailable"}))
    with pytest.raises(ApiRequestError, match=r"after 3 attempt\(s\).*HTTP 503"):
        fetch(fake_api, token, sleeps)
    assert len(fake_api.requests_to(PATH)) == 3
