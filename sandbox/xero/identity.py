"""Xero identity: OAuth apps, consent, tokens and connections; and how accounting calls authenticate.

What it stands in for (docs/api-facts.md#xero-oauth-2-sign-in-and-tokens, #xero-scopes,
#xero-custom-connections):

- ``GET  /identity/connect/authorize``  (login.xero.com) — the consent page. The sandbox user consents
  at once (to the tenants chosen through the admin API, all by default) and is redirected back with
  ``code`` and ``state``; an unknown client or unregistered redirect URI gets an error page instead.
- ``POST /connect/token``  (identity.xero.com) — ``authorization_code`` (+ PKCE S256),
  ``refresh_token`` (rotation with a 30-minute grace, 60-day idle expiry) and ``client_credentials``
  (custom connections: one org, no refresh token).
- ``POST /connect/revocation`` — revokes a refresh token's grant and the user's connections.
- ``GET /connections``, ``DELETE /connections/{id}``  (api.xero.com) — the tenants a token may use.

Tokens, codes and secrets never reach a log: the middleware records path and query only (the
authorize query holds no secret; the ``code`` only ever travels in the redirect's Location) and
this module writes no log lines. All state is touched on the server's loop thread only.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import html
import json
import re
import secrets
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from sandbox.xero.wire import problem

if TYPE_CHECKING:
    from sandbox.app import Sandbox
    from sandbox.xero.state import XeroState

# Access tokens live 30 minutes (docs/api-facts.md#xero-oauth-2-sign-in-and-tokens).
ACCESS_TOKEN_SECONDS = 30 * 60
AUTH_CODE_SECONDS = 5 * 60  # auth codes ~5 minutes, single use
ID_TOKEN_SECONDS = 5 * 60
REFRESH_TOKEN_SECONDS = 60 * 86400  # a refresh token dies after 60 days unused
REFRESH_GRACE_SECONDS = 30 * 60  # a used refresh token may be retried for 30 minutes
MAX_REDIRECT_URIS = 50

DEFAULT_SCOPES = frozenset(
    {"openid", "profile", "email", "offline_access", "accounting.contacts", "accounting.settings.read"}
)
CUSTOM_CONNECTION_SCOPES = frozenset({"accounting.contacts", "accounting.settings.read"})
# Broad scopes refused to apps created after 2 Mar 2026 (``granular_only`` apps),
# docs/api-facts.md#xero-scopes.
BROAD_SCOPES = frozenset(
    {"accounting.transactions", "accounting.transactions.read", "accounting.reports.read"}
)
KNOWN_SCOPES = frozenset(
    {
        "openid",
        "profile",
        "email",
        "offline_access",
        # xero_accounting.yaml components/securitySchemes
        "accounting.attachments",
        "accounting.attachments.read",
        "accounting.budgets.read",
        "accounting.contacts",
        "accounting.contacts.read",
        "accounting.journals.read",
        "accounting.reports.read",
        "accounting.reports.tenninetynine.read",
        "accounting.settings",
        "accounting.settings.read",
        "accounting.transactions",
        "accounting.transactions.read",
        "paymentservices",
        # granular replacements of the broad scopes (docs/api-facts.md#xero-scopes)
        "accounting.invoices",
        "accounting.invoices.read",
        "accounting.payments",
        "accounting.payments.read",
        "accounting.banktransactions",
        "accounting.banktransactions.read",
        "accounting.manualjournals",
        "accounting.manualjournals.read",
        "accounting.reports.aged.read",
        "accounting.reports.balancesheet.read",
        "accounting.reports.profitandloss.read",
        "accounting.reports.trialbalance.read",
        "marketplace.billing",
    }
)
_PKCE_CHARS = re.compile(r"^[A-Za-z0-9._~-]{43,128}$")
_LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


# ---- records ---------------------------------------------------------------------------------
@dataclass
class AccessToken:
    token: str
    client_id: str
    tenant_ids: tuple[str, ...]
    scopes: frozenset[str]
    expires_at: datetime
    kind: str = "user"  # "user" (auth code) | "custom" (client_credentials: one org, no tenant header)
    user_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    auth_event_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    grant_id: str | None = None  # the token family it came from (None: issued directly by a test)


@dataclass(frozen=True)
class AuthContext:
    tenant_id: str
    scopes: frozenset[str]
    client_id: str
    kind: str


@dataclass
class OAuthApp:
    """An app registered at developer.xero.com: a web app, a PKCE app or a custom connection."""

    client_id: str
    client_secret: str | None  # None for PKCE apps (public clients)
    name: str
    kind: str  # "web" | "pkce" | "custom"
    created: datetime
    redirect_uris: tuple[str, ...] = ()
    tenant_id: str | None = None  # custom connections: the one org they serve
    scopes: frozenset[str] = frozenset()  # custom connections: the scopes the org user authorised
    granular_only: bool = False  # created after 2 Mar 2026: broad scopes refused

    def redirect_allowed(self, uri: str) -> bool:
        return any(_redirect_matches(pattern, uri) for pattern in self.redirect_uris)

    def as_dict(self, reveal_secret: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "client_id": self.client_id,
            "name": self.name,
            "kind": self.kind,
            "has_secret": self.client_secret is not None,
            "redirect_uris": list(self.redirect_uris),
            "granular_only": self.granular_only,
            "created": self.created.isoformat(),
        }
        if self.kind == "custom":
            out["tenant_id"] = self.tenant_id
            out["scopes"] = sorted(self.scopes)
        if reveal_secret:
            out["client_secret"] = self.client_secret
        return out


@dataclass(frozen=True)
class SandboxUser:
    """The one Xero user who "logs in" and consents on the sandbox's authorize page."""

    user_id: str  # xero_userid
    sub: str
    global_session_id: str
    email: str = "sandbox.user@example.com"
    given_name: str = "Sandy"
    family_name: str = "Box"


