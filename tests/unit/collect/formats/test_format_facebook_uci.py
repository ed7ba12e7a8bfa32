"""``facebook_uci``: field mapping of the UCI Facebook metrics file, synthesized 2014 times."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from pipelines.collect.formats import read_posts


def test_facebook_uci_mapping_synthesizes_2014_times(tmp_path: Path, write, assert_canonical,
                                                     mtime) -> None:
    header = ("Page total likes;Type;Category;Post Month;Post Weekday;Post Hour;Paid;"
              "Lifetime Post Total Reach;Lifetime Post Total Impressions;Lifetime Engaged Users;"
              "comment;like;share;Total Interactions\n")
    rows = ("139441;Photo;2;12;4;3;0.0;2752;5091;178;4;79.0;17.0;100\n"
            "139441;Status;2;12;2;10;0.0;10460;19057;1457;5;130.0;29.0;164\n"
            "135000;Link;1;1;1;23;1.0;100;200;7;0;3.0;0.0;3\n")
    path = write(tmp_path / "dataset_Facebook.csv", header + rows)

    result = read_posts(path, "facebook_uci")

    assert_canonical(result)
    posts = result.posts
    assert posts["post_id"].tolist() == [
        "dataset_Facebook-1", "dataset_Facebook-2", "dataset_Facebook-3"]
    # 1 = Sunday: weekday 4 is a Wednesday (2014-12-03), 2 a Monday, 1 a Sunday (2014-01-05).
    assert posts["posted_at"].tolist() == [pd.Timestamp("2014-12-03T03:00Z"),
                                           pd.Timestamp("2014-12-01T10:00Z"),
                                           pd.Timestamp("2014-01-05T23:00Z")]
    assert posts["content_type"].tolist() == ["image", "text", "link"]
    first = posts.iloc[0]
    assert first[["followers_at_post_time", "likes", "comments", "shares", "reach",
                  "impressions"]].tolist() == [139441, 79, 4, 17, 2752, 5091]
    assert pd.isna(first["caption"]) and pd.isna(first["hashtags_count"])
    assert posts["post_kind"].isna().all()  # no column says whether a post shares another
    assert first["collected_at"] == pd.Timestamp(mtime, unit="s", tz="UTC")
    extra = json.loads(first["extra"])
    assert extra["posted_at_synthetic"] is True and extra["Lifetime Engaged Users"] == 178
    assert extra["Post Weekday"] == 4
