"""The webhook receiver: signatures, Intent to Receive, replays, restarts, speed, and secrets kept out of logs."""

from __future__ import annotations

import json
import logging
import socket
import stat
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import typer
from pydantic import SecretStr
from typer.testing import CliRunner

from capsule_xero.settings import Settings
from capsule_xero.spool import Spool, SpoolFull, SpoolLimits
from capsule_xero.webhooks import WebhookReceiver, xero_signature
from cli import webhooks as cli_webhooks
from sandbox.capsule.control import CapsuleControl
from sandbox.server import SandboxServer
from sandbox.xero.control import XeroControl
from tests.reverse_etl.test_alerts import HttpReceiver
from tests.sandbox.capsule.world import api_client
from tests.support.waiting import wait_for

# Fixed (xdist workers must collect the same parametrised ids); shaped like the real ones.
XERO_KEY = "Zk3y/vE7qL0wXr9sT2uY8bN4mC6dF1gH5jK7pQ3aS0eW9zR2tU4iO6xB8nM1lV3c=="
CAPSULE_TOKEN = "hT9xQ2vL7mN4bC8zK1wR5pY3sD6fG0jA"


@pytest.fixture
def spool(tmp_path: Path) -> Spool:
    return Spool(tmp_path / "spool")


@pytest.fixture
def receiver(spool: Spool) -> Iterator[WebhookReceiver]:
    with WebhookReceiver(
        spool, xero_key=SecretStr(XERO_KEY), capsule_token=SecretStr(CAPSULE_TOKEN)
    ) as running:
        yield running


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10, trust_env=False) as client:
        yield client


def xero_body(*contact_ids: str, entropy: str = "ABCDEFGHIJKLMNOPQRST", first: int = 1) -> bytes:
    events = [
        {
            "resourceUrl": f"https://api.xero.com/api.xro/2.0/Contacts/{contact_id}",
            "resourceId": contact_id,
            "eventDateUtc": "2026-11-25T01:15:39.902",
            "eventType": "UPDATE",
            "eventCategory": "CONTACT",
            "tenantId": "c2cc9b6e-9458-4c7d-93cc-f02b81b0594f",
            "tenantType": "ORGANISATION",
        }
        for contact_id in contact_ids
    ]
    payload = {
        "events": events,
        "firstEventSequence": first if events else 0,
        "lastEventSequence": first + len(events) - 1 if events else 0,
        "entropy": entropy,
    }
    return json.dumps(payload).encode()


def post_xero(
    http: httpx.Client, receiver: WebhookReceiver, body: bytes, key: str = XERO_KEY
) -> httpx.Response:
    return http.post(
        receiver.xero_url,
        content=body,
        headers={"x-xero-signature": xero_signature(key, body), "Content-Type": "application/json"},
    )


def test_a_correctly_signed_xero_event_is_answered_200_with_an_empty_body_after_it_is_spooled(
    receiver: WebhookReceiver, spool: Spool, http: httpx.Client
) -> None:
    contact_id = str(uuid.uuid4())
    response = post_xero(http, receiver, xero_body(contact_id))
    assert response.status_code == 200
    assert response.content == b"" and "set-cookie" not in response.headers
    [path] = spool.pending()
    spooled = Spool.read(path)
    assert spooled.source == "xero" and [e["resourceId"] for e in spooled.events] == [contact_id]


def spooled_ids(paths: list[Path]) -> list[str]:
    return sorted(event["resourceId"] for path in paths for event in Spool.read(path).events)


def test_a_batched_delivery_is_one_private_spool_file_holding_each_of_its_events(
    receiver: WebhookReceiver, spool: Spool, http: httpx.Client
) -> None:
    ids = [str(uuid.uuid4()) for _ in range(3)]
    assert post_xero(http, receiver, xero_body(*ids)).status_code == 200
    [path] = spool.pending()
    assert spooled_ids([path]) == sorted(ids)
    # Events carry customer records: only the receiver's user may read them.
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(spool.root.stat().st_mode) == stat.S_IMODE(spool.done.stat().st_mode) == 0o700


