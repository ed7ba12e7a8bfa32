"""News articles for the ``news_shares`` task: the canonical table, a seeded demo
generator and the reader of the UCI "Online News Popularity" CSV (Mashable).

One row is one published article: its URL (the key), its publication day (from the
``/YYYY/MM/DD/`` part of the URL: the file's ``timedelta`` counts days back from the
acquisition and is kept as it is), 58 content, keyword, self-reference, weekday, topic
(LDA) and sentiment features computed by the data's authors, and ``shares``.

The contract is the articles one's machinery (:func:`pipelines.tasks.articles_data.
validate_articles`, key ``article_id``) with its own suites (``expectations/news_*``).
"""

from __future__ import annotations

import json
import logging
import math
import re
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from pipelines.tasks.articles_data import ReadResult, quarantine_frame
from pipelines.validate.entity_contract import csv_records

if TYPE_CHECKING:
    from pipelines.collect.formats import ReadLimits

logger = logging.getLogger(__name__)

#: The UCI file's feature columns, in file order (``url``, ``timedelta`` and ``shares`` aside).
FEATURES: tuple[str, ...] = (
    "n_tokens_title", "n_tokens_content", "n_unique_tokens", "n_non_stop_words",
    "n_non_stop_unique_tokens", "num_hrefs", "num_self_hrefs", "num_imgs", "num_videos",
    "average_token_length", "num_keywords", "data_channel_is_lifestyle",
    "data_channel_is_entertainment", "data_channel_is_bus", "data_channel_is_socmed",
    "data_channel_is_tech", "data_channel_is_world", "kw_min_min", "kw_max_min", "kw_avg_min",
    "kw_min_max", "kw_max_max", "kw_avg_max", "kw_min_avg", "kw_max_avg", "kw_avg_avg",
    "self_reference_min_shares", "self_reference_max_shares", "self_reference_avg_sharess",
    "weekday_is_monday", "weekday_is_tuesday", "weekday_is_wednesday", "weekday_is_thursday",
    "weekday_is_friday", "weekday_is_saturday", "weekday_is_sunday", "is_weekend", "LDA_00",
    "LDA_01", "LDA_02", "LDA_03", "LDA_04", "global_subjectivity", "global_sentiment_polarity",
    "global_rate_positive_words", "global_rate_negative_words", "rate_positive_words",
    "rate_negative_words", "avg_positive_polarity", "min_positive_polarity",
    "max_positive_polarity", "avg_negative_polarity", "min_negative_polarity",
    "max_negative_polarity", "title_subjectivity", "title_sentiment_polarity",
    "abs_title_subjectivity", "abs_title_sentiment_polarity")
#: Canonical column -> pandas dtype.
COLUMNS: dict[str, str] = {"article_id": "object", "published_at": "datetime64[ns, UTC]",
                           "timedelta": "float64", **dict.fromkeys(FEATURES, "float64"),
                           "shares": "int64"}
_DATE = re.compile(r"/(\d{4})/(\d{2})/(\d{2})/")
_CHANNELS = FEATURES[11:17]
_WEEKDAYS = FEATURES[29:36]


