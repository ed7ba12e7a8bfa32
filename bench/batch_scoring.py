"""Batch scoring (`engageflow score`'s ``run_score``) vs plain MLflow pyfunc →
bench/results/batch_scoring.json.

Run from the project root: ``.venv/bin/python bench/batch_scoring.py`` (part of ``make
bench``). One registered LightGBM post model (demo data, the same ``as_post_model`` path as
bench/serving.py, a throw-away SQLite registry) scores the same canonical Parquet file of
demo posts both ways, end to end:

* **engageflow**: ``run_score`` (read → serving contract → features → predict → write the
  predictions Parquet and the quarantine), the model loaded by the product's loader;
* **pyfunc**: ``mlflow.pyfunc.load_model(uri)``, ``pandas.read_parquet``, the columns of
  the model's signature in its types (naive times, float counts: what the signature
  enforces), ``predict``, the predictions written to Parquet.

A larger file (``--large-sizes``, 5M rows by default) is scored by the product only, once:
its peak memory shows the bound that scoring in parts gives (pyfunc would hold the whole
file, its features and its model input at once).

Each run is its own process (its peak RSS, VmHWM, is its own); the runs of one size
alternate between the two (product, peer, then peer, product, ...) so that both meet the
same machine load, and each records the load average before it starts. Two times per run:
the whole call including the model load (both clocks start before ``import mlflow``), and
``score_s`` (read → write, the model already loaded: the issue's end-to-end path); each
also as CPU seconds (``*_cpu_s``: user + system, all threads), which other jobs on a shared
machine disturb less than wall time. Medians of ``--repeats`` (``--repeats-1m`` at 1M).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "batch_scoring.json"
MODEL = "bench-engagement-likes"
SIZES = (100_000, 1_000_000)
#: Scored by the product only (pyfunc holds the file, its features and its model input at
#: once: about 3 GB per million rows).
LARGE_SIZES = (5_000_000,)


def setup(workdir: Path, sizes: tuple[int, ...], seed: int,
          large_sizes: tuple[int, ...] = ()) -> dict[str, str]:
    """Register the model and write one canonical Parquet file per size (``large_sizes``:
    copies of the largest of ``sizes`` under new ids and accounts, written copy by copy)."""
    import numpy as np
    import pandas as pd

    sys.path.insert(0, str(ROOT / "bench"))
    from serving import register_models  # the same registered model as the serving bench

    from pipelines.collect.demo_data import generate_posts

    register_models(workdir, 3000, seed)
    base = generate_posts(100_000, accounts=2000, seed=seed + 1)
    files = {}
    for rows in sizes:
        # copies of the 100k posts under new ids and accounts, a week apart per copy
        parts = []
        for copy in range(-(-rows // len(base))):
            part = base.copy()
            part["post_id"] = part["post_id"] + f"-{copy}"
            part["account_id"] = part["account_id"] + f"-{copy % 10}"
            part["posted_at"] = part["posted_at"] + pd.Timedelta(days=7 * copy)
            parts.append(part)
        frame = pd.concat(parts, ignore_index=True).head(rows)
        frame = frame.iloc[np.random.default_rng(seed).permutation(len(frame))]
        path = workdir / f"posts_{rows}.parquet"
        frame.to_parquet(path, index=False)
        files[str(rows)] = str(path)
    for rows in large_sizes:
        files[str(rows)] = str(_copies(Path(files[str(max(sizes))]), rows,
                                       workdir / f"posts_{rows}.parquet"))
    return files


def _copies(source: Path, rows: int, path: Path) -> Path:
    """``rows`` rows of copies of ``source`` (ids and accounts suffixed per copy)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    table = pq.read_table(source)
    with pq.ParquetWriter(path, table.schema) as writer:
        for copy in range(-(-rows // len(table))):
            part = table.slice(0, min(len(table), rows - copy * len(table)))
            for column in ("post_id", "account_id"):
                part = part.set_column(part.schema.get_field_index(column), column,
                                       pc.binary_join_element_wise(
                                           part.column(column), pa.scalar(f"-r{copy}"), ""))
            writer.write_table(part)
    return path


def run_product(workdir: Path, path: str, out: Path) -> dict:
    from pipelines.collect.formats.source_file import ReadLimits
    from pipelines.config import load_settings
    from pipelines.paths import ProjectPaths
    from pipelines.registry import loading
    from pipelines.serve.scoring import run_score

    paths = ProjectPaths(root=ROOT, state=workdir, data=workdir / "data")
    settings = load_settings(ROOT / "params.yaml")
    serve = settings.serve
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{workdir / 'mlflow.db'}"
    started, started_cpu = time.perf_counter(), cpu_s()
    original = loading.load_version
    timings = {}

    def timed_load(*args, **kwargs):  # when the model is loaded: score_s starts there
        model = original(*args, **kwargs)
        timings["loaded"], timings["loaded_cpu"] = time.perf_counter(), cpu_s()
        return model

    loading.load_version = timed_load
    result = run_score(task="likes", model_uri=f"models:/{MODEL}/1", input_path=Path(path),
                       input_format="canonical", output_path=out, paths=paths,
                       chunk_rows=serve.score_chunk_rows, threads=serve.score_threads,
                       limits=ReadLimits.from_settings(settings.collect))
    done, done_cpu = time.perf_counter(), cpu_s()
    return {"total_s": done - started, "score_s": done - timings["loaded"],
            "total_cpu_s": done_cpu - started_cpu, "score_cpu_s": done_cpu - timings["loaded_cpu"],
            "rows": result["scored"], "quarantined": result["quarantined"]}


def run_peer(workdir: Path, path: str, out: Path) -> dict:
    import pandas as pd

    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{workdir / 'mlflow.db'}"
    started, started_cpu = time.perf_counter(), cpu_s()
    import mlflow  # inside the clock, as the product imports it inside run_score

    model = mlflow.pyfunc.load_model(f"models:/{MODEL}/1")
    loaded, loaded_cpu = time.perf_counter(), cpu_s()
    frame = pd.read_parquet(path)
    names = model.metadata.get_input_schema().input_names()
    frame = frame[names].assign(posted_at=frame["posted_at"].dt.tz_localize(None))
    for column in names:
        if str(frame[column].dtype) == "Int64":
            frame[column] = frame[column].astype(float)
    predictions = model.predict(frame)
    pd.DataFrame({"post_id": frame["post_id"].astype(str), "prediction": predictions}
                 ).to_parquet(out, index=False)
    done, done_cpu = time.perf_counter(), cpu_s()
    return {"total_s": done - started, "score_s": done - loaded,
            "total_cpu_s": done_cpu - started_cpu, "score_cpu_s": done_cpu - loaded_cpu,
            "rows": len(frame)}


def one_run(kind: str, workdir: Path, path: str) -> dict:
    """Run ``kind`` in this process (a fresh one) and report its times and peak RSS."""
    import pandas  # noqa: F401  both sides import pandas first, outside the timing
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "scored.parquet"
        result = (run_product if kind == "engageflow" else run_peer)(workdir, path, out)
    result["peak_rss_mb"] = peak_rss_mb()
    return result


def cpu_s() -> float:
    """CPU seconds this process has used, user + system, all threads (less sensitive to
    other jobs on the machine than wall time)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM: reset at exec, unlike ru_maxrss, which
    a child inherits from the parent that started it)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--repeats-1m", type=int, default=1,
                        help="repeats at 1M rows (a minute or more per run)")
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--large-sizes", type=int, nargs="*", default=list(LARGE_SIZES),
                        help="sizes scored by the product only, once: its peak memory on a "
                        "file larger than the peer can hold")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--baseline", type=Path,
                        help="a checkout of the product before this work (e.g. main), run as "
                        "a third contender ('engageflow_baseline') in the same alternation")
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--run", nargs=3, metavar=("KIND", "WORKDIR", "FILE"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        kind, workdir, path = args.run
        print(json.dumps(one_run(kind, Path(workdir), path)))
        return 0
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with tempfile.TemporaryDirectory() as folder:
        workdir = Path(folder)
        files = setup(workdir, tuple(args.sizes), args.seed, tuple(args.large_sizes))
        results = {}
        for rows in args.large_sizes:
            load = os.getloadavg()
            done = subprocess.run([sys.executable, __file__, "--run", "engageflow",
                                   str(workdir), files[str(rows)]], check=True,
                                  capture_output=True, text=True, env=env)
            run = json.loads(done.stdout.strip().splitlines()[-1])
            run["load_average_before"] = load
            print(rows, "engageflow", run, flush=True)
            results[f"rows_{rows}"] = {
                "rows": rows, "runs": {"engageflow": [run]}, "pyfunc": "not run (see note)",
                **{f"engageflow_{key}": round(run[key], 3)
                   for key in ("total_s", "score_s", "total_cpu_s", "score_cpu_s",
                               "peak_rss_mb")},
                "engageflow_rows_per_s": round(rows / run["score_s"])}
        for rows in args.sizes:
            kinds = ["engageflow", "pyfunc"] + (["engageflow_baseline"] if args.baseline
                                                else [])
            runs: dict[str, list[dict]] = {kind: [] for kind in kinds}
            for repeat in range(args.repeats if rows < 1_000_000 else args.repeats_1m):
                order = kinds if repeat % 2 == 0 else kinds[::-1]
                for kind in order:
                    load = os.getloadavg()
                    baseline = kind == "engageflow_baseline"
                    done = subprocess.run(
                        [sys.executable, __file__, "--run", kind.removesuffix("_baseline"),
                         str(workdir), files[str(rows)]], check=True, capture_output=True,
                        text=True, env={**env, "PYTHONPATH": str(args.baseline)} if baseline
                        else env)
                    run = json.loads(done.stdout.strip().splitlines()[-1])
                    run["load_average_before"] = load
                    runs[kind].append(run)
                    print(rows, kind, run, flush=True)
            cell = {"rows": rows, "runs": runs}
            for kind, done_runs in runs.items():
                for key in ("total_s", "score_s", "total_cpu_s", "score_cpu_s", "peak_rss_mb"):
                    cell[f"{kind}_{key}"] = round(statistics.median(r[key] for r in done_runs), 3)
                cell[f"{kind}_rows_per_s"] = round(rows / cell[f"{kind}_score_s"])
                cell[f"{kind}_rows_per_s_with_load"] = round(rows / cell[f"{kind}_total_s"])
            cell["speedup_score"] = round(cell["pyfunc_score_s"] / cell["engageflow_score_s"], 2)
            cell["speedup_with_model_load"] = round(cell["pyfunc_total_s"]
                                                    / cell["engageflow_total_s"], 2)
            cell["cpu_ratio_score"] = round(cell["pyfunc_score_cpu_s"]
                                            / cell["engageflow_score_cpu_s"], 2)
            cell["cpu_ratio_with_model_load"] = round(cell["pyfunc_total_cpu_s"]
                                                      / cell["engageflow_total_cpu_s"], 2)
            if args.baseline:
                cell["baseline"] = str(args.baseline)
                cell["baseline_speedup_score"] = round(cell["pyfunc_score_s"]
                                                       / cell["engageflow_baseline_score_s"], 2)
                cell["baseline_speedup_with_model_load"] = round(
                    cell["pyfunc_total_s"] / cell["engageflow_baseline_total_s"], 2)
            results[f"rows_{rows}"] = cell
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps({
        "benchmark": "batch_scoring", "repeats": args.repeats, "statistic": "median",
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                    "load_average_at_end": os.getloadavg(),
                    # imports read cached bytecode (as an installed package does) or
                    # compile every module from source in each run
                    "bytecode_cache": {"writes": not sys.dont_write_bytecode,
                                       "prefix": sys.pycache_prefix}},
        "note": "score_s = read -> contract -> features -> predict -> write with the model "
                "loaded (pyfunc: read_parquet, signature columns, predict, write); total_s "
                "adds the model load; *_cpu_s: CPU seconds (user + system, all threads) of the "
                "same spans; each run a fresh process, product and peer alternated; "
                "large sizes: the product only, once (its memory stays bounded: the file "
                "is scored in parts of serve.score_chunk_rows rows of whole accounts)",
        **results}, indent=2))
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
