"""How every HTTP caller of Xero reaches its organisation's pacer (capsule_xero/xero/pacing.py).

- ``pacer_for``: one ``XeroPacer`` per organisation (API origin + ``xero-tenant-id``) for the whole
  process, so the extractor and the writer draw on one set of limits; ``reset_pacers`` forgets them.
- ``PacedHTTPAdapter`` / ``paced_session``: requests, for dlt's ``RESTClient`` (the extractor).
- ``PacedTransport``: httpx, for the reverse-ETL writer; with ``XeroHttpxAuth`` (capsule_xero/xero/auth.py)
  above it, so a call resent after a forced token refresh is paced too.

Given a budget file (``capsule_xero.xero.budget.budget_file_in(home)``), each records what Xero says
of the daily budget there.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import requests
from requests.adapters import HTTPAdapter

from capsule_xero.xero.budget import BudgetRecorder, api_origin
from capsule_xero.xero.pacing import KEYLESS_WRITE_RETRY_STATUSES, RETRY_STATUSES, PacingPolicy, XeroPacer
from capsule_xero.xero.shared_limits import SharedLimits

# ---- one pacer per organisation, for the whole process ---------------------------------------

_registry_lock = threading.Lock()
_PACERS: dict[tuple[str, str], XeroPacer] = {}


def pacer_for(
    url: str,
    tenant: str | None,
    policy: PacingPolicy | None = None,
    budget_file: Path | None = None,
    calls_folder: Path | None = None,
) -> XeroPacer:
    """The pacer of the organisation ``tenant`` on the API at ``url`` (created on first use).

    ``tenant`` is the ``xero-tenant-id`` header (None for a custom connection, which serves one
    organisation). A ``policy`` given here replaces the pacer's policy for every caller; so does a
    ``budget_file`` (``capsule_xero.xero.budget.budget_file_in(home)``) for where the daily budget
    is recorded. Without one, the pacer keeps recording where it did (or nowhere).

    ``calls_folder`` (the top-level home, ``Settings.xero_token_home``) is where the organisation's
    5-at-once and 60-a-minute are shared with other processes (capsule_xero/xero/shared_limits.py);
    without it, the budget file's folder; with neither, they hold in this process only.
    """
    key = (api_origin(url), (tenant or "").strip().lower())
    with _registry_lock:
        pacer = _PACERS.get(key)
        if pacer is None:
            pacer = _PACERS[key] = XeroPacer(key[1], policy or PacingPolicy())
        elif policy is not None and policy != pacer.policy:
            pacer.policy = policy
    if budget_file is not None and (pacer.budget is None or pacer.budget.path != Path(budget_file)):
        pacer.record_budget_in(BudgetRecorder(Path(budget_file), *key))
    folder = calls_folder if calls_folder is not None else budget_file.parent if budget_file else None
    if folder is not None and (pacer.shared is None or pacer.shared.folder != Path(folder)):
        pacer.shared = SharedLimits(Path(folder), *key, clock=pacer.clock)
    return pacer


def calls_and_day_left(url: str) -> tuple[int, int | None]:
    """Calls this process made to the Xero API at ``url`` (every organisation), and the fewest calls
    left today that any of them last reported (less the calls made since): for progress figures."""
    origin = api_origin(url)
    with _registry_lock:
        pacers = [pacer for (api, _), pacer in _PACERS.items() if api == origin]
    made = sum(pacer.stats.calls for pacer in pacers)
    lefts = [pacer.day_left() for pacer in pacers]
    known = [left for left in lefts if left is not None]
    return made, (min(known) if known else None)


def calls_per_second(url: str) -> float:
    """The pace the Xero pacing allows one organisation at ``url`` (60 calls a minute by default)."""
    origin = api_origin(url)
    with _registry_lock:
        policies = [pacer.policy for (api, _), pacer in _PACERS.items() if api == origin]
    policy = policies[0] if policies else PacingPolicy()
    return policy.calls_per_minute / policy.minute_seconds


def reset_pacers() -> None:
    """Forget every organisation's counters (a new process, as far as pacing is concerned).

    What they have not yet written to their budget files is written first.
    """
    with _registry_lock:
        pacers = list(_PACERS.values())
        _PACERS.clear()
    for pacer in pacers:
        if pacer.budget is not None:
            pacer.budget.flush()
        if pacer.shared is not None:
            pacer.shared.close()


# ---- requests (dlt's RESTClient) -------------------------------------------------------------


def requests_transient(exc: Exception) -> bool:
    return isinstance(
        exc,
        requests.ConnectionError
        | requests.Timeout
        | requests.exceptions.ChunkedEncodingError
        | requests.exceptions.ContentDecodingError,
    )


class PacedHTTPAdapter(HTTPAdapter):
    """A requests transport adapter that sends every call through the organisation's pacer.

    Mounted on the Xero API's base URL. The body is read inside the retry, so a connection dropped
    mid-body is retried like a refused one; a call without a timeout gets the policy's.
    """

    def __init__(
        self,
        policy: PacingPolicy | None = None,
        budget_file: Path | None = None,
        calls_folder: Path | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.policy = policy
        self.budget_file = Path(budget_file) if budget_file is not None else None
        self.calls_folder = Path(calls_folder) if calls_folder is not None else None

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        pacer = pacer_for(
            request.url or "",
            request.headers.get("xero-tenant-id"),
            self.policy,
            self.budget_file,
            self.calls_folder,
        )
        policy = pacer.policy
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = (policy.connect_timeout, policy.read_timeout)
        kwargs["stream"] = False

        def once() -> requests.Response:
            response = super(PacedHTTPAdapter, self).send(request, **kwargs)
            _ = response.content  # read here: a dropped body must fail inside the retry
            return response

        return pacer.call(
            once,
            write=(request.method or "GET").upper() not in {"GET", "HEAD"},
            status=lambda r: r.status_code,
            headers=lambda r: r.headers,
            transient=requests_transient,
            what=f"{request.method} {urlsplit(request.url or '').path}",
        )


def paced_session(
    base_url: str,
    policy: PacingPolicy | None = None,
    budget_file: Path | None = None,
    calls_folder: Path | None = None,
) -> requests.Session:
    """A requests session whose calls to ``base_url`` are paced (other URLs are left alone).

    With ``budget_file``, what Xero says of the daily budget is recorded there.
    """
    session = requests.Session()
    adapter = PacedHTTPAdapter(policy, budget_file=budget_file, calls_folder=calls_folder)
    session.mount(base_url.rstrip("/") + "/", adapter)
    return session


# ---- httpx (the reverse-ETL writer) ----------------------------------------------------------


def httpx_transient(exc: Exception) -> bool:
    return isinstance(exc, httpx.TransportError)


class PacedTransport(httpx.BaseTransport):
    """An httpx transport that sends every call through the organisation's pacer.

    ``httpx.Client(transport=PacedTransport(), auth=XeroHttpxAuth(...))``: the auth flow (and its
    one forced refresh on ``TokenExpired``) runs above, so a resent call is paced too. With
    ``budget_file``, what Xero says of the daily budget is recorded there.
    """

    def __init__(
        self,
        inner: httpx.BaseTransport | None = None,
        policy: PacingPolicy | None = None,
        budget_file: Path | None = None,
        calls_folder: Path | None = None,
    ) -> None:
        self.inner = inner or httpx.HTTPTransport()
        self.policy = policy
        self.budget_file = Path(budget_file) if budget_file is not None else None
        self.calls_folder = Path(calls_folder) if calls_folder is not None else None

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        pacer = pacer_for(
            str(request.url),
            request.headers.get("xero-tenant-id"),
            self.policy,
            self.budget_file,
            self.calls_folder,
        )
        if "timeout" not in request.extensions:
            policy = pacer.policy
            request.extensions["timeout"] = httpx.Timeout(
                policy.read_timeout, connect=policy.connect_timeout
            ).as_dict()

        def once() -> httpx.Response:
            request.read()
            response = self.inner.handle_request(request)
            try:
                response.read()
            except BaseException:
                response.close()
                raise
            return response

        write = request.method.upper() not in {"GET", "HEAD"}
        replay_safe = not write or "idempotency-key" in request.headers
        return pacer.call(
            once,
            write=write,
            status=lambda r: r.status_code,
            headers=lambda r: r.headers,
            transient=httpx_transient if replay_safe else (lambda exc: False),
            what=f"{request.method} {request.url.path}",
            retry_statuses=RETRY_STATUSES if replay_safe else KEYLESS_WRITE_RETRY_STATUSES,
        )

    def close(self) -> None:
        self.inner.close()
