"""Misbehaviour on demand: 429s, 5xx, hangs and dropped connections, per endpoint.

A rule names an API, an HTTP method (or ``*``) and a path pattern (``fnmatch``), and gives each
fault kind a probability. ``times`` caps how often the rule fires, so a test can say "the next two
POSTs to /Contacts answer 503" and get exactly that. The random source is seeded: a run with the
same rules and the same calls misbehaves the same way.

Kinds:
- ``429``: the API's own rate-limit answer (headers and body as that API sends them).
- ``500``, ``503``: the API's own error answers.
- ``hang``: the request is held for ``hang_seconds`` real seconds (past any sane client
  timeout) and then processed normally; a write therefore still lands after the client gave up,
  which is the nastiest case for duplicates and the one real networks produce.
- ``drop``: the request is processed (a write commits), then the connection is closed after the
  status line and headers but before the body, so the client never sees the result.
"""

from __future__ import annotations

import fnmatch
import random
import threading
from dataclasses import asdict, dataclass, field
from typing import Any

FAULT_KINDS = ("429", "500", "503", "hang", "drop")


@dataclass
class FaultRule:
    api: str = "*"
    method: str = "*"
    path: str = "*"
    probabilities: dict[str, float] = field(default_factory=dict)
    times: int | None = None
    hang_seconds: float = 30.0
    fired: int = 0
    id: int = 0

    def __post_init__(self) -> None:
        unknown = set(self.probabilities) - set(FAULT_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kind(s) {sorted(unknown)}; known: {list(FAULT_KINDS)}")
        total = sum(self.probabilities.values())
        if any(p < 0 for p in self.probabilities.values()) or total > 1.0 + 1e-9:
            raise ValueError("fault probabilities must be >= 0 and add up to at most 1")
        if self.times is not None and self.times < 0:
            raise ValueError("times must be >= 0")
        self.method = self.method.upper()

    def matches(self, api: str, method: str, path: str) -> bool:
        return (
            (self.api == "*" or self.api == api)
            and (self.method == "*" or self.method == method.upper())
            and fnmatch.fnmatchcase(path, self.path)
            and (self.times is None or self.fired < self.times)
        )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Fault:
    kind: str
    hang_seconds: float
    rule_id: int


class FaultPlan:
    def __init__(self, seed: int = 0) -> None:
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []
        self._random = random.Random(seed)
        self._next_id = 1

    def add(self, rule: FaultRule) -> FaultRule:
        with self._lock:
            rule.id = self._next_id
            self._next_id += 1
            self._rules.append(rule)
            return rule

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def rules(self) -> list[FaultRule]:
        with self._lock:
            return list(self._rules)

    def reseed(self, seed: int) -> None:
        with self._lock:
            self._random.seed(seed)

    def pick(self, api: str, method: str, path: str) -> Fault | None:
        """The fault to inject into this call, if any: the first matching rule decides."""
        with self._lock:
            for rule in self._rules:
                if not rule.matches(api, method, path):
                    continue
                roll = self._random.random()
                cumulative = 0.0
                for kind in FAULT_KINDS:
                    cumulative += rule.probabilities.get(kind, 0.0)
                    if roll < cumulative:
                        rule.fired += 1
                        return Fault(kind, rule.hang_seconds, rule.id)
                return None
            return None
