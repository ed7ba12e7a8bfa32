import json

import pandas as pd
import pytest

from pipelines import schema
from pipelines.config import ValidateConfig
from pipelines.validate.expectations import load_suite
from pipelines.validate.stage import (
    DataContractError,
    dataset_failures,
    quality_score,
    run_validate,
    split_superseded,
    validate_posts,
)

AS_OF = pd.Timestamp("2026-07-01T00:00:00Z")


@pytest.fixture(scope="module")
def suites(project_root):
    return (load_suite(project_root / "expectations/posts_row_contract.json"),
            load_suite(project_root / "expectations/posts_table_contract.json"))


RULES = ValidateConfig(min_rows=100, max_quarantine_rate=0.05)


def _validate(posts, suites, rules=RULES):
    """validate_posts, then the dataset rules, as the stage runs them."""
    accepted, quarantined, failures = validate_posts(posts, *suites, as_of=AS_OF,
                                                     min_rows=rules.min_rows)
    if not any("expect_column_to_exist" in f for f in failures):
        superseded = int((quarantined["rule"] == "superseded_duplicate").sum())
        quality = quality_score(accepted, len(posts), len(quarantined), superseded)
        failures += dataset_failures(accepted, len(posts), len(quarantined), quality, rules)
    return accepted, quarantined, failures


def test_clean_posts_are_all_accepted(demo_posts, suites):
    accepted, quarantined, failures = _validate(demo_posts, suites)
    assert failures == []
    assert len(accepted) == len(demo_posts) and quarantined.empty


def test_bad_rows_are_quarantined_with_rule_column_and_value(demo_posts, suites):
    posts = demo_posts.copy()
    posts.loc[3, "likes"] = -4
    posts.loc[10, "platform"] = "myspace"
    posts.loc[10, "comments"] = -1
    posts.loc[20, "posted_at"] = pd.Timestamp("2031-01-01", tz="UTC")
    posts.loc[30, "followers_at_post_time"] = 0
    accepted, quarantined, failures = _validate(posts, suites)
    assert failures == []
    assert len(accepted) + len(quarantined) == len(posts)
    by_row = quarantined.set_index("source_row")
    assert set(by_row.index) == {4, 11, 21, 31}
    assert (by_row.loc[4, "column"], by_row.loc[4, "value"]) == ("likes", "-4")
    reasons = json.loads(by_row.loc[11, "reasons"])
    assert {(r["column"], r["value"]) for r in reasons} == {("platform", "myspace"),
                                                           ("comments", "-1")}
    assert by_row.loc[21, "column"] == "posted_at"
    assert by_row.loc[31, "rule"] == "expect_column_values_to_be_between"
    record = json.loads(by_row.loc[4, "record"])
    assert record["post_id"] == posts.loc[3, "post_id"]  # the whole row is kept


def test_missing_columns_fail_the_dataset_and_name_them(demo_posts, suites):
    _, _, failures = _validate(demo_posts.drop(columns=["likes", "platform"]), suites)
    text = "\n".join(failures)
    assert "expect_column_to_exist on column 'likes'" in text
    assert "expect_column_to_exist on column 'platform'" in text


def test_wrong_types_fail_the_dataset(demo_posts, suites):
    posts = demo_posts.copy()
    posts["likes"] = posts["likes"].astype(str)
    _, _, failures = _validate(posts, suites)
    assert any("expect_column_values_to_be_of_type on column 'likes'" in f for f in failures)


def test_too_many_quarantined_rows_fail_with_the_rate(demo_posts, suites):
    posts = demo_posts.copy()
    posts.loc[:199, "likes"] = -1
    accepted, quarantined, failures = _validate(posts, suites)
    assert len(quarantined) == 200 and len(accepted) == len(posts) - 200
    assert any("quarantine rate 13.33%" in f for f in failures)


def test_too_few_rows_fail(demo_posts, suites):
    _, _, failures = _validate(demo_posts.head(50), suites)
    assert any("expect_table_row_count_to_be_between" in f and "50" in f for f in failures)
    assert any("50 accepted rows is below validate.min_rows 100" in f for f in failures)


def test_stage_writes_layers_and_keeps_collect_rejects(tmp_path, demo_posts, project_root):
    raw = tmp_path / "01_raw" / "posts.parquet"
    raw.parent.mkdir()
    posts = demo_posts.copy()
    posts.loc[0, "shares"] = -2
    posts.to_parquet(raw)
    schema.quarantine_frame([{"stage": "collect", "source_file": "in.csv", "source_row": 9,
                              "rule": "parse_int", "column": "likes", "value": "'abc'"}]
                            ).to_parquet(raw.with_suffix(".rejects.parquet"))
    summary = run_validate(
        raw, tmp_path / "v.parquet", tmp_path / "q.parquet", tmp_path / "report.json",
        row_suite_path=project_root / "expectations/posts_row_contract.json",
        table_suite_path=project_root / "expectations/posts_table_contract.json",
        as_of=AS_OF, rules=RULES,
    )
    assert summary.rows_in == len(posts) + 1
    assert summary.rows_accepted + summary.rows_quarantined == summary.rows_in
    quarantine = pd.read_parquet(tmp_path / "q.parquet")
    assert sorted(quarantine["stage"]) == ["collect", "validate"]
    assert len(pd.read_parquet(tmp_path / "v.parquet")) == len(posts) - 1
    assert json.loads((tmp_path / "report.json").read_text())["failures"] == []


