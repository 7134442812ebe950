"""The webhook receiver: Xero webhooks and Capsule REST hooks into the spool (capsule_xero/spool.py).

``capsule-xero webhooks serve`` runs it. It never touches the DuckDB file (docs/architecture.md#webhooks-and-the-spool); a Dagster
sensor (assets/sensors/webhooks.py) turns spooled events into sync runs. Routes:

- ``POST /xero`` — Xero webhooks (docs/api-facts.md#xero-webhooks): ``x-xero-signature`` is base64(HMAC-SHA256(webhook key,
  raw body)), checked with ``hmac.compare_digest`` *before* the body is parsed. Wrong or missing
  signature → 401; right signature → 200 with an empty body and no cookies. Intent to Receive is the
  same rule applied to ``"events": []`` deliveries (nothing is spooled for those).
- ``POST /capsule/<CAPSULE_HOOK_TOKEN>`` — Capsule REST hooks (docs/api-facts.md#capsule-rest-hooks). Capsule signs nothing and
  sends no shared secret, so the URL itself is the secret. A path token rather than a query token:
  query strings are what proxies, CDNs and access logs record and strip most readily, while a
  wrong path is indistinguishable from any other unknown URL (404, the endpoint's existence is not
  confirmed). The token is compared in constant time and never logged. Never answer 410 here:
  Capsule removes a hook on 410.
- ``GET /healthz`` — 200, for a reverse proxy or monitor.

With a tenants file (capsule_xero/tenants.py) one receiver serves every client, each into the spool
in its own home (where that client's sensor reads it):

- ``POST /xero`` stays one route: a Xero app has one webhook key and one URL for every organisation
  it reaches, and each event names its organisation (``tenantId``). Each event is spooled into the
  spool of the tenant whose ``xero_tenant_id`` it names. An event for an organisation no tenant lists
  is dropped with one log line and still answered 200: Xero switches off a webhook that keeps
  failing (docs/api-facts.md#xero-webhooks), which would cost every other client its events.
- ``POST /capsule/<tenant>/<token>`` — the tenant's own REST hook, its token from the variable its
  ``capsule_hook_token_env`` names. Another tenant's token, a tenant without one, or a name no tenant
  has: all the same 404, so the URL never confirms which clients exist. The top-level
  ``CAPSULE_HOOK_TOKEN`` route is not served: its spool belongs to no client.

Every accepted delivery is fsynced into the spool, as one file, before the 200 goes out, so a 200
means its events survive a restart; on any failure the sender gets a 5xx and retries (both retry:
docs/api-facts.md#capsule-rest-hooks, #xero-webhooks). Replies stay far inside Xero's 5 s (Capsule documents no timeout: the same 5 s is the
target): no network calls, a hash and one fsynced file per delivery, the body written as it came —
a 20,000-record Capsule delivery (18 MB) is answered in well under a second (bench/webhooks.py).

It is a Starlette app served by uvicorn. The body is streamed and counted as it arrives, so an
oversized one is refused (413) at its declared length or at the first byte past the limit, never
buffered; the hashing, parsing and fsync of a delivery run in Starlette's thread pool, so one big
delivery does not hold up the event loop (or the answers to the others). uvicorn's access log is
off and its own messages never carry the URL: the receiver logs one line per request — method,
route name, status — and never the path, which holds the Capsule token.

Hostile or broken bodies get an answer, never a dead handler: over the size limit 413; not UTF-8
JSON, nested deeper than orjson's 1,024 levels (Python's own decoder recurses, and a body nested
100,000 deep raised ``RecursionError`` in the handler), or Xero events deeper than ``MAX_JSON_DEPTH``
400; a sender that stalls mid-body 500 after ``SOCKET_TIMEOUT_SECONDS``; anything unforeseen 500.
A full spool answers 503 (capsule_xero/spool.py, ``WEBHOOK_SPOOL_MAX_MB``) and calls
``on_spool_full`` (``webhooks serve`` sends an alert).

Serve it behind TLS on 443 (Xero requires HTTPS); it binds 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
import secrets
import socket
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
import uvicorn
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from capsule_xero.settings import Settings
from capsule_xero.spool import Spool, SpoolFull, delivery_body

logger = logging.getLogger(__name__)

XERO_PATH = "/xero"
CAPSULE_PREFIX = "/capsule/"
HEALTH_PATH = "/healthz"
# Xero's events are thin (about 300 bytes each) and the body is read before its signature can be
# checked, so anyone may send one: 16 MB is tens of thousands of events. Capsule's batches carry full
# records (a 20,000-party bulk import is about 18 MB) and only a holder of the path token gets that
# far; a 413 makes Capsule retry and then drop the hook, so its limit is generous.
XERO_MAX_BODY_BYTES = 16 * 1024 * 1024
CAPSULE_MAX_BODY_BYTES = 64 * 1024 * 1024
# A Xero event is 2 levels deep; deeper is not an event, and bounding it keeps its canonical hashing
# (orjson.dumps, which stops at 254 levels) safe. Bodies as a whole stop at orjson.loads' 1,024 levels.
MAX_JSON_DEPTH = 32
# A sender that stalls mid-body (or idles on a kept-alive connection) is dropped past Xero's 5 s.
SOCKET_TIMEOUT_SECONDS = 5.0
MIN_TOKEN_LENGTH = 24
SERVER_NAME = "capsule-xero-webhooks"


def xero_signature(key: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(key.encode("utf-8"), body, hashlib.sha256).digest()).decode("ascii")


class BadDelivery(ValueError):
    """A body that is not a delivery of the route's shape (answered 400)."""


