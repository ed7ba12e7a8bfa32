"""Serving metrics in the Prometheus text exposition format (no client library needed).

Counters and the latency histogram are updated on the event loop (one thread), so they
need no lock; gauges are read when ``/metrics`` is scraped.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Callable

#: Latency histogram bucket bounds, seconds.
BUCKETS: tuple[float, ...] = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                              0.5, 1.0)


def _labels(**labels: str) -> str:
    inner = ",".join(f'{k}="{str(v).replace(chr(92), "/").replace(chr(34), chr(39))}"'
                     for k, v in labels.items())
    return "{" + inner + "}"


class Metrics:
    """Request counts by path and status, predictions by arm and version (task routes: by
    task too), latency of /predict."""

    def __init__(self) -> None:
        self.requests: dict[tuple[str, int], int] = defaultdict(int)
        self.predictions: dict[tuple[str, str], int] = defaultdict(int)
        self.task_predictions: dict[tuple[str, str, str], int] = defaultdict(int)
        self.bucket_counts = [0] * (len(BUCKETS) + 1)
        self.latency_sum = 0.0
        self.latency_count = 0
        self.reloads = 0
        self.reload_failures = 0
        self.gauges: dict[str, Callable[[], list[tuple[dict[str, str], float]]]] = {}

    def observe_request(self, path: str, status: int, seconds: float) -> None:
        self.requests[(path, status)] += 1
        if path == "/predict":
            self.bucket_counts[bisect.bisect_left(BUCKETS, seconds)] += 1
            self.latency_sum += seconds
            self.latency_count += 1

    def observe_prediction(self, arm: str, version: str, posts: int) -> None:
        self.predictions[(arm, version)] += posts

    def observe_task_prediction(self, task: str, arm: str, version: str, rows: int) -> None:
        self.task_predictions[(task, arm, version)] += rows

    def render(self) -> str:
        lines = ["# HELP engageflow_requests_total HTTP requests by path and status.",
                 "# TYPE engageflow_requests_total counter"]
        for (path, status), count in sorted(self.requests.items()):
            lines.append(f"engageflow_requests_total{_labels(path=path, status=str(status))}"
                         f" {count}")
        lines += ["# HELP engageflow_predictions_total Posts predicted, by arm and version.",
                  "# TYPE engageflow_predictions_total counter"]
        for (arm, version), count in sorted(self.predictions.items()):
            lines.append(f"engageflow_predictions_total{_labels(arm=arm, model_version=version)}"
                         f" {count}")
        lines += ["# HELP engageflow_task_predictions_total Rows predicted by task routes "
                  "(/tasks/<task>/predict), by task, arm and version.",
                  "# TYPE engageflow_task_predictions_total counter"]
        for (task, arm, version), count in sorted(self.task_predictions.items()):
            lines.append(f"engageflow_task_predictions_total"
                         f"{_labels(task=task, arm=arm, model_version=version)} {count}")
        lines += ["# HELP engageflow_predict_latency_seconds Latency of /predict requests.",
                  "# TYPE engageflow_predict_latency_seconds histogram"]
        cumulative = 0
        for bound, count in zip((*BUCKETS, float("inf")), self.bucket_counts, strict=True):
            cumulative += count
            le = "+Inf" if bound == float("inf") else repr(bound)
            lines.append(f'engageflow_predict_latency_seconds_bucket{{le="{le}"}} {cumulative}')
        lines.append(f"engageflow_predict_latency_seconds_sum {self.latency_sum!r}")
        lines.append(f"engageflow_predict_latency_seconds_count {self.latency_count}")
        lines += ["# HELP engageflow_model_reloads_total Alias moves picked up (and failures).",
                  "# TYPE engageflow_model_reloads_total counter",
                  f'engageflow_model_reloads_total{{result="ok"}} {self.reloads}',
                  f'engageflow_model_reloads_total{{result="failed"}} {self.reload_failures}']
        for name, read in sorted(self.gauges.items()):
            lines += [f"# TYPE {name} gauge"]
            for labels, value in read():
                lines.append(f"{name}{_labels(**labels) if labels else ''} {value!r}")
        return "\n".join(lines) + "\n"
