"""The session sources: the UCI CSV reader (good and broken files) and the demo generator."""

import json

import numpy as np
import pandas as pd
import pytest

from pipelines.collect.formats import ReadLimits
from pipelines.tasks.conversion_data import (
    COLUMNS,
    NOMINAL_YEAR,
    generate_sessions,
    read_sessions_csv,
)

LIMITS = ReadLimits.defaults()

HEADER = ("Administrative,Administrative_Duration,Informational,Informational_Duration,"
          "ProductRelated,ProductRelated_Duration,BounceRates,ExitRates,PageValues,SpecialDay,"
          "Month,OperatingSystems,Browser,Region,TrafficType,VisitorType,Weekend,Revenue")
GOOD_ROWS = [
    "0,0,0,0,1,0,0.2,0.2,0,0,Feb,1,1,1,1,Returning_Visitor,FALSE,0",
    "2,64.5,0,0,12,627.5,0.01,0.02,18.3,0.4,June,2,2,3,2,New_Visitor,TRUE,1",
    "1,10,1,5,30,900,0,0.01,0,0,nov,3,2,1,13,Other,false,TRUE",
]


def write(tmp_path, rows, header=HEADER, name="shoppers.csv"):
    path = tmp_path / name
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def test_reads_the_uci_layout_into_canonical_sessions(tmp_path):
    result = read_sessions_csv(write(tmp_path, GOOD_ROWS), limits=LIMITS)
    s = result.sessions
    assert list(s.columns) == list(COLUMNS)
    assert {c: str(t) for c, t in s.dtypes.items()} == {c: d for c, (d, _) in COLUMNS.items()}
    assert s["session_id"].tolist() == ["shoppers-0000001", "shoppers-0000002",
                                        "shoppers-0000003"]
    assert s["month"].tolist() == ["Feb", "Jun", "Nov"]
    assert s["month_start"].tolist() == [pd.Timestamp(f"{NOMINAL_YEAR}-{m:02d}-01", tz="UTC")
                                         for m in (2, 6, 11)]
    assert s["weekend"].tolist() == [False, True, False]
    assert s["converted"].tolist() == [0, 1, 1]
    assert s.loc[1, "product_related_duration"] == 627.5 and s.loc[1, "special_day"] == 0.4
    assert result.rejects.empty and result.records_read == 3


def test_unreadable_records_are_rejected_with_file_row_column_rule_value(tmp_path):
    rows = [
        GOOD_ROWS[0],
        "x,0,0,0,1,0,0.2,0.2,0,0,Feb,1,1,1,1,Returning_Visitor,FALSE,0",      # parse_int
        "0,0,0,0,1,0,abc,0.2,0,0,Feb,1,1,1,1,Returning_Visitor,FALSE,0",      # parse_float
        "0,0,0,0,1,0,0.2,0.2,0,0,Fbr,1,1,1,1,Returning_Visitor,FALSE,0",      # parse_month
        "0,0,0,0,1,0,0.2,0.2,0,0,Feb,1,1,1,1,Returning_Visitor,maybe,0",      # parse_bool
        "0,0,0,0,1,0,0.2,0.2,0,0,Feb,1,1,1,1,,FALSE,0",                       # required_value
        "0,0,0,0,1,0,0.2,0.2,0,0,Feb,1,1,1",                                  # field_count
        "1.5,0,0,0,1,0,inf,0.2,0,0,Feb,1,1,1,1,Returning_Visitor,FALSE,0.5",  # three reasons
        "0,0,0,0,1,0,0.2,0.2,0,0,Feb,1,1,1,1,Returning_Visitor,FALSE,2",      # read; contract
    ]
    path = write(tmp_path, rows)
    result = read_sessions_csv(path, limits=LIMITS)
    assert result.records_read == len(rows) == len(result.sessions) + len(result.rejects)
    rejects = result.rejects.set_index("source_row")
    assert (rejects["source_file"] == str(path)).all() and (rejects["stage"] == "collect").all()
    expected = {2: ("parse_int", "Administrative", "x"), 3: ("parse_float", "BounceRates", "abc"),
                4: ("parse_month", "Month", "Fbr"), 5: ("parse_bool", "Weekend", "maybe"),
                6: ("required_value", "VisitorType", ""),
                7: ("field_count", "", "14 fields, header has 18")}
    for row, (rule, column, value) in expected.items():
        assert tuple(rejects.loc[row, ["rule", "column", "value"]]) == (rule, column, value)
        assert rejects.loc[row, "session_id"] == f"shoppers-{row:07d}"
    reasons = json.loads(rejects.loc[8, "reasons"])
    assert [(r["rule"], r["column"]) for r in reasons] == [
        ("parse_int", "Administrative"), ("parse_float", "BounceRates"),
        ("parse_int", "Revenue")]
    assert json.loads(rejects.loc[8, "record"])["BounceRates"] == "inf"
    assert result.sessions["converted"].tolist() == [0, 2]  # 2 is left to the contract


