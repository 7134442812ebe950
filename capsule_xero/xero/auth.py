"""Xero authorisation, shared by the extractor (dlt) and the writer (httpx).

- ``auth login``: authorization code + PKCE with a loopback redirect, then a tenant from
  /connections (docs/api-facts.md#xero-oauth-2-sign-in-and-tokens).
- Custom connections: ``client_credentials``, no refresh token, no tenant header needed.
- Refresh-token rotation done safely: one refresher at a time across processes (the store's file
  lock), the store re-read under the lock (another process may have refreshed already), the new
  set written atomically *before* the access token is used, and a refresh whose answer was lost
  retried with the same refresh token inside Xero's 30-minute grace window.

Nothing here puts a token or the client secret into an exception message or a log line.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import webbrowser
from collections.abc import Callable, Generator, Mapping
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode, urlparse

import httpx
import stamina

from capsule_xero.settings import Settings
from capsule_xero.xero.scopes import (
    SIGN_IN_SCOPES,
    Access,
    custom_connection_scopes,
    sign_in_scopes,
)
from capsule_xero.xero.token_store import TokenFileError, TokenSet, TokenStore

if TYPE_CHECKING:
    from capsule_xero.rules.model import Rules

CALLBACK_PORT = 8765  # register http://localhost:8765/callback as a redirect URI of the Xero app
# What sign-in asks for while the rules file turns no money on (scopes.py adds the money scopes).
SCOPES = SIGN_IN_SCOPES
TIMEOUT = httpx.Timeout(30.0, connect=10.0)


class XeroAuthError(Exception):
    """Authorisation failed in a way a person must fix; the message says how."""


class ConsentRequired(XeroAuthError):
    def __init__(self, reason: str) -> None:
        super().__init__(f"Xero needs your consent again ({reason}): run `capsule-xero auth login`.")


# Transient failures of the token endpoint worth retrying: the answer may simply have been lost.
_TRANSIENT = (httpx.TransportError,)


TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})


def _is_transient(exc: Exception) -> bool:
    if isinstance(exc, _TRANSIENT):
        return True
    return isinstance(exc, httpx.HTTPStatusError) and exc.response.status_code in TRANSIENT_STATUSES


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(64)[:96]
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


class XeroAuth:
    """Hands out a valid access token and the tenant to use, refreshing when needed."""

    def __init__(
        self,
        settings: Settings,
        store: TokenStore | None = None,
        http: httpx.Client | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        rules: Rules | None = None,
        money_access: Mapping[str, Access] | None = None,
    ) -> None:
        """``rules``: the rules file, for the money scopes it turns on; read from
        ``CAPSULE_XERO_CONFIG`` when first needed if not given. ``money_access``: the money to ask
        for instead of a rules file's (every tenant's together, for one sign-in serving them all)."""
        self.settings = settings
        self._rules = rules
        self._access = money_access
        self.store = store or TokenStore(settings.xero_token_home)
        self.http = http or httpx.Client(timeout=TIMEOUT)
        self.now = now
        self._thread_lock = threading.Lock()

    # ---- scopes ---------------------------------------------------------------------------------
    def _money_access(self) -> Mapping[str, Access]:
        if self._access is not None:
            return self._access
        if self._rules is None:
            from capsule_xero.rules.loading import RulesError, load_rules

            try:
                self._rules = load_rules(self.settings.config_file)
            except RulesError as error:
                raise XeroAuthError(
                    f"the rules file decides which Xero scopes to ask for, and it has problems: {error.problems[0]}"
                    " (fix the file CAPSULE_XERO_CONFIG names, or capsule-xero.yaml)"
                ) from None
        return self._rules.money_access()

    @property
    def scopes(self) -> tuple[str, ...]:
        """What sign-in asks Xero for: the contact sync's scopes, plus money as the rules file turns it on."""
        return sign_in_scopes(self._money_access(), self.settings.xero_scope_style)

    @property
    def custom_connection_scopes(self) -> tuple[str, ...]:
        return custom_connection_scopes(self._money_access(), self.settings.xero_scope_style)

    # ---- the token endpoint ----------------------------------------------------------------
    @property
    def token_url(self) -> str:
        return f"{self.settings.xero_identity_url}/connect/token"

    def _client_auth(self) -> httpx.BasicAuth | None:
        secret = self.settings.xero_client_secret.get_secret_value()
        return httpx.BasicAuth(self.settings.xero_client_id, secret) if secret else None

    def _send(self, method: str, url: str, what: str, **kwargs: Any) -> httpx.Response:
        """One identity call, retried on 429/5xx and network errors (a token request whose answer
        was lost is safe to resend: the grace window accepts the same refresh token again)."""
        try:
            for attempt in stamina.retry_context(on=_is_transient, attempts=5, wait_initial=0.5, wait_max=10):
                with attempt:
                    response = self.http.request(method, url, **kwargs)
                    if response.status_code in TRANSIENT_STATUSES:
                        response.raise_for_status()
        except httpx.HTTPError as exc:
            reason = (
                f"HTTP {exc.response.status_code}"
                if isinstance(exc, httpx.HTTPStatusError)
                else type(exc).__name__
            )
            raise XeroAuthError(
                f"{what} kept failing ({reason}); Xero or the network is unavailable, try again later."
            ) from None
        return response

    def _token_request(self, form: dict[str, str]) -> dict[str, Any]:
        if not self.settings.xero_client_secret:
            form = {**form, "client_id": self.settings.xero_client_id}  # PKCE public client
        response = self._send(
            "POST",
            self.token_url,
            "the Xero token endpoint",
            data=form,
            auth=self._client_auth() or httpx.USE_CLIENT_DEFAULT,
        )
        if response.status_code == 200:
            return response.json()
        error = _oauth_error(response)
        if error == "invalid_grant":
            raise ConsentRequired("the refresh token was rejected as invalid_grant")
        if error == "invalid_client":
            raise XeroAuthError(
                "Xero rejected the client id or secret (invalid_client): check XERO_CLIENT_ID and XERO_CLIENT_SECRET."
            )
        raise XeroAuthError(f"the Xero token endpoint answered {response.status_code} ({error}).")

    def _token_set(self, body: dict[str, Any], previous: TokenSet | None = None) -> TokenSet:
        now = self.now()
        return TokenSet(
            access_token=body["access_token"],
            expires_at=now + timedelta(seconds=int(body.get("expires_in", 1800))),
            refresh_token=body.get("refresh_token"),
            refreshed_at=now,
            scopes=body.get("scope", "").split(),
            tenant_id=previous.tenant_id if previous else None,
            tenant_name=previous.tenant_name if previous else None,
            kind=previous.kind if previous else "oauth",
            previous_refresh_token=previous.refresh_token if previous else None,
        )

    # ---- flows -----------------------------------------------------------------------------
    def authorization_url(self, redirect_uri: str, state: str, code_challenge: str) -> str:
        query = {
            "response_type": "code",
            "client_id": self.settings.xero_client_id,
            "redirect_uri": redirect_uri,
            "scope": " ".join(self.scopes),
            "state": state,
            "code_challenge": code_challenge,
            "code_challenge_method": "S256",
        }
        return f"{self.settings.xero_login_url}?{urlencode(query)}"

    def exchange_code(self, code: str, redirect_uri: str, code_verifier: str) -> TokenSet:
        body = self._token_request(
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri,
                "code_verifier": code_verifier,
            }
        )
        return self._token_set(body)

    def client_credentials(self) -> TokenSet:
        body = self._token_request(
            {"grant_type": "client_credentials", "scope": " ".join(self.custom_connection_scopes)}
        )
        tokens = self._token_set(body)
        tokens.kind = "custom"
        return tokens

    def _check_custom_organisation(self, tokens: TokenSet) -> None:
        """A custom connection serves one organisation and its calls name none
        (docs/api-facts.md#xero-custom-connections): when XERO_TENANT_ID names the organisation to sync
        (a tenant's ``xero_tenant_id``), one look at /connections makes sure this connection serves it,
        so another organisation's data never lands in its folder."""
        wanted = self.settings.xero_tenant_id
        if not wanted:
            return
        served = self.connections(tokens.access_token)
        if not any(c.get("tenantId") == wanted for c in served):
            names = ", ".join(f"{c.get('tenantName')} ({c.get('tenantId')})" for c in served) or "none"
            raise XeroAuthError(
                f"the Xero custom connection serves {names}, not organisation {wanted}: set up the"
                " connection for that organisation at developer.xero.com, or correct xero_tenant_id"
            )
        chosen = next(c for c in served if c.get("tenantId") == wanted)
        tokens.tenant_id, tokens.tenant_name = wanted, chosen.get("tenantName")

    def refresh(self, tokens: TokenSet) -> TokenSet:
        if not tokens.refresh_token:
            raise ConsentRequired("there is no refresh token")
        # A lost answer is retried with the *same* refresh token: Xero accepts a just-used token
        # again within its 30-minute grace (docs/api-facts.md#xero-oauth-2-sign-in-and-tokens), so a dropped response costs no consent.
        body = self._token_request({"grant_type": "refresh_token", "refresh_token": tokens.refresh_token})
        return self._token_set(body, previous=tokens)

    def connections(self, access_token: str) -> list[dict[str, Any]]:
        response = self._send(
            "GET",
            self.settings.xero_connections_url,
            "Xero connections",
            headers={"Authorization": f"Bearer {access_token}"},
        )
        if response.status_code != 200:
            raise XeroAuthError(f"reading Xero connections failed with HTTP {response.status_code}.")
        return response.json()

    def revoke(self, refresh_token: str) -> None:
        response = self.http.post(
            f"{self.settings.xero_identity_url}/connect/revocation",
            data={"token": refresh_token}
            | ({} if self.settings.xero_client_secret else {"client_id": self.settings.xero_client_id}),
            auth=self._client_auth() or httpx.USE_CLIENT_DEFAULT,
        )
        if response.status_code != 200:
            raise XeroAuthError(f"revoking the Xero token failed with HTTP {response.status_code}.")

    # ---- what callers use ------------------------------------------------------------------
    def current(self, force_refresh: bool = False, rejected_access_token: str | None = None) -> TokenSet:
        """A token set whose access token is valid now, refreshed (once, across processes) if not.

        ``rejected_access_token``: the token Xero just called expired. When the store already holds
        another one, a concurrent caller refreshed first and that one is used, not refreshed again.
        """
        with self._thread_lock, self.store.lock():
            try:
                tokens = self.store.load()
            except TokenFileError as error:
                if not self.settings.xero_custom_connection:
                    raise XeroAuthError(str(error)) from None
                tokens = (
                    None  # a custom connection needs no sign-in: a new client_credentials token replaces it
                )
            if tokens is None:
                if self.settings.xero_custom_connection:
                    tokens = self.client_credentials()
                    self._check_custom_organisation(tokens)
                    self.store.save(tokens)
                    return tokens
                raise XeroAuthError("not signed in to Xero: run `capsule-xero auth login`.")
            if rejected_access_token is not None and tokens.access_token != rejected_access_token:
                return tokens
            if not force_refresh and tokens.access_token_valid(self.now()):
                return tokens
            if tokens.kind == "custom":
                fresh = self.client_credentials()
                fresh.tenant_id, fresh.tenant_name = tokens.tenant_id, tokens.tenant_name
            else:
                fresh = self.refresh(tokens)
            self.store.save(fresh)  # before anyone uses it: a rotated refresh token must not be lost
            return fresh

    def headers(
        self, force_refresh: bool = False, rejected_access_token: str | None = None
    ) -> dict[str, str]:
        tokens = self.current(force_refresh, rejected_access_token)
        headers = {"Authorization": f"Bearer {tokens.access_token}"}
        tenant = self.settings.xero_tenant_id or tokens.tenant_id
        if tokens.kind != "custom":
            if not tenant:
                raise XeroAuthError(
                    "no Xero organisation chosen: set XERO_TENANT_ID or run `capsule-xero auth login`."
                )
            headers["xero-tenant-id"] = tenant
        return headers


