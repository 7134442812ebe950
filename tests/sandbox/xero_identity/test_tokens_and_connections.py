"""Client credentials, access-token expiry, tenant checks, revocation and /connections."""

from __future__ import annotations

import time

import httpx
import pytest

from sandbox.control import SandboxControl
from sandbox.server import SandboxServer
from sandbox.xero.oauth_control import XeroIdentityControl
from tests.sandbox.xero_identity.conftest import SCOPES, OAuthClient, check_access
from tests.support.xero_schemas import validate
from tests.support.xero_sdk import sdk_configuration

FORBIDDEN = {"Title": "Forbidden", "Status": 403, "Detail": "AuthenticationUnsuccessful", "Type": None}


def tenants(server: SandboxServer) -> tuple[str, str]:
    first, second = list(server.sandbox.xero.tenants)
    return first, second


def without_instance(body: dict) -> dict:
    assert body["Instance"] and body["Extensions"] == {}
    return {k: v for k, v in body.items() if k not in {"Instance", "Extensions"}}


# ---- client credentials (custom connections) ---------------------------------------------------
def test_client_credentials_gives_an_access_token_without_refresh_token_for_the_bound_org(
    custom: OAuthClient, server: SandboxServer
) -> None:
    response = custom.post_token(grant_type="client_credentials")

    assert response.status_code == 200, response.text
    tokens = response.json()
    assert set(tokens) == {"access_token", "expires_in", "token_type", "scope"}
    assert tokens["expires_in"] == 1800
    assert set(tokens["scope"].split()) == {"accounting.contacts", "accounting.settings.read"}
    validate(tokens, "AccessToken", spec="xero-identity.yaml")
    primary, second = tenants(server)
    status, context = check_access(server, tokens["access_token"])  # no xero-tenant-id needed
    assert status == 200 and context.tenant_id == primary and context.kind == "custom"
    assert check_access(server, tokens["access_token"], primary)[0] == 200
    status, body = check_access(server, tokens["access_token"], second)
    assert status == 403 and without_instance(body) == FORBIDDEN


def test_client_credentials_takes_scopes_from_the_request_within_what_the_org_authorised(
    custom: OAuthClient,
) -> None:
    narrow = custom.post_token(grant_type="client_credentials", scope="accounting.contacts")
    wider = custom.post_token(
        grant_type="client_credentials", scope="accounting.contacts accounting.transactions"
    )
    assert narrow.json()["scope"] == "accounting.contacts"
    assert (wider.status_code, wider.json()) == (400, {"error": "invalid_scope"})


def test_client_credentials_is_refused_to_a_non_custom_app_and_needs_the_secret(
    demo: OAuthClient, custom: OAuthClient, server: SandboxServer
) -> None:
    assert demo.post_token(grant_type="client_credentials").json() == {"error": "unauthorized_client"}
    with httpx.Client(base_url=server.xero_url, trust_env=False) as http:
        response = http.post(
            "/connect/token", data={"grant_type": "client_credentials", "client_id": custom.client_id}
        )
    assert (response.status_code, response.json()) == (401, {"error": "invalid_client"})


def test_a_custom_connection_lists_its_one_org_in_connections(
    custom: OAuthClient, server: SandboxServer
) -> None:
    token = custom.post_token(grant_type="client_credentials").json()["access_token"]
    listed = custom.connections(token).json()
    assert [c["tenantId"] for c in listed] == [server.sandbox.xero.primary_tenant_id]


# ---- access tokens and tenants -----------------------------------------------------------------
def test_an_access_token_expires_after_30_sandbox_minutes_with_xeros_token_expired_body(
    login, demo: OAuthClient, server: SandboxServer, control: SandboxControl
) -> None:
    access = login().tokens["access_token"]
    primary, _ = tenants(server)
    control.set_clock(advance_seconds=29 * 60)
    assert check_access(server, access, primary)[0] == 200

    control.set_clock(advance_seconds=61)
    status, body = check_access(server, access, primary)
    listed = demo.connections(access)

    assert status == 401
    assert body["Title"] == "Unauthorized" and body["Detail"].startswith("TokenExpired: token expired at ")
    assert listed.status_code == 401 and listed.json()["Detail"].startswith("TokenExpired")


