"""The feedback data contract on a good fixture (hard but valid texts) and a deliberately
broken one: each break is quarantined with its rule, column and value."""

import json

import numpy as np
import pandas as pd

from pipelines.tasks.feedback_contract import validate_feedback
from pipelines.tasks.feedback_data import generate_feedback, quarantine_frame
from pipelines.validate.expectations import load_suite
from tests.unit.tasks.conftest import AS_OF, PROJECT_ROOT

SUITES = tuple(load_suite(PROJECT_ROOT / "expectations" / f"feedback_{kind}_contract.json")
               for kind in ("row", "table"))
#: Texts that must pass: empty, emoji only, other scripts and languages, 10 KB.
HARD_TEXTS = ["", "😍👍🔥", "これは素晴らしいキャンペーンです", "¡Muy malo! nunca más",
              "x" * 10_240, "مرحبا", "   ", "a\nb\tc"]
#: (column, bad value, the rule that must catch it).
BREAKS = [
    ("text", None, "expect_column_values_to_not_be_null"),
    ("text", "y" * 20_001, "expect_column_value_lengths_to_be_between"),
    ("sentiment", 7, "expect_column_values_to_be_in_set"),
    ("sentiment", -1, "expect_column_values_to_be_in_set"),
    ("campaign", "", "expect_column_value_lengths_to_be_between"),
    ("campaign", None, "expect_column_values_to_not_be_null"),
    ("age_range", "teen", "expect_column_values_to_be_in_set"),
    ("gender", "", "expect_column_value_lengths_to_be_between"),
    ("created_at", pd.Timestamp("2030-01-01", tz="UTC"), "expect_column_values_to_be_between"),
    ("feedback_id", None, "expect_column_values_to_not_be_null"),
]


def run(frame, *, rejects=None, min_rows=10, max_quarantine_rate=1.0):
    return validate_feedback(
        frame, quarantine_frame([]) if rejects is None else rejects, row_suite=SUITES[0],
        table_suite=SUITES[1], as_of=AS_OF, min_rows=min_rows,
        max_quarantine_rate=max_quarantine_rate, source="fixture")


def test_hard_but_valid_feedback_is_accepted_whole():
    good = generate_feedback(60, 5)
    good.loc[: len(HARD_TEXTS) - 1, "text"] = HARD_TEXTS
    outcome = run(good)
    assert outcome.failures == [] and len(outcome.quarantined) == 0
    assert len(outcome.accepted) == 60
    assert outcome.report["classes"] == {
        name: int((good["sentiment"] == code).sum())
        for code, name in enumerate(("negative", "neutral", "positive"))}


def test_every_break_is_quarantined_with_its_rule_column_and_value():
    broken = generate_feedback(60, 6)
    for row, (column, value, _) in enumerate(BREAKS):
        if column == "sentiment":
            broken["sentiment"] = broken["sentiment"].astype(object)
        broken.loc[row, column] = value
    broken["sentiment"] = broken["sentiment"].astype("int64")
    duplicate = len(BREAKS)
    broken.loc[duplicate, "feedback_id"] = broken.loc[duplicate + 1, "feedback_id"]
    earlier = quarantine_frame([{"stage": "collect", "source_file": "f.csv", "source_row": 9,
                                 "feedback_id": "x", "rule": "parse_label",
                                 "column": "airline_sentiment", "value": "meh",
                                 "reasons": "[]", "record": "{}"}])
    outcome = run(broken, rejects=earlier)
    q = outcome.quarantined
    assert outcome.report["rows_in"] == 61 == len(outcome.accepted) + len(q)
    assert len(q) == 1 + len(BREAKS) + 2            # + both rows sharing an id
    for row, (column, value, rule) in enumerate(BREAKS):
        reasons = json.loads(q[(q["stage"] == "validate")
                               & (q["source_row"] == row + 1)]["reasons"].iloc[0])
        assert {"rule": rule, "column": column} in [
            {k: r[k] for k in ("rule", "column")} for r in reasons], (column, value)
    unique = q[q["rule"] == "expect_column_values_to_be_unique"]
    assert sorted(unique["source_row"].tolist()) == [duplicate + 1, duplicate + 2]
    assert "parse_label (airline_sentiment)" in outcome.report["top_reasons"]


def test_dataset_rules_collect_every_failure():
    frame = generate_feedback(30, 2)
    frame.loc[:9, "sentiment"] = 5
    outcome = run(frame, min_rows=25, max_quarantine_rate=0.2)
    assert any("quarantine rate 33.33%" in f for f in outcome.failures)
    assert any("20 accepted rows is below validate.min_rows 25" in f for f in outcome.failures)


def test_a_missing_column_stops_the_table_contract_and_splits_nothing():
    frame = generate_feedback(20, 2).drop(columns=["campaign"])
    outcome = run(frame)
    assert any("campaign" in f for f in outcome.failures)
    assert len(outcome.accepted) == 0 and len(outcome.quarantined) == 0


def test_wrong_types_fail_the_table_contract():
    frame = generate_feedback(20, 2)
    frame["sentiment"] = frame["sentiment"].astype(float) + 0.5
    frame["text"] = np.arange(20)
    failures = " ".join(run(frame).failures)
    assert "sentiment" in failures and "text" in failures
