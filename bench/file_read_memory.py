"""Benchmark: peak memory and time of reading a ~200 MB CSV drop with ``read_posts``.

Run from the project root: ``.venv/bin/python bench/file_read_memory.py``. Writes
``bench/results/file_read_memory.json``.

A canonical CSV of ``--rows`` posts (default 1.15M, ~200 MB: the size of the file in issue
14) is generated in a temporary folder, then read in a fresh child process per setting, so
each peak is that read's alone: the child reports its peak resident set (``VmHWM``) and its
resident set after the imports, before the read, and the deep size of the posts it returned.
Settings: ``chunk_rows`` at the params default (100,000), a smaller chunk (20,000), and one
chunk as large as the file (what the
reader did before chunking: the whole file parsed at once); with ``--before PATH``, also
the reader of another checkout (the code before this change, which also held the whole
file's bytes and text). The figure that matters is the
peak above the output: the posts frame the caller asked for must fit in memory anyway.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

CHILD = r"""
import json, sys, time
from pathlib import Path
from pipelines.collect.formats import ReadLimits, read_posts
def status(key):  # /proc: VmHWM starts afresh in this process (ru_maxrss survives exec)
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
base = status("VmRSS")
limits = dict(max_file_mb=4096, max_columns=500, max_json_depth=64, chunk_rows=int(sys.argv[2]))
options = {"limits": ReadLimits(**limits)}
started = time.perf_counter()
result = read_posts(Path(sys.argv[1]), "canonical", **options)
seconds = time.perf_counter() - started
peak = status("VmHWM")
print(json.dumps({"records_read": result.records_read, "posts": len(result.posts),
                  "rejects": len(result.rejects), "seconds": round(seconds, 1),
                  "rss_after_imports_mb": round(base), "peak_rss_mb": round(peak),
                  "output_mb": round(int(result.posts.memory_usage(deep=True).sum()) / 2**20)}))
"""


def write_csv(path: Path, rows: int, seed: int) -> int:
    """A canonical CSV of ``rows`` posts with ~150-character captions; returns its bytes."""
    rng = np.random.default_rng(seed)
    words = np.array(["sun", "launch", "team", "#ai", "@devs", "new", "today", "coffee",
                      "ship", "café", "🚀", "road", "data", "week", "#mlops", "story"])
    block = 100_000
    with path.open("w", encoding="utf-8", newline="") as out:
        for start in range(0, rows, block):
            n = min(block, rows - start)
            caption = pd.Series([" ".join(rng.choice(words, 24)) for _ in range(n)])
            frame = pd.DataFrame({
                "post_id": [f"p{start + i}" for i in range(n)],
                "platform": rng.choice(["instagram", "facebook", "linkedin", "twitter"], n),
                "account_id": [f"acct-{a}" for a in rng.integers(0, 5000, n)],
                "posted_at": (pd.Timestamp("2025-01-01", tz="UTC")
                              + pd.to_timedelta(rng.integers(0, 365 * 86400, n), unit="s")
                              ).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "content_type": rng.choice(["image", "video", "carousel", "text"], n),
                "caption": caption,
                "hashtags_count": rng.integers(0, 6, n), "mentions_count": rng.integers(0, 3, n),
                "followers_at_post_time": rng.integers(100, 10**7, n),
                "likes": rng.integers(0, 10**5, n), "comments": rng.integers(0, 500, n),
                "shares": rng.integers(0, 300, n),
            })
            frame.to_csv(out, index=False, header=start == 0)
    return path.stat().st_size


def read_in_child(path: Path, chunk_rows: int, code: Path | None = None) -> dict[str, object]:
    """Read in a fresh process; ``code``: another checkout (the reader before chunking)."""
    child = CHILD
    if code is not None:  # that reader takes no limits
        child = child.replace("from pipelines.collect.formats import ReadLimits, read_posts",
                              "from pipelines.collect.formats import read_posts")
        child = child.replace('options = {"limits": ReadLimits(**limits)}', "options = {}")
    env = {**os.environ,
           "PYTHONPATH": str(code or Path(__file__).resolve().parents[1])}
    done = subprocess.run([sys.executable, "-c", child, str(path), str(chunk_rows)],
                          capture_output=True, text=True, env=env, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_150_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", default="bench/results/file_read_memory.json")
    parser.add_argument("--before", type=Path,
                        help="a checkout of the reader before chunking (e.g. main), to measure")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "posts.csv"
        started = time.perf_counter()
        size = write_csv(path, args.rows, args.seed)
        print(f"wrote {size / 2**20:.0f} MiB in {time.perf_counter() - started:.0f} s",
              flush=True)
        runs = {}
        for name, chunk in (("chunk_rows=100000 (default)", 100_000),
                            ("chunk_rows=20000", 20_000),
                            ("one chunk (the whole file, as before chunking)", args.rows + 1)):
            runs[name] = {"chunk_rows": chunk, "load_average_before": os.getloadavg(),
                          **read_in_child(path, chunk)}
            print(name, runs[name], flush=True)
        if args.before:
            name = f"before chunking ({args.before})"
            runs[name] = read_in_child(path, 0, args.before)
            print(name, runs[name], flush=True)
    result = {
        "what": "peak resident memory of read_posts on one canonical CSV, per chunk_rows",
        "file": {"rows": args.rows, "mib": round(size / 2**20, 1), "seed": args.seed},
        "runs": runs,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                    "platform": platform.platform(), "pandas": pd.__version__,
                    "load_average_at_end": os.getloadavg(),
                    "note": "shared 2-core machine, other jobs running: times are loose"},
    }
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
