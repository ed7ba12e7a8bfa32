"""``facebook_uci``: UCI "Facebook metrics" (``dataset_Facebook.csv``, ``;``-separated).

One brand page: post_id ``<file stem>-<row>``, account_id ``uci_brand_page``, Page total
likes → followers_at_post_time, Type Photo/Status/Link/Video → image/text/link/video,
like/comment/share → likes/comments/shares, Lifetime Post Total Reach/Impressions →
reach/impressions, every other column → extra. The file has no caption: caption,
hashtags_count and mentions_count stay missing, and so does post_kind (no column says
whether a post shares another; Type names the media). It has only month, weekday and
hour of 2014, so posted_at is synthesized: the first day of that month in 2014 falling on
that weekday, at that hour, UTC. Weekday 1 is Sunday, 7 Saturday (the file's month
boundaries prove it: its first December post is weekday 2, and 2014-12-01 was a Monday).
``extra["posted_at_synthetic"]`` is true and the three source fields are kept.
"""

from __future__ import annotations

import calendar
from pathlib import Path

import pandas as pd

from pipelines.collect.formats.containers import Loaded
from pipelines.collect.formats.flat import extra_series, frame_record, require_columns
from pipelines.collect.formats.spec import FileFormat, Issue, Mapped
from pipelines.collect.formats.values import parse_int

NAME = "facebook_uci"
_TYPES = {"Photo": "image", "Status": "text", "Link": "link", "Video": "video"}


def _posted_at(month: pd.Series, weekday: pd.Series, hour: pd.Series) -> pd.Series:
    """First day of ``month`` 2014 falling on UCI ``weekday`` (1=Sunday), at ``hour`` UTC."""
    first_weekday = month.map(lambda m: calendar.weekday(2014, int(m), 1))  # Monday = 0
    python_weekday = (weekday.astype("int64") + 5) % 7
    day = 1 + (python_weekday - first_weekday.astype("int64")) % 7
    return pd.to_datetime(pd.DataFrame({"year": 2014, "month": month.astype("int64"),
                                        "day": day, "hour": hour.astype("int64")}), utc=True)


def _map(loaded: Loaded, path: Path) -> Mapped:
    needed = ["Page total likes", "Type", "Post Month", "Post Weekday", "Post Hour",
              "like", "comment", "share"]
    frame = require_columns(loaded, path, NAME, needed)
    issues: list[Issue] = []
    parts = {}
    ok = pd.Series(True, index=frame.index)
    for name, low, high in (("Post Month", 1, 12), ("Post Weekday", 1, 7), ("Post Hour", 0, 23)):
        parsed, bad, missing = parse_int(frame[name])
        out_of_range = ~bad & ~missing & ~parsed.between(low, high).fillna(False)
        failed = bad | missing | out_of_range
        issues += [(row, "parse_datetime", name, frame.at[row, name],
                    f"posted_at needs {name} as a whole number in [{low}, {high}]")
                   for row in frame.index[failed]]
        ok &= ~failed
        parts[name] = parsed
    posted_at = pd.Series(None, index=frame.index, dtype=object)
    if ok.any():
        synthesized = _posted_at(*(parts[n][ok] for n in parts))
        posted_at[ok] = synthesized.dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    type_text = frame["Type"].map(lambda v: v.strip() if isinstance(v, str) else v)
    content = type_text.map(lambda v: _TYPES.get(v, v))
    values = pd.DataFrame({
        "post_id": [f"{path.name.split('.')[0]}-{row}" for row in frame.index],
        "platform": "facebook", "account_id": "uci_brand_page",
        "posted_at": posted_at, "content_type": content,
        "followers_at_post_time": frame["Page total likes"], "likes": frame["like"],
        "comments": frame["comment"], "shares": frame["share"],
    }, index=frame.index)
    source_of = {"content_type": "Type", "followers_at_post_time": "Page total likes",
                 "likes": "like", "comments": "comment", "shares": "share",
                 "posted_at": "Post Month/Post Weekday/Post Hour"}
    optional = {"Lifetime Post Total Reach": "reach",
                "Lifetime Post Total Impressions": "impressions"}
    for src, dst in optional.items():
        if src in frame.columns:
            values[dst] = frame[src]
            source_of[dst] = src
    used = {"Page total likes", "Type", "like", "comment", "share"} | set(optional)
    extra_cols = [c for c in frame.columns if c not in used]
    notes = {"posted_at_synthetic": True, "post_weekday_convention": "1=Sunday",
             "missing_in_source": ["caption", "hashtags_count", "mentions_count"]}
    extra = extra_series(frame, extra_cols, notes)
    return Mapped(values, source_of, extra, issues, frame_record(frame, loaded.records))


FORMAT = FileFormat(
    name=NAME,
    help="UCI Facebook metrics (dataset_Facebook.csv, ';'-separated); posted_at synthesized "
         "from month, weekday and hour of 2014.",
    map=_map,
)
