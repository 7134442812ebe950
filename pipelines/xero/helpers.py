"""The Xero API for dlt's RESTClient: auth, errors, and the client of one run.

- ``XeroRequestsAuth``: the bearer token and ``xero-tenant-id`` of the shared ``XeroAuth``
  (capsule_xero/xero/auth.py), with one forced refresh when Xero says the token expired.
- ``describe_error``: a failed call as a message a person can act on, in Xero's own words
  (``capsule_xero.xero.errors``; docs/api-facts.md#xero-errors).
- ``XeroApi``: the paced RESTClient of one extract (capsule_xero/xero/transports.py), built at the
  first request; ``XeroRun``: what the extract did.

Records, paging and drift are in records.py, paging.py and drift.py beside this file.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import requests
from dlt.sources.helpers.rest_client.client import RESTClient
from dlt.sources.helpers.rest_client.paginators import BasePaginator, SinglePagePaginator
from requests.auth import AuthBase

from capsule_xero.settings import Settings
from capsule_xero.xero.auth import XeroAuth, XeroAuthError, fresh_token_may_help
from capsule_xero.xero.budget import budget_file_in
from capsule_xero.xero.errors import (
    DailyLimitReached,
    MissingScope,
    error_message,
    missing_scope,
    problem_detail,
)
from capsule_xero.xero.transports import paced_session
from pipelines.xero.settings import XeroExtractConfig

log = logging.getLogger("pipelines.xero")

# ---- authorisation -------------------------------------------------------------------------


class XeroRequestsAuth(AuthBase):
    """Bearer token + ``xero-tenant-id`` on every request, from the shared ``XeroAuth``.

    ``XeroAuth.headers()`` refreshes (once, across processes) when the stored token is about to
    expire. When Xero refuses the token with a 401 a refresh may cure (``fresh_token_may_help``:
    expired, replaced elsewhere, or revoked) the request is sent once more with a forced refresh,
    unless another caller already refreshed, in which case its token is used. A second 401, a
    missing scope or a 403 is left to the error handler.
    """

    def __init__(self, auth: XeroAuth) -> None:
        self.auth = auth
        self.forced_refreshes = 0

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers.update(self.auth.headers())
        request.register_hook("response", self._retry_expired_token)
        return request

    def _retry_expired_token(self, response: requests.Response, **kwargs: Any) -> requests.Response | None:
        if not fresh_token_may_help(response.status_code, response.headers.get("WWW-Authenticate", "")):
            return None
        sent = response.request
        if getattr(sent, "_xero_token_retried", False):
            return None
        headers = self.auth.headers()
        if headers.get("Authorization") == sent.headers.get("Authorization"):
            headers = self.auth.headers(force_refresh=True)
            self.forced_refreshes += 1
        retry = sent.copy()
        retry.headers.update(headers)
        retry._xero_token_retried = True  # type: ignore[attr-defined]
        response.close()
        again = response.connection.send(retry, **kwargs)
        again.history.append(response)
        again.request = retry
        return again


# ---- errors ----------------------------------------------------------------------------------


class XeroAccessDenied(XeroAuthError):
    """Xero refused the credentials (401 other than an expired token, or 403); the message says what to fix."""


class XeroMissingScope(MissingScope, XeroAccessDenied):
    """A 401 insufficient_scope: names the scope the endpoint needs and `capsule-xero auth login`."""


class XeroApiError(requests.HTTPError):
    """Xero answered an error that retrying cannot fix; the message quotes Xero's own words."""


