"""A durable spool of webhook deliveries outside the DuckDB file: receivers never write it
(docs/architecture.md#webhooks-and-the-spool).

One file per delivery in ``$CAPSULE_XERO_HOME/spool/``, named ``<source>-<digest>-<events>.json``:
a line of JSON (``{"source", "received_at"}``), then the body as it was received.

- Written once (capsule_xero/files.py): a temporary file (0600), ``fsync``, ``rename``, ``fsync`` of the
  folder, so a file that exists is whole and survives a crash or power cut; the receiver answers 200 only after that. Two
  fsyncs a delivery whatever its size, and the body is written as it came (never re-encoded): a file
  and two fsyncs per *event* made a 20,000-record Capsule delivery take 25 s and more, far past
  Xero's 5 s (bench/webhooks.py).
- ``digest`` (``delivery_digest``) is the same for a replayed or retried delivery, so it lands on the
  same name and is kept once — also after the sensor has moved it to ``spool/done/``, for as long as
  ``done/`` keeps it. For Xero it hashes the distinct events, each on its canonical JSON (never the
  envelope: ``entropy`` and the sequence numbers differ between retries of the same events); Capsule's
  envelope has nothing that changes between retries, so the body's bytes are hashed. A delivery that
  shares only some events with an earlier one is kept whole: events are hints, and the worst it costs
  is one more incremental run.
- The sensor (assets/sensors/webhooks.py) reads the pending names oldest first and moves a batch to
  ``spool/done/`` only once Dagster has recorded the run it asked for (until then the files stay
  pending, so a daemon dying mid-tick loses none). Files in ``done/`` older than
  ``WEBHOOK_SPOOL_DAYS`` (default 7) are deleted when the sensor next moves a batch there.
- Deliveries carry customer records: the folders are 0700 and the files 0600.
- Bounded: while the pending files hold ``WEBHOOK_SPOOL_MAX_MB`` (default 512) or more, ``put`` refuses
  with ``SpoolFull`` (the receiver answers 503 and alerts): nothing is consuming the spool, and it
  must not fill the disk the DuckDB file lives on.

Files of the earlier layout (``<source>-<hash>.json``, one event each) are still read.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from capsule_xero.files import PRIVATE_DIR, fsync_dir, write_private_file
from capsule_xero.settings import Settings

SOURCES = frozenset({"xero", "capsule"})
# The webhook fast lane's heartbeat (a dot-name: never a delivery), touched while it watches the spool.
FAST_LANE_BEAT = ".fast-lane-beat"
FAST_LANE_BEAT_SECONDS = 5.0
# How long a fresh delivery is the fast lane's: longer than its gap between passes in a burst (15 s).
FAST_LANE_GRACE_SECONDS = 30.0


@dataclass(frozen=True)
class SpoolLimits:
    """How much may wait in the spool, and how long consumed deliveries are kept (for replays)."""

    max_pending_bytes: int = 512 * 1024 * 1024
    keep_done: timedelta = timedelta(days=7)

    @classmethod
    def of(cls, settings: Settings) -> SpoolLimits:
        """From ``WEBHOOK_SPOOL_MAX_MB`` and ``WEBHOOK_SPOOL_DAYS`` (checked with every other setting)."""
        return cls(
            max_pending_bytes=settings.webhook_spool_max_mb * 1024 * 1024,
            keep_done=timedelta(days=settings.webhook_spool_days),
        )


class SpoolFull(Exception):
    """The pending deliveries reached ``WEBHOOK_SPOOL_MAX_MB``; the message says what to do."""

    def __init__(self, root: Path, pending_bytes: int, limit: int) -> None:
        self.pending_bytes, self.limit = pending_bytes, limit
        super().__init__(
            f"the webhook spool {root} holds {pending_bytes / 1e6:,.0f} MB of events no sync has taken"
            f" (WEBHOOK_SPOOL_MAX_MB is {limit // (1024 * 1024):,}): deliveries are refused with 503 until"
            " it drains. Start the Dagster daemon with webhook_events_sensor on (`capsule-xero ui`); Xero"
            " retries for 24 hours, Capsule five times and then drops the hook (subscribe it again)."
        )


def event_hash(event: Any) -> str:
    """sha256 of an event's canonical JSON: the same event, the same hash, whatever envelope it came in."""
    return hashlib.sha256(orjson.dumps(event, option=orjson.OPT_SORT_KEYS)).hexdigest()


