"""Delivering alerts (reverse_etl/alerts/finding.py says which) to the rules file's channels: a Slack
incoming webhook, e-mail over SMTP, a generic JSON webhook
(docs/operations.md#alerts-what-each-means-and-what-to-do).

A channel that fails is logged and the others still get the alert. An alert whose ``key`` was
delivered within the last 24 hours is not sent again: the sent keys live in
``$CAPSULE_XERO_HOME/alerts-sent.json``, not in DuckDB, because alerting must work while a run holds
the DuckDB file. Secrets (the Slack URL, an SMTP password, a webhook URL from ``url_env``) come from
the environment and never reach a log line.

Names and Xero's reasons are shown as typed on every channel (capsule_xero/display.py): Slack gets
plain-text blocks, so a party called ``<https://…|Xero login>`` or ``*urgent* <!channel>`` is neither a
hidden link, bold text nor a mention; control characters are spelt out (``\\x1b``) on every channel,
and a line break inside a name or reason too, so each record stays on its own line.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import smtplib
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from capsule_xero.display import spell_out
from capsule_xero.files import exclusive_lock, write_private_file
from reverse_etl.alerts.finding import Alert, find_alerts

if TYPE_CHECKING:
    import duckdb

    from capsule_xero.rules.alerts import AlertChannel
    from capsule_xero.rules.model import Rules
    from capsule_xero.settings import Settings

log = logging.getLogger(__name__)

SENT_FILE_NAME = "alerts-sent.json"
RESEND_AFTER = timedelta(hours=24)
HTTP_TIMEOUT_SECONDS = 10.0
SMTP_TIMEOUT_SECONDS = 10.0
# Block Kit limits (docs.slack.dev, reference/block-kit): a text object holds 1-3,000 characters, a
# header block's text 150; a longer one makes Slack refuse the whole message, so it is cut instead.
SLACK_TEXT_LIMIT = 3000
SLACK_HEADER_LIMIT = 150


@dataclass(frozen=True)
class Delivery:
    """What became of one alert on one channel; ``problem`` is safe to show (no secrets)."""

    key: str
    channel: str
    sent: bool
    problem: str = ""


# ---- remembering what was sent ---------------------------------------------------------------------


class SentLog:
    """Dedupe state: alert key → when it was last delivered, in a small JSON file (atomic writes)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock_path = self.path.with_name(self.path.name + ".lock")

    @classmethod
    def in_home(cls, home: Path) -> SentLog:
        return cls(Path(home) / SENT_FILE_NAME)

    def lock(self) -> contextlib.AbstractContextManager[None]:
        return exclusive_lock(self._lock_path)

    def load(self) -> dict[str, datetime]:
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError):
            log.warning("alerts: %s is unreadable; starting it afresh", self.path)
            return {}
        sent = {}
        for key, when in data.items() if isinstance(data, dict) else ():
            with contextlib.suppress(TypeError, ValueError):
                sent[key] = datetime.fromisoformat(when)
        return sent

    def save(self, sent: Mapping[str, datetime], now: datetime) -> None:
        kept = {k: v.isoformat() for k, v in sent.items() if now - v < RESEND_AFTER}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_private_file(self.path, json.dumps(kept, indent=1, sort_keys=True).encode("utf-8"))


# ---- sending --------------------------------------------------------------------------------------


class ChannelError(Exception):
    """A channel could not deliver; the message is safe to log (never a URL with a token, a password)."""


def channel_label(index: int, channel: AlertChannel) -> str:
    """How logs name a channel: never by its secret URL."""
    if channel.email is not None:
        return f"email #{index + 1} ({channel.email.smtp_host}:{channel.email.smtp_port})"
    if channel.webhook is not None and channel.webhook.url is not None:
        return f"webhook #{index + 1} ({httpx.URL(channel.webhook.url).host})"
    return f"{channel.kind} #{index + 1}"


def send(
    alerts: Sequence[Alert],
    channels: Sequence[AlertChannel],
    *,
    sent_log: SentLog | None = None,
    now: datetime | None = None,
    env: Mapping[str, str] | None = None,
) -> list[Delivery]:
    """Deliver each alert to every channel; with ``sent_log``, skip alerts delivered within 24 hours.

    An alert counts as delivered (and is remembered) when at least one channel took it; one that no
    channel took is tried again next time. A failing channel is logged and never stops the others.
    """
    now = now or datetime.now(UTC)
    env = os.environ if env is None else env
    if not alerts or not channels:
        return []
    with sent_log.lock() if sent_log else contextlib.nullcontext():
        sent = sent_log.load() if sent_log else {}
        deliveries: list[Delivery] = []
        for alert in alerts:
            key = alert.dedupe_key
            last = sent.get(key)
            if last is not None and now - last < RESEND_AFTER:
                continue
            delivered = False
            for index, channel in enumerate(channels):
                label = channel_label(index, channel)
                try:
                    _deliver(alert, channel, env)
                except ChannelError as error:
                    log.warning("alerts: %s could not send %r: %s", label, alert.title, error)
                    deliveries.append(Delivery(key, label, False, str(error)))
                else:
                    log.info("alerts: %s sent %r", label, alert.title)
                    deliveries.append(Delivery(key, label, True))
                    delivered = True
            if delivered:
                sent[key] = now
        if sent_log:
            sent_log.save(sent, now)
    return deliveries


