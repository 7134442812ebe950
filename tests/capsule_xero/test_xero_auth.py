"""Xero authorisation against the identity stand-in: login, tenant choice, safe refresh, custom connections."""

from __future__ import annotations

import logging
import multiprocessing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from capsule_xero.settings import Settings
from capsule_xero.xero.auth import ConsentRequired, XeroAuth, XeroAuthError, XeroHttpxAuth, login
from capsule_xero.xero.token_store import TokenStore
from sandbox.control import SandboxControl
from sandbox.server import SandboxServer
from sandbox.xero.oauth_control import XeroIdentityControl


def browser(url: str) -> None:
    """The user's browser: follow the consent redirect to the loopback callback."""
    httpx.get(url, follow_redirects=True, timeout=10)


def settings_for(server: SandboxServer, home: Path, **overrides: str) -> Settings:
    env = server.env() | {"CAPSULE_XERO_HOME": str(home)} | overrides
    return Settings.from_env(env)


def refreshes(control: SandboxControl, since: int = 0) -> list[dict[str, Any]]:
    return [
        c
        for c in control.calls("xero-identity", since)
        if c["path"] == "/connect/token" and c["notes"].get("grant_type") == "refresh_token"
    ]


def expire_locally(store: TokenStore) -> None:
    tokens = store.load()
    tokens.expires_at = datetime.now(UTC) - timedelta(seconds=1)
    store.save(tokens)


@pytest.fixture
def signed_in(server: SandboxServer, tmp_path: Path) -> XeroAuth:
    auth = XeroAuth(settings_for(server, tmp_path))
    login(auth, choose_tenant=lambda connections: connections[0], open_url=browser)
    return auth


def test_login_runs_the_pkce_flow_through_a_loopback_redirect_and_stores_the_tokens(
    server: SandboxServer, tmp_path: Path
) -> None:
    auth = XeroAuth(settings_for(server, tmp_path))
    offered: list[list[str]] = []

    def choose(connections: list[dict[str, Any]]) -> dict[str, Any]:
        offered.append([c["tenantName"] for c in connections])
        return connections[1]

    tokens = login(auth, choose_tenant=choose, open_url=browser)
    assert offered == [["Demo Company (AU)", "Harbourside Holdings (AU)"]]
    assert tokens.tenant_name == "Harbourside Holdings (AU)"
    assert tokens.refresh_token and "offline_access" in tokens.scopes
    assert TokenStore(tmp_path).load() == tokens


def test_login_takes_the_tenant_from_xero_tenant_id_without_asking(
    server: SandboxServer, tmp_path: Path
) -> None:
    tenant = server.sandbox.xero.primary_tenant_id
    auth = XeroAuth(settings_for(server, tmp_path, XERO_TENANT_ID=tenant))
    tokens = login(auth, choose_tenant=lambda c: pytest.fail("must not ask"), open_url=browser)
    assert tokens.tenant_id == tenant


def test_an_expired_access_token_is_refreshed_and_the_rotated_refresh_token_saved_first(
    signed_in: XeroAuth, control: SandboxControl
) -> None:
    before = signed_in.store.load()
    expire_locally(signed_in.store)
    headers = signed_in.headers()
    after = signed_in.store.load()
    assert after.refresh_token != before.refresh_token
    assert headers["Authorization"] == f"Bearer {after.access_token}"
    assert headers["xero-tenant-id"] == before.tenant_id
    assert len(refreshes(control)) == 1


def _refresh_in_another_process(env: dict[str, str], out: str) -> None:
    auth = XeroAuth(Settings.from_env(env))
    try:
        auth.headers()
        Path(out).write_text("ok")
    except Exception as exc:  # the test reads what went wrong
        Path(out).write_text(f"{type(exc).__name__}: {exc}")


def test_two_processes_needing_a_refresh_at_once_cause_one_refresh_and_no_invalid_grant(
    server: SandboxServer, signed_in: XeroAuth, control: SandboxControl, tmp_path: Path
) -> None:
    expire_locally(signed_in.store)
    since = control.last_seq()
    env = server.env() | {"CAPSULE_XERO_HOME": str(signed_in.settings.home)}
    ctx = multiprocessing.get_context("spawn")
    outs = [tmp_path / f"out{i}" for i in range(3)]
    workers = [ctx.Process(target=_refresh_in_another_process, args=(env, str(out))) for out in outs]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert [out.read_text() for out in outs] == ["ok", "ok", "ok"]
    assert len(refreshes(control, since)) == 1