@dataclass
class AuthCode:
    client_id: str
    redirect_uri: str
    scopes: frozenset[str]
    auth_event_id: str
    expires_at: datetime
    code_challenge: str | None
    nonce: str | None


@dataclass
class Grant:
    """One token family: what an authorisation code was exchanged for, renewed by refreshing."""

    grant_id: str
    client_id: str
    user_id: str
    scopes: frozenset[str]
    auth_event_id: str
    session_id: str
    created: datetime
    revoked: bool = False


@dataclass
class RefreshRecord:
    grant_id: str
    client_id: str
    issued_at: datetime
    consumed_at: datetime | None = None  # when it was first exchanged
    consumed_wall: float | None = None  # the same instant on the wall clock (time.monotonic)
    successor: str | None = None  # the refresh token its latest exchange returned
    grace_reuses: int = 0  # exchanges after the first one (within the grace window)
    superseded: bool = False  # replaced because its predecessor was retried within the grace


@dataclass
class Connection:
    id: str
    client_id: str
    owner: str | None  # xero_userid; None for a custom connection (it belongs to the app)
    tenant_id: str
    auth_event_id: str
    created: datetime
    updated: datetime
    active: bool = True


class OAuthError(Exception):
    def __init__(self, error: str, status: int = 400) -> None:
        super().__init__(error)
        self.error = error
        self.status = status


# ---- response helpers ------------------------------------------------------------------------
def oauth_error(error: str, status: int = 400) -> JSONResponse:
    """The token endpoint's error body (docs/api-facts.md#xero-errors): ``{"error": "invalid_grant"}``."""
    return JSONResponse({"error": error}, status_code=status, headers=_NO_STORE)


def _error_page(error: str, description: str) -> HTMLResponse:
    """What login.xero.com shows instead of redirecting when it cannot trust the redirect URI."""
    body = (
        "<!doctype html><html><head><title>Xero | Error</title></head><body>"
        "<h1>Sorry, something went wrong</h1>"
        f"<p>Error: <code>{html.escape(error)}</code></p><p>{html.escape(description)}</p>"
        "</body></html>"
    )
    return HTMLResponse(body, status_code=400)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def pkce_challenge(verifier: str) -> str:
    """The S256 code challenge of ``verifier`` (RFC 7636)."""
    return _b64url(hashlib.sha256(verifier.encode("ascii")).digest())


def iso_connection_date(moment: datetime) -> str:
    """``2019-12-07T18:46:19.5165400``: ISO-8601 with 7 fraction digits and no zone, as /connections."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0"


def _seeded(seed: int, name: str) -> bytes:
    return hashlib.sha256(f"capsule-xero-sandbox/{seed}/{name}".encode()).digest()


def _stable_uuid(seed: int, name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"capsule-xero-sandbox/{seed}/{name}"))


def _redirect_matches(pattern: str, uri: str) -> bool:
    """Exact match, or ``http://localhost*``: that scheme and host, any port and path (loopback apps)."""
    if "#" in uri:
        return False
    if not pattern.endswith("*"):
        return uri == pattern
    prefix = pattern[:-1]
    if not uri.startswith(prefix):
        return False
    want, got = urlsplit(prefix), urlsplit(uri)
    try:
        got.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        return False
    return (
        got.scheme == want.scheme
        and (got.hostname or "") == (want.hostname or "")
        and got.username is None
        and got.password is None
    )


def validate_redirect_uri(uri: str) -> None:
    """Registration rule: https, or http only for localhost; ``*`` only at the end
    (docs/api-facts.md#xero-oauth-2-sign-in-and-tokens)."""
    if "*" in uri[:-1] or "#" in uri:
        raise ValueError(f"redirect URI {uri!r}: '*' only at the end and no fragment")
    parts = urlsplit(uri.rstrip("*"))
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and parts.hostname in _LOOPBACK_HOSTS:
        return
    raise ValueError(f"redirect URI {uri!r}: must be https, or http only for localhost")


def is_loopback_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in {"http", "https"} and (parts.hostname or "") in _LOOPBACK_HOSTS


