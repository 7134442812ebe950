"""The Xero API's quirks as small classes: auth, paging, errors, dates, drift (FACTS §§1–2, 4, 9–12)."""

from __future__ import annotations

import itertools
import logging
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import requests
from dlt.sources.helpers.rest_client.client import RESTClient
from dlt.sources.helpers.rest_client.paginators import BasePaginator, SinglePagePaginator
from requests.auth import AuthBase

from capsule_xero.settings import Settings
from capsule_xero.xero.auth import XeroAuth, XeroAuthError, fresh_token_may_help
from capsule_xero.xero.budget import budget_file_in
from capsule_xero.xero.pacing import DailyLimitReached, paced_session
from pipelines.xero.settings import (
    ARRAY,
    BOOLEAN,
    DATE,
    MODIFIED_SINCE_OVERLAP,
    NUMBER,
    OBJECT,
    STRING,
    XeroExtractConfig,
)

log = logging.getLogger("pipelines.xero")

# ---- dates ----------------------------------------------------------------------------------

_DATE = re.compile(r"^/Date\((-?\d+)(?:[+-]\d{4})?\)/$")


def xero_ms(value: Any) -> int | None:
    """Epoch milliseconds of a ``/Date(ms+0000)/`` string (the offset is informational)."""
    if isinstance(value, str) and value.startswith("/Date("):
        match = _DATE.match(value)
        if match:
            return int(match.group(1))
    return None


def xero_datetime(value: Any) -> datetime | None:
    ms = xero_ms(value)
    return None if ms is None else datetime.fromtimestamp(ms / 1000, tz=UTC)


def convert_dates(value: Any) -> Any:
    """Every ``/Date(…)/`` string in a record, at any depth, as an aware UTC datetime (in place)."""
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, str):
                if item.startswith("/Date("):
                    moment = xero_datetime(item)
                    if moment is not None:
                        value[key] = moment
            elif isinstance(item, dict | list):
                convert_dates(item)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if isinstance(item, str) and item.startswith("/Date("):
                moment = xero_datetime(item)
                if moment is not None:
                    value[index] = moment
            elif isinstance(item, dict | list):
                convert_dates(item)
    return value


def modified_since_header(moment: datetime) -> str:
    """``If-Modified-Since`` for a cursor: its second, less the overlap, in Xero's documented
    UTC form without a zone (``2009-11-12T00:00:00``)."""
    moment = moment.astimezone(UTC).replace(microsecond=0) - MODIFIED_SINCE_OVERLAP
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def _blank(entry: dict[str, Any], key: str) -> bool:
    return all(value in ("", None, []) for name, value in entry.items() if name != key)


def tidy_contact(contact: dict[str, Any]) -> dict[str, Any]:
    """Dates as timestamps; the padding Xero adds dropped: every response lists all four phone
    types and both address types, empty when unset (FACTS §5) — only the ones with content stay."""
    convert_dates(contact)
    phones = contact.get("Phones")
    if isinstance(phones, list):
        contact["Phones"] = [p for p in phones if not (isinstance(p, dict) and _blank(p, "PhoneType"))]
    addresses = contact.get("Addresses")
    if isinstance(addresses, list):
        contact["Addresses"] = [
            a for a in addresses if not (isinstance(a, dict) and _blank(a, "AddressType"))
        ]
    return contact


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


class XeroApiError(requests.HTTPError):
    """Xero answered an error that retrying cannot fix; the message quotes Xero's own words."""


