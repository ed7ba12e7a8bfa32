"""How fast a small partition validates → bench/results/validation_speed.json.

Run from the project root: ``.venv/bin/python bench/validation_speed.py`` (part of ``make
bench``). One day's raw partition of ``--rows`` demo posts (300 by default: a few hundred,
what a quiet account's day brings) is validated by the collection DAG's stage runner
(``run_validate_partition``: the posts row and table contracts through Great Expectations,
the validated/quarantine layers and the JSON report written):

* **cold**: a fresh process, everything included (Python start, imports, Great Expectations'
  import and first validation), as ``engageflow validate-day`` or a fresh Airflow task pays it;
* **warm**: the same process validating the partition again (what a worker that has
  validated before, or the second suite, pays);

each with reports off (``--no-reports``: the DAG's small partitions) and on (Data Docs and
the exploration page written). Every process records the load average before it starts;
medians of ``--repeats``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "validation_speed.json"
DAY = "2026-06-01"


def make_partition(data_root: Path, rows: int, seed: int) -> None:
    import numpy as np
    import pandas as pd

    from pipelines.collect import raw_store
    from pipelines.collect.demo_data import generate_posts

    posts = generate_posts(rows, accounts=20, seed=seed)
    # one day's posts, read three days later
    posts["posted_at"] = pd.Timestamp(DAY, tz="UTC") + pd.to_timedelta(
        np.arange(rows) * (86_400 // rows), unit="s")
    posts["collected_at"] = posts["posted_at"] + pd.Timedelta(days=3)
    raw_store.append_raw(data_root, posts, "demo", DAY)


def one_process(data_root: Path, reports: bool, warm_runs: int) -> dict:
    """In a fresh process: the first validation from the start of the process, then
    ``warm_runs`` more."""
    import pandas as pd

    from pipelines.config import load_settings
    from pipelines.validate.partition import run_validate_partition

    settings = load_settings(ROOT / "params.yaml")
    v = settings.validate

    def validate() -> dict:
        return run_validate_partition(
            data_root=data_root, run_date=DAY, row_suite_path=ROOT / v.suite,
            table_suite_path=ROOT / v.table_suite, as_of=pd.Timestamp("2026-07-01", tz="UTC"),
            rules=v, with_reports=reports)

    first = validate()
    cold = time.perf_counter() - STARTED
    warm = []
    for _ in range(warm_runs):
        began = time.perf_counter()
        validate()
        warm.append(time.perf_counter() - began)
    return {"cold_s": cold, "warm_s": warm, "rows_in": first["rows_in"],
            "rows_accepted": first["rows_accepted"]}


STARTED = time.perf_counter()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--run", nargs=2, metavar=("DATA_ROOT", "REPORTS"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        print(json.dumps(one_process(Path(args.run[0]), args.run[1] == "on", 3)))
        return 0
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as folder:
        data_root = Path(folder)
        make_partition(data_root, args.rows, args.seed)
        runs: dict[str, list[dict]] = {"reports_off": [], "reports_on": []}
        for repeat in range(args.repeats):
            order = ("off", "on") if repeat % 2 == 0 else ("on", "off")
            for reports in order:
                load = os.getloadavg()
                began = time.perf_counter()
                done = subprocess.run([sys.executable, __file__, "--run", str(data_root),
                                       reports], check=True, capture_output=True, text=True,
                                      env=env)
                run = json.loads(done.stdout.strip().splitlines()[-1])
                run["process_wall_s"] = time.perf_counter() - began
                run["load_average_before"] = load
                runs[f"reports_{reports}"].append(run)
                print(reports, run, flush=True)
        for key, done_runs in runs.items():
            results[key] = {
                "cold_s": round(statistics.median(r["cold_s"] for r in done_runs), 3),
                "process_wall_s": round(statistics.median(r["process_wall_s"]
                                                          for r in done_runs), 3),
                "warm_s": round(statistics.median(w for r in done_runs for w in r["warm_s"]),
                                3),
                "runs": done_runs}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({
        "benchmark": "validation_speed", "rows": args.rows, "repeats": args.repeats,
        "statistic": "median seconds",
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                    "load_average_at_end": os.getloadavg()},
        "note": "run_validate_partition on one day's raw partition (row + table contracts "
                "through Great Expectations, layers and report written); cold = from the "
                "start of a fresh process to the first validation's end (imports included), "
                "process_wall = the whole subprocess, warm = a later validation in the same "
                "process",
        **results}, indent=2))
    print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