# ---- the state -------------------------------------------------------------------------------
class IdentityState:
    def __init__(self, sandbox: Sandbox, xero: XeroState) -> None:
        self.sandbox = sandbox
        self.xero = xero
        seed = sandbox.seed
        now = sandbox.clock.now()
        self.access_tokens: dict[str, AccessToken] = {}
        self.apps: dict[str, OAuthApp] = {}
        self.codes: dict[str, AuthCode] = {}
        self.grants: dict[str, Grant] = {}
        self.refresh_tokens: dict[str, RefreshRecord] = {}
        self.connections: dict[str, Connection] = {}
        # (client_id, owner, tenant_id) -> its connection: authenticate looks here on every call.
        self._connection_index: dict[tuple[str, str | None, str], Connection] = {}
        self._jwt_key = _seeded(seed, "jwt-signing-key")
        self._app_counter = 0
        # The consent the sandbox user gives on the authorize page: all tenants unless told otherwise.
        self.consent_tenant_ids: tuple[str, ...] | None = None
        self.consent_deny = False
        # How often a used refresh token may be exchanged again within the grace window. Xero staff
        # once described the grace as "as many times as needed" (None here); the default allows one
        # retry, the stricter contract: a client that needs more than one is not serialising refreshes.
        self.refresh_grace_reuses: int | None = 1
        # The clock the 30-minute grace is measured on: the sandbox's ("sandbox", the default: it runs
        # fast with every other lifetime), or the wall clock ("wall"). What the grace covers is a
        # client that lost the answer and asks again, often a process restarted after a crash, and a
        # restart takes real seconds however fast the sandbox runs: at 600x a 4-second restart is 40
        # sandbox minutes. Crash trials measure the grace on the wall clock, Xero's 30 minutes as a
        # restarted process lives them; everything else (token lifetimes, rate limits) stays scaled.
        self.refresh_grace_clock = "sandbox"
        self.user = SandboxUser(
            user_id=_stable_uuid(seed, "xero-user"),
            sub=_seeded(seed, "xero-user-sub").hex()[:32],
            global_session_id=_seeded(seed, "xero-session").hex()[:32],
        )
        self.demo_app = self.register_app(
            name="capsule-xero (sandbox demo)",
            kind="web",
            redirect_uris=("http://localhost*", "http://127.0.0.1*"),
            created=now,
        )
        self.custom_app = self.register_app(
            name="capsule-xero (sandbox custom connection)",
            kind="custom",
            tenant_id=xero.primary_tenant_id,
            scopes=CUSTOM_CONNECTION_SCOPES,
            created=now,
        )

    # ---- apps ----------------------------------------------------------------------------------
    def register_app(
        self,
        *,
        name: str,
        kind: str = "web",
        redirect_uris: tuple[str, ...] | list[str] = (),
        tenant_id: str | None = None,
        scopes: frozenset[str] | list[str] | None = None,
        granular_only: bool = False,
        created: datetime | None = None,
    ) -> OAuthApp:
        if kind not in {"web", "pkce", "custom"}:
            raise ValueError("kind must be 'web', 'pkce' or 'custom'")
        uris = tuple(redirect_uris)
        if len(uris) > MAX_REDIRECT_URIS:
            raise ValueError(f"at most {MAX_REDIRECT_URIS} redirect URIs")
        for uri in uris:
            validate_redirect_uri(uri)
        bound: str | None = None
        if kind == "custom":
            bound = (tenant_id or self.xero.primary_tenant_id).lower()
            if bound not in self.xero.tenants:
                raise ValueError(f"unknown tenant {bound}")
            granted = frozenset(scopes) if scopes is not None else CUSTOM_CONNECTION_SCOPES
            bad = granted - KNOWN_SCOPES
            if bad or not granted:
                raise ValueError(f"unknown or missing scopes: {sorted(bad)}")
        else:
            if not uris:
                raise ValueError("a web or PKCE app needs at least one redirect URI")
            granted = frozenset()
        self._app_counter += 1
        tag = f"oauth-app-{self._app_counter}"
        app = OAuthApp(
            client_id=_seeded(self.sandbox.seed, tag).hex()[:32].upper(),
            client_secret=None if kind == "pkce" else _b64url(_seeded(self.sandbox.seed, tag + "/secret")),
            name=name,
            kind=kind,
            created=created or self.sandbox.clock.now(),
            redirect_uris=uris,
            tenant_id=bound,
            scopes=granted,
            granular_only=granular_only,
        )
        self.apps[app.client_id] = app
        if bound is not None:
            # A custom connection is authorised by the org's user when it is set up: it exists at once.
            self._connect(app.client_id, None, (bound,), str(uuid.uuid4()))
        return app

    def demo_env(self) -> dict[str, str]:
        # XERO_TENANT_ID is left out on purpose: the user picks an org from /connections at login.
        return {
            "XERO_CLIENT_ID": self.demo_app.client_id,
            "XERO_CLIENT_SECRET": self.demo_app.client_secret or "",
        }

    # ---- tokens --------------------------------------------------------------------------------
    def _jwt(self, claims: dict[str, Any]) -> str:
        header = {"alg": "HS256", "kid": "capsule-xero-sandbox", "typ": "JWT"}
        signing_input = (
            f"{_b64url(json.dumps(header, separators=(',', ':')).encode())}."
            f"{_b64url(json.dumps(claims, separators=(',', ':')).encode())}"
        )
        signature = hmac.new(self._jwt_key, signing_input.encode("ascii"), hashlib.sha256).digest()
        return f"{signing_input}.{_b64url(signature)}"

    def issue_access_token(
        self,
        *,
        client_id: str = "sandbox-client",
        tenant_ids: tuple[str, ...] | None = None,
        scopes: frozenset[str] = DEFAULT_SCOPES,
        kind: str = "user",
        user_id: str | None = None,
        auth_event_id: str | None = None,
        grant_id: str | None = None,
        session_id: str | None = None,
        issuer: str = "https://identity.xero.com",
    ) -> AccessToken:
        """A 30-minute JWT-shaped access token.

        Called without ``grant_id`` (a test wanting a token without the OAuth dance), the token's
        user is connected to ``tenant_ids`` (all tenants by default) as if they had consented.
        """
        tenants = tenant_ids if tenant_ids is not None else tuple(self.xero.tenants)
        now = self.sandbox.clock.now()
        expires = now + timedelta(seconds=ACCESS_TOKEN_SECONDS)
        user = user_id or str(uuid.uuid4())
        event = auth_event_id or str(uuid.uuid4())
        claims: dict[str, Any] = {
            "nbf": int(now.timestamp()),
            "exp": int(expires.timestamp()),
            "iss": issuer,
            "aud": f"{issuer}/resources",
            "client_id": client_id,
        }
        if kind != "custom":
            claims.update(
                {
                    "sub": self.user.sub if user == self.user.user_id else user.replace("-", ""),
                    "auth_time": int(now.timestamp()),
                    "xero_userid": user,
                    "global_session_id": self.user.global_session_id,
                    "sid": session_id or uuid.uuid4().hex,
                }
            )
        claims.update(
            {
                "jti": uuid.uuid4().hex.upper(),
                "authentication_event_id": event,
                "scope": sorted(scopes),
                "amr": ["pwd"] if kind != "custom" else ["client_credentials"],
            }
        )
        token = AccessToken(
            token=self._jwt(claims),
            client_id=client_id,
            tenant_ids=tenants,
            scopes=frozenset(scopes),
            expires_at=expires,
            kind=kind,
            user_id=user,
            auth_event_id=event,
            grant_id=grant_id,
        )
        self.access_tokens[token.token] = token
        if grant_id is None:
            owner = None if kind == "custom" else user
            known = tuple(t for t in tenants if t in self.xero.tenants)
            self._connect(client_id, owner, known, event, reconnect=False)
        return token

    def _bearer(self, request: Request) -> AccessToken | Response:
        header = request.headers.get("authorization", "")
        scheme, _, raw = header.partition(" ")
        token = self.access_tokens.get(raw.strip()) if scheme.lower() == "bearer" else None
        if token is None:
            return problem(401, "Unauthorized", "AuthenticationUnsuccessful")
        if self.sandbox.clock.now() >= token.expires_at:
            stamp = token.expires_at.strftime("%m/%d/%Y %H:%M:%S")
            return problem(401, "Unauthorized", f"TokenExpired: token expired at {stamp}")
        return token

    def authenticate(
        self, request: Request, any_of_scopes: set[str] | frozenset[str]
    ) -> AuthContext | Response:
        """Who is calling and for which organisation, or the exact error Xero would send."""
        token = self._bearer(request)
        if isinstance(token, Response):
            return token
        if any_of_scopes and not (token.scopes & set(any_of_scopes)):
            # A missing scope is "Authorization", a bad token "Authentication"
            # (docs/api-facts.md#xero-scopes-for-money).
            return problem(
                401,
                "Unauthorized",
                "AuthorizationUnsuccessful",
                headers={"WWW-Authenticate": "insufficient_scope"},
            )
        tenant_header = request.headers.get("xero-tenant-id")
        if token.kind == "custom":
            # Custom connections serve exactly one org and need no xero-tenant-id
            # (docs/api-facts.md#xero-custom-connections); a header naming another org is still refused.
            tenant_id = token.tenant_ids[0]
            if tenant_header and tenant_header.strip().lower() != tenant_id:
                return problem(403, "Forbidden", "AuthenticationUnsuccessful")
        else:
            tenant_id = (tenant_header or "").strip().lower()
        # The connection is checked on every call, so a disconnected tenant (DELETE /connections,
        # revocation) is refused even with an access token that has not expired yet.
        if tenant_id not in self.xero.tenants or self._connection_for(token, tenant_id) is None:
            return problem(403, "Forbidden", "AuthenticationUnsuccessful")
        return AuthContext(tenant_id, token.scopes, token.client_id, token.kind)

    # ---- connections ---------------------------------------------------------------------------
    @staticmethod
    def _owner(token: AccessToken) -> str | None:
        return None if token.kind == "custom" else token.user_id

    def _connection_for(self, token: AccessToken, tenant_id: str) -> Connection | None:
        conn = self._connection_index.get((token.client_id, self._owner(token), tenant_id))
        return conn if conn is not None and conn.active else None

    def _connect(
        self,
        client_id: str,
        owner: str | None,
        tenant_ids: tuple[str, ...],
        auth_event_id: str,
        *,
        reconnect: bool = True,
    ) -> list[Connection]:
        """Connect ``owner`` (via ``client_id``) to each tenant; a reconnection keeps id and createdDateUtc."""
        now = self.sandbox.clock.now()
        out = []
        for tenant_id in tenant_ids:
            existing = self._connection_index.get((client_id, owner, tenant_id))
            if existing is None:
                existing = Connection(str(uuid.uuid4()), client_id, owner, tenant_id, auth_event_id, now, now)
                self.connections[existing.id] = existing
                self._connection_index[(client_id, owner, tenant_id)] = existing
            elif reconnect or not existing.active:
                existing.active = True
                existing.auth_event_id = auth_event_id
                existing.updated = now
            out.append(existing)
        return out

    def connection_json(self, conn: Connection) -> dict[str, Any]:
        tenant = self.xero.tenants[conn.tenant_id]
        return {
            "id": conn.id,
            "authEventId": conn.auth_event_id,
            "tenantId": conn.tenant_id,
            "tenantType": tenant.tenant_type,
            "tenantName": tenant.name,
            "createdDateUtc": iso_connection_date(conn.created),
            "updatedDateUtc": iso_connection_date(conn.updated),
        }

    def connections_of(self, token: AccessToken) -> list[Connection]:
        owner = self._owner(token)
        found = [
            c
            for c in self.connections.values()
            if c.active
            and c.client_id == token.client_id
            and c.owner == owner
            and c.tenant_id in self.xero.tenants
        ]
        order = {tenant_id: i for i, tenant_id in enumerate(self.xero.tenants)}
        return sorted(found, key=lambda c: (c.created, order[c.tenant_id]))

    def disconnect(self, connection_id: str) -> bool:
        conn = self.connections.get(connection_id.lower())
        if conn is None or not conn.active:
            return False
        conn.active = False
        conn.updated = self.sandbox.clock.now()
        return True

    # ---- authorize -----------------------------------------------------------------------------
    def authorize(self, params: dict[str, str]) -> Response:
        client_id = params.get("client_id", "")
        app = self.apps.get(client_id)
        if app is None:
            return _error_page("unauthorized_client", "Unknown client or client not enabled")
        redirect_uri = params.get("redirect_uri", "")
        if app.kind == "custom" or not redirect_uri or not app.redirect_allowed(redirect_uri):
            return _error_page("unauthorized_client", "Invalid redirect_uri")
        state = params.get("state")

        def back(**query: str) -> Response:
            if state is not None:
                query["state"] = state
            sep = "&" if "?" in redirect_uri else "?"
            return RedirectResponse(f"{redirect_uri}{sep}{urlencode(query)}", status_code=302)

        if params.get("response_type") != "code":
            return back(error="unsupported_response_type")
        requested = frozenset(params.get("scope", "").split())
        if (
            not requested
            or not requested <= KNOWN_SCOPES
            or "marketplace.billing" in requested
            or (app.granular_only and requested & BROAD_SCOPES)
        ):
            return back(error="invalid_scope")
        challenge = params.get("code_challenge")
        method = params.get("code_challenge_method")
        if challenge is not None:
            # Xero supports S256 only; "plain" (also the RFC default when no method is sent) is refused.
            if method != "S256" or not _PKCE_CHARS.match(challenge):
                return back(error="invalid_request")
        elif app.client_secret is None:
            return back(error="invalid_request")  # a PKCE app must send a code challenge
        if self.consent_deny:
            return back(error="access_denied")
        tenants = self.consent_tenant_ids if self.consent_tenant_ids is not None else tuple(self.xero.tenants)
        tenants = tuple(t for t in tenants if t in self.xero.tenants)
        if not tenants:
            return back(error="access_denied")
        auth_event_id = str(uuid.uuid4())
        # Consent creates (or refreshes) the connections at once, as on login.xero.com.
        self._connect(app.client_id, self.user.user_id, tenants, auth_event_id)
        code = secrets.token_urlsafe(32)
        self.codes[code] = AuthCode(
            client_id=app.client_id,
            redirect_uri=redirect_uri,
            scopes=requested,
            auth_event_id=auth_event_id,
            expires_at=self.sandbox.clock.now() + timedelta(seconds=AUTH_CODE_SECONDS),
            code_challenge=challenge,
            nonce=params.get("nonce"),
        )
        return back(code=code, scope=" ".join(sorted(requested)), session_state=secrets.token_urlsafe(16))

    # ---- token endpoint ------------------------------------------------------------------------
    def client_from(self, request: Request, form: dict[str, str]) -> OAuthApp:
        """Client authentication: HTTP Basic, or client_id (+ client_secret) in the form."""
        header = request.headers.get("authorization", "")
        if header[:6].lower() == "basic ":
            try:
                decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError) as exc:
                raise OAuthError("invalid_client", 401) from exc
            client_id, sep, secret = decoded.partition(":")
            if not sep:
                raise OAuthError("invalid_client", 401)
            secret_given: str | None = secret
        else:
            client_id = form.get("client_id", "")
            secret_given = form.get("client_secret")
        app = self.apps.get(client_id)
        if app is None:
            raise OAuthError("invalid_client", 401)
        if app.client_secret is not None and not (
            secret_given and hmac.compare_digest(secret_given.encode(), app.client_secret.encode())
        ):
            raise OAuthError("invalid_client", 401)
        return app

    def token(self, request: Request, form: dict[str, str]) -> dict[str, Any]:
        app = self.client_from(request, form)  # the client is authenticated first, as IdentityServer does
        grant_type = form.get("grant_type")
        if not grant_type:
            raise OAuthError("invalid_request")
        issuer = str(request.base_url).rstrip("/")
        if grant_type == "authorization_code":
            return self._exchange_code(app, form, issuer)
        if grant_type == "refresh_token":
            return self._refresh(app, form, issuer)
        if grant_type == "client_credentials":
            return self._client_credentials(app, form, issuer)
        raise OAuthError("unsupported_grant_type")

    def _exchange_code(self, app: OAuthApp, form: dict[str, str], issuer: str) -> dict[str, Any]:
        if app.kind == "custom":
            raise OAuthError("unauthorized_client")
        raw = form.get("code")
        if not raw:
            raise OAuthError("invalid_request")
        code = self.codes.get(raw)
        if code is None or code.client_id != app.client_id:
            raise OAuthError("invalid_grant")
        # The code is consumed by its first presentation whatever follows (as IdentityServer does):
        # a wrong verifier or redirect_uri burns it too, so a guessing attacker gets one try.
        del self.codes[raw]
        if self.sandbox.clock.now() >= code.expires_at:
            raise OAuthError("invalid_grant")
        if form.get("redirect_uri") != code.redirect_uri:
            raise OAuthError("invalid_grant")
        if code.code_challenge is not None:
            verifier = form.get("code_verifier", "")
            if not _PKCE_CHARS.match(verifier) or not hmac.compare_digest(
                pkce_challenge(verifier), code.code_challenge
            ):
                raise OAuthError("invalid_grant")
        now = self.sandbox.clock.now()
        grant = Grant(
            grant_id=str(uuid.uuid4()),
            client_id=app.client_id,
            user_id=self.user.user_id,
            scopes=code.scopes,
            auth_event_id=code.auth_event_id,
            session_id=uuid.uuid4().hex,
            created=now,
        )
        self.grants[grant.grant_id] = grant
        return self._token_response(grant, issuer, nonce=code.nonce)

    def _token_response(self, grant: Grant, issuer: str, nonce: str | None = None) -> dict[str, Any]:
        access = self.issue_access_token(
            client_id=grant.client_id,
            tenant_ids=tuple(
                c.tenant_id
                for c in self.connections.values()
                if c.active and c.client_id == grant.client_id and c.owner == grant.user_id
            ),
            scopes=grant.scopes,
            user_id=grant.user_id,
            auth_event_id=grant.auth_event_id,
            grant_id=grant.grant_id,
            session_id=grant.session_id,
            issuer=issuer,
        )
        body: dict[str, Any] = {}
        if "openid" in grant.scopes:  # also on refresh, as IdentityServer does
            body["id_token"] = self._id_token(grant, issuer, nonce, access.token)
        body.update(
            {"access_token": access.token, "expires_in": ACCESS_TOKEN_SECONDS, "token_type": "Bearer"}
        )
        if "offline_access" in grant.scopes:
            body["refresh_token"] = self._new_refresh_token(grant)
        body["scope"] = " ".join(sorted(grant.scopes))
        return body

    def _id_token(self, grant: Grant, issuer: str, nonce: str | None, access_token: str) -> str:
        now = self.sandbox.clock.now()
        claims: dict[str, Any] = {
            "nbf": int(now.timestamp()),
            "exp": int(now.timestamp()) + ID_TOKEN_SECONDS,
            "iss": issuer,
            "aud": grant.client_id,
            "iat": int(now.timestamp()),
            "at_hash": _b64url(hashlib.sha256(access_token.encode("ascii")).digest()[:16]),
            "sid": grant.session_id,
            "sub": self.user.sub,
            "auth_time": int(grant.created.timestamp()),
            "xero_userid": self.user.user_id,
            "global_session_id": self.user.global_session_id,
        }
        if nonce:
            claims["nonce"] = nonce
        if "email" in grant.scopes:
            claims["email"] = self.user.email
            claims["preferred_username"] = self.user.email
        if "profile" in grant.scopes:
            claims["given_name"] = self.user.given_name
            claims["family_name"] = self.user.family_name
            claims["name"] = f"{self.user.given_name} {self.user.family_name}"
        return self._jwt(claims)

    def _new_refresh_token(self, grant: Grant) -> str:
        raw = secrets.token_hex(32)
        self.refresh_tokens[raw] = RefreshRecord(grant.grant_id, grant.client_id, self.sandbox.clock.now())
        return raw

    def _refresh(self, app: OAuthApp, form: dict[str, str], issuer: str) -> dict[str, Any]:
        raw = form.get("refresh_token")
        if not raw:
            raise OAuthError("invalid_request")
        record = self.refresh_tokens.get(raw)
        if record is None or record.client_id != app.client_id or record.superseded:
            raise OAuthError("invalid_grant")
        grant = self.grants[record.grant_id]
        now = self.sandbox.clock.now()
        if grant.revoked or now >= record.issued_at + timedelta(seconds=REFRESH_TOKEN_SECONDS):
            raise OAuthError("invalid_grant")
        requested = form.get("scope")
        if requested and not frozenset(requested.split()) <= grant.scopes:
            raise OAuthError("invalid_scope")
        if record.consumed_at is not None:
            # Rotation with a grace (docs/api-facts.md#xero-oauth-2-sign-in-and-tokens): a used token
            # may be exchanged again within 30 minutes, for a client whose refresh response was lost.
            # The retry gets a FRESH pair and the successor handed out before is retired: in the
            # lost-response case nobody holds it, so nothing is lost; when two refreshers raced, the
            # loser is left holding a dead token and gets invalid_grant on its next refresh, which is
            # the behaviour reported for unserialised refreshes. Once the successor has itself been
            # used, the first response evidently arrived, so the old token is dead for good.
            successor = self.refresh_tokens.get(record.successor or "")
            limit = self.refresh_grace_reuses
            if self.refresh_grace_clock == "wall" and record.consumed_wall is not None:
                past_grace = time.monotonic() - record.consumed_wall > REFRESH_GRACE_SECONDS
            else:
                past_grace = now - record.consumed_at > timedelta(seconds=REFRESH_GRACE_SECONDS)
            if (
                past_grace
                or (limit is not None and record.grace_reuses >= limit)
                or (successor is not None and successor.consumed_at is not None)
            ):
                raise OAuthError("invalid_grant")
            record.grace_reuses += 1
            if successor is not None:
                successor.superseded = True
        else:
            record.consumed_at = now
            record.consumed_wall = time.monotonic()
        body = self._token_response(grant, issuer)
        record.successor = body.get("refresh_token")
        return body

    def _client_credentials(self, app: OAuthApp, form: dict[str, str], issuer: str) -> dict[str, Any]:
        if app.kind != "custom" or app.tenant_id is None:
            raise OAuthError("unauthorized_client")
        requested = form.get("scope")
        scopes = frozenset(requested.split()) if requested else app.scopes
        if not scopes <= app.scopes:
            raise OAuthError("invalid_scope")
        conn = self._connection_index.get((app.client_id, None, app.tenant_id))
        if conn is None or not conn.active:
            raise OAuthError("unauthorized_client")  # the org disconnected the custom connection
        access = self.issue_access_token(
            client_id=app.client_id,
            tenant_ids=(app.tenant_id,),
            scopes=scopes,
            kind="custom",
            auth_event_id=conn.auth_event_id,
            grant_id=f"custom:{app.client_id}",
            issuer=issuer,
        )
        return {
            "access_token": access.token,
            "expires_in": ACCESS_TOKEN_SECONDS,
            "token_type": "Bearer",
            "scope": " ".join(sorted(scopes)),
        }

    def revoke(self, request: Request, form: dict[str, str]) -> None:
        """Revoke a refresh token's grant and remove the user's connections to this app."""
        app = self.client_from(request, form)
        raw = form.get("token")
        if not raw:
            raise OAuthError("invalid_request")
        record = self.refresh_tokens.get(raw)
        if record is None or record.client_id != app.client_id:
            return  # RFC 7009: an unknown token is not an error (access tokens are JWTs: not revocable)
        grant = self.grants[record.grant_id]
        grant.revoked = True
        now = self.sandbox.clock.now()
        for conn in self.connections.values():
            if conn.active and conn.client_id == app.client_id and conn.owner == grant.user_id:
                conn.active = False
                conn.updated = now

    # ---- admin views ---------------------------------------------------------------------------
    def summary(self) -> dict[str, Any]:
        now = self.sandbox.clock.now()
        live_refresh = sum(
            1
            for r in self.refresh_tokens.values()
            if not r.superseded
            and r.consumed_at is None
            and not self.grants[r.grant_id].revoked
            and now < r.issued_at + timedelta(seconds=REFRESH_TOKEN_SECONDS)
        )
        return {
            "user": {"xero_userid": self.user.user_id, "email": self.user.email},
            "consent": {"tenant_ids": self.consent_tenant_ids, "deny": self.consent_deny},
            "refresh_grace_reuses": self.refresh_grace_reuses,
            "refresh_grace_clock": self.refresh_grace_clock,
            "apps": len(self.apps),
            "grants": len(self.grants),
            "revoked_grants": sum(1 for g in self.grants.values() if g.revoked),
            "live_refresh_tokens": live_refresh,
            "live_access_tokens": sum(1 for t in self.access_tokens.values() if now < t.expires_at),
            "active_connections": sum(1 for c in self.connections.values() if c.active),
        }

    def admin_connection(self, conn: Connection) -> dict[str, Any]:
        out = self.connection_json(conn)
        out.update({"clientId": conn.client_id, "xeroUserId": conn.owner, "active": conn.active})
        return out