@pytest.mark.parametrize(
    "signature",
    ["wrong-key", "missing", "empty", "other-body", "non-ascii"],
)
def test_a_wrongly_signed_or_unsigned_xero_delivery_is_refused_401_and_nothing_is_spooled(
    receiver: WebhookReceiver, spool: Spool, http: httpx.Client, signature: str
) -> None:
    body = xero_body(str(uuid.uuid4()))
    headers = {
        "wrong-key": {"x-xero-signature": xero_signature("not-" + XERO_KEY, body)},
        "missing": {},
        "empty": {"x-xero-signature": ""},
        "other-body": {"x-xero-signature": xero_signature(XERO_KEY, body + b" ")},
        "non-ascii": {"x-xero-signature": "é".encode("latin-1")},
    }[signature]
    response = http.post(receiver.xero_url, content=body, headers=headers)
    assert response.status_code == 401
    assert spool.pending() == []


def test_intent_to_receive_gets_200_when_signed_and_401_when_not_and_spools_nothing(
    receiver: WebhookReceiver, spool: Spool, http: httpx.Client
) -> None:
    itr = xero_body()
    assert post_xero(http, receiver, itr).status_code == 200
    assert post_xero(http, receiver, itr, key="someone-else's key").status_code == 401
    assert spool.pending() == []
    assert not (spool.done.exists() and any(spool.done.iterdir()))


def test_xeros_own_intent_to_receive_round_passes_and_its_signed_events_are_spooled(
    server: SandboxServer, spool: Spool, http: httpx.Client
) -> None:
    with WebhookReceiver(spool, xero_key=SecretStr(XERO_KEY)) as receiver:
        configured = http.post(
            f"{server.xero_url}/_sandbox/xero/webhooks",
            json={
                "url": receiver.xero_url,
                "key": XERO_KEY,
                "batch_delay_seconds": 0,
                "intent_to_receive_requests": 6,
            },
        ).json()
        assert configured["status"] == "ok"
        assert [d["correctly_signed"] for d in configured["intent_to_receive"]].count(False) == 3
        assert all(d["passed"] for d in configured["intent_to_receive"])
        assert spool.pending() == []
        with XeroControl(server.xero_url) as xero:
            contact = xero.create_contact(Name="Webhook Test Pty Ltd")
        [path] = wait_for(spool.pending)
        [event] = Spool.read(path).events
        assert (event["resourceId"], event["eventType"]) == (contact["ContactID"], "CREATE")

        def delivered() -> list[dict]:
            described = http.get(f"{server.xero_url}/_sandbox/xero/webhooks").json()
            return [d for d in described["deliveries"] if d["kind"] == "events" and d["delivered"]]

        # The file is durable before the 200 goes out, so Xero records the delivery just after.
        [delivery] = wait_for(delivered)
        assert [a["status"] for a in delivery["attempts"]] == [200]


def test_a_replayed_or_retried_event_is_still_one_spool_file(
    receiver: WebhookReceiver, spool: Spool, http: httpx.Client
) -> None:
    contact_id = str(uuid.uuid4())
    body = xero_body(contact_id)
    assert post_xero(http, receiver, body).status_code == 200
    assert post_xero(http, receiver, body).status_code == 200
    # Xero's retry of the same event in a new envelope: other entropy and sequence numbers.
    assert (
        post_xero(http, receiver, xero_body(contact_id, entropy="ZYXWVUTSRQPONMLKJIHG", first=7)).status_code
        == 200
    )
    assert len(spool.pending()) == 1
    # Still one after the sensor has consumed it.
    spool.mark_done(spool.pending())
    assert post_xero(http, receiver, body).status_code == 200
    assert spool.pending() == []


