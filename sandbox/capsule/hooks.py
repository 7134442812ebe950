"""REST hooks: subscriptions and asynchronous, batched delivery (docs/api-facts.md#capsule-rest-hooks).

- Only OAuth-app tokens may manage hooks (a personal token cannot subscribe); an app sees only
  its own hooks; at most 20 hooks per account.
- Changes are collected per hook for ``batch_window`` sandbox seconds, then POSTed as one
  ``{"event": ..., "payload": [records rendered with the hook's embed]}``; a record changed
  several times inside one window appears once, as it is at delivery time (``deleted``: as it
  was just before deletion).
- A failed delivery (connection error, timeout or any status other than 2xx and 410) is retried
  after 5 s, 1 min, 5 min, 15 min and 15 min of **sandbox** time, then the hook is removed
  (docs/api-facts.md#capsule-rest-hooks [?]); ``410 Gone`` removes the hook at once.

Safety: target URLs must be loopback (127.0.0.1, localhost, [::1]). The sandbox runs on
developer machines and CI next to fake credentials and generated data; it must never send a
byte elsewhere, so any other host is refused at subscription time and checked again before every
delivery; the HTTP client ignores proxy settings from the environment (``trust_env=False``) and
never follows redirects.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx

from sandbox.capsule import render
from sandbox.capsule.errors import CapsuleError, error_item, invalid, not_found, validation
from sandbox.capsule.store import iso

if TYPE_CHECKING:
    from sandbox.capsule.auth import Token
    from sandbox.capsule.state import CapsuleState

MAX_HOOKS = 20
RETRY_DELAYS = (5.0, 60.0, 300.0, 900.0, 900.0)  # sandbox seconds between attempts
DELIVERY_TIMEOUT = 10.0  # real seconds per attempt
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
EVENTS = frozenset(
    {
        "party/created",
        "party/updated",
        "party/deleted",
        "kase/created",
        "kase/updated",
        "kase/deleted",
        "kase/closed",
        "kase/moved",
        "opportunity/created",
        "opportunity/updated",
        "opportunity/deleted",
        "opportunity/closed",
        "opportunity/moved",
        "task/created",
        "task/updated",
        "task/completed",
        "user/created",
        "user/updated",
        "user/deleted",
    }
)


@dataclass
class RestHook:
    id: int
    event: str
    target_url: str
    description: str | None
    embed: str | None
    user_id: int
    client_id: str
    created_at: str
    updated_at: str
    pending: dict[int, dict[str, Any] | None] = field(default_factory=dict)
    flush_scheduled: bool = False

    def public(self, state: CapsuleState) -> dict[str, Any]:
        return {
            "id": self.id,
            "event": self.event,
            "targetUrl": self.target_url,
            "description": self.description,
            "embed": self.embed,
            "batched": True,
            "user": state.nested_user(self.user_id),
            "clientId": self.client_id,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
        }


def is_loopback(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in {"http", "https"} and (parts.hostname or "").lower() in LOOPBACK_HOSTS


async def sleep_until(state: CapsuleState, due: datetime) -> None:
    """Sleep on the sandbox clock; notices both clock speed changes and ``advance``."""
    clock = state.sandbox.clock
    while True:
        remaining = (due - clock.now()).total_seconds()
        if remaining <= 0:
            return
        await asyncio.sleep(min(clock.real_seconds(remaining), 0.02))


class Hooks:
    def __init__(self, state: CapsuleState) -> None:
        self.state = state
        self.hooks: dict[int, RestHook] = {}
        self.deliveries: list[dict[str, Any]] = []
        self.batch_window = 1.0  # sandbox seconds during which changes are gathered into one POST
        self._next_id = 1
        self._next_delivery = 1
        self._tasks: set[asyncio.Task[None]] = set()

    # ---- management (the /resthooks endpoints) ----------------------------------------------
    @staticmethod
    def _require_app(token: Token) -> str:
        if token.kind != "oauth" or not token.client_id:
            # Only apps using the full OAuth flow may use REST hooks
            # (docs/api-facts.md#capsule-rest-hooks). Status and body for a personal token are not
            # documented [?]; 403 with a message is our choice.
            raise CapsuleError(
                403,
                {"message": "REST hooks can only be managed by an OAuth application, not a personal token"},
            )
        return token.client_id

    def list(self, token: Token) -> list[dict[str, Any]]:
        client_id = self._require_app(token)
        return [h.public(self.state) for h in self.hooks.values() if h.client_id == client_id]

    def show(self, token: Token, hook_id: int) -> dict[str, Any]:
        client_id = self._require_app(token)
        hook = self.hooks.get(hook_id)
        if hook is None or hook.client_id != client_id:
            raise not_found()
        return hook.public(self.state)

    def delete(self, token: Token, hook_id: int) -> None:
        self.show(token, hook_id)
        self.hooks.pop(hook_id, None)

    def subscribe(self, token: Token, body: Any) -> dict[str, Any]:
        client_id = self._require_app(token)
        spec = body.get("restHook") if isinstance(body, dict) else None
        if not isinstance(spec, dict):
            raise invalid("restHook is required", "restHook", None)
        errors = []
        event = spec.get("event")
        if event not in EVENTS:
            errors.append(
                error_item(f"event must be one of {', '.join(sorted(EVENTS))}", "restHook", "event")
            )
        target = spec.get("targetUrl")
        if not isinstance(target, str) or not target.strip():
            errors.append(error_item("targetUrl is required", "restHook", "targetUrl"))
        elif not is_loopback(target.strip()):
            errors.append(
                error_item(
                    "targetUrl must be an http(s) URL on this machine (127.0.0.1, localhost or [::1]): "
                    "the Capsule sandbox never sends traffic to other hosts",
                    "restHook",
                    "targetUrl",
                )
            )
        embed = spec.get("embed")
        if embed is not None and not isinstance(embed, str):
            errors.append(error_item("embed must be a comma-separated string", "restHook", "embed"))
        if len(self.hooks) >= MAX_HOOKS:
            errors.append(error_item(f"an account may have at most {MAX_HOOKS} REST hooks", "restHook", None))
        if errors:
            raise validation(errors)
        now = self.state.now_iso()
        hook = RestHook(
            id=self._next_id,
            event=event,
            target_url=target.strip(),
            description=spec.get("description"),
            embed=embed or None,
            user_id=token.user_id,
            client_id=client_id,
            created_at=now,
            updated_at=now,
        )
        self._next_id += 1
        self.hooks[hook.id] = hook
        return hook.public(self.state)

    # ---- change notifications ---------------------------------------------------------------
    def notify(self, event: str, record_id: int, snapshot: dict[str, Any] | None = None) -> None:
        """Called by the state on every change; ``snapshot`` keeps a deleted record's last state."""
        for hook in self.hooks.values():
            if hook.event != event:
                continue
            hook.pending[record_id] = snapshot
            if not hook.flush_scheduled:
                try:
                    loop = asyncio.get_running_loop()
                except RuntimeError:
                    continue  # no server loop (a unit test poking the state): stays pending
                hook.flush_scheduled = True
                self._spawn(loop, self._flush_later(hook))

    def _spawn(self, loop: asyncio.AbstractEventLoop, coro: Any) -> None:
        task = loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _flush_later(self, hook: RestHook) -> None:
        await sleep_until(self.state, self.state.sandbox.clock.now() + timedelta(seconds=self.batch_window))
        hook.flush_scheduled = False
        batch, hook.pending = hook.pending, {}
        if self.hooks.get(hook.id) is not hook or not batch:
            return
        payload = self._render(hook, batch)
        if payload:
            await self._deliver(hook, {"event": hook.event, "payload": payload}, list(batch))

    def _render(self, hook: RestHook, batch: dict[int, dict[str, Any] | None]) -> list[dict[str, Any]]:
        entity = hook.event.split("/", 1)[0]
        embeds = render.parse_embed(hook.embed)
        collection, renderer = {
            "party": (self.state.parties, render.party),
            "opportunity": (self.state.opportunities, render.opportunity),
            "kase": (self.state.kases, render.kase),
            "task": (self.state.tasks, render.task),
        }.get(entity, (None, None))
        payload = []
        for record_id, snapshot in batch.items():
            record = snapshot if snapshot is not None else (collection.get(record_id) if collection else None)
            if record is None:
                continue  # changed, then deleted inside the window: only the deleted event carries it
            payload.append(renderer(self.state, record, embeds) if renderer else record)
        return payload

    async def _deliver(self, hook: RestHook, body: dict[str, Any], record_ids: list[int]) -> None:
        clock = self.state.sandbox.clock
        for attempt in range(1, len(RETRY_DELAYS) + 2):
            if self.hooks.get(hook.id) is not hook:
                return  # unsubscribed meanwhile
            status: int | None = None
            error: str | None = None
            if not is_loopback(hook.target_url):  # belt and braces: see the module docstring
                error = "refused: target is not a loopback address"
            else:
                try:
                    async with httpx.AsyncClient(
                        timeout=DELIVERY_TIMEOUT, trust_env=False, follow_redirects=False
                    ) as client:
                        response = await client.post(hook.target_url, json=body)
                    status = response.status_code
                except (httpx.HTTPError, OSError) as exc:
                    error = f"{type(exc).__name__}: {exc}"
            if status == 410:
                outcome = "gone"
            elif status is not None and 200 <= status < 300:
                outcome = "delivered"
            elif attempt > len(RETRY_DELAYS):
                outcome = "unsubscribed"
            else:
                outcome = "retrying"
            self._log(hook, body, record_ids, attempt, status, error, outcome)
            if outcome in {"gone", "unsubscribed"}:
                self.hooks.pop(hook.id, None)
                return
            if outcome == "delivered":
                return
            await sleep_until(self.state, clock.now() + timedelta(seconds=RETRY_DELAYS[attempt - 1]))

    def _log(
        self,
        hook: RestHook,
        body: dict[str, Any],
        record_ids: list[int],
        attempt: int,
        status: int | None,
        error: str | None,
        outcome: str,
    ) -> None:
        self.deliveries.append(
            {
                "id": self._next_delivery,
                "hookId": hook.id,
                "event": body["event"],
                "targetUrl": hook.target_url,
                "recordIds": record_ids,
                "attempt": attempt,
                "status": status,
                "error": error,
                "outcome": outcome,
                "at": iso(self.state.sandbox.clock.now()),
            }
        )
        self._next_delivery += 1

    def admin_view(self) -> list[dict[str, Any]]:
        return [{**h.public(self.state), "pending": sorted(h.pending)} for h in self.hooks.values()]
