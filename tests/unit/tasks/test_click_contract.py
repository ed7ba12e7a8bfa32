"""The impressions contract (expectations/impressions_*.json) through
:func:`pipelines.validate.entity_contract.validate_entity`: bad rows are quarantined with
rule, column and value; bad tables stop the run; rows in = accepted + quarantined, also
for any corruption hypothesis draws."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipelines.tasks.click_data import generate_impressions, quarantine_frame
from pipelines.tasks.click_features import click_summary
from pipelines.validate.entity_contract import validate_entity
from pipelines.validate.expectations import load_suite

hypothesis = pytest.importorskip("hypothesis", reason="property tests need hypothesis")
st = hypothesis.strategies

ROOT = Path(__file__).resolve().parents[3]
ROWS = 30
GOOD = generate_impressions(ROWS, seed=9)
AS_OF = pd.Timestamp("2026-12-01", tz="UTC")


@pytest.fixture(scope="module")
def impression_suites() -> tuple[dict, dict]:
    return (load_suite(ROOT / "expectations" / "impressions_row_contract.json"),
            load_suite(ROOT / "expectations" / "impressions_table_contract.json"))


def validate(rows, suites, **kwargs):
    row_suite, table_suite = suites
    options = {"min_rows": 1, "max_quarantine_rate": 1.0, **kwargs}
    return validate_entity(rows, quarantine_frame([]), key="impression_id",
                           row_suite=row_suite, table_suite=table_suite, as_of=AS_OF,
                           source="test", summaries={"summary": click_summary},
                           **options)


# Bad rows: (column, value that breaks it, the rule that names it).
BAD_ROWS = {
    "position_4": ("position", 4, "expect_column_values_to_be_in_set"),
    "click_2": ("click", 2, "expect_column_values_to_be_in_set"),
    "negative_affinity": ("item_affinity", -1.0, "expect_column_values_to_be_between"),
    "propensity_above_1": ("propensity_score", 1.5, "expect_column_values_to_be_between"),
    "unknown_campaign": ("campaign", "kids", "expect_column_values_to_be_in_set"),
    "unknown_policy": ("policy", "epsilon_greedy", "expect_column_values_to_be_in_set"),
    "missing_user_feature": ("user_feature_1", None, "expect_column_values_to_not_be_null"),
    "future_impression": ("shown_at", pd.Timestamp("2027-01-01", tz="UTC"),
                          "expect_column_values_to_be_between"),
    "negative_item": ("item_id", -3, "expect_column_values_to_be_between"),
}


def test_each_bad_row_is_quarantined_with_rule_column_and_value(impression_suites):
    rows = GOOD.copy()
    rows["user_feature_1"] = rows["user_feature_1"].astype(object)
    broken = {}                                      # row -> case
    for row, case in enumerate(sorted(BAD_ROWS), start=2):
        column, value, _ = BAD_ROWS[case]
        rows.loc[row, column] = value
        broken[row] = case
    rows.loc[21, "impression_id"] = rows.loc[20, "impression_id"]   # a repeated id
    outcome = validate(rows, impression_suites)
    assert outcome.failures == []
    assert len(outcome.accepted) + len(outcome.quarantined) == ROWS == outcome.report["rows_in"]
    assert len(outcome.quarantined) == len(BAD_ROWS) + 2
    quarantined = outcome.quarantined.set_index("source_row")
    for row, case in broken.items():
        column, value, rule = BAD_ROWS[case]
        bad = quarantined.loc[row + 1]
        assert (bad["rule"], bad["column"]) == (rule, column), case
        assert bad["impression_id"] == GOOD.loc[row, "impression_id"], case
        shown = value.isoformat() if isinstance(value, pd.Timestamp) else str(value)
        assert bad["value"] == shown, case
        assert json.loads(bad["record"])["impression_id"] == GOOD.loc[row, "impression_id"]
    assert set(quarantined.loc[[21, 22], "rule"]) == {"expect_column_values_to_be_unique"}
    assert not set(outcome.accepted["impression_id"]) & set(quarantined["impression_id"])


def test_a_missing_column_or_a_wrong_type_stops_the_run_listing_every_failure(
        impression_suites):
    outcome = validate(GOOD.drop(columns=["position", "click"]), impression_suites)
    assert outcome.accepted.empty
    assert sum("expect_column_to_exist" in f for f in outcome.failures) == 2
    typed = validate(GOOD.assign(item_affinity=GOOD["item_affinity"].astype(str)),
                     impression_suites)
    assert any("item_affinity" in f and "of_type" in f for f in typed.failures)


def test_too_many_quarantined_rows_or_too_few_accepted_fail_the_dataset(impression_suites):
    rows = GOOD.copy()
    rows.loc[:9, "position"] = 9
    outcome = validate(rows, impression_suites, max_quarantine_rate=0.1, min_rows=25)
    assert len(outcome.accepted) + len(outcome.quarantined) == ROWS
    assert any("quarantine rate" in f for f in outcome.failures)
    assert any("below validate.min_rows 25" in f for f in outcome.failures)


negative = st.floats(min_value=-1e6, max_value=-1e-6)
#: Column -> values that break its row rules (same dtype: only row rules fail).
CORRUPTIONS = {
    "position": st.integers(min_value=-5, max_value=50).filter(lambda v: v not in (1, 2, 3)),
    "click": st.integers(min_value=-5, max_value=50).filter(lambda v: v not in (0, 1)),
    "item_affinity": negative | st.just(np.nan),
    "affinity_total": negative,
    "affinity_max": negative,
    "propensity_score": st.floats(min_value=1.000001, max_value=1e3) | negative,
    "item_feature_0": st.floats(min_value=10.0001, max_value=1e6) | st.just(np.nan),
    "campaign": st.text(max_size=8).filter(lambda t: t not in ("all", "men", "women")),
}


@hypothesis.settings(max_examples=3, deadline=None, derandomize=True,
                     suppress_health_check=[hypothesis.HealthCheck.too_slow,
                                            hypothesis.HealthCheck.function_scoped_fixture])
@hypothesis.given(data=st.data())
def test_rows_in_equals_accepted_plus_quarantined_and_exactly_the_broken_rows_go(
        data, impression_suites):
    rows = data.draw(st.lists(st.integers(0, ROWS - 1), min_size=0, max_size=8, unique=True))
    broken = GOOD.copy()
    expected: dict[int, set[str]] = {}
    for row in rows:
        column = data.draw(st.sampled_from(sorted(CORRUPTIONS)))
        broken.loc[row, column] = data.draw(CORRUPTIONS[column])
        expected.setdefault(row, set()).add(column)
    outcome = validate(broken, impression_suites)
    assert len(outcome.accepted) + len(outcome.quarantined) == ROWS == outcome.report["rows_in"]
    quarantined = outcome.quarantined.set_index("source_row")
    assert sorted(quarantined.index) == sorted(r + 1 for r in expected)
    for row, columns in expected.items():
        named = {r["column"] for r in json.loads(quarantined.loc[row + 1, "reasons"])}
        assert columns <= named, (row, columns, named)
