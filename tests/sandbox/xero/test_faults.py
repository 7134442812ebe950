"""Injected faults against the Accounting API: 429, 500, 503, hang, drop (sandbox/faults.py)."""

from __future__ import annotations

import httpx
import pytest

from sandbox.app import Sandbox
from sandbox.control import SandboxControl
from tests.sandbox.xero.conftest import XeroApi, wait_for

CONTACTS = "/api.xro/2.0/Contacts"


def names(sandbox: Sandbox) -> list[str]:
    return [c.get("Name") for c in list(sandbox.xero.primary.contacts.values())]


def test_an_injected_429_is_xeros_rate_limit_answer(
    api: XeroApi, control: SandboxControl, sandbox: Sandbox
) -> None:
    control.add_fault("xero", "GET", CONTACTS, times=1, **{"429": 1.0})
    response = api.get("/Contacts")
    assert response.status_code == 429
    assert response.headers["X-Rate-Limit-Problem"] == "minute"
    assert int(response.headers["Retry-After"]) >= 1
    assert {"x-daylimit-remaining", "x-minlimit-remaining", "x-appminlimit-remaining"} <= set(
        response.headers
    )
    assert response.json()["Status"] == 429
    record = sandbox.calls.records("xero")[-1]
    assert record.fault == "429" and record.rate_limit_problem == "minute"
    assert api.get("/Contacts").status_code == 200


def test_an_injected_500_is_xeros_generic_error(api: XeroApi, control: SandboxControl) -> None:
    control.add_fault("xero", "PUT", CONTACTS, times=1, **{"500": 1.0})
    response = api.put("/Contacts", json={"Name": "Acme"})
    assert response.status_code == 500
    body = response.json()
    assert body["Title"] == "An error occurred" and "status.developer.xero.com" in body["Detail"]
    assert api.get("/Contacts").json()["Contacts"] == []  # nothing was written


def test_an_injected_503_is_the_plain_text_maintenance_answer(api: XeroApi, control: SandboxControl) -> None:
    control.add_fault("xero", "*", "/api.xro/2.0/*", times=1, **{"503": 1.0})
    response = api.get("/Contacts")
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("text/plain")
    assert response.text == "The Xero API is currently offline for maintenance"


def test_a_hung_write_lands_after_the_client_gave_up(
    api: XeroApi, control: SandboxControl, sandbox: Sandbox
) -> None:
    control.add_fault("xero", "PUT", CONTACTS, times=1, hang_seconds=0.6, hang=1.0)
    with pytest.raises(httpx.ReadTimeout):
        api.put("/Contacts", json={"Name": "Slow Pty Ltd"}, timeout=0.2)
    wait_for(lambda: names(sandbox) == ["Slow Pty Ltd"])


def test_a_dropped_answer_after_commit_leaves_the_contact_saved(
    api: XeroApi, control: SandboxControl, sandbox: Sandbox
) -> None:
    control.add_fault("xero", "PUT", CONTACTS, times=1, drop=1.0)
    with pytest.raises(httpx.HTTPError):
        api.put("/Contacts", json={"Name": "Dropped Pty Ltd"}, headers={"Idempotency-Key": "retry-me"})
    assert names(sandbox) == ["Dropped Pty Ltd"]
    # A retry with the same key gets the answer the client never saw, not a duplicate or a 400.
    retry = api.put("/Contacts", json={"Name": "Dropped Pty Ltd"}, headers={"Idempotency-Key": "retry-me"})
    assert retry.status_code == 200
    assert retry.json()["Contacts"][0]["ContactID"] == next(iter(sandbox.xero.primary.contacts))
    assert names(sandbox) == ["Dropped Pty Ltd"]
