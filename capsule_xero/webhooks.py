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

Every accepted delivery is fsynced into the spool, as one file, before the 200 goes out, so a 200
means its events survive a restart; on any failure the sender gets a 5xx and retries (both retry:
docs/api-facts.md#capsule-rest-hooks, #xero-webhooks). Replies stay far inside Xero's 5 s (Capsule documents no timeout: the same 5 s is the
target): no network calls, a hash and one fsynced file per delivery, the body written as it came —
a 20,000-record Capsule delivery (18 MB) is answered in well under a second (bench/webhooks.py).

Hostile or broken bodies get an answer, never a dead handler: over the size limit 413; not UTF-8
JSON, nested deeper than orjson's 1,024 levels (Python's own decoder recurses, and a body nested
100,000 deep raised ``RecursionError`` in the handler), or Xero events deeper than ``MAX_JSON_DEPTH``
400; anything unforeseen 500. A full spool answers 503
(capsule_xero/spool.py, ``WEBHOOK_SPOOL_MAX_MB``) and calls ``on_spool_full`` (``webhooks serve``
sends an alert).

Serve it behind TLS on 443 (Xero requires HTTPS); it binds 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
from pydantic import SecretStr

from capsule_xero.settings import Settings
from capsule_xero.spool import Spool, SpoolFull

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
SOCKET_TIMEOUT_SECONDS = 5.0  # a sender that stalls mid-request cannot hold a thread past Xero's 5 s
MIN_TOKEN_LENGTH = 24


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


