"""``instagram_scrape_csv``: the layout of ``shared/data/instagram_2017/instagram_posts.csv``.

Platform instagram, alias → account_id, the shortcode of ``url`` (``/p/<code>/``) → post_id,
``date`` → posted_at (day resolution), isVideo → video, multipleImage → carousel, else
image, numberLikes → likes, numberFollowers → followers_at_post_time, n_tags →
hashtags_count, n_mentions → mentions_count, description → caption, scrape_commit_date →
collected_at, all other columns → extra. Every row is a post on the account's own profile
(Instagram has no reply or repost posts), so post_kind is original. The file has no
comment or share counts: ``comments`` and ``shares`` are left missing (<NA>), not 0,
because 0 would be a false observation; the validation stage decides what to do with them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from pipelines.collect.formats.containers import Loaded
from pipelines.collect.formats.flat import extra_series, frame_record, require_columns
from pipelines.collect.formats.spec import FileFormat, Issue, Mapped
from pipelines.collect.formats.values import missing_mask, parse_bool

NAME = "instagram_scrape_csv"


def _map(loaded: Loaded, path: Path) -> Mapped:
    needed = ["alias", "url", "date", "isVideo", "multipleImage", "numberLikes",
              "numberFollowers", "n_tags", "n_mentions", "description"]
    frame = require_columns(loaded, path, NAME, needed)
    issues: list[Issue] = []
    shortcode = frame["url"].map(lambda v: v if isinstance(v, str) else "").str.extract(
        r"/p/([A-Za-z0-9_-]+)", expand=False)
    no_code = shortcode.isna() & ~missing_mask(frame["url"])
    issues += [(row, "parse_post_id", "url", frame.at[row, "url"],
                "no /p/<shortcode>/ in the post URL") for row in frame.index[no_code]]
    is_video, video_bad, _ = parse_bool(frame["isVideo"])
    multiple, multiple_bad, _ = parse_bool(frame["multipleImage"])
    for name, bad in (("isVideo", video_bad), ("multipleImage", multiple_bad)):
        issues += [(row, "parse_bool", name, frame.at[row, name], "expected True or False")
                   for row in frame.index[bad]]
    content = np.where(is_video.eq(True), "video",
                       np.where(multiple.eq(True), "carousel", "image"))
    values = pd.DataFrame({
        "post_id": shortcode.where(shortcode.notna(), None), "platform": "instagram",
        "account_id": frame["alias"], "posted_at": frame["date"], "content_type": content,
        "post_kind": "original",
        "caption": frame["description"], "hashtags_count": frame["n_tags"],
        "mentions_count": frame["n_mentions"], "followers_at_post_time":
        frame["numberFollowers"], "likes": frame["numberLikes"],
    }, index=frame.index)
    source_of = {"post_id": "url", "account_id": "alias", "posted_at": "date",
                 "caption": "description", "hashtags_count": "n_tags",
                 "mentions_count": "n_mentions", "followers_at_post_time": "numberFollowers",
                 "likes": "numberLikes"}
    if "scrape_commit_date" in frame.columns:
        values["collected_at"] = frame["scrape_commit_date"]
        source_of["collected_at"] = "scrape_commit_date"
    used = set(needed) - {"url", "isVideo", "multipleImage"} | {"scrape_commit_date"}
    extra_cols = [c for c in frame.columns if c not in used]
    notes = {"followers_measured": "at_collection", "posted_at_resolution": "day",
             "missing_in_source": ["comments", "shares"]}
    extra = extra_series(frame, extra_cols, notes, rename={"content_type": "source_content_type"})
    return Mapped(values, source_of, extra, issues, frame_record(frame, loaded.records))


FORMAT = FileFormat(
    name=NAME,
    help="The instagram_2017/instagram_posts.csv scrape layout; no comment or share counts "
         "(CSV, JSON, JSONL, Parquet).",
    map=_map,
)
