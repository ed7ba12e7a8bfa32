"""Collection watermarks in SQLite: per (source, account), forward only."""

from __future__ import annotations

import pandas as pd
import pytest

from pipelines.collect.watermarks import advance_watermark, get_watermark, list_watermarks


def test_missing_watermark_is_none(tmp_path):
    assert get_watermark(tmp_path / "wm" / "marks.sqlite", "x_api_v2", "42") is None


def test_advance_then_read_back_exactly(tmp_path):
    db = tmp_path / "marks.sqlite"
    ts = pd.Timestamp("2026-06-01T10:00:00.123456789Z")
    assert advance_watermark(db, "x_api_v2", "42", ts) == ts
    assert get_watermark(db, "x_api_v2", "42") == ts


def test_watermark_never_moves_backwards(tmp_path):
    db = tmp_path / "marks.sqlite"
    later, earlier = pd.Timestamp("2026-06-05T00:00Z"), pd.Timestamp("2026-06-01T00:00Z")
    advance_watermark(db, "instagram_graph_api", "1", later)
    assert advance_watermark(db, "instagram_graph_api", "1", earlier) == later
    assert get_watermark(db, "instagram_graph_api", "1") == later
    newest = pd.Timestamp("2026-06-09T00:00Z")
    assert advance_watermark(db, "instagram_graph_api", "1", newest) == newest


def test_keys_are_independent_and_timezones_normalised(tmp_path):
    db = tmp_path / "marks.sqlite"
    advance_watermark(db, "x_api_v2", "a", pd.Timestamp("2026-06-01T12:00+02:00"))
    advance_watermark(db, "x_api_v2", "b", pd.Timestamp("2026-06-03T00:00Z"))
    advance_watermark(db, "linkedin_api", "a", pd.Timestamp("2026-05-01T00:00Z"))
    assert get_watermark(db, "x_api_v2", "a") == pd.Timestamp("2026-06-01T10:00Z")
    assert str(get_watermark(db, "x_api_v2", "a").tz) == "UTC"
    table = list_watermarks(db)
    assert table[["source", "account"]].values.tolist() == [
        ["linkedin_api", "a"], ["x_api_v2", "a"], ["x_api_v2", "b"]]
    assert str(table["posted_at"].dtype) == "datetime64[ns, UTC]"


def test_bad_arguments_raise_clear_errors(tmp_path):
    db = tmp_path / "marks.sqlite"
    with pytest.raises(ValueError, match="advance_watermark: 'ts' must be a timezone-aware"):
        advance_watermark(db, "x_api_v2", "42", pd.Timestamp("2026-06-01T10:00"))
    with pytest.raises(ValueError, match="'ts' must be a timezone-aware.*'soon'"):
        advance_watermark(db, "x_api_v2", "42", "soon")
    with pytest.raises(ValueError, match="get_watermark: 'account' must be a non-empty"):
        get_watermark(db, "x_api_v2", "")
