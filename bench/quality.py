"""Quality benchmark through the product path: what ``engageflow score`` returns on real
posts the model has never seen, against four references.

Run from the project root: ``.venv/bin/python bench/quality.py`` (``make bench-quality``).
Writes ``bench/results/quality.json``; ``docs/quality.md`` states the protocol and reads
its numbers from that file. Needs ``../shared/data`` (tweets_2022, instagram_2017); without
it the benchmark says so and exits without writing anything.

Per data set:

1. **Carve** the source file, in its own layout, into a training file and two scored
   slices (``known_later``, ``new_later``) by fixed rules (:mod:`quality_carve`).
2. **Train through the product** (:mod:`quality_product`): a temporary project with the
   repository's params.yaml (defaults; ``collect.*`` pointed at the training file) runs
   every stage of ``pipelines.pipeline.PIPELINE``; its registered version is the model.
   A second project with ``features.account_history=false`` and ``train.models=[lightgbm]``
   gives the history-free LightGBM reference the same way.
3. **Score through the product** (``pipelines.serve.scoring.run_score``, the code of
   ``engageflow score``) in two regimes: *frozen* (the history inside the registered model,
   as of the training cut-off) and *fresh* (``FrameHistory`` over every validated or
   collected post, so each scored post sees the outcomes matured before it).
4. **References** on the same rows (:mod:`quality_references`): account mean of past
   matured log-likes, history-free LightGBM, seed-000, seed-001 (learning from a fixed
   sample of the training rows: its caption embeddings cost ~5-30 ms each on two cores).
5. **Metrics and goals** (:mod:`quality_metrics`).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import subprocess
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from quality_carve import (
    CUTOFF_QUANTILE,
    DATASETS,
    NEW_ACCOUNT_PERCENT,
    SLICES,
    Carved,
    Dataset,
    carve,
)
from quality_metrics import MIN_ACCOUNT_POSTS, dataset_goals, rounded, slice_metrics
from quality_product import (
    ProductRun,
    fresh_history,
    score_through_product,
    train_through_pipeline,
)
from quality_references import (
    account_mean_reference,
    caption_embeddings,
    embedding_frame,
    fit_seed_000,
    fit_seed_001,
    fixed_sample,
    history_free_fallback,
    matured_targets,
    post_feature_matrix,
)

logger = logging.getLogger("bench.quality")

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "quality.json"
DATA_DIR = ROOT.parent / "shared" / "data"
CACHE_DIR = ROOT / ".engageflow" / "bench-cache" / "quality"

#: The registered model runs on params.yaml as it is (collect.* aside).
PRODUCT_OVERRIDES: dict[str, Any] = {}
#: The history-free LightGBM reference, trained through the product too.
REFERENCE_OVERRIDES: dict[str, Any] = {"features.account_history": False,
                                       "train.models": ["lightgbm"]}
#: seed-001 needs a MiniLM embedding per caption (~5-30 ms each on two cores, cached):
#: it learns from a fixed sample of the training rows and scores every slice row (0 = all).
SEED_001_TRAIN_ROWS = 4000
SEED_001_SCORED_ROWS = 0
REGIMES: tuple[str, ...] = ("frozen", "fresh")


def run_dataset(spec: Dataset, *, data_dir: Path, work: Path, cache_dir: Path, seed: int,
                seed_001_rows: tuple[int, int], product_overrides: dict[str, Any]
                ) -> dict[str, Any]:
    """Carve, train both projects, score every slice in both regimes, compute the metrics.

    Raises:
        RuntimeError: if the training project saw a post the carving rules keep out of it.
    """
    from pipelines.config import load_settings

    started = time.perf_counter()
    maturity = load_settings(ROOT / "params.yaml").features.maturity_hours
    carved = carve(spec, data_dir, work / "carved", maturity_hours=maturity)
    overrides = dict(spec.overrides)
    product = train_through_pipeline("product", root=work / "projects", repo=ROOT,
                                     data_file=carved.train, fmt=spec.fmt,
                                     overrides={**overrides, **product_overrides},
                                     as_of=carved.as_of)
    reference = train_through_pipeline("lightgbm_no_history", root=work / "projects",
                                       repo=ROOT, data_file=carved.train, fmt=spec.fmt,
                                       overrides={**overrides, **REFERENCE_OVERRIDES},
                                       as_of=carved.as_of)
    trained_s = time.perf_counter() - started
    validated = pd.read_parquet(product.paths.validated_posts)
    _check_training_posts(validated, carved)
    train = matured_targets(validated, maturity)
    history_posts, source = fresh_history(product, history_file=carved.history, fmt=spec.fmt)
    seeds_started = time.perf_counter()
    references = _fit_seeds(train, cache_dir, seed, seed_001_rows[0])
    seeds_s = time.perf_counter() - seeds_started
    fallback = history_free_fallback(train)
    pools = {"frozen": validated, "fresh": history_posts}
    slices = {}
    for name in SLICES:
        slices[name] = _score_slice(
            name, carved.slices[name], spec, product=product, reference=reference,
            fresh=source, pools=pools, seeds=references, fallback_log=fallback,
            maturity=maturity, out=work / "scores" / spec.name, cache_dir=cache_dir,
            scored_rows=seed_001_rows[1])
    return {
        "source": spec.path, "format": spec.fmt,
        "carve": {"cutoff": carved.cutoff.isoformat(), "training_as_of": carved.as_of.isoformat(),
                  "new_accounts": len(carved.new_accounts), "rows": carved.counts},
        "product": _run_record(product, {**overrides, **product_overrides}),
        "lightgbm_no_history": _run_record(reference, {**overrides, **REFERENCE_OVERRIDES}),
        "references": {"training_rows": len(train),
                       "young_labels_left_out": int(len(validated) - len(train)),
                       "account_mean_fallback_log1p": round(fallback, 4),
                       "seed_001_training_rows": references["seed_001_rows"]},
        "fresh_history_posts": len(history_posts),
        "slices": slices,
        "timings_s": {"carve_and_train": round(trained_s, 1),
                      "seed_references_fit": round(seeds_s, 1),
                      "total": round(time.perf_counter() - started, 1)},
    }


def _check_training_posts(validated: pd.DataFrame, carved: Carved) -> None:
    """The carving rules, checked on what the product actually trained on."""
    leaked = set(validated["account_id"].astype(str)) & carved.new_accounts
    late = pd.to_datetime(validated["posted_at"], utc=True) >= carved.cutoff
    if leaked or late.any():
        raise RuntimeError(f"run_dataset: the training project holds {len(leaked)} new "
                           f"account(s) and {int(late.sum())} post(s) from the cut-off on; "
                           f"the carving is broken.")


def _run_record(run: ProductRun, overrides: dict[str, Any]) -> dict[str, Any]:
    """What a training project did: its model, its stages and their times."""
    return {"model_uri": run.model_uri, "overrides": overrides,
            "chosen": run.records.get("evaluate", {}).get("best"),
            "holdout_test": rounded(run.records.get("evaluate", {}).get("test", {})),
            "gate": run.records.get("promote", {}).get("decision"),
            "stages_s": run.stages}


def _fit_seeds(train: pd.DataFrame, cache_dir: Path, seed: int, n_rows: int
               ) -> dict[str, Any]:
    """seed-000 on every training row, seed-001 on a fixed subsample of them."""
    started = time.perf_counter()
    seed_000 = fit_seed_000(train, seed)
    logger.info("seed-000 fitted on %d rows in %.1f s", len(train),
                time.perf_counter() - started)
    started = time.perf_counter()
    sample = fixed_sample(train, n_rows)
    seed_001 = fit_seed_001(sample, caption_embeddings(sample, cache_dir), seed)
    logger.info("seed-001 fitted on %d rows (embeddings included) in %.1f s", len(sample),
                time.perf_counter() - started)
    return {"seed_000": seed_000, "seed_001": seed_001, "seed_001_rows": len(sample)}


def _score_slice(name: str, path: Path, spec: Dataset, *, product: ProductRun,
                 reference: ProductRun, fresh: Any, pools: dict[str, pd.DataFrame],
                 seeds: dict[str, Any], fallback_log: float, maturity: float, out: Path,
                 cache_dir: Path, scored_rows: int) -> dict[str, Any]:
    """Every method on one slice, in both regimes, joined to the actual likes by post."""
    from pipelines.collect.formats import read_posts
    from pipelines.features.history_source import young_labels

    started = time.perf_counter()
    read = read_posts(path, spec.fmt)
    posts = read.posts
    labelled = posts[posts["likes"].notna().to_numpy() & ~young_labels(posts, maturity)]
    scores = {
        "model_frozen": score_through_product(product, input_file=path, fmt=spec.fmt,
                                              output=out / f"{name}.frozen.parquet"),
        "model_fresh": score_through_product(product, input_file=path, fmt=spec.fmt,
                                             output=out / f"{name}.fresh.parquet",
                                             history=fresh),
        "lightgbm_no_history": score_through_product(reference, input_file=path, fmt=spec.fmt,
                                                     output=out / f"{name}.lightgbm.parquet"),
    }
    rows = labelled[["platform", "post_id", "account_id", "posted_at", "likes"]].copy()
    for method, scored in scores.items():
        column = scored[["platform", "post_id", "prediction"]].rename(
            columns={"prediction": method})
        rows = rows.merge(column, on=["platform", "post_id"], how="inner", validate="1:1")
    rows = rows.reset_index(drop=True)
    by_id = posts.set_index(["platform", "post_id"])
    canonical = by_id.loc[list(zip(rows["platform"], rows["post_id"], strict=True))
                          ].reset_index()
    rows["seed_000"] = seeds["seed_000"].predict(post_feature_matrix(canonical))
    history = {}
    for regime in REGIMES:
        rows[f"account_mean_{regime}"], history[regime] = account_mean_reference(
            rows, pools[regime], maturity_hours=maturity, fallback_log=fallback_log)
    sample = fixed_sample(rows, scored_rows) if scored_rows else rows
    rows.loc[sample.index, "seed_001"] = seeds["seed_001"].predict(
        embedding_frame(caption_embeddings(canonical.loc[sample.index], cache_dir)))
    everywhere = len(sample) == len(rows)
    result: dict[str, Any] = {}
    for regime in REGIMES:
        methods = {"model": f"model_{regime}", "account_mean": f"account_mean_{regime}",
                   "lightgbm_no_history": "lightgbm_no_history", "seed_000": "seed_000"}
        if everywhere:
            methods["seed_001"] = "seed_001"
        block = _methods_block(rows, methods)
        if not everywhere:  # every method again on seed-001's rows, for a fair comparison
            block["seed_001_subsample"] = _methods_block(rows.loc[sample.index],
                                                         {**methods, "seed_001": "seed_001"})
        block["mae_log_ratio_model_to"] = _ratios(block)
        block["account_mean_with_history_share"] = round(float(history[regime].mean()), 4)
        result[regime] = block
        found = block["methods"]
        logger.info("%s / %s / %s: %d rows; MAE(log1p) model %.3f, LightGBM no history %.3f, "
                    "account mean %.3f, seed-000 %.3f; within-account rho %s, bias %+.3f",
                    spec.name, name, regime, found["model"]["n_rows"], found["model"]["mae_log"],
                    found["lightgbm_no_history"]["mae_log"], found["account_mean"]["mae_log"],
                    found["seed_000"]["mae_log"], found["model"]["within_account_spearman"],
                    found["model"]["mean_log_error"])
    return {
        "rows": {"read": read.records_read, "reader_rejects": len(read.rejects),
                 "without_likes_or_young": int(len(posts) - len(labelled)),
                 "quarantined_by_scoring": {m: int(s.attrs["quarantined"])
                                            for m, s in scores.items()},
                 "scored_and_joined": len(rows), "seed_001_subsample": len(sample)},
        "regimes": result,
        "seconds": round(time.perf_counter() - started, 1),
    }


def _methods_block(rows: pd.DataFrame, methods: dict[str, str]) -> dict[str, Any]:
    """Metrics of each method's column against the actual likes of ``rows``."""
    accounts = rows["account_id"].astype(str).to_numpy()
    actual = rows["likes"].astype(float).to_numpy()
    return {"methods": {name: rounded(slice_metrics(accounts, actual,
                                                    rows[column].astype(float).to_numpy()))
                        for name, column in methods.items()}}


