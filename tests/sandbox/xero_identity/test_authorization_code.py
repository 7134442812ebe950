"""Authorisation code + PKCE against the identity stand-in: the happy path and every refusal."""

from __future__ import annotations

import base64
import json

import httpx
import pytest

from sandbox.server import SandboxServer
from sandbox.xero.oauth_control import XeroIdentityControl, pkce_pair
from tests.sandbox.xero_identity.conftest import REDIRECT, SCOPES, OAuthClient


def claims(jwt: str) -> dict:
    part = jwt.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def test_a_pkce_login_redirects_back_with_code_and_state_and_the_code_buys_a_full_token_set(
    idc: XeroIdentityControl, demo: OAuthClient, server: SandboxServer
) -> None:
    pkce = pkce_pair()
    query = idc.authorize(demo.client_id, REDIRECT, SCOPES, state="abc123", pkce=pkce)
    assert query["state"] == "abc123" and query["code"]

    response = demo.exchange(query["code"], pkce.verifier)

    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    tokens = response.json()
    assert set(tokens) == {"id_token", "access_token", "expires_in", "token_type", "refresh_token", "scope"}
    assert tokens["expires_in"] == 1800 and tokens["token_type"] == "Bearer"
    assert set(tokens["scope"].split()) == set(SCOPES.split())
    assert len(tokens["access_token"].split(".")) == 3
    access = claims(tokens["access_token"])
    user = server.sandbox.xero.identity.user.user_id
    assert access["xero_userid"] == user and access["client_id"] == demo.client_id
    assert access["exp"] - access["nbf"] == 1800
    assert set(access["scope"]) == set(SCOPES.split())
    assert access["authentication_event_id"]
    identity = claims(tokens["id_token"])
    assert identity["aud"] == demo.client_id and identity["xero_userid"] == user
    assert identity["email"] == "sandbox.user@example.com"


def test_the_access_token_is_signed_with_the_sandbox_key_and_a_forged_one_is_refused(
    login, demo: OAuthClient
) -> None:
    token = login().tokens["access_token"]
    header, _body, signature = token.split(".")
    forged_claims = claims(token) | {"scope": ["accounting.contacts", "accounting.transactions"]}
    forged_body = base64.urlsafe_b64encode(json.dumps(forged_claims).encode()).rstrip(b"=").decode()
    forged = f"{header}.{forged_body}.{signature}"

    assert demo.connections(forged).status_code == 401
    assert demo.connections(token).status_code == 200


def test_a_wrong_code_verifier_is_invalid_grant_and_burns_the_code(
    idc: XeroIdentityControl, demo: OAuthClient
) -> None:
    pkce = pkce_pair()
    code = idc.authorize(demo.client_id, REDIRECT, SCOPES, pkce=pkce)["code"]

    wrong = demo.exchange(code, pkce_pair().verifier)
    right_after = demo.exchange(code, pkce.verifier)

    assert (wrong.status_code, wrong.json()) == (400, {"error": "invalid_grant"})
    # As in IdentityServer, the first presentation consumes the code whatever happens next.
    assert (right_after.status_code, right_after.json()) == (400, {"error": "invalid_grant"})


def test_a_missing_code_verifier_for_a_pkce_code_is_invalid_grant(
    idc: XeroIdentityControl, demo: OAuthClient
) -> None:
    code = idc.authorize(demo.client_id, REDIRECT, SCOPES, pkce=pkce_pair())["code"]
    assert demo.exchange(code).json() == {"error": "invalid_grant"}


def test_a_code_works_once_and_its_reuse_is_invalid_grant(
    idc: XeroIdentityControl, demo: OAuthClient
) -> None:
    pkce = pkce_pair()
    code = idc.authorize(demo.client_id, REDIRECT, SCOPES, pkce=pkce)["code"]

    assert demo.exchange(code, pkce.verifier).status_code == 200
    reuse = demo.exchange(code, pkce.verifier)

    assert (reuse.status_code, reuse.json()) == (400, {"error": "invalid_grant"})


