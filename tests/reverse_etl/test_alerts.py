"""Alerts reach a person only when a person must act, on every channel, once a day at most."""

from __future__ import annotations

import json
import logging
import os
import socketserver
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import duckdb
import pytest

from capsule_xero.rules.loading import parse_rules
from capsule_xero.rules.model import Rules
from capsule_xero.settings import Settings
from capsule_xero.spool import Spool
from capsule_xero.xero.token_store import TokenSet, TokenStore
from reverse_etl.alerts.delivery import SentLog, check_and_send, send
from reverse_etl.alerts.finding import Alert, budget_exhausted, find_alerts, run_failed
from reverse_etl.ledger.schema import ensure_ledger

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
SLACK_SECRET = "https://hooks.slack.example/services/T000/B000/very-secret-token"


# ---- local receivers -------------------------------------------------------------------------------


class HttpReceiver:
    """A local HTTP endpoint recording JSON posts; /broken answers 500."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, Any]] = []
        posts = self.posts

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.path == "/broken":
                    self.send_response(500)
                else:
                    posts.append((self.path, json.loads(body)))
                    self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()


class SmtpReceiver:
    """A minimal SMTP responder (no STARTTLS, no AUTH): keeps each message it is given."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []
        messages = self.messages

        class Handler(socketserver.StreamRequestHandler):
            def reply(self, line: str) -> None:
                self.wfile.write(line.encode() + b"\r\n")

            def handle(self) -> None:
                sender, recipients = "", []
                self.reply("220 localhost test SMTP")
                while line := self.rfile.readline():
                    command = line.decode().strip()
                    verb = command[:4].upper()
                    if verb in {"EHLO", "HELO"}:
                        self.reply("250 localhost")
                    elif verb == "MAIL":
                        sender, recipients = command.split(":", 1)[1].strip(" <>"), []
                        self.reply("250 OK")
                    elif verb == "RCPT":
                        recipients.append(command.split(":", 1)[1].strip(" <>"))
                        self.reply("250 OK")
                    elif verb == "DATA":
                        self.reply("354 end with <CRLF>.<CRLF>")
                        data = b""
                        while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                            data += chunk
                        messages.append((sender, recipients, data))
                        self.reply("250 OK")
                    elif verb == "QUIT":
                        self.reply("221 bye")
                        return
                    else:
                        self.reply("502 not implemented")

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()


@pytest.fixture
def http() -> Iterator[HttpReceiver]:
    receiver = HttpReceiver()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()


@pytest.fixture
def smtp() -> Iterator[SmtpReceiver]:
    receiver = SmtpReceiver()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()


def rules_with(http: HttpReceiver, smtp: SmtpReceiver, *, starttls: bool = False, extra: str = "") -> Rules:
    return parse_rules(
        f"""
alerts:
  channels:
    - slack: {{webhook_url_env: TEST_SLACK_URL}}
    - email:
        smtp_host: 127.0.0.1
        smtp_port: {smtp.port}
        from: capsule-xero@example.com.au
        to: [accounts@example.com.au, it@example.com.au]
        starttls: {"true" if starttls else "false"}
    - webhook: {{url: "{http.url}/ops"}}
{extra}"""
    )


def env_for(http: HttpReceiver) -> dict[str, str]:
    return {"TEST_SLACK_URL": f"{http.url}/slack"}


# ---- hand-made state ---------------------------------------------------------------------------------


@pytest.fixture
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect(":memory:")
    ensure_ledger(connection)
    yield connection
    connection.close()


def settings_in(home: Path) -> Settings:
    return Settings.from_env({"CAPSULE_XERO_HOME": str(home)})


def queue(con: duckdb.DuckDBPyConnection, party_id: int, state: str, message: str, attempts: int = 5) -> None:
    con.execute(
        "insert into ledger.error_queue values (?, null, 1, 1, 'update', 'validation', ?, ?, ?, ?, ?)",
        [party_id, message, attempts, NOW - timedelta(days=2), None if state == "dead" else NOW, state],
    )


