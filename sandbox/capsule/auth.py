"""Bearer tokens (personal and OAuth-app) and the hourly per-user rate limit.

Facts: docs/api-facts.md#capsule-authentication, #capsule-rate-limits.
"""

from __future__ import annotations

import hashlib
import math
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING

from starlette.requests import Request

from sandbox.capsule.errors import CapsuleError

if TYPE_CHECKING:
    from sandbox.clock import SandboxClock

HOURLY_LIMIT = 4000  # 4,000 requests per user per hour (docs/api-facts.md#capsule-rate-limits)
WINDOW_SECONDS = 3600
ALL_SCOPES = frozenset({"read", "write", "user_preference"})


@dataclass(frozen=True)
class Token:
    token: str
    kind: str  # "personal" (My Preferences -> API Authentication Tokens) | "oauth" (a registered app)
    user_id: int
    client_id: str | None
    scopes: frozenset[str]

    def public(self) -> dict[str, object]:
        """What minting returns, shaped like Capsule's OAuth token response
        (docs/api-facts.md#capsule-authentication)."""
        return {
            "access_token": self.token,
            "token_type": "bearer",
            "scope": " ".join(sorted(self.scopes)),
            "client_id": self.client_id,
            "user_id": self.user_id,
        }


def personal_token_for(seed: int) -> str:
    """The demo user's personal access token: derived from the sandbox seed, so stable per seed."""
    return hashlib.sha256(f"capsule-xero-sandbox/{seed}/capsule-personal-token".encode()).hexdigest()


def unauthorized(message: str = "Invalid or expired access token") -> CapsuleError:
    # docs/api-facts.md#capsule-authentication, #where-the-facts-are-uncertain: 401 carries
    # WWW-Authenticate plus a body with detail; the exact body Capsule sends is not published [?],
    # so this {"message": ...} shape is the emulator's assumption.
    return CapsuleError(401, {"message": message}, {"WWW-Authenticate": 'Bearer error="invalid_token"'})


def forbidden(message: str) -> CapsuleError:
    # A valid token lacking a scope gets 403 with detail and WWW-Authenticate [body shape ?]
    # (docs/api-facts.md#capsule-authentication).
    return CapsuleError(403, {"message": message}, {"WWW-Authenticate": 'Bearer error="insufficient_scope"'})


class Tokens:
    def __init__(self) -> None:
        self.by_token: dict[str, Token] = {}

    def add(self, token: Token) -> Token:
        self.by_token[token.token] = token
        return token

    def mint_app_token(self, user_id: int, client_id: str, scopes: frozenset[str]) -> Token:
        unknown = scopes - ALL_SCOPES
        if unknown:
            raise ValueError(f"unknown scope(s) {sorted(unknown)}; known: {sorted(ALL_SCOPES)}")
        return self.add(Token(secrets.token_hex(32), "oauth", user_id, client_id, scopes))

    def authenticate(self, request: Request) -> Token:
        scheme, _, raw = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not raw.strip():
            raise unauthorized("Authorization header with a Bearer token is required")
        token = self.by_token.get(raw.strip())
        if token is None:
            raise unauthorized()
        return token


class RateLimiter:
    """A fixed window per user on the sandbox clock, aligned to whole windows since the epoch."""

    def __init__(self, clock: SandboxClock, limit: int = HOURLY_LIMIT, window: int = WINDOW_SECONDS) -> None:
        self.clock = clock
        self.limit = limit
        self.window = window
        self._used: dict[int, tuple[int, int]] = {}  # user id -> (window start, calls counted)

    def configure(self, limit: int | None = None, window: int | None = None) -> None:
        if limit is not None:
            if limit < 0:
                raise ValueError("limit must be >= 0")
            self.limit = limit
        if window is not None:
            if window <= 0:
                raise ValueError("window must be > 0")
            self.window = window
            self._used.clear()

    def _window(self) -> int:
        return math.floor(self.clock.timestamp() / self.window) * self.window

    def _count(self, user_id: int | None, start: int) -> int:
        if user_id is None:
            return 0
        window_start, used = self._used.get(user_id, (start, 0))
        return used if window_start == start else 0

    def headers(self, user_id: int | None, remaining: int | None = None) -> dict[str, str]:
        start = self._window()
        if remaining is None:
            remaining = max(0, self.limit - self._count(user_id, start))
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": str(start + self.window),
        }

    def hit(self, user_id: int) -> tuple[bool, dict[str, str]]:
        """Count one call; ``(allowed, headers)``. A refused call is not counted."""
        start = self._window()
        used = self._count(user_id, start)
        if used >= self.limit:
            return False, self.headers(user_id, remaining=0)
        self._used[user_id] = (start, used + 1)
        return True, self.headers(user_id, remaining=self.limit - used - 1)

    def status(self) -> dict[str, object]:
        start = self._window()
        return {
            "limit": self.limit,
            "window_seconds": self.window,
            "reset": start + self.window,
            "used": {str(user): used for user, (ws, used) in self._used.items() if ws == start},
        }