def conform(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with the canonical columns, in order, at their dtypes.

    Raises:
        ValueError: naming the missing columns.
    """
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"conform: news column(s) {missing[:5]}{'...' if len(missing) > 5 else ''}"
                         f" are missing ({len(missing)} in all).")
    return pd.DataFrame({c: (pd.to_datetime(frame[c], utc=True).astype(dtype)
                             if c == "published_at" else frame[c].astype(dtype))
                         for c, dtype in COLUMNS.items()})


def generate_news(rows: int, seed: int) -> pd.DataFrame:
    """Seeded synthetic news articles in the canonical schema, shaped like the UCI file:
    one topic channel and one weekday per article, topic weights summing to 1, keyword
    statistics, and log shares that rise with images, links, keyword popularity and
    weekends, differ by channel, and carry much unexplained noise (as real shares do).

    Raises:
        ValueError: if ``rows`` < 1 or ``seed`` < 0.
    """
    for name, value, low in (("rows", rows, 1), ("seed", seed, 0)):
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise ValueError(f"generate_news: {name!r} must be an int >= {low}; got {value!r}.")
    rng = np.random.default_rng(seed)
    day = np.sort(rng.integers(0, 180, size=rows))
    published = pd.Timestamp("2025-01-01", tz="UTC") + pd.to_timedelta(day, unit="D")
    out: dict[str, np.ndarray] = {}
    out["n_tokens_title"] = rng.integers(4, 18, rows).astype(float)
    out["n_tokens_content"] = np.round(np.exp(rng.normal(6.0, 0.7, rows)))
    for name, low, high in (("n_unique_tokens", 0.4, 0.75), ("n_non_stop_words", 0.99, 1.0),
                            ("n_non_stop_unique_tokens", 0.6, 0.85),
                            ("average_token_length", 4.3, 4.9)):
        out[name] = rng.uniform(low, high, rows)
    for name, mean in (("num_hrefs", 10), ("num_self_hrefs", 3), ("num_imgs", 4),
                       ("num_videos", 1)):
        out[name] = rng.poisson(mean, rows).astype(float)
    out["num_keywords"] = rng.integers(3, 11, rows).astype(float)
    channel = rng.integers(0, len(_CHANNELS) + 1, rows)          # the last: no channel
    for i, name in enumerate(_CHANNELS):
        out[name] = (channel == i).astype(float)
    kw_level = rng.normal(0, 1, rows)
    for name, base in (("kw_min_min", 0), ("kw_max_min", 1000), ("kw_avg_min", 300),
                       ("kw_min_max", 10_000), ("kw_max_max", 800_000),
                       ("kw_avg_max", 250_000), ("kw_min_avg", 1000), ("kw_max_avg", 5000),
                       ("kw_avg_avg", 3000)):
        out[name] = np.round(base * np.exp(0.5 * kw_level + rng.normal(0, 0.3, rows)))
    refs = np.exp(rng.normal(7.5, 1.0, rows))
    out["self_reference_min_shares"] = np.round(refs * 0.5)
    out["self_reference_max_shares"] = np.round(refs * 2)
    out["self_reference_avg_sharess"] = np.round(refs)
    weekday = published.weekday.to_numpy()
    for i, name in enumerate(_WEEKDAYS):
        out[name] = (weekday == i).astype(float)
    out["is_weekend"] = (weekday >= 5).astype(float)
    topics = rng.dirichlet(np.full(5, 0.5), rows)
    for i in range(5):
        out[f"LDA_0{i}"] = topics[:, i]
    for name, low, high in (("global_subjectivity", 0.3, 0.6),
                            ("global_sentiment_polarity", -0.1, 0.3),
                            ("global_rate_positive_words", 0.02, 0.06),
                            ("global_rate_negative_words", 0.0, 0.03),
                            ("avg_positive_polarity", 0.25, 0.45),
                            ("min_positive_polarity", 0.03, 0.1),
                            ("max_positive_polarity", 0.6, 1.0),
                            ("avg_negative_polarity", -0.4, -0.15),
                            ("min_negative_polarity", -1.0, -0.4),
                            ("max_negative_polarity", -0.15, -0.05),
                            ("title_subjectivity", 0.0, 1.0),
                            ("title_sentiment_polarity", -0.5, 0.5)):
        out[name] = rng.uniform(low, high, rows)
    out["rate_positive_words"] = rng.uniform(0.5, 0.9, rows)
    out["rate_negative_words"] = 1 - out["rate_positive_words"]
    out["abs_title_subjectivity"] = np.abs(0.5 - out["title_subjectivity"])
    out["abs_title_sentiment_polarity"] = np.abs(out["title_sentiment_polarity"])
    log_shares = (7.2 + 0.15 * np.log1p(out["num_imgs"]) + 0.1 * np.log1p(out["num_hrefs"])
                  + 0.25 * kw_level + 0.2 * out["is_weekend"]
                  + np.array([0.1, -0.2, -0.1, 0.4, 0.0, -0.3, 0.2])[channel]
                  + 0.1 * np.log(refs / 1800) + rng.normal(0, 0.8, rows))
    frame = pd.DataFrame({
        "article_id": [f"https://demo.news/{d.strftime('%Y/%m/%d')}/story-{i}/"
                       for i, d in enumerate(published)],
        "published_at": published, "timedelta": (180 - day + 8).astype(float), **out,
        "shares": np.maximum(1, np.round(np.exp(log_shares))).astype("int64")})
    return conform(frame)


def read_online_news_csv(path: Path, *, limits: ReadLimits) -> ReadResult:
    """Read the UCI Online News Popularity CSV (spaces after the commas of its header and
    rows are stripped) into canonical news articles.

    A record is rejected (rules ``field_count``, ``required_value``, ``parse_float``,
    ``parse_int``, ``parse_date``) with the file, row, column, rule and value; ranges are
    the row contract's to judge.

    The file is read under ``limits`` (the ``collect`` params) as the post reader reads one.

    Raises:
        ValueError: if the file cannot be read as CSV, is empty, or lacks a column.
        CollectError: (a ``ValueError``) for a file that is not a regular file, is over
            ``collect.max_file_mb`` or ``collect.max_columns``, or changed while it was read
            (:func:`pipelines.validate.entity_contract.csv_records`), naming the file and
            the rule.
    """
    path = Path(path)
    records = csv_records(path, reader="read_online_news_csv", limits=limits,
                          encoding="utf-8-sig", errors="replace", skipinitialspace=True)
    if not records:
        raise ValueError(f"read_online_news_csv: {path} is empty; expected a header row.")
    header = [h.strip() for h in records[0]]
    wanted = ["url", "timedelta", *FEATURES, "shares"]
    missing = [h for h in wanted if h not in header]
    if missing:
        raise ValueError(f"read_online_news_csv: {path} lacks column(s) {missing}.")
    position = {h: header.index(h) for h in wanted}
    good, rejects = [], []
    for row, fields in enumerate(records[1:], start=1):
        reasons: list[dict[str, str]] = []
        record: dict = {}
        if len(fields) != len(header):
            reasons.append({"rule": "field_count", "column": "",
                            "value": f"{len(fields)} fields, header has {len(header)}"})
        else:
            for column in wanted:
                text = fields[position[column]].strip()
                rule = None
                if not text:
                    rule = "required_value"
                elif column == "url":
                    match = _DATE.search(text)
                    if match is None:
                        rule = "parse_date"
                    else:
                        record["article_id"] = text
                        record["published_at"] = pd.Timestamp(
                            f"{match[1]}-{match[2]}-{match[3]}", tz="UTC")
                else:
                    try:
                        number = float(text)
                    except ValueError:
                        number = math.nan
                    if not math.isfinite(number) or (column == "shares"
                                                     and number != int(number)):
                        rule = "parse_int" if column == "shares" else "parse_float"
                    else:
                        record[column] = int(number) if column == "shares" else number
                if rule:
                    reasons.append({"rule": rule, "column": column, "value": text[:200]})
        if not reasons:
            good.append(record)
            continue
        rejects.append({"stage": "collect", "source_file": str(path), "source_row": row,
                        "article_id": fields[0].strip()[:200] if fields else "",
                        "rule": reasons[0]["rule"], "column": reasons[0]["column"],
                        "value": reasons[0]["value"], "reasons": json.dumps(reasons),
                        "record": json.dumps(dict(zip(header, fields, strict=False)))[:2000]})
    frame = pd.DataFrame(good, columns=list(COLUMNS))
    result = ReadResult(conform(frame), quarantine_frame(rejects), len(records) - 1)
    logger.info("read_online_news_csv: %s: %d records, %d articles, %d rejected", path,
                result.records_read, len(result.articles), len(result.rejects))
    return result
