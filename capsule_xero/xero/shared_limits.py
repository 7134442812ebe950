"""One Xero organisation's 5 calls at once and 60 a minute, shared by every process on the machine.

Xero counts both per organisation and app, whoever makes the call (docs/api-facts.md#xero-rate-limits):
a Dagster run and a `capsule-xero` command for the same client, each paced on its own, would together
make 10 calls at once and 120 a minute, and Xero would refuse the excess. The pacer
(capsule_xero/xero/pacing.py) keeps its own process inside the limits; this keeps all of them inside,
through files in a folder they share (the top-level home, where the one Xero sign-in lives):

- ``<key>.slot0`` … ``slot4``: a call holds one slot file's ``flock`` while it is in flight. The
  kernel lets go of a process's locks when it dies, so a killed run never keeps a slot.
- ``<key>.minute``: under its own ``flock``, the start of each call in flight (by slot) and the finish
  of each call in the last minute. A call starts only when fewer than 60 are in flight or finished
  within the minute, the pacer's own rule, counted across processes. A slot recorded as in flight
  whose lock nobody holds belonged to a process that died mid-call: it counts as finished then.

The times are the pacer's clock (``time.monotonic``: one clock for every process of the machine and its
containers). ``flock`` is not to be trusted on a network file system: the home must be a local disk or
a volume of the host the processes run on (docs/architecture.md#xero-limits-across-processes).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

CALLS_FOLDER = "xero-calls"


class SharedLimits:
    """The slots and the minute of one organisation (API origin + tenant) in ``folder``."""

    def __init__(
        self, folder: Path, api: str, tenant: str, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.folder = Path(folder)
        key = hashlib.sha256(f"{api}|{tenant}".encode()).hexdigest()[:24]
        self._base = self.folder / CALLS_FOLDER / key
        self.clock = clock
        self._fds: dict[int, int] = {}  # slot -> its file, opened once
        self._held: set[int] = set()  # slots this process's calls hold
        self._slots = threading.Lock()  # flock does not exclude threads sharing one file description
        self._ledger = threading.Lock()
        self._ledger_fd: int | None = None

    # ---- slots -----------------------------------------------------------------------------
    def _slot_fd(self, slot: int) -> int:
        fd = self._fds.get(slot)
        if fd is None:
            self._base.parent.mkdir(parents=True, exist_ok=True)
            fd = self._fds[slot] = os.open(f"{self._base}.slot{slot}", os.O_RDWR | os.O_CREAT, 0o600)
        return fd

    def _take_slot(self, slots: int) -> int | None:
        with self._slots:
            for slot in range(slots):
                if slot in self._held:
                    continue
                try:
                    fcntl.flock(self._slot_fd(slot), fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue
                self._held.add(slot)
                return slot
        return None

    def _free_slot(self, slot: int) -> None:
        with self._slots:
            fcntl.flock(self._slot_fd(slot), fcntl.LOCK_UN)
            self._held.discard(slot)

    def _nobody_holds(self, slot: int) -> bool:
        """Called holding the ledger: the slot's lock is free, so whoever recorded it there is gone."""
        with self._slots:
            if slot in self._held:
                return False
            try:
                fcntl.flock(self._slot_fd(slot), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            fcntl.flock(self._slot_fd(slot), fcntl.LOCK_UN)
            return True

    # ---- the minute ledger -----------------------------------------------------------------
    @contextlib.contextmanager
    def _locked_ledger(self) -> Iterator[tuple[dict[str, float], list[float]]]:
        with self._ledger:
            if self._ledger_fd is None:
                self._base.parent.mkdir(parents=True, exist_ok=True)
                self._ledger_fd = os.open(f"{self._base}.minute", os.O_RDWR | os.O_CREAT, 0o600)
            fd = self._ledger_fd
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                in_flight, finished = _parse(os.pread(fd, 1 << 16, 0))
                before = (dict(in_flight), list(finished))
                yield in_flight, finished
                if (in_flight, finished) != before:
                    body = json.dumps({"in_flight": in_flight, "finished": finished}).encode()
                    os.ftruncate(fd, 0)
                    os.pwrite(fd, body, 0)
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)

    def _admit(self, slot: int, per_minute: int, minute: float) -> float:
        """Record a call starting in ``slot`` (0.0), or how long to wait before trying again."""
        now = self.clock()
        with self._locked_ledger() as (in_flight, finished):
            if in_flight.pop(str(slot), None) is not None:
                finished.append(now)  # its last holder died mid-call: it never said when it ended
            for other in [int(s) for s in in_flight]:
                if self._nobody_holds(other):
                    del in_flight[str(other)]
                    finished.append(now)
            # A time ahead of the clock cannot be (the machine restarted since): it counts as now.
            kept = sorted(min(t, now) for t in finished if t > now - minute)
            finished[:] = kept
            if len(in_flight) + len(finished) >= per_minute:
                return max(0.001, finished[0] + minute - now) if finished else min(0.05, minute / 20)
            in_flight[str(slot)] = now
            return 0.0

    # ---- what the pacer calls ----------------------------------------------------------------
    def enter(self, slots: int, per_minute: int, minute: float) -> int:
        """Wait until a call may start (a slot free, the minute not used up); the slot it holds."""
        poll = min(0.05, minute / 100)
        while True:
            slot = self._take_slot(slots)
            if slot is None:
                time.sleep(poll)
                continue
            wait = self._admit(slot, per_minute, minute)
            if wait == 0.0:
                return slot
            self._free_slot(slot)
            time.sleep(wait)

    def leave(self, slot: int) -> None:
        """The call in ``slot`` finished: it counts in the minute from now; the slot is free."""
        try:
            with self._locked_ledger() as (in_flight, finished):
                in_flight.pop(str(slot), None)
                finished.append(self.clock())
        finally:
            self._free_slot(slot)

    def close(self) -> None:
        with self._slots, self._ledger:
            for fd in [*self._fds.values(), *([self._ledger_fd] if self._ledger_fd is not None else [])]:
                os.close(fd)
            self._fds.clear()
            self._held.clear()
            self._ledger_fd = None


def _parse(raw: bytes) -> tuple[dict[str, float], list[float]]:
    """The ledger's contents; a file cut short by a crash mid-write reads as empty (a minute's
    calls forgotten once, the price of not syncing the file on every call)."""
    try:
        data: Any = json.loads(raw) if raw else {}
    except ValueError:
        data = {}
    in_flight = data.get("in_flight") if isinstance(data, dict) else None
    finished = data.get("finished") if isinstance(data, dict) else None
    return (
        {str(k): float(v) for k, v in in_flight.items() if isinstance(v, int | float)}
        if isinstance(in_flight, dict)
        else {},
        [float(t) for t in finished if isinstance(t, int | float)] if isinstance(finished, list) else [],
    )
