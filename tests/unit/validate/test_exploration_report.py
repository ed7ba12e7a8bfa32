"""The exploration report: its numbers against pandas, its HTML sections, edge cases."""

import json
import re

import numpy as np
import pandas as pd
import pytest

from pipelines import schema
from pipelines.validate.exploration_report import exploration_report


def _tiny_posts() -> pd.DataFrame:
    rows = [
        ("1", "instagram", "a", "2026-01-05T09:00Z", "image", "hi 🎉 café", 10, 5, 2),
        ("2", "instagram", "a", "2026-01-06T09:30Z", "video", "<script>alert(1)</script>",
         200, None, 0),
        ("3", "twitter", "b", "2026-01-07T18:00Z", "text", "", 3, 1, None),
        ("4", "twitter", "b", "2026-01-11T18:10Z", "text", None, 0, 0, 1),
        ("5", "facebook", "c", "2026-02-01T12:00Z", "link", "x", 4000, 30, 90),
    ]
    frame = pd.DataFrame(rows, columns=["post_id", "platform", "account_id", "posted_at",
                                        "content_type", "caption", "likes", "comments",
                                        "shares"])
    frame["followers_at_post_time"] = [100, 100, 5000, 5000, 90000]
    frame["hashtags_count"] = [1, 0, 2, 0, 5]
    return schema.conform(frame)


def test_report_numbers_match_pandas(tmp_path):
    posts = _tiny_posts()
    out = tmp_path / "report" / "exploration.html"
    summary = exploration_report(posts, out)

    assert json.loads(out.with_suffix(".json").read_text(encoding="utf-8")) == summary
    rows = summary["rows"]
    assert rows["total"] == 5 and rows["accounts"] == 3
    assert rows["per_platform"] == {"instagram": 2, "twitter": 2, "facebook": 1}
    assert rows["per_content_type"] == posts["content_type"].value_counts().to_dict()
    assert rows["date_range"] == {"min": "2026-01-05T09:00:00+00:00",
                                  "max": "2026-02-01T12:00:00+00:00"}
    likes = posts["likes"].astype(float)
    stats = summary["numeric"]["likes"]
    assert stats["count"] == 5 and stats["missing_pct"] == 0
    assert stats["mean"] == pytest.approx(likes.mean())
    assert stats["median"] == pytest.approx(likes.median())
    assert stats["p5"] == pytest.approx(likes.quantile(0.05))
    assert stats["p95"] == pytest.approx(likes.quantile(0.95))
    assert (stats["min"], stats["max"]) == (0, 4000)
    assert sum(stats["histogram"]["counts"]) == 5 and stats["histogram"]["scale"] == "log"
    assert summary["numeric"]["comments"]["missing_pct"] == pytest.approx(20.0)
    assert summary["numeric"]["caption_length"]["count"] == 4
    assert summary["missing"]["caption"] == {"in_frame": True, "missing": 1, "missing_pct": 20.0}
    assert set(summary["missing"]) >= set(schema.COLUMN_NAMES)

    corr = summary["correlation"]
    assert not corr["sampled"] and corr["rows_used"] == 5
    frame = posts[["likes", "comments", "shares", "followers_at_post_time"]].astype(float)
    expected = frame.corr(method="spearman")
    i, j = corr["columns"].index("likes"), corr["columns"].index("followers_at_post_time")
    assert corr["matrix"][i][j] == pytest.approx(expected.loc["likes", "followers_at_post_time"],
                                                 abs=1e-4)
    assert corr["matrix"][i][corr["columns"].index("shares")] == pytest.approx(
        expected.loc["likes", "shares"], abs=1e-4)

    per_platform = summary["target"]["per_platform"]
    assert set(per_platform) == {"instagram", "twitter", "facebook", "(all)"}
    twitter = likes[posts["platform"] == "twitter"]
    assert per_platform["twitter"]["quantiles"]["p50"] == pytest.approx(twitter.median())
    assert per_platform["instagram"]["log1p_quantiles"]["p100"] == pytest.approx(np.log1p(200))
    assert per_platform["(all)"]["rows"] == 5

    timing = summary["posting_time"]
    assert timing["per_weekday"] == {"Mon": 1, "Tue": 1, "Wed": 1, "Thu": 0, "Fri": 0,
                                     "Sat": 0, "Sun": 2}
    assert timing["per_hour"]["18"] == 2 and timing["weekday_hour"][6][18] == 1