def _problem_detail(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return (response.text or "")[:300]
    if isinstance(body, dict):
        for key in ("Detail", "detail", "Message", "message", "Title"):
            if isinstance(body.get(key), str) and body[key]:
                return body[key][:300]
    return ""


def _xero_message(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return (response.text or "").strip()[:300]
    if not isinstance(body, dict):
        return ""
    messages = [body.get("Message") or body.get("Detail") or body.get("Title") or ""]
    for element in body.get("Elements") or []:
        for error in (element or {}).get("ValidationErrors") or []:
            messages.append(error.get("Message", ""))
    return "; ".join(m for m in messages if m)[:500]


def describe_error(response: requests.Response) -> Exception:
    """A plain-language error for a failed Xero call; never carries a header or a token."""
    status = response.status_code
    request = response.request
    path = requests.utils.urlparse(request.url or "").path if request is not None else ""
    method = (request.method or "GET") if request is not None else "GET"
    tenant = request.headers.get("xero-tenant-id") if request is not None else None
    org = f"organisation {tenant}" if tenant else "the organisation of this custom connection"
    detail = _problem_detail(response)
    if status == 401:
        if "insufficient_scope" in response.headers.get("WWW-Authenticate", ""):
            return XeroAccessDenied(
                f"Xero refused {method} {path} (401 insufficient_scope): the Xero login lacks the scope it "
                "needs (accounting.contacts or accounting.contacts.read for contacts and groups, "
                "accounting.settings.read for users). Run `capsule-xero auth login` again and grant them."
            )
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
        f"Xero answered {status} to {method} {path}: {_xero_message(response)}", response=response
    )


def raise_for_xero_status(response: requests.Response, *args: Any, **kwargs: Any) -> None:
    """A RESTClient response hook (in place of dlt's raise_for_status)."""
    if response.status_code >= 400:
        raise describe_error(response)


# ---- paging ----------------------------------------------------------------------------------


class ModifiedSinceWalk(BasePaginator):
    """Pages ``GET /Contacts`` by walking ``If-Modified-Since`` forward; stops on ``pagination.pageCount``.

    Contacts come ordered by ``UpdatedDateUTC`` (then ContactID). Rather than asking for page 2, 3 …
    of one fixed query — where a contact edited during the read moves from an early page to the end,
    shifts every later record one place back and so makes one of them slip past unread — each next
    request asks for page 1 again with ``If-Modified-Since`` set to the last record's second (less
    the overlap). Records read already (same ContactID and UpdatedDateUTC) are not passed on again.
    Only when a whole page falls inside that overlap (more than a page of contacts changed within
    ~2 seconds, e.g. a bulk import) does the walk step to page 2, 3 … of the same query until it can
    move on. The read ends on the page Xero calls the last (``page >= pageCount``) or an empty one.
    """

    def __init__(
        self,
        since: datetime | None,
        page_size: int,
        seen: dict[str, int] | None = None,
        key: str = "ContactID",
    ) -> None:
        """``seen``: the previous run's ``tail()``, so the records at its boundary, which the
        overlap reads again, are not passed on again."""
        super().__init__()
        self.since = since
        self.page_size = page_size
        self.key = key
        self.page = 1
        self.requests = 0
        self.fresh: list[dict[str, Any]] = []
        self.max_ms: int | None = None
        # key -> UpdatedDateUTC ms of the records read at or after the current header
        self._seen: dict[str, int] = dict(seen or {})
        self._ordered = True

    @staticmethod
    def _window_floor(ms: int) -> int:
        moment = datetime.fromtimestamp(ms / 1000, tz=UTC).replace(microsecond=0) - MODIFIED_SINCE_OVERLAP
        return int(moment.timestamp() * 1000)

    def tail(self, limit: int = 2000) -> dict[str, int]:
        """The records the next run's overlap will read again (at most ``limit`` of them)."""
        if self.max_ms is None:
            return dict(self._seen) if len(self._seen) <= limit else {}
        floor = self._window_floor(self.max_ms)
        tail = {k: v for k, v in self._seen.items() if v >= floor}
        return tail if len(tail) <= limit else {}

    def _header_ms(self) -> int | None:
        if self.since is None:
            return None
        moment = self.since.astimezone(UTC).replace(microsecond=0) - MODIFIED_SINCE_OVERLAP
        return int(moment.timestamp() * 1000)

    def init_request(self, request: requests.Request) -> None:
        self._has_next_page = True
        self.update_request(request)

    def update_request(self, request: requests.Request) -> None:
        request.params = dict(request.params or {})
        request.params["page"] = self.page
        request.params["pageSize"] = self.page_size
        request.headers = dict(request.headers or {})
        if self.since is None:
            request.headers.pop("If-Modified-Since", None)
        else:
            request.headers["If-Modified-Since"] = modified_since_header(self.since)

    def update_state(self, response: requests.Response, data: list[Any] | None = None) -> None:
        self.requests += 1
        records = [r for r in data or [] if isinstance(r, dict)]
        stamps = [xero_ms(r.get("UpdatedDateUTC")) for r in records]
        self.fresh = []
        for record, ms in zip(records, stamps, strict=True):
            ident = record.get(self.key)
            if ident is not None and ms is not None and self._seen.get(ident) == ms:
                continue
            self.fresh.append(record)
            if ident is not None and ms is not None:
                self._seen[ident] = ms
        known = [ms for ms in stamps if ms is not None]
        if known:
            self.max_ms = max(self.max_ms or known[-1], max(known))
        if any(b < a for a, b in itertools.pairwise(known)):
            # Not in UpdatedDateUTC order: walking the header forward would not be safe; from here
            # on, plain page numbers of the current query.
            if self._ordered:
                log.warning("Xero returned contacts out of UpdatedDateUTC order; paging by page number")
            self._ordered = False
        page_count = ((response.json() or {}).get("pagination") or {}).get("pageCount")
        if not records or page_count is None or self.page >= int(page_count):
            self._has_next_page = False
            return
        if self._ordered and known:
            candidate = datetime.fromtimestamp(known[-1] / 1000, tz=UTC)
            floor_ms = self._window_floor(known[-1])
            current = self._header_ms()
            overlap = sum(1 for ms in self._seen.values() if ms >= floor_ms)
            if (current is None or floor_ms > current) and overlap < self.page_size:
                self.since = candidate
                self.page = 1
                self._seen = {k: v for k, v in self._seen.items() if v >= floor_ms}
                return
        self.page += 1

    def __str__(self) -> str:
        return f"ModifiedSinceWalk(since={self.since}, page={self.page})"


# ---- drift -----------------------------------------------------------------------------------


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return BOOLEAN
    if isinstance(value, int | float):
        return NUMBER
    if isinstance(value, str):
        return STRING
    if isinstance(value, datetime):
        return DATE
    if isinstance(value, list):
        return ARRAY
    if isinstance(value, dict):
        return OBJECT
    return type(value).__name__


def _fits(expected: str, observed: str) -> bool:
    return expected == observed or (expected == DATE and observed == STRING)


@dataclass
class DriftDetector:
    """Fields Xero sent that its spec does not document, or documented fields of another type."""

    object_name: str
    fields: dict[str, str]
    nested: dict[str, dict[str, str]] = field(default_factory=dict)
    id_field: str | None = None
    now: Callable[[], datetime] = lambda: datetime.now(UTC)
    _reported: set[tuple[str, str, str]] = field(default_factory=set)

    def _finding(
        self, found: list[dict[str, Any]], path: str, expected: str | None, observed: str, example: Any
    ) -> None:
        change = "new field" if expected is None else "type changed"
        key = (path, change, observed)
        if key in self._reported:
            return
        self._reported.add(key)
        found.append(
            {
                "object": self.object_name,
                "field": path,
                "change": change,
                "expected_type": expected,
                "observed_type": observed,
                "example_id": None if example is None else str(example),
                "detected_at": self.now(),
            }
        )

    def check(self, records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for record in records:
            example = record.get(self.id_field) if self.id_field else None
            for name, value in record.items():
                if value is None:
                    continue
                expected = self.fields.get(name)
                observed = _kind(value)
                if expected is None or not _fits(expected, observed):
                    self._finding(found, name, expected, observed, example)
                    continue
                element_fields = self.nested.get(name)
                if element_fields is None or not isinstance(value, list):
                    continue
                for element in value:
                    if not isinstance(element, dict):
                        continue
                    for inner, inner_value in element.items():
                        if inner_value is None:
                            continue
                        inner_expected = element_fields.get(inner)
                        inner_observed = _kind(inner_value)
                        if inner_expected is None or not _fits(inner_expected, inner_observed):
                            self._finding(found, f"{name}[].{inner}", inner_expected, inner_observed, example)
        for row in found:
            log.warning(
                "Xero schema drift: %s field %s %s (%s%s); loaded anyway and recorded in xero_schema_drift",
                row["object"],
                row["field"],
                "is new" if row["change"] == "new field" else "changed type",
                f"{row['expected_type']} → " if row["expected_type"] else "",
                row["observed_type"],
            )
        return found


# ---- one run ----------------------------------------------------------------------------------


@dataclass
class XeroRun:
    """What one extract did, for the caller to report: calls, the stop (if any), drift, modes."""

    stopped: DailyLimitReached | None = None
    drift: list[dict[str, Any]] = field(default_factory=list)
    modes: dict[str, str] = field(default_factory=dict)
    requests: dict[str, int] = field(default_factory=dict)
    records: dict[str, int] = field(default_factory=dict)

    def stop(self, exc: DailyLimitReached, table: str) -> None:
        if self.stopped is None:
            log.warning("%s: %s", table, exc)
            self.stopped = exc

    def count(self, table: str, requests_made: int, records: int) -> None:
        self.requests[table] = self.requests.get(table, 0) + requests_made
        self.records[table] = self.records.get(table, 0) + records


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
            self._client = RESTClient(
                base_url=base,
                headers={"Accept": "application/json"},
                auth=XeroRequestsAuth(self.auth),
                session=paced_session(base, self.config.pacing, budget_file_in(self.settings.home)),
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
