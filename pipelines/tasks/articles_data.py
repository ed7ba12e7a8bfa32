"""Articles for the article-engagement tasks: the canonical article table, a seeded demo
generator, the reader of the Hacker News CSV, and the data contract (row rules quarantine,
table rules stop the run).

One row is one submitted article: its title, link (``url``, absent for a text post such as
"Ask HN"), author, submission time and the two outcomes, ``points`` and ``comments``.

Time: the Hacker News file writes ``created_at`` as ``M/D/YYYY H:MM`` with no zone; it is
read as UTC (the order of articles, the only thing the tasks use it for, does not depend
on the zone; the hour-of-day features do, by a constant shift).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pipelines.validate import entity_contract

if TYPE_CHECKING:
    from pipelines.collect.formats import ReadLimits

logger = logging.getLogger(__name__)

#: Canonical column -> (pandas dtype, the Hacker News header name).
COLUMNS: dict[str, tuple[str, str]] = {
    "article_id": ("object", "id"),
    "title": ("object", "title"),
    "url": ("object", "url"),
    "author": ("object", "author"),
    "created_at": ("datetime64[ns, UTC]", "created_at"),
    "points": ("int64", "num_points"),
    "comments": ("int64", "num_comments"),
}
#: What a client sends to score an article (the registered model's input schema).
INPUT_COLUMNS: tuple[str, ...] = ("title", "url", "author", "created_at")
OUTCOME_COLUMNS: tuple[str, ...] = ("points", "comments")
#: Columns of an articles quarantine file: one row per rejected record, never dropped.
QUARANTINE_COLUMNS: tuple[str, ...] = entity_contract.quarantine_columns("article_id")
#: Fields a record may leave empty (a text post has no link).
OPTIONAL_FIELDS: frozenset[str] = frozenset({"url"})
CREATED_AT_FORMAT = "%m/%d/%Y %H:%M"


def conform(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with the canonical columns, in order, at their dtypes (extra columns go).

    Raises:
        ValueError: naming the missing columns.
    """
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"conform: article column(s) {missing} are missing; got "
                         f"{list(frame.columns)}.")
    out = {}
    for column, (dtype, _) in COLUMNS.items():
        values = frame[column]
        if column == "created_at":
            out[column] = pd.to_datetime(values, utc=True).astype(dtype)
        elif column == "url":
            out[column] = values.astype(object).where(values.notna(), None)
        else:
            out[column] = values.astype(dtype)
    return pd.DataFrame(out)


def quarantine_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """An articles quarantine frame from dicts keyed by :data:`QUARANTINE_COLUMNS`."""
    return entity_contract.quarantine_frame(rows, "article_id")


# ------------------------------------------------------------------------------ demo data
_TOPICS = ("Rust", "Python", "PostgreSQL", "Linux", "GPUs", "SQLite", "Kubernetes", "Go",
           "WebAssembly", "the JVM", "TLS", "compilers", "Emacs", "startups", "climate")
_PATTERNS = (("Show HN: A tiny {t} toolkit I built", 0.5), ("Ask HN: How do you learn {t}?", 0.1),
             ("Why {t} is slow, and how we fixed it", 0.4), ("{t} 2.0 released", 0.8),
             ("An introduction to {t}", -0.3), ("The hidden cost of {t}", 0.2),
             ("I quit my job to work on {t}", 0.3), ("{t} internals explained", 0.1))
_DOMAINS = (("github.com", 0.3), ("medium.com", -0.4), ("nytimes.com", 0.6),
            ("arxiv.org", 0.2), ("techcrunch.com", 0.0), ("blog.example.org", -0.2),
            ("youtube.com", -0.5), ("bloomberg.com", 0.5))