def store_plan(con: duckdb.DuckDBPyConnection, plan_id: int, status: str, reasons: list[str]) -> None:
    con.execute(
        "insert into ledger.plans (plan_id, created_at, rules_fingerprint, status, approval_reasons,"
        " operation_counts) values (?, ?, 'f', ?, ?, ?)",
        [plan_id, NOW - timedelta(hours=1), status, reasons, json.dumps({"create": 120, "archive": 2})],
    )


def sign_in(home: Path, refreshed_days_ago: float) -> None:
    refreshed = NOW - timedelta(days=refreshed_days_ago)
    TokenStore(home).save(
        TokenSet(
            access_token="a",
            expires_at=refreshed + timedelta(minutes=30),
            refresh_token="r",
            refreshed_at=refreshed,
        )
    )


# ---- what needs a person -------------------------------------------------------------------------


def test_nothing_alerts_when_nothing_needs_a_person(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    queue(con, 11, "retrying", "Xero was busy")
    store_plan(con, 1, "approved", [])
    sign_in(tmp_path, refreshed_days_ago=1)
    assert find_alerts(con, settings_in(tmp_path), Rules(), NOW) == []


def test_dead_records_make_one_alert_with_the_first_few_and_their_reasons(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    for party in range(101, 108):
        queue(con, party, "dead", f"Party {party}: The contact name is too long")
    queue(con, 200, "retrying", "Xero was busy")
    con.execute("create schema staging")
    con.execute(
        "create table staging.capsule_parties as select 101::bigint as party_id, 'Acme Pty Ltd' as display_name"
    )
    (alert,) = find_alerts(con, settings_in(tmp_path), Rules(), NOW)
    assert alert.kind == "dead_letters"
    assert alert.title.startswith("7 records")
    assert "Acme Pty Ltd (Capsule party 101)" in alert.detail
    assert "Party 105: The contact name is too long" in alert.detail
    assert "Party 106" not in alert.detail and "2 more" in alert.detail
    assert "200" not in alert.detail
    assert "capsule-xero status" in alert.fix_command


def test_a_plan_waiting_for_approval_alerts_with_the_command_that_approves_it(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    store_plan(con, 1, "superseded", [])
    store_plan(con, 2, "pending_approval", ["2 archives (approval.archives_need_approval)"])
    (alert,) = find_alerts(con, settings_in(tmp_path), Rules(), NOW)
    assert alert.title == "Plan 2 waits for approval"
    assert "2 archives (approval.archives_need_approval)" in alert.detail and "120 create" in alert.detail
    assert "capsule-xero plan" in alert.fix_command and "capsule-xero approve 2" in alert.fix_command


def test_the_refresh_token_alerts_within_the_warning_days_and_when_dead(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    settings = settings_in(tmp_path)
    sign_in(tmp_path, refreshed_days_ago=60 - 15)
    assert find_alerts(con, settings, Rules(), NOW) == []
    sign_in(tmp_path, refreshed_days_ago=60 - 10)
    (soon,) = find_alerts(con, settings, Rules(), NOW)
    assert soon.kind == "token_expiring" and "10 days" in soon.title
    assert "capsule-xero auth login" in soon.fix_command
    assert find_alerts(con, settings, parse_rules("alerts: {token_expiry_warning_days: 7}"), NOW) == []
    sign_in(tmp_path, refreshed_days_ago=61)
    (dead,) = find_alerts(con, settings, Rules(), NOW)
    assert "expired" in dead.title


def test_a_custom_connection_has_no_refresh_token_to_warn_about(tmp_path: Path) -> None:
    TokenStore(tmp_path).save(
        TokenSet(access_token="a", expires_at=NOW, refreshed_at=NOW - timedelta(days=90), kind="custom")
    )
    assert find_alerts(None, settings_in(tmp_path), Rules(), NOW) == []


def test_budget_and_failed_run_alerts_say_what_happened_and_what_to_run() -> None:
    budget = budget_exhausted(datetime(2026, 11, 26, 3, 0, tzinfo=UTC), tenant="t-1")
    assert "2026-11-26 03:00 UTC" in budget.detail and "capsule-xero sync" in budget.fix_command
    failed = run_failed("xero_sync_job", "XeroUnavailable: Xero kept failing\nTraceback ...")
    assert "XeroUnavailable: Xero kept failing" in failed.detail and "Traceback" not in failed.detail
    assert "capsule-xero" in failed.fix_command
    assert run_failed("xero_sync_job", "other error").dedupe_key != failed.dedupe_key


def test_webhook_deliveries_no_sync_takes_alert_with_the_command_that_fixes_it(tmp_path: Path) -> None:
    settings = settings_in(tmp_path)
    spool = Spool.at_home(tmp_path)
    path, _ = spool.put("xero", {"resourceId": "c-1", "eventType": "UPDATE"})
    now = datetime.now(UTC)
    assert find_alerts(None, settings, Rules(), now) == []  # the sensor takes it within seconds
    two_hours_ago = (now - timedelta(hours=2)).timestamp()
    os.utime(path, (two_hours_ago, two_hours_ago))
    (alert,) = find_alerts(None, settings, Rules(), now)
    assert alert.kind == "webhook_backlog" and "not turned into syncs" in alert.title
    assert "2.0 hours" in alert.detail and "webhook_events_sensor" in alert.fix_command
    spool.mark_done([path])
    assert find_alerts(None, settings, Rules(), now) == []


# ---- delivery ------------------------------------------------------------------------------------------

ALERT = Alert("plan_waiting", "Plan 3 waits for approval", "It has 2 archives.", "`capsule-xero approve 3`")


def test_each_channel_gets_the_alert_in_its_own_shape(http: HttpReceiver, smtp: SmtpReceiver) -> None:
    deliveries = send([ALERT], rules_with(http, smtp).alerts.channels, env=env_for(http))
    assert [d.sent for d in deliveries] == [True, True, True]
    posts = dict(http.posts)
    assert posts["/slack"]["text"] == "Plan 3 waits for approval"  # the notification line
    assert [t["text"] for t in slack_texts(posts["/slack"])] == [
        "Plan 3 waits for approval",
        "It has 2 archives.",
        "To fix: `capsule-xero approve 3`",
    ]
    assert posts["/ops"] == {
        "kind": "plan_waiting",
        "title": "Plan 3 waits for approval",
        "detail": "It has 2 archives.",
        "fix": "`capsule-xero approve 3`",
    }
    ((sender, recipients, data),) = smtp.messages
    assert sender == "capsule-xero@example.com.au"
    assert recipients == ["accounts@example.com.au", "it@example.com.au"]
    mail = message_from_bytes(data)
    assert mail["Subject"] == "[capsule-xero] Plan 3 waits for approval"
    assert "To fix: `capsule-xero approve 3`" in mail.get_payload()


def test_the_same_alert_is_not_sent_twice_within_a_day(
    http: HttpReceiver, smtp: SmtpReceiver, tmp_path: Path
) -> None:
    channels = rules_with(http, smtp).alerts.channels
    log = SentLog.in_home(tmp_path)
    send([ALERT], channels, sent_log=log, now=NOW, env=env_for(http))
    send([ALERT], channels, sent_log=log, now=NOW + timedelta(hours=23), env=env_for(http))
    assert len(http.posts) == 2 and len(smtp.messages) == 1
    send([ALERT], channels, sent_log=log, now=NOW + timedelta(hours=25), env=env_for(http))
    assert len(http.posts) == 4 and len(smtp.messages) == 2
    assert (tmp_path / "alerts-sent.json").is_file()


def test_a_failing_channel_does_not_stop_the_others_and_no_secret_is_logged(
    http: HttpReceiver, smtp: SmtpReceiver, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rules = parse_rules(
        f"""
alerts:
  channels:
    - slack: {{webhook_url_env: TEST_SLACK_URL}}
    - email: {{smtp_host: 127.0.0.1, smtp_port: {smtp.port}, from: a@example.com.au, to: b@example.com.au,
               starttls: true, username: a, password_env: TEST_SMTP_PASSWORD}}
    - webhook: {{url_env: TEST_BROKEN_URL}}
    - webhook: {{url: "{http.url}/ops"}}
"""
    )
    env = {
        "TEST_SLACK_URL": "http://127.0.0.1:1/services/very-secret-token",  # nothing listens there
        "TEST_SMTP_PASSWORD": "hunter2-secret",
        "TEST_BROKEN_URL": f"{http.url}/broken",
    }
    log = SentLog.in_home(tmp_path)
    with caplog.at_level(logging.INFO, logger="reverse_etl.alerts"):
        deliveries = send([ALERT], rules.alerts.channels, sent_log=log, now=NOW, env=env)
    assert [d.sent for d in deliveries] == [False, False, False, True]
    assert [p for p, _ in http.posts] == ["/ops"]
    assert smtp.messages == []  # STARTTLS asked for and not offered: nothing goes out in the clear
    assert "HTTP 500" in deliveries[2].problem
    assert "secret" not in caplog.text and "hunter2" not in caplog.text
    assert ALERT.dedupe_key in log.load()  # one channel took it: not sent again today


def test_an_alert_no_channel_took_is_tried_again_next_time(http: HttpReceiver, tmp_path: Path) -> None:
    rules = parse_rules("alerts: {channels: [{slack: {webhook_url_env: TEST_SLACK_URL}}]}")
    log = SentLog.in_home(tmp_path)
    first = send([ALERT], rules.alerts.channels, sent_log=log, now=NOW, env={})
    assert [(d.sent, d.problem) for d in first] == [
        (False, "the environment variable TEST_SLACK_URL is not set")
    ]
    send([ALERT], rules.alerts.channels, sent_log=log, now=NOW + timedelta(minutes=5), env=env_for(http))
    assert [p for p, _ in http.posts] == ["/slack"]


def test_check_and_send_finds_and_delivers_and_remembers_in_the_home_folder(
    con: duckdb.DuckDBPyConnection, http: HttpReceiver, smtp: SmtpReceiver, tmp_path: Path
) -> None:
    queue(con, 7, "dead", "Email address is not valid")
    queue(con, 8, "retrying", "Xero was busy")
    store_plan(con, 4, "pending_approval", ["first migration"])
    settings = settings_in(tmp_path)
    rules = rules_with(http, smtp)
    check_and_send(con, settings, rules, NOW, env=env_for(http))
    check_and_send(con, settings, rules, NOW + timedelta(hours=1), env=env_for(http))
    kinds = sorted(body["kind"] for path, body in http.posts if path == "/ops")
    assert kinds == ["dead_letters", "plan_waiting"]
    assert len(smtp.messages) == 2
    # A new dead record changes the situation: that alert goes out again at once.
    queue(con, 9, "dead", "Name is too long")
    check_and_send(con, settings, rules, NOW + timedelta(hours=2), env=env_for(http))
    kinds = [body["kind"] for path, body in http.posts if path == "/ops"]
    assert kinds.count("dead_letters") == 2 and kinds.count("plan_waiting") == 1


# ---- hostile values ------------------------------------------------------------------------------------

HOSTILE_NAME = (
    "<https://evil.example/login|Xero: sign in again> *urgent* <!channel> [red on red]x[/red on red]"
)
HOSTILE_REASON = (
    "Escape \x1b[2J\x1b]8;;https://evil.example\x07here\nSecond line \u202eLtd ytP\u202c :thumbs_up:"
)


def slack_texts(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [block["text"] for block in body["blocks"] if "text" in block]


def test_names_and_xeros_reasons_reach_every_channel_as_typed_never_as_slack_markup_or_terminal_codes(
    con: duckdb.DuckDBPyConnection, http: HttpReceiver, smtp: SmtpReceiver, tmp_path: Path
) -> None:
    queue(con, 101, "dead", HOSTILE_REASON)
    con.execute("create schema staging")
    con.execute(
        "create table staging.capsule_parties as select 101::bigint as party_id, ?::varchar as display_name",
        [HOSTILE_NAME],
    )
    (alert,) = find_alerts(con, settings_in(tmp_path), Rules(), NOW)
    send([alert], rules_with(http, smtp).alerts.channels, env=env_for(http))
    posts = dict(http.posts)

    # Slack: every text object is plain text (no <url|text> links, *bold*, mentions or emoji codes).
    slack = posts["/slack"]
    texts = slack_texts(slack)
    assert texts and all(t["type"] == "plain_text" and t["emoji"] is False for t in texts)
    shown = "\n".join(t["text"] for t in texts)
    assert HOSTILE_NAME in shown
    assert (
        "Escape \\x1b[2J\\x1b]8;;https://evil.example\\x07here\\nSecond line \\u202eLtd ytP\\u202c" in shown
    )
    assert not any(c in shown for c in "\x1b\x07\u202e")
    assert "<" not in slack["text"] and "*" not in slack["text"]  # the notification line: no mrkdwn either

    # E-mail: plain text, the same characters, controls spelt out.
    ((_, _, data),) = smtp.messages
    mail = message_from_bytes(data)
    assert mail.get_content_type() == "text/plain"
    body = mail.get_payload(decode=True).decode()
    assert HOSTILE_NAME in body and "Escape \\x1b[2J" in body and "\x1b" not in body

    # The generic webhook gets the same text.
    assert HOSTILE_NAME in posts["/ops"]["detail"] and "\x1b" not in posts["/ops"]["detail"]
    assert (
        "- " + HOSTILE_NAME + " (Capsule party 101): update refused 5 times: Escape \\x1b[2J"
        in (posts["/ops"]["detail"])
    )


def test_a_long_alert_still_fits_slacks_block_limits_and_says_it_was_cut(http: HttpReceiver) -> None:
    rules = parse_rules("alerts: {channels: [{slack: {webhook_url_env: TEST_SLACK_URL}}]}")
    long = Alert("run_failed", "T" * 400, "D" * 5000, "F" * 4000)
    (delivery,) = send([long], rules.alerts.channels, env=env_for(http))
    assert delivery.sent
    ((_, body),) = http.posts
    header, detail, fix = slack_texts(body)
    assert len(header["text"]) <= 150 and header["text"].endswith("…")
    assert len(detail["text"]) <= 3000 and detail["text"].endswith("…")
    assert len(fix["text"]) <= 3000 and fix["text"].startswith("To fix: F")


def test_a_failed_run_whose_error_holds_a_line_break_or_escape_is_still_mailed(smtp: SmtpReceiver) -> None:
    rules = parse_rules(
        f"alerts: {{channels: [{{email: {{smtp_host: 127.0.0.1, smtp_port: {smtp.port},"
        " from: a@example.com.au, to: b@example.com.au, starttls: false}}]}"
    )
    alert = run_failed("sync\rjob\x1b[31m", "XeroUnavailable: \x1b[31mred\x07")
    (delivery,) = send([alert], rules.alerts.channels)
    assert delivery.sent, delivery.problem
    ((_, _, data),) = smtp.messages
    mail = message_from_bytes(data)
    assert mail["Subject"] == "[capsule-xero] The sync\\rjob\\x1b[31m run failed"
    assert "XeroUnavailable: \\x1b[31mred\\x07" in mail.get_payload(decode=True).decode()
