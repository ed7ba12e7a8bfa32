"""What ``POST /tasks/feedback_sentiment/predict`` takes and answers.

A row is a feedback text with an optional campaign and demographics (missing: ``"unknown"``,
as the contract stores them). The answer per row: the class, the three probabilities, the
VADER compound score of the text (None where the text is not English: VADER's lexicon is
English), the detected language, and a ``model_status`` block that says which model
answered and whether it read the text.

``POST /tasks/feedback_sentiment/outcomes`` takes labelled feedback records
(:func:`feedback_outcome`: the whole record under the row contract); every
``model_status`` then counts the labelled feedback of the row's campaign in all and since
its model last learned, against ``campaign_min_samples`` and ``retrain_after``
(:func:`labelled_status`), and a campaign they make due is retrained in the server
(:mod:`pipelines.tasks.feedback_retrain`).

A model trained with campaign models (:class:`pipelines.tasks.feedback_campaigns.
CampaignModels`) answers a row of a campaign whose model the gate kept at ``level:
"campaign"``; any other row at ``level: "global"``, with the reason in the message (the
campaign is under ``campaign_min_samples``, unseen, or its model did not beat the global
one).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from pipelines.tasks.feedback_data import CLASSES, DEMOGRAPHICS, UNKNOWN

if TYPE_CHECKING:
    from pathlib import Path

    import numpy as np
    import pandas as pd

#: The row contract's longest text (expectations/feedback_row_contract.json).
MAX_TEXT = 20_000


class FeedbackRow(BaseModel):
    """One piece of feedback to classify."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)

    feedback_id: str = Field(description="Identifies the feedback; sticky champion/challenger "
                                         "routing hashes it.")
    text: str = Field(max_length=MAX_TEXT, description="The feedback text (may be empty, any "
                                                       "language, emoji).")
    campaign: str = Field(UNKNOWN, min_length=1, max_length=200,
                          description="The campaign it is about (unseen ones are fine).")
    gender: str = Field(UNKNOWN, min_length=1, max_length=100)
    age_range: str = Field(UNKNOWN, pattern=r"^(18-24|25-34|35-44|45-54|55-64|65\+|unknown)$")
    education: str = Field(UNKNOWN, min_length=1, max_length=100)
    country: str = Field(UNKNOWN, min_length=1, max_length=100)
    state: str = Field(UNKNOWN, min_length=1, max_length=100)
    timezone: str = Field(UNKNOWN, min_length=1, max_length=100)


class FeedbackOutcome(BaseModel):
    """A labelled piece of feedback: the whole record, so it can train a campaign model.

    The request carries the text and demographics again because the prediction log keeps
    a hash of each input, not the input (a feedback text may hold personal data and
    20,000 characters), and because labels also arrive for feedback never sent to
    ``/predict`` (a support team labelling a sample). Missing (or null) demographics and
    campaign are ``"unknown"``, as the contract stores them; a missing ``created_at`` is
    the time the label arrived. :func:`feedback_outcome` puts the row contract's one-row
    rules on these fields.
    """

    model_config = ConfigDict(extra="forbid")

    feedback_id: str = Field(min_length=1, max_length=256,
                             description="The feedback_id it was predicted under (a key "
                                         "labelled again counts once, its latest label "
                                         "holds).")
    sentiment: Literal[CLASSES] = Field(description="Its true sentiment (a person's label).")
    text: str = Field(max_length=MAX_TEXT, description="The feedback text.")
    created_at: datetime | None = Field(
        None, description="When the feedback was written (missing: when the label arrived).")
    campaign: str = Field(UNKNOWN, min_length=1, max_length=200,
                          description="The campaign it is about, as sent with the feedback; "
                                      "outcomes are counted per campaign.")
    gender: str = Field(UNKNOWN, min_length=1, max_length=100)
    age_range: str = Field(UNKNOWN)
    education: str = Field(UNKNOWN, min_length=1, max_length=100)
    country: str = Field(UNKNOWN, min_length=1, max_length=100)
    state: str = Field(UNKNOWN, min_length=1, max_length=100)
    timezone: str = Field(UNKNOWN, min_length=1, max_length=100)

    @model_validator(mode="before")
    @classmethod
    def _defaults(cls, data: Any) -> Any:
        """Fill what the contract stores for missing values before its rules run."""
        if not isinstance(data, dict):
            return data
        filled = dict(data)
        for column in ("campaign", *DEMOGRAPHICS):
            if filled.get(column) is None:
                filled[column] = UNKNOWN
        if "created_at" not in filled:
            filled["created_at"] = datetime.now(UTC)
        return filled