def generate_articles(rows: int, authors: int, seed: int) -> pd.DataFrame:
    """Seeded synthetic articles in the canonical schema, shaped like the Hacker News file.

    An author's skill (a latent level, shared by all their articles), the title pattern,
    the domain and the hour of day shift the log of the expected points; points are
    negative binomial around it (heavy-tailed, most articles get a few points, some
    thousands); comments follow points. About 1 in 8 articles has no link (an "Ask HN").
    Articles are in time order over one year.

    Raises:
        ValueError: if ``rows`` or ``authors`` < 1 or ``seed`` < 0.
    """
    for name, value, low in (("rows", rows, 1), ("authors", authors, 1), ("seed", seed, 0)):
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise ValueError(f"generate_articles: {name!r} must be an int >= {low}; "
                             f"got {value!r}.")
    rng = np.random.default_rng(seed)
    skill = rng.normal(0.0, 0.8, size=authors)
    # a few prolific authors, many occasional ones
    author = rng.choice(authors, size=rows, p=rng.dirichlet(np.full(authors, 0.3)))
    start = pd.Timestamp("2025-01-01", tz="UTC")
    seconds = np.sort(rng.uniform(0, 365 * 86_400, size=rows))
    created = start + pd.to_timedelta(np.round(seconds / 60) * 60, unit="s")
    pattern = rng.integers(len(_PATTERNS), size=rows)
    topic = rng.integers(len(_TOPICS), size=rows)
    domain = rng.integers(len(_DOMAINS), size=rows)
    has_url = rng.random(rows) > 0.12
    hour = created.hour.to_numpy()
    log_mean = (1.6 + skill[author] + np.array([p[1] for p in _PATTERNS])[pattern]
                + np.where(has_url, np.array([d[1] for d in _DOMAINS])[domain], 0.0)
                + 0.4 * np.cos((hour - 15) / 24 * 2 * np.pi)
                + 0.3 * (np.array(topic) < 4))
    points = 1 + rng.negative_binomial(0.6, 0.6 / (0.6 + np.exp(log_mean)))
    comments = rng.negative_binomial(0.8, 0.8 / (0.8 + 0.35 * points))
    titles = [_PATTERNS[p][0].format(t=_TOPICS[t]) for p, t in zip(pattern, topic, strict=True)]
    urls = [f"https://{_DOMAINS[d][0]}/post/{i}" if has else None
            for i, (d, has) in enumerate(zip(domain, has_url, strict=True))]
    frame = pd.DataFrame({
        "article_id": [f"demo-{i:07d}" for i in range(1, rows + 1)],
        "title": titles, "url": urls, "author": [f"author{a:04d}" for a in author],
        "created_at": created, "points": points, "comments": comments})
    return conform(frame)


# ------------------------------------------------------------------------------ the CSV
@dataclass(frozen=True)
class ReadResult:
    """Articles read from a file, and the records that could not be read.

    Attributes:
        articles: Canonical articles.
        rejects: Quarantine rows (:data:`QUARANTINE_COLUMNS`, stage ``collect``).
        records_read: Data records in the file; always ``len(articles) + len(rejects)``.
    """

    articles: pd.DataFrame
    rejects: pd.DataFrame
    records_read: int