def _ratios(block: dict[str, Any]) -> dict[str, float | None]:
    """Model MAE(log1p) / each reference's, on the same rows (seed-001 on its subsample when
    it scored only one)."""
    out = {}
    for name in ("account_mean", "lightgbm_no_history", "seed_000", "seed_001"):
        methods = block.get("seed_001_subsample", block)["methods"] if name == "seed_001" \
            else block["methods"]
        ref = methods[name]["mae_log"]
        out[name] = round(methods["model"]["mae_log"] / ref, 4) if ref else None
    return out


def machine_load() -> list[float]:
    """1, 5 and 15-minute load averages."""
    return [round(v, 2) for v in os.getloadavg()]


def versions() -> dict[str, str]:
    """Library versions and the code's commit, which shape the numbers."""
    import lightgbm
    import mlflow
    import sklearn
    import xgboost  # distributed as xgboost or xgboost-cpu: ask the module

    import pipelines

    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True,
                            text=True, check=False).stdout.strip()
    dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "pipelines"],
                           capture_output=True, text=True, check=False).stdout.strip()
    return {"python": platform.python_version(), "numpy": np.__version__,
            "pandas": pd.__version__, "scikit-learn": sklearn.__version__,
            "lightgbm": lightgbm.__version__, "xgboost": xgboost.__version__,
            "mlflow": mlflow.__version__, "onnxruntime": version("onnxruntime"),
            "engageflow_commit": commit, "pipelines_modified": bool(dirty),
            "pipelines_imported_from": str(Path(pipelines.__file__).parent)}


