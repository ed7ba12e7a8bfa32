"""A real local HTTP server (127.0.0.1, port 0) that plays scripted API responses.

Each route (method GET, URL path) holds a script of steps; a request consumes the next
step and the last step repeats. Every request is recorded (path, query, headers), so
tests can assert request counts, headers sent and parameters.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

TOKEN = "SECRET-TOKEN-abc123xyz"


@dataclass
class Step:
    """One scripted response: status, JSON body (or raw text), headers, delay before it."""

    status: int = 200
    body: Any = None
    text: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


@dataclass
class Seen:
    """One request as the server received it."""

    path: str
    query: dict[str, str]
    headers: dict[str, str]


class FakeApi:
    """Route table + request log shared with the handler threads."""

    def __init__(self) -> None:
        self.routes: dict[str, list[Step]] = {}
        self.seen: list[Seen] = []
        self.lock = threading.Lock()
        self.base_url = ""

    @staticmethod
    def step(
        status: int = 200,
        body: Any = None,
        *,
        text: str | None = None,
        headers: dict[str, str] | None = None,
        delay_s: float = 0.0,
    ) -> Step:
        """A scripted response (tests reach Step through the fixture, not an import)."""
        return Step(status, body, text, dict(headers or {}), delay_s)

    def route(self, path: str, *steps: Step | dict) -> None:
        """Script ``path`` (decoded URL path); dict steps are 200 JSON bodies."""
        self.routes[path] = [s if isinstance(s, Step) else Step(body=s) for s in steps]

    def requests_to(self, path: str) -> list[Seen]:
        return [s for s in self.seen if s.path == path]

    def next_step(self, path: str) -> Step | None:
        with self.lock:
            script = self.routes.get(path)
            if not script:
                return None
            return script.pop(0) if len(script) > 1 else script[0]


def _handler(api: FakeApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Buffer headers and body into one write: split writes meet delayed ACKs and
        # cost ~40 ms a request on keep-alive connections.
        wbufsize = 64 * 1024

        def do_GET(self) -> None:  # noqa: N802 (stdlib name)
            parts = urlsplit(self.path)
            path = unquote(parts.path)
            query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
            with api.lock:
                api.seen.append(Seen(path, query, dict(self.headers.items())))
            step = api.next_step(path) or Step(404, {"error": f"no route {path}"})
            if step.delay_s:
                time.sleep(step.delay_s)
            payload = (step.text if step.text is not None else json.dumps(step.body)).encode()
            try:
                self.send_response(step.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for name, value in step.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (read timeout test)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@pytest.fixture
def fake_api() -> Iterator[FakeApi]:
    """A running FakeApi; ``fake_api.base_url`` is ``http://127.0.0.1:<port>``."""
    api = FakeApi()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(api))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    api.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield api
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def sleeps() -> list[float]:
    """Collects the waits the client asks for, instead of sleeping."""
    return []


@pytest.fixture
def token() -> str:
    """The token the tests send; it must never show up in errors or logs."""
    return TOKEN