def read_hacker_news_csv(path: Path, *, limits: ReadLimits) -> ReadResult:
    """Read the Hacker News CSV (header ``id,title,url,num_points,num_comments,author,
    created_at``) into canonical articles.

    A record is rejected only when a value cannot be read (rules ``field_count``,
    ``decode_utf8``, ``required_value``, ``parse_int``, ``parse_datetime``), with the file,
    row, column, rule and value; values are judged by the row contract (negative points
    pass here). Extra header columns are ignored (logged).

    The file is read under ``limits`` (the ``collect`` params) as the post reader reads one.

    Raises:
        ValueError: if the file cannot be read as CSV text, is empty, or its header lacks a
            column, naming the file and the missing columns.
        CollectError: (a ``ValueError``) for a file that is not a regular file, is over
            ``collect.max_file_mb`` or ``collect.max_columns``, or changed while it was read
            (:func:`pipelines.validate.entity_contract.csv_records`), naming the file and
            the rule.
    """
    path = Path(path)
    records = entity_contract.csv_records(path, reader="read_hacker_news_csv", limits=limits,
                                          encoding="utf-8-sig", errors="surrogateescape")
    if not records:
        raise ValueError(f"read_hacker_news_csv: {path} is empty; expected a header row.")
    header = [h.strip() for h in records[0]]
    wanted = {source: column for column, (_, source) in COLUMNS.items()}
    missing = [h for h in wanted if h not in header]
    if missing:
        raise ValueError(f"read_hacker_news_csv: {path} lacks column(s) {missing}; its header "
                         f"is {header}.")
    ignored = [h for h in header if h not in wanted]
    if ignored:
        logger.info("read_hacker_news_csv: %s: ignoring column(s) %s", path, ignored)
    position = {h: header.index(h) for h in wanted}
    good: list[dict[str, Any]] = []
    rejects: list[dict[str, Any]] = []
    for row, fields in enumerate(records[1:], start=1):
        if len(fields) != len(header):
            reasons = [{"rule": "field_count", "column": "",
                        "value": f"{len(fields)} fields, header has {len(header)}"}]
            article_id = ""
        else:
            raw = {column: fields[position[source]] for source, column in wanted.items()}
            record, reasons = _parse_record(raw)
            article_id = _show(raw["article_id"].strip())
            if not reasons:
                good.append(record)
                continue
        first = reasons[0]
        rejects.append({
            "stage": "collect", "source_file": str(path), "source_row": row,
            "article_id": article_id, "rule": first["rule"], "column": first["column"],
            "value": first["value"], "reasons": json.dumps(reasons),
            "record": json.dumps(dict(zip(header, map(_show, fields), strict=False)))})
    frame = pd.DataFrame(good, columns=list(COLUMNS))
    result = ReadResult(conform(frame), quarantine_frame(rejects), len(records) - 1)
    logger.info("read_hacker_news_csv: %s: %d records, %d articles, %d rejected", path,
                result.records_read, len(result.articles), len(result.rejects))
    return result


def _parse_record(raw: dict[str, str]) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """One record's values at canonical types, and every reason it cannot be read."""
    values: dict[str, Any] = {}
    reasons: list[dict[str, str]] = []
    for column, text in raw.items():
        token = text.strip()
        source = COLUMNS[column][1]
        rule = None
        if _undecodable(text):
            rule = "decode_utf8"
        elif not token:
            if column in OPTIONAL_FIELDS:
                values[column] = None
                continue
            rule = "required_value"
        elif column == "created_at":
            stamp = pd.to_datetime(token, format=CREATED_AT_FORMAT, errors="coerce", utc=True)
            if pd.isna(stamp):
                rule = "parse_datetime"
            else:
                values[column] = stamp
        elif COLUMNS[column][0] == "int64":
            try:
                values[column] = int(token)
            except ValueError:
                rule = "parse_int"
        else:
            values[column] = token
        if rule is not None:
            reasons.append({"rule": rule, "column": source, "value": _show(text)})
    return values, reasons


def _undecodable(text: str) -> bool:
    return any("\udc80" <= ch <= "\udcff" for ch in text)


def _show(text: str) -> str:
    """Text for a reason: undecodable bytes as \\xNN, cut to 200 characters."""
    if _undecodable(text):
        text = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return text[:200]


# --------------------------------------------------------------------------- the contract
#: How articles are keyed: the options of
#: :func:`~pipelines.validate.entity_contract.validate_entity` that the contract function
#: and the article tasks' validate stage
#: (:func:`~pipelines.validate.entity_stage.validate_entity_stage`) both pass.
CONTRACT: dict[str, Any] = {"key": "article_id"}


def validate_articles(articles: pd.DataFrame, earlier_rejects: pd.DataFrame, *,
                      row_suite: dict[str, Any], table_suite: dict[str, Any],
                      as_of: pd.Timestamp, min_rows: int, max_quarantine_rate: float,
                      source: str) -> entity_contract.EntityValidation:
    """Apply the articles contract (:func:`~pipelines.validate.entity_contract.
    validate_entity` with :data:`CONTRACT`): table rules, then row rules, then dataset rules.

    Raises:
        RuntimeError: if rows went missing (rows in != accepted + quarantined): a bug.
    """
    return entity_contract.validate_entity(
        articles, earlier_rejects, row_suite=row_suite, table_suite=table_suite,
        as_of=as_of, min_rows=min_rows, max_quarantine_rate=max_quarantine_rate,
        source=source, **CONTRACT)