def protocol(product_overrides: dict[str, Any]) -> dict[str, Any]:
    """The fixed rules, as written in docs/quality.md."""
    return {
        "new_accounts": f"int(sha256(account_id)[:8], 16) % 100 < {NEW_ACCOUNT_PERCENT}",
        "cutoff": f"quantile {CUTOFF_QUANTILE} of the file's posted_at, floored to midnight UTC",
        "training_file": "known accounts, posted before the cut-off",
        "slices": {"known_later": "known accounts, posted at or after the cut-off",
                   "new_later": "new accounts, posted at or after the cut-off"},
        "scored_rows": "collected_at - posted_at >= features.maturity_hours, likes present",
        "regimes": {"frozen": "history inside the registered model (training file)",
                    "fresh": "FrameHistory over training + every later and new-account post"},
        "product_overrides": product_overrides,
        "lightgbm_no_history_overrides": REFERENCE_OVERRIDES,
        "within_account_spearman": f"mean over accounts with >= {MIN_ACCOUNT_POSTS} scored "
                                   f"posts; 0 for an account with constant predictions",
        "off_10x": "|log1p(pred) - log1p(actual)| > ln 10",
    }


def _parse_sets(parser: argparse.ArgumentParser, sets: list[str]) -> dict[str, Any]:
    """``KEY=VALUE`` strings as overrides, each value read as YAML (true, 3, [a, b])."""
    import yaml

    out = {}
    for item in sets:
        key, sep, value = item.partition("=")
        if not sep or not key:
            parser.error(f"--product-set wants KEY=VALUE; got {item!r}")
        out[key] = yaml.safe_load(value)
    return out