# ---- HTTP ------------------------------------------------------------------------------------
async def _form(request: Request) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body; a repeated parameter is invalid (RFC 6749 §3.2)."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "application/x-www-form-urlencoded":
        raise OAuthError("invalid_request")
    try:
        pairs = parse_qsl((await request.body()).decode("utf-8"), keep_blank_values=True)
    except UnicodeDecodeError as exc:
        raise OAuthError("invalid_request") from exc
    form: dict[str, str] = {}
    for key, value in pairs:
        if key in form:
            raise OAuthError("invalid_request")
        form[key] = value
    return form


def _note(request: Request, **notes: Any) -> None:
    record = request.scope.get("state", {}).get("call")
    if record is not None:
        record.notes.update(notes)


def routes(sandbox: Sandbox) -> list[BaseRoute]:
    identity = sandbox.xero.identity

    async def authorize(request: Request) -> Response:
        params = dict(request.query_params)
        return identity.authorize(params)

    async def token(request: Request) -> Response:
        grant_type = None
        try:
            form = await _form(request)
            grant_type = form.get("grant_type")
            body = identity.token(request, form)
        except OAuthError as exc:
            _note(request, grant_type=grant_type, oauth_error=exc.error)
            return oauth_error(exc.error, exc.status)
        _note(request, grant_type=grant_type)
        return JSONResponse(body, headers=_NO_STORE)

    async def revocation(request: Request) -> Response:
        try:
            identity.revoke(request, await _form(request))
        except OAuthError as exc:
            _note(request, oauth_error=exc.error)
            return oauth_error(exc.error, exc.status)
        return Response(status_code=200)

    async def connections(request: Request) -> Response:
        token = identity._bearer(request)
        if isinstance(token, Response):
            return token
        found = identity.connections_of(token)
        auth_event = request.query_params.get("authEventId")
        if auth_event:
            found = [c for c in found if c.auth_event_id == auth_event.strip().lower()]
        return JSONResponse([identity.connection_json(c) for c in found])

    async def delete_connection(request: Request) -> Response:
        token = identity._bearer(request)
        if isinstance(token, Response):
            return token
        wanted = request.path_params["id"].lower()
        if not any(c.id == wanted for c in identity.connections_of(token)):
            return PlainTextResponse("The resource you're looking for cannot be found", status_code=404)
        identity.disconnect(wanted)
        return Response(status_code=204)

    return [
        Route("/identity/connect/authorize", authorize, methods=["GET"]),
        Route("/connect/token", token, methods=["POST"]),
        Route("/connect/revocation", revocation, methods=["POST"]),
        # The official SDKs call /Connections, the docs /connections: Xero's paths are case-blind.
        Route("/connections", connections, methods=["GET"]),
        Route("/Connections", connections, methods=["GET"]),
        Route("/connections/{id}", delete_connection, methods=["DELETE"]),
        Route("/Connections/{id}", delete_connection, methods=["DELETE"]),
    ]


