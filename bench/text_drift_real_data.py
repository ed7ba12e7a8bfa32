"""Text drift on the real feedback texts → bench/results/text_drift_real_data.json.

The airline tweets (../shared/data/feedback/airline_tweets, 16-23 Feb 2015) judged with the
weekly check's text functions (pipelines/monitor/text_drift.py, the feedback task's
scorers, params.yaml's monitor settings): (1) two random halves of the earlier tweets (no
shift), (2) the earlier half by time against the later half, (3) the tweets against the
women's clothing reviews. 3,000 texts a side for the descriptors, monitor.text_rows
embedded. No model is involved; nothing is copied into the repository.

    python bench/text_drift_real_data.py [--shared ../shared/data]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "text_drift_real_data.json"
SIDE_ROWS = 3000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from pipelines.collect.formats import ReadLimits
    from pipelines.config import load_settings
    from pipelines.monitor.drift import detect_drift
    from pipelines.monitor.text_drift import text_drift_summary, with_text_descriptors
    from pipelines.paths import ProjectPaths
    from pipelines.tasks import feedback_data as data
    from pipelines.tasks import get_task

    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    folder = args.shared / "feedback"
    settings = load_settings(ROOT / "params.yaml", {})
    limits = ReadLimits.from_settings(settings.collect)
    tweets = data.read_feedback_csv(folder / "airline_tweets" / "Tweets.csv",
                                    "airline_tweets", limits=limits).feedback
    reviews = data.read_feedback_csv(folder / "womens_reviews" / "reviews.csv",
                                     "womens_reviews", limits=limits).feedback
    tweets = tweets.sort_values("created_at", kind="stable").reset_index(drop=True)
    m = settings.monitor
    half = len(tweets) // 2
    earlier = tweets.iloc[:half]
    order = np.random.default_rng(0).permutation(half)
    cases = {
        "random halves of the earlier tweets": (earlier.iloc[order[: half // 2]],
                                                earlier.iloc[order[half // 2:]]),
        "earlier tweets vs later tweets": (earlier, tweets.iloc[half:]),
        "airline tweets vs womens reviews": (tweets, reviews),
    }
    results = {"side_rows": SIDE_ROWS, "split_at": str(tweets["created_at"].iloc[half]),
               "settings": {k: getattr(m, k) for k in ("text_rows", "embedding_permutations",
                                                       "min_mmd", "quantile", "safety_factor",
                                                       "seed")},
               "cases": {}}
    with tempfile.TemporaryDirectory() as work:
        paths = ProjectPaths(root=ROOT, state=Path(work), data=Path(work) / "data")
        spec = get_task("feedback_sentiment").text_drift(paths, settings)
        for name, (ref, cur) in cases.items():
            # seeded samples kept in time (file) order: the calibration's chunks are
            # time-ordered reference slices, as in the weekly check
            ref = ref.sample(min(len(ref), SIDE_ROWS), random_state=1)[["text"]].sort_index()
            cur = cur.sample(min(len(cur), SIDE_ROWS), random_state=1)[["text"]].sort_index()
            started = time.perf_counter()
            r = with_text_descriptors(ref, ref, spec=spec)
            c = with_text_descriptors(cur, cur, spec=spec)
            described = time.perf_counter() - started
            drift = detect_drift(r, c, feature_columns=list(r.columns),
                                 drift_share=m.drift_share, chunks=m.chunks,
                                 quantile=m.quantile, safety_factor=m.safety_factor,
                                 min_effect=m.min_effect.model_dump(),
                                 calibration_rows=m.calibration_rows, seed=m.seed)
            text = text_drift_summary(ref["text"], cur["text"], r, c, drift, spec=spec,
                                      quantile=m.quantile, safety_factor=m.safety_factor,
                                      seed=m.seed)
            text["descriptor_seconds"] = round(described, 1)
            text["means"] = {k: [round(float(r[k].mean()), 3), round(float(c[k].mean()), 3)]
                             for k in ("text_length", "text_word_count", "text_vader_compound")}
            results["cases"][name] = text
    RESULTS.write_text(json.dumps(results, indent=2, default=str))
    print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