def main() -> int:
    """Parse the options, run every data set, write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", nargs="+", choices=list(DATASETS), default=list(DATASETS))
    parser.add_argument("--seed", type=int, default=42, help="seed of the seed references")
    parser.add_argument("--seed-001-train-rows", type=int, default=SEED_001_TRAIN_ROWS)
    parser.add_argument("--seed-001-scored-rows", type=int, default=SEED_001_SCORED_ROWS)
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR)
    parser.add_argument("--cache-dir", type=Path, default=CACHE_DIR,
                        help="caption-embedding cache of the seed-001 reference")
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--product-set", action="append", default=[], metavar="KEY=VALUE",
                        help="a dotted params override for the product's run only (the "
                        "references keep theirs), e.g. features.text_embeddings=true; "
                        "repeatable; recorded in the JSON")
    parser.add_argument("--keep-workdir", action="store_true",
                        help="keep the carved files and temporary projects (path is logged)")
    args = parser.parse_args()
    product_overrides = {**PRODUCT_OVERRIDES, **_parse_sets(parser, args.product_set)}
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    for noisy in ("great_expectations", "mlflow", "alembic", "matplotlib", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    missing = [DATASETS[n].path for n in args.datasets if not (args.data_dir / DATASETS[n].path)
               .exists()]
    if missing:
        print(f"bench/quality.py: skipped: {args.data_dir} lacks {missing} (the real data "
              f"lives beside the project in ../shared/data); nothing written.", file=sys.stderr)
        return 0
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    load_start, started = machine_load(), time.perf_counter()
    cache_warm = (args.cache_dir / "captions.parquet").exists()
    work = Path(tempfile.mkdtemp(prefix="engageflow-bench-quality-"))
    logger.info("work folder %s", work)
    try:
        datasets = {name: run_dataset(DATASETS[name], data_dir=args.data_dir,
                                      work=work / name, cache_dir=args.cache_dir,
                                      seed=args.seed,
                                      seed_001_rows=(args.seed_001_train_rows,
                                                     args.seed_001_scored_rows),
                                      product_overrides=product_overrides)
                    for name in args.datasets}
    finally:
        if not args.keep_workdir:
            import shutil

            shutil.rmtree(work, ignore_errors=True)
    goals = [g for name, d in datasets.items() for g in dataset_goals(name, d["slices"])]
    report = {
        "benchmark": "quality",
        "protocol": protocol(product_overrides),
        "seed": args.seed,
        "seed_001_sample": {"train_rows": args.seed_001_train_rows,
                            "scored_rows_per_slice": args.seed_001_scored_rows or "all",
                            "embedding_cache_existed_at_start": cache_warm},
        "versions": versions(),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                    "load_avg_start": load_start, "load_avg_end": machine_load()},
        "runtime_s": round(time.perf_counter() - started, 1),
        "datasets": datasets,
        "goals": goals,
        "goals_passed": f"{sum(g['pass'] for g in goals)} of {len(goals)}",
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.output.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(report, indent=1, allow_nan=False) + "\n")
    tmp.replace(args.output)
    for g in goals:
        logger.info("goal %-4s %s @ %s: %s (%s)", "PASS" if g["pass"] else "FAIL", g["goal"],
                    g["where"], g["value"], g["rule"])
    logger.info("wrote %s in %.0f s", args.output, report["runtime_s"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
