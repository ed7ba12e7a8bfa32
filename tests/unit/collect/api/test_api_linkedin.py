"""LinkedIn Posts + socialActions collector against documented shapes on a local server."""

from __future__ import annotations

import json
import logging

import pandas as pd
import pytest

from pipelines.collect.api import ApiAuthError, HttpSettings, fetch_linkedin_posts

FAST = HttpSettings(read_timeout_s=2.0, max_retries=2, backoff_base_s=0.001,
                    backoff_max_s=0.001)
NOW = pd.Timestamp("2026-07-01T00:00:00Z")
ORG = "urn:li:organization:2414183"


def ms(text):
    return int(pd.Timestamp(text).value // 1_000_000)


def li_post(n, when, commentary="Hello", content=None, reshare_of=None):
    record = {"id": f"urn:li:share:{n}", "author": ORG, "commentary": commentary,
              "publishedAt": ms(when), "createdAt": ms(when) - 1000,
              "lifecycleState": "PUBLISHED", "visibility": "PUBLIC",
              "distribution": {"feedDistribution": "MAIN_FEED"}}
    if content is not None:
        record["content"] = content
    if reshare_of is not None:
        record["reshareContext"] = {"parent": reshare_of, "root": reshare_of}
    return record


def social(likes, comments):
    return {"likesSummary": {"totalLikes": likes, "likedByCurrentUser": False},
            "commentsSummary": {"aggregatedTotalComments": comments,
                                "totalFirstLevelComments": comments - 1},
            "target": "urn:li:share:x"}


def fetch(fake_api, token, sleeps, **kwargs):
    return fetch_linkedin_posts(token=token, base_url=fake_api.base_url, account_id=ORG,
                                collected_at=NOW, settings=FAST, sleep=sleeps.append,
                                page_size=2, linkedin_version="202506", **kwargs)


def script(fake_api):
    fake_api.route(f"/rest/networkSizes/{ORG}", {"firstDegreeSize": 8800})
    tagged = "Big news {hashtag|\\#|launch} with @[Acme](urn:li:organization:1) {hashtag|\\#|ai}"
    fake_api.route("/rest/posts",
                   {"elements": [li_post(1, "2026-06-29T09:00Z", tagged,
                                         {"multiImage": {"images": [{"id": "a"}, {"id": "b"}]}}),
                                 li_post(2, "2026-06-20T09:00Z", "Watch",
                                         {"media": {"id": "urn:li:video:C5"}})],
                    "paging": {"start": 0, "count": 2, "total": 3, "links": []}},
                   {"elements": [li_post(3, "2026-06-10T09:00Z", "Read",
                                         {"article": {"source": "https://ex.com/a"}})],
                    "paging": {"start": 2, "count": 2, "total": 3, "links": []}})
    for n, (likes, comments) in {1: (40, 5), 2: (30, 4), 3: (20, 3)}.items():
        fake_api.route(f"/rest/socialActions/urn:li:share:{n}", social(likes, comments))


def test_pages_by_start_count_sends_headers_and_maps(fake_api, token, sleeps):
    script(fake_api)
    result = fetch(fake_api, token, sleeps)

    pages = fake_api.requests_to("/rest/posts")
    assert [(p.query["start"], p.query["count"]) for p in pages] == [("0", "2"), ("2", "2")]
    assert pages[0].query["author"] == ORG and pages[0].query["q"] == "author"
    for seen in fake_api.seen:
        assert seen.headers["Authorization"] == f"Bearer {token}"
        assert seen.headers["LinkedIn-Version"] == "202506"
        assert seen.headers["X-Restli-Protocol-Version"] == "2.0.0"
        assert "access_token" not in seen.query
    assert fake_api.requests_to(f"/rest/networkSizes/{ORG}")[0].query["edgeType"] == \
        "COMPANY_FOLLOWED_BY_MEMBER"
    assert len(fake_api.requests_to("/rest/socialActions/urn:li:share:1")) == 1

    assert result.records_read == 3 and result.rejects.empty
    posts = result.posts.set_index("post_id")
    one = posts.loc["urn:li:share:1"]
    assert one["posted_at"] == pd.Timestamp("2026-06-29T09:00Z")
    assert (one["likes"], one["comments"]) == (40, 5) and pd.isna(one["shares"])
    assert (one["content_type"], one["media_count"]) == ("carousel", 2)
    assert (one["hashtags_count"], one["mentions_count"]) == (2, 1)
    assert "#launch" in one["caption"] and one["followers_at_post_time"] == 8800
    assert json.loads(one["extra"])["first_level_comments"] == 4
    assert posts.loc["urn:li:share:2", "content_type"] == "video"
    assert posts.loc["urn:li:share:3", "content_type"] == "link"
    assert set(posts["platform"]) == {"linkedin"} and set(posts["source"]) == {"linkedin_api"}


def test_reshare_context_makes_a_share_or_a_quote(fake_api, token, sleeps):
    script(fake_api)
    fake_api.route("/rest/posts",
                   {"elements": [li_post(1, "2026-06-29T09:00Z"),
                                 li_post(2, "2026-06-28T09:00Z", "",
                                         reshare_of="urn:li:share:77")],
                    "paging": {"start": 0, "count": 2, "total": 3}},
                   {"elements": [li_post(3, "2026-06-27T09:00Z", "Worth a read",
                                         reshare_of="urn:li:ugcPost:78")],
                    "paging": {"start": 2, "count": 2, "total": 3}})
    result = fetch(fake_api, token, sleeps)

    posts = result.posts.set_index("post_id")
    assert posts["post_kind"].to_dict() == {"urn:li:share:1": "original",
                                            "urn:li:share:2": "share",
                                            "urn:li:share:3": "quote"}
    assert json.loads(posts.loc["urn:li:share:2", "extra"])["reshareContext"] == {
        "parent": "urn:li:share:77", "root": "urn:li:share:77"}


def test_429_on_social_actions_waits_retry_after_then_succeeds(fake_api, token, sleeps):
    script(fake_api)
    fake_api.route("/rest/socialActions/urn:li:share:2",
                   fake_api.step(429, {"message": "Resource level throttle limit"},
                                 headers={"Retry-After": "0.01"}),
                   social(30, 4))
    result = fetch(fake_api, token, sleeps)
    assert 0.01 in sleeps and len(result.posts) == 3
    assert len(fake_api.requests_to("/rest/socialActions/urn:li:share:2")) == 2


def test_missing_social_counts_quarantine_the_post(fake_api, token, sleeps):
    script(fake_api)
    fake_api.route("/rest/socialActions/urn:li:share:3", {"target": "urn:li:share:3"})
    result = fetch(fake_api, token, sleeps)
    assert len(result.posts) == 2 and result.records_read == 3
    reject = result.rejects.iloc[0]
    assert reject["post_id"] == "urn:li:share:3" and reject["source_row"] == 3
    assert reject["column"] == "likes" and "socialActions" in reject["value"]


def test_since_stops_paging(fake_api, token, sleeps):
    script(fake_api)
    result = fetch(fake_api, token, sleeps, since=pd.Timestamp("2026-06-25T00:00Z"))
    assert list(result.posts["post_id"]) == ["urn:li:share:1"]
    assert len(fake_api.requests_to("/rest/posts")) == 1


def test_401_names_the_linkedin_env_var_and_hides_token(fake_api, token, sleeps, caplog):
    caplog.set_level(logging.DEBUG, logger="pipelines")
    fake_api.route(f"/rest/networkSizes/{ORG}",
                   fake_api.step(401, {"status": 401, "serviceErrorCode": 65601,
                                       "code": "REVOKED_ACCESS_TOKEN",
                                       "message": "The token used in the request has been "
                                                  "revoked by the user"}))
    with pytest.raises(ApiAuthError, match="ENGAGEFLOW_LINKEDIN_TOKEN.*engageflow_linkedin"
                       ) as info:
        fetch(fake_api, token, sleeps)
    assert "revoked" in str(info.value)
    assert token not in str(info.value) and token not in caplog.text


def test_author_must_be_a_urn(fake_api, token, sleeps):
    with pytest.raises(ValueError, match="'account_id' must be an author URN.*got '2414183'"):
        fetch_linkedin_posts(token=token, base_url=fake_api.base_url, account_id="2414183",
                             collected_at=NOW)


def test_without_total_pages_until_an_empty_page(fake_api, token, sleeps):
    script(fake_api)
    fake_api.route("/rest/posts",
                   {"elements": [li_post(1, "2026-06-29T09:00Z")], "paging": {"start": 0}},
                   {"elements": [li_post(2, "2026-06-20T09:00Z")], "paging": {"start": 2}},
                   {"elements": [], "paging": {"start": 4}})
    result = fetch(fake_api, token, sleeps, followers=10)
    assert [p.query["start"] for p in fake_api.requests_to("/rest/posts")] == ["0", "2", "4"]
    assert len(result.posts) == 2 and fake_api.requests_to(f"/rest/networkSizes/{ORG}") == []
    assert set(result.posts["followers_at_post_time"]) == {10}