def receiver_problems(settings: Settings) -> list[str]:
    """Why the receiver cannot start with these settings (empty: it can)."""
    out = []
    if not settings.xero_webhook_key and not settings.capsule_hook_token:
        out.append("set XERO_WEBHOOK_KEY (Xero webhooks) and/or CAPSULE_HOOK_TOKEN (Capsule REST hooks)")
    token = settings.capsule_hook_token.get_secret_value()
    if token and (len(token) < MIN_TOKEN_LENGTH or not token.replace("-", "").replace("_", "").isalnum()):
        out.append(
            f"CAPSULE_HOOK_TOKEN must be at least {MIN_TOKEN_LENGTH} letters, digits, '-' or '_' "
            "(e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )
    return out


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    timeout = SOCKET_TIMEOUT_SECONDS
    server_version = "capsule-xero-webhooks"
    sys_version = ""
    _route = "other"

    # ---- logging: the path may hold the Capsule token, so only the route's name is ever logged ----
    def log_request(self, code: Any = "-", size: Any = "-") -> None:
        logger.info("webhook %s %s -> %s", self.command, self._route, code)

    def log_error(self, format: str, *args: Any) -> None:
        logger.warning("webhook receiver: malformed or timed-out request on route %s", self._route)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    # ---- replies ----------------------------------------------------------------------------------
    def _reply(self, status: int) -> None:
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _body(self, limit: int) -> bytes | None:
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            self.close_connection = True
            self._reply(411)
            return None
        if length < 0 or length > limit:
            self.close_connection = True  # the unread body must not be taken for the next request
            self._reply(413)
            return None
        return self.rfile.read(length)

    def do_GET(self) -> None:
        if self.path == HEALTH_PATH:
            self._route = "health"
            self._reply(200)
        else:
            self._reply(404)

    def do_POST(self) -> None:
        try:
            if self.path == XERO_PATH and self.server.xero_key:
                self._route = "xero"
                self._xero()
            elif self.path.startswith(CAPSULE_PREFIX) and self.server.capsule_token:
                self._capsule()
            else:
                self._reply(404)
        except Exception as error:  # never a dead handler: the sender gets an answer and retries
            # The type only: a message could quote the body, the path holds the Capsule token.
            logger.error("webhook %s: unexpected %s; answered 500", self._route, type(error).__name__)
            self.close_connection = True
            with contextlib.suppress(OSError):
                self._reply(500)

    def _xero(self) -> None:
        body = self._body(XERO_MAX_BODY_BYTES)
        if body is None:
            return
        expected = xero_signature(self.server.xero_key.get_secret_value(), body).encode("ascii")
        # Headers arrive decoded as latin-1; encoding back gives the bytes as sent, non-ASCII included.
        given = self.headers.get("x-xero-signature", "").strip().encode("latin-1", "replace")
        if not hmac.compare_digest(expected, given):
            self._reply(401)
            return
        try:
            payload = parse_delivery(body)
            events = payload["events"]
            if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
                raise TypeError("events is not a list of objects")
            if too_deep(events, MAX_JSON_DEPTH + 1):
                raise BadDelivery("an event nested too deep")
        except (ValueError, KeyError, TypeError):
            self._reply(400)
            return
        # Intent to Receive sends ``"events": []``: a correct 200/401 is the whole answer.
        self._spool("xero", body, payload)

    def _capsule(self) -> None:
        token = self.path[len(CAPSULE_PREFIX) :].split("?", 1)[0].encode("latin-1", "replace")
        if not hmac.compare_digest(token, self.server.capsule_token.get_secret_value().encode("utf-8")):
            self._reply(404)
            return
        self._route = "capsule"
        body = self._body(CAPSULE_MAX_BODY_BYTES)
        if body is None:
            return
        try:
            payload = parse_delivery(body)
            event, records = payload["event"], payload["payload"]
            if not isinstance(event, str) or not isinstance(records, list):
                raise TypeError("not a REST hook delivery")
        except (ValueError, KeyError, TypeError):
            self._reply(400)
            return
        self._spool("capsule", body, payload)

    def _spool(self, source: str, body: bytes, delivery: dict[str, Any]) -> None:
        try:
            stored = self.server.spool.put_delivery(source, body, delivery)
        except SpoolFull as full:
            logger.error("webhook %s: %s", source, full)
            self.server.spool_full(full)
            self._reply(503)
            return
        except OSError as error:
            logger.error("webhook %s: could not write the spool (%s); the sender will retry", source, error)
            self._reply(503)
            return
        if stored.events:
            logger.info(
                "webhook %s: %d event(s) %s",
                source,
                stored.events,
                "spooled" if stored.new else "already spooled",
            )
        self._reply(200)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        spool: Spool,
        xero_key: SecretStr,
        capsule_token: SecretStr,
        on_spool_full: Callable[[SpoolFull], None] | None,
    ):
        self.spool = spool
        self.xero_key = xero_key
        self.capsule_token = capsule_token
        self.on_spool_full = on_spool_full
        super().__init__(address, _Handler)

    def spool_full(self, full: SpoolFull) -> None:
        if self.on_spool_full is None:
            return
        try:
            self.on_spool_full(full)
        except Exception:  # a failing alert must not cost the sender its answer
            logger.exception("webhook receiver: could not report the full spool")


class WebhookReceiver:
    """The HTTP receiver; ``start()`` serves from a thread (tests), ``serve_forever()`` in the foreground."""

    def __init__(
        self,
        spool: Spool,
        *,
        xero_key: SecretStr | None = None,
        capsule_token: SecretStr | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        on_spool_full: Callable[[SpoolFull], None] | None = None,
    ) -> None:
        self.spool = spool
        self._server = _Server(
            (host, port), spool, xero_key or SecretStr(""), capsule_token or SecretStr(""), on_spool_full
        )
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        host = self._server.server_address[0]
        return f"http://{host}:{self.port}"

    @property
    def xero_url(self) -> str:
        return self.base_url + XERO_PATH

    def capsule_url(self) -> str:
        """Contains the token: hand it to Capsule only, never print or log it."""
        return self.base_url + CAPSULE_PREFIX + self._server.capsule_token.get_secret_value()

    def serve_forever(self) -> None:
        self._server.serve_forever(poll_interval=0.2)

    def start(self) -> WebhookReceiver:
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> WebhookReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
