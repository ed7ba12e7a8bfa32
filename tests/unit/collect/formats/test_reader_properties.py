"""Property test of the row contract at the file boundary: random records (odd unicode, lone
surrogates, huge and non-finite numbers, deep nesting, wrong types) written as JSONL, JSON or
CSV are read without a traceback, every record is counted once (records in = accepted +
quarantined) and what comes back can be stored (Parquet, as the raw layer writes it)."""

from __future__ import annotations

import csv
import io
import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.collect.formats import CollectError, ReadLimits, read_posts

LIMITS = ReadLimits(max_file_mb=16, max_columns=64, max_json_depth=8, chunk_rows=3)
COLUMNS = ("post_id", "platform", "account_id", "posted_at", "content_type", "caption",
           "hashtags_count", "mentions_count", "followers_at_post_time", "likes", "comments",
           "shares", "saves")
GOOD = {"post_id": "p", "platform": "instagram", "account_id": "a",
        "posted_at": "2025-01-02T10:00:00Z", "content_type": "image", "caption": "hi",
        "hashtags_count": 1, "mentions_count": 0, "followers_at_post_time": 100, "likes": 3,
        "comments": 0, "shares": 0}

odd_text = st.one_of(
    st.text(max_size=12),
    st.text(st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1,
            max_size=2),                                   # lone surrogates
    st.sampled_from(["", " ", "NaN", "null", "1e400", "-0", "١٢٣", "\u202e", "\x00",
                     "2262-04-12T00:00:00Z", "0001-01-01T00:00:00+05:00", "x\ud800y"]),
)
scalars = st.one_of(
    st.none(), st.booleans(), odd_text,
    st.integers(min_value=-(2**80), max_value=2**80),       # beyond int64
    st.floats(allow_nan=True, allow_infinity=True),
)
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=4), inner, max_size=3)),
    max_leaves=12)


@st.composite
def records(draw: st.DrawFn) -> dict[str, object]:
    """A valid post with some fields replaced by hostile values, sometimes extra keys."""
    record: dict[str, object] = dict(GOOD)
    for column in draw(st.lists(st.sampled_from(COLUMNS), max_size=4, unique=True)):
        record[column] = draw(values)
    record.update(draw(st.dictionaries(st.text(max_size=6), values, max_size=2)))
    if draw(st.booleans()):
        record["deep"] = json.loads("[" * 12 + "]" * 12)   # deeper than max_json_depth
    return record


def _write(path: Path, container: str, rows: list[dict[str, object]]) -> None:
    if container == "jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    elif container == "json":
        path.write_text(json.dumps(rows), encoding="utf-8")
    else:
        buffer = io.StringIO()
        # RFC 4180 line ends: with "\n" the writer leaves a field's lone "\r" unquoted, a
        # line break to every CSV reader, so the file would hold one record more
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(COLUMNS)
        for r in rows:
            writer.writerow([json.dumps(r.get(c)) if not isinstance(r.get(c), str)
                             else r[c] for c in COLUMNS])
        # lone surrogates cannot be UTF-8: they reach a CSV as the bytes an exporter wrote
        path.write_bytes(buffer.getvalue().encode("utf-8", "surrogatepass"))


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(rows=st.lists(records(), min_size=1, max_size=6),
       container=st.sampled_from(["jsonl", "json", "csv"]))
def test_every_record_is_accepted_or_quarantined_and_storable(rows, container) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"posts.{container}"
        _write(path, container, rows)
        try:
            result = read_posts(path, "canonical", limits=LIMITS)
        except CollectError as error:   # a whole-file refusal must say where and why
            assert error.rule and str(path) in str(error)
            return
    assert result.records_read == len(rows) == len(result.posts) + len(result.rejects)
    result.posts.to_parquet(io.BytesIO())
    result.rejects.to_parquet(io.BytesIO())
    assert not result.rejects["source_row"].duplicated().any()
    for reasons in result.rejects["reasons"]:
        assert json.loads(reasons)[0]["rule"]
