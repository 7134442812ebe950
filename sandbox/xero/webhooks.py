"""Xero webhooks: the app's subscription, Intent to Receive, signed and batched contact, invoice and credit-note events.

Facts: docs/api-facts.md#xero-webhooks (and Xero's xero-webhooks.yaml):

- One subscription per app: a URL and a signing key. Every POST carries
  ``x-xero-signature: base64(HMAC-SHA256(key, raw body bytes))``.
- Intent to Receive (on configure and on re-enable): several POSTs with ``"events": []`` and
  sequences 0, some signed with the key and some deliberately mis-signed. The subscription turns
  ``ok`` only if the receiver answered 200 to every good one and 401 to every bad one.
- CONTACT, INVOICE and CREDITNOTE CREATE/UPDATE events of every tenant (``XeroState.listeners``;
  a CREDITNOTE event adds ``data: {Type, Status}``, xero-webhooks.yaml) are numbered, kept in
  order and delivered in batches a short (sandbox) delay after the first one arrives. The receiver
  has 5 seconds to answer 200; anything else is retried with backoff (sandbox clock) for up to
  24 sandbox hours, after which the subscription is disabled. Undelivered events are kept (31 days)
  and replayed in order once the subscription is re-enabled.
- Deliveries go to loopback addresses only: this machine never sends webhook traffic elsewhere.

Delivery runs as a task on the server's event loop with ``httpx.AsyncClient`` (never blocking the
loop); its state is touched on that thread only. The signing key never reaches a log or a record.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import random
import secrets
import string
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from sandbox.xero.identity import is_loopback_url

if TYPE_CHECKING:
    from sandbox.app import Sandbox
    from sandbox.xero.state import XeroEvent, XeroState

STATUS_ITR = "intent_to_receive_required"
STATUS_OK = "ok"
STATUS_DISABLED = "disabled"

# Failed deliveries are retried for up to 24 h (docs/api-facts.md#xero-webhooks).
RETRY_WINDOW_SECONDS = 24 * 3600
EVENT_RETENTION_SECONDS = 31 * 86400  # undelivered events are kept this long for replay
BACKOFF_FIRST_SECONDS = 60.0
BACKOFF_MAX_SECONDS = 15 * 60.0  # newer docs: retries roughly every 15 minutes
_POLL_REAL_SECONDS = 0.02  # how often a waiting worker looks at the (movable) sandbox clock
_USER_AGENT = "Xero-Webhooks (capsule-xero sandbox)"


def sign(key: str, body: bytes) -> str:
    """``x-xero-signature``: base64 of HMAC-SHA256 over the raw body, keyed with the key as given."""
    return base64.b64encode(hmac.new(key.encode("utf-8"), body, hashlib.sha256).digest()).decode("ascii")


def iso_event_date(moment: datetime) -> str:
    """``2024-06-21T01:15:39.902``: ISO-8601, milliseconds, no zone (as in xero-webhooks.yaml)."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


def _entropy() -> str:
    return "".join(secrets.choice(string.ascii_uppercase) for _ in range(20))


def new_webhook_key() -> str:
    return base64.b64encode(secrets.token_bytes(66)).decode("ascii")


@dataclass
class QueuedEvent:
    sequence: int
    tenant_id: str
    resource_id: str
    event_type: str
    at: datetime  # when it happened (sandbox clock)
    category: str = "CONTACT"
    data: dict[str, str] | None = None


@dataclass
class Attempt:
    at: datetime  # sandbox clock
    status: int | None
    error: str | None
    real_seconds: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "status": self.status,
            "error": self.error,
            "real_seconds": round(self.real_seconds, 4),
        }


@dataclass
class Delivery:
    id: int
    kind: str  # "events" | "intent_to_receive"
    url: str
    body: bytes = b""
    sequences: list[int] = field(default_factory=list)
    attempts: list[Attempt] = field(default_factory=list)
    delivered: bool = False
    abandoned: bool = False  # the subscription changed while it was pending (events re-batched)
    next_attempt_at: datetime | None = None
    first_failure_at: datetime | None = None
    correctly_signed: bool | None = None  # intent to receive only
    expected_status: int | None = None  # intent to receive only

    @property
    def passed(self) -> bool:
        return bool(self.attempts) and self.attempts[-1].status == self.expected_status

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "kind": self.kind,
            "url": self.url,
            "attempts": [a.as_dict() for a in self.attempts],
            "status_codes": [a.status for a in self.attempts],
        }
        if self.kind == "intent_to_receive":
            out.update(
                {
                    "correctly_signed": self.correctly_signed,
                    "expected_status": self.expected_status,
                    "passed": self.passed,
                }
            )
        else:
            out.update(
                {
                    "first_event_sequence": self.sequences[0],
                    "last_event_sequence": self.sequences[-1],
                    "event_count": len(self.sequences),
                    "delivered": self.delivered,
                    "abandoned": self.abandoned,
                    "next_attempt_at": self.next_attempt_at.isoformat()
                    if self.next_attempt_at and not (self.delivered or self.abandoned)
                    else None,
                }
            )
        return out


