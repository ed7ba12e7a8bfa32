"""Probe ``engageflow serve`` with hostile requests and record every answer (issue 14).

Run from the project root: ``.venv/bin/python bench/reliability_serving.py``. Registers a
LightGBM post model in a throw-away SQLite registry (``bench/serving.py``'s
``register_models``), starts ``engageflow serve`` as in production (uvicorn, API-key auth,
SQLite prediction log) on a free port of 127.0.0.1, then:

- sends the probe corpus (:func:`probes`: non-finite and huge numbers, lone surrogates,
  times at the edges of the range, counts beyond int64, the posts row contract, bodies too
  large by Content-Length and chunked, malformed JSON, auth), all on ONE keep-alive
  connection, recording each status and whether the connection survived;
- sends outcomes from ``--writers`` concurrent clients and counts, in the log's database,
  how many of the accepted ones were stored (exactly once each); twice: on a free
  database, and while another connection holds its write lock for ``--hold-lock`` seconds
  (longer than SQLite's 5 s busy timeout: what a report job or a backup can do).

Writes ``bench/results/reliability_serving.json``; stops the server it started.
"""

from __future__ import annotations

import argparse
import collections
import http.client
import json
import os
import platform
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "reliability_serving.json"
API_KEY = "bench-key"
MAX_BODY_BYTES = 1_000_000          # serve.max_body_bytes (params.yaml default)
POST = {"post_id": "probe-1", "account_id": "acct-1", "platform": "instagram",
        "content_type": "image", "posted_at": "2024-05-01T10:00:00+00:00",
        "caption": "hello #world", "hashtags_count": 1, "mentions_count": 0,
        "urls_count": 0, "media_count": 1, "followers_at_post_time": 1500}


def _with(field: str, literal: str, body: dict[str, Any] | None = None) -> bytes:
    """``body`` (default: the probe post) with ``field`` set to a raw JSON ``literal``."""
    return json.dumps({**(body or POST), field: "@@"}).replace('"@@"', literal).encode()


def _outcome(**fields: Any) -> dict[str, Any]:
    return {"outcomes": [{"post_id": "probe-1", "likes": 3, **fields}]}