def test_a_code_older_than_five_sandbox_minutes_is_invalid_grant(
    idc: XeroIdentityControl, demo: OAuthClient, control
) -> None:
    pkce = pkce_pair()
    fresh = idc.authorize(demo.client_id, REDIRECT, SCOPES, pkce=pkce)["code"]
    stale_pkce = pkce_pair()
    stale = idc.authorize(demo.client_id, REDIRECT, SCOPES, pkce=stale_pkce)["code"]
    control.set_clock(advance_seconds=4 * 60)
    assert demo.exchange(fresh, pkce.verifier).status_code == 200

    control.set_clock(advance_seconds=61)
    assert demo.exchange(stale, stale_pkce.verifier).json() == {"error": "invalid_grant"}


def test_a_redirect_uri_differing_from_the_authorize_one_is_invalid_grant(
    idc: XeroIdentityControl, demo: OAuthClient
) -> None:
    pkce = pkce_pair()
    code = idc.authorize(demo.client_id, REDIRECT, SCOPES, pkce=pkce)["code"]

    response = demo.exchange(code, pkce.verifier, redirect_uri="http://localhost:8765/other")

    assert (response.status_code, response.json()) == (400, {"error": "invalid_grant"})


def test_a_web_app_may_log_in_without_pkce_using_its_secret(
    idc: XeroIdentityControl, demo: OAuthClient
) -> None:
    code = idc.authorize(demo.client_id, REDIRECT, SCOPES)["code"]
    assert demo.exchange(code).status_code == 200


def test_a_pkce_app_without_a_secret_logs_in_and_refreshes_with_client_id_and_verifier_only(
    idc: XeroIdentityControl, server: SandboxServer
) -> None:
    app = idc.register_app("desktop", kind="pkce", redirect_uris=["http://127.0.0.1*"])
    assert "client_secret" not in app or app["client_secret"] is None
    client = OAuthClient(server.xero_url, app["client_id"], None)
    redirect = "http://127.0.0.1:53682/"
    pkce = pkce_pair()

    code = idc.authorize(app["client_id"], redirect, SCOPES, pkce=pkce)["code"]
    tokens = client.exchange(code, pkce.verifier, redirect_uri=redirect).json()
    refreshed = client.refresh(tokens["refresh_token"])

    assert refreshed.status_code == 200, refreshed.text
    # A PKCE app must send a challenge: without one the authorize page redirects with an error.
    assert idc.authorize(app["client_id"], redirect, SCOPES)["error"] == "invalid_request"
    client.close()


def test_the_demo_app_accepts_any_loopback_port_but_no_look_alike_host(
    idc: XeroIdentityControl, demo: OAuthClient
) -> None:
    for uri in ("http://localhost:1/cb", "http://127.0.0.1:65000/a/b?x=1", "http://localhost/"):
        assert "code" in idc.authorize(demo.client_id, uri, SCOPES)
    for uri in (
        "http://localhost.evil.example/cb",
        "http://localhost:80@evil.example/",
        "https://localhost/",
    ):
        with pytest.raises(RuntimeError, match="400"):
            idc.authorize(demo.client_id, uri, SCOPES)


def test_an_unknown_client_or_unregistered_redirect_uri_gets_an_error_page_not_a_redirect(
    server: SandboxServer, demo: OAuthClient
) -> None:
    base = {"response_type": "code", "scope": SCOPES, "state": "s"}
    with httpx.Client(base_url=server.xero_url, trust_env=False) as http:
        unknown = http.get(
            "/identity/connect/authorize", params=base | {"client_id": "NOPE", "redirect_uri": REDIRECT}
        )
        unregistered = http.get(
            "/identity/connect/authorize",
            params=base | {"client_id": demo.client_id, "redirect_uri": "https://evil.example/cb"},
        )
    for page in (unknown, unregistered):
        assert page.status_code == 400
        assert "location" not in page.headers
        assert page.headers["content-type"].startswith("text/html")
        assert "unauthorized_client" in page.text


