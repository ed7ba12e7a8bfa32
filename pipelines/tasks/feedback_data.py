"""Campaign feedback for the feedback_sentiment task: the canonical feedback table, a
seeded demo generator and the readers of two real layouts (Twitter US Airline Sentiment,
Women's E-Commerce Clothing Reviews).

One row is one piece of feedback on a campaign: its text (may be empty, in any language,
emoji only, or long), the campaign, optional demographics (``"unknown"`` when missing)
and the human sentiment label ``sentiment``: 0 negative, 1 neutral, 2 positive
(:data:`CLASSES`).

- ``airline_tweets`` (``Tweets.csv``): the airline is the campaign; the label is the
  human ``airline_sentiment``; the user's time zone is the only demographic;
  ``tweet_created`` is ``DD-MM-YYYY HH.MM`` (UTC assumed).
- ``womens_reviews`` (``reviews.csv``): the product class (``Class Name``) is the
  campaign; the text is the title and the review on two lines; the reviewer's age goes to
  an age range; the label comes from the rating: 1-2 negative, 3 neutral, 4-5 positive
  (:data:`RATING_SENTIMENT`). The file has no date: ``created_at`` is a nominal
  :data:`NOMINAL_START` plus the data row number in minutes (it keeps file order only).

Readers judge nothing but what they cannot read (rules ``field_count``,
``required_value``, ``parse_label``, ``parse_rating``, ``parse_int``, ``parse_time``);
the row contract judges the rest (``expectations/feedback_row_contract.json``).
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

#: Sentiment classes by code (the ``sentiment`` column holds the index).
CLASSES: tuple[str, ...] = ("negative", "neutral", "positive")
#: A star rating's sentiment (the women's-reviews file): 1-2 negative, 3 neutral, 4-5 positive.
RATING_SENTIMENT: dict[int, int] = {1: 0, 2: 0, 3: 1, 4: 2, 5: 2}
DEMOGRAPHICS: tuple[str, ...] = ("gender", "age_range", "education", "country", "state",
                                 "timezone")
AGE_RANGES: tuple[str, ...] = ("18-24", "25-34", "35-44", "45-54", "55-64", "65+")
UNKNOWN = "unknown"
NOMINAL_START = pd.Timestamp("2019-01-01", tz="UTC")
SOURCES: tuple[str, ...] = ("demo", "airline_tweets", "womens_reviews")

#: Canonical column -> pandas dtype.
COLUMNS: dict[str, str] = {
    "feedback_id": "object", "created_at": "datetime64[ns, UTC]", "campaign": "object",
    "text": "object", **{c: "object" for c in DEMOGRAPHICS}, "sentiment": "int64"}
#: What a client sends to score feedback (the registered model's input schema).
INPUT_COLUMNS: tuple[str, ...] = ("text", "campaign", *DEMOGRAPHICS)
QUARANTINE_COLUMNS: tuple[str, ...] = entity_contract.quarantine_columns("feedback_id")


def conform(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with the canonical columns in order at their dtypes; missing or blank
    demographics become ``"unknown"``; ``sentiment`` is nullable (``Int64``) where a label
    is not known (feedback to score).

    Raises:
        ValueError: naming the missing columns.
    """
    missing = [c for c in ("feedback_id", "created_at", "campaign", "text", "sentiment")
               if c not in frame.columns]
    if missing:
        raise ValueError(f"conform: feedback column(s) {missing} are missing; got "
                         f"{list(frame.columns)}.")
    out = {}
    for column, dtype in COLUMNS.items():
        if column in DEMOGRAPHICS:
            out[column] = fill_unknown(frame[column] if column in frame.columns
                                       else pd.Series([None] * len(frame), index=frame.index))
        elif column == "sentiment":
            out[column] = frame[column].astype("int64" if frame[column].notna().all()
                                               else "Int64")
        elif column == "created_at":
            out[column] = pd.to_datetime(frame[column], utc=True).astype(dtype)
        else:
            out[column] = frame[column].astype(dtype)
    return pd.DataFrame(out)


def fill_unknown(values: pd.Series) -> pd.Series:
    """Demographic values as stripped strings; missing or blank -> ``"unknown"``."""
    text = values.astype(object).where(values.notna(), "")
    text = text.map(lambda v: str(v).strip())
    return text.where(text != "", UNKNOWN).astype(object)


def age_range(age: Any) -> str:
    """The :data:`AGE_RANGES` bucket of an age in years; ``"unknown"`` when missing or
    outside 18-120."""
    try:
        years = float(age)
    except (TypeError, ValueError):
        return UNKNOWN
    if not np.isfinite(years) or years < 18 or years > 120:
        return UNKNOWN
    for bound, name in zip((25, 35, 45, 55, 65), AGE_RANGES, strict=False):
        if years < bound:
            return name
    return AGE_RANGES[-1]


def quarantine_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """A feedback quarantine frame from dicts keyed by :data:`QUARANTINE_COLUMNS`."""
    return entity_contract.quarantine_frame(rows, "feedback_id")