def test_spooled_events_survive_a_receiver_restart(spool: Spool, http: httpx.Client) -> None:
    first = WebhookReceiver(spool, xero_key=SecretStr(XERO_KEY)).start()
    ids = [str(uuid.uuid4()) for _ in range(2)]
    assert post_xero(http, first, xero_body(ids[0])).status_code == 200
    first.stop()
    with pytest.raises(httpx.ConnectError):
        post_xero(http, first, xero_body(ids[1]))  # the sender sees no 200 and retries later
    with WebhookReceiver(Spool(spool.root), xero_key=SecretStr(XERO_KEY)) as second:
        assert post_xero(http, second, xero_body(ids[1])).status_code == 200
        assert post_xero(http, second, xero_body(ids[0])).status_code == 200  # a replay across the restart
    assert spooled_ids(Spool(spool.root).pending()) == sorted(ids)


def test_replies_stay_well_inside_xeros_five_seconds(receiver: WebhookReceiver, http: httpx.Client) -> None:
    body = xero_body(*(str(uuid.uuid4()) for _ in range(50)))
    started = time.monotonic()
    for _ in range(5):
        assert post_xero(http, receiver, body).status_code == 200
    assert (time.monotonic() - started) / 5 < 1.0


def test_a_capsule_rest_hook_with_the_right_token_spools_each_record_once(
    receiver: WebhookReceiver, spool: Spool, http: httpx.Client
) -> None:
    delivery = {"event": "party/updated", "payload": [{"id": 11, "name": "A"}, {"id": 12, "name": "B"}]}
    assert http.post(receiver.capsule_url(), json=delivery).status_code == 200
    assert http.post(receiver.capsule_url(), json=delivery).status_code == 200  # a retry
    events = [event for p in spool.pending() for event in Spool.read(p).events]
    assert sorted(e["record"]["id"] for e in events) == [11, 12]
    assert {e["event"] for e in events} == {"party/updated"}


@pytest.mark.parametrize(
    "path", ["/capsule/wrong-token", "/capsule/", "/capsule", f"/capsule/{CAPSULE_TOKEN}x"]
)
def test_a_capsule_rest_hook_without_the_token_is_not_found_and_spools_nothing(
    receiver: WebhookReceiver, spool: Spool, http: httpx.Client, path: str
) -> None:
    response = http.post(receiver.base_url + path, json={"event": "party/updated", "payload": [{"id": 1}]})
    assert response.status_code == 404
    assert spool.pending() == []


def test_capsules_own_rest_hook_delivery_is_spooled(
    server: SandboxServer, receiver: WebhookReceiver, spool: Spool
) -> None:
    ctl = CapsuleControl(server.capsule_url)
    try:
        ctl.set_hook_batch_window(0.05)
        token = ctl.mint_app_token(client_id="capsule-xero")["access_token"]
        with api_client(server, token) as capsule:
            subscribed = capsule.post(
                "/resthooks",
                json={"restHook": {"event": "party/created", "targetUrl": receiver.capsule_url()}},
            )
            assert subscribed.status_code == 201, subscribed.text
            party = ctl.create_party({"type": "organisation", "name": "Hooked Pty Ltd"})
        [path] = wait_for(spool.pending)
        assert [e["record"]["id"] for e in Spool.read(path).events] == [party["id"]]
        assert [d["outcome"] for d in wait_for(ctl.deliveries)] == ["delivered"]
    finally:
        ctl.close()


def test_no_key_or_token_ever_reaches_the_log(
    receiver: WebhookReceiver, http: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    body = xero_body(str(uuid.uuid4()))
    post_xero(http, receiver, body)
    post_xero(http, receiver, body, key="bad")
    http.post(receiver.capsule_url(), json={"event": "party/created", "payload": [{"id": 5}]})
    http.post(receiver.base_url + f"/capsule/{CAPSULE_TOKEN[:-1]}", json={})
    # httpx, the test's own client, logs the URLs it calls; everything else is the receiver's side.
    logged = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith(("httpx", "httpcore")))
    assert "webhook POST capsule -> 200" in logged  # the receiver does log its traffic ...
    assert XERO_KEY not in logged and CAPSULE_TOKEN[:12] not in logged  # ... never the secrets
    assert "SecretStr('**********')" in repr(Settings.from_env({"XERO_WEBHOOK_KEY": XERO_KEY}))