def admin_routes(sandbox: Sandbox) -> list[BaseRoute]:
    from sandbox.admin import AdminError, admin_error, read_json

    identity = sandbox.xero.identity

    async def apps(request: Request) -> Response:
        if request.method == "POST":
            try:
                spec = await read_json(request)
                app = identity.register_app(
                    name=str(spec.get("name", "sandbox app")),
                    kind=str(spec.get("kind", "web")),
                    redirect_uris=tuple(spec.get("redirect_uris", ())),
                    tenant_id=spec.get("tenant_id"),
                    scopes=frozenset(spec["scopes"]) if spec.get("scopes") is not None else None,
                    granular_only=bool(spec.get("granular_only", False)),
                )
            except (AdminError, TypeError, ValueError) as exc:
                return admin_error(str(exc))
            # Shown in full once, like the developer portal does when a secret is generated.
            return JSONResponse(app.as_dict(reveal_secret=True), status_code=201)
        reveal = request.query_params.get("reveal") == "secrets"
        return JSONResponse({"apps": [a.as_dict(reveal_secret=reveal) for a in identity.apps.values()]})

    async def consent(request: Request) -> Response:
        if request.method == "POST":
            try:
                spec = await read_json(request)
                tenants = spec.get("tenant_ids")
                if tenants is not None:
                    tenants = tuple(str(t).lower() for t in tenants)
                    unknown = [t for t in tenants if t not in sandbox.xero.tenants]
                    if unknown:
                        raise ValueError(f"unknown tenant(s): {unknown}")
                identity.consent_tenant_ids = tenants
                identity.consent_deny = bool(spec.get("deny", False))
            except (AdminError, TypeError, ValueError) as exc:
                return admin_error(str(exc))
        return JSONResponse(
            {
                "tenant_ids": identity.consent_tenant_ids,
                "deny": identity.consent_deny,
                "tenants": [
                    {"tenant_id": t.tenant_id, "name": t.name, "tenant_type": t.tenant_type}
                    for t in sandbox.xero.tenants.values()
                ],
            }
        )

    async def settings(request: Request) -> Response:
        if request.method == "POST":
            try:
                spec = await read_json(request)
                if "refresh_grace_reuses" in spec:
                    value = spec["refresh_grace_reuses"]
                    if value is not None and int(value) < 0:
                        raise ValueError("refresh_grace_reuses must be >= 0 or null (unlimited)")
                    identity.refresh_grace_reuses = None if value is None else int(value)
                if "refresh_grace_clock" in spec:
                    if spec["refresh_grace_clock"] not in ("sandbox", "wall"):
                        raise ValueError("refresh_grace_clock must be sandbox or wall")
                    identity.refresh_grace_clock = spec["refresh_grace_clock"]
            except (AdminError, TypeError, ValueError) as exc:
                return admin_error(str(exc))
        return JSONResponse(identity.summary())

    async def all_connections(request: Request) -> Response:
        return JSONResponse(
            {"connections": [identity.admin_connection(c) for c in identity.connections.values()]}
        )

    async def admin_disconnect(request: Request) -> Response:
        """The user removing the app under Settings → Connected apps in Xero."""
        if not identity.disconnect(request.path_params["id"]):
            return admin_error("no such active connection", 404)
        return Response(status_code=204)

    return [
        Route("/_sandbox/xero/apps", apps, methods=["GET", "POST"]),
        Route("/_sandbox/xero/consent", consent, methods=["GET", "POST"]),
        Route("/_sandbox/xero/identity", settings, methods=["GET", "POST"]),
        Route("/_sandbox/xero/connections", all_connections, methods=["GET"]),
        Route("/_sandbox/xero/connections/{id}", admin_disconnect, methods=["DELETE"]),
    ]


def fault_response(sandbox: Sandbox, kind: str, scope: Any) -> Response:
    """Injected 429/500/503 for identity.xero.com and api.xero.com/connections.

    The identity service's 429 body is undocumented: we send the OAuth-style
    ``{"error": "rate_limit_exceeded"}`` with a ``Retry-After`` of 5 sandbox seconds. /connections sits
    behind the same gateway as the Accounting API, so it also names the limit in
    ``X-Rate-Limit-Problem`` (docs/api-facts.md#xero-rate-limits). 500/503 are plain text, as Xero's
    gateway sends them.
    """
    connections = str(scope.get("path", "")).lower().startswith("/connections")
    if kind == "429":
        headers = {"Retry-After": str(sandbox.clock.retry_after(5))}
        if connections:
            headers["X-Rate-Limit-Problem"] = "minute"
        return JSONResponse({"error": "rate_limit_exceeded"}, status_code=429, headers=headers)
    if kind == "503":
        text = "The Xero API is currently offline for maintenance" if connections else "Service Unavailable"
        return PlainTextResponse(text, status_code=503)
    return PlainTextResponse("Internal Server Error", status_code=500 if kind == "500" else int(kind))