# ------------------------------------------------------------------------------ demo data
_WORDS = {
    0: ["terrible", "awful", "late", "rude", "broken", "worst", "disappointed", "refund",
        "never again", "cancelled", "hate", "poor quality"],
    1: ["received", "order", "the", "today", "question about", "delivery", "size", "is it",
        "checking", "update on", "available", "tracking"],
    2: ["great", "love", "excellent", "thank you", "perfect", "amazing", "happy", "best",
        "wonderful", "recommend", "fantastic", "nice"],
}
_NON_ENGLISH = {0: "muy malo, nunca más", 1: "je voudrais savoir la livraison",
                2: "sehr gut, vielen Dank"}
_EMOJI = {0: "😠👎", 1: "🤔", 2: "😍👍"}


def generate_feedback(rows: int, seed: int, *, campaigns: int = 6) -> pd.DataFrame:
    """Seeded synthetic feedback in the canonical schema, labelled.

    Each campaign has its own mix of sentiments; texts are drawn from sentiment-bearing and
    neutral words with noise (a fifth of words come from another class), and some texts
    are empty, emoji only or non-English (Spanish, French, German); older reviewers lean
    slightly positive, so demographics carry a weak signal. Rows are in time order.

    Raises:
        ValueError: if ``rows`` < 1, ``seed`` < 0 or ``campaigns`` < 1.
    """
    for name, value, low in (("rows", rows, 1), ("seed", seed, 0), ("campaigns", campaigns, 1)):
        if not isinstance(value, int) or value < low:
            raise ValueError(f"generate_feedback: {name!r} must be an int >= {low}; "
                             f"got {value!r}.")
    rng = np.random.default_rng(seed)
    campaign = rng.integers(0, campaigns, size=rows)
    mix = rng.dirichlet([3.0, 2.0, 3.0], size=campaigns)
    age = rng.integers(0, len(AGE_RANGES), size=rows)
    lean = np.stack([np.zeros(rows), np.zeros(rows), 0.15 * (age - 2.5)], axis=1)
    logits = np.log(mix[campaign]) + lean
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    sentiment = (probs.cumsum(axis=1) > rng.random((rows, 1))).argmax(axis=1)
    kind = rng.random(rows)
    texts = []
    for i, label in enumerate(sentiment):
        if kind[i] < 0.02:
            texts.append("")
        elif kind[i] < 0.05:
            texts.append(_EMOJI[int(label)])
        elif kind[i] < 0.09:
            texts.append(_NON_ENGLISH[int(label)])
        else:
            words = [str(rng.choice(_WORDS[int(label) if rng.random() > 0.2
                                           else int(rng.integers(0, 3))]))
                     for _ in range(int(rng.integers(2, 9)))]
            texts.append(" ".join(words))
    missing = rng.random((rows, 4)) < 0.3
    frame = pd.DataFrame({
        "feedback_id": [f"demo-{i:07d}" for i in range(1, rows + 1)],
        "created_at": NOMINAL_START + pd.to_timedelta(np.sort(rng.integers(0, 90 * 86400,
                                                                           size=rows)), "s"),
        "campaign": [f"campaign-{c}" for c in campaign],
        "text": texts,
        "gender": np.where(missing[:, 0], None, rng.choice(["female", "male", "other"],
                                                           size=rows, p=[0.5, 0.45, 0.05])),
        "age_range": np.where(missing[:, 1], UNKNOWN, np.array(AGE_RANGES)[age]),
        "education": np.where(missing[:, 2], None, rng.choice(
            ["secondary", "bachelor", "master", "doctorate"], size=rows)),
        "country": np.where(missing[:, 3], None, rng.choice(["US", "GB", "DE", "ES", "FR"],
                                                            size=rows)),
        "state": None, "timezone": None,
        "sentiment": sentiment.astype("int64"),
    })
    return conform(frame)


# ---------------------------------------------------------------------------- the files
@dataclass(frozen=True)
class ReadResult:
    """Feedback read from a file, and the records that could not be read.

    Attributes:
        feedback: Canonical feedback rows.
        rejects: Quarantine rows (:data:`QUARANTINE_COLUMNS`, stage ``collect``).
        records_read: Data records in the file; always ``len(feedback) + len(rejects)``.
    """

    feedback: pd.DataFrame
    rejects: pd.DataFrame
    records_read: int


#: Layout -> (required header columns, id prefix).
_LAYOUTS: dict[str, tuple[tuple[str, ...], str]] = {
    "airline_tweets": (("airline_sentiment", "airline", "text", "tweet_created",
                        "user_timezone"), "tweet"),
    "womens_reviews": (("Clothing ID", "Age", "Title", "Review Text", "Rating",
                        "Class Name"), "review"),
}