def too_deep(value: Any, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether parsed JSON nests lists and objects more than ``limit`` deep (iteratively: no recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def parse_delivery(body: bytes) -> Any:
    """The body as JSON, or ``BadDelivery``: not UTF-8 JSON, or nested deeper than 1,024 levels."""
    try:
        return orjson.loads(body)  # its depth limit raises JSONDecodeError: never a RecursionError
    except orjson.JSONDecodeError:
        raise BadDelivery("not UTF-8 JSON, or nested more than 1,024 levels deep") from None


def receiver_problems(settings: Settings, tenants: Sequence[TenantHooks] | None = None) -> list[str]:
    """Why the receiver cannot start with these settings (empty: it can). ``tenants``: with a tenants
    file, each client's share; a client's own hook token problem is ``tenant_hook_problems``'."""
    out = []
    if tenants is None:
        if not settings.xero_webhook_key and not settings.capsule_hook_token:
            out.append("set XERO_WEBHOOK_KEY (Xero webhooks) and/or CAPSULE_HOOK_TOKEN (Capsule REST hooks)")
        out.extend(_token_problem("CAPSULE_HOOK_TOKEN", settings.capsule_hook_token))
        return out
    if not settings.xero_webhook_key and not any(tenant.capsule_token for tenant in tenants):
        out.append(
            "set XERO_WEBHOOK_KEY (Xero webhooks) and/or give a tenant capsule_hook_token_env in the"
            " tenants file (Capsule REST hooks)"
        )
    return out


def tenant_hook_problems(tenant: TenantHooks) -> list[str]:
    """Why this client's Capsule route cannot be served (empty: it can). The receiver then serves
    every other client and this one's Xero events: one client's mistake never stops another's hooks."""
    out = []
    if tenant.capsule_token_env and not tenant.capsule_token:
        out.append(
            f"tenant {tenant.name!r}: {tenant.capsule_token_env} (its capsule_hook_token_env) is not set"
        )
    out.extend(
        f"tenant {tenant.name!r}: {line}"
        for line in _token_problem(tenant.capsule_token_env, tenant.capsule_token)
    )
    return out


def _token_problem(variable: str, secret: SecretStr) -> list[str]:
    token = secret.get_secret_value()
    if token and (len(token) < MIN_TOKEN_LENGTH or not token.replace("-", "").replace("_", "").isalnum()):
        return [
            f"{variable} must be at least {MIN_TOKEN_LENGTH} letters, digits, '-' or '_' "
            "(e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))')"
        ]
    return []


@dataclass(frozen=True)
class TenantHooks:
    """One client's share of a receiver serving a tenants file: the spool in its home, the Xero
    organisation whose events go there, its own Capsule hook token (empty: no Capsule route) and the
    variable that holds it (for messages; never the token)."""

    name: str
    spool: Spool
    xero_tenant_id: str
    capsule_token: SecretStr = field(default_factory=lambda: SecretStr(""))
    capsule_token_env: str = ""
    on_spool_full: Callable[[SpoolFull], None] | None = None


def tenant_capsule_path(tenant: str, token: str) -> str:
    """The path of a tenant's Capsule REST hook (``token``: the secret, or a placeholder to print)."""
    return f"{CAPSULE_PREFIX}{tenant}/{token}"


def _organisation_id(value: Any) -> str | None:
    try:
        return str(uuid.UUID(value)) if isinstance(value, str) else None
    except ValueError:
        return None


def _reply(request: Request, route: str, status: int, *, close: bool = False) -> Response:
    """An empty answer, and the request's one log line: the route's name, never the path (it may
    hold the Capsule token). ``close`` drops the connection, so an unread body is never taken for
    the next request."""
    logger.info("webhook %s %s -> %s", request.method, route, status)
    headers = {"server": SERVER_NAME} | ({"connection": "close"} if close else {})
    return Response(status_code=status, headers=headers)


class _Routes:
    """The endpoints. Only reading the body is async; the rest (hash, parse, fsync) blocks, so it runs
    in Starlette's thread pool and one big delivery does not stall the event loop for the others."""

    def __init__(
        self,
        spool: Spool | None,
        xero_key: SecretStr,
        capsule_token: SecretStr,
        on_spool_full: Callable[[SpoolFull], None] | None,
        tenants: Sequence[TenantHooks] | None = None,
    ) -> None:
        self.spool = spool
        self.xero_key = xero_key
        self.capsule_token = capsule_token
        self.on_spool_full = on_spool_full
        self.tenants = None if tenants is None else {tenant.name: tenant for tenant in tenants}
        self.by_organisation = {tenant.xero_tenant_id: tenant for tenant in tenants or ()}
        # Compared against when a tenant name is unknown or has no token, so a miss costs what a hit does.
        self._no_token = secrets.token_urlsafe(32).encode("ascii")

    def app(self) -> Starlette:
        routes = [Route(HEALTH_PATH, self.health, methods=["GET"])]
        if self.xero_key:
            routes.append(Route(XERO_PATH, self.xero, methods=["POST"]))
        if self.tenants is not None:
            if any(tenant.capsule_token for tenant in self.tenants.values()):
                route = CAPSULE_PREFIX + "{tenant}/{token:path}"
                routes.append(Route(route, self.tenant_capsule, methods=["POST"]))
        elif self.capsule_token:
            routes.append(Route(CAPSULE_PREFIX + "{token:path}", self.capsule, methods=["POST"]))
        # 404 and 405 look alike, so no method confirms that a route (or the Capsule one) exists.
        app = Starlette(routes=routes, exception_handlers={HTTPException: self.unknown})
        app.router.redirect_slashes = False  # "/xero/" is an unknown URL, not a redirect to a route
        return app

    async def unknown(self, request: Request, exc: Exception) -> Response:
        return _reply(request, "other", 404 if request.method in ("GET", "POST") else 501)

    async def health(self, request: Request) -> Response:
        return _reply(request, "health", 200)

    async def xero(self, request: Request) -> Response:
        return await self._guarded(request, "xero", XERO_MAX_BODY_BYTES, self._xero)

    async def capsule(self, request: Request) -> Response:
        token = request.path_params["token"].encode("utf-8", "replace")
        if not hmac.compare_digest(token, self.capsule_token.get_secret_value().encode("utf-8")):
            return _reply(request, "other", 404)
        return await self._guarded(request, "capsule", CAPSULE_MAX_BODY_BYTES, self._capsule)

    async def tenant_capsule(self, request: Request) -> Response:
        assert self.tenants is not None
        tenant = self.tenants.get(request.path_params["tenant"])
        expected = tenant.capsule_token.get_secret_value().encode("utf-8") if tenant else b""
        token = request.path_params["token"].encode("utf-8", "replace")
        # Always one comparison: an unknown name or a tenant without a token answers as a wrong token does.
        if not hmac.compare_digest(token, expected or self._no_token) or tenant is None or not expected:
            return _reply(request, "other", 404)

        def handle(request: Request, body: bytes) -> int:
            return self._capsule(request, body, tenant)

        return await self._guarded(request, "capsule", CAPSULE_MAX_BODY_BYTES, handle)

    async def _guarded(
        self, request: Request, route: str, limit: int, handle: Callable[[Request, bytes], int]
    ) -> Response:
        """Read the body within ``limit`` and hand it to ``handle`` in a thread; never a dead handler."""
        try:
            body = await _read_body(request, limit)
            if isinstance(body, int):
                return _reply(request, route, body, close=True)
            return _reply(request, route, await run_in_threadpool(handle, request, body))
        except (TimeoutError, ClientDisconnect):
            logger.warning("webhook receiver: malformed or timed-out request on route %s", route)
            return _reply(request, route, 500, close=True)
        except Exception as error:  # the sender gets an answer and retries
            # The type only: a message could quote the body, the path holds the Capsule token.
            logger.error("webhook %s: unexpected %s; answered 500", route, type(error).__name__)
            return _reply(request, route, 500, close=True)

    def _xero(self, request: Request, body: bytes) -> int:
        expected = xero_signature(self.xero_key.get_secret_value(), body).encode("ascii")
        # Headers arrive decoded as latin-1; encoding back gives the bytes as sent, non-ASCII included.
        given = request.headers.get("x-xero-signature", "").strip().encode("latin-1", "replace")
        if not hmac.compare_digest(expected, given):
            return 401
        try:
            payload = parse_delivery(body)
            events = payload["events"]
            if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
                raise TypeError("events is not a list of objects")
            if too_deep(events, MAX_JSON_DEPTH + 1):
                raise BadDelivery("an event nested too deep")
        except (ValueError, KeyError, TypeError):
            return 400
        # Intent to Receive sends ``"events": []``: a correct 200/401 is the whole answer.
        if self.tenants is None:
            return self._spool("xero", body, payload)
        return self._xero_by_tenant(body, payload, events)

    def _xero_by_tenant(self, body: bytes, payload: dict[str, Any], events: list[dict[str, Any]]) -> int:
        """Each event into the spool of the tenant whose organisation it names; the rest dropped."""
        by_tenant: dict[str, list[dict[str, Any]]] = {}
        unknown: set[str] = set()
        for event in events:
            organisation = _organisation_id(event.get("tenantId"))
            tenant = self.by_organisation.get(organisation or "")
            if tenant is None:
                unknown.add(str(organisation))
            else:
                by_tenant.setdefault(tenant.name, []).append(event)
        if unknown:
            # Answered 200 all the same: Xero switches off a webhook that keeps failing, and a retry
            # would not make the organisation a tenant (docs/api-facts.md#xero-webhooks).
            dropped = len(events) - sum(len(group) for group in by_tenant.values())
            logger.warning(
                "webhook xero: %d event(s) dropped: organisation(s) %s in no tenant of the tenants file",
                dropped,
                ", ".join(sorted(unknown)),
            )
        status = 200
        for name, group in by_tenant.items():
            tenant = self.tenants[name]  # type: ignore[index]
            # One tenant's events: the body as it came; several: each tenant gets its own events (the
            # spool names a Xero delivery by its events, so a retry still lands on the same files).
            own = body if len(group) == len(events) else delivery_body("xero", group)
            status = max(status, self._spool("xero", own, None, tenant))
        return status

    def _capsule(self, request: Request, body: bytes, tenant: TenantHooks | None = None) -> int:
        try:
            payload = parse_delivery(body)
            event, records = payload["event"], payload["payload"]
            if not isinstance(event, str) or not isinstance(records, list):
                raise TypeError("not a REST hook delivery")
        except (ValueError, KeyError, TypeError):
            return 400
        return self._spool("capsule", body, payload, tenant)

    def _spool(
        self, source: str, body: bytes, delivery: dict[str, Any] | None, tenant: TenantHooks | None = None
    ) -> int:
        spool = tenant.spool if tenant else self.spool
        assert spool is not None
        on_full = tenant.on_spool_full if tenant else self.on_spool_full
        try:
            stored = spool.put_delivery(source, body, delivery)
        except SpoolFull as full:
            logger.error("webhook %s: %s", source, full)
            self._spool_full(full, on_full)
            return 503
        except OSError as error:
            logger.error("webhook %s: could not write the spool (%s); the sender will retry", source, error)
            return 503
        if stored.events:
            logger.info(
                "webhook %s: %d event(s) %s%s",
                source,
                stored.events,
                "spooled" if stored.new else "already spooled",
                f" for tenant {tenant.name}" if tenant else "",
            )
        return 200

    def _spool_full(self, full: SpoolFull, on_full: Callable[[SpoolFull], None] | None) -> None:
        if on_full is None:
            return
        try:
            on_full(full)
        except Exception:  # a failing alert must not cost the sender its answer
            logger.exception("webhook receiver: could not report the full spool")


async def _read_body(request: Request, limit: int) -> bytes | int:
    """The body, or the status refusing it: 411 without a length, 413 past ``limit`` — known from the
    declared length before a byte is read, and enforced again while streaming."""
    try:
        declared = int(request.headers.get("content-length", ""))
    except ValueError:
        return 411
    if declared < 0 or declared > limit:
        return 413
    chunks: list[bytes] = []
    size = 0
    stream = request.stream()
    while True:
        try:  # per chunk, like a socket timeout: a slow but moving sender is not cut off
            chunk = await asyncio.wait_for(anext(stream), SOCKET_TIMEOUT_SECONDS)
        except StopAsyncIteration:
            return b"".join(chunks)
        size += len(chunk)
        if size > limit:
            return 413
        chunks.append(chunk)


def _bind(host: str, port: int) -> socket.socket:
    # Bound here so that port 0 is a free port known before start. IPPROTO_TCP explicitly: asyncio
    # sets TCP_NODELAY only on sockets it knows are TCP (without it small answers wait for Nagle).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


class WebhookReceiver:
    """The HTTP receiver; ``start()`` serves from a thread (tests), ``serve_forever()`` in the foreground."""

    def __init__(
        self,
        spool: Spool | None,
        *,
        xero_key: SecretStr | None = None,
        capsule_token: SecretStr | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        on_spool_full: Callable[[SpoolFull], None] | None = None,
        tenants: Sequence[TenantHooks] | None = None,
    ) -> None:
        """``tenants``: with a tenants file, every client's share; ``spool`` and ``capsule_token`` are
        then unused (each client has its own), and so is ``on_spool_full`` (each has its own)."""
        if spool is None and tenants is None:
            raise ValueError("a receiver needs a spool, or the tenants' spools")
        self.spool = spool
        self.tenants = {tenant.name: tenant for tenant in tenants} if tenants is not None else None
        self._capsule_token = capsule_token or SecretStr("")
        routes = _Routes(spool, xero_key or SecretStr(""), self._capsule_token, on_spool_full, tenants)
        self._socket = _bind(host, port)
        self._address = self._socket.getsockname()  # still known after stop() closes the socket
        config = uvicorn.Config(
            routes.app(),
            lifespan="off",
            ws="none",  # no WebSocket upgrades: an upgrade request is answered as plain HTTP
            access_log=False,  # its lines carry the path, which holds the Capsule token
            log_config=None,  # uvicorn's own messages (never the URL) go where the process's logs go
            log_level="warning",
            server_header=False,  # the replies name the server themselves
            proxy_headers=False,
            timeout_keep_alive=int(SOCKET_TIMEOUT_SECONDS),
            timeout_graceful_shutdown=int(SOCKET_TIMEOUT_SECONDS),
        )
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._address[1]

    @property
    def base_url(self) -> str:
        return f"http://{self._address[0]}:{self.port}"

    @property
    def xero_url(self) -> str:
        return self.base_url + XERO_PATH

    def capsule_url(self, tenant: str | None = None) -> str:
        """Contains the token: hand it to Capsule only, never print or log it. With tenants, ``tenant``'s."""
        if tenant is None:
            return self.base_url + CAPSULE_PREFIX + self._capsule_token.get_secret_value()
        assert self.tenants is not None
        return self.base_url + tenant_capsule_path(
            tenant, self.tenants[tenant].capsule_token.get_secret_value()
        )

    def serve_forever(self) -> None:
        """Serve in the foreground; Ctrl-C (SIGINT) or SIGTERM stops it gracefully, and uvicorn then
        re-raises the signal, so Ctrl-C ends in ``KeyboardInterrupt`` as before."""
        self._server.run(sockets=[self._socket])

    def start(self) -> WebhookReceiver:
        """Serve from a daemon thread; returns once it accepts connections. uvicorn installs signal
        handlers only on the main thread, so this thread leaves Ctrl-C to the caller."""
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, name="webhook-receiver", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the webhook receiver did not start")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=SOCKET_TIMEOUT_SECONDS + 5)
        self._socket.close()

    def __enter__(self) -> WebhookReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
