"""What drift monitoring reads of the feedback_sentiment task's free text."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

    from pipelines.config.monitoring import MonitorConfig
    from pipelines.monitor.text_drift import TextDrift
    from pipelines.paths import ProjectPaths
    from pipelines.tasks.feedback import FeedbackSettings


def text_drift(paths: ProjectPaths, section: FeedbackSettings, monitor: MonitorConfig
               ) -> TextDrift:
    """The ``text`` column: languages as the features stage detects them (the section's
    ``language_*`` settings; the reference's stored ``language`` column is read instead),
    VADER compound scores, MiniLM embeddings from the project's embedding cache (the
    section's ``text_backend``), with ``monitor``'s embedding drift settings."""
    from pipelines.features.text_embeddings import embed_texts
    from pipelines.monitor.text_drift import TextDrift
    from pipelines.tasks.feedback_language import detect_languages
    from pipelines.tasks.feedback_models import vader_scores

    def languages(texts: list[str]) -> list[str]:
        return detect_languages(texts, min_letters=section.language_min_letters,
                                min_confidence=section.language_min_confidence,
                                seed=section.language_seed)

    def embed(texts: list[str]) -> np.ndarray:
        paths.embedding_cache.parent.mkdir(parents=True, exist_ok=True)
        return embed_texts(texts, cache_path=paths.embedding_cache,
                           backend=section.text_backend, model_cache_dir=paths.model_cache,
                           show_progress=False)

    return TextDrift(column="text", languages=languages, sentiment=vader_scores, embed=embed,
                     language_column="language", rows=monitor.text_rows,
                     permutations=monitor.embedding_permutations, min_mmd=monitor.min_mmd)