def delivery_events(source: str, delivery: Any) -> list[dict[str, Any]]:
    """The events of a delivery: Xero's ``events``; one ``{"event", "record"}`` per Capsule record."""
    if source == "xero":
        return list(delivery["events"])
    return [{"event": delivery["event"], "record": record} for record in delivery["payload"]]


def delivery_digest(source: str, body: bytes, delivery: Any) -> tuple[str, int]:
    """The digest a delivery's file is named by, and how many events it holds."""
    if source == "xero":
        hashes = sorted({event_hash(event) for event in delivery["events"]})
        return hashlib.sha256("\n".join(hashes).encode("ascii")).hexdigest(), len(hashes)
    if source == "capsule":
        return hashlib.sha256(body).hexdigest(), len(delivery["payload"])
    raise ValueError(f"unknown event source {source!r}")


def delivery_body(source: str, events: Sequence[dict[str, Any]]) -> bytes:
    """A delivery of ``events`` as the sender would have sent it (for tests and tools)."""
    if source == "xero":
        return orjson.dumps({"events": list(events)})
    kinds = {event["event"] for event in events}
    if len(kinds) != 1:
        raise ValueError("a Capsule delivery carries records of one event")
    return orjson.dumps({"event": kinds.pop(), "payload": [event["record"] for event in events]})


def name_parts(path: Path) -> tuple[str, str, int]:
    """A spool file's source, digest and number of events (1 for a file of the one-event layout)."""
    source, _, rest = Path(path).stem.partition("-")
    digest, _, count = rest.partition("-")
    return source, digest, int(count) if count.isdigit() else 1


@dataclass(frozen=True)
class SpooledDelivery:
    path: Path
    source: str
    received_at: str
    events: list[dict[str, Any]]


@dataclass(frozen=True)
class Stored:
    """What ``put_delivery`` did: the file, its events, and whether it is new (False: a replay)."""

    path: Path | None
    events: int
    new: bool


