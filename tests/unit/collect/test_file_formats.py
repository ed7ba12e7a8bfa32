"""Field mappings of the file-drop connector, per format and container, plus real-data samples."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipelines import schema
from pipelines.collect.formats import FORMATS, CollectError, read_posts

CANONICAL_ROW = {
    "post_id": "p1", "platform": "Instagram", "account_id": " acct-1 ", "campaign_id": "",
    "posted_at": "2025-01-02T10:00:00Z", "content_type": "photo", "caption": "hi #sun @bob",
    "hashtags_count": 1, "mentions_count": 1, "followers_at_post_time": 1000, "likes": 10,
    "comments": 2, "shares": 1, "saves": None, "source": "demo",
}
MTIME = 1_700_000_000  # 2023-11-14T22:13:20Z


def _write(path: Path, content: bytes | str) -> Path:
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    os.utime(path, (MTIME, MTIME))
    return path


def _assert_canonical(result) -> None:
    assert result.records_read == len(result.posts) + len(result.rejects)
    expected = schema.empty_posts()
    assert list(result.posts.columns) == list(expected.columns)
    assert result.posts.dtypes.astype(str).tolist() == expected.dtypes.astype(str).tolist()


def test_formats_are_the_documented_ones() -> None:
    assert FORMATS == ("canonical", "instagram_graph", "linkedin_share", "twitter_v2",
                       "tweets_csv", "instagram_scrape_csv", "facebook_uci")


@pytest.mark.parametrize("container", ["csv", "json", "jsonl", "parquet", "csv.gz", "jsonl.gz"])
def test_canonical_reads_every_container_alike(container: str, tmp_path: Path) -> None:
    frame = pd.DataFrame([CANONICAL_ROW, {**CANONICAL_ROW, "post_id": "p2", "likes": 11}])
    path = tmp_path / f"posts.{container}"
    base = container.removesuffix(".gz")
    if base == "csv":
        data = frame.to_csv(index=False).encode()
    elif base == "json":
        data = frame.to_json(orient="records").encode()
    elif base == "jsonl":
        data = frame.to_json(orient="records", lines=True).encode()
    else:
        pq.write_table(pa.Table.from_pandas(frame.astype({"saves": "float64"})), path)
        data = path.read_bytes()
    _write(path, gzip.compress(data) if container.endswith(".gz") else data)

    result = read_posts(path, "canonical")

    _assert_canonical(result)
    assert len(result.rejects) == 0
    first = result.posts.iloc[0]
    assert (first["platform"], first["content_type"], first["account_id"]) == (
        "instagram", "image", "acct-1")
    assert result.posts["likes"].tolist() == [10, 11]
    assert pd.isna(first["saves"]) and pd.isna(first["campaign_id"])
    assert first["source"] == "canonical"
    assert json.loads(first["extra"]) == {"source": "demo"}
    assert first["collected_at"] == pd.Timestamp(MTIME, unit="s", tz="UTC")


def test_canonical_keeps_given_collected_at_and_merges_extra(tmp_path: Path) -> None:
    row = {**CANONICAL_ROW, "collected_at": "2025-02-01T00:00:00Z",
           "extra": json.dumps({"a": 1}), "region": "EU"}
    path = _write(tmp_path / "p.json", json.dumps({"posts": [row]}))

    post = read_posts(path, "canonical").posts.iloc[0]

    assert post["collected_at"] == pd.Timestamp("2025-02-01T00:00:00Z")
    assert json.loads(post["extra"]) == {"a": 1, "region": "EU", "source": "demo"}


def _graph_post(**changes: object) -> dict[str, object]:
    return {
        "id": "ig1", "caption": "sunset #beach #sea with @ana https://x.y", "account_id": "brand",
        "media_type": "CAROUSEL_ALBUM", "posting_time": "2025-03-01T18:00:00+0000",
        "audience_size": 5000, "children": {"data": [{"id": "c1"}, {"id": "c2"}]},
        "engagement_metrics": {"likes": 120, "comments": 4, "shares": 2, "saves": 7,
                               "reach": 900, "impressions": 1500, "plays": 3},
        **changes,
    }


def test_instagram_graph_mapping(tmp_path: Path) -> None:
    path = _write(tmp_path / "ig.json", json.dumps({"data": [_graph_post()], "paging": {}}))

    result = read_posts(path, "instagram_graph")

    _assert_canonical(result)
    post = result.posts.iloc[0]
    assert post[["post_id", "platform", "account_id", "content_type"]].tolist() == [
        "ig1", "instagram", "brand", "carousel"]
    assert post["posted_at"] == pd.Timestamp("2025-03-01T18:00:00Z")
    assert post[["hashtags_count", "mentions_count", "urls_count", "media_count"]].tolist() == [
        2, 1, 1, 2]
    assert post[["followers_at_post_time", "likes", "comments", "shares", "saves", "reach",
                 "impressions"]].tolist() == [5000, 120, 4, 2, 7, 900, 1500]
    extra = json.loads(post["extra"])
    assert extra["engagement_metrics"] == {"plays": 3}
    assert extra["children"] == {"data": [{"id": "c1"}, {"id": "c2"}]}


def test_instagram_graph_without_caption_is_an_empty_caption(tmp_path: Path) -> None:
    post = _graph_post(media_type="REELS")
    del post["caption"]
    path = _write(tmp_path / "ig.jsonl", json.dumps(post) + "\n")

    result = read_posts(path, "instagram_graph")

    assert result.posts[["caption", "content_type", "hashtags_count"]].iloc[0].tolist() == [
        "", "video", 0]


def test_linkedin_share_mapping_keeps_business_fields_in_extra(tmp_path: Path) -> None:
    share = {
        "id": "urn:li:share:1", "text": "We are hiring! #jobs", "author": "urn:li:org:9",
        "media_type": "ARTICLE", "posting_time": "2025-04-01T08:30:00Z", "audience_size": 12000,
        "engagement_metrics": {"likes": 40, "comments": 3, "shares": 5, "impressions": 2000,
                               "clicks": 77, "engagement_rate": 0.06},
        "company_size": "51-200", "industry": "Software",
    }
    path = _write(tmp_path / "li.json", json.dumps([share]))

    post = read_posts(path, "linkedin_share").posts.iloc[0]

    assert post[["post_id", "platform", "account_id", "content_type", "caption"]].tolist() == [
        "urn:li:share:1", "linkedin", "urn:li:org:9", "link", "We are hiring! #jobs"]
    assert post[["likes", "comments", "shares", "impressions"]].tolist() == [40, 3, 5, 2000]
    assert pd.isna(post["saves"]) and pd.isna(post["reach"])
    assert json.loads(post["extra"]) == {
        "company_size": "51-200", "industry": "Software",
        "engagement_metrics": {"clicks": 77, "engagement_rate": 0.06}}


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


def test_twitter_v2_mapping_and_content_types(tmp_path: Path) -> None:
    media = [{"media_key": "m1", "type": "photo"}, {"media_key": "m2", "type": "photo"},
             {"media_key": "m3", "type": "animated_gif"}]
    pages = [
        _twitter_response([_tweet("1", []), _tweet("2", ["m1"])], media),
        _twitter_response([_tweet("3", ["m1", "m2"]), _tweet("4", ["m3"])], media),
        {"meta": {"result_count": 0}},
    ]
    path = _write(tmp_path / "tw.json", json.dumps(pages))

    result = read_posts(path, "twitter_v2")

    _assert_canonical(result)
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


def test_twitter_v2_jsonl_pages_number_tweets_across_pages(tmp_path: Path) -> None:
    pages = [_twitter_response([_tweet("1", [])], []),
             _twitter_response([_tweet("2", [], author_id="ghost")], [])]
    path = _write(tmp_path / "tw.jsonl", "\n".join(json.dumps(p) for p in pages))

    result = read_posts(path, "twitter_v2")

    assert result.records_read == 2 and len(result.posts) == 1
    reject = result.rejects.iloc[0]
    assert (reject["source_row"], reject["post_id"], reject["rule"], reject["value"]) == (
        2, "2", "lookup_missing", "'ghost'")


TWEETS_HEADER = (
    "tweet_id,username,author_id,created_at,text,like_count,retweet_count,reply_count,"
    "quote_count,has_media,n_media,media_types,video_view_count,n_hashtags,n_mentions,n_urls,"
    "referenced,author_followers,author_following,author_tweet_count,author_listed,"
    "snapshot_commit_date,age_days_at_snapshot,n_snapshots_observed\n"
)


def test_tweets_csv_mapping(tmp_path: Path) -> None:
    rows = (
        '1365981465675259904,BBC,5402612,2021-02-28 11:05:34+00:00,"Two\nlines",1873,451,198,'
        "190,False,0,,,0,0,1,,49633344,3,37904,146493,2022-03-30 22:27:02+00:00,395.473,1\n"
        "2,BBC,5402612,2021-03-01 11:05:34+00:00,pics,5,1,0,0,True,2,photo,,1,0,0,quoted,"
        "49633344,3,37904,146493,2022-03-30 22:27:02+00:00,394.1,2\n"
        "3,BBC,5402612,2021-03-02 11:05:34+00:00,clip,5,1,0,0,True,1,video,1000.0,0,0,0,,"
        "49633344,3,37904,146493,2022-03-30 22:27:02+00:00,393.2,2\n"
    )
    path = _write(tmp_path / "tweets.csv", TWEETS_HEADER + rows)

    result = read_posts(path, "tweets_csv")

    _assert_canonical(result)
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


INSTAGRAM_HEADER = (
    "alias,url,date,content_type,isVideo,multipleImage,numberLikes,numberFollowers,"
    "numberFollowing,numberPosts,followers_precision,followers_suspect,n_tags,tags,n_mentions,"
    "caption_len,description,localization,scrape_commit_date,age_days_at_scrape\n"
)


def test_instagram_scrape_csv_mapping(tmp_path: Path) -> None:
    rows = (
        "0vse,https://www.instagram.com/p/BDXkaxeg50a/?taken-by=0vse,2016-03-25 05:00:00+00:00,"
        'image,False,False,1,495000,31,901,exact,False,1,#travel,1,72,"Лагуна\n#travel@0vsem",'
        ",2017-04-26 23:04:00+00:00,397.753\n"
        "bob,https://www.instagram.com/p/Xy_-1/,2017-04-01 05:00:00+00:00,carousel,False,True,"
        "9,100,1,2,exact,False,0,,0,2,hi,Paris,2017-05-01 16:00:51+00:00,30.4\n"
    )
    path = _write(tmp_path / "instagram_posts.csv", INSTAGRAM_HEADER + rows)

    result = read_posts(path, "instagram_scrape_csv")

    _assert_canonical(result)
    posts = result.posts
    assert posts["post_id"].tolist() == ["BDXkaxeg50a", "Xy_-1"]
    assert posts["content_type"].tolist() == ["image", "carousel"]
    assert posts["caption"].iloc[0] == "Лагуна\n#travel@0vsem"
    assert posts[["likes", "followers_at_post_time"]].iloc[0].tolist() == [1, 495000]
    # The scrape has no comment or share counts: missing, never a made-up 0.
    assert posts["comments"].isna().all() and posts["shares"].isna().all()
    extra = json.loads(posts["extra"].iloc[0])
    assert extra["missing_in_source"] == ["comments", "shares"]
    assert extra["url"].endswith("taken-by=0vse") and extra["numberFollowing"] == 31


def test_facebook_uci_mapping_synthesizes_2014_times(tmp_path: Path) -> None:
    header = ("Page total likes;Type;Category;Post Month;Post Weekday;Post Hour;Paid;"
              "Lifetime Post Total Reach;Lifetime Post Total Impressions;Lifetime Engaged Users;"
              "comment;like;share;Total Interactions\n")
    rows = ("139441;Photo;2;12;4;3;0.0;2752;5091;178;4;79.0;17.0;100\n"
            "139441;Status;2;12;2;10;0.0;10460;19057;1457;5;130.0;29.0;164\n"
            "135000;Link;1;1;1;23;1.0;100;200;7;0;3.0;0.0;3\n")
    path = _write(tmp_path / "dataset_Facebook.csv", header + rows)

    result = read_posts(path, "facebook_uci")

    _assert_canonical(result)
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
    assert first["collected_at"] == pd.Timestamp(MTIME, unit="s", tz="UTC")
    extra = json.loads(first["extra"])
    assert extra["posted_at_synthetic"] is True and extra["Lifetime Engaged Users"] == 178
    assert extra["Post Weekday"] == 4


def test_folder_reads_supported_files_sorted_and_skips_others(tmp_path: Path) -> None:
    _write(tmp_path / "b.jsonl", json.dumps({**CANONICAL_ROW, "post_id": "from-jsonl"}) + "\n")
    _write(tmp_path / "a.csv", pd.DataFrame([CANONICAL_ROW]).to_csv(index=False))
    _write(tmp_path / "c.json.gz", gzip.compress(json.dumps(
        [{**CANONICAL_ROW, "post_id": "from-gz", "likes": "x"}]).encode()))
    _write(tmp_path / "README.md", "not data")
    _write(tmp_path / ".hidden.csv", "junk")

    result = read_posts(tmp_path, "canonical")

    _assert_canonical(result)
    assert result.records_read == 3
    assert result.posts["post_id"].tolist() == ["p1", "from-jsonl"]
    assert result.rejects["source_file"].tolist() == [str(tmp_path / "c.json.gz")]


def test_folder_with_bad_files_raises_once_listing_each(tmp_path: Path) -> None:
    _write(tmp_path / "a.csv", pd.DataFrame([CANONICAL_ROW]).to_csv(index=False))
    _write(tmp_path / "b.csv", "")
    _write(tmp_path / "c.json", "[oops")

    with pytest.raises(CollectError, match="2 of 3 file") as caught:
        read_posts(tmp_path, "canonical")

    message = str(caught.value)
    assert "b.csv" in message and "empty_file" in message
    assert "c.json" in message and "json_syntax" in message


# ----------------------------------------------------------------- real data (shared_data)

REPO_ROOT = Path(__file__).resolve().parents[3]
SHARED_DATA = REPO_ROOT / ".." / "shared" / "data"
SAMPLE_ROWS = 2000


@pytest.fixture(scope="module")
def shared_data_dir() -> Path:
    """The real data folder next to the repository; skip where this machine lacks it."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"{SHARED_DATA} absent: shared data folder not present on this machine")
    return SHARED_DATA


