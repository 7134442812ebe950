"""Rate limits per tenant and app: minute, day, concurrent, app-minute; Retry-After.

Facts: docs/api-facts.md#xero-rate-limits.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import httpx

from sandbox.app import Sandbox
from sandbox.control import SandboxControl
from sandbox.server import SandboxServer
from sandbox.xero.control import XeroControl
from tests.sandbox.xero.conftest import XeroApi, wait_for


def test_the_61st_call_in_a_minute_is_refused_naming_the_minute_limit(api: XeroApi, sandbox: Sandbox) -> None:
    remaining = [int(api.get("/Users").headers["X-MinLimit-Remaining"]) for _ in range(60)]
    assert remaining == list(range(59, -1, -1))
    refused = api.get("/Contacts")
    assert refused.status_code == 429
    assert refused.headers["X-Rate-Limit-Problem"] == "minute"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert (
        refused.headers["X-MinLimit-Remaining"] == "0" and refused.headers["X-DayLimit-Remaining"] == "4940"
    )
    assert sandbox.calls.records("xero")[-1].rate_limit_problem == "minute"
    # Refused calls do not count; the next window opens a minute after the first call.
    sandbox.clock.advance(60)
    again = api.get("/Contacts")
    assert again.status_code == 200 and again.headers["X-MinLimit-Remaining"] == "59"


def test_the_day_limit_is_configurable_per_tenant_for_the_starter_tier(
    api: XeroApi, sandbox: Sandbox, xero_control: XeroControl, issue: Callable[..., str]
) -> None:
    xero_control.set_limits(api.tenant_id, day=1000)
    assert api.get("/Contacts").headers["X-DayLimit-Remaining"] == "999"
    xero_control.set_limits(api.tenant_id, day=3)
    xero_control.reset_limits(api.tenant_id)
    for _ in range(3):
        assert api.get("/Contacts").status_code == 200
    refused = api.get("/Contacts")
    assert refused.status_code == 429 and refused.headers["X-Rate-Limit-Problem"] == "day"
    assert 86_000 <= int(refused.headers["Retry-After"]) <= 86_400
    sandbox.clock.advance(86_400)
    api.http.headers["Authorization"] = f"Bearer {issue()}"  # the old token died after 30 minutes
    assert api.get("/Contacts").status_code == 200


def test_limits_are_counted_per_tenant(
    server: SandboxServer, token: str, api: XeroApi, second_tenant_id: str, xero_control: XeroControl
) -> None:
    xero_control.set_limits(api.tenant_id, minute=2)
    api.get("/Contacts"), api.get("/Contacts")
    assert api.get("/Contacts").status_code == 429
    other = XeroApi(server, token, second_tenant_id)
    try:
        response = other.get("/Contacts")
        assert response.status_code == 200 and response.headers["X-MinLimit-Remaining"] == "59"
    finally:
        other.close()


def test_the_app_minute_limit_spans_every_tenant(
    server: SandboxServer, token: str, api: XeroApi, second_tenant_id: str, xero_control: XeroControl
) -> None:
    xero_control.set_limits(app_minute=3)
    other = XeroApi(server, token, second_tenant_id)
    try:
        assert api.get("/Contacts").headers["X-AppMinLimit-Remaining"] == "2"
        assert other.get("/Contacts").headers["X-AppMinLimit-Remaining"] == "1"
        assert api.get("/Contacts").status_code == 200
        refused = other.get("/Contacts")
        assert refused.status_code == 429 and refused.headers["X-Rate-Limit-Problem"] == "appminute"
        assert "Retry-After" in refused.headers
    finally:
        other.close()


def test_a_sixth_call_in_flight_is_refused_as_concurrent(
    api: XeroApi, sandbox: Sandbox, control: SandboxControl
) -> None:
    control.add_fault("xero", "GET", "/api.xro/2.0/Contacts", times=5, hang_seconds=1.0, hang=1.0)
    results: list[int] = []

    def slow_call() -> None:
        with httpx.Client(base_url=str(api.http.base_url), headers=api.http.headers, timeout=10) as client:
            results.append(client.get("/Contacts").status_code)

    threads = [threading.Thread(target=slow_call) for _ in range(5)]
    for thread in threads:
        thread.start()
    wait_for(lambda: sandbox.calls.in_flight("xero", api.tenant_id) == 5)
    refused = api.get("/Users")
    assert refused.status_code == 429 and refused.headers["X-Rate-Limit-Problem"] == "concurrent"
    # No window to wait out, so no Retry-After (Xero sends it for minute/day only).
    assert "Retry-After" not in refused.headers
    for thread in threads:
        thread.join()
    assert results == [200] * 5
    assert api.get("/Users").status_code == 200


def test_waiting_the_retry_after_is_enough(api: XeroApi, sandbox: Sandbox, xero_control: XeroControl) -> None:
    sandbox.clock.set_speed(30)  # a sandbox minute lasts two real seconds
    xero_control.set_limits(api.tenant_id, minute=3)
    for _ in range(3):
        assert api.get("/Contacts").status_code == 200
    refused = api.get("/Contacts")
    assert refused.status_code == 429
    wait = int(refused.headers["Retry-After"])
    assert 1 <= wait <= 2
    time.sleep(wait)
    assert api.get("/Contacts").status_code == 200


def test_limits_can_be_read_and_reset_through_the_control_api(
    api: XeroApi, xero_control: XeroControl
) -> None:
    api.get("/Contacts")
    limits = xero_control.limits(api.tenant_id)
    assert limits["limits"] == {"minute": 60, "day": 5000, "concurrent": 5}
    assert limits["apps"]["sandbox-client"]["minute_remaining"] == 59
    xero_control.reset_limits()
    assert api.get("/Contacts").headers["X-MinLimit-Remaining"] == "59"


def test_calls_refused_by_authentication_do_not_count(api: XeroApi, server: SandboxServer) -> None:
    for _ in range(3):
        refused = httpx.get(
            server.xero_url + "/api.xro/2.0/Contacts", headers={"xero-tenant-id": api.tenant_id}
        )
        assert refused.status_code == 401 and "x-minlimit-remaining" not in refused.headers
    assert api.get("/Contacts").headers["X-MinLimit-Remaining"] == "59"