def describe_error(response: requests.Response) -> Exception:
    """A plain-language error for a failed Xero call; never carries a header or a token."""
    status = response.status_code
    request = response.request
    path = requests.utils.urlparse(request.url or "").path if request is not None else ""
    method = (request.method or "GET") if request is not None else "GET"
    tenant = request.headers.get("xero-tenant-id") if request is not None else None
    org = f"organisation {tenant}" if tenant else "the organisation of this custom connection"
    detail = problem_detail(response.text)
    if status == 401:
        scope = missing_scope(status, response.headers.get("WWW-Authenticate", ""), method, path)
        if scope is not None:
            return XeroMissingScope(scope.method, scope.path, scope.scope)
        if "TokenExpired" in detail:
            return XeroAccessDenied(
                "Xero still says the access token expired right after a refresh (401 TokenExpired): "
                "check this machine's clock, then run `capsule-xero auth login` if it persists."
            )
        return XeroAccessDenied(
            f"Xero did not accept the access token (401 {detail or 'Unauthorized'}): sign in again with "
            "`capsule-xero auth login` (for a custom connection, check XERO_CLIENT_ID and XERO_CLIENT_SECRET)."
        )
    if status == 403:
        return XeroAccessDenied(
            f"Xero refused access to {org} (403 {detail or 'Forbidden'}): the organisation is not "
            "connected to this app (disconnected, wrong XERO_TENANT_ID, the user lost access, or the "
            "subscription ended). Check XERO_TENANT_ID, or reconnect with `capsule-xero auth login`."
        )
    if status == 429 or status >= 500:
        return XeroApiError(
            f"Xero kept answering {status} to {method} {path} through every retry ({detail or 'no detail'}); "
            "try again later.",
            response=response,
        )
    return XeroApiError(
        f"Xero answered {status} to {method} {path}: {error_message(response.text)}", response=response
    )


def raise_for_xero_status(response: requests.Response, *args: Any, **kwargs: Any) -> None:
    """A RESTClient response hook (in place of dlt's raise_for_status)."""
    if response.status_code >= 400:
        raise describe_error(response)


# ---- one run ----------------------------------------------------------------------------------


@dataclass
class XeroRun:
    """What one extract did, for the caller to report: calls, the stop (if any), drift, modes."""

    stopped: DailyLimitReached | None = None
    drift: list[dict[str, Any]] = field(default_factory=list)
    modes: dict[str, str] = field(default_factory=dict)
    requests: dict[str, int] = field(default_factory=dict)
    records: dict[str, int] = field(default_factory=dict)
    # Called with the requests made so far after each page (progress); None: nobody is told.
    on_page: Callable[[int], None] | None = None

    def stop(self, exc: DailyLimitReached, table: str) -> None:
        if self.stopped is None:
            log.warning("%s: %s", table, exc)
            self.stopped = exc

    def count(self, table: str, requests_made: int, records: int) -> None:
        self.requests[table] = self.requests.get(table, 0) + requests_made
        self.records[table] = self.records.get(table, 0) + records
        if self.on_page is not None:
            self.on_page(sum(self.requests.values()))


class ExactRESTClient(RESTClient):
    """dlt's RESTClient, reading every JSON number with a fraction as a ``Decimal``: Xero sends
    money as JSON numbers (``809.82``), and a float would load ``809.8200000000001`` into DuckDB."""

    def extract_response(self, response: requests.Response, data_selector: Any) -> list[Any]:
        # requests passes keyword arguments of Response.json on to json.loads.
        response.json = functools.partial(requests.Response.json, response, parse_float=Decimal)  # type: ignore[method-assign]
        return super().extract_response(response, data_selector)


class XeroApi:
    """The RESTClient for one extract, built lazily (no credential is needed before a run)."""

    def __init__(self, settings: Settings | None, config: XeroExtractConfig, auth: XeroAuth | None = None):
        self._settings = settings
        self.config = config
        self._auth = auth
        self._client: RESTClient | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = Settings.from_env()
        return self._settings

    @property
    def auth(self) -> XeroAuth:
        if self._auth is None:
            self._auth = XeroAuth(self.settings)
        return self._auth

    @property
    def client(self) -> RESTClient:
        if self._client is None:
            base = self.settings.xero_api_url
            self._client = ExactRESTClient(
                base_url=base,
                headers={"Accept": "application/json"},
                auth=XeroRequestsAuth(self.auth),
                session=paced_session(
                    base,
                    self.config.pacing,
                    budget_file_in(self.settings.home),
                    calls_folder=self.settings.xero_token_home,
                ),
            )
        return self._client

    def pages(
        self,
        path: str,
        selector: str,
        paginator: BasePaginator | None = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Iterator[tuple[list[dict[str, Any]], BasePaginator]]:
        paginator = paginator or SinglePagePaginator()
        for page in self.client.paginate(
            path,
            params=dict(params or {}),
            headers=headers or {},
            paginator=paginator,
            data_selector=selector,
            hooks={"response": [raise_for_xero_status]},
        ):
            yield list(page), page.paginator
