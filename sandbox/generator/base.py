"""Shared plumbing of the generator: constants, seeds, block sizing, label shares, and ``BlockBase``.

``BlockBase`` owns what every part of a block needs: its random stream, its id slots (split into
those created before, around and after the earlier sync), its output lists and case marks. The party,
role and activity builders (``parties.py``, ``roles.py``, ``activity.py``) extend it; ``world.Block``
combines them.
"""

from __future__ import annotations

import hashlib
import math
import random
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sandbox.generator import words
from sandbox.generator.cases import (
    CASES,
    MIN_BLOCK_FOR_ALL_CASES,
    ROLE_RATES,
)
from sandbox.generator.text import utc_ms

if TYPE_CHECKING:
    from sandbox.generator.world import World

Record = dict[str, Any]

BLOCK = 1000
DEFAULT_NOW = datetime(2026, 7, 1, tzinfo=UTC)
HISTORY_SECONDS = 3 * 365 * 86400
PREVIOUS_SYNC_BEFORE_NOW = 10 * 86400
SYNC_RUN_SECONDS = 40 * 60
PARTY_ID_BASE = 254_000_000
PARTY_ID_STRIDE = 3
ORPHAN_ID_BASE = 153_000_000  # "CAP-" numbers from a Capsule account that no longer exists
USER_ID_BASE = 612_000
HOUR = 3600
DAY = 86400

TIMEZONES = {
    "NSW": "Australia/Sydney",
    "ACT": "Australia/Sydney",
    "VIC": "Australia/Melbourne",
    "TAS": "Australia/Hobart",
    "QLD": "Australia/Brisbane",
    "SA": "Australia/Adelaide",
    "WA": "Australia/Perth",
    "NT": "Australia/Darwin",
}
LEGAL_SUFFIXES = (
    (" Pty Ltd", 0.45),
    ("", 0.33),
    (" Pty. Ltd.", 0.04),
    (" Pty Limited", 0.04),
    (" Group", 0.04),
    (" & Co", 0.03),
    (" Australia", 0.03),
    (" Co", 0.04),
)
SUFFIX_WEIGHTS = tuple(w for _, w in LEGAL_SUFFIXES)
SUBURBS_BY_STATE = {state: [s for s in words.SUBURBS if s[1] == state] for state in words.AREA_CODES}
SUFFIXES = tuple(s for s, _ in LEGAL_SUFFIXES)


def derive(seed: int, *labels: object) -> int:
    text = "/".join(str(x) for x in (seed, *labels))
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


def block_sizes(parties: int) -> list[int]:
    count = max(1, math.ceil(parties / BLOCK))
    base, extra = divmod(parties, count)
    return [base + (1 if i < extra else 0) for i in range(count)]


def role_counts(size: int) -> dict[str, int]:
    counts = {}
    for role, rate in ROLE_RATES.items():
        n = round(rate * size / 1000)
        if n == 0 and size >= MIN_BLOCK_FOR_ALL_CASES:
            n = 1
        counts[role] = n
    return counts


def user_count(parties: int) -> int:
    return max(1, min(30, 3 + parties // 5000, parties))


def exact_labels(rng: random.Random, n: int, rates: dict[str, float], default: str) -> list[str]:
    """``n`` labels with exact shares (at least one of each when ``n`` allows), shuffled."""
    labels: list[str] = []
    for label, rate in rates.items():
        k = round(rate * n)
        if k == 0 and n >= 10:
            k = 1
        labels.extend([label] * k)
    labels = labels[:n]
    labels.extend([default] * (n - len(labels)))
    rng.shuffle(labels)
    return labels


class Profile:
    """How messy one party is: name, ABN, e-mail, phone and address style."""

    __slots__ = ("abn", "address", "email", "name", "phone")

    def __init__(self, name: str, abn: str, email: str, phone: str, address: str) -> None:
        self.name, self.abn, self.email, self.phone, self.address = name, abn, email, phone, address


def copy_tree(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: copy_tree(v) for k, v in value.items()}
    if isinstance(value, list):
        return [copy_tree(v) for v in value]
    return value


class BlockBase:
    """One block's random stream, id slots, output lists and case marks."""

    def __init__(self, world: World, index: int, size: int, slots: list[int], counts: dict[str, int]) -> None:
        self.w = world
        self.index = index
        self.size = size
        self.counts = counts
        self.rng = random.Random(derive(world.seed, "block", index))
        self.budget = size
        self.old = [s for s in slots if world.slot_time(s) < world.old_limit]
        self.new = [s for s in slots if world.slot_time(s) > world.new_limit]
        self.mid = [s for s in slots if world.old_limit <= world.slot_time(s) <= world.new_limit]
        for pool in (self.old, self.new, self.mid):
            self.rng.shuffle(pool)
        self.parties: list[Record] = []
        self.deleted: list[Record] = []
        self.contacts: list[Record] = []
        self.repeating_invoices: list[Record] = []
        self.cases: dict[str, list[Any]] = {name: [] for name in CASES}
        self.pending: dict[int, list[str]] = {}
        self.linked: set[int] = set()  # parties a correct sync must not simply create
        self.people_of: dict[int, list[Record]] = {}

    # -- slots and ids -------------------------------------------------------------------------------
    def take_old(self, n: int = 1) -> list[int] | None:
        if len(self.old) < n:
            return None
        return [self.old.pop() for _ in range(n)]

    def take_new(self) -> int | None:
        return self.new.pop() if self.new else None

    def take_any(self) -> int:
        total = len(self.old) + len(self.new) + len(self.mid)
        pick = self.rng.randrange(total)
        if pick < len(self.old):
            return self.old.pop()
        if pick < len(self.old) + len(self.new):
            return self.new.pop()
        return self.mid.pop()

    def row(self) -> int:
        self.w.next_row += 1
        return self.w.next_row

    def value_id(self) -> int:
        self.w.next_value += 1
        return self.w.next_value

    def guid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def between(self, lo: int, hi: int) -> int:
        return lo if hi <= lo else self.rng.randint(lo, hi)

    def xero_time(self, lo: int, hi: int) -> datetime:
        return utc_ms(self.between(lo * 1000, hi * 1000))

    def mark(self, case: str, value: Any) -> None:
        self.cases[case].append(value)

    def pend(self, party_id: int, case: str) -> None:
        self.pending.setdefault(party_id, []).append(case)

    def live(self, party: Record) -> Record:
        self.parties.append(party)
        self.budget -= 1
        for case in self.pending.pop(party["id"], ()):
            self.cases[case].append(party["id"])
        return party

    def discard(self, party: Record) -> None:
        self.pending.pop(party["id"], None)
