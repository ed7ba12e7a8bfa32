"""The feedback data contract applied: table rules stop the run, row rules quarantine.

The rules live in ``expectations/feedback_row_contract.json`` and
``expectations/feedback_table_contract.json`` (Great Expectations suites); this module runs
them on canonical feedback (:mod:`pipelines.tasks.feedback_data`) through the one entity
contract (:func:`pipelines.validate.entity_contract.validate_entity`, keyed by
``feedback_id``), which accounts for every row: rows in = accepted + quarantined
(collect-time rejects included), or it raises.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from pipelines.tasks.feedback_data import CLASSES
from pipelines.validate.entity_contract import EntityValidation, validate_entity

#: A quarantined row's ``record`` (the row as JSON) is cut to this many characters: a
#: feedback text may hold 20,000.
RECORD_CHARS = 2000


def validate_feedback(
    feedback: pd.DataFrame,
    earlier_rejects: pd.DataFrame,
    *,
    row_suite: dict[str, Any],
    table_suite: dict[str, Any],
    as_of: pd.Timestamp,
    min_rows: int,
    max_quarantine_rate: float,
    source: str,
) -> EntityValidation:
    """Apply the feedback contract (:func:`~pipelines.validate.entity_contract.
    validate_entity` with :data:`CONTRACT`); the report's ``classes`` and ``campaigns`` are
    :func:`class_counts` and :func:`campaign_count` of the accepted rows (``{}`` when none
    is accepted, as every entity report's summaries).

    Raises:
        RuntimeError: if rows went missing (rows in != accepted + quarantined): a bug.
    """
    return validate_entity(
        feedback, earlier_rejects, row_suite=row_suite, table_suite=table_suite,
        as_of=as_of, min_rows=min_rows, max_quarantine_rate=max_quarantine_rate,
        source=source, **CONTRACT)


def class_counts(feedback: pd.DataFrame) -> dict[str, int]:
    """Accepted rows per sentiment class name."""
    if feedback.empty or "sentiment" not in feedback.columns:
        return {}
    counts = feedback["sentiment"].value_counts()
    return {name: int(counts.get(code, 0)) for code, name in enumerate(CLASSES)}


def campaign_count(feedback: pd.DataFrame) -> int:
    """Distinct campaigns of the accepted rows."""
    return int(feedback["campaign"].nunique())


#: How feedback is keyed, summarised and quarantined: the options of
#: :func:`~pipelines.validate.entity_contract.validate_entity` that the contract function
#: and the validate stage (:func:`~pipelines.validate.entity_stage.validate_entity_stage`)
#: both pass.
CONTRACT: dict[str, Any] = {
    "key": "feedback_id", "record_chars": RECORD_CHARS,
    "summaries": {"classes": class_counts, "campaigns": campaign_count}}