def test_undecodable_bytes_are_rejected_not_replaced(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes((HEADER + "\n" + GOOD_ROWS[0].replace("Returning_Visitor", "Visit\xe9")
                      + "\n").encode("latin-1"))
    result = read_sessions_csv(path, limits=LIMITS)
    assert result.sessions.empty
    assert tuple(result.rejects.loc[0, ["rule", "column", "value"]]) == (
        "decode_utf8", "VisitorType", "Visit\\xe9")


def test_a_header_without_a_column_raises_naming_it(tmp_path):
    path = write(tmp_path, GOOD_ROWS, header=HEADER.replace(",PageValues", ",PageValue"))
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['PageValues'\]"):
        read_sessions_csv(path, limits=LIMITS)
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(ValueError, match="is empty; expected a header row"):
        read_sessions_csv(tmp_path / "empty.csv", limits=LIMITS)
    with pytest.raises(ValueError, match="cannot read .*absent.csv as CSV"):
        read_sessions_csv(tmp_path / "absent.csv", limits=LIMITS)


def test_extra_columns_are_ignored(tmp_path):
    rows = [r + ",extra" for r in GOOD_ROWS]
    result = read_sessions_csv(write(tmp_path, rows, header=HEADER + ",Note"), limits=LIMITS)
    assert len(result.sessions) == 3 and list(result.sessions.columns) == list(COLUMNS)


def test_demo_sessions_are_seeded_and_shaped_like_the_uci_file():
    a, b = generate_sessions(5000, seed=4), generate_sessions(5000, seed=4)
    pd.testing.assert_frame_equal(a, b)
    assert not generate_sessions(5000, seed=5).equals(a)
    assert {c: str(t) for c, t in a.dtypes.items()} == {c: d for c, (d, _) in COLUMNS.items()}
    assert a["session_id"].is_unique and a["month_start"].is_monotonic_increasing
    assert 0.12 < a["converted"].mean() < 0.18
    by_month = a.groupby("month")["converted"].mean()
    assert by_month["Nov"] > 2 * by_month["Feb"]  # the base rate shifts by month
    valued = a["page_values"] > 0
    assert a.loc[valued, "converted"].mean() > 0.4 > 0.1 > a.loc[~valued, "converted"].mean()
    assert a["bounce_rates"].between(0, 0.2).all() and a["exit_rates"].between(0, 0.2).all()
    assert (a["exit_rates"] >= a["bounce_rates"]).all()
    assert a["special_day"].between(0, 1).all() and (a["product_related"] >= 0).all()
    single = a["administrative"] + a["informational"] + a["product_related"] <= 1
    assert (a.loc[single, "exit_rates"] == 0.2).all()


@pytest.mark.parametrize("kwargs, match", [({"rows": 0, "seed": 1}, "'rows' must be an int"),
                                           ({"rows": 5, "seed": -1}, "'seed' must be an int")])
def test_demo_arguments_are_checked(kwargs, match):
    with pytest.raises(ValueError, match=f"generate_sessions: {match}"):
        generate_sessions(**kwargs)


def test_months_are_never_out_of_range():
    assert np.isin(generate_sessions(300, seed=0)["month_start"].dt.year, [NOMINAL_YEAR]).all()
