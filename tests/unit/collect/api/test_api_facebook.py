"""Facebook Page collector against documented response shapes on a local server."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from pipelines.collect.api import ApiResponseError, HttpSettings, fetch_facebook_posts

FAST = HttpSettings(read_timeout_s=2.0, max_retries=2, backoff_base_s=0.001,
                    backoff_max_s=0.001)
NOW = pd.Timestamp("2026-07-01T00:00:00Z")
PAGE = "104000000000001"


def post(post_id, when, reactions=20, comments=3, shares=None, message="Hi #news",
         attachment=None, status_type="mobile_status_update", parent_id=None):
    record = {
        "id": f"{PAGE}_{post_id}", "message": message, "created_time": when,
        "status_type": status_type,
        "reactions": {"data": [], "summary": {"total_count": reactions,
                                              "viewer_reaction": "NONE"}},
        "comments": {"data": [], "summary": {"order": "ranked", "total_count": comments,
                                             "can_comment": True}},
    }
    if shares is not None:
        record["shares"] = {"count": shares}
    if attachment is not None:
        record["attachments"] = {"data": [attachment]}
    if parent_id is not None:
        record["parent_id"] = parent_id
    return record


def fetch(fake_api, token, sleeps, **kwargs):
    return fetch_facebook_posts(token=token, base_url=fake_api.base_url + "/v23.0",
                                account_id=PAGE, collected_at=NOW, settings=FAST,
                                sleep=sleeps.append, page_size=2, **kwargs)


def script(fake_api, second_page=None):
    base = fake_api.base_url
    album = {"media_type": "album", "type": "album", "subattachments": {
        "data": [{"media_type": "photo"}, {"media_type": "photo"}]}}
    link = {"media_type": "link", "type": "share", "url": "https://example.com/a"}
    fake_api.route(f"/v23.0/{PAGE}", {"followers_count": 12000, "id": PAGE})
    next_link = (f"{base}/v23.0/{PAGE}/posts?access_token=PAGE-TOKEN-FROM-API&limit=2"
                 f"&until=1750000000&__paging_token=enc_ABC")
    fake_api.route(f"/v23.0/{PAGE}/posts",
                   {"data": [post("1", "2026-06-28T10:00:00+0000", shares=7,
                                  attachment=album, status_type="added_photos"),
                             post("2", "2026-06-20T10:00:00+0000", message="read this",
                                  attachment=link, status_type="shared_story")],
                    "paging": {"previous": f"{base}/v23.0/{PAGE}/posts?since=1",
                               "next": next_link}},
                   second_page or {"data": [post("3", "2026-06-01T08:00:00+0000")],
                                   "paging": {"previous": f"{base}/prev"}})
    for pid, (imp, reach) in {"1": (900, 700), "2": (500, 400), "3": (100, 90)}.items():
        fake_api.route(f"/v23.0/{PAGE}_{pid}/insights", {"data": [
            {"name": "post_impressions", "period": "lifetime", "values": [{"value": imp}]},
            {"name": "post_impressions_unique", "period": "lifetime",
             "values": [{"value": reach}]}]})


def test_follows_paging_next_and_maps_reactions_comments_shares(fake_api, token, sleeps):
    script(fake_api)
    result = fetch(fake_api, token, sleeps)

    pages = fake_api.requests_to(f"/v23.0/{PAGE}/posts")
    assert len(pages) == 2
    assert pages[0].query["fields"].startswith("id,message,created_time,status_type,shares")
    # the next link's own parameters are kept, its access_token is replaced by ours
    assert pages[1].query["__paging_token"] == "enc_ABC" and pages[1].query["until"]
    assert pages[1].query["access_token"] == token

    assert result.records_read == 3 and result.rejects.empty
    posts = result.posts.set_index("post_id")
    one = posts.loc[f"{PAGE}_1"]
    assert (one["likes"], one["comments"], one["shares"]) == (20, 3, 7)
    assert (one["content_type"], one["media_count"]) == ("carousel", 2)
    assert (one["impressions"], one["reach"]) == (900, 700)
    assert one["followers_at_post_time"] == 12000 and one["hashtags_count"] == 1
    assert json.loads(one["extra"]) == {"status_type": "added_photos"}
    two = posts.loc[f"{PAGE}_2"]
    assert two["content_type"] == "link" and two["urls_count"] == 1
    assert two["shares"] == 0  # the API omits 'shares' for unshared posts
    three = posts.loc[f"{PAGE}_3"]
    assert (three["content_type"], three["media_count"]) == ("text", 0)
    assert set(posts["source"]) == {"facebook_graph_api"}


def test_parent_id_makes_a_share_or_a_quote(fake_api, token, sleeps):
    link = {"media_type": "link", "type": "share", "url": "https://example.com/a"}
    fake_api.route(f"/v23.0/{PAGE}", {"followers_count": 12000, "id": PAGE})
    fake_api.route(f"/v23.0/{PAGE}/posts", {"data": [
        post("1", "2026-06-28T10:00:00+0000", message="", parent_id="999_1",
             status_type="shared_story"),
        post("2", "2026-06-27T10:00:00+0000", message="So true", parent_id="999_2",
             status_type="shared_story"),
        post("3", "2026-06-26T10:00:00+0000", message="our blog", attachment=link,
             status_type="shared_story"),
        post("4", "2026-06-25T10:00:00+0000")], "paging": {}})
    result = fetch(fake_api, token, sleeps, insight_metrics=None)

    assert "parent_id" in fake_api.requests_to(f"/v23.0/{PAGE}/posts")[0].query["fields"]
    posts = result.posts.set_index("post_id")
    assert posts["post_kind"].to_dict() == {
        f"{PAGE}_1": "share", f"{PAGE}_2": "quote", f"{PAGE}_3": "original",
        f"{PAGE}_4": "original"}
    assert json.loads(posts.loc[f"{PAGE}_1", "extra"])["parent_id"] == "999_1"


def test_since_stops_following_next(fake_api, token, sleeps):
    script(fake_api)
    result = fetch(fake_api, token, sleeps, since=pd.Timestamp("2026-06-25T00:00Z"),
                   insight_metrics=None)
    assert list(result.posts["post_id"]) == [f"{PAGE}_1"]
    assert len(fake_api.requests_to(f"/v23.0/{PAGE}/posts")) == 1


def test_malformed_second_page_names_endpoint_and_page(fake_api, token, sleeps):
    script(fake_api, second_page=fake_api.step(200, text="<html>oops</html>"))
    with pytest.raises(ApiResponseError, match=rf"GET {fake_api.base_url}/v23.0/{PAGE}/posts "
                                               r"\(page 2\).*not valid JSON"):
        fetch(fake_api, token, sleeps, insight_metrics=None)


def test_record_without_reactions_summary_is_quarantined(fake_api, token, sleeps):
    broken = post("9", "2026-06-27T00:00:00+0000")
    del broken["reactions"]
    fake_api.route(f"/v23.0/{PAGE}", {"followers_count": 1})
    fake_api.route(f"/v23.0/{PAGE}/posts", {"data": [broken], "paging": {}})
    result = fetch(fake_api, token, sleeps, insight_metrics=None)
    assert result.posts.empty and result.records_read == 1
    reject = result.rejects.iloc[0]
    assert (reject["rule"], reject["column"]) == ("expect_field_present", "likes")
    assert reject["post_id"] == f"{PAGE}_9" and reject["source_row"] == 1


def test_500_on_a_page_is_retried(fake_api, token, sleeps):
    fake_api.route(f"/v23.0/{PAGE}", {"followers_count": 1})
    fake_api.route(f"/v23.0/{PAGE}/posts",
                   fake_api.step(500, {"error": {"message": "An unknown error occurred",
                                                 "code": 1, "is_transient": True}}),
                   {"data": [post("1", "2026-06-27T00:00:00+0000")]})
    result = fetch(fake_api, token, sleeps, insight_metrics=None)
    assert len(result.posts) == 1 and len(sleeps) == 1
    assert len(fake_api.requests_to(f"/v23.0/{PAGE}/posts")) == 2
