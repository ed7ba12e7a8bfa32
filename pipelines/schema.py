"""The canonical post schema: one versioned shape every connector maps into.

A post row is one published post with the outcome counts seen when it was collected.
Required: identity, platform, time, content type, followers and likes (the primary target).
Everything a source may not report (caption in the UCI Facebook file, comments and shares in
the 2017 Instagram scrape, saves, impressions, reach) is nullable: null means "not reported",
never zero. Fields a source reports that the schema has no column for are kept as JSON in
``extra``.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

SCHEMA_VERSION = "1.1"

PLATFORMS: tuple[str, ...] = ("instagram", "facebook", "linkedin", "twitter")
CONTENT_TYPES: tuple[str, ...] = ("image", "video", "carousel", "text", "link")
#: What a post is to other posts: its own post, a reply to one, a quote of one (a repost with
#: a comment of its own), or a share (a plain repost). Null when the source does not say.
POST_KINDS: tuple[str, ...] = ("original", "reply", "quote", "share")


@dataclass(frozen=True)
class Column:
    """One column of the canonical schema.

    Attributes:
        name: Column name.
        dtype: The pandas dtype the column is stored with.
        required: Whether every source must provide it (rows without it are invalid).
        description: What the column means, for docs and error messages.
    """

    name: str
    dtype: str
    required: bool
    description: str


COLUMNS: tuple[Column, ...] = (
    Column("post_id", "string", True, "Post id, unique per platform."),
    Column("platform", "string", True, f"One of {', '.join(PLATFORMS)}."),
    Column("account_id", "string", True, "The publishing account."),
    Column("campaign_id", "string", False, "Marketing campaign, if any."),
    Column("posted_at", "datetime64[ns, UTC]", True, "Publication time, UTC."),
    Column("content_type", "string", True, f"One of {', '.join(CONTENT_TYPES)}."),
    Column("post_kind", "string", False,
           f"One of {', '.join(POST_KINDS)} (a reply, quote or share of another post)."),
    Column("caption", "string", False, "Post text (may be empty)."),
    Column("hashtags_count", "Int64", False, "Number of hashtags in the post."),
    Column("mentions_count", "Int64", False, "Number of @mentions in the post."),
    Column("urls_count", "Int64", False, "Number of links in the post."),
    Column("media_count", "Int64", False, "Number of attached media items."),
    Column("followers_at_post_time", "Int64", True, "Account followers when posted."),
    Column("likes", "Int64", True, "Likes (reactions) when collected."),
    Column("comments", "Int64", False, "Comments (replies) when collected."),
    Column("shares", "Int64", False, "Shares (retweets, reposts) when collected."),
    Column("saves", "Int64", False, "Saves/bookmarks when collected."),
    Column("impressions", "Int64", False, "Impressions when collected."),
    Column("reach", "Int64", False, "Unique accounts reached when collected."),
    Column("collected_at", "datetime64[ns, UTC]", False, "When the counts were read, UTC."),
    Column("source", "string", False, "Connector that produced the row."),
    Column("extra", "string", False, "Source fields without a column, as a JSON object."),
)

COLUMN_NAMES: tuple[str, ...] = tuple(c.name for c in COLUMNS)
REQUIRED_COLUMNS: tuple[str, ...] = tuple(c.name for c in COLUMNS if c.required)
COUNT_COLUMNS: tuple[str, ...] = tuple(c.name for c in COLUMNS if c.dtype == "Int64")
OUTCOME_COLUMNS: tuple[str, ...] = ("likes", "comments", "shares", "saves", "impressions", "reach")
DTYPES: dict[str, str] = {c.name: c.dtype for c in COLUMNS}


def empty_posts() -> pd.DataFrame:
    """Return a zero-row frame with every canonical column at its canonical dtype."""
    return conform(pd.DataFrame(columns=list(COLUMN_NAMES)))


def conform(frame: pd.DataFrame) -> pd.DataFrame:
    """Return ``frame`` with all canonical columns, in order, at their canonical dtypes.

    Missing optional columns are added as nulls. Values must already be convertible
    (connectors coerce and quarantine first); columns not in the schema are dropped,
    so callers put them in ``extra`` before calling.

    Raises:
        ValueError: if a required column is missing, naming the columns.
    """
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(
            f"conform: required canonical column(s) {missing} are missing; "
            f"got columns {list(frame.columns)}."
        )
    out = {}
    for column in COLUMNS:
        values = frame[column.name] if column.name in frame.columns else pd.Series(
            pd.NA, index=frame.index, dtype="object"
        )
        if str(values.dtype) == column.dtype:   # already canonical: a copy, not a parse
            out[column.name] = values.copy()
        elif column.dtype.startswith("datetime"):
            out[column.name] = pd.to_datetime(values, utc=True).astype(column.dtype)
        else:
            out[column.name] = values.astype(column.dtype)
    # built at once: inserting column by column re-allocates the frame's blocks
    return pd.DataFrame(out, index=frame.index)


#: Columns of a quarantine file: one row per rejected input record, never dropped.
QUARANTINE_COLUMNS: tuple[str, ...] = (
    "stage",        # collect (could not be parsed) or validate (failed an expectation)
    "source_file",  # the input file (or API endpoint) the record came from
    "source_row",   # 1-based record number in that file (data rows, header excluded)
    "post_id",      # the record's id where one could be read
    "rule",         # the first failed rule, e.g. expect_column_values_to_be_between
    "column",       # the column that rule was about
    "value",        # the offending value, as text (truncated to 200 characters)
    "reasons",      # JSON list of every {"rule", "column", "value"} the record failed
    "record",       # the whole original record as JSON, so nothing is lost
)


def quarantine_frame(rows: list[dict[str, object]]) -> pd.DataFrame:
    """Build a quarantine frame from dicts keyed by :data:`QUARANTINE_COLUMNS`.

    Missing keys become nulls; every column is stored as text except ``source_row``.
    """
    frame = pd.DataFrame(rows, columns=list(QUARANTINE_COLUMNS))
    for name in QUARANTINE_COLUMNS:
        frame[name] = frame[name].astype("Int64" if name == "source_row" else "string")
    return frame
