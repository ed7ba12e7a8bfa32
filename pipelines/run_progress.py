"""Progress of a DAG run while it runs: one line per task (name, state, seconds, counts),
read from the log that ``airflow dags test`` writes (``make run``).

``airflow dags test`` logs ``[DAG TEST] starting task_id=…`` and ``end task task_id=…``
around each task, the task's state change (``new_state=failed``), and every stage logs its
result as ``<stage> [<task>]: {json}`` (:func:`pipelines.pipeline.run_stage`); the counts
come from that JSON. The log keeps everything; this shows what a person waits for.
"""

from __future__ import annotations

import os
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

_TIME = r"^(?P<time>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z?)"
STARTING = re.compile(_TIME + r".*\[DAG TEST\] starting task_id=(?P<task>\S+)")
ENDING = re.compile(_TIME + r".*\[DAG TEST\] end task task_id=(?P<task>\S+)")
NEW_STATE = re.compile(r"Task instance state updated.*new_state=(?P<state>\w+)")
#: The stage result line's keys worth showing, with how to say them.
FACTS: tuple[tuple[str, str], ...] = (
    ("rows_accepted", "{} rows accepted"), ("rows_quarantined", "{} quarantined"),
    ("posts", "{} posts"), ("rows", "{} rows"), ("best", "best {}"),
    ("version", "version {}"), ("decision", "gate: {}"),
)


@dataclass
class RunProgress:
    """What the log said so far about the run's tasks (feed it lines with :meth:`read`)."""

    done: int = 0
    current: str | None = None
    started: float | None = None
    state: str | None = None
    facts: list[str] = field(default_factory=list)

    def read(self, line: str) -> str | None:
        """Take one log line; returns the progress text it completes, if any: the start
        of a task (``"[2] validate ..."``) or its end (``"success 5.3 s: 4000 rows
        accepted"``)."""
        if match := STARTING.search(line):
            self.current, self.started = match["task"], _seconds(match["time"])
            self.state, self.facts = None, []
            return f"[{self.done + 1}] {self.current:<20} ..."
        if self.current is None:
            return None
        if match := NEW_STATE.search(line):
            self.state = match["state"]
        elif f"{self.current} [" in line and "]: {" in line:
            self.facts = stage_facts(line)
        elif (match := ENDING.search(line)) and match["task"] == self.current:
            seconds = _seconds(match["time"]) - (self.started or _seconds(match["time"]))
            self.done += 1
            self.current = None
            facts = f": {', '.join(self.facts)}" if self.facts else ""
            return f"{self.state or 'ended'} {seconds:.1f} s{facts}"
        return None


def stage_facts(line: str) -> list[str]:
    """The counts and decisions of a stage's result line, as short phrases."""
    out = []
    if match := re.search(r'"candidates": \[([^\]]*)\]', line):
        out.append(f"candidates {match[1].replace(chr(34), '')}")
    for key, text in FACTS:
        if match := re.search(rf'"{key}": "?([^",}}]+)"?', line):
            out.append(text.format(match[1]))
    return out


def _seconds(stamp: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def follow(log: Path, pid: int, out: TextIO = sys.stdout, poll_seconds: float = 0.5) -> int:
    """Print the progress of the run writing ``log`` until process ``pid`` has exited and
    its last lines are read. Returns the number of tasks that ended."""
    progress, offset, pending = RunProgress(), 0, ""
    while True:
        alive = _alive(pid)
        if log.is_file():
            with log.open(encoding="utf-8", errors="replace") as handle:
                handle.seek(offset)
                chunk = handle.read()
                offset = handle.tell()
            *lines, pending = (pending + chunk).split("\n")
            for line in lines:
                if (text := progress.read(line)) is not None:
                    # a task's start and its end share one output line
                    out.write(text + (" " if text.endswith("...") else "\n"))
                    out.flush()
        if not alive:
            if progress.current is not None:
                out.write("stopped\n")
            return progress.done
        time.sleep(poll_seconds)