def probes() -> list[dict[str, Any]]:
    """The corpus: case, category, path, raw body, expected status (and how to send it)."""
    cases: list[dict[str, Any]] = []

    def add(category: str, case: str, path: str, body: bytes, expect: int,
            **how: Any) -> None:
        cases.append({"category": category, "case": case, "path": path, "body": body,
                      "expect": expect, **how})

    add("baseline", "a valid post", "/predict", json.dumps(POST).encode(), 200)
    add("baseline", "a valid outcome", "/outcomes", json.dumps(_outcome()).encode(), 200)
    for literal in ("NaN", "Infinity", "-Infinity", "1e400"):
        for field in ("followers_at_post_time", "hashtags_count", "caption"):
            add("non-finite number", f"{field}: {literal}", "/predict",
                _with(field, literal), 422)
        add("non-finite number", f"outcome likes: {literal}", "/outcomes",
            json.dumps(_outcome(likes="@@")).replace('"@@"', literal).encode(), 422)
    add("non-finite number", "integer of 5,000 digits", "/outcomes",
        json.dumps(_outcome(likes="@@")).replace('"@@"', "9" * 5000).encode(), 422)
    for field in ("post_id", "account_id", "caption", "campaign_id"):
        add("lone surrogate", f"{field}: \\ud800", "/predict",
            json.dumps({**POST, field: "a\ud800"}).encode(), 422)
    add("lone surrogate", "outcome post_id: \\udfff", "/outcomes",
        json.dumps({"outcomes": [{"post_id": "\udfff", "likes": 1}]}).encode(), 422)
    for when in ("0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00"):
        add("time at the range's edge", f"posted_at {when}", "/predict",
            json.dumps({**POST, "posted_at": when}).encode(), 422)
        add("time at the range's edge", f"observed_at {when}", "/outcomes",
            json.dumps(_outcome(observed_at=when)).encode(), 422)
    for target, value in (("likes", 2**63), ("shares", 2**64)):
        add("count beyond int64", f"{target}: {value}", "/outcomes",
            json.dumps({"outcomes": [{"post_id": "probe-1", target: value}]}).encode(), 422)
    add("count beyond int64", "likes: 2**63 - 1 (the largest stored)", "/outcomes",
        json.dumps({"outcomes": [{"post_id": "probe-1", "likes": 2**63 - 1}]}).encode(), 200)
    for field, value in (("followers_at_post_time", 0), ("followers_at_post_time", True),
                         ("posted_at", "1900-06-01T00:00:00Z"),
                         ("posted_at", "2100-06-01T00:00:00Z"), ("platform", "myspace"),
                         ("content_type", "gif"), ("hashtags_count", -1),
                         ("post_id", None)):
        add("posts row contract", f"{field}: {json.dumps(value)}", "/predict",
            json.dumps({**POST, field: value}).encode(), 422)
    big = json.dumps({"posts": [POST] * (MAX_BODY_BYTES // len(json.dumps(POST)) + 10)}
                     ).encode()
    add("body size", "over the limit, Content-Length", "/predict", big, 413)
    add("body size", "over the limit, chunked", "/predict", big, 413, chunked=True)
    add("malformed", "truncated JSON", "/predict", json.dumps(POST)[:-5].encode(), 422)
    add("malformed", "invalid UTF-8", "/predict", b'{"post_id": "\xff\xfe"}', 422)
    add("malformed", "a JSON list", "/predict", b"[1, 2, 3]", 422)
    add("malformed", "unknown field", "/predict", _with("extra", "1"), 422)
    add("auth", "no API key", "/predict", json.dumps(POST).encode(), 401, key=None)
    add("auth", "wrong API key", "/outcomes", json.dumps(_outcome()).encode(), 401,
        key="wrong")
    add("baseline", "a valid post after all the above", "/predict",
        json.dumps(POST).encode(), 200)
    return cases


def send(connection: http.client.HTTPConnection, probe: dict[str, Any]) -> int:
    key = probe.get("key", API_KEY)
    headers = {"Content-Type": "application/json", **({"X-API-Key": key} if key else {})}
    body = probe["body"]
    if probe.get("chunked"):
        connection.request("POST", probe["path"], headers=headers, encode_chunked=True,
                           body=(body[i:i + 65536] for i in range(0, len(body), 65536)))
    else:
        connection.request("POST", probe["path"], body=body, headers=headers)
    response = connection.getresponse()
    response.read()
    return response.status


def run_probes(host: str, port: int) -> dict[str, Any]:
    """Every probe on one keep-alive connection (reopened, and counted, if it drops)."""
    connection = http.client.HTTPConnection(host, port, timeout=60)
    results, resets = [], 0
    for probe in probes():
        try:
            status = send(connection, probe)
            kept = True
        except (ConnectionError, http.client.HTTPException, OSError) as error:
            resets += 1
            connection.close()
            connection = http.client.HTTPConnection(host, port, timeout=60)
            status, kept = f"connection lost: {type(error).__name__}", False
        results.append({k: probe[k] for k in ("category", "case", "path", "expect")}
                       | {"status": status, "as_expected": status == probe["expect"],
                          "connection_kept": kept})
        if probe["expect"] == 413:      # a refused body is not read: the server closes
            connection.close()
            connection = http.client.HTTPConnection(host, port, timeout=60)
    connection.close()
    return {"results": results, "connection_resets": resets}


def run_writers(host: str, port: int, database: Path, writers: int, each: int, *,
                prefix: str, hold_lock: float = 0.0) -> dict[str, Any]:
    """``writers`` clients each sending ``each`` outcomes at once (while another connection
    holds the write lock for ``hold_lock`` seconds); the log's count of each accepted one."""
    holder = None
    if hold_lock:
        holder = sqlite3.connect(database, isolation_level=None, check_same_thread=False)
        holder.execute("BEGIN IMMEDIATE")
        release = threading.Timer(hold_lock, lambda: holder.execute("COMMIT"))
        release.start()
    statuses: collections.Counter[Any] = collections.Counter()
    accepted: list[str] = []
    lock = threading.Lock()

    def client(k: int) -> None:
        connection = http.client.HTTPConnection(host, port, timeout=60)
        for i in range(each):
            post_id = f"{prefix}-{k}-{i}"
            probe = {"path": "/outcomes", "body": json.dumps(
                {"outcomes": [{"post_id": post_id, "likes": i, "shares": k}]}).encode()}
            try:
                status = send(connection, probe)
            except (ConnectionError, http.client.HTTPException, OSError) as error:
                status = f"connection lost: {type(error).__name__}"
                connection = http.client.HTTPConnection(host, port, timeout=60)
            with lock:
                statuses[status] += 1
                if status == 200:
                    accepted.append(post_id)
        connection.close()

    started = time.monotonic()
    threads = [threading.Thread(target=client, args=(k,)) for k in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.monotonic() - started
    if holder is not None:
        release.join()
        holder.close()
    with sqlite3.connect(database) as db:
        counts = dict(db.execute("SELECT post_id, COUNT(*) FROM outcomes WHERE post_id LIKE "
                                 "? GROUP BY post_id", (f"{prefix}-%",)).fetchall())
    return {"writers": writers, "outcomes_sent": writers * each,
            "write_lock_held_by_another_connection_s": hold_lock,
            "statuses": {str(k): v for k, v in statuses.items()},
            "accepted": len(accepted),
            "stored_exactly_once": sum(counts.get(p) == 1 for p in accepted),
            "lost": sum(p not in counts for p in accepted),
            "duplicated": sum(counts.get(p, 0) > 1 for p in accepted),
            "seconds": round(seconds, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--writers", type=int, default=16)
    parser.add_argument("--each", type=int, default=50)
    parser.add_argument("--hold-lock", type=float, default=6.0)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "bench"))
    from serving import MODEL, free_port, register_models, stop, wait_ready

    workdir = Path(tempfile.mkdtemp(prefix="engageflow-bench-reliability-"))
    print(f"workdir {workdir}; load average {os.getloadavg()}", flush=True)
    register_models(workdir, args.rows, args.seed)
    (workdir / "expectations").symlink_to(ROOT / "expectations")
    host, port = "127.0.0.1", free_port()
    database = workdir / "predictions.db"
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{workdir / 'mlflow.db'}",
           "ENGAGEFLOW_API_KEYS": API_KEY, "PYTHONPATH": str(ROOT),
           "ENGAGEFLOW_PREDICTION_LOG_URL": f"sqlite:///{database}",
           "ENGAGEFLOW_STATE": str(workdir / "state"), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipelines.cli", "serve", "--params", str(ROOT / "params.yaml"),
         "--project-dir", str(workdir), "--model-name", MODEL, "--host", host,
         "--port", str(port)], env=env, start_new_session=True)
    try:
        wait_ready(f"http://{host}:{port}/health", proc, timeout=180)
        probed = run_probes(host, port)
        writers = [run_writers(host, port, database, args.writers, args.each, prefix="free"),
                   run_writers(host, port, database, args.writers, args.each // 5,
                               prefix="locked", hold_lock=args.hold_lock)]
    finally:
        stop(proc)
    results = probed["results"]
    by_status = collections.Counter(str(r["status"]) for r in results)
    by_category: dict[str, dict[str, int]] = {}
    for r in results:
        cell = by_category.setdefault(r["category"], collections.Counter())
        cell[str(r["status"])] += 1
    summary = {
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "load_average_end": [round(x, 2) for x in os.getloadavg()]},
        "server": "engageflow serve (uvicorn, 1 worker, API-key auth, SQLite prediction "
                  "log), LightGBM post model",
        "probes": len(results), "as_expected": sum(r["as_expected"] for r in results),
        "status_codes": dict(sorted(by_status.items())),
        "server_errors_5xx": sum(str(r["status"]).startswith("5") for r in results),
        "connection_resets": probed["connection_resets"],
        "by_category": {k: dict(v) for k, v in by_category.items()},
        "concurrent_outcomes": writers, "results": results,
    }
    RESULTS.write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps({k: v for k, v in summary.items() if k != "results"}, indent=2))


if __name__ == "__main__":
    main()