def test_report_html_has_sections_per_platform_and_escapes_text(tmp_path):
    out = tmp_path / "exploration.html"
    summary = exploration_report(_tiny_posts(), out, quarantined=schema.quarantine_frame([
        {"stage": "validate", "rule": "expect_column_values_to_be_between", "column": "likes",
         "value": "-1"},
        {"stage": "validate", "rule": "expect_column_values_to_be_between", "column": "likes",
         "value": "-2"},
        {"stage": "collect", "rule": "<unparseable>", "column": "posted_at"},
    ]))
    page = out.read_text(encoding="utf-8")

    assert summary["rows"]["quarantined"] == 3
    assert summary["rows"]["quarantine_top_reasons"][0] == {
        "rule": "expect_column_values_to_be_between", "column": "likes", "count": 2}
    assert "&lt;unparseable&gt;" in page

    for heading in ("Row counts", "Numeric columns", "Missing values", "Spearman correlation",
                    "Target distribution per platform", "Posts per weekday and hour"):
        assert heading in page
    for platform in ("instagram", "twitter", "facebook"):
        assert f'data-platform="{platform}"' in page
    assert page.count("<svg") >= 4
    assert "<script" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "hi 🎉 café" in page
    assert "expect_column_values_to_be_between" in page
    assert not re.search(r"https?://", page)  # nothing to load from the network


def test_report_on_an_empty_frame(tmp_path):
    out = tmp_path / "empty.html"
    summary = exploration_report(schema.empty_posts(), out)
    assert summary["rows"]["total"] == 0
    assert summary["numeric"]["likes"]["mean"] is None
    assert summary["target"]["per_platform"]["(all)"]["count"] == 0
    assert "0 posts" in out.read_text(encoding="utf-8")

    assert exploration_report(pd.DataFrame(), tmp_path / "bare.html")["rows"]["total"] == 0


def test_report_with_all_null_and_absent_columns(tmp_path):
    posts = _tiny_posts()
    posts["comments"] = pd.Series(pd.NA, index=posts.index, dtype="Int64")
    posts = posts.drop(columns=["shares", "caption"])
    summary = exploration_report(posts, tmp_path / "r.html")

    assert summary["numeric"]["comments"]["missing_pct"] == 100.0
    assert summary["numeric"]["comments"]["median"] is None
    assert summary["missing"]["shares"] == {"in_frame": False, "missing": 5,
                                            "missing_pct": 100.0}
    corr = summary["correlation"]
    row = corr["matrix"][corr["columns"].index("comments")]
    assert all(v is None for v in row)
    assert "shares" not in corr["columns"] and "caption_length" not in corr["columns"]


def test_report_samples_correlations_above_the_limit(tmp_path, demo_posts):
    summary = exploration_report(demo_posts, tmp_path / "r.html", max_correlation_rows=500,
                                 seed=3)
    corr = summary["correlation"]
    assert corr["sampled"] and corr["rows_used"] == 500 and corr["seed"] == 3
    assert "random sample of 500 rows" in (tmp_path / "r.html").read_text(encoding="utf-8")
    assert summary["rows"]["total"] == len(demo_posts)


def test_report_rejects_a_bad_target(tmp_path):
    with pytest.raises(ValueError, match="'target' must name a column"):
        exploration_report(_tiny_posts(), tmp_path / "r.html", target="like")
    with pytest.raises(ValueError, match="'target' must be a numeric column"):
        exploration_report(_tiny_posts(), tmp_path / "r.html", target="caption")


def test_report_of_another_entity_uses_its_own_columns_and_time(tmp_path):
    """A task's entity (no post columns, a class label as outcome): the correlations take
    its own numeric columns, the timing its own time column, the page says there is no
    numeric target."""
    rng = np.random.default_rng(3)
    times = pd.date_range("2026-01-05", periods=50, freq="7h", tz="UTC")
    rows = pd.DataFrame({"feedback_id": [f"f{i}" for i in range(50)],
                         "created_at": times, "age": rng.integers(18, 80, 50),
                         "text_length": rng.integers(0, 500, 50),
                         "sentiment": rng.choice(["negative", "neutral", "positive"], 50)})
    out = tmp_path / "exploration.html"
    summary = exploration_report(rows, out, target=None, time_column="created_at")
    assert summary["correlation"]["columns"] == ["age", "text_length"]
    assert summary["posting_time"]["rows_with_time"] == 50
    expected = times.weekday * 24 + times.hour
    assert sum(map(sum, summary["posting_time"]["weekday_hour"])) == len(expected)
    assert summary["posting_time"]["per_weekday"]["Mon"] == int((times.weekday == 0).sum())
    assert summary["target"] == {"column": None, "per_platform": {}}
    page = out.read_text()
    assert "no numeric outcome column in this entity" in page
    assert "of created_at" in page
