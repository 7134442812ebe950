"""Xero's ``Idempotency-Key``: a retry burst protector, not durable dedupe
(docs/api-facts.md#xero-idempotency-keys).

- Honoured on POST/PUT/PATCH only (ignored on GET; DELETE does not take one).
- At most 128 characters; a longer key is a 400.
- Scoped to the app (OAuth client id); remembered for 6 minutes of sandbox time from first use.
- The same key with the same request (method, URL, tenant, body) within that window replays the
  stored response: status, headers and body, errors included (Xero caches internal errors too).
- The same key with a different request is a 400 saying the key "is used with a different request".
- It runs after rate limiting, so a replay still consumes quota.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sandbox.clock import SandboxClock

KEY_MAX_LENGTH = 128
WINDOW_SECONDS = 6 * 60
METHODS = frozenset({"POST", "PUT", "PATCH"})
# Headers worth replaying; rate-limit headers are recomputed for the replay (it costs quota).
REPLAYED_HEADERS = ("content-type",)


@dataclass
class StoredResponse:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Entry:
    fingerprint: str
    first_used: float
    response: StoredResponse | None = None


def fingerprint(method: str, url: str, tenant_id: str, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (method.upper().encode(), url.encode(), tenant_id.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


@dataclass
class Lookup:
    outcome: str  # "new" | "replay" | "conflict"
    stored: StoredResponse | None = None


class IdempotencyStore:
    def __init__(self, clock: SandboxClock, window_seconds: float = WINDOW_SECONDS) -> None:
        self.clock = clock
        self.window_seconds = window_seconds
        self._entries: dict[tuple[str, str], Entry] = {}

    def _purge(self, now: float) -> None:
        expired = [k for k, e in self._entries.items() if now - e.first_used >= self.window_seconds]
        for key in expired:
            del self._entries[key]

    def lookup(self, client_id: str, key: str, print_: str) -> Lookup:
        now = self.clock.timestamp()
        self._purge(now)
        entry = self._entries.get((client_id, key))
        if entry is None:
            self._entries[(client_id, key)] = Entry(print_, now)
            return Lookup("new")
        if entry.fingerprint != print_:
            return Lookup("conflict")
        if entry.response is None:
            # The first request with this key is still being processed (it cannot be, on one loop
            # thread with no await between lookup and store, but say so rather than guess).
            return Lookup("conflict")
        return Lookup("replay", entry.response)

    def store(self, client_id: str, key: str, response: StoredResponse) -> None:
        entry = self._entries.get((client_id, key))
        if entry is not None:
            entry.response = response

    def forget(self, client_id: str, key: str) -> None:
        self._entries.pop((client_id, key), None)

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
