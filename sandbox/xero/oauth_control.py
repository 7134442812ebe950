"""Python helpers for the Xero stand-in's identity and webhook admin routes (tests, demos, REPL).

``XeroIdentityControl(server.xero_url)`` registers apps, sets what the sandbox user consents to,
plays the user's browser on the authorize page, and configures/inspects the app's webhook.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx


@dataclass(frozen=True)
class Pkce:
    verifier: str
    challenge: str
    method: str = "S256"


def pkce_pair() -> Pkce:
    """A fresh PKCE verifier (64 chars) and its S256 challenge."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=")
    return Pkce(verifier, challenge.decode("ascii"))


class XeroIdentityControl:
    def __init__(self, base_url: str, timeout: float = 60.0) -> None:
        self.base_url = base_url.rstrip("/")
        # trust_env=False: the sandbox is on loopback, never reach it through a proxy.
        self.http = httpx.Client(base_url=self.base_url, timeout=timeout, trust_env=False)

    def _json(self, response: httpx.Response) -> Any:
        if response.status_code >= 400:
            raise RuntimeError(
                f"sandbox control {response.request.url.path}: {response.status_code} {response.text}"
            )
        return response.json() if response.content else None

    # ---- apps and consent ------------------------------------------------------------------
    def apps(self, reveal_secrets: bool = False) -> list[dict[str, Any]]:
        params = {"reveal": "secrets"} if reveal_secrets else {}
        return self._json(self.http.get("/_sandbox/xero/apps", params=params))["apps"]

    def app(self, kind: str) -> dict[str, Any]:
        """The first registered app of ``kind`` ("web" = the demo app, "custom"), secret included."""
        return next(a for a in self.apps(reveal_secrets=True) if a["kind"] == kind)

    def register_app(
        self,
        name: str = "test app",
        kind: str = "web",
        redirect_uris: list[str] | None = None,
        tenant_id: str | None = None,
        scopes: list[str] | None = None,
        granular_only: bool = False,
    ) -> dict[str, Any]:
        spec: dict[str, Any] = {"name": name, "kind": kind, "granular_only": granular_only}
        if redirect_uris is not None:
            spec["redirect_uris"] = redirect_uris
        if tenant_id is not None:
            spec["tenant_id"] = tenant_id
        if scopes is not None:
            spec["scopes"] = scopes
        return self._json(self.http.post("/_sandbox/xero/apps", json=spec))

    def consent(self, tenant_ids: list[str] | None = None, deny: bool = False) -> dict[str, Any]:
        """What the sandbox user grants on the next authorize: these tenants (None: all), or deny."""
        return self._json(
            self.http.post("/_sandbox/xero/consent", json={"tenant_ids": tenant_ids, "deny": deny})
        )

    def tenants(self) -> list[dict[str, Any]]:
        return self._json(self.http.get("/_sandbox/xero/consent"))["tenants"]

    def identity(self, **settings: Any) -> dict[str, Any]:
        """Summary of grants/tokens/connections; ``refresh_grace_reuses=`` and ``refresh_grace_clock=``
        (``"sandbox"`` or ``"wall"``: the clock the 30-minute grace is measured on) change those settings."""
        if settings:
            return self._json(self.http.post("/_sandbox/xero/identity", json=settings))
        return self._json(self.http.get("/_sandbox/xero/identity"))

    def connections(self) -> list[dict[str, Any]]:
        """Every connection of every app and user, active or not (admin view)."""
        return self._json(self.http.get("/_sandbox/xero/connections"))["connections"]

    def disconnect(self, connection_id: str) -> None:
        """The user removing the app in Xero (Settings → Connected apps)."""
        self._json(self.http.delete(f"/_sandbox/xero/connections/{connection_id}"))

    # ---- the user's browser ----------------------------------------------------------------
    def authorize(
        self,
        client_id: str,
        redirect_uri: str,
        scope: str,
        state: str | None = None,
        pkce: Pkce | None = None,
        **extra: str,
    ) -> dict[str, str]:
        """Open the authorize page as the sandbox user; return the redirect's query (code/state or error).

        Raises ``RuntimeError`` when Xero shows an error page instead of redirecting.
        """
        params: dict[str, str] = {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "scope": scope,
            **extra,
        }
        if state is not None:
            params["state"] = state
        if pkce is not None:
            params["code_challenge"] = pkce.challenge
            params["code_challenge_method"] = pkce.method
        response = self.http.get("/identity/connect/authorize", params=params, follow_redirects=False)
        if response.status_code != 302:
            raise RuntimeError(f"authorize page answered {response.status_code} instead of redirecting")
        location = response.headers["location"]
        if not location.startswith(redirect_uri):
            raise RuntimeError("authorize redirected somewhere other than the redirect URI")
        return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}

    # ---- webhooks --------------------------------------------------------------------------
    def configure_webhook(self, url: str, key: str | None = None, **options: Any) -> dict[str, Any]:
        """Set the app's webhook (runs Intent to Receive); the answer includes the signing key."""
        spec: dict[str, Any] = {"url": url, **options}
        if key is not None:
            spec["key"] = key
        return self._json(self.http.post("/_sandbox/xero/webhooks", json=spec))

    def webhook(self) -> dict[str, Any]:
        return self._json(self.http.get("/_sandbox/xero/webhooks"))

    def enable_webhook(self) -> dict[str, Any]:
        return self._json(self.http.post("/_sandbox/xero/webhooks/enable"))

    def remove_webhook(self) -> None:
        self._json(self.http.delete("/_sandbox/xero/webhooks"))

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> XeroIdentityControl:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