def fresh_token_may_help(status_code: int, www_authenticate: str) -> bool:
    """Whether a 401 is worth one retry with a refreshed access token.

    Xero answers 401 ``TokenExpired`` for an expired access token and 401 ``AuthenticationUnsuccessful``
    for one it no longer accepts (revoked, replaced, or its clock and ours disagree); in both cases the
    refresh token may still be good, so asking a person to sign in again before trying it is premature.
    A 401 with ``WWW-Authenticate: insufficient_scope`` is the exception: only new consent adds a scope
    (docs/api-facts.md#xero-errors).
    """
    return status_code == 401 and "insufficient_scope" not in www_authenticate.lower()


class XeroHttpxAuth(httpx.Auth):
    """httpx auth flow: Bearer + tenant header; one retry with a refreshed token after a 401 that may allow it."""

    def __init__(self, auth: XeroAuth) -> None:
        self.auth = auth

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers.update(self.auth.headers())
        used = request.headers["Authorization"].removeprefix("Bearer ")
        response = yield request
        if fresh_token_may_help(response.status_code, response.headers.get("WWW-Authenticate", "")):
            _safe_text(response)  # read, so the connection is free for the retry
            request.headers.update(self.auth.headers(force_refresh=True, rejected_access_token=used))
            yield request


