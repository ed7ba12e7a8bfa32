"""The ``article_points`` params section, read by both article tasks
(:mod:`pipelines.tasks.article_counts`): one source for the articles' settings."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

#: The section's name in params.yaml (``article_comments`` reads it too).
SECTION = "article_points"


class ArticleSettings(BaseModel):
    """The ``article_points`` section of params.yaml (read by both article tasks)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    source: Literal["demo", "hacker_news"] = Field(
        "demo", title="Article source",
        description="demo: seeded synthetic articles; hacker_news: the Hacker News CSV at "
                    "'path'.")
    path: str | None = Field(
        None, title="Articles CSV",
        description="The Hacker News CSV for source=hacker_news, relative to the project root.")
    demo_rows: int = Field(3000, ge=200, le=1_000_000, title="Demo articles",
                           description="How many synthetic articles source=demo generates.")
    demo_authors: int = Field(300, ge=1, le=100_000, title="Demo authors",
                              description="How many distinct authors the demo articles have.")
    seed: int = Field(42, ge=0, title="Demo data seed",
                      description="Seed of the synthetic articles (the model seed is "
                                  "train.seed).")
    maturity_hours: float = Field(
        24.0, ge=0, le=24 * 365, title="Outcome maturity (hours)",
        description="An earlier article's points count as history once it is this old "
                    "(Hacker News votes mostly arrive within a day).")
    title_components: int = Field(
        16, ge=0, le=128, title="Title embedding components",
        description="SVD size of the MiniLM title embeddings, fitted on training titles; "
                    "0 leaves the embeddings out.")
    text_backend: Literal["torch", "onnx_int8"] = Field(
        "onnx_int8", title="MiniLM backend",
        description="How titles are embedded (docs/embeddings.md).")
    valid_fraction: float = Field(0.15, gt=0, lt=1, title="Validation share",
                                  description="Share of articles, before the test part, that "
                                              "picks the best candidate.")
    test_fraction: float = Field(0.15, gt=0, lt=1, title="Test share",
                                 description="Share of the newest articles that no choice sees.")

    @model_validator(mode="after")
    def _consistent(self) -> ArticleSettings:
        if self.source == "hacker_news" and not self.path:
            raise ValueError("article_points.path must name the Hacker News CSV when "
                             "article_points.source is 'hacker_news'; got none.")
        if self.valid_fraction + self.test_fraction > 0.8:
            raise ValueError(f"article_points.valid_fraction + article_points.test_fraction "
                             f"must be at most 0.8; got {self.valid_fraction} + "
                             f"{self.test_fraction}.")
        return self
