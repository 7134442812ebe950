"""Signed webhooks: Intent to Receive, batched contact events, retries, disabling, replay.

Facts: docs/api-facts.md#xero-webhooks.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from typing import Any

import pytest

from sandbox.control import SandboxControl
from sandbox.server import SandboxServer
from sandbox.xero.control import XeroControl
from sandbox.xero.oauth_control import XeroIdentityControl
from tests.sandbox.xero.conftest import ms
from tests.sandbox.xero_identity.conftest import WebhookReceiver, wait_for
from tests.support.xero_schemas import validate


def validate_webhook_payload(payload: dict[str, Any]) -> None:
    validate(payload, "WebhookEvent", spec="xero-webhooks.yaml")


def emit(server: SandboxServer, *events: tuple[str, str, str]) -> None:
    """Announce contact changes the way the Accounting routes do, on the server's loop."""

    def run() -> None:
        for tenant_id, contact_id, kind in events:
            server.sandbox.xero.emit_contact_event(tenant_id, contact_id, kind)

    server.call(run)


def contact_events(server: SandboxServer, count: int, kind: str = "CREATE") -> list[tuple[str, str, str]]:
    tenants = list(server.sandbox.xero.tenants)
    return [(tenants[i % 2], str(uuid.uuid4()), kind) for i in range(count)]


def configure(idc: XeroIdentityControl, receiver: WebhookReceiver, **options: Any) -> dict[str, Any]:
    return idc.configure_webhook(receiver.url, key=receiver.key, batch_delay_seconds=0.3, **options)


# ---- intent to receive ---------------------------------------------------------------------------
def test_a_receiver_that_checks_signatures_passes_intent_to_receive(
    idc: XeroIdentityControl, receiver: WebhookReceiver
) -> None:
    state = configure(idc, receiver)

    assert state["status"] == "ok" and state["key"] == receiver.key
    probes = receiver.intent_to_receive()
    assert len(probes) >= 2
    assert {p.valid for p in probes} == {True, False}  # some signed with the key, some deliberately not
    assert all(p.status == (200 if p.valid else 401) for p in probes)
    for probe in probes:
        payload = probe.payload
        assert payload["events"] == [] and payload["firstEventSequence"] == payload["lastEventSequence"] == 0
        assert payload["entropy"]
    assert all(d["passed"] for d in state["intent_to_receive"])


def test_a_receiver_that_accepts_everything_fails_intent_to_receive(
    idc: XeroIdentityControl, receiver: WebhookReceiver, server: SandboxServer
) -> None:
    receiver.mode = "always_200"
    state = configure(idc, receiver)

    assert state["status"] == "intent_to_receive_required"
    assert any(not d["passed"] and not d["correctly_signed"] for d in state["intent_to_receive"])
    # No event reaches a subscription that has not proved it checks signatures.
    emit(server, *contact_events(server, 2))
    assert idc.webhook()["pending_events"] == 2 and receiver.events() == []


def test_an_unreachable_receiver_fails_intent_to_receive(idc: XeroIdentityControl) -> None:
    state = idc.configure_webhook("http://127.0.0.1:9/nothing-listens-here", key="k" * 40)
    assert state["status"] == "intent_to_receive_required"
    assert all(d["status_codes"] == [None] for d in state["intent_to_receive"])


def test_a_key_is_generated_when_none_is_given_and_enabling_reruns_intent_to_receive(
    idc: XeroIdentityControl, receiver: WebhookReceiver
) -> None:
    receiver.key = None
    state = idc.configure_webhook(receiver.url)
    assert len(state["key"]) >= 64 and state["status"] == "intent_to_receive_required"

    receiver.key = state["key"]  # the developer pastes the key into their receiver
    assert idc.enable_webhook()["status"] == "ok"
    assert "key" not in idc.webhook()


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/hook",
        "http://10.0.0.5/hook",
        "http://localhost.example.com/hook",
        "ftp://127.0.0.1/",
    ],
)
def test_a_non_loopback_webhook_url_is_refused_with_a_clear_error(idc: XeroIdentityControl, url: str) -> None:
    with pytest.raises(RuntimeError, match="loopback"):
        idc.configure_webhook(url)
    assert idc.webhook()["configured"] is False


