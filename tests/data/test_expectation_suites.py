"""Each expectation suite runs against a good fixture and a deliberately broken one."""

import json

import pandas as pd
import pytest

from pipelines import schema
from pipelines.validate.expectations import load_suite, run_suite

PARAMETERS = {"as_of": "2026-07-01T00:00:00+00:00", "max_caption_chars": 100_000,
              "min_rows": 10}


@pytest.fixture(scope="module")
def good(demo_posts) -> pd.DataFrame:
    return demo_posts.head(200).reset_index(drop=True)


@pytest.mark.parametrize("suite_file", ["posts_row_contract.json", "posts_table_contract.json"])
def test_suite_files_are_valid_and_pass_on_good_data(project_root, good, suite_file):
    suite = load_suite(project_root / "expectations" / suite_file)
    assert suite["name"] == suite_file.removesuffix(".json")
    assert suite["meta"]["schema_version"] == schema.SCHEMA_VERSION
    outcomes = run_suite(good, suite, PARAMETERS)
    assert len(outcomes) == len(suite["expectations"])
    assert [o.describe() for o in outcomes if not o.success] == []


def test_row_contract_catches_each_broken_column(project_root, good):
    broken = good.copy()
    broken.loc[0, "likes"] = -1
    broken.loc[1, "content_type"] = "hologram"
    broken.loc[2, "posted_at"] = pd.Timestamp("1999-12-31", tz="UTC")
    broken.loc[3, "account_id"] = pd.NA
    broken.loc[4, "caption"] = "x" * 100_001
    suite = load_suite(project_root / "expectations/posts_row_contract.json")
    failed = {(o.column, tuple(o.unexpected_index)) for o in run_suite(broken, suite, PARAMETERS)
              if not o.success}
    assert failed == {("likes", (0,)), ("content_type", (1,)), ("posted_at", (2,)),
                      ("account_id", (3,)), ("caption", (4,))}


def test_table_contract_catches_missing_columns_types_and_size(project_root, good):
    broken = good.head(5).drop(columns=["shares"]).assign(likes=lambda f: f["likes"].astype(str))
    suite = load_suite(project_root / "expectations/posts_table_contract.json")
    failed = {(o.expectation, o.column) for o in run_suite(broken, suite, PARAMETERS)
              if not o.success}
    assert failed == {("expect_column_to_exist", "shares"),
                      ("expect_column_values_to_be_of_type", "likes"),
                      ("expect_table_row_count_to_be_between", None)}


def test_every_required_column_is_checked_for_nulls(project_root):
    suite = json.loads((project_root / "expectations/posts_row_contract.json").read_text())
    not_null = {e["kwargs"]["column"] for e in suite["expectations"]
                if e["type"] == "expect_column_values_to_not_be_null"}
    assert not_null == set(schema.REQUIRED_COLUMNS)