class Spool:
    def __init__(self, root: Path, limits: SpoolLimits | None = None) -> None:
        self.root = Path(root)
        self.done = self.root / "done"
        # The webhook fast lane's deliveries in flight (assets/fast_lane.py): out of the sensor's sight.
        self.claimed = self.root / "claimed"
        self.limits = limits or SpoolLimits()
        self._private = False

    @classmethod
    def at_home(cls, home: Path, limits: SpoolLimits | None = None) -> Spool:
        return cls(Path(home) / "spool", limits)

    def _ensure(self) -> None:
        if self._private and self.done.is_dir():
            return
        created = not self.root.is_dir()
        self.root.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
        self.done.mkdir(mode=PRIVATE_DIR, exist_ok=True)
        for folder in (self.root, self.done):  # made by an earlier version (0755), or under a lax umask
            if stat.S_IMODE(folder.stat().st_mode) != PRIVATE_DIR:
                folder.chmod(PRIVATE_DIR)
        fsync_dir(self.root)
        if created:
            fsync_dir(self.root.parent)
        self._private = True

    def put_delivery(self, source: str, body: bytes, delivery: Any | None = None) -> Stored:
        """Store one delivery durably in one file, its body as received; one without events stores nothing.

        ``body`` must be the UTF-8 JSON of a delivery of ``source``'s shape (``delivery``: that JSON
        parsed, when the caller has it). Raises ``SpoolFull`` (nothing written) while the pending files
        hold the limit or more.
        """
        delivery = orjson.loads(body) if delivery is None else delivery
        digest, count = delivery_digest(source, body, delivery)
        if not count:
            return Stored(None, 0, False)
        name = f"{source}-{digest}-{count}.json"
        self._ensure()
        path = self.root / name
        if path.exists() or (self.done / name).exists() or (self.claimed / name).exists():
            return Stored(path, count, False)
        pending = self.pending_bytes()
        if pending >= self.limits.max_pending_bytes:
            raise SpoolFull(self.root, pending, self.limits.max_pending_bytes)
        head = orjson.dumps({"source": source, "received_at": datetime.now(UTC).isoformat()})
        # Its temporary file is a dot-name the sensor's ``*.json`` never matches, random per delivery.
        write_private_file(path, head + b"\n" + body)
        return Stored(path, count, True)

    def put(self, source: str, event: dict[str, Any]) -> tuple[Path, bool]:
        """One event as a delivery of its own; returns its path and whether it was new."""
        stored = self.put_delivery(source, delivery_body(source, [event]))
        assert stored.path is not None
        return stored.path, stored.new

    def pending(self) -> list[Path]:
        """Spooled deliveries not yet turned into a run, oldest first."""
        return [path for _, _, path, _ in self._pending_stats()]

    def pending_bytes(self) -> int:
        return sum(size for _, _, _, size in self._pending_stats())

    def oldest_pending_age(self, now: float | None = None) -> float | None:
        """Seconds since the oldest pending delivery arrived (None: nothing pending)."""
        stats = self._pending_stats()
        return None if not stats else max(0.0, (now or time.time()) - stats[0][0] / 1e9)

    def _pending_stats(self) -> list[tuple[int, str, Path, int]]:
        if not self.root.is_dir():
            return []
        files = []
        for path in self.root.glob("*.json"):
            with contextlib.suppress(FileNotFoundError):  # moved to done/ meanwhile
                info = path.stat()
                files.append((info.st_mtime_ns, path.name, path, info.st_size))
        return sorted(files)

    @staticmethod
    def read(path: Path) -> SpooledDelivery:
        head, _, body = Path(path).read_bytes().partition(b"\n")
        record = orjson.loads(head)
        source = record["source"]
        # A file of the one-event layout is one line: ``{"source", "received_at", "event"}``.
        events = delivery_events(source, orjson.loads(body)) if body else [record["event"]]
        return SpooledDelivery(Path(path), source, record["received_at"], events)

    def mark_done(self, paths: list[Path]) -> None:
        """Move consumed deliveries to ``done/`` (kept, so a later replay of one is still a duplicate)."""
        if not paths:
            return
        self._ensure()
        for path in paths:
            with contextlib.suppress(FileNotFoundError):
                os.replace(path, self.done / path.name)
        fsync_dir(self.done)
        fsync_dir(self.root)

    def claim(self, paths: Sequence[Path]) -> list[Path]:
        """Take pending deliveries out of the sensor's sight (into ``claimed/``) while the webhook fast
        lane syncs them; returns the claimed paths (a delivery moved meanwhile is left out)."""
        self._ensure()
        self.claimed.mkdir(mode=PRIVATE_DIR, exist_ok=True)
        taken = []
        for path in paths:
            with contextlib.suppress(FileNotFoundError):
                os.replace(path, self.claimed / path.name)  # keeps its mtime: its place in the queue
                taken.append(self.claimed / path.name)
        fsync_dir(self.claimed)
        fsync_dir(self.root)
        return taken

    def release(self, claimed: Sequence[Path]) -> None:
        """Give claimed deliveries back to the pending queue, in their old place (the sensor's run syncs them)."""
        if not claimed:
            return
        for path in claimed:
            with contextlib.suppress(FileNotFoundError):
                os.replace(path, self.root / path.name)
        fsync_dir(self.root)

    def finish(self, claimed: Sequence[Path]) -> None:
        """Claimed deliveries the fast lane synced: to ``done/``, like the sensor's."""
        self.mark_done(list(claimed))

    def release_stale_claims(self) -> int:
        """Claims a fast lane that died left behind go back to the queue; returns how many."""
        stale = sorted(self.claimed.glob("*.json")) if self.claimed.is_dir() else []
        self.release(stale)
        return len(stale)

    def beat(self) -> None:
        """The webhook fast lane says it is watching this spool (its worker, several times a second)."""
        self._ensure()
        (self.root / FAST_LANE_BEAT).touch()

    def fast_lane_watching(self, now: float | None = None) -> bool:
        """Whether a webhook fast lane has beaten on this spool within ``FAST_LANE_BEAT_SECONDS``."""
        try:
            beat = (self.root / FAST_LANE_BEAT).stat().st_mtime
        except FileNotFoundError:
            return False
        return (now or time.time()) - beat <= FAST_LANE_BEAT_SECONDS

    def fresh_for_fast_lane(self, now: float | None = None) -> set[Path]:
        """Pending deliveries the webhook fast lane, watching this spool, will take: the sensor leaves
        them alone (a delivery the lane gave back keeps its arrival time, and is older)."""
        now = now or time.time()
        if not self.fast_lane_watching(now):
            return set()
        return {
            path for mtime, _, path, _ in self._pending_stats() if now - mtime / 1e9 < FAST_LANE_GRACE_SECONDS
        }

    def prune_done(self, now: float | None = None) -> int:
        """Delete consumed deliveries received longer than ``keep_done`` ago; returns how many."""
        if not self.done.is_dir():
            return 0
        cutoff = (now or time.time()) - self.limits.keep_done.total_seconds()
        removed = 0
        for path in self.done.glob("*.json"):
            with contextlib.suppress(FileNotFoundError):
                if path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed += 1
        return removed
