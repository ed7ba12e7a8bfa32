"""Alerts reach real receivers on 127.0.0.1: an HTTP server (webhook) and an SMTP one."""

from __future__ import annotations

import json
import logging
import socket
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from pipelines.monitor.notifiers import notify

DECISION = {"retrain": True, "reason": "data drift: 3 of 10 features drifted",
            "model": "engagement-likes@champion", "window": "2026-06-22..2026-06-29"}
#: The notifier arguments a non-email alert does not use.
NO_EMAIL = {"webhook_url": None, "smtp_host": "localhost", "smtp_port": 25,
            "sender": "engageflow@localhost", "recipients": ()}


@pytest.fixture
def webhook():
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append({"type": self.headers["Content-Type"], "body": json.loads(body)})
            self.send_response(200 if self.path == "/hook" else 404)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", received
    server.shutdown()
    server.server_close()


def test_webhook_posts_slack_compatible_json(webhook):
    url, received = webhook
    sent = notify(DECISION, kind="webhook", **{**NO_EMAIL, "webhook_url": f"{url}/hook"})
    assert sent["status"] == 200
    assert received[0]["type"] == "application/json"
    body = received[0]["body"]
    assert body["text"].startswith("EngageFlow drift monitoring: retraining triggered")
    assert "data drift: 3 of 10 features drifted" in body["text"]
    assert body["engageflow"]["reason"] == DECISION["reason"]


def test_webhook_errors_are_raised_not_swallowed(webhook):
    url, _ = webhook
    with pytest.raises(ConnectionError, match="webhook POST failed.*404"):
        notify(DECISION, kind="webhook", **{**NO_EMAIL, "webhook_url": f"{url}/wrong"})
    with pytest.raises(ValueError, match="webhook notifier needs a URL"):
        notify(DECISION, kind="webhook", **NO_EMAIL)


def _smtp_receiver(messages: list[str]) -> tuple[socket.socket, threading.Thread]:
    """A minimal SMTP server: enough of RFC 5321 for smtplib.send_message."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        conn, _ = listener.accept()
        with conn, conn.makefile("rb") as reader:
            conn.sendall(b"220 test ready\r\n")
            data: list[bytes] = []
            in_data = False
            for line in reader:
                if in_data:
                    if line in (b".\r\n", b".\n"):
                        in_data = False
                        messages.append(b"".join(data).decode())
                        conn.sendall(b"250 queued\r\n")
                    else:
                        data.append(line)
                    continue
                command = line.strip().upper()
                if command.startswith((b"EHLO", b"HELO")):
                    conn.sendall(b"250 test\r\n")
                elif command == b"DATA":
                    in_data = True
                    conn.sendall(b"354 go ahead\r\n")
                elif command == b"QUIT":
                    conn.sendall(b"221 bye\r\n")
                    return
                else:
                    conn.sendall(b"250 ok\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return listener, thread


def test_email_reaches_an_smtp_server():
    messages: list[str] = []
    listener, thread = _smtp_receiver(messages)
    try:
        sent = notify(DECISION, kind="email", webhook_url=None, smtp_host="127.0.0.1",
                      smtp_port=listener.getsockname()[1], sender="engageflow@localhost",
                      recipients=("ops@example.org",))
        thread.join(timeout=10)
    finally:
        listener.close()
    assert sent["recipients"] == ["ops@example.org"]
    assert "Subject: EngageFlow drift monitoring: retraining triggered" in messages[0]
    assert "data drift: 3 of 10 features drifted" in messages[0]


def test_log_notifier_and_unknown_kind(caplog):
    with caplog.at_level(logging.WARNING, logger="pipelines.monitor.notifiers"):
        notify({**DECISION, "retrain": False, "reason": "no drift"}, kind="log", **NO_EMAIL)
    assert "no retraining" in caplog.text and "no drift" in caplog.text
    with pytest.raises(ValueError, match="'kind' must be one of \\['log', 'webhook', 'email'\\]; "
                                         "got 'pager'"):
        notify(DECISION, kind="pager", **NO_EMAIL)
