"""Xero identity: OAuth clients, tokens and connections; and how accounting calls authenticate.

FIRST SLICE (the lead's): access tokens, ``authenticate`` and the 401/403 bodies. The identity
owner extends this file with the token endpoint, authorisation-code + PKCE, refresh rotation,
client_credentials, revocation and /connections, keeping ``authenticate``'s signature.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

if TYPE_CHECKING:
    from sandbox.app import Sandbox
    from sandbox.xero.state import XeroState

ACCESS_TOKEN_SECONDS = 30 * 60  # FACTS §12: access tokens live 30 minutes
DEFAULT_SCOPES = frozenset(
    {"openid", "profile", "email", "offline_access", "accounting.contacts", "accounting.settings.read"}
)


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


@dataclass(frozen=True)
class AuthContext:
    tenant_id: str
    scopes: frozenset[str]
    client_id: str
    kind: str


def problem(status: int, title: str, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """Xero's 401/403 body: problem-details style with a null Type (FACTS §4)."""
    body = {
        "Type": None,
        "Title": title,
        "Status": status,
        "Detail": detail,
        "Instance": str(uuid.uuid4()),
        "Extensions": {},
    }
    return JSONResponse(body, status_code=status, headers=headers)


class IdentityState:
    def __init__(self, sandbox: Sandbox, xero: XeroState) -> None:
        self.sandbox = sandbox
        self.xero = xero
        self.access_tokens: dict[str, AccessToken] = {}

    def issue_access_token(
        self,
        *,
        client_id: str = "sandbox-client",
        tenant_ids: tuple[str, ...] | None = None,
        scopes: frozenset[str] = DEFAULT_SCOPES,
        kind: str = "user",
    ) -> AccessToken:
        tenants = tenant_ids if tenant_ids is not None else tuple(self.xero.tenants)
        token = AccessToken(
            token=secrets.token_urlsafe(48),
            client_id=client_id,
            tenant_ids=tenants,
            scopes=frozenset(scopes),
            expires_at=self.sandbox.clock.now() + timedelta(seconds=ACCESS_TOKEN_SECONDS),
            kind=kind,
        )
        self.access_tokens[token.token] = token
        return token

    def authenticate(
        self, request: Request, any_of_scopes: set[str] | frozenset[str]
    ) -> AuthContext | Response:
        """Who is calling and for which organisation, or the exact error Xero would send."""
        header = request.headers.get("authorization", "")
        scheme, _, raw = header.partition(" ")
        token = self.access_tokens.get(raw.strip()) if scheme.lower() == "bearer" else None
        if token is None:
            return problem(401, "Unauthorized", "AuthenticationUnsuccessful")
        if self.sandbox.clock.now() >= token.expires_at:
            stamp = token.expires_at.strftime("%m/%d/%Y %H:%M:%S")
            return problem(401, "Unauthorized", f"TokenExpired: token expired at {stamp}")
        if any_of_scopes and not (token.scopes & set(any_of_scopes)):
            return problem(
                401,
                "Unauthorized",
                "AuthenticationUnsuccessful",
                headers={"WWW-Authenticate": "insufficient_scope"},
            )
        tenant_header = request.headers.get("xero-tenant-id")
        if token.kind == "custom":
            # Custom connections serve exactly one org and need no xero-tenant-id (FACTS §12);
            # a header naming another org is still refused.
            tenant_id = token.tenant_ids[0]
            if tenant_header and tenant_header.strip().lower() != tenant_id:
                return problem(403, "Forbidden", "AuthenticationUnsuccessful")
        else:
            tenant_id = (tenant_header or "").strip().lower()
            if tenant_id not in token.tenant_ids or tenant_id not in self.xero.tenants:
                return problem(403, "Forbidden", "AuthenticationUnsuccessful")
        return AuthContext(tenant_id, token.scopes, token.client_id, token.kind)

    def demo_env(self) -> dict[str, str]:
        return {}


def routes(sandbox: Sandbox) -> list:
    return []


def admin_routes(sandbox: Sandbox) -> list:
    return []


def fault_response(sandbox: Sandbox, kind: str, scope: Any) -> Response:
    if kind == "429":
        return JSONResponse({"error": "rate_limit_exceeded"}, status_code=429, headers={"Retry-After": "1"})
    return PlainTextResponse(
        "Service Unavailable" if kind == "503" else "Internal Server Error", status_code=int(kind)
    )
