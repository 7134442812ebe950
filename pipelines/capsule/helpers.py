"""Capsule's API quirks as small classes for dlt's RESTClient: bearer auth, the page paginator, the paced session.

- ``CapsuleAuth``: ``Authorization: Bearer`` from a ``SecretStr``; prints as ``CapsuleAuth(***)``.
  The header is added when the request is prepared, so dlt's request logging never shows it.
- ``CapsulePaginator``: ``page``/``perPage=100``; another page exists while the ``Link`` header
  has ``rel="next"`` (docs/api-facts.md#capsule-paging). The link's URL is never followed: Capsule
  does not document that it keeps ``since``/``embed`` in it, so the next request is this one with
  ``page + 1``. The header itself is parsed by requests (``Response.links``), which splits entries on
  ``, <`` and so copes with the raw commas of ``embed=tags,fields`` inside a URL (tested).
- ``PacedSession``: a ``requests.Session`` whose every send goes through the shared
  ``CapsulePacer`` (rate limit, retries) and whose 4xx answers become ``CapsuleRequestRejected``
  with a message naming what to fix.

- ``CapsuleConnection``: settings, pacer and RESTClient of one source, resolved at the first request.

The token, the pacer and the error mapping are the ground's (capsule_xero/capsule/), shared with the
httpx ``CapsuleClient`` the write-back and the polling sensor use; only the requests plumbing is here,
with the shaping of records as stored.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import requests
from dlt.sources.helpers.rest_client import RESTClient
from dlt.sources.helpers.rest_client.paginators import BasePaginator
from pydantic import SecretStr
from requests.auth import AuthBase
from requests.hooks import default_hooks, dispatch_hook

from capsule_xero.capsule.client import token_text
from capsule_xero.capsule.errors import CapsuleRequestRejected, rejection
from capsule_xero.capsule.pacing import RETRY_SAFE_METHODS, CapsulePacer, shared_pacer
from capsule_xero.settings import Settings
from pipelines.capsule.settings import PER_PAGE, REQUEST_TIMEOUT
from pipelines.xero.helpers import ExactRESTClient


class CapsuleAuth(AuthBase):
    """Bearer auth for a personal access token or an OAuth access token (docs/api-facts.md#capsule-authentication)."""

    def __init__(self, token: SecretStr | str) -> None:
        self._token = token  # revealed only into the header, never into text

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {token_text(self._token)}"
        return request

    def __repr__(self) -> str:
        return "CapsuleAuth(***)"

    __str__ = __repr__


class CapsulePaginator(BasePaginator):
    """``page`` + ``perPage``; more pages while ``Link`` carries ``rel="next"``."""

    def __init__(self, per_page: int = PER_PAGE) -> None:
        super().__init__()
        self.per_page = per_page
        self.page = 1

    def init_request(self, request: requests.Request) -> None:
        self.page = 1
        request.params = {**(request.params or {}), "page": self.page, "perPage": self.per_page}

    def update_state(self, response: requests.Response, data: list[Any] | None = None) -> None:
        # An empty page ends paging even if a (buggy) next link says otherwise: no endless loops.
        self._has_next_page = has_next_page(response) and bool(data)

    def update_request(self, request: requests.Request) -> None:
        self.page += 1
        request.params = {**(request.params or {}), "page": self.page}

    def __str__(self) -> str:
        return f"CapsulePaginator(page={self.page}, perPage={self.per_page})"


def has_next_page(response: requests.Response) -> bool:
    """``rel="next"`` in ``Link`` (docs/api-facts.md#capsule-paging); no Link, or no next entry, means the last page."""
    return "next" in response.links


class PacedSession(requests.Session):
    """Every request goes through the pacer; 4xx answers (other than 429) raise at once."""

    def __init__(
        self,
        pacer: CapsulePacer,
        *,
        timeout: float | tuple[float, float] = REQUEST_TIMEOUT,
        secrets: Iterable[str] = (),
        api_url: str = "",
    ) -> None:
        super().__init__()
        self.pacer = pacer
        self.timeout = timeout
        self._secrets = tuple(s for s in secrets if s)
        self.api_url = api_url
        self.headers.update({"Accept": "application/json", "User-Agent": "capsule-xero (dlt)"})

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        method = (request.method or "GET").upper()
        what = f"{method} {_path_of(request.url or '')}"
        # Response hooks (dlt's RESTClient adds one that raises on any error status) run once, on the
        # final answer, not inside the retry loop where they would turn a 503 into a hard failure.
        hooks, request.hooks = request.hooks, default_hooks()
        parent_send = super().send
        try:
            response = self.pacer.call(
                lambda: parent_send(request, **kwargs), what=what, idempotent=method in RETRY_SAFE_METHODS
            )
        finally:
            request.hooks = hooks
        if response.status_code >= 400:
            raise rejection(
                response.status_code, response.reason or "", response.text, what, self.api_url, self._secrets
            )
        return dispatch_hook("response", hooks, response, **kwargs)  # type: ignore[no-any-return]


def _path_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def make_client(
    api_url: str,
    token: SecretStr | str,
    pacer: CapsulePacer,
    *,
    timeout: float | tuple[float, float] = REQUEST_TIMEOUT,
    per_page: int = PER_PAGE,
) -> RESTClient:
    session = PacedSession(pacer, timeout=timeout, secrets=[token_text(token)], api_url=api_url)
    # An opportunity's value is a JSON number (``"amount": 1234.5``): read as a Decimal, as Xero's are.
    return ExactRESTClient(
        base_url=api_url, auth=CapsuleAuth(token), paginator=CapsulePaginator(per_page), session=session
    )


class CapsuleConnection:
    """Settings, pacer and REST client, resolved at the first request (not when the source is
    built, so Dagster can load definitions before any credential is set)."""

    def __init__(
        self,
        settings: Settings | None,
        pacer: CapsulePacer | None,
        timeout: float | tuple[float, float],
        per_page: int,
        on_page: Callable[[], None] | None = None,
    ) -> None:
        self._on_page = on_page
        self._settings = settings
        self._pacer = pacer
        self._timeout = timeout
        self._per_page = per_page
        self._client: RESTClient | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = Settings.from_env()
        return self._settings

    @property
    def pacer(self) -> CapsulePacer:
        if self._pacer is None:
            s = self.settings
            self._pacer = shared_pacer(s.capsule_api_url, s.capsule_api_token)
        return self._pacer

    @property
    def client(self) -> RESTClient:
        if self._client is None:
            s = self.settings
            if not s.capsule_api_token:
                raise CapsuleRequestRejected(
                    401,
                    "CAPSULE_API_TOKEN is not set. Create a personal access token in Capsule "
                    "(My Preferences → API Authentication Tokens) and set CAPSULE_API_TOKEN to it.",
                )
            self._client = make_client(
                s.capsule_api_url,
                s.capsule_api_token,
                self.pacer,
                timeout=self._timeout,
                per_page=self._per_page,
            )
        return self._client

    def pages(self, path: str, key: str, params: dict[str, Any] | None = None) -> Iterator[Any]:
        for page in self.client.paginate(path, params=params or {}, data_selector=key):
            if self._on_page is not None:
                self._on_page()
            yield page


# ---- record shaping ----------------------------------------------------------------------------------
def field_value_text(value: Any) -> str | None:
    """A custom-field value as text: Capsule returns numbers as strings (and sometimes numbers),
    booleans as JSON booleans, dates as ``YYYY-MM-DD`` (docs/api-facts.md#capsule-custom-fields-and-tags). One text column avoids a new
    variant column every time a value of another type turns up; the definition's ``type`` (in
    capsule_party_field_definitions) says how to read it."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, Decimal):  # a JSON number with a fraction (make_client reads them exactly)
        return str(int(value)) if value == value.to_integral_value() else format(value, "f")
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    return str(value)


def without_nulls(record: dict[str, Any]) -> dict[str, Any]:
    """Drop top-level ``null``s: a null nested object (``"kase": null``) would otherwise become a
    typeless column dlt warns about on every run; declared columns exist regardless (settings.py)."""
    return {key: value for key, value in record.items() if value is not None}


def shaped(record: dict[str, Any]) -> dict[str, Any]:
    """A record as stored: no top-level nulls, custom-field values as text."""
    return with_text_field_values(without_nulls(record))


def with_text_field_values(record: dict[str, Any]) -> dict[str, Any]:
    fields = record.get("fields")
    if isinstance(fields, list):
        record["fields"] = [
            {**f, "value": field_value_text(f.get("value"))} if isinstance(f, dict) else f for f in fields
        ]
    return record


def tombstone(row: dict[str, Any]) -> dict[str, Any]:
    return {"id": row["id"], "deletedAt": row.get("deletedAt"), "restricted": False}


def restricted(row: dict[str, Any]) -> dict[str, Any]:
    """A record the user can no longer see: only its id and type are real (names say "Private")."""
    return {"id": row["id"], "deletedAt": None, "restricted": True, "type": row.get("type")}
