"""Alerts: a log line, a Slack-compatible webhook POST, or an email.

The webhook URL (it carries a token) and SMTP credentials are secrets: callers read them
from the environment or an Airflow Connection and pass them in; params.yaml only names
the notifier kind and where the secret lives.
"""

from __future__ import annotations

import json
import logging
import smtplib
import urllib.error
import urllib.request
from email.message import EmailMessage
from typing import Any

logger = logging.getLogger(__name__)

NOTIFIERS: tuple[str, ...] = ("log", "webhook", "email")


def alert_text(decision: dict[str, Any]) -> str:
    """One human-readable paragraph about a monitoring decision."""
    head = ("EngageFlow drift monitoring: retraining triggered" if decision.get("retrain")
            else "EngageFlow drift monitoring: no retraining")
    lines = [f"{head} for {decision.get('model', '?')} (window {decision.get('window', '?')}).",
             f"Reason: {decision.get('reason', '')}"]
    if decision.get("report"):
        lines.append(f"Report: {decision['report']}")
    return "\n".join(lines)


def notify(
    decision: dict[str, Any],
    *,
    kind: str,
    webhook_url: str | None,
    smtp_host: str,
    smtp_port: int,
    sender: str,
    recipients: tuple[str, ...],
    timeout: float = 10.0,
) -> dict[str, Any]:
    """Send ``decision`` through the ``kind`` notifier; returns what was sent, and where.

    The webhook body is Slack's incoming-webhook JSON (``{"text": ...}``) plus the decision
    under ``engageflow`` for receivers that read it.

    Raises:
        ValueError: for an unknown kind or a missing destination.
        ConnectionError: if the receiver refuses or answers with an HTTP error.
    """
    if kind not in NOTIFIERS:
        raise ValueError(f"notify: 'kind' must be one of {list(NOTIFIERS)}; got {kind!r}.")
    text = alert_text(decision)
    if kind == "log":
        logger.warning("%s", text)
        return {"notifier": "log", "text": text}
    if kind == "webhook":
        if not webhook_url:
            raise ValueError("notify: the webhook notifier needs a URL (monitor.webhook_url_env "
                             "names the environment variable holding it); got none.")
        body = json.dumps({"text": text, "engageflow": decision}, default=str).encode()
        request = urllib.request.Request(webhook_url, data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                status = response.status
        except (urllib.error.URLError, OSError) as error:
            raise ConnectionError(f"notify: webhook POST failed: {error}") from error
        logger.info("alert sent to webhook (HTTP %d)", status)
        return {"notifier": "webhook", "status": status, "text": text}
    if not recipients:
        raise ValueError("notify: the email notifier needs 'recipients' (monitor.email."
                         "recipients); got none.")
    message = EmailMessage()
    message["Subject"] = text.splitlines()[0]
    message["From"], message["To"] = sender, ", ".join(recipients)
    message.set_content(text + "\n\n" + json.dumps(decision, indent=2, default=str))
    try:
        with smtplib.SMTP(smtp_host, smtp_port, timeout=timeout) as smtp:
            smtp.send_message(message)
    except (smtplib.SMTPException, OSError) as error:
        raise ConnectionError(f"notify: email via {smtp_host}:{smtp_port} failed: {error}"
                              ) from error
    logger.info("alert emailed to %s", ", ".join(recipients))
    return {"notifier": "email", "recipients": list(recipients), "text": text}
