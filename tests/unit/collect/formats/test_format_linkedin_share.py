"""``linkedin_share``: field mapping of LinkedIn share objects."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from pipelines.collect.formats import read_posts


def test_linkedin_share_mapping_keeps_business_fields_in_extra(tmp_path: Path, write) -> None:
    share = {
        "id": "urn:li:share:1", "text": "We are hiring! #jobs", "author": "urn:li:org:9",
        "media_type": "ARTICLE", "posting_time": "2025-04-01T08:30:00Z", "audience_size": 12000,
        "engagement_metrics": {"likes": 40, "comments": 3, "shares": 5, "impressions": 2000,
                               "clicks": 77, "engagement_rate": 0.06},
        "company_size": "51-200", "industry": "Software",
    }
    path = write(tmp_path / "li.json", json.dumps([share]))

    post = read_posts(path, "linkedin_share").posts.iloc[0]

    assert post[["post_id", "platform", "account_id", "content_type", "caption"]].tolist() == [
        "urn:li:share:1", "linkedin", "urn:li:org:9", "link", "We are hiring! #jobs"]
    assert post[["likes", "comments", "shares", "impressions"]].tolist() == [40, 3, 5, 2000]
    assert pd.isna(post["saves"]) and pd.isna(post["reach"])
    assert pd.isna(post["post_kind"])  # no reshareContext: an export may leave it out
    assert json.loads(post["extra"]) == {
        "company_size": "51-200", "industry": "Software",
        "engagement_metrics": {"clicks": 77, "engagement_rate": 0.06}}


def test_reshare_context_makes_a_share_or_a_quote(tmp_path: Path, write) -> None:
    def share(n: int, text: str, **more: object) -> dict[str, object]:
        return {"id": f"urn:li:share:{n}", "text": text, "author": "urn:li:org:9",
                "media_type": "NONE", "posting_time": "2025-04-01T08:30:00Z",
                "audience_size": 100, "engagement_metrics": {"likes": 1, "comments": 0,
                                                             "shares": 0}, **more}
    context = {"parent": "urn:li:share:7", "root": "urn:li:share:7"}
    path = write(tmp_path / "li.jsonl", "\n".join(json.dumps(s) for s in [
        share(1, "", reshareContext=context), share(2, "Must read", reshareContext=context),
        share(3, "ours", reshareContext=None), share(4, "x", reshareContext="urn:li:share:7"),
    ]))

    result = read_posts(path, "linkedin_share")

    posts = result.posts.set_index("post_id")
    assert posts["post_kind"].iloc[:2].tolist() == ["share", "quote"]
    assert pd.isna(posts.loc["urn:li:share:3", "post_kind"])
    assert json.loads(posts.loc["urn:li:share:1", "extra"])["reshareContext"] == context
    reject = result.rejects.iloc[0]
    assert (reject["source_row"], reject["rule"], reject["column"]) == (
        4, "json_shape", "reshareContext")