def test_serve_refuses_to_start_without_a_secret_or_with_a_guessable_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = typer.Typer()
    app.command("version")(lambda: None)  # a Typer app with one other command keeps sub-apps as groups
    app.add_typer(cli_webhooks.webhooks_app, name="webhooks")
    monkeypatch.setenv("CAPSULE_XERO_HOME", str(tmp_path))
    for name in ("XERO_WEBHOOK_KEY", "CAPSULE_HOOK_TOKEN", "WEBHOOK_PORT"):
        monkeypatch.delenv(name, raising=False)
    result = CliRunner().invoke(app, ["webhooks", "serve"])
    assert result.exit_code == 2 and "XERO_WEBHOOK_KEY" in result.output
    monkeypatch.setenv("CAPSULE_HOOK_TOKEN", "secret")
    result = CliRunner().invoke(app, ["webhooks", "serve"])
    assert result.exit_code == 2 and "at least 24" in result.output
    monkeypatch.setenv("CAPSULE_HOOK_TOKEN", CAPSULE_TOKEN)
    monkeypatch.setenv("WEBHOOK_SPOOL_DAYS", "a week")
    result = CliRunner().invoke(app, ["webhooks", "serve"])
    assert (
        result.exit_code == 2 and "WEBHOOK_SPOOL_DAYS='a week' is not a whole number of days" in result.output
    )
    assert "--port" in CliRunner().invoke(app, ["webhooks", "serve", "--help"]).output


# ---- hostile and heavy deliveries, a full spool -------------------------------------------------------


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("depth", [40, 1_100, 100_000])
def test_a_deeply_nested_xero_delivery_with_a_valid_signature_is_answered_400_and_the_receiver_goes_on(
    receiver: WebhookReceiver, spool: Spool, http: httpx.Client, depth: int
) -> None:
    body = ('{"events": [{"resourceId": "x", "data": ' + nested(depth) + "}]}").encode()
    assert post_xero(http, receiver, body).status_code == 400
    assert spool.pending() == []
    assert post_xero(http, receiver, xero_body(str(uuid.uuid4()))).status_code == 200


@pytest.mark.parametrize("depth", [1_100, 100_000])
def test_a_deeply_nested_capsule_delivery_with_the_right_token_is_answered_400_and_the_receiver_goes_on(
    receiver: WebhookReceiver, spool: Spool, http: httpx.Client, depth: int
) -> None:
    body = ('{"event": "party/updated", "payload": [' + nested(depth) + "]}").encode()
    assert http.post(receiver.capsule_url(), content=body).status_code == 400
    assert spool.pending() == []
    delivery = {"event": "party/updated", "payload": [{"id": 1}]}
    assert http.post(receiver.capsule_url(), json=delivery).status_code == 200