def test_a_bad_scope_or_response_type_redirects_back_with_the_oauth_error_and_state(
    idc: XeroIdentityControl, demo: OAuthClient
) -> None:
    bad_scope = idc.authorize(demo.client_id, REDIRECT, "openid accounting.everything", state="s1")
    bad_type = idc.authorize(demo.client_id, REDIRECT, SCOPES, state="s2", response_type="token")
    plain_pkce = idc.authorize(
        demo.client_id, REDIRECT, SCOPES, state="s3", code_challenge="a" * 43, code_challenge_method="plain"
    )

    assert bad_scope == {"error": "invalid_scope", "state": "s1"}
    assert bad_type == {"error": "unsupported_response_type", "state": "s2"}
    assert plain_pkce == {"error": "invalid_request", "state": "s3"}


def test_an_app_created_after_march_2026_is_refused_the_broad_scopes(
    idc: XeroIdentityControl,
) -> None:
    app = idc.register_app("new app", redirect_uris=[REDIRECT], granular_only=True)
    broad = idc.authorize(app["client_id"], REDIRECT, "offline_access accounting.transactions")
    granular = idc.authorize(
        app["client_id"], REDIRECT, "offline_access accounting.invoices accounting.contacts"
    )
    assert broad["error"] == "invalid_scope"
    assert "code" in granular


def test_the_user_denying_consent_redirects_with_access_denied(
    idc: XeroIdentityControl, demo: OAuthClient
) -> None:
    idc.consent(deny=True)
    assert idc.authorize(demo.client_id, REDIRECT, SCOPES, state="z") == {
        "error": "access_denied",
        "state": "z",
    }


def test_the_user_consenting_to_one_organisation_connects_only_that_one(
    idc: XeroIdentityControl, login, demo: OAuthClient, server: SandboxServer
) -> None:
    second = list(server.sandbox.xero.tenants)[1]
    idc.consent(tenant_ids=[second])

    tokens = login().tokens

    assert [c["tenantId"] for c in demo.connections(tokens["access_token"]).json()] == [second]


@pytest.mark.parametrize(
    ("how", "expected"),
    [
        ("no secret", 401),
        ("wrong secret", 401),
        ("unknown client", 401),
        ("secret in the form", 200),
    ],
)
def test_client_authentication_at_the_token_endpoint(
    idc: XeroIdentityControl, demo: OAuthClient, server: SandboxServer, how: str, expected: int
) -> None:
    pkce = pkce_pair()
    code = idc.authorize(demo.client_id, REDIRECT, SCOPES, pkce=pkce)["code"]
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "code_verifier": pkce.verifier,
    }
    with httpx.Client(base_url=server.xero_url, trust_env=False) as http:
        if how == "no secret":
            response = http.post("/connect/token", data=form | {"client_id": demo.client_id})
        elif how == "wrong secret":
            response = http.post("/connect/token", data=form, auth=(demo.client_id, "not-the-secret"))
        elif how == "unknown client":
            response = http.post("/connect/token", data=form, auth=("UNKNOWN", "x"))
        else:
            response = demo.post_token(basic=False, **form)
    assert response.status_code == expected, response.text
    if expected == 401:
        assert response.json() == {"error": "invalid_client"}


def test_an_unknown_or_missing_grant_type_is_refused_as_oauth_json(demo: OAuthClient) -> None:
    unsupported = demo.post_token(grant_type="password", username="u", password="p")
    missing = demo.post_token(code="x")
    assert (unsupported.status_code, unsupported.json()) == (400, {"error": "unsupported_grant_type"})
    assert (missing.status_code, missing.json()) == (400, {"error": "invalid_request"})


def test_a_json_body_at_the_token_endpoint_is_invalid_request(
    server: SandboxServer, demo: OAuthClient
) -> None:
    with httpx.Client(base_url=server.xero_url, trust_env=False) as http:
        response = http.post(
            "/connect/token", json={"grant_type": "refresh_token"}, auth=(demo.client_id, demo.client_secret)
        )
    assert (response.status_code, response.json()) == (400, {"error": "invalid_request"})


def test_refresh_and_id_tokens_come_only_with_offline_access_and_openid(login) -> None:
    tokens = login(scope="accounting.contacts").tokens
    assert "refresh_token" not in tokens and "id_token" not in tokens
    assert tokens["scope"] == "accounting.contacts"
