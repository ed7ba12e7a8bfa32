"""Stage runner of ``engageflow segment-sessions``: the conversion task's validated sessions
→ k compared → the chosen segmenter fitted, profiled, registered in MLflow.

Reads ``02_validated/sessions.parquet`` (written by ``collect`` + ``validate`` with
``train.task=conversion``, from ``conversion.source`` demo or file); writes
``05_reporting/session_segments/`` (``k_comparison.json``, ``profiles.csv``,
``profiles.json``, ``profiles.png``) and registers a version of
``session_segments.model_name`` whose description is a model card.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pipelines.config.session_segments import SessionSegmentsConfig
    from pipelines.paths import ProjectPaths

logger = logging.getLogger(__name__)

#: The entity the segments are learned on (the conversion task's input).
ENTITY = "sessions"


def model_card(*, source: str, rows: int, config: SessionSegmentsConfig,
               comparison: dict[str, Any], explained: float, profiles: Any) -> str:
    """The registered version's description: what it was fitted on, how k was chosen,
    what each segment is."""
    from pipelines.segments.session_segmentation import BEHAVIOUR_FEATURES

    lines = [f"Session segments: K-Means (k={comparison['chosen_k']}) after PCA "
             f"({config.n_components} components, {explained:.0%} of the variance) on "
             f"{rows:,} validated sessions ({source}).",
             f"Features (standardized): {', '.join(BEHAVIOUR_FEATURES)}; never the label "
             f"or page_values.",
             f"k from {list(config.ks)}: {comparison['rule']} ({config.bootstrap_rounds} "
             f"bootstrap resamples, silhouette on {config.silhouette_rows} rows, seed "
             f"{config.seed}).", "", "Segments (predict returns the id):"]
    for segment, row in profiles.iterrows():
        rate = (f", conversion {row['conversion_rate']:.1%}" if "conversion_rate" in row
                else "")
        lines.append(f"- {segment}: {row['name']} — {int(row['sessions']):,} sessions "
                     f"({row['share']:.0%}){rate}")
    return "\n".join(lines)


def segment_sessions(paths: ProjectPaths, config: SessionSegmentsConfig) -> dict[str, Any]:
    """Compare the ks, fit the chosen segmenter, write the reports, register the model.

    Returns:
        The record written to ``k_comparison.json`` plus the registration.

    Raises:
        FileNotFoundError: when the validated sessions are absent (naming the commands that
            write them).
        ValueError: as :func:`~pipelines.segments.session_segmentation.compare_k`.
    """
    import matplotlib.pyplot as plt
    import pandas as pd

    from pipelines.registry import tracking
    from pipelines.registry.session_segmenter import register_segmenter
    from pipelines.segments.session_segmentation import (
        SessionSegmenter,
        compare_k,
        profile_figure,
        segment_names,
        segment_profiles,
    )

    source = paths.validated(ENTITY)
    if not source.is_file():
        raise FileNotFoundError(
            f"segment-sessions: {source} is absent; write it first with `engageflow collect "
            f"--set train.task=conversion` and `engageflow validate --set "
            f"train.task=conversion` (conversion.source demo or file).")
    sessions = pd.read_parquet(source)
    logger.info("segment-sessions: read %d validated sessions from %s", len(sessions), source)
    comparison = compare_k(sessions, config.ks, n_components=config.n_components,
                           bootstrap_rounds=config.bootstrap_rounds,
                           silhouette_rows=config.silhouette_rows,
                           min_stability=config.min_stability, seed=config.seed)
    model = SessionSegmenter(comparison["chosen_k"], config.n_components,
                             config.seed).fit(sessions)
    explained = float(model.explained_variance_.sum())
    profiles = segment_profiles(sessions, model.predict(sessions))
    profiles.insert(0, "name", segment_names(profiles))
    figure = profile_figure(profiles.drop(columns=["name"]))

    out = paths.data / "05_reporting" / "session_segments"
    out.mkdir(parents=True, exist_ok=True)
    profiles.to_csv(out / "profiles.csv")
    (out / "profiles.json").write_text(
        profiles.reset_index().to_json(orient="records", indent=2) + "\n")
    figure.savefig(out / "profiles.png", dpi=110)
    card = model_card(source=str(source), rows=len(sessions), config=config,
                      comparison=comparison, explained=explained, profiles=profiles)
    tracking.connect(paths.tracking_uri)
    tracking.ensure_experiment(config.experiment, paths.mlflow_artifacts)
    registered = register_segmenter(model, comparison=comparison, profiles=profiles,
                                    figure=figure, example=sessions.head(5),
                                    model_name=config.model_name,
                                    experiment=config.experiment, description=card)
    plt.close(figure)
    record = {"source": str(source), "sessions": len(sessions),
              "n_components": config.n_components, "explained_variance": round(explained, 4),
              "bootstrap_rounds": config.bootstrap_rounds,
              "min_stability": config.min_stability,
              "per_k": {str(k): {n: round(v, 4) for n, v in m.items()}
                        for k, m in comparison["per_k"].items()},
              "chosen_k": comparison["chosen_k"], "rule": comparison["rule"],
              "registered": {k: registered[k] for k in ("model_name", "version", "run_id")}}
    (out / "k_comparison.json").write_text(json.dumps(record, indent=2) + "\n")
    logger.info("segment-sessions: chose k=%d (%s); wrote %s (k_comparison.json, "
                "profiles.csv/json/png); registered %s version %s", record["chosen_k"],
                record["rule"], out, registered["model_name"], registered["version"])
    return {**record, "profiles": json.loads(profiles.reset_index().to_json(orient="records")),
            "reports": str(out)}