@pytest.mark.shared_data
@pytest.mark.parametrize(("relative", "fmt", "platform", "sep"), [
    ("tweets_2022/tweets.csv", "tweets_csv", "twitter", ","),
    ("instagram_2017/instagram_posts.csv", "instagram_scrape_csv", "instagram", ","),
    ("facebook_uci/dataset_Facebook.csv", "facebook_uci", "facebook", ";"),
])
def test_real_data_samples_parse(shared_data_dir: Path, tmp_path: Path, relative: str,
                                 fmt: str, platform: str, sep: str) -> None:
    # pandas, not `head`: the Instagram captions contain quoted newlines.
    sample = pd.read_csv(shared_data_dir / relative, sep=sep, dtype=str, keep_default_na=False,
                         nrows=SAMPLE_ROWS)
    path = tmp_path / Path(relative).name
    sample.to_csv(path, sep=sep, index=False)

    result = read_posts(path, fmt)

    _assert_canonical(result)
    assert result.records_read == len(sample)
    assert len(result.posts) > 0.95 * len(sample)
    assert set(result.posts["platform"]) == {platform}
    assert set(result.posts["content_type"]) <= set(schema.CONTENT_TYPES)
    assert result.posts["likes"].notna().all()
    assert result.posts["posted_at"].notna().all()