# ---- delivery ------------------------------------------------------------------------------------
def test_contact_events_arrive_batched_signed_and_in_xeros_payload_shape(
    idc: XeroIdentityControl, receiver: WebhookReceiver, server: SandboxServer
) -> None:
    configure(idc, receiver)
    events = contact_events(server, 5) + contact_events(server, 2, "UPDATE")
    emit(server, *events)

    delivered = wait_for(receiver.events)

    assert len(delivered) == 1  # seven events, one POST
    post = delivered[0]
    assert post.valid and post.status == 200
    # Anyone can check the signature from the raw body and the key alone.
    expected = base64.b64encode(hmac.new(receiver.key.encode(), post.body, hashlib.sha256).digest()).decode()
    assert post.signature == expected
    payload = post.payload
    validate_webhook_payload(payload)
    assert (payload["firstEventSequence"], payload["lastEventSequence"]) == (1, 7)
    assert [(e["tenantId"], e["resourceId"], e["eventType"]) for e in payload["events"]] == events
    first = payload["events"][0]
    assert first["eventCategory"] == "CONTACT" and first["tenantType"] == "ORGANISATION"
    assert first["resourceUrl"] == f"{server.xero_url}/api.xro/2.0/Contacts/{first['resourceId']}"
    assert len(first["eventDateUtc"]) == 23 and not first["eventDateUtc"].endswith("Z")
    state = wait_for(lambda: (s := idc.webhook())["pending_events"] == 0 and s)
    assert state["deliveries"][-1]["delivered"] is True
    assert state["deliveries"][-1]["status_codes"] == [200]


def test_edits_archives_restores_and_merges_made_in_xero_arrive_as_signed_contact_updates(
    idc: XeroIdentityControl, receiver: WebhookReceiver, server: SandboxServer
) -> None:
    tenant_id = server.sandbox.xero.primary_tenant_id
    with XeroControl(server.xero_url) as xero:
        keep = xero.create_contact(Name="Keep Pty Ltd", Phones=[{"PhoneType": "DEFAULT", "PhoneNumber": "1"}])
        gone = xero.create_contact(Name="Gone Pty Ltd")
        configure(idc, receiver)  # creates made before the webhook existed are not delivered
        server.sandbox.clock.advance(30)
        edited = xero.edit_contact(
            keep["ContactID"],
            Name="Keep Holdings Pty Ltd",
            EmailAddress="accounts@keep.example",
            TaxNumber="51 824 753 556",
            Phones=[{"PhoneType": "MOBILE", "PhoneNumber": "0412 345 678"}],
            Addresses=[{"AddressType": "STREET", "AddressLine1": "1 George St", "City": "Sydney"}],
        )
        assert ms(edited["UpdatedDateUTC"]) - ms(keep["UpdatedDateUTC"]) >= 30_000
        assert (edited["Name"], edited["EmailAddress"], edited["TaxNumber"]) == (
            "Keep Holdings Pty Ltd",
            "accounts@keep.example",
            "51 824 753 556",
        )
        phones = {p["PhoneType"]: p.get("PhoneNumber", "") for p in edited["Phones"]}
        assert phones["MOBILE"] == "0412 345 678" and phones["DEFAULT"] == "1"  # keyed by type
        street = next(a for a in edited["Addresses"] if a["AddressType"] == "STREET")
        assert (street["AddressLine1"], street["City"]) == ("1 George St", "Sydney")
        xero.archive(keep["ContactID"])
        xero.restore(keep["ContactID"])
        merged = xero.merge(gone["ContactID"], into=keep["ContactID"])
    assert merged["MergedToContactID"] == keep["ContactID"] and merged["ContactStatus"] == "ARCHIVED"

    # Archive, restore and merge are UPDATE events too (docs/api-facts.md#xero-webhooks).
    posts = wait_for(lambda: (e := receiver.events()) and sum(len(p.payload["events"]) for p in e) == 4 and e)
    assert all(p.valid and p.status == 200 for p in posts)
    for post in posts:
        validate_webhook_payload(post.payload)
    got = [
        (e["tenantId"], e["eventCategory"], e["eventType"], e["resourceId"])
        for p in posts
        for e in p.payload["events"]
    ]
    ids = [keep["ContactID"]] * 3 + [gone["ContactID"]]
    assert got == [(tenant_id, "CONTACT", "UPDATE", cid) for cid in ids]


def test_large_bursts_are_split_into_batches_with_consecutive_sequences(
    idc: XeroIdentityControl, receiver: WebhookReceiver, server: SandboxServer
) -> None:
    configure(idc, receiver, max_events_per_batch=4)
    emit(server, *contact_events(server, 10))

    posts = wait_for(
        lambda: (e := receiver.events()) and sum(len(p.payload["events"]) for p in e) == 10 and e
    )

    ranges = [(p.payload["firstEventSequence"], p.payload["lastEventSequence"]) for p in posts]
    assert ranges == [(1, 4), (5, 8), (9, 10)]


