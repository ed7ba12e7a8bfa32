"""The ads contract: the Facebook-ads reader's rejects, the row and table rules on broken
input (each naming row, column, rule and value), the property that every row is accepted
or quarantined exactly once, and the real file (shared_data)."""

import json
from pathlib import Path

import pandas as pd
import pytest

from pipelines.collect.formats import ReadLimits
from pipelines.tasks.ad_rates_data import KAGGLE_HEADER, generate_ads, read_facebook_ads
from pipelines.tasks.binary_table_task import QUARANTINE_KEY
from pipelines.validate.entity_contract import quarantine_frame, validate_entity

LIMITS = ReadLimits.defaults()

hypothesis = pytest.importorskip("hypothesis", reason="property tests need hypothesis")
st = hypothesis.strategies

PROJECT_ROOT = Path(__file__).resolve().parents[3]
GOOD = generate_ads(30, seed=5)
PAIR = "expect_column_pair_values_a_to_be_greater_than_b"


@pytest.fixture(scope="module")
def suites():
    from pipelines.validate.expectations import load_suite

    return (load_suite(PROJECT_ROOT / "expectations" / "ads_row_contract.json"),
            load_suite(PROJECT_ROOT / "expectations" / "ads_table_contract.json"))


def validate(frame, suites):
    row_suite, table_suite = suites
    return validate_entity(frame, quarantine_frame([], QUARANTINE_KEY), key="ad_id",
                           quarantine_key=QUARANTINE_KEY, row_suite=row_suite,
                           table_suite=table_suite, as_of="2026-12-01", min_rows=1,
                           max_quarantine_rate=1.0, source="ads.parquet")


#: (row, column, value, rule, column named): one broken value per row, all in one frame.
BROKEN = [
    (2, "clicks", 10**9, PAIR, "impressions,clicks"),                  # clicks > impressions
    (4, "spend", -3.5, "expect_column_values_to_be_between", "spend"),
    (6, "gender", "X", "expect_column_values_to_be_in_set", "gender"),
    (8, "age", "18-24", "expect_column_values_to_be_in_set", "age"),
    (10, "impressions", 0, "expect_column_values_to_be_between", "impressions"),
    (12, "conversions", 10**9, PAIR, "impressions,conversions"),
    (14, "campaign", None, "expect_column_values_to_not_be_null", "campaign"),
    (16, "ad_id", GOOD.loc[0, "ad_id"], "expect_column_values_to_be_unique", "ad_id"),
]


def test_every_broken_row_is_quarantined_naming_row_column_rule_and_value(suites):
    broken = GOOD.copy()
    for row, column, value, _, _ in BROKEN:
        broken[column] = broken[column].astype(object) if value is None else broken[column]
        broken.at[row, column] = value
    outcome = validate(broken, suites)
    quarantined = outcome.quarantined.set_index("source_row")
    assert len(outcome.accepted) + len(quarantined) == len(GOOD)
    # the duplicate id quarantines both of its rows
    assert sorted(quarantined.index) == sorted({r + 1 for r, *_ in BROKEN} | {1})
    for row, _column, value, rule, named in BROKEN:
        reasons = json.loads(quarantined.loc[row + 1, "reasons"])
        assert {"rule": rule, "column": named} in [{k: r[k] for k in ("rule", "column")}
                                                   for r in reasons], (row, reasons)
        if value is not None and rule != PAIR:
            assert str(value) in {r["value"] for r in reasons}


def test_a_missing_column_stops_the_run_naming_it(suites):
    outcome = validate(GOOD.drop(columns=["impressions"]), suites)
    assert any("impressions" in failure for failure in outcome.failures)
    assert outcome.accepted.empty


@hypothesis.settings(max_examples=6, deadline=None, derandomize=True,
                     suppress_health_check=[hypothesis.HealthCheck.too_slow])
@hypothesis.given(data=st.data())
def test_rows_are_quarantined_exactly_when_a_count_exceeds_its_trials(data, suites):
    """Any clicks and impressions: a row is quarantined iff clicks > impressions or
    impressions < 1; rows in = accepted + quarantined."""
    frame = GOOD.copy()
    impressions = data.draw(st.lists(st.integers(-5, 50), min_size=len(frame),
                                     max_size=len(frame)))
    clicks = data.draw(st.lists(st.integers(0, 60), min_size=len(frame),
                                max_size=len(frame)))
    frame["impressions"], frame["clicks"] = impressions, clicks
    frame["conversions"], frame["approved_conversions"] = 0, 0
    outcome = validate(frame, suites)
    expected = {i + 1 for i in range(len(frame)) if clicks[i] > impressions[i]
                or impressions[i] < 1}
    assert set(outcome.quarantined["source_row"]) == expected
    assert len(outcome.accepted) + len(outcome.quarantined) == len(frame)


def test_the_reader_rejects_unreadable_values_naming_file_row_column_and_rule(tmp_path):
    header = ["Date", *KAGGLE_HEADER.values()]
    good = ["01-08-2023", "1", "916", "30-34", "M", "15", "7350", "1", "1.43", "2", "1"]
    records = [good, [*good[:1], "2", *good[2:6], "many", *good[7:]],
               [*good[:1], "3", *good[2:8], "", *good[9:]],
               [*good[:1], "4", *good[2:5], "1.5", *good[6:]]]
    path = tmp_path / "ads.csv"
    pd.DataFrame(records, columns=header).to_csv(path, index=False)
    loaded = read_facebook_ads(path, limits=LIMITS)
    assert (len(loaded.rows), len(loaded.rejects), loaded.records_read) == (1, 3, 4)
    rejects = loaded.rejects.set_index("source_row")
    assert (rejects.loc[2, "column"], rejects.loc[2, "rule"], rejects.loc[2, "value"]) == (
        "impressions", "parse_int", "many")
    assert (rejects.loc[3, "column"], rejects.loc[3, "rule"]) == ("spend", "required_value")
    assert (rejects.loc[4, "column"], rejects.loc[4, "rule"]) == ("interest", "parse_int")
    assert set(loaded.rejects["source_file"]) == {str(path)}
    with pytest.raises(ValueError, match="lacks column"):
        pd.DataFrame(records, columns=header).drop(columns=["Clicks"]).to_csv(path,
                                                                              index=False)
        read_facebook_ads(path, limits=LIMITS)


@pytest.mark.shared_data
def test_the_real_file_reads_every_ad(shared_data_dir, suites):
    loaded = read_facebook_ads(shared_data_dir / "audience" / "facebook_ads"
                               / "KAG_conversion_data.csv", limits=LIMITS)
    assert (len(loaded.rows), len(loaded.rejects)) == (1143, 0)
    assert set(loaded.rows["campaign"]) == {"916", "936", "1178"}
    outcome = validate(loaded.rows, suites)
    assert (len(outcome.accepted), len(outcome.quarantined)) == (1143, 0)