def test_a_missing_or_foreign_tenant_id_is_403_with_xeros_body(login, server: SandboxServer) -> None:
    access = login().tokens["access_token"]
    for tenant in (None, "00000000-0000-0000-0000-000000000000"):
        status, body = check_access(server, access, tenant)
        assert status == 403 and without_instance(body) == FORBIDDEN


def test_a_token_for_one_org_is_refused_for_the_other(
    login, idc: XeroIdentityControl, server: SandboxServer
) -> None:
    primary, second = tenants(server)
    idc.consent(tenant_ids=[primary])
    access = login().tokens["access_token"]
    assert check_access(server, access, primary)[0] == 200
    assert check_access(server, access, second)[0] == 403


def test_a_token_without_the_needed_scope_is_401_insufficient_scope(login, server: SandboxServer) -> None:
    access = login(scope="offline_access accounting.settings.read").tokens["access_token"]
    status, body = check_access(
        server, access, server.sandbox.xero.primary_tenant_id, scope="accounting.contacts"
    )
    assert status == 401 and body["Detail"] == "AuthorizationUnsuccessful"


def test_an_unknown_bearer_token_is_401(demo: OAuthClient) -> None:
    response = demo.connections("not-a-token")
    assert response.status_code == 401 and response.json()["Detail"] == "AuthenticationUnsuccessful"


def test_a_directly_issued_test_token_is_connected_to_its_tenants(
    server: SandboxServer, demo: OAuthClient
) -> None:
    primary, second = tenants(server)
    identity = server.sandbox.xero.identity
    token = server.call(lambda: identity.issue_access_token(tenant_ids=(primary,)))
    assert check_access(server, token.token, primary)[0] == 200
    assert check_access(server, token.token, second)[0] == 403
    # /connections answers by client and user, so use the token's own client here.
    assert [c["tenantId"] for c in demo.connections(token.token).json()] == [primary]


# ---- revocation ---------------------------------------------------------------------------------
def test_revoking_the_refresh_token_ends_refreshes_and_every_connection_of_the_user(
    login, demo: OAuthClient, server: SandboxServer
) -> None:
    tokens = login().tokens
    primary, _ = tenants(server)
    response = demo.http.post(
        "/connect/revocation",
        data={"token": tokens["refresh_token"]},
        auth=(demo.client_id, demo.client_secret),
    )

    assert response.status_code == 200
    assert demo.refresh(tokens["refresh_token"]).json() == {"error": "invalid_grant"}
    assert demo.connections(tokens["access_token"]).json() == []
    assert check_access(server, tokens["access_token"], primary)[0] == 403


def test_revocation_needs_client_authentication_and_ignores_unknown_tokens(demo: OAuthClient) -> None:
    unauthenticated = demo.http.post("/connect/revocation", data={"token": "x", "client_id": demo.client_id})
    unknown = demo.http.post(
        "/connect/revocation", data={"token": "x"}, auth=(demo.client_id, demo.client_secret)
    )
    assert (unauthenticated.status_code, unauthenticated.json()) == (401, {"error": "invalid_client"})
    assert unknown.status_code == 200


def test_logging_in_again_after_revocation_reconnects_keeping_the_connection_ids(
    login, demo: OAuthClient
) -> None:
    first = login().tokens
    before = demo.connections(first["access_token"]).json()
    demo.http.post(
        "/connect/revocation",
        data={"token": first["refresh_token"]},
        auth=(demo.client_id, demo.client_secret),
    )
    second = login().tokens
    after = demo.connections(second["access_token"]).json()
    assert [c["id"] for c in after] == [c["id"] for c in before]
    assert after[0]["authEventId"] != before[0]["authEventId"]
    assert after[0]["createdDateUtc"] == before[0]["createdDateUtc"]


# ---- /connections --------------------------------------------------------------------------------
def test_connections_lists_each_consented_org_with_the_official_schema(
    login, demo: OAuthClient, server: SandboxServer
) -> None:
    access = login().tokens["access_token"]
    listed = demo.connections(access)

    assert listed.status_code == 200
    connections = listed.json()
    assert [c["tenantName"] for c in connections] == ["Demo Company (AU)", "Harbourside Holdings (AU)"]
    for connection in connections:
        validate(connection, "Connection", spec="xero-identity.yaml")
        assert set(connection) == {
            "id", "authEventId", "tenantId", "tenantType", "tenantName", "createdDateUtc", "updatedDateUtc"
        }  # fmt: skip
        assert connection["tenantType"] == "ORGANISATION"
        # ISO-8601 with 7 fraction digits and no zone, as in the spec's example.
        assert len(connection["createdDateUtc"]) == 27 and not connection["createdDateUtc"].endswith("Z")
        assert connection["id"] != connection["tenantId"]


