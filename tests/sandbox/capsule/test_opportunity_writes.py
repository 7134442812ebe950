"""Opportunities written through the API (``PUT /opportunities/{id}``: custom fields by definition
id, milestone changes) and won in the stand-in as a person would, with the REST hooks that follow."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from sandbox.app import Sandbox
from sandbox.capsule.control import CapsuleControl
from sandbox.generator import Dataset, generate
from sandbox.server import SandboxServer
from tests.sandbox.capsule.test_resthooks import Receiver, subscribe, wait_until
from tests.sandbox.capsule.world import api_client

XERO_DOCUMENT = 913002


@functools.cache
def world() -> Dataset:
    return generate(40, seed=3)


@pytest.fixture
def crm(server: SandboxServer, load: Callable[[Dataset], None], token: str) -> Iterator[httpx.Client]:
    load(world())
    with api_client(server, token) as client:
        yield client


def open_opportunity(index: int = 0) -> dict[str, Any]:
    return [o for o in world().capsule_opportunities if not o.get("closedOn")][index]


def fields_of(opportunity: dict[str, Any]) -> dict[str, Any]:
    return {f["definition"]["name"]: f["value"] for f in opportunity.get("fields") or []}


def test_the_generated_account_has_a_xero_document_opportunity_field(crm: httpx.Client) -> None:
    definitions = crm.get("/opportunities/fields/definitions").json()["definitions"]
    found = [d for d in definitions if d["name"] == "Xero document"]
    assert found == [
        {"id": XERO_DOCUMENT, "type": "text", "displayOrder": 2, "name": "Xero document", "important": False}
    ]
    assert "Xero document" not in [
        d["name"] for d in crm.get("/parties/fields/definitions").json()["definitions"]
    ]


def test_putting_a_field_by_definition_id_sets_it_then_updates_the_same_value(
    crm: httpx.Client, sandbox: Sandbox, server: SandboxServer
) -> None:
    opportunity = open_opportunity()
    path = f"/opportunities/{opportunity['id']}"
    server.call(lambda: sandbox.clock.advance(60))
    first = {"definition": {"id": XERO_DOCUMENT}, "value": "QU-0042 https://go.xero.com/q/1"}
    response = crm.put(path, params={"embed": "fields"}, json={"opportunity": {"fields": [first]}})
    assert response.status_code == 200, response.text
    written = response.json()["opportunity"]
    assert fields_of(written)["Xero document"] == "QU-0042 https://go.xero.com/q/1"
    assert written["updatedAt"] > opportunity["updatedAt"]
    assert (written["name"], written["milestone"], written["value"]) == (
        opportunity["name"],
        opportunity["milestone"],
        opportunity["value"],
    )
    second = {"definition": {"id": XERO_DOCUMENT}, "value": "INV-0043 https://go.xero.com/i/2"}
    again = crm.put(path, params={"embed": "fields"}, json={"opportunity": {"fields": [second]}}).json()
    rows = [f for f in again["opportunity"]["fields"] if f["definition"]["id"] == XERO_DOCUMENT]
    assert [r["value"] for r in rows] == ["INV-0043 https://go.xero.com/i/2"]
    read = crm.get(path, params={"embed": "fields"}).json()["opportunity"]
    assert fields_of(read)["Xero document"] == "INV-0043 https://go.xero.com/i/2"


def test_a_field_of_another_kind_or_an_unknown_milestone_is_a_422_that_changes_nothing(
    crm: httpx.Client,
) -> None:
    opportunity = open_opportunity()
    path = f"/opportunities/{opportunity['id']}"
    # 812301 is the party field ABN: definition ids are per entity kind.
    for body in (
        {"fields": [{"definition": {"id": 812301}, "value": "x"}]},
        {"milestone": {"id": 1}, "fields": [{"definition": {"id": XERO_DOCUMENT}, "value": "x"}]},
    ):
        response = crm.put(path, json={"opportunity": body})
        assert response.status_code == 422, response.text
        assert response.json()["message"] == "Validation Failed"
    after = crm.get(path, params={"embed": "fields"}).json()["opportunity"]
    assert "Xero document" not in fields_of(after)
    assert after["updatedAt"] == opportunity["updatedAt"]
    assert crm.put("/opportunities/999999", json={"opportunity": {"name": "x"}}).status_code == 404


def test_a_read_only_token_cannot_write_an_opportunity(
    server: SandboxServer, ctl: CapsuleControl, crm: httpx.Client
) -> None:
    token = ctl.mint_app_token(client_id="reader", scope="read")["access_token"]
    with api_client(server, token) as reader:
        response = reader.put(
            f"/opportunities/{open_opportunity()['id']}", json={"opportunity": {"name": "x"}}
        )
    assert response.status_code == 403


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver()
    yield running
    running.close()


def closed_hook(server: SandboxServer, ctl: CapsuleControl, receiver: Receiver) -> None:
    ctl.set_hook_batch_window(0.1)
    token = ctl.mint_app_token(client_id="xero-sync")["access_token"]
    with api_client(server, token) as app:
        subscribe(app, "opportunity/closed", receiver.url, embed="fields")


def test_winning_an_opportunity_in_the_stand_in_fires_opportunity_closed(
    crm: httpx.Client, server: SandboxServer, ctl: CapsuleControl, receiver: Receiver
) -> None:
    closed_hook(server, ctl, receiver)
    opportunity = open_opportunity()
    won = ctl.win_opportunity(opportunity["id"], closed_on="2026-12-05")
    assert (won["milestone"]["name"], won["closedOn"], won["probability"]) == ("Won", "2026-12-05", 100)
    assert won["lostReason"] is None
    wait_until(lambda: receiver.bodies)
    body = receiver.bodies[0]
    assert body["event"] == "opportunity/closed"
    assert [p["id"] for p in body["payload"]] == [opportunity["id"]]
    assert body["payload"][0]["milestone"]["name"] == "Won" and body["payload"][0]["closedOn"] == "2026-12-05"
    read = crm.get(f"/opportunities/{opportunity['id']}").json()["opportunity"]
    assert read["closedOn"] == "2026-12-05" and read["lastOpenMilestone"] == opportunity["lastOpenMilestone"]


def test_moving_an_opportunity_to_the_won_milestone_through_the_api_closes_it_today(
    crm: httpx.Client, server: SandboxServer, ctl: CapsuleControl, receiver: Receiver, sandbox: Sandbox
) -> None:
    closed_hook(server, ctl, receiver)
    opportunity = open_opportunity(1)
    response = crm.put(
        f"/opportunities/{opportunity['id']}", json={"opportunity": {"milestone": {"name": "Won"}}}
    )
    assert response.status_code == 200, response.text
    won = response.json()["opportunity"]
    today = server.call(lambda: sandbox.clock.now().date().isoformat())
    assert (won["milestone"]["name"], won["closedOn"], won["probability"]) == ("Won", today, 100)
    wait_until(lambda: receiver.bodies)
    assert receiver.bodies[0]["event"] == "opportunity/closed"
    # Back to an open milestone: open again, no closedOn.
    reopened = crm.put(
        f"/opportunities/{opportunity['id']}", json={"opportunity": {"milestone": {"name": "Negotiation"}}}
    ).json()["opportunity"]
    assert reopened["closedOn"] is None and reopened["probability"] == 80
    assert reopened["lastOpenMilestone"]["name"] == "Negotiation"
