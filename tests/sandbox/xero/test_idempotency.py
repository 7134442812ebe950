"""Idempotency-Key: replay within 6 sandbox minutes, conflicts, errors cached.

Facts: docs/api-facts.md#xero-idempotency-keys.
"""

from __future__ import annotations

from collections.abc import Callable

from sandbox.app import Sandbox
from sandbox.server import SandboxServer
from sandbox.xero.control import XeroControl
from tests.sandbox.xero.conftest import XeroApi


def contacts(api: XeroApi) -> list[dict]:
    return api.get("/Contacts", params={"includeArchived": "true"}).json()["Contacts"]


def notes(api: XeroApi, cid: str) -> list[str]:
    return [
        h["Details"]
        for h in api.get(f"/Contacts/{cid}/History").json()["HistoryRecords"]
        if h["Changes"] == "Note"
    ]


def test_the_same_key_and_request_replays_the_stored_answer(api: XeroApi, sandbox: Sandbox) -> None:
    body = {"Contacts": [{"Name": "Acme"}]}
    first = api.put("/Contacts", json=body, headers={"Idempotency-Key": "k-1"})
    second = api.put("/Contacts", json=body, headers={"Idempotency-Key": "k-1"})
    assert first.status_code == second.status_code == 200
    assert first.content == second.content  # byte for byte, Id and DateTimeUTC included
    assert len(contacts(api)) == 1
    assert [r.idempotency_key for r in sandbox.calls.records("xero")] == ["k-1", "k-1", None]


def test_the_same_key_with_another_request_is_a_400(api: XeroApi) -> None:
    api.put("/Contacts", json={"Name": "Acme"}, headers={"Idempotency-Key": "k-2"})
    for response in (
        api.put("/Contacts", json={"Name": "Other"}, headers={"Idempotency-Key": "k-2"}),
        api.post("/Contacts", json={"Name": "Acme"}, headers={"Idempotency-Key": "k-2"}),
        api.put("/Contacts?summarizeErrors=false", json={"Name": "Acme"}, headers={"Idempotency-Key": "k-2"}),
    ):
        assert response.status_code == 400
        assert "is used with a different request" in response.json()["Detail"]
    assert [c["Name"] for c in contacts(api)] == ["Acme"]


def test_a_key_longer_than_128_characters_is_a_400(api: XeroApi) -> None:
    assert api.put("/Contacts", json={"Name": "A"}, headers={"Idempotency-Key": "k" * 129}).status_code == 400
    assert contacts(api) == []
    assert api.put("/Contacts", json={"Name": "A"}, headers={"Idempotency-Key": "k" * 128}).status_code == 200


def test_a_key_is_forgotten_after_6_sandbox_minutes(api: XeroApi, sandbox: Sandbox) -> None:
    cid = api.create(Name="Acme")["ContactID"]
    note = {"HistoryRecords": [{"Details": "Opportunity won"}]}
    api.put(f"/Contacts/{cid}/History", json=note, headers={"Idempotency-Key": "note-1"})
    sandbox.clock.advance(5 * 60 + 59)
    api.put(f"/Contacts/{cid}/History", json=note, headers={"Idempotency-Key": "note-1"})
    assert notes(api, cid) == ["Opportunity won"]
    sandbox.clock.advance(2)  # six minutes after first use: the key is new again
    api.put(f"/Contacts/{cid}/History", json=note, headers={"Idempotency-Key": "note-1"})
    assert notes(api, cid) == ["Opportunity won", "Opportunity won"]


def test_errors_are_replayed_too(api: XeroApi) -> None:
    taken = api.create(Name="Acme")
    first = api.put("/Contacts", json={"Name": "Acme"}, headers={"Idempotency-Key": "k-err"})
    assert first.status_code == 400
    api.post("/Contacts", json={"ContactID": taken["ContactID"], "ContactStatus": "ARCHIVED"})
    again = api.put("/Contacts", json={"Name": "Acme"}, headers={"Idempotency-Key": "k-err"})
    assert again.status_code == 400 and again.content == first.content
    fresh = api.put("/Contacts", json={"Name": "Acme"}, headers={"Idempotency-Key": "k-new"})
    assert fresh.status_code == 200


def test_replays_still_consume_rate_limit_quota(api: XeroApi) -> None:
    first = api.put("/Contacts", json={"Name": "Acme"}, headers={"Idempotency-Key": "k-q"})
    replay = api.put("/Contacts", json={"Name": "Acme"}, headers={"Idempotency-Key": "k-q"})
    assert int(first.headers["X-MinLimit-Remaining"]) - int(replay.headers["X-MinLimit-Remaining"]) == 1


def test_keys_are_ignored_on_get_and_delete(api: XeroApi) -> None:
    api.create(Name="Acme")
    assert api.get("/Contacts", headers={"Idempotency-Key": "k-g"}).status_code == 200
    assert api.get("/Users", headers={"Idempotency-Key": "k-g"}).status_code == 200


def test_keys_are_scoped_to_the_app(
    server: SandboxServer, issue: Callable[..., str], api: XeroApi, tenant_id: str
) -> None:
    cid = api.create(Name="Acme")["ContactID"]
    other_app = XeroApi(server, issue(client_id="another-app"), tenant_id)
    try:
        for client in (api, other_app):
            client.put(
                f"/Contacts/{cid}/History", json={"Details": "Hello"}, headers={"Idempotency-Key": "shared"}
            )
    finally:
        other_app.close()
    assert notes(api, cid) == ["Hello", "Hello"]


def test_the_control_api_clears_remembered_keys(api: XeroApi, xero_control: XeroControl) -> None:
    cid = api.create(Name="Acme")["ContactID"]
    api.put(f"/Contacts/{cid}/History", json={"Details": "Hello"}, headers={"Idempotency-Key": "k"})
    xero_control.clear_idempotency()
    api.put(f"/Contacts/{cid}/History", json={"Details": "Hello"}, headers={"Idempotency-Key": "k"})
    assert notes(api, cid) == ["Hello", "Hello"]
