"""Learned audience segments on the real UCI online-shoppers sessions: K-Means after PCA
on behaviour, k compared by silhouette, Davies-Bouldin and bootstrap stability, profiles
of the chosen segmentation, registered in MLflow.

Run from the project root: ``.venv/bin/python bench/session_segments.py``. Writes
``bench/results/session_segments.json`` and ``docs/images/session_segments.png``;
``docs/articles.md`` (section "Segmentation") reads them. Needs
``../shared/data/audience/online_shoppers``; without it the benchmark says so and exits.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHOPPERS = "audience/online_shoppers/online_shoppers_intention.csv"


def main() -> int:
    """Run the benchmark; 0 on success, 0 with a message when the data is absent."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--work", type=Path,
                        default=REPO / ".engageflow" / "bench-cache" / "segments")
    parser.add_argument("--ks", type=int, nargs="+", default=[2, 3, 4, 5, 6, 7, 8])
    parser.add_argument("--components", type=int, default=6)
    parser.add_argument("--bootstrap", type=int, default=5)
    parser.add_argument("--min-stability", type=float, default=0.8)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    source = args.data / SHOPPERS
    if not source.is_file():
        print(f"session_segments: {source} is absent; nothing measured.")
        return 0
    import os

    from pipelines.registry.session_segmenter import register_segmenter
    from pipelines.segments.session_segmentation import (
        SessionSegmenter,
        compare_k,
        profile_figure,
        segment_profiles,
    )
    from pipelines.tasks.conversion_data import read_sessions_csv

    started = time.perf_counter()
    sessions = read_sessions_csv(source).sessions
    comparison = compare_k(sessions, args.ks, n_components=args.components,
                           bootstrap_rounds=args.bootstrap, silhouette_rows=5000,
                           min_stability=args.min_stability, seed=args.seed)
    model = SessionSegmenter(comparison["chosen_k"], args.components, args.seed).fit(sessions)
    profiles = segment_profiles(sessions, model.predict(sessions))
    figure = profile_figure(profiles)
    image = REPO / "docs" / "images" / "session_segments.png"
    figure.savefig(image, dpi=110)
    args.work.mkdir(parents=True, exist_ok=True)
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{args.work / 'mlflow.db'}"
    registered = register_segmenter(model, comparison=comparison, profiles=profiles,
                                    figure=figure, example=sessions.head(5),
                                    model_name="segments-sessions", experiment="segments")
    record = {"data": SHOPPERS, "sessions": len(sessions), "components": args.components,
              "explained_variance": round(float(model.explained_variance_.sum()), 4),
              "bootstrap_rounds": args.bootstrap, "min_stability": args.min_stability,
              "per_k": {str(k): {n: round(v, 4) for n, v in m.items()}
                        for k, m in comparison["per_k"].items()},
              "chosen_k": comparison["chosen_k"], "rule": comparison["rule"],
              "profiles": json.loads(profiles.reset_index().to_json(orient="records")),
              "registered": {k: registered[k] for k in ("model_name", "version")},
              "figure": str(image.relative_to(REPO)),
              "seconds": round(time.perf_counter() - started, 1)}
    out = REPO / "bench" / "results" / "session_segments.json"
    out.write_text(json.dumps(record, indent=2) + "\n")
    logging.getLogger("bench.segments").info("session_segments: wrote %s", out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
