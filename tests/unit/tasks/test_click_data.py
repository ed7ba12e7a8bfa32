"""The Open Bandit reader: the folder layout, the item-context join, every unreadable record
rejected with file, row, column, rule and value, and the real small sample (shared_data)."""

import json

import pandas as pd
import pytest

from pipelines.collect.formats import ReadLimits
from pipelines.tasks.click_data import (
    COLUMNS,
    QUARANTINE_COLUMNS,
    item_context_path,
    read_open_bandit,
)

LIMITS = ReadLimits.defaults()

HEADER = (",timestamp,item_id,position,click,propensity_score,user_feature_0,user_feature_1,"
          "user_feature_2,user_feature_3,user-item_affinity_0,user-item_affinity_1,"
          "user-item_affinity_2")
ITEMS = (",item_id,item_feature_0,item_feature_1,item_feature_2,item_feature_3\n"
         "0,0,-0.5,a1,b1,c1\n1,1,0.25,a2,b1,c2\n2,2,1.5,a1,b2,c1\n")


def log_line(index: int, *, time="2019-11-24 00:0{}:00+00:00", item="1", position="2",
             click="0", propensity="0.03", affinity=("0.0", "2.0", "1.0")) -> str:
    return ",".join([str(index), time.format(index % 10), item, position, click, propensity,
                     "u0", "u1", "u2", "u3", *affinity])


def write_layout(folder, lines_random, lines_bts=None):
    (folder / "random" / "men").mkdir(parents=True)
    (folder / "random" / "men" / "item_context.csv").write_text(ITEMS)
    (folder / "random" / "men" / "men.csv").write_text("\n".join([HEADER, *lines_random]) + "\n")
    if lines_bts is not None:
        (folder / "bts" / "men").mkdir(parents=True)
        (folder / "bts" / "men" / "men.csv").write_text("\n".join([HEADER, *lines_bts]) + "\n")
    return folder


def test_good_records_join_their_item_and_pick_the_affinity_of_the_item_shown(tmp_path):
    folder = write_layout(tmp_path, [log_line(0), log_line(1, item="2", click="1")],
                          [log_line(0, item="0", propensity="0.2")])
    read = read_open_bandit(folder, logs=("random/men", "bts/men"), limits=LIMITS)
    rows = read.impressions
    assert read.records_read == 3 and read.rejects.empty and len(rows) == 3
    assert list(rows.columns) == list(COLUMNS)
    first = rows.set_index("impression_id").loc["random-men-0000001"]
    assert (first["item_id"], first["item_affinity"], first["affinity_total"],
            first["affinity_max"]) == (1, 2.0, 3.0, 2.0)
    assert first["item_feature_0"] == 0.25 and first["item_feature_1"] == "a2"
    bts = rows.set_index("impression_id").loc["bts-men-0000001"]
    assert (bts["policy"], bts["item_affinity"], bts["propensity_score"]) == ("bts", 0.0, 0.2)
    assert rows["shown_at"].is_monotonic_increasing
    # the bts folder has no item context: the campaign's, read under random
    assert item_context_path(folder, "bts", "men") == folder / "random" / "men" / "item_context.csv"
    assert str(folder / "random" / "men" / "item_context.csv") in read.files


# Bad input: each record is rejected with the rule and the column, the rest is read.
BAD = {
    "field_count": (lambda i: log_line(i) + ",extra", "field_count", ""),
    "time": (lambda i: log_line(i, time="yesterday{}"), "parse_time", "timestamp"),
    "position": (lambda i: log_line(i, position="two"), "parse_int", "position"),
    "fraction": (lambda i: log_line(i, position="1.5"), "parse_int", "position"),
    "item": (lambda i: log_line(i, item="99"), "unknown_item", "item_id"),
    "empty_click": (lambda i: log_line(i, click=""), "required_value", "click"),
    "affinity": (lambda i: log_line(i, affinity=("0.0", "lots", "1.0")), "parse_float",
                 "user-item_affinity_1"),
    "propensity": (lambda i: log_line(i, propensity="inf"), "parse_float", "propensity_score"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_an_unreadable_record_is_rejected_with_where_and_why(tmp_path, case):
    make, rule, column = BAD[case]
    folder = write_layout(tmp_path, [log_line(0), make(1), log_line(2)])
    read = read_open_bandit(folder, logs=("random/men",), limits=LIMITS)
    assert read.records_read == 3 == len(read.impressions) + len(read.rejects)
    assert list(read.rejects.columns) == list(QUARANTINE_COLUMNS)
    reject = read.rejects.iloc[0]
    assert (reject["stage"], reject["source_row"], reject["rule"], reject["column"]) == (
        "collect", 2, rule, column)
    assert reject["source_file"] == str(folder / "random" / "men" / "men.csv")
    assert reject["impression_id"] == "random-men-0000002"
    assert json.loads(reject["reasons"])[0]["rule"] == rule
    assert set(read.impressions["impression_id"]) == {"random-men-0000001",
                                                      "random-men-0000003"}


def test_a_record_with_several_faults_lists_every_reason(tmp_path):
    folder = write_layout(tmp_path, [log_line(0, position="x", click="", item="77")])
    read = read_open_bandit(folder, logs=("random/men",), limits=LIMITS)
    reasons = json.loads(read.rejects.iloc[0]["reasons"])
    assert {(r["rule"], r["column"]) for r in reasons} == {
        ("parse_int", "position"), ("required_value", "click"), ("unknown_item", "item_id")}


def test_missing_files_columns_and_bad_log_names_are_refused_by_name(tmp_path):
    folder = write_layout(tmp_path, [log_line(0)])
    with pytest.raises(ValueError, match="campaign in .*got 'random/kids'"):
        read_open_bandit(folder, logs=("random/kids",), limits=LIMITS)
    with pytest.raises(ValueError, match="no item_context.csv for campaign 'women'"):
        read_open_bandit(folder, logs=("random/women",), limits=LIMITS)
    (folder / "random" / "men" / "men.csv").write_text(",timestamp,item_id\n0,x,1\n")
    with pytest.raises(ValueError, match="men.csv lacks column.*'position'"):
        read_open_bandit(folder, logs=("random/men",), limits=LIMITS)


def test_a_log_to_score_may_lack_the_click(tmp_path):
    folder = write_layout(tmp_path, [])
    header = HEADER.replace(",click", "")
    line = log_line(0).split(",")
    del line[4]
    (folder / "random" / "men" / "men.csv").write_text(header + "\n" + ",".join(line) + "\n")
    read = read_open_bandit(folder, logs=("random/men",), outcome_required=False, limits=LIMITS)
    assert len(read.impressions) == 1 and read.impressions["click"].isna().all()


@pytest.mark.shared_data
def test_the_real_thompson_sampling_log_reads_whole_with_the_campaigns_items(shared_data_dir):
    folder = shared_data_dir / "audience" / "open_bandit"
    read = read_open_bandit(folder, logs=("bts/men",), limits=LIMITS)
    rows = read.impressions
    assert read.records_read == 10_000 == len(rows) and read.rejects.empty
    assert 0.003 < rows["click"].mean() < 0.01
    assert set(rows["position"]) == {1, 2, 3} and set(rows["policy"]) == {"bts"}
    assert rows["item_id"].between(0, 33).all() and rows["item_feature_1"].notna().all()
    assert str(folder / "random" / "men" / "item_context.csv") in read.files
    assert pd.Series(rows["shown_at"]).is_monotonic_increasing
