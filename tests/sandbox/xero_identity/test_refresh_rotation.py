"""Refresh-token rotation: a new pair every time, a 30-minute grace, 60 days of idleness.

Facts: docs/api-facts.md#xero-oauth-2-sign-in-and-tokens.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from sandbox.control import SandboxControl
from sandbox.server import SandboxServer
from sandbox.xero.oauth_control import XeroIdentityControl
from tests.sandbox.xero_identity.conftest import OAuthClient, check_access

GRACE = 30 * 60
DAY = 86400


def test_every_refresh_returns_a_new_access_and_refresh_token_pair(login, demo: OAuthClient) -> None:
    tokens = login().tokens
    seen_refresh, seen_access = {tokens["refresh_token"]}, {tokens["access_token"]}
    for _ in range(3):
        response = demo.refresh(tokens["refresh_token"])
        assert response.status_code == 200, response.text
        tokens = response.json()
        assert set(tokens) == {
            "id_token",
            "access_token",
            "expires_in",
            "token_type",
            "refresh_token",
            "scope",
        }
        assert tokens["refresh_token"] not in seen_refresh and tokens["access_token"] not in seen_access
        seen_refresh.add(tokens["refresh_token"])
        seen_access.add(tokens["access_token"])
        assert demo.connections(tokens["access_token"]).status_code == 200


def test_a_used_refresh_token_works_once_more_within_the_grace_then_is_invalid_grant(
    login, demo: OAuthClient, control: SandboxControl
) -> None:
    old = login().tokens["refresh_token"]
    first = demo.refresh(old).json()
    control.set_clock(advance_seconds=GRACE - 60)

    retry = demo.refresh(old)
    again = demo.refresh(old)

    assert retry.status_code == 200
    retried = retry.json()
    # The retry is a fresh pair, and the successor handed out first is retired (nobody should hold it).
    assert retried["refresh_token"] != first["refresh_token"]
    assert demo.refresh(first["refresh_token"]).json() == {"error": "invalid_grant"}
    assert (again.status_code, again.json()) == (400, {"error": "invalid_grant"})
    assert demo.refresh(retried["refresh_token"]).status_code == 200


def test_a_used_refresh_token_is_invalid_grant_after_the_30_minute_grace(
    login, demo: OAuthClient, control: SandboxControl
) -> None:
    old = login().tokens["refresh_token"]
    newer = demo.refresh(old).json()["refresh_token"]
    control.set_clock(advance_seconds=GRACE + 1)

    assert demo.refresh(old).json() == {"error": "invalid_grant"}
    assert demo.refresh(newer).status_code == 200


def test_with_the_grace_on_the_wall_clock_a_restart_that_runs_long_in_sandbox_time_keeps_its_token(
    login, demo: OAuthClient, control: SandboxControl, idc: XeroIdentityControl
) -> None:
    # A crash trial at 600x: a restarted process's few real seconds are far past 30 sandbox minutes.
    assert idc.identity(refresh_grace_clock="wall")["refresh_grace_clock"] == "wall"
    old = login().tokens["refresh_token"]
    demo.refresh(old)  # rotated; the answer is "lost"
    control.set_clock(advance_seconds=GRACE + 1)

    assert demo.refresh(old).status_code == 200
    # Every other lifetime stays on the sandbox clock: 60 idle days still end a refresh token.
    idle = login().tokens["refresh_token"]
    control.set_clock(advance_seconds=60 * DAY + 1)
    assert demo.refresh(idle).json() == {"error": "invalid_grant"}


def test_a_used_refresh_token_is_dead_once_its_successor_has_been_used(login, demo: OAuthClient) -> None:
    old = login().tokens["refresh_token"]
    newer = demo.refresh(old).json()["refresh_token"]
    assert demo.refresh(newer).status_code == 200
    # The first response evidently arrived, so there is nothing to recover: no grace for ``old``.
    assert demo.refresh(old).json() == {"error": "invalid_grant"}


def test_the_grace_allows_unlimited_retries_when_configured_as_xero_staff_describe_it(
    login, demo: OAuthClient, idc: XeroIdentityControl
) -> None:
    idc.identity(refresh_grace_reuses=None)
    old = login().tokens["refresh_token"]
    results = [demo.refresh(old).status_code for _ in range(4)]
    assert results == [200, 200, 200, 200]


def test_a_refresh_token_unused_for_60_days_is_invalid_grant(
    login, demo: OAuthClient, control: SandboxControl
) -> None:
    kept = login().tokens["refresh_token"]
    almost = login().tokens["refresh_token"]
    control.set_clock(advance_seconds=59 * DAY)
    assert demo.refresh(almost).status_code == 200

    control.set_clock(advance_seconds=DAY + 1)
    assert demo.refresh(kept).json() == {"error": "invalid_grant"}


def test_refreshing_regularly_keeps_a_connection_alive_past_60_days(
    login, demo: OAuthClient, control: SandboxControl
) -> None:
    token = login().tokens["refresh_token"]
    for _ in range(4):
        control.set_clock(advance_seconds=25 * DAY)
        response = demo.refresh(token)
        assert response.status_code == 200
        token = response.json()["refresh_token"]


def test_two_concurrent_refreshes_with_one_token_both_succeed_but_only_the_later_successor_survives(
    login, demo: OAuthClient
) -> None:
    """Both requests are answered (the second one served is the single grace retry) with different
    refresh tokens; the one served first is retired by the retry. A client that lets two workers
    refresh at once and keeps whichever answer it saw last therefore holds a dead token half the time:
    refreshes must be serialised per token set: one refresher at a time
    (docs/api-facts.md#xero-oauth-2-sign-in-and-tokens)."""
    old = login().tokens["refresh_token"]
    barrier = threading.Barrier(2)

    def refresh() -> httpx.Response:
        with httpx.Client(base_url=demo.base_url, trust_env=False) as http:
            barrier.wait()
            return http.post(
                "/connect/token",
                data={"grant_type": "refresh_token", "refresh_token": old},
                auth=(demo.client_id, demo.client_secret),
            )

    with ThreadPoolExecutor(2) as pool:
        responses = list(pool.map(lambda _: refresh(), range(2)))

    assert [r.status_code for r in responses] == [200, 200]
    successors = [r.json()["refresh_token"] for r in responses]
    assert successors[0] != successors[1]
    outcomes = sorted(demo.refresh(s).status_code for s in successors)
    assert outcomes == [200, 400]


def test_a_503_from_the_token_endpoint_changes_nothing_and_the_retry_succeeds(
    login, demo: OAuthClient, control: SandboxControl
) -> None:
    old = login().tokens["refresh_token"]
    control.add_fault("xero-identity", "POST", "/connect/token", times=1, **{"503": 1.0})

    failed = demo.refresh(old)
    retried = demo.refresh(old)

    assert failed.status_code == 503
    assert retried.status_code == 200
    # It was the token's first real use: the grace retry is still unused.
    assert demo.refresh(old).status_code == 200


def test_a_refresh_whose_response_is_lost_is_recovered_with_the_old_token_within_the_grace(
    login, demo: OAuthClient, control: SandboxControl, server: SandboxServer
) -> None:
    tokens = login().tokens
    old = tokens["refresh_token"]
    control.add_fault("xero-identity", "POST", "/connect/token", times=1, drop=1.0)

    with pytest.raises(httpx.HTTPError):
        demo.refresh(old)  # the server committed the rotation; the client never saw the answer
    dropped = [c for c in control.calls("xero-identity") if c["fault"] == "drop"]
    assert dropped and dropped[0]["status"] == 200

    control.set_clock(advance_seconds=10 * 60)
    recovered = demo.refresh(old)

    assert recovered.status_code == 200
    fresh = recovered.json()
    primary = server.sandbox.xero.primary_tenant_id
    assert check_access(server, fresh["access_token"], primary)[0] == 200
    assert demo.refresh(fresh["refresh_token"]).status_code == 200


def test_a_refresh_token_of_another_client_is_invalid_grant(
    login, idc: XeroIdentityControl, server: SandboxServer
) -> None:
    stolen = login().tokens["refresh_token"]
    other = idc.register_app("other", redirect_uris=["http://localhost*"])
    thief = OAuthClient(server.xero_url, other["client_id"], other["client_secret"])
    assert thief.refresh(stolen).json() == {"error": "invalid_grant"}
    thief.close()


def test_a_refresh_asking_for_more_scope_than_granted_is_invalid_scope(login, demo: OAuthClient) -> None:
    old = login().tokens["refresh_token"]
    response = demo.post_token(grant_type="refresh_token", refresh_token=old, scope="accounting.transactions")
    assert response.json() == {"error": "invalid_scope"}
