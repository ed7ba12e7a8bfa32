"""The account_days contract: the reader's rejects and the row/table rules on broken input
(each case names file or row, column, rule and value), and the property that every row is
accepted or quarantined exactly once."""

import json
from pathlib import Path

import pandas as pd
import pytest

from pipelines.collect.formats import ReadLimits
from pipelines.tasks.binary_table_task import QUARANTINE_KEY
from pipelines.tasks.churn_data import generate_account_days, read_ira_daily
from pipelines.validate.entity_contract import quarantine_frame, validate_entity

LIMITS = ReadLimits.defaults()

PROJECT_ROOT = Path(__file__).resolve().parents[3]

hypothesis = pytest.importorskip("hypothesis", reason="property tests need hypothesis")
st = hypothesis.strategies

AS_OF = pd.Timestamp("2026-12-01", tz="UTC")
GOOD = generate_account_days(4, 90, seed=5).head(30)
HEADER = ("author_id,date,followers,following,updates,followers_first,n_posts,n_retweets,"
          "last_post_time,account_type,account_category")
LINE = "acc{i},2017-01-0{d},10,5,7,10,2,1,2017-01-01 10:00:00,Right,RightTroll"


@pytest.fixture(scope="module")
def suites():
    from pipelines.validate.expectations import load_suite

    return (load_suite(PROJECT_ROOT / "expectations" / "account_days_row_contract.json"),
            load_suite(PROJECT_ROOT / "expectations" / "account_days_table_contract.json"))


def validate(frame, suites, rejects=None):
    row_suite, table_suite = suites
    if rejects is None:
        rejects = quarantine_frame([], QUARANTINE_KEY)
    return validate_entity(frame, rejects, key="account_id", quarantine_key=QUARANTINE_KEY,
                           row_suite=row_suite, table_suite=table_suite, as_of=AS_OF,
                           min_rows=1, max_quarantine_rate=1.0, source="test.parquet")


# ---------------------------------------------------------------- bad input, case by case
@pytest.mark.parametrize(("column", "value", "rule"), [
    ("followers", -1, "expect_column_values_to_be_between"),
    ("n_posts", -3, "expect_column_values_to_be_between"),
    ("account_id", None, "expect_column_values_to_not_be_null"),
    ("date", pd.Timestamp("2030-01-01", tz="UTC"), "expect_column_values_to_be_between"),
    ("category", None, "expect_column_values_to_not_be_null"),
])
def test_a_broken_row_is_quarantined_naming_row_column_rule_and_value(column, value, rule,
                                                                     suites):
    broken = GOOD.copy()
    broken[column] = broken[column].astype(object)
    broken.at[7, column] = value
    outcome = validate(broken, suites)
    assert len(outcome.accepted) == len(GOOD) - 1
    [row] = outcome.quarantined.to_dict("records")
    assert (row["stage"], row["source_file"], row["source_row"]) == ("validate",
                                                                     "test.parquet", 8)
    assert {"rule": rule, "column": column} == {k: json.loads(row["reasons"])[0][k]
                                                for k in ("rule", "column")}


def test_a_repeated_account_day_is_quarantined(suites):
    broken = pd.concat([GOOD, GOOD.iloc[[3]]], ignore_index=True)
    outcome = validate(broken, suites)
    assert outcome.report["rows_in"] == len(GOOD) + 1
    assert set(outcome.quarantined["rule"]) == {"expect_compound_columns_to_be_unique"}
    assert len(outcome.accepted) + len(outcome.quarantined) == len(GOOD) + 1


def test_a_missing_column_stops_the_run_naming_it(suites):
    outcome = validate(GOOD.drop(columns=["n_retweets"]), suites)
    assert any("n_retweets" in failure for failure in outcome.failures)
    assert outcome.accepted.empty


def test_the_reader_rejects_unreadable_values_with_file_row_column_and_value(tmp_path):
    lines = [HEADER, *(LINE.format(i=i, d=i) for i in range(1, 6))]
    lines[2] = lines[2].replace(",10,5,", ",ten,5,")
    lines[3] = lines[3].replace("2017-01-03", "2017-13-40")
    lines[4] = lines[4].replace("acc4", " ")
    path = tmp_path / "daily.csv"
    path.write_text("\n".join(lines) + "\n")
    read = read_ira_daily(path, limits=LIMITS)
    assert read.records_read == 5 == len(read.rows) + len(read.rejects)
    found = read.rejects[["source_file", "source_row", "rule", "column", "value"]]
    assert found.values.tolist() == [
        [str(path), 2, "parse_int", "followers", "ten"],
        [str(path), 3, "parse_date", "date", "2017-13-40"],
        [str(path), 4, "required_value", "account_id", ""]]


def test_the_reader_names_missing_columns(tmp_path):
    path = tmp_path / "daily.csv"
    path.write_text("author_id,date\nx,2017-01-01\n")
    with pytest.raises(ValueError, match="lacks column.*followers"):
        read_ira_daily(path, limits=LIMITS)


# ----------------------------------------------------------------------------- property
NEGATIVE = st.integers(min_value=-10**9, max_value=-1)


@hypothesis.settings(max_examples=5, deadline=None, derandomize=True,
                     suppress_health_check=[hypothesis.HealthCheck.too_slow])
@hypothesis.given(data=st.data())
def test_rows_in_equals_accepted_plus_quarantined(data, suites):
    rows = data.draw(st.lists(st.integers(0, len(GOOD) - 1), max_size=8, unique=True))
    broken = GOOD.copy()
    for row in rows:
        column = data.draw(st.sampled_from(["followers", "following", "updates", "n_posts",
                                            "n_retweets"]))
        broken.loc[row, column] = data.draw(NEGATIVE)
    outcome = validate(broken, suites)
    assert len(outcome.accepted) + len(outcome.quarantined) == len(GOOD)
    assert sorted(outcome.quarantined["source_row"].astype(int) - 1) == sorted(rows)
