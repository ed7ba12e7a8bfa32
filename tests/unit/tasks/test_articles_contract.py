"""The articles contract (expectations/articles_*_contract.json) on good and broken rows:
each bad row is quarantined naming rule, column and value; rows in = accepted +
quarantined; a table-level failure stops the run; and a property over random corruptions."""

import json

import pandas as pd
import pytest

from pipelines.tasks.articles_data import generate_articles, quarantine_frame, validate_articles
from pipelines.validate.expectations import load_suite
from tests.unit.tasks.conftest import PROJECT_ROOT

hypothesis = pytest.importorskip("hypothesis", reason="property tests need hypothesis")
st = hypothesis.strategies

ROWS = 30
GOOD = generate_articles(ROWS, 6, seed=5)
AS_OF = pd.Timestamp("2026-12-01", tz="UTC")
ROW_SUITE = load_suite(PROJECT_ROOT / "expectations/articles_row_contract.json")
TABLE_SUITE = load_suite(PROJECT_ROOT / "expectations/articles_table_contract.json")

#: Row -> (column, bad value, the rule that must name it): the bad-input corpus.
BAD_CASES = {
    1: ("points", -3, "expect_column_values_to_be_between"),
    2: ("comments", -1, "expect_column_values_to_be_between"),
    3: ("created_at", pd.Timestamp("2030-01-01", tz="UTC"), "expect_column_values_to_be_between"),
    4: ("title", "", "expect_column_value_lengths_to_be_between"),
    5: ("title", "x" * 301, "expect_column_value_lengths_to_be_between"),
    6: ("url", "ftp://files.example.com/a", "expect_column_values_to_match_regex"),
    7: ("url", "not a link", "expect_column_values_to_match_regex"),
    8: ("author", None, "expect_column_values_to_not_be_null"),
    9: ("article_id", GOOD.loc[0, "article_id"], "expect_column_values_to_be_unique"),
    10: ("created_at", pd.Timestamp("1999-12-31", tz="UTC"),
         "expect_column_values_to_be_between"),
}


def _validate(frame, earlier=None, **kw):
    options = {"as_of": AS_OF, "min_rows": 1, "max_quarantine_rate": 1.0, "source": "test"}
    return validate_articles(frame, quarantine_frame([]) if earlier is None else earlier,
                             row_suite=ROW_SUITE, table_suite=TABLE_SUITE, **{**options, **kw})


def test_good_articles_pass_and_every_bad_case_is_quarantined_with_its_reason():
    broken = GOOD.copy()
    for row, (column, value, _) in BAD_CASES.items():
        broken[column] = broken[column].astype(object) if value is None else broken[column]
        broken.loc[row, column] = value
    earlier = quarantine_frame([{"stage": "collect", "source_file": "f.csv", "source_row": 99,
                                 "article_id": "x", "rule": "parse_int", "column": "num_points",
                                 "value": "ten", "reasons": "[]", "record": "{}"}])
    outcome = _validate(broken, earlier)
    assert outcome.report["rows_in"] == ROWS + 1
    assert len(outcome.accepted) + len(outcome.quarantined) == ROWS + 1
    failed = outcome.quarantined[outcome.quarantined["stage"] == "validate"]
    # the duplicate id quarantines both rows holding it
    assert sorted(failed["source_row"]) == sorted([1, *(r + 1 for r in BAD_CASES)])
    for row, (column, value, rule) in BAD_CASES.items():
        reasons = json.loads(failed.set_index("source_row").loc[row + 1, "reasons"])
        assert {"rule": rule, "column": column} in [
            {"rule": r["rule"], "column": r["column"]} for r in reasons], (row, reasons)
        shown = value.isoformat() if isinstance(value, pd.Timestamp) else str(value)
        if value is not None:
            assert any(r["value"] == shown[:200] for r in reasons), (row, reasons)
    # the good rows all pass
    assert set(outcome.accepted["article_id"]) == {
        GOOD.loc[r, "article_id"] for r in range(ROWS) if r not in (0, *BAD_CASES)}
    assert not outcome.failures


def test_dataset_rules_fail_the_run_with_every_reason():
    missing = _validate(GOOD.drop(columns=["points"]))
    assert any("points" in f for f in missing.failures)
    assert missing.accepted.empty
    retyped = _validate(GOOD.assign(points=GOOD["points"].astype(float)))
    assert any("expect_column_values_to_be_of_type" in f and "points" in f
               for f in retyped.failures)
    broken = GOOD.assign(points=-1)
    outcome = _validate(broken, min_rows=5, max_quarantine_rate=0.05)
    assert any("quarantine rate" in f for f in outcome.failures)
    assert any("below validate.min_rows 5" in f for f in outcome.failures)


@hypothesis.settings(max_examples=4, deadline=None, derandomize=True,
                     suppress_health_check=[hypothesis.HealthCheck.too_slow])
@hypothesis.given(data=st.data())
def test_rows_in_equals_accepted_plus_quarantined(data):
    corruptions = {
        "points": st.integers(min_value=-10**6, max_value=-1)
        | st.integers(min_value=10**6 + 1, max_value=10**9),
        "comments": st.integers(min_value=-10**6, max_value=-1),
        "title": st.text(min_size=301, max_size=320) | st.just(""),
        "url": st.text(max_size=20).filter(lambda t: not t.lower().startswith("http")),
    }
    rows = data.draw(st.lists(st.integers(0, ROWS - 1), max_size=6, unique=True))
    broken = GOOD.copy()
    expected: dict[int, set[str]] = {}
    for row in rows:
        column = data.draw(st.sampled_from(sorted(corruptions)))
        broken.loc[row, column] = data.draw(corruptions[column])
        expected.setdefault(row, set()).add(column)
    outcome = _validate(broken)
    assert len(outcome.accepted) + len(outcome.quarantined) == ROWS == outcome.report["rows_in"]
    quarantined = outcome.quarantined.set_index("source_row")
    assert sorted(quarantined.index) == sorted(r + 1 for r in expected)
    for row, columns in expected.items():
        named = {r["column"] for r in json.loads(quarantined.loc[row + 1, "reasons"])}
        assert columns <= named, (row, columns, named)