def test_token_responses_conform_to_the_official_access_token_schema(login, demo: OAuthClient) -> None:
    tokens = login().tokens
    validate(tokens, "AccessToken", spec="xero-identity.yaml")
    validate(demo.refresh(tokens["refresh_token"]).json(), "AccessToken", spec="xero-identity.yaml")


def test_connections_filters_by_auth_event_id(
    login, idc: XeroIdentityControl, demo: OAuthClient, server: SandboxServer
) -> None:
    primary, second = tenants(server)
    idc.consent(tenant_ids=[primary])
    login()
    idc.consent(tenant_ids=[second])
    latest = login().tokens["access_token"]

    everything = demo.connections(latest).json()
    events = {c["tenantId"]: c["authEventId"] for c in everything}
    only_second = demo.connections(latest, authEventId=events[second]).json()
    nothing = demo.connections(latest, authEventId="00000000-0000-0000-0000-000000000000").json()

    assert len(everything) == 2 and events[primary] != events[second]
    assert [c["tenantId"] for c in only_second] == [second]
    assert nothing == []


def test_deleting_a_connection_by_its_id_disconnects_that_org_only(
    login, demo: OAuthClient, server: SandboxServer
) -> None:
    primary, second = tenants(server)
    access = login().tokens["access_token"]
    connection = next(c for c in demo.connections(access).json() if c["tenantId"] == second)

    by_tenant_id = demo.http.delete(f"/connections/{second}", headers={"Authorization": f"Bearer {access}"})
    deleted = demo.http.delete(
        f"/connections/{connection['id']}", headers={"Authorization": f"Bearer {access}"}
    )
    again = demo.http.delete(
        f"/connections/{connection['id']}", headers={"Authorization": f"Bearer {access}"}
    )

    assert by_tenant_id.status_code == 404  # the id is the connection's, not the tenant's
    assert deleted.status_code == 204 and deleted.content == b""
    assert again.status_code == 404
    assert [c["tenantId"] for c in demo.connections(access).json()] == [primary]
    status, body = check_access(server, access, second)
    assert status == 403 and without_instance(body) == FORBIDDEN
    assert check_access(server, access, primary)[0] == 200


def test_a_connection_of_another_user_cannot_be_deleted(
    login, demo: OAuthClient, server: SandboxServer
) -> None:
    access = login().tokens["access_token"]
    stranger = server.call(lambda: server.sandbox.xero.identity.issue_access_token(client_id=demo.client_id))
    target = demo.connections(access).json()[0]["id"]
    response = demo.http.delete(
        f"/connections/{target}", headers={"Authorization": f"Bearer {stranger.token}"}
    )
    assert response.status_code == 404


def test_the_user_removing_the_app_in_xero_disconnects_it(
    login, demo: OAuthClient, idc: XeroIdentityControl, server: SandboxServer
) -> None:
    access = login().tokens["access_token"]
    target = demo.connections(access).json()[0]
    idc.disconnect(target["id"])
    assert check_access(server, access, target["tenantId"])[0] == 403
    assert any(c["id"] == target["id"] and not c["active"] for c in idc.connections())


def test_faults_on_connections_answer_like_the_api_gateway(
    login, demo: OAuthClient, control: SandboxControl
) -> None:
    access = login().tokens["access_token"]
    control.add_fault("xero-connections", "GET", "/connections", times=1, **{"429": 1.0})
    control.add_fault("xero-connections", "GET", "/connections", times=1, **{"503": 1.0})
    limited = demo.connections(access)
    offline = demo.connections(access)
    fine = demo.connections(access)
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
    assert limited.headers["x-rate-limit-problem"] == "minute"
    assert offline.status_code == 503 and "offline for maintenance" in offline.text
    assert fine.status_code == 200


def test_faults_on_the_token_endpoint_answer_in_the_identity_services_shapes(
    login, demo: OAuthClient, control: SandboxControl
) -> None:
    refresh = login().tokens["refresh_token"]
    control.add_fault("xero-identity", "POST", "/connect/token", times=1, **{"429": 1.0})
    control.add_fault("xero-identity", "POST", "/connect/token", times=1, **{"500": 1.0})
    limited = demo.refresh(refresh)
    broken = demo.refresh(refresh)
    assert (limited.status_code, limited.json()) == (429, {"error": "rate_limit_exceeded"})
    assert int(limited.headers["retry-after"]) >= 1
    assert broken.status_code == 500
    assert demo.refresh(refresh).status_code == 200


