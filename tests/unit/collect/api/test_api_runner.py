"""The API stage runner: watermark → fetch → raw layer → watermark, re-runnable."""

from __future__ import annotations

import pandas as pd
import pytest

from pipelines.collect import raw_store, watermarks
from pipelines.collect.api import ApiRequestError, HttpSettings, collect_api_posts

FAST = HttpSettings(read_timeout_s=2.0, max_retries=1, backoff_base_s=0.001,
                    backoff_max_s=0.001)
USER = "42"
PATH = f"/2/users/{USER}/tweets"


def body(likes_by_id: dict[str, tuple[str, int]]) -> dict:
    tweets = [{"id": tid, "text": "hi", "created_at": when, "author_id": USER,
               "public_metrics": {"retweet_count": 0, "reply_count": 0, "like_count": likes}}
              for tid, (when, likes) in likes_by_id.items()]
    return {"data": tweets, "meta": {"result_count": len(tweets)},
            "includes": {"users": [{"id": USER,
                                    "public_metrics": {"followers_count": 10}}]}}


def run(fake_api, tmp_path, token, run_date, collected_at, **kwargs):
    return collect_api_posts(api="x", account_id=USER, base_url=fake_api.base_url,
                             data_root=tmp_path / "data", watermark_db=tmp_path / "wm.sqlite",
                             run_date=run_date, collected_at=pd.Timestamp(collected_at),
                             settings=FAST, token=token, **kwargs)


def test_incremental_runs_advance_the_watermark_and_keep_latest_counts(
    fake_api, tmp_path, token
):
    fake_api.route(PATH, body({"1": ("2026-06-01T10:00:00Z", 5),
                               "2": ("2026-06-02T10:00:00Z", 7)}))
    first = run(fake_api, tmp_path, token, "2026-06-02", "2026-06-02T23:00Z")
    assert first.since is None and first.watermark == pd.Timestamp("2026-06-02T10:00Z")
    assert first.posts_file.parent.name == "date=2026-06-02"
    assert "start_time" not in fake_api.requests_to(PATH)[0].query

    # next day: post 2 has more likes and post 3 is new; a 1-day lookback re-reads post 2
    fake_api.route(PATH, body({"2": ("2026-06-02T10:00:00Z", 30),
                               "3": ("2026-06-03T09:00:00Z", 1)}))
    second = run(fake_api, tmp_path, token, "2026-06-03", "2026-06-03T23:00Z",
                 lookback=pd.Timedelta(days=1))
    assert fake_api.requests_to(PATH)[1].query["start_time"] == "2026-06-01T10:00:00Z"
    assert second.watermark == pd.Timestamp("2026-06-03T09:00Z")
    assert watermarks.get_watermark(tmp_path / "wm.sqlite", "x_api_v2", USER) == \
        second.watermark

    # re-running the same interval with the same answer writes nothing new
    again = run(fake_api, tmp_path, token, "2026-06-03", "2026-06-03T23:00Z",
                lookback=pd.Timedelta(days=1))
    assert again.posts_file == second.posts_file
    assert len(raw_store.raw_files(tmp_path / "data")) == 2

    latest = raw_store.read_latest_posts(tmp_path / "data").set_index("post_id")
    assert list(latest.index) == ["1", "2", "3"]
    assert latest.loc["2", "likes"] == 30 and latest.loc["1", "likes"] == 5


def test_failed_fetch_leaves_watermark_and_raw_layer_untouched(fake_api, tmp_path, token):
    fake_api.route(PATH, fake_api.step(503, {"title": "Service Unavailable"}))
    with pytest.raises(ApiRequestError):
        run(fake_api, tmp_path, token, "2026-06-02", "2026-06-02T23:00Z")
    assert watermarks.get_watermark(tmp_path / "wm.sqlite", "x_api_v2", USER) is None
    assert raw_store.raw_files(tmp_path / "data") == []


def test_rejects_land_in_the_raw_quarantine(fake_api, tmp_path, token):
    page = body({"1": ("2026-06-01T10:00:00Z", 5)})
    page["data"].append({"id": "bad", "text": "x", "created_at": "never"})
    fake_api.route(PATH, page)
    outcome = run(fake_api, tmp_path, token, "2026-06-02", "2026-06-02T23:00Z")
    assert outcome.rejects_file is not None
    assert "_quarantine" in outcome.rejects_file.parts
    assert pd.read_parquet(outcome.rejects_file)["post_id"].tolist() == ["bad"]


def test_unknown_api_and_negative_lookback_are_rejected(tmp_path):
    with pytest.raises(ValueError, match="'api' must be one of"):
        collect_api_posts(api="myspace", account_id="1", base_url="http://x", data_root=tmp_path,
                          watermark_db=tmp_path / "w", run_date="2026-01-01",
                          collected_at=pd.Timestamp("2026-01-01T00:00Z"), token="t")
    with pytest.raises(ValueError, match="'lookback' must be >= 0"):
        collect_api_posts(api="x", account_id="1", base_url="http://x", data_root=tmp_path,
                          watermark_db=tmp_path / "w", run_date="2026-01-01",
                          collected_at=pd.Timestamp("2026-01-01T00:00Z"), token="t",
                          lookback=pd.Timedelta(days=-1))