def test_stage_raises_one_error_listing_every_failure(tmp_path, demo_posts, project_root):
    raw = tmp_path / "posts.parquet"
    demo_posts.drop(columns=["likes"]).head(20).to_parquet(raw)
    with pytest.raises(DataContractError) as caught:
        run_validate(
            raw, tmp_path / "v.parquet", tmp_path / "q.parquet", tmp_path / "r.json",
            row_suite_path=project_root / "expectations/posts_row_contract.json",
            table_suite_path=project_root / "expectations/posts_table_contract.json",
            as_of=AS_OF, rules=RULES,
        )
    message = str(caught.value)
    assert "column 'likes'" in message
    assert "expect_table_row_count_to_be_between {'min_value': 100}: observed 20" in message
    assert "posts_table_contract.json" in message and str(raw) in message
    assert "sample rows" in message


def test_a_post_seen_twice_keeps_the_latest_counts(demo_posts, suites):
    posts = demo_posts.head(300).copy()
    later = posts.iloc[[5]].copy()
    later["likes"] = posts.loc[5, "likes"] + 100
    later["collected_at"] = posts.loc[5, "collected_at"] + pd.Timedelta(days=2)
    both = pd.concat([later, posts], ignore_index=True)  # the later observation comes first
    accepted, quarantined, failures = _validate(both, suites)
    assert failures == []
    assert len(accepted) + len(quarantined) == len(both)
    kept = accepted[accepted["post_id"] == posts.loc[5, "post_id"]]
    assert kept["likes"].tolist() == [posts.loc[5, "likes"] + 100]
    assert quarantined["rule"].tolist() == ["superseded_duplicate"]


def test_split_superseded_keeps_the_later_row_on_equal_collection_times(demo_posts):
    posts = demo_posts.head(3).copy()
    twin = posts.iloc[[0]].assign(likes=999)
    current, superseded = split_superseded(
        pd.concat([posts, twin], ignore_index=True), "f.parquet")
    assert current.loc[current["post_id"] == posts.loc[0, "post_id"], "likes"].tolist() == [999]
    assert superseded["source_row"].tolist() == [1]


def test_platform_share_and_null_rate_rules(demo_posts, suites):
    rules = ValidateConfig(min_rows=100, max_quarantine_rate=0.05, max_platform_share=0.3,
                         max_null_rate={"campaign_id": 0.1, "comments": 1.0})
    _, _, failures = _validate(demo_posts, suites, rules)
    text = "\n".join(failures)
    biggest = demo_posts["platform"].value_counts(normalize=True)
    for platform, share in biggest[biggest > 0.3].items():
        assert f"platform '{platform}' holds {share:.2%}" in text
    assert "column 'campaign_id' is" in text and "validate.max_null_rate.campaign_id" in text
    assert "'comments'" not in text


def test_quality_score_components(demo_posts):
    quality = quality_score(demo_posts, rows_in=len(demo_posts) + 10, rows_quarantined=10,
                            superseded=5)
    assert quality["validity"] == pytest.approx(1 - 10 / (len(demo_posts) + 10), abs=1e-4)
    assert quality["uniqueness"] == pytest.approx(1 - 5 / (len(demo_posts) + 10), abs=1e-4)
    assert 0 < quality["completeness"] < 1  # campaign_id is partly null in the demo
    expected = 100 * (quality["validity"] + quality["completeness"] + quality["uniqueness"]) / 3
    assert quality["score"] == pytest.approx(expected, abs=0.02)
    failures = dataset_failures(demo_posts, len(demo_posts), 0, quality,
                                ValidateConfig(min_quality_score=99.9))
    assert any("data quality score" in f for f in failures)


def test_a_naive_as_of_is_taken_as_utc(demo_posts, suites):
    posts = demo_posts.head(200).copy()
    posts.loc[0, "posted_at"] = pd.Timestamp("2026-07-02", tz="UTC")
    accepted, quarantined, failures = validate_posts(
        posts, *suites, as_of=pd.Timestamp("2026-07-01"), min_rows=100)
    assert failures == []
    assert quarantined["column"].tolist() == ["posted_at"]
