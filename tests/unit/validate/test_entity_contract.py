"""The one implementation of an entity's contract (:mod:`pipelines.validate.entity_contract`)
on a tiny entity built here: the quarantine layout and where the key goes, the reader's
rejects, the validation split and its report, the split of rows to score. The entities'
own suites are tested beside their tasks (tests/unit/tasks/test_*_contract.py)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from pipelines.collect.formats import ReadLimits
from pipelines.validate.entity_contract import (
    parse_rejects,
    quarantine_columns,
    quarantine_frame,
    read_text_csv,
    split_scorable,
    validate_entity,
)

LIMITS = ReadLimits.defaults()

hypothesis = pytest.importorskip("hypothesis", reason="property tests need hypothesis")
st = hypothesis.strategies

ROW_SUITE = {"name": "toy_row_contract", "expectations": [
    {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "toy_id"}},
    {"type": "expect_column_values_to_be_between",
     "kwargs": {"column": "count", "min_value": 0}},
    {"type": "expect_column_values_to_be_between",
     "kwargs": {"column": "seen_at", "max_value": {"$PARAMETER": "as_of"}}},
]}
TABLE_SUITE = {"name": "toy_table_contract", "expectations": [
    *({"type": "expect_column_to_exist", "kwargs": {"column": c}}
      for c in ("toy_id", "count", "seen_at")),
    {"type": "expect_table_row_count_to_be_between",
     "kwargs": {"min_value": {"$PARAMETER": "min_rows"}}},
]}
GOOD = pd.DataFrame({"toy_id": [f"t{i}" for i in range(10)], "count": range(10),
                     "seen_at": pd.date_range("2026-11-01", periods=10, tz="UTC")})


def validate(rows, *, quarantine_key=None, summaries=None, as_of="2026-12-01",
             min_rows=1, max_quarantine_rate=1.0, rejects=None, record_chars=None):
    return validate_entity(
        rows, quarantine_frame([], quarantine_key or "toy_id") if rejects is None else rejects,
        key="toy_id", row_suite=ROW_SUITE, table_suite=TABLE_SUITE, as_of=as_of,
        min_rows=min_rows, max_quarantine_rate=max_quarantine_rate, source="toys.parquet",
        summaries=summaries, quarantine_key=quarantine_key, record_chars=record_chars)


def test_the_quarantine_layout_names_the_key_column_where_the_entity_says():
    assert quarantine_columns("toy_id") == ("stage", "source_file", "source_row", "toy_id",
                                            "rule", "column", "value", "reasons", "record")
    frame = quarantine_frame([{"stage": "collect", "source_row": 3, "key": "a"}], "key")
    assert list(frame.columns) == list(quarantine_columns("key"))
    assert str(frame["source_row"].dtype) == "Int64" and str(frame["key"].dtype) == "string"


@pytest.mark.parametrize("quarantine_key", [None, "key"])
def test_a_broken_row_is_quarantined_naming_row_key_column_rule_and_value(quarantine_key):
    broken = GOOD.copy()
    broken.loc[4, "count"] = -2
    outcome = validate(broken.set_index(broken.index + 100), quarantine_key=quarantine_key)
    assert list(outcome.accepted.index) == list(range(len(GOOD) - 1))
    [row] = outcome.quarantined.to_dict("records")
    assert (row["stage"], row["source_file"], row["source_row"]) == ("validate",
                                                                     "toys.parquet", 5)
    assert row[quarantine_key or "toy_id"] == "t4"
    assert (row["rule"], row["column"], row["value"]) == (
        "expect_column_values_to_be_between", "count", "-2")
    assert json.loads(row["record"])["toy_id"] == "t4"


@pytest.mark.parametrize("record_chars", [None, 5, 500])
def test_a_quarantined_record_is_cut_to_record_chars_or_kept_whole(record_chars):
    broken = GOOD.copy()
    broken.loc[2, "count"] = -1
    [record] = validate(broken, record_chars=record_chars).quarantined["record"]
    whole = broken.loc[2].to_json(date_format="iso", default_handler=str)
    assert record == whole[:record_chars] and len(whole) > 5
    if record_chars != 5:
        assert json.loads(record)["count"] == -1


def test_as_of_bounds_the_rows_and_is_reported_in_utc():
    late = GOOD.copy()
    outcome = validate(late, as_of="2026-11-05")               # naive: UTC
    assert outcome.report["as_of"] == "2026-11-05T00:00:00+00:00"
    assert sorted(outcome.quarantined["source_row"].astype(int)) == [6, 7, 8, 9, 10]
    aware = validate(late, as_of=pd.Timestamp("2026-11-05 01:00", tz="Europe/Paris"))
    assert aware.report["as_of"] == "2026-11-05T00:00:00+00:00"


def test_summaries_name_their_report_keys_and_none_adds_none():
    def rows(frame):
        return {"rows": len(frame)}

    assert validate(GOOD, summaries={"months": rows}).report["months"] == {"rows": 10}
    plain = validate(GOOD).report
    assert "summary" not in plain and "months" not in plain
    assert list(plain)[-1] == "failures"
    empty = validate(GOOD.assign(count=-1), summaries={"summary": rows}).report
    assert empty["summary"] == {}                  # nothing accepted: nothing summarised


def test_a_missing_column_stops_the_run_and_splits_nothing():
    outcome = validate(GOOD.drop(columns=["count"]))
    assert outcome.accepted.empty and outcome.quarantined.empty
    assert any("count" in failure for failure in outcome.failures)


def test_dataset_rules_fail_on_quarantine_rate_and_min_rows():
    broken = GOOD.copy()
    broken.loc[:4, "count"] = -1
    failures = validate(broken, min_rows=6, max_quarantine_rate=0.4).failures
    assert any("quarantine rate 50.00% (5 of 10 rows)" in f for f in failures)
    assert any("5 accepted rows is below validate.min_rows 6" in f for f in failures)


def test_the_reader_rejects_name_file_row_column_rule_and_value():
    raw = pd.DataFrame({"toy_id": ["a", " ", "c"], "count": ["1", "2", "x"]})
    parsed = {"toy_id": raw["toy_id"].where(raw["toy_id"].str.strip() != ""),
              "count": pd.to_numeric(raw["count"], errors="coerce")}
    readable, rejects = parse_rejects(raw, parsed, key="toy_id", source="toys.csv",
                                      rules={"toy_id": "required_value",
                                             "count": "parse_int"}, quarantine_key="key")
    assert readable.tolist() == [True, False, False]
    assert rejects[["source_file", "source_row", "key", "rule", "column", "value"]
                   ].values.tolist() == [["toys.csv", 2, " ", "required_value", "toy_id", ""],
                                         ["toys.csv", 3, "c", "parse_int", "count", "x"]]
    # carried on into validation: counted in rows in and quarantined
    outcome = validate(GOOD, quarantine_key="key", rejects=rejects)
    assert outcome.report["rows_in"] == len(GOOD) + 2 == outcome.report["rows_quarantined"] + 10


def test_a_csv_is_read_as_text_under_canonical_names_or_refused_naming_the_columns(tmp_path):
    path = tmp_path / "toys.csv"
    path.write_text("Count,Toy ID,extra\n1,a,x\n,b,y\n")
    raw = read_text_csv(path, {"toy_id": "Toy ID", "count": "Count"}, reader="read_toys",
                        limits=LIMITS)
    assert raw.to_dict("list") == {"toy_id": ["a", "b"], "count": ["1", ""]}
    with pytest.raises(ValueError, match=r"read_toys: .*toys.csv lacks column\(s\) \['Age'\]"):
        read_text_csv(path, {"age": "Age"}, reader="read_toys", limits=LIMITS)
    with pytest.raises(ValueError, match="read_toys: cannot read .*absent.csv as CSV"):
        read_text_csv(tmp_path / "absent.csv", {"age": "Age"}, reader="read_toys", limits=LIMITS)


def test_rows_to_score_are_split_by_the_rules_on_what_a_client_sends():
    broken = GOOD.copy()
    broken.loc[2, "count"] = -5
    broken.loc[3, "seen_at"] = pd.Timestamp("2030-01-01", tz="UTC")   # not sent: not judged
    accepted, quarantined = split_scorable(broken, ROW_SUITE, key="toy_id",
                                           columns=("toy_id", "count"), source="score.csv")
    assert len(accepted) == len(GOOD) - 1
    assert quarantined[["stage", "source_row", "toy_id", "column"]].values.tolist() == [
        ["score", 3, "t2", "count"]]
    empty, none = split_scorable(GOOD.iloc[0:0], ROW_SUITE, key="toy_id",
                                 columns=("toy_id",), source="score.csv")
    assert empty.empty and list(none.columns) == list(quarantine_columns("toy_id"))


@hypothesis.settings(max_examples=5, deadline=None, derandomize=True,
                     suppress_health_check=[hypothesis.HealthCheck.too_slow])
@hypothesis.given(bad=st.lists(st.integers(0, len(GOOD) - 1), max_size=10, unique=True))
def test_rows_in_equals_accepted_plus_quarantined(bad):
    broken = GOOD.copy()
    broken.loc[bad, "count"] = -1
    outcome = validate(broken)
    assert len(outcome.accepted) + len(outcome.quarantined) == len(GOOD)
    assert sorted(outcome.quarantined["source_row"].astype(int) - 1) == sorted(bad)
