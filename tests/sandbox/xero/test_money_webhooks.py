"""Invoice and credit-note webhooks from the Xero stand-in: what the API and payments change is
announced as INVOICE / CREDITNOTE CREATE or UPDATE, signed, in Xero's payload shape.

Facts: docs/api-facts.md#xero-webhooks.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from sandbox.app import Sandbox
from sandbox.server import SandboxServer
from sandbox.xero.oauth_control import XeroIdentityControl
from sandbox.xero.state import XeroEvent
from tests.sandbox.xero.conftest import XeroApi
from tests.sandbox.xero.test_money_writes import (
    WRITER_SCOPES,
    approved_invoice,
    book,
    draft_invoice,
    draft_quote,
    payment,
    put,
)
from tests.sandbox.xero_identity import conftest as identity
from tests.sandbox.xero_identity.conftest import WebhookReceiver, wait_for
from tests.support.xero_schemas import validate

# The identity tests' control client and loopback receiver, as fixtures of this module too.
idc = identity.idc
receiver = identity.receiver


@pytest.fixture
def xero(server: SandboxServer, sandbox: Sandbox, issue) -> Iterator[XeroApi]:
    server.call(lambda: sandbox.load(book()))
    client = XeroApi(server, issue(scopes=WRITER_SCOPES), sandbox.xero.primary_tenant_id)
    yield client
    client.close()


@pytest.fixture
def money_events(sandbox: Sandbox) -> list[XeroEvent]:
    """Invoice and credit-note events the stand-in announces (what webhooks would deliver)."""
    seen: list[XeroEvent] = []
    sandbox.xero.listeners.append(lambda event: event.category != "CONTACT" and seen.append(event))
    return seen


def test_an_invoice_created_approved_paid_and_unpaid_through_the_api_is_announced_each_time(
    xero: XeroApi, money_events: list[XeroEvent]
) -> None:
    draft = put(xero, "/Invoices", draft_invoice(Reference="CAP-OPP-90"), headers={"Idempotency-Key": "k-90"})
    assert draft.status_code == 200, draft.text
    draft_id = draft.json()["Invoices"][0]["InvoiceID"]
    replay = put(
        xero, "/Invoices", draft_invoice(Reference="CAP-OPP-90"), headers={"Idempotency-Key": "k-90"}
    )
    assert replay.json()["Invoices"][0]["InvoiceID"] == draft_id  # a replay changes nothing: no event
    approved = xero.post(f"/Invoices/{draft_id}", json={"Invoices": [{"Status": "AUTHORISED"}]})
    assert approved.status_code == 200, approved.text
    paid = xero.put(
        "/Payments",
        content=json.dumps({"Payments": [payment(approved.json()["Invoices"][0], "1358.01")]}, default=str),
    )
    assert paid.status_code == 200, paid.text
    payment_id = paid.json()["Payments"][0]["PaymentID"]
    assert xero.post(f"/Payments/{payment_id}", json={"Status": "DELETED"}).status_code == 200
    # Neither a quote nor a refused invoice is announced: Xero has no quote webhook.
    assert put(xero, "/Quotes", draft_quote(Reference="CAP-OPP-91")).status_code == 200
    assert put(xero, "/Invoices", draft_invoice(Contact={})).status_code == 400

    assert [(e.category, e.resource_id, e.event_type) for e in money_events] == [
        ("INVOICE", draft_id, "CREATE"),
        ("INVOICE", draft_id, "UPDATE"),  # approved
        ("INVOICE", draft_id, "UPDATE"),  # paid
        ("INVOICE", draft_id, "UPDATE"),  # its payment deleted: owing again
    ]


def test_invoice_and_credit_note_events_arrive_signed_in_xeros_payload_shape(
    xero: XeroApi,
    idc: XeroIdentityControl,
    receiver: WebhookReceiver,
    server: SandboxServer,
    sandbox: Sandbox,
) -> None:
    idc.configure_webhook(receiver.url, key=receiver.key, batch_delay_seconds=0.3)
    invoice = approved_invoice(xero)
    credit_note = book().xero_credit_notes[0]
    # The stand-in has no credit-note writes yet; announce one as its writes will.
    server.call(
        lambda: sandbox.xero.emit_event(
            sandbox.xero.primary_tenant_id,
            "CREDITNOTE",
            credit_note["CreditNoteID"],
            "UPDATE",
            {"Type": credit_note["Type"], "Status": credit_note["Status"]},
        )
    )

    delivered = wait_for(
        lambda: sum(len(r.payload["events"]) for r in receiver.events()) >= 2 and receiver.events()
    )
    events = [e for post in delivered for e in post.payload["events"]]
    assert all(post.valid and post.status == 200 for post in delivered)
    for post in delivered:
        validate(post.payload, "WebhookEvent", spec="xero-webhooks.yaml")
    base = f"{server.xero_url}/api.xro/2.0"
    assert [(e["eventCategory"], e["eventType"], e["resourceUrl"]) for e in events] == [
        ("INVOICE", "CREATE", f"{base}/Invoices/{invoice['InvoiceID']}"),
        ("CREDITNOTE", "UPDATE", f"{base}/CreditNotes/{credit_note['CreditNoteID']}"),
    ]
    assert "data" not in events[0]
    assert events[1]["data"] == {"Type": credit_note["Type"], "Status": credit_note["Status"]}
    note_post = next(
        post for post in delivered if any(e["eventCategory"] == "CREDITNOTE" for e in post.payload["events"])
    )
    validate(
        {**note_post.payload, "events": [events[1]]}, "CreditNoteWebhookEvent", spec="xero-webhooks.yaml"
    )
