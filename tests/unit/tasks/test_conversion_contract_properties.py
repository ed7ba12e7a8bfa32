"""Property: whatever rows are corrupted and how, every row is accepted or quarantined once,
exactly the corrupted rows are quarantined, and each names the corrupted column."""

import json

import numpy as np
import pandas as pd
import pytest

from pipelines.tasks.conversion_data import (
    MONTHS,
    VISITOR_TYPES,
    generate_sessions,
    quarantine_frame,
    validate_sessions,
)

hypothesis = pytest.importorskip("hypothesis", reason="property tests need hypothesis")
st = hypothesis.strategies

ROWS = 24
GOOD = generate_sessions(ROWS, seed=11)
AS_OF = pd.Timestamp("2026-12-01", tz="UTC")

negative_int = st.integers(min_value=-10**6, max_value=-1)
negative_float = st.floats(min_value=-1e6, max_value=-1e-6)
bad_rate = st.floats(min_value=0.2001, max_value=1e3) | negative_float
missing = st.just(np.nan)
#: Column -> values that break its row rules (same dtype, so only row rules fail).
CORRUPTIONS = {
    "administrative": negative_int,
    "informational": negative_int,
    "product_related": negative_int,
    "product_related_duration": negative_float | missing,
    "informational_duration": negative_float,
    "bounce_rates": bad_rate,
    "exit_rates": bad_rate | missing,
    "page_values": negative_float,
    "special_day": st.floats(min_value=1.0001, max_value=50) | negative_float,
    "traffic_type": st.integers(min_value=-100, max_value=0),
    "month": st.text(max_size=8).filter(lambda t: t not in MONTHS),
    "visitor_type": st.text(max_size=12).filter(lambda t: t not in VISITOR_TYPES),
    "converted": st.integers(min_value=-5, max_value=50).filter(lambda v: v not in (0, 1)),
}


@hypothesis.settings(max_examples=12, deadline=None, derandomize=True,
                     suppress_health_check=[hypothesis.HealthCheck.too_slow])
@hypothesis.given(data=st.data())
def test_rows_in_equals_accepted_plus_quarantined(data, suites):
    rows = data.draw(st.lists(st.integers(0, ROWS - 1), min_size=0, max_size=8, unique=True))
    broken = GOOD.copy()
    expected: dict[int, set[str]] = {}
    for row in rows:
        column = data.draw(st.sampled_from(sorted(CORRUPTIONS)))
        broken.loc[row, column] = data.draw(CORRUPTIONS[column])
        expected.setdefault(row, set()).add(column)
    row_suite, table_suite = suites
    outcome = validate_sessions(broken, quarantine_frame([]), row_suite=row_suite,
                                table_suite=table_suite, as_of=AS_OF, min_rows=1,
                                max_quarantine_rate=1.0, source="property")
    assert len(outcome.accepted) + len(outcome.quarantined) == ROWS
    assert outcome.report["rows_in"] == ROWS
    quarantined = outcome.quarantined.set_index("source_row")
    assert sorted(quarantined.index) == sorted(r + 1 for r in expected)
    for row, columns in expected.items():
        named = {r["column"] for r in json.loads(quarantined.loc[row + 1, "reasons"])}
        assert columns <= named, (row, columns, named)
    assert set(outcome.accepted["session_id"]) == {
        GOOD.loc[r, "session_id"] for r in range(ROWS) if r not in expected}
