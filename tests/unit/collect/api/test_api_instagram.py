"""Instagram Graph API collector against documented response shapes on a local server."""

from __future__ import annotations

import json
import logging

import pandas as pd
import pytest

from pipelines import schema
from pipelines.collect.api import (
    ApiAuthError,
    ApiResponseError,
    HttpSettings,
    fetch_instagram_posts,
)

FAST = HttpSettings(read_timeout_s=2.0, max_retries=2, backoff_base_s=0.001,
                    backoff_max_s=0.001)
NOW = pd.Timestamp("2026-07-01T00:00:00Z")
USER = "17841400000000001"


def media(media_id, when, media_type="IMAGE", likes=10, comments=2, caption="hello #a @b",
          **more):
    record = {"id": media_id, "caption": caption, "media_type": media_type,
              "media_product_type": "FEED", "timestamp": when, "like_count": likes,
              "comments_count": comments, "permalink": f"https://www.instagram.com/p/{media_id}/"}
    record.update(more)
    return record


def listing(records, after=None, base=""):
    paging = {"cursors": {"before": "B", "after": after or "END"}}
    if after:
        paging["next"] = f"{base}/v23.0/{USER}/media?access_token=OLD&limit=2&after={after}"
    return {"data": records, "paging": paging}


def insights(reach, saved, shares, views=None):
    data = [{"name": n, "period": "lifetime", "values": [{"value": v}], "id": f"x/{n}"}
            for n, v in (("reach", reach), ("saved", saved))]
    data.append({"name": "shares", "period": "lifetime", "total_value": {"value": shares}})
    if views is not None:
        data.append({"name": "views", "period": "lifetime", "values": [{"value": views}]})
    return {"data": data}


def fetch(fake_api, token, sleeps, **kwargs):
    kwargs.setdefault("insight_metrics", ("reach", "saved", "shares", "views"))
    return fetch_instagram_posts(token=token, base_url=fake_api.base_url + "/v23.0",
                                 account_id=USER, collected_at=NOW, settings=FAST,
                                 sleep=sleeps.append, page_size=2, **kwargs)


def script_two_pages(fake_api):
    carousel = media("m2", "2026-06-20T09:00:00+0000", "CAROUSEL_ALBUM",
                     children={"data": [{"id": "c1"}, {"id": "c2"}, {"id": "c3"}]})
    fake_api.route(f"/v23.0/{USER}", {"followers_count": 5000, "id": USER})
    fake_api.route(f"/v23.0/{USER}/media",
                   listing([media("m1", "2026-06-25T18:30:00+0000",
                                  caption="New launch #summer #sale @shop https://x.io"),
                            carousel], after="CUR1", base=fake_api.base_url),
                   listing([media("m3", "2026-06-10T12:00:00+0000", "VIDEO", likes=99)]))
    for mid, values in {"m1": (100, 3, 4, 150), "m2": (200, 5, 6, None),
                        "m3": (300, 7, 8, None)}.items():
        fake_api.route(f"/v23.0/{mid}/insights", insights(*values))


def test_paginates_with_cursor_and_maps_canonical_columns(fake_api, token, sleeps):
    script_two_pages(fake_api)
    result = fetch(fake_api, token, sleeps)

    pages = fake_api.requests_to(f"/v23.0/{USER}/media")
    assert len(pages) == 2
    assert "after" not in pages[0].query and pages[1].query["after"] == "CUR1"
    assert all(p.query["access_token"] == token for p in pages)
    assert pages[0].query["fields"].startswith("id,caption,media_type")
    assert pages[0].query["limit"] == "2"
    assert fake_api.requests_to(f"/v23.0/{USER}")[0].query["fields"] == "followers_count"
    assert len(fake_api.requests_to("/v23.0/m1/insights")) == 1
    assert fake_api.requests_to("/v23.0/m1/insights")[0].query["metric"] == \
        "reach,saved,shares,views"

    posts = result.posts
    assert list(posts.columns) == list(schema.COLUMN_NAMES)
    assert result.records_read == 3 and len(posts) == 3 and result.rejects.empty
    first = posts.set_index("post_id").loc["m1"]
    assert first["platform"] == "instagram" and first["account_id"] == USER
    assert first["posted_at"] == pd.Timestamp("2026-06-25T18:30:00Z")
    assert (first["hashtags_count"], first["mentions_count"], first["urls_count"]) == (2, 1, 1)
    assert (first["likes"], first["comments"], first["shares"], first["saves"],
            first["reach"]) == (10, 2, 4, 3, 100)
    assert first["followers_at_post_time"] == 5000
    assert first["source"] == "instagram_graph_api" and first["collected_at"] == NOW
    extra = json.loads(first["extra"])
    assert extra["permalink"].endswith("/m1/") and extra["insights"] == {"views": 150}
    by_id = posts.set_index("post_id")
    assert by_id.loc["m2", "content_type"] == "carousel" and by_id.loc["m2", "media_count"] == 3
    assert by_id.loc["m3", "content_type"] == "video" and by_id.loc["m3", "likes"] == 99
    assert set(by_id["post_kind"]) == {"original"}  # the media edge lists own posts only


