"""The Xero writer's connection: one httpx client through the shared authorisation and pacing, fresh
Idempotency-Keys, and reading Xero's answers and errors (facts: docs/api-facts.md#xero-errors).
Nothing here logs a token."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import httpx

from capsule_xero.settings import Settings
from capsule_xero.xero.auth import XeroAuth, XeroHttpxAuth
from capsule_xero.xero.budget import budget_file_in
from capsule_xero.xero.pacing import PacingPolicy, XeroUnavailable
from capsule_xero.xero.transports import PacedTransport

IDEMPOTENCY_KEY_MAX = 128  # docs/api-facts.md#xero-idempotency-keys
TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})


class XeroWriteError(Exception):
    """A whole request was refused in a way no retry can fix (401/403/404...): the run must stop."""


def now_utc() -> datetime:
    return datetime.now(UTC)


def fold(number: str) -> str:
    """A ContactNumber or group name as Xero compares it: no surrounding spaces, any case."""
    return number.strip().casefold()


def messages(item: Mapping[str, Any], key: str = "ValidationErrors") -> list[str]:
    """Xero's messages of one answer element (``ValidationErrors`` or ``Warnings``)."""
    out = []
    for error in item.get(key) or ():
        if isinstance(error, Mapping):
            text = error.get("Message") or error.get("Description")
            if text:
                out.append(str(text))
    return out


def json_body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def problem(response: httpx.Response) -> str:
    """A whole-request error as one line: Xero's message, else the status."""
    body = json_body(response)
    if isinstance(body, Mapping):
        for key in ("Message", "Detail", "Title", "message"):
            if body.get(key):
                return f"HTTP {response.status_code}: {body[key]}"
    text = response.text.strip()[:200] if response.text else ""
    return f"HTTP {response.status_code}" + (f": {text}" if text else "")


class XeroSession:
    """The client every part of the writer sends through. ``transport`` is the inner httpx transport
    (tests may pass one); every call still goes through the organisation's shared pacer."""

    def __init__(
        self,
        settings: Settings,
        auth: XeroAuth,
        *,
        transport: httpx.BaseTransport | None,
        policy: PacingPolicy | None,
        key_prefix: str,
        now: Callable[[], datetime],
    ) -> None:
        if len(key_prefix) > 64:
            raise ValueError("key_prefix must be at most 64 characters (Idempotency-Key max 128)")
        self.key_prefix = key_prefix
        self.now = now
        self.policy = policy or PacingPolicy()
        self.http = httpx.Client(
            base_url=settings.xero_api_url,
            transport=PacedTransport(
                transport,
                policy=policy,
                budget_file=budget_file_in(settings.home),
                calls_folder=settings.xero_token_home,
            ),
            auth=XeroHttpxAuth(auth),
            # httpx always sets a timeout on the request, so the policy's is given here.
            timeout=httpx.Timeout(self.policy.read_timeout, connect=self.policy.connect_timeout),
            headers={"Accept": "application/json", "User-Agent": "capsule-xero (reverse-etl)"},
        )

    def close(self) -> None:
        self.http.close()

    def new_key(self) -> str:
        return f"{self.key_prefix}{uuid.uuid4()}"[:IDEMPOTENCY_KEY_MAX]

    def get(
        self,
        path: str,
        params: Mapping[str, str] | None,
        headers: Mapping[str, str] | None = None,
        allow_404: bool = False,
    ) -> httpx.Response:
        response = self.http.get(path, params=params, headers=headers)
        if response.status_code == 200 or (allow_404 and response.status_code == 404):
            return response
        if response.status_code in TRANSIENT_STATUSES:
            raise XeroUnavailable(f"GET {path} kept failing ({problem(response)}); try again later.")
        raise XeroWriteError(f"GET {path} was refused ({problem(response)})")