# ---- apps ---------------------------------------------------------------------------------------
def test_the_demo_environment_names_the_demo_app_and_leaves_the_tenant_to_the_user(
    server: SandboxServer, idc: XeroIdentityControl
) -> None:
    env = server.sandbox.xero.demo_env()
    demo_app = idc.app("web")
    assert env["XERO_CLIENT_ID"] == demo_app["client_id"]
    assert env["XERO_CLIENT_SECRET"] == demo_app["client_secret"]
    assert "XERO_TENANT_ID" not in env


def test_apps_are_listed_without_secrets_unless_asked(idc: XeroIdentityControl) -> None:
    registered = idc.register_app("mine", redirect_uris=["https://app.example/cb"])
    listed = idc.apps()
    assert registered["client_secret"]
    assert {a["kind"] for a in listed} == {"web", "custom"}
    assert all("client_secret" not in a for a in listed)
    assert any(a["client_id"] == registered["client_id"] for a in listed)


@pytest.mark.parametrize(
    "uri", ["http://app.example/cb", "https://app.example/*/cb", "ftp://localhost/", "https://app.example/#x"]
)
def test_registering_an_app_refuses_redirect_uris_xero_would_refuse(
    idc: XeroIdentityControl, uri: str
) -> None:
    with pytest.raises(RuntimeError, match="400"):
        idc.register_app("bad", redirect_uris=[uri])


# ---- secrets stay out of the call log ------------------------------------------------------------
def test_no_secret_code_or_token_appears_in_the_call_log(
    login, demo: OAuthClient, custom: OAuthClient, control: SandboxControl
) -> None:
    session = login()
    refreshed = demo.refresh(session.tokens["refresh_token"]).json()
    custom_token = custom.post_token(grant_type="client_credentials").json()
    demo.connections(refreshed["access_token"])
    demo.http.post(
        "/connect/revocation",
        data={"token": refreshed["refresh_token"]},
        auth=(demo.client_id, demo.client_secret),
    )
    secrets_used = [
        demo.client_secret,
        custom.client_secret,
        session.redirect_query["code"],
        session.pkce.verifier,
        *session.tokens.values(),
        *refreshed.values(),
        custom_token["access_token"],
    ]
    log = str(control.calls())
    for value in secrets_used:
        if isinstance(value, str) and len(value) > 12:
            assert value not in log
    assert "grant_type" in log  # the log does note what kind of token call it was


# ---- the official SDK -----------------------------------------------------------------------------
def test_the_official_xero_python_sdk_refreshes_and_reads_connections_from_the_stand_in(
    login, demo: OAuthClient, server: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from xero_python.api_client import ApiClient
    from xero_python.api_client.oauth2 import OAuth2Token, TokenApi
    from xero_python.identity import IdentityApi

    # The SDK's token URLs are hard-coded to identity.xero.com: point them here so nothing leaves the box.
    for name in ("refresh_token_url", "revoke_token_url", "client_credentials_token_url"):
        monkeypatch.setattr(
            TokenApi,
            name,
            server.xero_url + ("/connect/revocation" if "revoke" in name else "/connect/token"),
        )
    tokens = login().tokens
    store = {
        **tokens,
        "scope": SCOPES.split(),
        "expires_at": time.time() - 1,  # already expired: the SDK must refresh first
    }
    saved: list[dict] = []
    api_client = ApiClient(
        sdk_configuration(OAuth2Token(client_id=demo.client_id, client_secret=demo.client_secret)),
        pool_threads=1,
        oauth2_token_getter=lambda: store,
        oauth2_token_saver=saved.append,
    )

    connections = IdentityApi(api_client, base_url=server.xero_url).get_connections()

    assert saved and saved[0]["refresh_token"] != tokens["refresh_token"]
    assert [c.tenant_name for c in connections] == ["Demo Company (AU)", "Harbourside Holdings (AU)"]
    assert connections[0].tenant_id == server.sandbox.xero.primary_tenant_id
    assert connections[0].created_date_utc.year >= 2024