def test_without_insights_no_insight_requests_and_shares_empty(fake_api, token, sleeps):
    script_two_pages(fake_api)
    result = fetch(fake_api, token, sleeps, insight_metrics=None)
    assert not [s for s in fake_api.seen if s.path.endswith("/insights")]
    assert result.posts["shares"].isna().all() and result.posts["likes"].notna().all()


def test_since_stops_paging_and_skips_older_posts(fake_api, token, sleeps):
    script_two_pages(fake_api)
    result = fetch(fake_api, token, sleeps, since=pd.Timestamp("2026-06-22T00:00Z"))
    assert list(result.posts["post_id"]) == ["m1"] and result.records_read == 1
    assert len(fake_api.requests_to(f"/v23.0/{USER}/media")) == 1  # page 2 never asked
    assert fake_api.requests_to("/v23.0/m2/insights") == []  # no insights for old posts


def test_malformed_records_are_quarantined_with_every_reason(fake_api, token, sleeps):
    bad = media("m9", "yesterday", likes="lots")
    odd = media("m8", "2026-06-24T00:00:00+0000", media_type="STORY")
    fake_api.route(f"/v23.0/{USER}", {"followers_count": 10})
    fake_api.route(f"/v23.0/{USER}/media",
                   listing([media("m1", "2026-06-25T00:00:00+0000"), bad, odd, "junk"]))
    fake_api.route("/v23.0/m1/insights", insights(1, 2, 3))
    result = fetch(fake_api, token, sleeps)

    assert list(result.posts["post_id"]) == ["m1"]
    rejects = result.rejects
    assert list(rejects.columns) == list(schema.QUARANTINE_COLUMNS)
    assert result.records_read == 4 == len(result.posts) + len(rejects)
    assert set(rejects["stage"]) == {"collect"}
    assert set(rejects["source_file"]) == {f"{fake_api.base_url}/v23.0/{USER}/media"}
    row = rejects.set_index("post_id").loc["m9"]
    assert row["source_row"] == 2 and row["rule"] == "expect_timestamp_parseable"
    reasons = json.loads(row["reasons"])
    assert {(r["rule"], r["column"], r["value"]) for r in reasons} == {
        ("expect_timestamp_parseable", "posted_at", "yesterday"),
        ("expect_count_non_negative_int", "likes", "lots"),
    }
    assert json.loads(row["record"])["like_count"] == "lots"
    assert rejects.set_index("post_id").loc["m8", "rule"] == "expect_media_type_in_set"
    assert rejects["rule"].iloc[-1] == "expect_record_is_object"
    assert not rejects["source_file"].str.contains("access_token").any()


def test_page_without_data_is_a_response_error_naming_the_page(fake_api, token, sleeps):
    fake_api.route(f"/v23.0/{USER}", {"followers_count": 10})
    fake_api.route(f"/v23.0/{USER}/media",
                   listing([media("m1", "2026-06-25T00:00:00+0000")], after="C1"),
                   {"paging": {}})
    with pytest.raises(ApiResponseError, match=r"page 2 of GET .*/media has no 'data' list"):
        fetch(fake_api, token, sleeps, insight_metrics=None)


def test_expired_token_raises_auth_error_and_logs_no_token(fake_api, token, sleeps, caplog):
    caplog.set_level(logging.DEBUG, logger="pipelines")
    fake_api.route(f"/v23.0/{USER}", {"followers_count": 10})
    fake_api.route(f"/v23.0/{USER}/media", fake_api.step(400, {"error": {
        "message": "Error validating access token", "type": "OAuthException", "code": 190}}))
    with pytest.raises(ApiAuthError, match="ENGAGEFLOW_INSTAGRAM_TOKEN") as info:
        fetch(fake_api, token, sleeps)
    assert len(fake_api.requests_to(f"/v23.0/{USER}/media")) == 1
    assert token not in str(info.value) and token not in caplog.text


def test_insights_400_for_one_media_leaves_its_counts_empty(fake_api, token, sleeps):
    fake_api.route(f"/v23.0/{USER}", {"followers_count": 10})
    fake_api.route(f"/v23.0/{USER}/media", listing([media("m1", "2026-06-25T00:00:00+0000")]))
    fake_api.route("/v23.0/m1/insights", fake_api.step(400, {"error": {
        "message": "Media posted before business account conversion", "code": 100}}))
    result = fetch(fake_api, token, sleeps)
    assert len(result.posts) == 1 and pd.isna(result.posts["reach"].iloc[0])
