"""What a client sends to ``POST /tasks/article_points/predict`` (and ``article_comments``):
one article as submitted, checked by the articles row contract's one-row rules."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class ArticleRequest(BaseModel):
    """One article to score: its id and what is known when it is submitted."""

    model_config = ConfigDict(extra="forbid")

    article_id: str = Field(..., min_length=1, max_length=200,
                            description="The article's id (routes it to one A/B arm).")
    title: str = Field(..., description="The title as submitted.")
    url: str | None = Field(None, description="The link; null for a text post (Ask HN).")
    author: str = Field(..., description="The submitting account; its earlier articles' "
                                         "outcomes, as known at training, are its history.")
    created_at: AwareDatetime = Field(..., description="Submission time, with a zone.")


def article_request(row_suite: Path) -> type[BaseModel]:
    """:class:`ArticleRequest` with the rules of ``row_suite`` on its fields (title and
    author lengths, the link's scheme is not a one-row rule here, ``created_at`` between
    2000 and now).

    Raises:
        ValueError: as :func:`pipelines.validate.row_rules.with_row_contract`.
    """
    from pipelines.validate.expectations import load_suite
    from pipelines.validate.row_rules import with_row_contract

    return with_row_contract(ArticleRequest, load_suite(row_suite),
                             parameters={"as_of": lambda: datetime.now(UTC)})