@dataclass
class Subscription:
    url: str
    key: str
    resource_base: str  # e.g. http://127.0.0.1:PORT: resourceUrl = {base}/api.xro/2.0/Contacts/{id}
    created: datetime
    status: str = STATUS_ITR
    generation: int = 0  # bumped on every (re)configure/enable: stale work notices and stops
    batch_delay_seconds: float = 2.0  # sandbox seconds between the first queued event and the POST
    max_events_per_batch: int = 50
    # real seconds the receiver has to answer: 5 s (docs/api-facts.md#xero-webhooks)
    timeout_seconds: float = 5.0
    intent_to_receive_requests: int = 4
    disabled_at: datetime | None = None


class WebhookState:
    def __init__(self, sandbox: Sandbox, xero: XeroState) -> None:
        self.sandbox = sandbox
        self.xero = xero
        self.subscription: Subscription | None = None
        self.sequence = 0
        self.pending: deque[QueuedEvent] = deque()
        self.deliveries: list[Delivery] = []
        self.last_intent_to_receive: list[Delivery] = []
        self._batch: Delivery | None = None
        self._task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: httpx.AsyncClient | None = None
        self._itr_rounds = 0
        xero.listeners.append(self._on_event)

    # ---- events ----------------------------------------------------------------------------
    def _on_event(self, event: XeroEvent) -> None:
        if self.subscription is None:
            return  # Xero keeps no events for an app without a webhook
        self.sequence += 1
        self.pending.append(
            QueuedEvent(
                self.sequence,
                event.tenant_id,
                event.resource_id,
                event.event_type,
                event.at,
                event.category,
                dict(event.data) if event.data else None,
            )
        )
        self._kick()

    def _event_json(self, sub: Subscription, event: QueuedEvent) -> dict[str, Any]:
        from sandbox.xero.state import EVENT_RESOURCES

        tenant = self.xero.tenants.get(event.tenant_id)
        body: dict[str, Any] = {
            "resourceUrl": f"{sub.resource_base}/api.xro/2.0/{EVENT_RESOURCES[event.category]}/{event.resource_id}",
            "resourceId": event.resource_id,
            "eventDateUtc": iso_event_date(event.at),
            "eventType": event.event_type,
            "eventCategory": event.category,
            "tenantId": event.tenant_id,
            "tenantType": tenant.tenant_type if tenant else "ORGANISATION",
        }
        if event.data is not None:
            body["data"] = dict(event.data)
        return body

    @staticmethod
    def _body(events: list[dict[str, Any]], first: int, last: int) -> bytes:
        payload = {
            "events": events,
            "firstEventSequence": first,
            "lastEventSequence": last,
            "entropy": _entropy(),
        }
        return json.dumps(payload, separators=(",", ":")).encode("utf-8")

    # ---- the loop's side -------------------------------------------------------------------
    def _kick(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no server running: events wait until one does
        if self._task is None or self._task.done() or self._loop is not loop:
            self._loop = loop
            self._wake = asyncio.Event()
            self._task = loop.create_task(self._run(), name="xero-webhook-delivery")
        assert self._wake is not None
        self._wake.set()

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            # trust_env=False: no proxy from the environment may carry this traffic off the machine.
            self._client = httpx.AsyncClient(trust_env=False, follow_redirects=False)
        return self._client

    async def _post(self, url: str, body: bytes, signature: str, timeout: float) -> Attempt:
        at = self.sandbox.clock.now()
        started = time.monotonic()
        if not is_loopback_url(url):  # checked at configure time too; never send elsewhere
            return Attempt(at, None, "refused: not a loopback URL", 0.0)
        headers = {
            "Content-Type": "application/json",
            "x-xero-signature": signature,
            "User-Agent": _USER_AGENT,
        }
        try:
            response = await self._http().post(url, content=body, headers=headers, timeout=timeout)
            status, error = response.status_code, None
        except httpx.TimeoutException:
            status, error = None, "timeout"
        except httpx.HTTPError as exc:
            status, error = None, type(exc).__name__
        return Attempt(at, status, error, time.monotonic() - started)

    def _current(self, sub: Subscription, generation: int) -> bool:
        return self.subscription is sub and sub.generation == generation and sub.status == STATUS_OK

    async def _sleep_until(self, deadline: datetime, sub: Subscription, generation: int) -> None:
        clock = self.sandbox.clock
        while self._current(sub, generation):
            remaining = (deadline - clock.now()).total_seconds()
            if remaining <= 0:
                return
            await asyncio.sleep(min(_POLL_REAL_SECONDS, clock.real_seconds(remaining)))

    def _prune(self) -> None:
        cutoff = self.sandbox.clock.now() - timedelta(seconds=EVENT_RETENTION_SECONDS)
        while self.pending and self.pending[0].at < cutoff:
            self.pending.popleft()

    async def _run(self) -> None:
        assert self._wake is not None
        while True:
            sub = self.subscription
            if sub is None or sub.status != STATUS_OK or not self.pending:
                self._wake.clear()
                await self._wake.wait()
                continue
            generation = sub.generation
            if self._batch is None:
                first_at = self.pending[0].at
                await self._sleep_until(
                    first_at + timedelta(seconds=sub.batch_delay_seconds), sub, generation
                )
                if not self._current(sub, generation):
                    continue
                self._prune()
                if not self.pending:
                    continue
                events = [self.pending[i] for i in range(min(sub.max_events_per_batch, len(self.pending)))]
                body = self._body(
                    [self._event_json(sub, e) for e in events], events[0].sequence, events[-1].sequence
                )
                self._batch = Delivery(
                    len(self.deliveries) + 1,
                    "events",
                    sub.url,
                    body=body,
                    sequences=[e.sequence for e in events],
                    next_attempt_at=self.sandbox.clock.now(),
                )
                self.deliveries.append(self._batch)
            batch = self._batch
            assert batch.next_attempt_at is not None
            await self._sleep_until(batch.next_attempt_at, sub, generation)
            if not self._current(sub, generation) or self._batch is not batch:
                continue
            attempt = await self._post(sub.url, batch.body, sign(sub.key, batch.body), sub.timeout_seconds)
            batch.attempts.append(attempt)
            if self._batch is not batch:
                continue  # reconfigured meanwhile: the events are batched again (at-least-once)
            if attempt.status == 200:
                for _ in batch.sequences:
                    self.pending.popleft()
                batch.delivered = True
                self._batch = None
                continue
            now = self.sandbox.clock.now()
            batch.first_failure_at = batch.first_failure_at or attempt.at
            if (now - batch.first_failure_at).total_seconds() >= RETRY_WINDOW_SECONDS:
                sub.status = STATUS_DISABLED
                sub.disabled_at = now
                batch.abandoned = True
                self._batch = None
                continue
            failures = sum(1 for a in batch.attempts if a.status != 200)
            backoff = min(BACKOFF_MAX_SECONDS, BACKOFF_FIRST_SECONDS * 2 ** (failures - 1))
            batch.next_attempt_at = now + timedelta(seconds=backoff)

    # ---- configuration ---------------------------------------------------------------------
    def _reset_batch(self) -> None:
        if self._batch is not None:
            self._batch.abandoned = True
            self._batch = None

    async def configure(
        self,
        url: str,
        key: str | None,
        resource_base: str,
        *,
        batch_delay_seconds: float | None = None,
        max_events_per_batch: int | None = None,
        timeout_seconds: float | None = None,
        intent_to_receive_requests: int | None = None,
    ) -> Subscription:
        if not is_loopback_url(url):
            raise ValueError(
                f"webhook URL {url!r} refused: the sandbox delivers only to loopback addresses "
                "(127.0.0.1, localhost, [::1]) and never sends traffic off this machine"
            )
        sub = Subscription(
            url=url,
            key=key or new_webhook_key(),
            resource_base=resource_base,
            created=self.sandbox.clock.now(),
        )
        old = self.subscription
        if old is not None:
            for name in ("batch_delay_seconds", "max_events_per_batch", "timeout_seconds"):
                setattr(sub, name, getattr(old, name))
            sub.intent_to_receive_requests = old.intent_to_receive_requests
            sub.generation = old.generation + 1
        if batch_delay_seconds is not None:
            sub.batch_delay_seconds = max(0.0, float(batch_delay_seconds))
        if max_events_per_batch is not None:
            if int(max_events_per_batch) < 1:
                raise ValueError("max_events_per_batch must be >= 1")
            sub.max_events_per_batch = int(max_events_per_batch)
        if timeout_seconds is not None:
            sub.timeout_seconds = float(timeout_seconds)
        if intent_to_receive_requests is not None:
            if int(intent_to_receive_requests) < 2:
                raise ValueError("intent_to_receive_requests must be >= 2 (one good, one bad at least)")
            sub.intent_to_receive_requests = int(intent_to_receive_requests)
        self._reset_batch()
        self.subscription = sub
        await self.intent_to_receive()
        return sub

    async def enable(self) -> Subscription:
        """Re-enable after a disable (or retry a failed ITR): Intent to Receive runs again."""
        sub = self.subscription
        if sub is None:
            raise ValueError("no webhook configured")
        sub.generation += 1
        sub.disabled_at = None
        self._reset_batch()
        await self.intent_to_receive()
        return sub

    def remove(self) -> None:
        if self.subscription is not None:
            self.subscription.generation += 1
        self._reset_batch()
        self.subscription = None
        self.pending.clear()

    async def intent_to_receive(self) -> bool:
        sub = self.subscription
        assert sub is not None
        sub.status = STATUS_ITR
        generation = sub.generation
        self._itr_rounds += 1
        count = sub.intent_to_receive_requests
        good = [True] * (count - count // 2) + [False] * (count // 2)
        random.Random(f"{self.sandbox.seed}/itr/{self._itr_rounds}").shuffle(good)
        round_: list[Delivery] = []
        wrong_key = new_webhook_key()
        for correctly_signed in good:
            body = self._body([], 0, 0)
            signature = sign(sub.key if correctly_signed else wrong_key, body)
            delivery = Delivery(
                len(self.deliveries) + 1,
                "intent_to_receive",
                sub.url,
                body=body,
                correctly_signed=correctly_signed,
                expected_status=200 if correctly_signed else 401,
            )
            self.deliveries.append(delivery)
            round_.append(delivery)
            delivery.attempts.append(await self._post(sub.url, body, signature, sub.timeout_seconds))
        self.last_intent_to_receive = round_
        if self.subscription is not sub or sub.generation != generation:
            return False  # reconfigured while this round ran: the newer round decides
        if all(d.passed for d in round_):
            sub.status = STATUS_OK
            self._kick()
            return True
        return False

    # ---- admin view ------------------------------------------------------------------------
    def describe(self) -> dict[str, Any]:
        sub = self.subscription
        if sub is None:
            return {"configured": False, "deliveries": [d.as_dict() for d in self.deliveries]}
        return {
            "configured": True,
            "url": sub.url,
            "status": sub.status,
            "created": sub.created.isoformat(),
            "disabled_at": sub.disabled_at.isoformat() if sub.disabled_at else None,
            "batch_delay_seconds": sub.batch_delay_seconds,
            "max_events_per_batch": sub.max_events_per_batch,
            "timeout_seconds": sub.timeout_seconds,
            "intent_to_receive_requests": sub.intent_to_receive_requests,
            "last_sequence": self.sequence,
            "pending_events": len(self.pending),
            "pending_sequences": [e.sequence for e in self.pending],
            "intent_to_receive": [d.as_dict() for d in self.last_intent_to_receive],
            "deliveries": [d.as_dict() for d in self.deliveries],
        }


def admin_routes(sandbox: Sandbox) -> list[BaseRoute]:
    from sandbox.admin import AdminError, admin_error, read_json

    webhooks = sandbox.xero.webhooks

    async def webhook(request: Request) -> Response:
        if request.method == "DELETE":
            webhooks.remove()
            return Response(status_code=204)
        if request.method == "POST":
            try:
                spec = await read_json(request)
                if not isinstance(spec, dict) or not spec.get("url"):
                    raise ValueError('body must be {"url": ..., "key"?: ...}')
                sub = await webhooks.configure(
                    str(spec["url"]),
                    spec.get("key"),
                    str(request.base_url).rstrip("/"),
                    batch_delay_seconds=spec.get("batch_delay_seconds"),
                    max_events_per_batch=spec.get("max_events_per_batch"),
                    timeout_seconds=spec.get("timeout_seconds"),
                    intent_to_receive_requests=spec.get("intent_to_receive_requests"),
                )
            except (AdminError, TypeError, ValueError) as exc:
                return admin_error(str(exc))
            # The key is returned here (as the developer portal shows it) and nowhere else.
            return JSONResponse({**webhooks.describe(), "key": sub.key})
        return JSONResponse(webhooks.describe())

    async def enable(request: Request) -> Response:
        try:
            await webhooks.enable()
        except ValueError as exc:
            return admin_error(str(exc), 404)
        return JSONResponse(webhooks.describe())

    return [
        Route("/_sandbox/xero/webhooks", webhook, methods=["GET", "POST", "DELETE"]),
        Route("/_sandbox/xero/webhooks/enable", enable, methods=["POST"]),
    ]
