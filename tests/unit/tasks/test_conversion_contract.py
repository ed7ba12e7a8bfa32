"""The sessions data contract on a good and a deliberately broken fixture."""

import json

import numpy as np
import pandas as pd
import pytest

from pipelines.tasks.conversion_data import (
    COLUMNS,
    generate_sessions,
    quarantine_frame,
    validate_sessions,
)

FUTURE = pd.Timestamp("2030-01-01", tz="UTC")
#: (column, bad value, the rule that must catch it).
BREAKS = [
    ("product_related", -1, "expect_column_values_to_be_between"),
    ("administrative_duration", -5.0, "expect_column_values_to_be_between"),
    ("bounce_rates", 0.5, "expect_column_values_to_be_between"),
    ("exit_rates", -0.01, "expect_column_values_to_be_between"),
    ("page_values", -1.0, "expect_column_values_to_be_between"),
    ("special_day", 2.0, "expect_column_values_to_be_between"),
    ("browser", 0, "expect_column_values_to_be_between"),
    ("month", "Foo", "expect_column_values_to_be_in_set"),
    ("visitor_type", "Robot", "expect_column_values_to_be_in_set"),
    ("converted", 2, "expect_column_values_to_be_in_set"),
    ("session_id", None, "expect_column_values_to_not_be_null"),
    ("informational_duration", np.nan, "expect_column_values_to_not_be_null"),
    ("month_start", FUTURE, "expect_column_values_to_be_between"),
]


def run(sessions, suites, as_of, *, rejects=None, min_rows=10, max_quarantine_rate=1.0):
    row_suite, table_suite = suites
    return validate_sessions(
        sessions, quarantine_frame([]) if rejects is None else rejects, row_suite=row_suite,
        table_suite=table_suite, as_of=as_of, min_rows=min_rows,
        max_quarantine_rate=max_quarantine_rate, source="fixture")


@pytest.fixture(scope="module")
def good() -> pd.DataFrame:
    return generate_sessions(60, seed=3)


def test_the_good_fixture_passes_every_rule(good, suites, as_of):
    outcome = run(good, suites, as_of)
    assert outcome.failures == []
    assert len(outcome.accepted) == 60 and outcome.quarantined.empty
    report = outcome.report
    assert (report["rows_in"], report["rows_accepted"], report["rows_quarantined"]) == (60, 60, 0)
    assert report["top_reasons"] == {}
    assert sum(m["rows"] for m in report["months"].values()) == 60


def test_every_broken_row_is_quarantined_with_rule_column_and_value(good, suites, as_of):
    broken = good.copy()
    for row, (column, value, _) in enumerate(BREAKS):
        broken[column] = broken[column].astype(object) if value is None else broken[column]
        broken.loc[row, column] = value
    duplicate = len(BREAKS)
    broken.loc[duplicate, "session_id"] = broken.loc[duplicate + 1, "session_id"]
    outcome = run(broken, suites, as_of)
    quarantined = outcome.quarantined.set_index("source_row")
    assert len(outcome.accepted) + len(quarantined) == 60  # rows in = accepted + quarantined
    assert sorted(quarantined.index) == list(range(1, len(BREAKS) + 3))
    for row, (column, value, rule) in enumerate(BREAKS):
        reasons = json.loads(quarantined.loc[row + 1, "reasons"])
        assert {"rule": rule, "column": column} in [
            {"rule": r["rule"], "column": r["column"]} for r in reasons], (column, reasons)
        if isinstance(value, int | float) and not pd.isna(value):
            assert str(value) in [r["value"] for r in reasons if r["column"] == column]
    for row in (duplicate, duplicate + 1):
        first = json.loads(quarantined.loc[row + 1, "reasons"])[0]
        assert first["rule"] == "expect_column_values_to_be_unique"
        assert first["column"] == "session_id"
    assert quarantined.loc[1, "record"].startswith("{")
    assert quarantined.loc[1, "stage"] == "validate"
    assert outcome.report["rows_quarantined"] == len(BREAKS) + 2
    assert "expect_column_values_to_be_between (bounce_rates)" in outcome.report["top_reasons"]


def test_collect_rejects_count_as_rows_in_and_quarantined(good, suites, as_of):
    rejects = quarantine_frame([{"stage": "collect", "source_file": "f.csv", "source_row": 7,
                                 "rule": "parse_int", "column": "Browser", "value": "x"}])
    outcome = run(good, suites, as_of, rejects=rejects)
    assert outcome.report["rows_in"] == 61 and outcome.report["rows_quarantined"] == 1
    assert outcome.report["top_reasons"] == {"parse_int (Browser)": 1}


def test_dataset_rules_are_collected_into_one_list(good, suites, as_of):
    broken = good.copy()
    broken.loc[:9, "bounce_rates"] = 0.9
    outcome = run(broken, suites, as_of, min_rows=55, max_quarantine_rate=0.05)
    text = "\n".join(outcome.failures)
    assert "quarantine rate 16.67% (10 of 60 rows) exceeds validate.max_quarantine_rate 5.00%" \
        in text
    assert "50 accepted rows is below validate.min_rows 55" in text
    assert len(outcome.accepted) + len(outcome.quarantined) == 60


def test_a_missing_column_stops_before_splitting(good, suites, as_of):
    outcome = run(good.drop(columns=["exit_rates"]), suites, as_of)
    assert any("expect_column_to_exist on column 'exit_rates'" in f for f in outcome.failures)
    assert outcome.accepted.empty and outcome.quarantined.empty


def test_a_wrong_type_fails_the_table_contract(good, suites, as_of):
    outcome = run(good.assign(converted=good["converted"].astype(float)), suites, as_of)
    assert any("expect_column_values_to_be_of_type on column 'converted'" in f
               for f in outcome.failures)


def test_too_few_rows_fails_the_table_contract(good, suites, as_of):
    outcome = run(good, suites, as_of, min_rows=100)
    assert any("expect_table_row_count_to_be_between" in f for f in outcome.failures)


def test_the_suites_cover_every_canonical_column(suites):
    row_suite, table_suite = suites
    not_null = {e["kwargs"]["column"] for e in row_suite["expectations"]
                if e["type"] == "expect_column_values_to_not_be_null"}
    exists = {e["kwargs"]["column"] for e in table_suite["expectations"]
              if e["type"] == "expect_column_to_exist"}
    assert not_null == exists == set(COLUMNS)
