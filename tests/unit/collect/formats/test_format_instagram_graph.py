"""``instagram_graph``: field mapping of Graph API media objects."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from pipelines.collect.formats import read_posts


def _graph_post(**changes: object) -> dict[str, object]:
    return {
        "id": "ig1", "caption": "sunset #beach #sea with @ana https://x.y", "account_id": "brand",
        "media_type": "CAROUSEL_ALBUM", "posting_time": "2025-03-01T18:00:00+0000",
        "audience_size": 5000, "children": {"data": [{"id": "c1"}, {"id": "c2"}]},
        "engagement_metrics": {"likes": 120, "comments": 4, "shares": 2, "saves": 7,
                               "reach": 900, "impressions": 1500, "plays": 3},
        **changes,
    }


def test_instagram_graph_mapping(tmp_path: Path, write, assert_canonical) -> None:
    path = write(tmp_path / "ig.json", json.dumps({"data": [_graph_post()], "paging": {}}))

    result = read_posts(path, "instagram_graph")

    assert_canonical(result)
    post = result.posts.iloc[0]
    assert post[["post_id", "platform", "account_id", "content_type"]].tolist() == [
        "ig1", "instagram", "brand", "carousel"]
    assert post["post_kind"] == "original"  # Instagram media are the account's own posts
    assert post["posted_at"] == pd.Timestamp("2025-03-01T18:00:00Z")
    assert post[["hashtags_count", "mentions_count", "urls_count", "media_count"]].tolist() == [
        2, 1, 1, 2]
    assert post[["followers_at_post_time", "likes", "comments", "shares", "saves", "reach",
                 "impressions"]].tolist() == [5000, 120, 4, 2, 7, 900, 1500]
    extra = json.loads(post["extra"])
    assert extra["engagement_metrics"] == {"plays": 3}
    assert extra["children"] == {"data": [{"id": "c1"}, {"id": "c2"}]}


def test_instagram_graph_without_caption_is_an_empty_caption(tmp_path: Path, write) -> None:
    post = _graph_post(media_type="REELS")
    del post["caption"]
    path = write(tmp_path / "ig.jsonl", json.dumps(post) + "\n")

    result = read_posts(path, "instagram_graph")

    assert result.posts[["caption", "content_type", "hashtags_count"]].iloc[0].tolist() == [
        "", "video", 0]