def read_feedback_csv(path: Path, layout: str, *, limits: ReadLimits,
                      label_required: bool = True) -> ReadResult:
    """Read a feedback CSV in ``layout`` (``airline_tweets`` or ``womens_reviews``).

    ``feedback_id`` is ``<layout prefix>-<file stem>-<data row, 7 digits>`` (the airline
    file's ``tweet_id`` was mangled to scientific notation by the copy, so it cannot be the
    key). With ``label_required`` False (feedback to score) a missing label is kept as
    ``<NA>``.

    The file is read under ``limits`` (the ``collect`` params) as the post reader reads one.

    Raises:
        ValueError: for an unknown layout, a file that cannot be read as CSV text, an empty
            file or a header lacking a column, naming the file and the columns.
        CollectError: (a ``ValueError``) for a file that is not a regular file, is over
            ``collect.max_file_mb`` or ``collect.max_columns``, or changed while it was read
            (:func:`pipelines.validate.entity_contract.csv_records`), naming the file and
            the rule.
    """
    if layout not in _LAYOUTS:
        raise ValueError(f"read_feedback_csv: 'layout' must be one of {list(_LAYOUTS)}; "
                         f"got {layout!r}.")
    path = Path(path)
    records = entity_contract.csv_records(path, reader="read_feedback_csv", limits=limits,
                                          encoding="utf-8-sig", errors="replace")
    if not records:
        raise ValueError(f"read_feedback_csv: {path} is empty; expected a header row.")
    header = [h.strip() for h in records[0]]
    needed, prefix = _LAYOUTS[layout]
    missing = [h for h in needed if h not in header]
    if missing:
        raise ValueError(f"read_feedback_csv: {path} ({layout}) lacks column(s) {missing}; "
                         f"its header is {header}.")
    position = {h: header.index(h) for h in needed}
    parse = _parse_airline if layout == "airline_tweets" else _parse_review
    good, rejects = [], []
    for row, fields in enumerate(records[1:], start=1):
        feedback_id = f"{prefix}-{path.stem}-{row:07d}"
        if len(fields) != len(header):
            reasons = [{"rule": "field_count", "column": "",
                        "value": f"{len(fields)} fields, header has {len(header)}"}]
        else:
            record, reasons = parse({h: fields[position[h]] for h in needed}, row,
                                    label_required)
            if not reasons:
                good.append({"feedback_id": feedback_id, **record})
                continue
        first = reasons[0]
        rejects.append({
            "stage": "collect", "source_file": str(path), "source_row": row,
            "feedback_id": feedback_id, "rule": first["rule"], "column": first["column"],
            "value": first["value"], "reasons": json.dumps(reasons),
            "record": json.dumps(dict(zip(header, [f[:200] for f in fields], strict=False)))})
    frame = pd.DataFrame(good, columns=["feedback_id", "created_at", "campaign", "text",
                                        *DEMOGRAPHICS, "sentiment"])
    if frame.empty:
        frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True)
    result = ReadResult(conform(frame), quarantine_frame(rejects), len(records) - 1)
    logger.info("read_feedback_csv: %s (%s): %d records, %d feedback rows, %d rejected",
                path, layout, result.records_read, len(result.feedback), len(result.rejects))
    return result


def _reason(rule: str, column: str, value: str) -> dict[str, str]:
    return {"rule": rule, "column": column, "value": value[:200]}


def _parse_airline(raw: dict[str, str], row: int, label_required: bool
                   ) -> tuple[dict[str, Any], list[dict[str, str]]]:
    reasons = []
    label = raw["airline_sentiment"].strip().lower()
    sentiment: Any = pd.NA
    if label in CLASSES:
        sentiment = CLASSES.index(label)
    elif label or label_required:
        reasons.append(_reason("parse_label", "airline_sentiment", raw["airline_sentiment"]))
    created = pd.to_datetime(raw["tweet_created"].strip(), format="%d-%m-%Y %H.%M",
                             errors="coerce", utc=True)
    if pd.isna(created):
        reasons.append(_reason("parse_time", "tweet_created", raw["tweet_created"]))
    if not raw["airline"].strip():
        reasons.append(_reason("required_value", "airline", raw["airline"]))
    return ({"created_at": created, "campaign": raw["airline"].strip(), "text": raw["text"],
             "timezone": raw["user_timezone"], "sentiment": sentiment}, reasons)


def _parse_review(raw: dict[str, str], row: int, label_required: bool
                  ) -> tuple[dict[str, Any], list[dict[str, str]]]:
    reasons = []
    sentiment: Any = pd.NA
    token = raw["Rating"].strip()
    try:
        sentiment = RATING_SENTIMENT[int(token)]
    except (ValueError, KeyError):
        if token or label_required:
            reasons.append(_reason("parse_rating", "Rating", raw["Rating"]))
    age = raw["Age"].strip()
    if age and not age.isdigit():
        reasons.append(_reason("parse_int", "Age", raw["Age"]))
    text = "\n".join(p.strip() for p in (raw["Title"], raw["Review Text"]) if p.strip())
    return ({"created_at": NOMINAL_START + pd.Timedelta(minutes=row),
             "campaign": raw["Class Name"].strip() or UNKNOWN, "text": text,
             "age_range": age_range(age) if age.isdigit() else UNKNOWN,
             "sentiment": sentiment}, reasons)