@pytest.mark.parametrize(("route", "limit"), [("xero", 16), ("capsule", 64)])
def test_a_body_over_its_routes_size_limit_is_answered_413_without_being_read(
    receiver: WebhookReceiver, spool: Spool, route: str, limit: int
) -> None:
    path = "/xero" if route == "xero" else f"/capsule/{CAPSULE_TOKEN}"
    length = limit * 1024 * 1024 + 1
    with socket.create_connection(("127.0.0.1", receiver.port), timeout=5) as sock:
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n\r\n{{".encode())
        answer = sock.recv(1024).decode("latin-1")
    assert answer.startswith("HTTP/1.0 413") or answer.startswith("HTTP/1.1 413"), answer
    assert spool.pending() == []


def capsule_party(party_id: int) -> dict:
    """A party as a REST hook carries it (full record with its embeds): about 900 bytes."""
    return {
        "id": party_id,
        "type": "organisation",
        "name": f"Bulk Import {party_id} Pty Ltd",
        "about": "Imported from a spreadsheet",
        "createdAt": "2026-11-25T01:15:39Z",
        "updatedAt": "2026-11-25T01:16:02Z",
        "owner": {"id": 11, "username": "admin", "name": "Sandbox Admin"},
        "emailAddresses": [
            {"id": party_id * 10 + 1, "type": "Work", "address": f"info{party_id}@example.com.au"}
        ],
        "phoneNumbers": [{"id": party_id * 10 + 2, "type": "Work", "number": "+61 2 9000 0000"}],
        "addresses": [
            {
                "id": party_id * 10 + 3,
                "type": "Office",
                "street": "1 George Street",
                "city": "Sydney",
                "state": "NSW",
                "country": "Australia",
                "zip": "2000",
            }
        ],
        "websites": [{"id": party_id * 10 + 4, "service": "URL", "address": "https://example.com.au"}],
        "tags": [{"id": 5, "name": "Customer"}],
        "fields": [{"id": party_id * 10 + 5, "definition": {"id": 7, "name": "ABN"}, "value": "51824753556"}],
    }


def test_a_20000_record_capsule_delivery_is_one_file_answered_well_inside_five_seconds(
    receiver: WebhookReceiver, spool: Spool, http: httpx.Client
) -> None:
    # A bulk import of 20,000 parties: about 18 MB. Xero's limit is 5 s; Capsule documents none.
    body = json.dumps(
        {"event": "party/created", "payload": [capsule_party(n) for n in range(20_000)]}
    ).encode()
    started = time.monotonic()
    response = http.post(receiver.capsule_url(), content=body)
    elapsed = time.monotonic() - started
    assert response.status_code == 200
    assert elapsed < 4.0, f"answered in {elapsed:.1f} s"  # about 0.6 s on a busy 2-core machine
    assert http.post(receiver.capsule_url(), content=body).status_code == 200  # Capsule's retry
    [path] = spool.pending()
    events = Spool.read(path).events
    assert len(events) == 20_000 and events[-1] == {"event": "party/created", "record": capsule_party(19_999)}


def test_a_full_spool_answers_503_and_reports_it_until_the_sensor_drains_it(
    tmp_path: Path, http: httpx.Client
) -> None:
    reported: list[SpoolFull] = []
    spool = Spool(tmp_path / "spool", SpoolLimits(max_pending_bytes=1))
    with WebhookReceiver(spool, xero_key=SecretStr(XERO_KEY), on_spool_full=reported.append) as receiver:
        held = xero_body(str(uuid.uuid4()))
        assert post_xero(http, receiver, held).status_code == 200  # below the limit until now
        refused = xero_body(str(uuid.uuid4()))
        assert post_xero(http, receiver, refused).status_code == 503  # Xero retries it later
        assert post_xero(http, receiver, held).status_code == 200  # a replay of what is held
        assert len(spool.pending()) == 1
        [full] = reported
        assert "WEBHOOK_SPOOL_MAX_MB" in str(full) and "webhook_events_sensor" in str(full)
        spool.mark_done(spool.pending())  # the sensor takes it
        assert post_xero(http, receiver, refused).status_code == 200


def test_serve_sends_an_alert_through_the_rules_files_channels_when_the_spool_is_full(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, http: httpx.Client
) -> None:
    ops = HttpReceiver()
    try:
        rules = tmp_path / "capsule-xero.yaml"
        rules.write_text(f'alerts:\n  channels:\n    - webhook: {{url: "{ops.url}/ops"}}\n')
        monkeypatch.setenv("CAPSULE_XERO_HOME", str(tmp_path / "home"))
        monkeypatch.setenv("CAPSULE_XERO_CONFIG", str(rules))
        settings = Settings.from_env()
        spool = Spool.at_home(settings.home, SpoolLimits(max_pending_bytes=1))
        alert = cli_webhooks._SpoolFullAlert(settings)
        with WebhookReceiver(spool, xero_key=SecretStr(XERO_KEY), on_spool_full=alert) as receiver:
            assert post_xero(http, receiver, xero_body(str(uuid.uuid4()))).status_code == 200
            for _ in range(3):
                assert post_xero(http, receiver, xero_body(str(uuid.uuid4()))).status_code == 503
            [(_, sent)] = wait_for(lambda: ops.posts)
        assert sent["kind"] == "webhook_backlog" and "refused" in sent["title"]
        assert "webhook_events_sensor" in sent["fix"]
        time.sleep(0.2)
        assert len(ops.posts) == 1  # once, not once per refused delivery
    finally:
        ops.server.shutdown()
        ops.server.server_close()