def test_a_refresh_whose_answer_is_lost_is_recovered_inside_the_grace_window(
    signed_in: XeroAuth, control: SandboxControl
) -> None:
    expire_locally(signed_in.store)
    control.add_fault("xero-identity", "POST", "/connect/token", times=1, drop=1.0)
    signed_in.headers()
    tokens = signed_in.store.load()
    assert len(refreshes(control)) == 2  # the lost one, then the same refresh token once more
    assert (
        httpx.get(
            signed_in.settings.xero_connections_url,
            headers={"Authorization": f"Bearer {tokens.access_token}"},
        ).status_code
        == 200
    )


def test_when_consent_is_gone_the_error_says_to_log_in_again_and_shows_no_token(
    server: SandboxServer, signed_in: XeroAuth
) -> None:
    tokens = signed_in.store.load()
    signed_in.revoke(tokens.refresh_token)
    expire_locally(signed_in.store)
    with pytest.raises(ConsentRequired, match="capsule-xero auth login") as caught:
        signed_in.headers()
    assert tokens.refresh_token not in str(caught.value) and tokens.access_token not in str(caught.value)


def test_without_a_login_the_error_says_how_to_sign_in(server: SandboxServer, tmp_path: Path) -> None:
    with pytest.raises(XeroAuthError, match="auth login"):
        XeroAuth(settings_for(server, tmp_path)).headers()


def test_a_custom_connection_uses_client_credentials_without_refresh_token_or_tenant_header(
    server: SandboxServer, tmp_path: Path
) -> None:
    identity = XeroIdentityControl(server.xero_url)
    app = identity.app("custom")
    settings = settings_for(
        server,
        tmp_path,
        XERO_CLIENT_ID=app["client_id"],
        XERO_CLIENT_SECRET=app["client_secret"],
        XERO_CUSTOM_CONNECTION="true",
    )
    auth = XeroAuth(settings)
    headers = auth.headers()
    assert "xero-tenant-id" not in headers
    stored = auth.store.load()
    assert stored.kind == "custom" and stored.refresh_token is None
    expire_locally(auth.store)
    assert auth.headers()["Authorization"] != headers["Authorization"]  # a new client_credentials token


def test_a_token_xero_calls_expired_is_refreshed_once_and_the_request_retried(
    server: SandboxServer, signed_in: XeroAuth, control: SandboxControl
) -> None:
    control.set_clock(advance_seconds=31 * 60)  # Xero's clock says expired; ours still trusts the token
    with httpx.Client(auth=XeroHttpxAuth(signed_in)) as http:
        response = http.get(signed_in.settings.xero_connections_url)
    assert response.status_code == 200
    assert len(refreshes(control)) == 1


def test_callers_told_at_once_that_a_token_expired_refresh_it_only_once(
    server: SandboxServer, signed_in: XeroAuth, control: SandboxControl
) -> None:
    control.set_clock(advance_seconds=31 * 60)
    stale = signed_in.store.load().access_token
    signed_in.headers(force_refresh=True, rejected_access_token=stale)
    signed_in.headers(force_refresh=True, rejected_access_token=stale)  # the second caller, a moment later
    assert len(refreshes(control)) == 1


