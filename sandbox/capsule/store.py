"""An indexed, ordered collection of Capsule records (parties, opportunities, kases, tasks).

Built to serve 100k-1M records page by page without re-sorting per request:

- ``by_id``: the records, keyed by id.
- ``order``: every id, ascending. List order everywhere in this stand-in is **id ascending**
  (docs/api-facts.md#capsule-paging, #where-the-facts-are-uncertain: real ordering is undocumented;
  id order is stable under updates, so a record edited while a client pages does not jump pages,
  while a delete still shifts later rows one place earlier, exactly the offset-paging hazard real
  clients must survive).
- ``_updated``: ``(updatedAt, id)`` sorted, built lazily on the first ``since`` query and then
  maintained, so ``since`` is a bisect plus one sort of the matching ids; the result is cached
  per ``since`` value until the next write, so paging through one ``since`` run costs one
  sort in total, not one per page.
- ``tombstones``: ``{"id", "deletedAt"}`` ordered by ``(deletedAt, id)`` for the ``/deleted`` feeds.

Timestamps are kept as Capsule's fixed-width ``YYYY-MM-DDTHH:MM:SSZ`` strings, which compare
correctly as strings, so no per-record parsing is needed at load time.

Records are never mutated in place (callers replace them with ``put``): loaded records may be
the generator's own dicts, which tests read to compute expectations.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

Record = dict[str, Any]

_CANONICAL = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
_BIG = 1 << 63
SINGULAR = {"parties": "party", "opportunities": "opportunity", "kases": "kase", "tasks": "task"}


def iso(dt: datetime) -> str:
    """Capsule's timestamp format: UTC, whole seconds, ``Z``."""
    dt = dt.astimezone(UTC)
    return f"{dt.year:04d}-{dt.month:02d}-{dt.day:02d}T{dt.hour:02d}:{dt.minute:02d}:{dt.second:02d}Z"


def parse_instant(raw: str) -> datetime:
    """An ISO-8601 instant as clients send it (``Z`` or an offset; naive is read as UTC)."""
    text = raw.strip()
    if not text:
        raise ValueError("empty timestamp")
    dt = datetime.fromisoformat(text[:-1] + "+00:00" if text[-1] in "zZ" else text)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)  # [INF] a naive instant is taken as UTC
    return dt.astimezone(UTC)


def canonical(ts: str | None) -> str | None:
    """A stored timestamp in the fixed-width form (reformatted only when it is not already)."""
    if ts is None or _CANONICAL.match(ts):
        return ts
    return iso(parse_instant(ts))


