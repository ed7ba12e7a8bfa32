"""Prediction logging off the request path: an in-process queue and one writer thread.

Request handlers call :meth:`PredictionLogWriter.submit` (a deque append); the writer
thread inserts batches every ``flush_seconds`` or when ``batch_size`` rows wait.
:meth:`flush` writes everything queued so far (tests, shutdown). A full queue drops rows
and counts them rather than slow the requests down; a failed insert is logged and counted.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from typing import Any

from pipelines.prediction_log import PredictionLog

logger = logging.getLogger(__name__)


class PredictionLogWriter:
    """Batches prediction records into a :class:`PredictionLog` from a background thread.

    Args:
        log: Where rows go.
        batch_size: Most rows per insert.
        flush_seconds: Longest a row waits before it is written.
        max_queue: Rows held at most; beyond it new rows are dropped (and counted).
    """

    def __init__(self, log: PredictionLog, *, batch_size: int, flush_seconds: float,
                 max_queue: int = 100_000) -> None:
        self.log = log
        self.batch_size = batch_size
        self.flush_seconds = flush_seconds
        self.max_queue = max_queue
        self._queue: deque[dict[str, Any]] = deque()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._write_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.written = 0
        self.dropped = 0
        self.failed = 0

    @property
    def depth(self) -> int:
        """Rows waiting to be written."""
        return len(self._queue)

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="prediction-log-writer",
                                            daemon=True)
            self._thread.start()

    def submit(self, records: list[dict[str, Any]]) -> None:
        """Queue rows for writing (never blocks on the database)."""
        room = self.max_queue - len(self._queue)
        if room < len(records):
            self.dropped += len(records) - max(room, 0)
            records = records[:max(room, 0)]
        self._queue.extend(records)
        if len(self._queue) >= self.batch_size:
            self._wake.set()

    def flush(self) -> int:
        """Write every queued row now; returns how many were written."""
        total = 0
        with self._write_lock:
            while self._queue:
                total += self._write_batch()
        return total

    def close(self) -> None:
        """Stop the thread and write what is left."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        self.flush()

    def _write_batch(self) -> int:
        batch = []
        while self._queue and len(batch) < self.batch_size:
            batch.append(self._queue.popleft())
        if not batch:
            return 0
        try:
            self.log.log_predictions(batch)
        except Exception:  # noqa: BLE001 - a logging failure must not take serving down
            self.failed += len(batch)
            logger.exception("prediction log: failed to write %d rows", len(batch))
            return 0
        self.written += len(batch)
        return len(batch)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.flush_seconds)
            self._wake.clear()
            with self._write_lock:
                while self._queue:
                    if not self._write_batch() and self._queue and self.failed:
                        break
