"""The ``session_segments`` section: learned session segments (K-Means after PCA) fitted on
the conversion task's validated sessions by ``engageflow segment-sessions``
(:mod:`pipelines.segments.session_segments_stage`; docs/segmentation.md)."""

from __future__ import annotations

from pydantic import Field, field_validator

from pipelines.config.section import Int, Number, Section, Text


class SessionSegmentsConfig(Section):
    """How many segments to try, how to judge them, where to register the chosen one."""

    ks: tuple[Int, ...] = Field(
        (2, 3, 4, 5, 6, 7, 8), title="Numbers of segments",
        description="The k values compared (silhouette, Davies-Bouldin, bootstrap "
                    "stability); each in [2, 30].",
        json_schema_extra={"rule": "a non-empty list of distinct ints in [2, 30]"})
    n_components: Int = Field(
        6, ge=1, le=12, title="PCA components",
        description="Principal components of the 12 standardized behaviour features the "
                    "clusters live in.")
    bootstrap_rounds: Int = Field(
        5, ge=2, le=100, title="Bootstrap resamples",
        description="Resamples per k for the stability (mean adjusted Rand index).")
    silhouette_rows: Int = Field(
        5000, ge=100, le=100_000, title="Silhouette sample",
        description="Rows (a seeded sample) the silhouette is computed on (it is quadratic).")
    min_stability: Number = Field(
        0.8, ge=0, le=1, title="Minimum stability",
        description="The chosen k has the best silhouette among the ks whose stability "
                    "reaches this (none does: the most stable k).")
    seed: Int = Field(42, ge=0, title="Seed",
                      description="Seed of PCA, K-Means, the bootstrap and the sample.")
    model_name: Text = Field(
        "segments-sessions", min_length=1, title="Registered model",
        description="The MLflow registered model the chosen segmenter becomes a version of.")
    experiment: Text = Field("segments", min_length=1, title="MLflow experiment",
                             description="The experiment of the segmentation runs.")

    @field_validator("ks")
    @classmethod
    def _ks(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if not value or len(set(value)) != len(value) or any(not 2 <= k <= 30 for k in value):
            raise ValueError("not a non-empty list of distinct ints in [2, 30]")
        return value
