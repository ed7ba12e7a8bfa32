"""Bad-input corpus for the file-drop connector.

Every case ends in exactly one of two outcomes, asserted precisely: records are quarantined
with a named rule and column (and ``records_read == len(posts) + len(rejects)``), or one
``CollectError`` names the file, rule and what was seen. No case may raise anything else,
and what a read returns can always be written (Parquet, as the raw layer does).

The hostile files of issue 14 are here too: deep nesting, lone surrogate escapes, FIFOs,
links to devices, folders named like files, reads over the size and column limits, and
(below the table) a file rewritten while it is read. The same file cases for the task
readers (sessions, feedback, news, ...): ``tests/unit/tasks/test_task_readers_bad_input.py``.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipelines import schema
from pipelines.collect.formats import CollectError, ReadLimits, ReadResult, read_posts, source_file

BASE = {
    "post_id": "p1", "platform": "instagram", "account_id": "acct-1",
    "posted_at": "2025-01-02T10:00:00Z", "content_type": "image", "caption": "hello #sun",
    "hashtags_count": "1", "mentions_count": "0", "followers_at_post_time": "1000",
    "likes": "10", "comments": "2", "shares": "1",
}


def row(**changes: str) -> dict[str, str]:
    """A valid canonical CSV row with some fields changed."""
    return {**BASE, **changes}


def csv_bytes(rows: list[dict[str, str]], sep: str = ",", header: list[str] | None = None
              ) -> bytes:
    header = header or list(rows[0]) if rows or header else list(BASE)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=header, delimiter=sep, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def parquet_writer(table: pa.Table) -> Callable[[Path], None]:
    return lambda path: pq.write_table(table, path)


def graph_post(**changes: object) -> dict[str, object]:
    post: dict[str, object] = {
        "id": "ig1", "caption": "sunset #beach", "account_id": "brand",
        "media_type": "IMAGE", "posting_time": "2025-03-01T18:00:00+0000",
        "audience_size": 5000,
        "engagement_metrics": {"likes": 120, "comments": 4, "shares": 2, "saves": 7,
                               "reach": 900, "impressions": 1500},
    }
    post.update(changes)
    return post


def tweet_page(includes: bool = True, media_type: str | None = "photo", **tweet: object
               ) -> dict[str, object]:
    data = {"id": "t1", "text": "hi", "author_id": "u1", "created_at": "2022-01-01T00:00:00Z",
            "public_metrics": {"like_count": 5, "reply_count": 1, "retweet_count": 2,
                               "quote_count": 1, "impression_count": 90},
            "attachments": {"media_keys": ["m1"]}, **tweet}
    page: dict[str, object] = {"data": [data]}
    if includes:
        page["includes"] = {
            "users": [{"id": "u1", "username": "alice", "public_metrics": {"followers_count": 77}}],
            "media": [] if media_type is None else [{"media_key": "m1", "type": media_type}],
        }
    return page


@dataclass
class Case:
    """One bad input: files to write, the format, and the single expected outcome."""

    id: str
    files: dict[str, bytes | Callable[[Path], None]]
    fmt: str = "canonical"
    error: tuple[str, list[str]] | None = None   # (rule, substrings of the message)
    rejects: list[tuple[int, str, str | None]] = field(default_factory=list)  # row, rule, column
    posts: int = 0
    check: Callable[[ReadResult], None] | None = None
    target: str | None = None  # what to pass as path (default: the only file)
    limits: ReadLimits | None = None  # passed only when set (default: params' collect.*)


def _likes(expected: list[int]) -> Callable[[ReadResult], None]:
    def check(result: ReadResult) -> None:
        assert result.posts["likes"].tolist() == expected
    return check


def _caption(expected: str) -> Callable[[ReadResult], None]:
    def check(result: ReadResult) -> None:
        assert result.posts["caption"].iloc[0] == expected
    return check


def _extra_has(key: str, value: object) -> Callable[[ReadResult], None]:
    def check(result: ReadResult) -> None:
        assert json.loads(result.posts["extra"].iloc[0])[key] == value
    return check


def _posted(expected: str) -> Callable[[ReadResult], None]:
    def check(result: ReadResult) -> None:
        assert result.posts["posted_at"].iloc[0] == pd.Timestamp(expected)
    return check


def _latin1_check(result: ReadResult) -> None:
    reject = result.rejects.iloc[0]
    assert "\\xe9" in reject["value"] and "\\xe9" in reject["record"]
    assert "re-export the file as UTF-8" in reject["reasons"]


LONG_CAPTION = ("x" * 1023 + "\n") * 1024  # 1 MiB, with newlines inside the quoted field
RTL_EMOJI = "שלום עולם 👋🏽 مرحبا 🇵🇹 #تجربة — «ok» \u200f"
DEEP = 100_000  # far beyond Python's recursion limit: json.loads raises RecursionError


def limits(**changes: int) -> ReadLimits:
    return ReadLimits(**{**vars(ReadLimits.defaults()), **changes})


def deep_value(levels: int = DEEP) -> str:
    return "[" * levels + "]" * levels


def json_array(*records: str) -> bytes:
    return ("[" + ", ".join(records) + "]").encode()


def fifo(path: Path) -> None:
    os.mkfifo(path)


def link_to(target: str) -> Callable[[Path], None]:
    return lambda path: path.symlink_to(target)


def folder_named_like_a_file(path: Path) -> None:
    path.mkdir()
    (path / "inner.csv").write_bytes(csv_bytes([row()]))


def _lone_surrogate_reject(result: ReadResult) -> None:
    reject = result.rejects.iloc[0]
    assert "\\ud800" in reject["value"], reject["value"]
    assert json.loads(reject["record"])  # kept as valid JSON, the escape intact
    assert "lone surrogate" in reject["reasons"]


def _depth_reject(result: ReadResult) -> None:
    assert "collect.max_json_depth = 64" in result.rejects["reasons"].iloc[0]


WIDE_HEADER = list(BASE) + [f"x{i}" for i in range(5000)]
WIDE_CSV = (",".join(WIDE_HEADER) + "\n" + ",".join(list(BASE.values()) + ["1"] * 5000)
            + "\n").encode()

CASES = [
    Case("unbalanced_quote",
         {"p.csv": csv_bytes([row()])
          + b'p2,instagram,acct-1,2025-01-02,image,"never closed,1,0\n'},
         error=("csv_syntax", ["p.csv", "row 2", "line 3", "unbalanced quote", "never closed"])),
    Case("wrong_delimiter_semicolon_is_sniffed", {"p.csv": csv_bytes([row(), row(post_id="p2")],
                                                                     sep=";")}, posts=2),
    Case("tab_separated", {"p.tsv": csv_bytes([row()], sep="\t")}, posts=1),
    Case("utf8_bom_just_works", {"p.csv": b"\xef\xbb\xbf" + csv_bytes([row()])}, posts=1,
         check=lambda r: r.posts["post_id"].tolist() == ["p1"] or pytest.fail("bom")),
    Case("latin1_bytes_quarantined_per_record",
         {"p.csv": csv_bytes([row(), row(post_id="p2", caption="caf\u00e9")]).decode()
          .encode("latin-1")},
         rejects=[(2, "decode_utf8", "caption")], posts=1, check=_latin1_check),
    Case("latin1_bytes_in_json_field",
         {"p.json": json.dumps([graph_post(), graph_post(id="ig2", caption="caf\u00e9")],
                               ensure_ascii=False).encode("latin-1")},
         fmt="instagram_graph", rejects=[(2, "decode_utf8", "caption")], posts=1,
         check=_latin1_check),
    Case("empty_csv_0_bytes", {"p.csv": b""}, error=("empty_file", ["p.csv", "0 bytes"])),
    Case("empty_json_0_bytes", {"p.json": b""}, error=("empty_file", ["p.json"])),
    Case("empty_parquet_0_bytes", {"p.parquet": b""}, error=("empty_file", ["p.parquet"])),
    Case("empty_jsonl_is_zero_records", {"p.jsonl": b""}, posts=0),
    Case("header_only", {"p.csv": csv_bytes([], header=list(BASE))}, posts=0),
    Case("missing_required_column",
         {"p.csv": csv_bytes([{k: v for k, v in BASE.items() if k != "likes"}])},
         error=("missing_column", ["column 'likes'", "needs column(s) ['likes']", "got ["])),
    Case("extra_columns_kept_in_extra", {"p.csv": csv_bytes([row(region="EU", boost="3")])},
         posts=1, check=lambda r: json.loads(r.posts["extra"].iloc[0]) == {"region": "EU",
                                                                          "boost": 3}
         or pytest.fail(r.posts["extra"].iloc[0])),
    Case("string_in_likes", {"p.csv": csv_bytes([row(likes="many"), row(post_id="p2")])},
         rejects=[(1, "parse_int", "likes")], posts=1),
    Case("thousands_separator_in_likes", {"p.csv": csv_bytes([row(likes="1,234")])},
         rejects=[(1, "parse_int", "likes")]),
    Case("negative_likes_pass_to_validation", {"p.csv": csv_bytes([row(likes="-5")])},
         posts=1, check=_likes([-5])),
    Case("float_likes_3_0_accepted", {"p.csv": csv_bytes([row(likes="3.0")])}, posts=1,
         check=_likes([3])),
    Case("float_likes_3_5_rejected", {"p.csv": csv_bytes([row(likes="3.5")])},
         rejects=[(1, "parse_int", "likes")]),
    Case("nan_likes_is_missing_required", {"p.csv": csv_bytes([row(likes="NaN")])},
         rejects=[(1, "required_value", "likes")]),
    Case("nan_saves_is_just_missing", {"p.csv": csv_bytes([row(saves="NaN")])}, posts=1,
         check=lambda r: pd.isna(r.posts["saves"].iloc[0]) or pytest.fail("saves")),
    Case("inf_likes", {"p.csv": csv_bytes([row(likes="inf")])},
         rejects=[(1, "parse_int", "likes")]),
    Case("future_date_parses", {"p.csv": csv_bytes([row(posted_at="2091-07-01T00:00:00Z")])},
         posts=1, check=_posted("2091-07-01T00:00:00Z")),
    Case("epoch_1970_parses", {"p.csv": csv_bytes([row(posted_at="1970-01-01 00:00:00")])},
         posts=1, check=_posted("1970-01-01T00:00:00Z")),
    Case("unparseable_date", {"p.csv": csv_bytes([row(posted_at="yesterday at noon")])},
         rejects=[(1, "parse_datetime", "posted_at")]),
    Case("date_out_of_range_year_3000",
         {"p.csv": csv_bytes([row(posted_at="3000-01-01T00:00:00Z")])},
         rejects=[(1, "parse_datetime", "posted_at")]),
    Case("duplicate_ids_both_kept", {"p.csv": csv_bytes([row(likes="10"), row(likes="12")])},
         posts=2, check=_likes([10, 12])),
    Case("one_megabyte_caption_survives", {"p.csv": csv_bytes([row(caption=LONG_CAPTION)])},
         posts=1, check=_caption(LONG_CAPTION)),
    Case("emoji_and_rtl_round_trip_csv", {"p.csv": csv_bytes([row(caption=RTL_EMOJI)])},
         posts=1, check=_caption(RTL_EMOJI)),
    Case("emoji_and_rtl_round_trip_jsonl",
         {"p.jsonl": (json.dumps({**BASE, "caption": RTL_EMOJI}, ensure_ascii=False) + "\n")
          .encode()}, posts=1, check=_caption(RTL_EMOJI)),
    Case("row_with_too_many_fields", {"p.csv": csv_bytes([row()]) + b"a,b,c\n"},
         rejects=[(2, "csv_field_count", None)], posts=1),
    Case("empty_required_id", {"p.csv": csv_bytes([row(post_id="  ")])},
         rejects=[(1, "required_value", "post_id")]),
    Case("unknown_platform", {"p.csv": csv_bytes([row(platform="myspace")])},
         rejects=[(1, "enum_value", "platform")]),
    Case("extra_column_not_json_object", {"p.csv": csv_bytes([row(extra="[1, 2]")])},
         rejects=[(1, "json_shape", "extra")]),
    Case("duplicate_header_column",
         {"p.csv": b"post_id,likes,likes\np1,1,2\n"},
         error=("csv_header", ["column 'likes'", "duplicate"])),
    Case("json_bool_and_object_likes",
         {"p.json": json.dumps([{**BASE, "likes": True}, {**BASE, "likes": {"n": 3}}]).encode()},
         rejects=[(1, "parse_int", "likes"), (2, "parse_int", "likes")]),
    Case("json_not_array_or_object", {"p.json": b"42"},
         error=("json_shape", ["p.json", "array of records or an object", "got 42"])),
    Case("json_syntax_error", {"p.json": b'[{"post_id": "p1",]'},
         error=("json_syntax", ["p.json", "line 1, column 19"])),
    Case("jsonl_one_bad_line",
         {"p.jsonl": (json.dumps(BASE) + "\n{not json\n" + json.dumps(BASE) + "\n").encode()},
         rejects=[(2, "json_syntax", None)], posts=2),
    Case("json_wrong_nesting_instagram_graph",
         {"p.json": json.dumps([graph_post(engagement_metrics=[1, 2]), graph_post()]).encode()},
         fmt="instagram_graph", rejects=[(1, "json_shape", "engagement_metrics")], posts=1),
    Case("json_records_not_objects_instagram_graph", {"p.json": b'[1, "two", null]'},
         fmt="instagram_graph",
         rejects=[(1, "json_shape", None), (2, "json_shape", None), (3, "json_shape", None)]),
    Case("linkedin_missing_shares",
         {"p.json": json.dumps({"id": "li1", "text": "hi", "author": "co",
                                "media_type": "NONE", "posting_time": "2025-01-01T09:00:00Z",
                                "audience_size": 10,
                                "engagement_metrics": {"likes": 1, "comments": 0}}).encode()},
         fmt="linkedin_share", posts=1),  # shares is optional: null = "not reported"
    Case("truncated_gzip", {"p.csv.gz": gzip.compress(csv_bytes([row()] * 50))[:-30]},
         error=("gzip", ["p.csv.gz", "not a complete gzip archive"])),
    Case("gzip_csv_works", {"p.csv.gz": gzip.compress(csv_bytes([row()]))}, posts=1),
    Case("parquet_likes_as_strings",
         {"p.parquet": parquet_writer(pa.Table.from_pylist(
             [row(likes="7"), row(post_id="p2", likes="x")]))},
         rejects=[(2, "parse_int", "likes")], posts=1, check=_likes([7])),
    Case("parquet_zero_rows_with_schema",
         {"p.parquet": parquet_writer(pa.Table.from_pylist([row()]).slice(0, 0))}, posts=0),
    Case("parquet_missing_required_column",
         {"p.parquet": parquet_writer(pa.table({"post_id": ["p1"]}))},
         error=("missing_column", ["p.parquet", "column 'platform'"])),
    Case("parquet_garbage", {"p.parquet": b"PAR1 this is not parquet"},
         error=("parquet", ["p.parquet", "not a readable Parquet file"])),
    Case("unknown_format", {"p.csv": csv_bytes([row()])}, fmt="tiktok_api",
         error=("unknown_format", ["fmt must be one of", "got 'tiktok_api'"])),
    Case("missing_path", {}, target="nope/posts.csv",
         error=("missing_path", ["nope/posts.csv", "no such file or folder"])),
    Case("unsupported_suffix", {"p.txt": b"hello"},
         error=("container", ["p.txt", "unsupported file suffix"])),
    Case("folder_without_supported_files", {"notes.txt": b"hi"}, target=".",
         error=("empty_folder", ["no file with a supported suffix", "notes.txt"])),
    Case("nested_format_from_csv", {"p.csv": csv_bytes([row()])}, fmt="twitter_v2",
         error=("container", ["p.csv", "use JSON, JSONL or Parquet"])),
    Case("twitter_v2_missing_includes", {"p.json": json.dumps(tweet_page(False)).encode()},
         fmt="twitter_v2", rejects=[(1, "lookup_missing", "includes.users")],
         check=lambda r: "includes (absent" in r.rejects["reasons"].iloc[0]
         or pytest.fail(r.rejects["reasons"].iloc[0])),
    Case("twitter_v2_media_key_not_in_includes",
         {"p.json": json.dumps(tweet_page(media_type=None)).encode()},
         fmt="twitter_v2", rejects=[(1, "lookup_missing", "includes.media")]),
    Case("twitter_v2_data_not_array",
         {"p.json": json.dumps({"data": "oops", "includes": {}}).encode()},
         fmt="twitter_v2", rejects=[(1, "json_shape", "data")]),
    Case("twitter_v2_string_like_count",
         {"p.jsonl": (json.dumps(tweet_page()) + "\n" + json.dumps(
             tweet_page(public_metrics={"like_count": "lots", "reply_count": 0,
                                        "retweet_count": 0})) + "\n").encode()},
         fmt="twitter_v2", rejects=[(2, "parse_int", "public_metrics.like_count")], posts=1),
    Case("tweets_csv_missing_column", {"t.csv": b"tweet_id,text\n1,hi\n"}, fmt="tweets_csv",
         error=("missing_column", ["t.csv", "tweets_csv", "author_id"])),
    Case("instagram_scrape_url_without_shortcode",
         {"i.csv": b"alias,url,date,isVideo,multipleImage,numberLikes,numberFollowers,n_tags,"
                   b"n_mentions,description\nbob,https://example.com/x,2017-04-01,False,"
                   b"False,3,100,0,0,hi\n"},
         fmt="instagram_scrape_csv", rejects=[(1, "parse_post_id", "url")]),
    Case("instagram_scrape_bad_bool",
         {"i.csv": b"alias,url,date,isVideo,multipleImage,numberLikes,numberFollowers,n_tags,"
                   b"n_mentions,description\nbob,https://www.instagram.com/p/AbC/,2017-04-01,"
                   b"maybe,False,3,100,0,0,hi\n"},
         fmt="instagram_scrape_csv", rejects=[(1, "parse_bool", "isVideo")]),
    Case("facebook_month_13",
         {"f.csv": b"Page total likes;Type;Post Month;Post Weekday;Post Hour;comment;like;share\n"
                   b"100;Photo;13;2;9;1;2.0;0.0\n100;Photo;12;2;9;1;2.0;0.0\n"},
         fmt="facebook_uci", rejects=[(1, "parse_datetime", "Post Month")], posts=1,
         check=_posted("2014-12-01T09:00:00Z")),
    # --- issue 14: hostile files ------------------------------------------------------
    Case("json_record_nested_beyond_the_recursion_limit",
         {"p.json": json_array(json.dumps(BASE), f'{{"post_id": "p2", "x": {deep_value()}}}',
                               json.dumps(BASE))},
         rejects=[(2, "json_depth", None)], posts=2, check=_depth_reject),
    Case("json_document_nested_beyond_the_recursion_limit", {"p.json": deep_value().encode()},
         rejects=[(1, "json_depth", None)]),
    Case("json_object_document_nested_beyond_the_recursion_limit",
         {"p.json": ('{"a": ' * DEEP + "1" + "}" * DEEP).encode()},
         rejects=[(1, "json_depth", None)]),
    Case("json_record_deeper_than_max_json_depth",
         {"p.json": json_array(json.dumps({**BASE, "x": json.loads(deep_value(70))}),
                               json.dumps(BASE))},
         rejects=[(1, "json_depth", None)], posts=1),
    Case("jsonl_deep_line_quarantined_alone_next_line_kept",
         {"p.jsonl": (json.dumps(BASE) + "\n" + deep_value() + "\n"
                      + json.dumps({**BASE, "post_id": "p3"}) + "\n").encode()},
         rejects=[(2, "json_depth", None)], posts=2,
         check=lambda r: r.posts["post_id"].tolist() == ["p1", "p3"] or pytest.fail("lost")),
    Case("twitter_v2_deep_page_in_jsonl",
         {"p.jsonl": (deep_value() + "\n" + json.dumps(tweet_page()) + "\n").encode()},
         fmt="twitter_v2", rejects=[(1, "json_depth", None)], posts=1),
    Case("json_lone_surrogate_in_caption",
         {"p.json": json.dumps([BASE, {**BASE, "post_id": "p2", "caption": "a\ud800b"},
                                {**BASE, "post_id": "p3"}]).encode()},
         rejects=[(2, "lone_surrogate", "caption")], posts=2, check=_lone_surrogate_reject),
    Case("jsonl_lone_surrogate_in_caption",
         {"p.jsonl": "".join(json.dumps(r) + "\n" for r in [
             {**BASE, "caption": "\ud800"}, {**BASE, "post_id": "p2"}]).encode()},
         rejects=[(1, "lone_surrogate", "caption")], posts=1, check=_lone_surrogate_reject),
    Case("instagram_graph_lone_surrogate_in_caption",
         {"p.json": json.dumps([graph_post(caption="\ud800 sunset"), graph_post(id="ig2")]
                               ).encode()},
         fmt="instagram_graph", rejects=[(1, "lone_surrogate", "caption")], posts=1),
    Case("twitter_v2_lone_surrogate_in_text",
         {"p.json": json.dumps(tweet_page(text="hi \udfff")).encode()},
         fmt="twitter_v2", rejects=[(1, "lone_surrogate", "text")]),
    Case("lone_surrogate_in_an_extra_field_is_kept_escaped",
         {"p.jsonl": (json.dumps({**BASE, "note": "\ud800"}) + "\n").encode()}, posts=1,
         check=lambda r: json.loads(r.posts["extra"].iloc[0])["note"] == "\ud800"
         or pytest.fail(r.posts["extra"].iloc[0])),
    Case("fifo_named_csv", {"x.csv": fifo},
         error=("not_regular_file", ["x.csv", "a FIFO (named pipe)", "not a regular file"])),
    Case("csv_symlink_to_dev_urandom", {"x.csv": link_to("/dev/urandom")},
         error=("not_regular_file", ["x.csv", "a character device", "/dev/urandom"])),
    Case("folder_named_like_a_file_in_a_folder",
         {"a.csv": csv_bytes([row()]), "b.csv": folder_named_like_a_file}, target=".",
         error=("not_regular_file", ["1 of 2 file(s)", "b.csv", "is a folder"])),
    Case("file_over_max_file_mb", {"p.csv": csv_bytes([row(caption="x" * (1 << 20))] * 2)},
         limits=limits(max_file_mb=1),
         error=("max_file_mb", ["p.csv", "collect.max_file_mb = 1 MiB",
                                "raise collect.max_file_mb in params.yaml", "got '2.0 MiB'"])),
    Case("gzip_over_max_file_mb_once_decompressed",
         {"p.csv.gz": gzip.compress(csv_bytes([row(caption="x" * (1 << 20))] * 3))},
         limits=limits(max_file_mb=1),
         error=("max_file_mb", ["p.csv.gz", "the decompressed content",
                                "collect.max_file_mb = 1 MiB"])),
    Case("one_row_5000_extra_columns", {"p.csv": WIDE_CSV},
         error=("max_columns", ["p.csv", "5012 columns", "collect.max_columns = 500",
                                "raise collect.max_columns"])),
    Case("json_records_with_5000_keys",
         {"p.json": json.dumps([dict(zip(WIDE_HEADER, ["1"] * len(WIDE_HEADER),
                                         strict=True))]).encode()},
         error=("max_columns", ["p.json", "collect.max_columns = 500"])),
    Case("parquet_with_600_columns",
         {"p.parquet": parquet_writer(pa.table({f"c{i}": [1] for i in range(600)}))},
         error=("max_columns", ["p.parquet", "600 columns"])),
    Case("csv_in_chunks_numbers_rows_across_the_file",
         {"p.csv": csv_bytes([row(post_id=f"p{i}") for i in range(3)] + [row(likes="x")]
                             + [row(post_id="p9")]) + b"a,b\n"},
         limits=limits(chunk_rows=2),
         rejects=[(4, "parse_int", "likes"), (6, "csv_field_count", None)], posts=4,
         check=lambda r: r.posts["post_id"].tolist() == ["p0", "p1", "p2", "p9"]
         or pytest.fail(r.posts["post_id"].tolist())),
    Case("facebook_unknown_type",
         {"f.csv": b"Page total likes;Type;Post Month;Post Weekday;Post Hour;comment;like;share\n"
                   b"100;Event;1;1;0;1;2;0\n"},
         fmt="facebook_uci", rejects=[(1, "enum_value", "Type")]),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_gives_rejects_or_one_collect_error(case: Case, tmp_path: Path) -> None:
    for name, content in case.files.items():
        if callable(content):
            content(tmp_path / name)
        else:
            (tmp_path / name).write_bytes(content)
    target = tmp_path / (case.target or next(iter(case.files)))
    options = {} if case.limits is None else {"limits": case.limits}

    if case.error is not None:
        rule, fragments = case.error
        with pytest.raises(CollectError) as caught:
            read_posts(target, case.fmt, **options)
        message = str(caught.value)
        assert caught.value.rule == rule
        assert f"rule {rule!r}" in message
        for fragment in fragments:
            assert fragment in message, message
        return

    result = read_posts(target, case.fmt, **options)
    assert result.records_read == len(result.posts) + len(result.rejects)
    result.posts.to_parquet(io.BytesIO())  # what the raw layer writes: always storable
    result.rejects.to_parquet(io.BytesIO())
    assert len(result.posts) == case.posts
    assert list(result.posts.columns) == list(schema.COLUMN_NAMES)
    assert list(result.rejects.columns) == list(schema.QUARANTINE_COLUMNS)
    seen = [(int(r.source_row), r.rule, None if pd.isna(r.column) else r.column)
            for r in result.rejects.itertuples()]
    assert seen == case.rejects, result.rejects[["source_row", "rule", "column", "value"]]
    if len(result.rejects):
        assert set(result.rejects["stage"]) == {"collect"}
        assert set(result.rejects["source_file"]) == {str(target)}
        for reasons, record in zip(result.rejects["reasons"], result.rejects["record"],
                                   strict=True):
            assert json.loads(reasons)[0]["rule"] in {r for _, r, _ in case.rejects}
            json.loads(record)  # the original record is kept as valid JSON
    if case.check is not None:
        case.check(result)


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= 30


def test_5000_extra_columns_are_refused_quickly(tmp_path: Path) -> None:
    path = tmp_path / "wide.csv"
    path.write_bytes(WIDE_CSV)
    started = time.perf_counter()
    with pytest.raises(CollectError, match="max_columns"):
        read_posts(path, "canonical")
    assert time.perf_counter() - started < 1.0  # was ~13 s before the limit


class _RewrittenWhileRead:
    """Opens files as the reader does, and appends rows to the file after the first block
    was read (a writer still at work); ``times`` reads are disturbed, later ones not."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, times: int) -> None:
        self.left = times
        real = source_file.SourceFile.__init__

        def opened(this: source_file.SourceFile, path: Path, limits: ReadLimits) -> None:
            real(this, path, limits)
            if self.left:
                self.left -= 1
                this.stream.peek(1)  # the reader has started
                with open(path, "ab") as writer:
                    writer.write(csv_bytes([row(post_id="late")] * 100).split(b"\n", 1)[1])

        monkeypatch.setattr(source_file.SourceFile, "__init__", opened)


def test_a_file_rewritten_during_every_read_is_refused_not_taken_partially(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "p.csv"
    path.write_bytes(csv_bytes([row(post_id=f"p{i}") for i in range(500)]))
    _RewrittenWhileRead(monkeypatch, times=2)
    with pytest.raises(CollectError) as caught:
        read_posts(path, "canonical")
    assert caught.value.rule == "file_changed"
    message = str(caught.value)
    for fragment in ("p.csv", "changed while it was read", "nothing was taken",
                     "rename them into place"):
        assert fragment in message, message


def test_a_file_that_changed_once_is_read_again_whole(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "p.csv"
    path.write_bytes(csv_bytes([row(post_id=f"p{i}") for i in range(500)]))
    _RewrittenWhileRead(monkeypatch, times=1)
    result = read_posts(path, "canonical")
    assert result.records_read == len(result.posts) == 600  # the whole file, read again