def feedback_outcome(row_suite: Path) -> type[BaseModel]:
    """:class:`FeedbackOutcome` under the feedback row contract ``row_suite``: its one-row
    rules (lengths, allowed age ranges, ``created_at`` from 2000 to now) on the fields, a
    broken one a 422 naming the suite, rule, field and value. The contract states the
    label as its code (0, 1, 2); the request states it by name, held to :data:`CLASSES`
    by its type, so that one rule is left to the type.

    Raises:
        ValueError: as :func:`pipelines.validate.row_rules.with_row_contract`.
    """
    from pipelines.validate.expectations import load_suite
    from pipelines.validate.row_rules import with_row_contract

    suite = load_suite(row_suite)
    suite = {**suite, "expectations": [
        e for e in suite["expectations"]
        if not (e["kwargs"].get("column") == "sentiment"
                and e["type"] == "expect_column_values_to_be_in_set")]}
    return with_row_contract(FeedbackOutcome, suite,
                             parameters={"as_of": lambda: datetime.now(UTC)})


def labelled_status(campaign: str, counts: dict[str, int], *, min_samples: int,
                    retrain_after: int) -> dict[str, Any]:
    """The ``model_status`` fields of a campaign's labelled feedback."""
    labelled, recent = counts["labelled"], counts["since_training"]
    campaign_model = (f"enough for a campaign model at {min_samples}"
                      if labelled >= min_samples else
                      f"{min_samples - labelled} short of a campaign model at {min_samples}")
    retrain = ("a retrain is due" if recent >= retrain_after
               else f"a retrain is due at {retrain_after}")
    return {
        "labelled_feedback": labelled, "labelled_since_training": recent,
        "campaign_min_samples": min_samples, "retrain_after": retrain_after,
        "retrain_due": recent >= retrain_after,
        "labelled_message": (f"campaign {campaign!r}: {labelled} labelled feedbacks "
                             f"({campaign_model}), "
                             f"{recent} since the last training ({retrain})")}


def feedback_answers(model: Any, rows: pd.DataFrame, probabilities: np.ndarray
                     ) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """(the decided class index per row, the answer fields per row)."""
    import numpy as np

    from pipelines.tasks.feedback_language import SCORED_AS_ENGLISH
    from pipelines.tasks.feedback_models import vader_scores

    languages = model.languages(rows)
    english = np.isin(languages, SCORED_AS_ENGLISH)
    compound = np.full(len(rows), np.nan)
    if english.any():
        compound[english] = vader_scores(rows.loc[english, "text"].tolist())
    decided = probabilities.argmax(axis=1)
    reads_text = bool(getattr(model, "reads_text", False))
    family = getattr(model, "family", type(model).__name__)
    campaign_status = getattr(model, "campaign_status", None)
    answers = []
    for i in range(len(rows)):
        abstained = reads_text and not english[i]
        level = (campaign_status(str(rows["campaign"].iloc[i])) if campaign_status else
                 {"level": "global", "campaign_model": False, "message": None})
        who = "the campaign" if level["level"] == "campaign" else "the global"
        message = (f"{who} {family} model answered from the text"
                   if reads_text and not abstained else
                   f"{who} {family} model answered from campaign and demographics"
                   if not reads_text else
                   f"the text is in {languages[i]!r}, not English: the {family} model does not "
                   f"read it and answered with the training class frequencies")
        if level["message"]:
            message = f"{level['message']}; {message}"
        answers.append({
            "prediction": float(decided[i]), "sentiment": CLASSES[int(decided[i])],
            "probabilities": {c: round(float(p), 6) for c, p in zip(CLASSES, probabilities[i],
                                                                    strict=True)},
            "vader_compound": None if np.isnan(compound[i]) else float(compound[i]),
            "language": str(languages[i]),
            "model_status": {"level": level["level"],
                             "campaign_model": level["campaign_model"],
                             "trained_this_cycle": False, "retrained_this_cycle": False,
                             "read_text": reads_text and not abstained, "message": message}})
    return decided.astype(float), answers