def test_no_events_are_kept_for_an_app_without_a_webhook(
    idc: XeroIdentityControl, server: SandboxServer
) -> None:
    emit(server, *contact_events(server, 3))
    assert idc.webhook()["configured"] is False
    assert server.sandbox.xero.webhooks.sequence == 0


def test_a_failing_receiver_gets_the_same_batch_again_after_a_backoff(
    idc: XeroIdentityControl, receiver: WebhookReceiver, server: SandboxServer, control: SandboxControl
) -> None:
    configure(idc, receiver)
    receiver.fail_events = 2
    control.set_clock(speed=1200)  # a 60 s backoff lasts 50 ms
    events = contact_events(server, 3)
    emit(server, *events)

    posts = wait_for(lambda: (e := receiver.events()) and len(e) >= 3 and e)

    assert [p.status for p in posts] == [500, 500, 200]
    assert all(p.valid for p in posts)
    assert len({(p.payload["firstEventSequence"], p.payload["lastEventSequence"]) for p in posts}) == 1
    state = wait_for(lambda: (s := idc.webhook())["pending_events"] == 0 and s)
    batch = state["deliveries"][-1]
    assert batch["status_codes"] == [500, 500, 200] and batch["delivered"]
    at = [a["at"] for a in batch["attempts"]]
    assert at == sorted(at)
    assert state["status"] == "ok"


def test_a_receiver_failing_for_24_sandbox_hours_gets_the_subscription_disabled_and_events_replay_in_order(
    idc: XeroIdentityControl, receiver: WebhookReceiver, server: SandboxServer, control: SandboxControl
) -> None:
    configure(idc, receiver)
    receiver.mode = "fail"
    early = contact_events(server, 2)
    emit(server, *early)
    wait_for(lambda: receiver.events())
    assert idc.webhook()["status"] == "ok"

    control.set_clock(advance_seconds=23 * 3600)
    wait_for(lambda: len(receiver.events()) >= 2)
    assert idc.webhook()["status"] == "ok"  # still inside the 24-hour window
    control.set_clock(advance_seconds=3600)
    state = wait_for(lambda: (s := idc.webhook())["status"] == "disabled" and s)

    assert state["disabled_at"] and state["pending_sequences"] == [1, 2]
    later = contact_events(server, 1, "UPDATE")
    emit(server, *later)  # events keep queueing while disabled
    failures = len(receiver.events())

    receiver.mode = "verify"
    assert idc.enable_webhook()["status"] == "ok"
    wait_for(lambda: idc.webhook()["pending_events"] == 0)
    replayed = receiver.events()[failures:]
    got = [(e["tenantId"], e["resourceId"], e["eventType"]) for p in replayed for e in p.payload["events"]]
    sequences = [(p.payload["firstEventSequence"], p.payload["lastEventSequence"]) for p in replayed]
    assert got == early + later
    assert sequences[0][0] == 1 and sequences[-1][1] == 3


def test_a_receiver_slower_than_the_timeout_counts_as_a_failed_delivery(
    idc: XeroIdentityControl, receiver: WebhookReceiver, server: SandboxServer, control: SandboxControl
) -> None:
    configure(idc, receiver, timeout_seconds=0.3)
    receiver.event_delay = 1.0
    emit(server, *contact_events(server, 1))
    wait_for(lambda: any(a["error"] == "timeout" for d in idc.webhook()["deliveries"] for a in d["attempts"]))

    receiver.event_delay = 0.0
    control.set_clock(speed=1200)
    state = wait_for(lambda: (s := idc.webhook())["pending_events"] == 0 and s)
    assert state["deliveries"][-1]["status_codes"][0] is None
    assert state["deliveries"][-1]["status_codes"][-1] == 200


def test_changing_the_url_reruns_intent_to_receive_and_holds_events_until_it_passes(
    idc: XeroIdentityControl, receiver: WebhookReceiver, server: SandboxServer
) -> None:
    configure(idc, receiver)
    assert idc.configure_webhook("http://127.0.0.1:9/gone", key=receiver.key)["status"] != "ok"
    emit(server, *contact_events(server, 1))
    assert idc.webhook()["pending_events"] == 1 and receiver.events() == []

    assert configure(idc, receiver)["status"] == "ok"
    wait_for(lambda: idc.webhook()["pending_events"] == 0)
    assert len(receiver.events()) == 1


def test_removing_the_webhook_stops_deliveries_and_drops_queued_events(
    idc: XeroIdentityControl, receiver: WebhookReceiver, server: SandboxServer
) -> None:
    receiver.mode = "always_200"
    configure(idc, receiver)
    emit(server, *contact_events(server, 2))
    idc.remove_webhook()
    emit(server, *contact_events(server, 2))
    assert idc.webhook()["configured"] is False
    assert receiver.events() == []