def test_no_token_or_secret_reaches_a_log_line(
    server: SandboxServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    auth = XeroAuth(settings_for(server, tmp_path))
    login(auth, choose_tenant=lambda c: c[0], open_url=browser)
    expire_locally(auth.store)
    auth.headers()
    tokens = auth.store.load()
    secret = auth.settings.xero_client_secret.get_secret_value()
    for text in (tokens.access_token, tokens.refresh_token, tokens.previous_refresh_token, secret):
        assert text and text not in caplog.text


def test_login_uses_the_callback_address_registered_for_the_chosen_port(
    server: SandboxServer, tmp_path: Path
) -> None:
    import socket
    from urllib.parse import parse_qs, urlparse

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    opened: list[str] = []

    def browse(url: str) -> None:
        opened.append(url)
        browser(url)

    login(XeroAuth(settings_for(server, tmp_path)), choose_tenant=lambda c: c[0], open_url=browse, port=port)
    assert parse_qs(urlparse(opened[0]).query)["redirect_uri"] == [f"http://localhost:{port}/callback"]


def test_a_token_endpoint_that_keeps_failing_gives_a_message_not_a_raw_http_error(
    signed_in: XeroAuth, control: SandboxControl
) -> None:
    import stamina

    expire_locally(signed_in.store)
    control.add_fault("xero-identity", "POST", "/connect/token", **{"503": 1.0})
    stamina.set_testing(True, attempts=5)  # the same five attempts, without the waits
    try:
        with pytest.raises(XeroAuthError, match=r"token endpoint kept failing \(HTTP 503\)"):
            signed_in.headers()
    finally:
        stamina.set_testing(False)
    token_calls = [
        c for c in control.calls("xero-identity") if c["path"] == "/connect/token" and c["fault"] == "503"
    ]
    assert len(token_calls) == 5


# --- a 401 other than TokenExpired, and a token file that cannot be used (issue 11) -------------------


def test_a_401_other_than_token_expired_is_retried_once_with_a_refreshed_token(
    server: SandboxServer, signed_in: XeroAuth, control: SandboxControl
) -> None:
    tokens = signed_in.store.load()
    tokens.access_token = "revoked-or-replaced"  # valid by our clock; Xero answers AuthenticationUnsuccessful
    signed_in.store.save(tokens)
    since = control.last_seq()
    with httpx.Client(auth=XeroHttpxAuth(signed_in)) as http:
        response = http.get(f"{signed_in.settings.xero_api_url}/Contacts", params={"page": 1})
    assert response.status_code == 200
    assert [c["status"] for c in control.calls("xero", since)] == [401, 200]
    assert len(refreshes(control, since)) == 1


def test_a_401_for_a_missing_scope_is_not_refreshed_since_only_consent_adds_a_scope(
    server: SandboxServer, signed_in: XeroAuth, control: SandboxControl
) -> None:
    narrow = server.call(
        lambda: server.sandbox.xero.identity.issue_access_token(
            scopes=frozenset({"accounting.settings.read"})
        )
    )
    tokens = signed_in.store.load()
    tokens.access_token = narrow.token
    signed_in.store.save(tokens)
    since = control.last_seq()
    with httpx.Client(auth=XeroHttpxAuth(signed_in)) as http:
        response = http.get(f"{signed_in.settings.xero_api_url}/Contacts", params={"page": 1})
    assert response.status_code == 401 and "insufficient_scope" in response.headers["WWW-Authenticate"]
    assert refreshes(control, since) == []


@pytest.mark.parametrize(
    ("content", "what"),
    [
        ("", "is empty"),
        ('{"access_token": "abc", "expires_at": "2030-01-01T00:00:00+00:00", "refr', "is not valid JSON"),
        ('{"access_token": "abc", "refreshed_at": "2030-01-01T00:00:00+00:00"}', "has no expires_at"),
        ("[1, 2, 3]", "does not hold a token set"),
    ],
)
def test_a_broken_token_file_asks_for_a_new_sign_in_instead_of_a_traceback(
    server: SandboxServer, tmp_path: Path, content: str, what: str
) -> None:
    (tmp_path / "xero-token.json").write_text(content)
    auth = XeroAuth(settings_for(server, tmp_path))
    with pytest.raises(XeroAuthError) as caught:
        auth.headers()
    assert what in str(caught.value) and "run `capsule-xero auth login`" in str(caught.value)
    assert "abc" not in str(caught.value)


def test_a_custom_connection_replaces_a_broken_token_file_without_a_sign_in(
    server: SandboxServer, tmp_path: Path
) -> None:
    app = XeroIdentityControl(server.xero_url).app("custom")
    (tmp_path / "xero-token.json").write_text("{not json")
    settings = settings_for(
        server,
        tmp_path,
        XERO_CLIENT_ID=app["client_id"],
        XERO_CLIENT_SECRET=app["client_secret"],
        XERO_CUSTOM_CONNECTION="true",
    )
    assert XeroAuth(settings).headers()["Authorization"].startswith("Bearer ")
    assert TokenStore(tmp_path).load().kind == "custom"