def _safe_text(response: httpx.Response) -> str:
    try:
        response.read()
        return response.text[:500]
    except httpx.HTTPError:
        return ""


def _oauth_error(response: httpx.Response) -> str:
    try:
        return str(response.json().get("error", "unknown_error"))
    except ValueError:
        return "unknown_error"


# ---- auth login: the loopback redirect ------------------------------------------------------
class _Callback(BaseHTTPRequestHandler):
    result: dict[str, str]
    done: threading.Event

    def do_GET(self) -> None:
        query = {k: v[0] for k, v in parse_qs(urlparse(self.path).query).items()}
        if "code" not in query and "error" not in query:
            self.send_response(404)
            self.end_headers()
            return
        type(self).result.update(query)
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.end_headers()
        message = (
            "capsule-xero is connected to Xero. You can close this tab."
            if "code" in query
            else "Xero did not grant access."
        )
        self.wfile.write(f"<html><body><p>{message}</p></body></html>".encode())
        type(self).done.set()

    def log_message(self, format: str, *args: Any) -> None:  # the query holds the code: never log it
        return


def login(
    auth: XeroAuth,
    choose_tenant: Callable[[list[dict[str, Any]]], dict[str, Any]],
    open_url: Callable[[str], Any] = webbrowser.open,
    timeout_seconds: float = 300,
    port: int = 0,
) -> TokenSet:
    """Run the authorization-code + PKCE flow through a one-shot server on 127.0.0.1.

    Xero compares the redirect URI with the app's registered ones exactly (docs/api-facts.md#xero-oauth-2-sign-in-and-tokens: http only
    for localhost), so real logins use a fixed ``port`` registered as
    ``http://localhost:<port>/callback``; 0 picks a free port (the sandbox accepts any).
    """
    done = threading.Event()
    handler = type("Callback", (_Callback,), {"result": {}, "done": done})
    try:
        server = HTTPServer(("127.0.0.1", port), handler)
    except OSError as exc:
        raise XeroAuthError(
            f"port {port} for the login callback is busy ({exc.strerror}); free it or pass another."
        ) from None
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        redirect_uri = f"http://localhost:{server.server_address[1]}/callback"
        verifier, challenge = pkce_pair()
        state = secrets.token_urlsafe(24)
        open_url(auth.authorization_url(redirect_uri, state, challenge))
        if not done.wait(timeout_seconds):
            raise XeroAuthError(
                "no answer from the Xero login page in time; run `capsule-xero auth login` again."
            )
    finally:
        server.shutdown()
        server.server_close()
    result = handler.result
    if result.get("state") != state:
        raise XeroAuthError("the login answer did not carry our state value (possible forgery); try again.")
    if "error" in result:
        raise XeroAuthError(f"Xero did not grant access ({result['error']}).")
    tokens = auth.exchange_code(result["code"], redirect_uri, verifier)
    connections = auth.connections(tokens.access_token)
    if not connections:
        raise XeroAuthError("this Xero login has no organisation connected; connect one and try again.")
    wanted = auth.settings.xero_tenant_id
    if wanted:
        chosen = next((c for c in connections if c["tenantId"] == wanted), None)
        if chosen is None:
            raise XeroAuthError(
                f"XERO_TENANT_ID {wanted} is not among the organisations this login can reach."
            )
    elif len(connections) == 1:
        chosen = connections[0]
    else:
        chosen = choose_tenant(connections)
    tokens.tenant_id, tokens.tenant_name = chosen["tenantId"], chosen.get("tenantName")
    with auth.store.lock():
        try:
            auth.store.save(tokens)
        except TokenFileError as error:
            raise XeroAuthError(str(error)) from None
    return tokens