class Collection:
    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.by_id: dict[int, Record] = {}
        self.order: list[int] = []
        self.tombstones: list[Record] = []
        self._tomb_keys: list[tuple[str, int]] = []
        self.restricted: list[Record] = []
        self._updated: list[tuple[str, int]] | None = None
        self._since_cache: dict[str, list[int]] = {}
        self._refs: dict[str, dict[int, set[int]]] = {}
        self._ref_getters: dict[str, Callable[[Record], int | None]] = {}
        self.max_id = 0

    # ---- loading ---------------------------------------------------------------------------
    def load(
        self,
        records: Iterable[Record],
        tombstones: Iterable[Record] = (),
        restricted: Iterable[Record] = (),
    ) -> None:
        by_id: dict[int, Record] = {}
        for record in records:
            updated = record.get("updatedAt")
            if updated is not None and not _CANONICAL.match(updated):
                record = {**record, "updatedAt": canonical(updated)}
            by_id[record["id"]] = record
        self.by_id = by_id
        self.order = sorted(by_id)
        self.tombstones = sorted(
            ({"id": t["id"], "deletedAt": canonical(t["deletedAt"])} for t in tombstones),
            key=lambda t: (t["deletedAt"], t["id"]),
        )
        self._tomb_keys = [(t["deletedAt"], t["id"]) for t in self.tombstones]
        self.restricted = list(restricted)
        self._updated = None
        self._since_cache.clear()
        self._refs.clear()
        self.max_id = max(
            (self.order[-1] if self.order else 0),
            max((t["id"] for t in self.tombstones), default=0),
            max((r["id"] for r in self.restricted), default=0),
        )

    def __len__(self) -> int:
        return len(self.by_id)

    def get(self, record_id: int) -> Record | None:
        return self.by_id.get(record_id)

    def next_id(self) -> int:
        self.max_id += 1
        return self.max_id

    # ---- writes ----------------------------------------------------------------------------
    def put(self, record: Record) -> None:
        """Insert or replace (never mutate the stored dict in place: replace it)."""
        record_id = record["id"]
        old = self.by_id.get(record_id)
        self.by_id[record_id] = record
        self.max_id = max(self.max_id, record_id)
        if old is None:
            if not self.order or self.order[-1] < record_id:
                self.order.append(record_id)
            else:
                bisect.insort(self.order, record_id)
        if self._updated is not None:
            if old is not None:
                self._discard_updated(old)
            bisect.insort(self._updated, (record["updatedAt"], record_id))
        for name, refs in self._refs.items():
            getter = self._ref_getters[name]
            if old is not None and (ref := getter(old)) is not None:
                refs.get(ref, set()).discard(record_id)
            if (ref := getter(record)) is not None:
                refs.setdefault(ref, set()).add(record_id)
        self._since_cache.clear()

    def remove(self, record_id: int, deleted_at: str | None) -> Record | None:
        """Drop a record; with ``deleted_at`` it also leaves a tombstone for the deleted feed."""
        old = self.by_id.pop(record_id, None)
        if old is None:
            return None
        index = bisect.bisect_left(self.order, record_id)
        del self.order[index]
        if self._updated is not None:
            self._discard_updated(old)
        for name, refs in self._refs.items():
            if (ref := self._ref_getters[name](old)) is not None:
                refs.get(ref, set()).discard(record_id)
        if deleted_at is not None:
            key = (deleted_at, record_id)
            at = bisect.bisect_right(self._tomb_keys, key)
            self._tomb_keys.insert(at, key)
            self.tombstones.insert(at, {"id": record_id, "deletedAt": deleted_at})
        self._since_cache.clear()
        return old

    def _discard_updated(self, record: Record) -> None:
        assert self._updated is not None
        key = (record["updatedAt"], record["id"])
        index = bisect.bisect_left(self._updated, key)
        if index < len(self._updated) and self._updated[index] == key:
            del self._updated[index]

    # ---- reads -----------------------------------------------------------------------------
    def ids(self, since: str | None = None) -> list[int]:
        """All ids in list order (ascending), or those changed strictly after ``since``."""
        if since is None:
            return self.order
        cached = self._since_cache.get(since)
        if cached is not None:
            return cached
        if self._updated is None:
            self._updated = sorted((r["updatedAt"], i) for i, r in self.by_id.items())
        start = bisect.bisect_right(self._updated, (since, _BIG))
        ids = sorted(i for _, i in self._updated[start:])
        if len(self._since_cache) >= 8:
            self._since_cache.clear()
        self._since_cache[since] = ids
        return ids

    def filtered(self, key: str, predicate: Callable[[Record], bool]) -> list[int]:
        """Ids (in list order) of records matching ``predicate``; cached under ``key`` until a write."""
        cache_key = f"filter:{key}"
        cached = self._since_cache.get(cache_key)
        if cached is None:
            by_id = self.by_id
            cached = [i for i in self.order if predicate(by_id[i])]
            self._since_cache[cache_key] = cached
        return cached

    def deleted_since(self, since: str) -> list[Record]:
        start = bisect.bisect_right(self._tomb_keys, (since, _BIG))
        return self.tombstones[start:]

    def referencing(self, name: str, getter: Callable[[Record], int | None], ref_id: int) -> set[int]:
        """Ids of records whose ``getter(record) == ref_id`` (an index built on first use)."""
        refs = self._refs.get(name)
        if refs is None:
            refs = {}
            for record_id, record in self.by_id.items():
                if (ref := getter(record)) is not None:
                    refs.setdefault(ref, set()).add(record_id)
            self._refs[name] = refs
            self._ref_getters[name] = getter
        return set(refs.get(ref_id, ()))


def nested_id(key: str) -> Callable[[Record], int | None]:
    """A getter for ``record[key]["id"]`` (None when the nested ref is null)."""

    def get(record: Record) -> int | None:
        ref = record.get(key)
        return ref.get("id") if isinstance(ref, dict) else None

    return get


def page_slice(ids: list[int], page: int, per_page: int) -> tuple[list[int], bool]:
    start = (page - 1) * per_page
    chunk = ids[start : start + per_page + 1]
    return chunk[:per_page], len(chunk) > per_page