def check_and_send(
    con: duckdb.DuckDBPyConnection | None,
    settings: Settings,
    rules: Rules,
    now: datetime | None = None,
    *,
    extra: Sequence[Alert] = (),
    env: Mapping[str, str] | None = None,
) -> list[Delivery]:
    """``find_alerts`` (plus ``extra``, alerts a caller raises itself) sent to the rules' channels, deduped."""
    now = now or datetime.now(UTC)
    alerts = [*find_alerts(con, settings, rules, now), *extra]
    return send(alerts, rules.alerts.channels, sent_log=SentLog.in_home(settings.home), now=now, env=env)


def _deliver(alert: Alert, channel: AlertChannel, env: Mapping[str, str]) -> None:
    if channel.slack is not None:
        url = _from_env(env, channel.slack.webhook_url_env)
        _post_json(url, slack_message(alert))
    elif channel.webhook is not None:
        url = channel.webhook.url or _from_env(env, channel.webhook.url_env or "")
        _post_json(
            url, {"kind": alert.kind, "title": alert.title, "detail": alert.detail, "fix": alert.fix_command}
        )
    elif channel.email is not None:
        _send_email(alert, channel, env)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def slack_message(alert: Alert) -> dict[str, Any]:
    """The alert as Block Kit plain text: Slack reads nothing in it as a link, bold, mention or emoji."""

    def plain(text: str) -> dict[str, Any]:
        return {"type": "plain_text", "text": text, "emoji": False}

    title = _cut(spell_out(alert.title), SLACK_HEADER_LIMIT)
    detail = _cut(spell_out(alert.detail, keep_newlines=True), SLACK_TEXT_LIMIT)
    fix = _cut("To fix: " + spell_out(alert.fix_command, keep_newlines=True), SLACK_TEXT_LIMIT)
    # ``text`` is the notification line; Slack reads it as mrkdwn, where &, < and > must be escaped
    # (docs.slack.dev, messaging/formatting-message-text) and * or _ would format: the title has neither
    # from a value, and &, < and > are escaped.
    notification = title.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return {
        "text": notification,
        "blocks": [
            {"type": "header", "text": plain(title)},
            {"type": "section", "text": plain(detail)},
            {"type": "section", "text": plain(fix)},
        ],
    }


def _from_env(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise ChannelError(f"the environment variable {name} is not set")
    return value


def _post_json(url: str, body: Mapping[str, Any]) -> None:
    try:
        response = httpx.post(url, json=body, timeout=HTTP_TIMEOUT_SECONDS)
    except httpx.HTTPError as error:  # its text may hold the URL (and so a token): name the kind only
        raise ChannelError(f"the request failed ({type(error).__name__})") from None
    if response.status_code >= 300:
        raise ChannelError(f"the endpoint answered HTTP {response.status_code}")


def _send_email(alert: Alert, channel: AlertChannel, env: Mapping[str, str]) -> None:
    email = channel.email
    assert email is not None
    password = _from_env(env, email.password_env) if email.password_env else None
    message = EmailMessage()
    # Plain text only (no HTML part to inject into); a line break in the subject would be a header.
    message["Subject"] = f"[capsule-xero] {spell_out(alert.title)}"
    message["From"] = email.from_
    message["To"] = ", ".join(email.to)
    message.set_content(spell_out(f"{alert.detail}\n\nTo fix: {alert.fix_command}\n", keep_newlines=True))
    try:
        with smtplib.SMTP(email.smtp_host, email.smtp_port, timeout=SMTP_TIMEOUT_SECONDS) as smtp:
            if email.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if email.username:
                smtp.login(email.username, password or "")
            smtp.send_message(message)
    except smtplib.SMTPResponseException as error:
        raise ChannelError(f"the SMTP server refused it ({error.smtp_code})") from None
    except (smtplib.SMTPException, OSError) as error:
        raise ChannelError(f"SMTP failed ({type(error).__name__})") from None
