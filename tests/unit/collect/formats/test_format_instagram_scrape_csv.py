"""``instagram_scrape_csv``: field mapping of the instagram_2017 scrape layout."""

from __future__ import annotations

import json
from pathlib import Path

from pipelines.collect.formats import read_posts

INSTAGRAM_HEADER = (
    "alias,url,date,content_type,isVideo,multipleImage,numberLikes,numberFollowers,"
    "numberFollowing,numberPosts,followers_precision,followers_suspect,n_tags,tags,n_mentions,"
    "caption_len,description,localization,scrape_commit_date,age_days_at_scrape\n"
)


def test_instagram_scrape_csv_mapping(tmp_path: Path, write, assert_canonical) -> None:
    rows = (
        "0vse,https://www.instagram.com/p/BDXkaxeg50a/?taken-by=0vse,2016-03-25 05:00:00+00:00,"
        'image,False,False,1,495000,31,901,exact,False,1,#travel,1,72,"Лагуна\n#travel@0vsem",'
        ",2017-04-26 23:04:00+00:00,397.753\n"
        "bob,https://www.instagram.com/p/Xy_-1/,2017-04-01 05:00:00+00:00,carousel,False,True,"
        "9,100,1,2,exact,False,0,,0,2,hi,Paris,2017-05-01 16:00:51+00:00,30.4\n"
    )
    path = write(tmp_path / "instagram_posts.csv", INSTAGRAM_HEADER + rows)

    result = read_posts(path, "instagram_scrape_csv")

    assert_canonical(result)
    posts = result.posts
    assert posts["post_id"].tolist() == ["BDXkaxeg50a", "Xy_-1"]
    assert posts["content_type"].tolist() == ["image", "carousel"]
    assert posts["post_kind"].tolist() == ["original", "original"]  # own profile posts
    assert posts["caption"].iloc[0] == "Лагуна\n#travel@0vsem"
    assert posts[["likes", "followers_at_post_time"]].iloc[0].tolist() == [1, 495000]
    # The scrape has no comment or share counts: missing, never a made-up 0.
    assert posts["comments"].isna().all() and posts["shares"].isna().all()
    extra = json.loads(posts["extra"].iloc[0])
    assert extra["missing_in_source"] == ["comments", "shares"]
    assert extra["url"].endswith("taken-by=0vse") and extra["numberFollowing"] == 31
