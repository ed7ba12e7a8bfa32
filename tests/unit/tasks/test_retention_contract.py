"""The players contract: the Cookie Cats reader's rejects and the row/table rules on broken
input (each naming row, column, rule and value), and the property that every row is
accepted or quarantined exactly once."""

import json
from pathlib import Path

import pandas as pd
import pytest

from pipelines.collect.formats import ReadLimits
from pipelines.tasks.binary_table_task import QUARANTINE_KEY
from pipelines.tasks.retention_data import generate_players, read_cookie_cats
from pipelines.validate.entity_contract import quarantine_frame, validate_entity

LIMITS = ReadLimits.defaults()

hypothesis = pytest.importorskip("hypothesis", reason="property tests need hypothesis")
st = hypothesis.strategies

PROJECT_ROOT = Path(__file__).resolve().parents[3]
GOOD = generate_players(30, seed=5)


@pytest.fixture(scope="module")
def suites():
    from pipelines.validate.expectations import load_suite

    return (load_suite(PROJECT_ROOT / "expectations" / "players_row_contract.json"),
            load_suite(PROJECT_ROOT / "expectations" / "players_table_contract.json"))


def validate(frame, suites):
    row_suite, table_suite = suites
    return validate_entity(frame, quarantine_frame([], QUARANTINE_KEY), key="player_id",
                           quarantine_key=QUARANTINE_KEY, row_suite=row_suite,
                           table_suite=table_suite, as_of="2026-12-01", min_rows=1,
                           max_quarantine_rate=1.0, source="players.parquet")


@pytest.mark.parametrize(("column", "value", "rule"), [
    ("sum_gamerounds", -4, "expect_column_values_to_be_between"),
    ("arm", "gate_50", "expect_column_values_to_be_in_set"),
    ("retention_1", 2, "expect_column_values_to_be_in_set"),
    ("retention_7", -1, "expect_column_values_to_be_in_set"),
    ("player_id", None, "expect_column_values_to_not_be_null"),
    ("player_id", "demo-0000001", "expect_column_values_to_be_unique"),
])
def test_a_broken_row_is_quarantined_naming_row_column_rule_and_value(column, value, rule,
                                                                     suites):
    broken = GOOD.copy()
    broken[column] = broken[column].astype(object)
    broken.at[9, column] = value
    outcome = validate(broken, suites)
    quarantined = outcome.quarantined
    assert len(outcome.accepted) + len(quarantined) == len(GOOD)
    assert 10 in quarantined["source_row"].tolist()
    reasons = json.loads(quarantined.set_index("source_row").loc[10, "reasons"])
    assert {"rule": rule, "column": column} in [{k: r[k] for k in ("rule", "column")}
                                                for r in reasons]


def test_a_missing_column_stops_the_run_naming_it(suites):
    outcome = validate(GOOD.drop(columns=["arm"]), suites)
    assert any("arm" in failure for failure in outcome.failures) and outcome.accepted.empty


def test_the_reader_rejects_unreadable_values_with_file_row_column_and_value(tmp_path):
    path = tmp_path / "cats.csv"
    path.write_text("userid,version,sum_gamerounds,retention_1,retention_7\n"
                    "1,gate_30,3,FALSE,FALSE\n2,gate_40,many,TRUE,FALSE\n"
                    "3,gate_30,4,yes,FALSE\n4,,5,TRUE,TRUE\n5,gate_40,6,true,1\n")
    read = read_cookie_cats(path, limits=LIMITS)
    assert read.records_read == 5 == len(read.rows) + len(read.rejects)
    assert read.rejects[["source_row", "rule", "column", "value"]].values.tolist() == [
        [2, "parse_int", "sum_gamerounds", "many"], [3, "parse_bool", "retention_1", "yes"],
        [4, "required_value", "arm", ""]]
    assert read.rows["file_row"].tolist() == [1, 5]
    assert read.rows["retention_7"].tolist() == [0, 1]


@hypothesis.settings(max_examples=5, deadline=None, derandomize=True,
                     suppress_health_check=[hypothesis.HealthCheck.too_slow])
@hypothesis.given(data=st.data())
def test_rows_in_equals_accepted_plus_quarantined(data, suites):
    rows = data.draw(st.lists(st.integers(0, len(GOOD) - 1), max_size=8, unique=True))
    broken = GOOD.copy()
    for row in rows:
        column = data.draw(st.sampled_from(["sum_gamerounds", "retention_1", "retention_7"]))
        value = data.draw(st.integers(-10**6, -1) if column == "sum_gamerounds"
                          else st.integers(2, 10**6))
        broken.loc[row, column] = value
    outcome = validate(broken, suites)
    assert len(outcome.accepted) + len(outcome.quarantined) == len(GOOD)
    assert sorted(outcome.quarantined["source_row"].astype(int) - 1) == sorted(rows)
    assert isinstance(outcome.report["rows_in"], int)
    assert pd.api.types.is_integer_dtype(outcome.accepted["sum_gamerounds"])
