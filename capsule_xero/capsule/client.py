"""The one httpx client for the Capsule API, used by the ContactID write-back and the polling sensor.

- Base URL from ``CAPSULE_API_URL``; ``Authorization: Bearer`` is added to each request as it leaves
  (``CapsuleBearer``, which prints as ``CapsuleBearer(***)``), so no header, log line or repr holds
  the token (docs/api-facts.md#capsule-authentication).
- Every call goes through the shared ``CapsulePacer`` of that Capsule user (capsule_xero/capsule/pacing.py):
  one hourly budget for every caller in the process, 429s waited out, 5xx and dropped connections
  retried when the call is safe to repeat.
- A 4xx other than 429 raises ``CapsuleRequestRejected`` with Capsule's own words and what to fix
  (capsule_xero/capsule/errors.py); the pacer raises ``CapsuleRateLimitReached`` and
  ``CapsuleUnavailable``: every failure is a ``CapsuleError``.

The dlt extractor stays on dlt's ``RESTClient`` (requests) but uses the same pieces: ``token_text``
for its bearer auth, the shared pacer and ``rejection`` (pipelines/capsule/helpers.py).
"""

from __future__ import annotations

from collections.abc import Generator, Mapping
from typing import TYPE_CHECKING, Any

import httpx
from pydantic import SecretStr

from capsule_xero.capsule.errors import rejection
from capsule_xero.capsule.pacing import RETRY_SAFE_METHODS, CapsulePacer, shared_pacer

if TYPE_CHECKING:
    from capsule_xero.settings import Settings

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)


def token_text(token: SecretStr | str) -> str:
    """The raw token, for the Authorization header and for cutting it out of error text; never log it."""
    return token.get_secret_value() if isinstance(token, SecretStr) else str(token)


class CapsuleBearer(httpx.Auth):
    """Bearer auth for a personal access token or an OAuth access token."""

    def __init__(self, token: SecretStr | str) -> None:
        self._token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {token_text(self._token)}"
        yield request

    def __repr__(self) -> str:
        return "CapsuleBearer(***)"

    __str__ = __repr__


class CapsuleClient:
    """Paced, authorised calls to one Capsule account; use as a context manager (or ``close()``).

    ``pacer`` defaults to the process-wide one of this Capsule user; ``pacer_options`` apply only when
    that pacer is created. ``transport`` is for tests."""

    def __init__(
        self,
        api_url: str,
        token: SecretStr | str,
        *,
        pacer: CapsulePacer | None = None,
        pacer_options: Mapping[str, Any] | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        transport: httpx.BaseTransport | None = None,
        user_agent: str = "capsule-xero",
    ) -> None:
        self.api_url = api_url
        self.pacer = pacer or shared_pacer(api_url, token, **dict(pacer_options or {}))
        self._secrets = (token_text(token),)
        self.http = httpx.Client(
            base_url=api_url,
            auth=CapsuleBearer(token),
            transport=transport,
            timeout=timeout,
            headers={"Accept": "application/json", "User-Agent": user_agent},
        )

    @classmethod
    def of(cls, settings: Settings, **options: Any) -> CapsuleClient:
        """The client for the account in ``CAPSULE_API_URL`` / ``CAPSULE_API_TOKEN``."""
        return cls(settings.capsule_api_url, settings.capsule_api_token, **options)

    def request(
        self, method: str, path: str, *, idempotent: bool | None = None, **kwargs: Any
    ) -> httpx.Response:
        """Send one call under the pacer; returns a 1xx-3xx answer, raises a ``CapsuleError`` otherwise.

        ``idempotent`` says whether the call may be sent again after a timeout, a drop or a 5xx
        (default: only for GET, HEAD and OPTIONS)."""
        method = method.upper()
        what = f"{method} /{path.lstrip('/')}"
        repeatable = method in RETRY_SAFE_METHODS if idempotent is None else idempotent
        response: httpx.Response = self.pacer.call(
            lambda: self.http.request(method, path, **kwargs), idempotent=repeatable, what=what
        )
        if response.status_code >= 400:
            raise rejection(
                response.status_code, response.reason_phrase, response.text, what, self.api_url, self._secrets
            )
        return response

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> CapsuleClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"CapsuleClient({self.api_url!r})"
