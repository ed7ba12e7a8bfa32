"""Property: any text of any script up to 20,000 characters and any demographic passes;
whichever rows get a bad label, every row is accepted or quarantined once and exactly the
bad rows are quarantined."""

import json

import pandas as pd
import pytest

from pipelines.tasks.feedback_contract import validate_feedback
from pipelines.tasks.feedback_data import generate_feedback, quarantine_frame
from pipelines.validate.expectations import load_suite
from tests.unit.tasks.conftest import AS_OF, PROJECT_ROOT

hypothesis = pytest.importorskip("hypothesis", reason="property tests need hypothesis")
st = hypothesis.strategies

ROWS = 10
GOOD = generate_feedback(ROWS, seed=13)
SUITES = tuple(load_suite(PROJECT_ROOT / "expectations" / f"feedback_{kind}_contract.json")
               for kind in ("row", "table"))
#: Short texts of any script, and texts of up to the 20,000-character limit (a drawn piece
#: repeated: hypothesis draws at most a few thousand characters itself).
short_texts = st.text(max_size=300)
texts = short_texts | st.builds(
    lambda piece, size: (piece * (size // len(piece) + 1))[:size],
    st.text(min_size=1, max_size=40), st.integers(10_000, 20_000))
demographic = st.text(min_size=1, max_size=100).filter(lambda t: t.strip() == t and t)


@hypothesis.settings(max_examples=4, deadline=None, derandomize=True,
                     suppress_health_check=[hypothesis.HealthCheck.too_slow,
                                            hypothesis.HealthCheck.data_too_large])
@hypothesis.given(data=st.data())
def test_rows_in_equals_accepted_plus_quarantined(data):
    frame = GOOD.copy()
    for row in range(ROWS):
        frame.loc[row, "text"] = data.draw(texts if row < 2 else short_texts)
        frame.loc[row, "country"] = data.draw(demographic)
    bad = data.draw(st.lists(st.integers(0, ROWS - 1), max_size=6, unique=True))
    for row in bad:
        frame.loc[row, "sentiment"] = data.draw(st.integers(-50, 50).filter(
            lambda v: v not in (0, 1, 2)))
    outcome = validate_feedback(frame, quarantine_frame([]), row_suite=SUITES[0],
                                table_suite=SUITES[1], as_of=AS_OF, min_rows=1,
                                max_quarantine_rate=1.0, source="fuzz")
    assert len(outcome.accepted) + len(outcome.quarantined) == ROWS
    assert sorted(outcome.quarantined["source_row"].tolist()) == sorted(r + 1 for r in bad)
    for reasons in outcome.quarantined["reasons"]:
        assert [r["column"] for r in json.loads(reasons)] == ["sentiment"]
    assert pd.Index(outcome.accepted["feedback_id"]).is_unique
