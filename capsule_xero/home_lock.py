"""One capsule-xero run at a time per CAPSULE_XERO_HOME.

Two syncs on one home share dlt's load folder and the DuckDB file and wreck each other (a load
package one run deletes while the other loads it). So whatever reads or writes them takes
``$CAPSULE_XERO_HOME/capsule-xero.lock`` first:

- exclusive (``home_lock``): ``sync``, ``extract``, ``apply``, ``undo``, ``approve``, ``plan --refresh``
  and the Dagster steps that extract, reconcile or write. The holder writes its PID, start time and
  command into the file, so a second run can say who it waits for.
- shared (``home_lock(shared=True)``): commands that only read the DuckDB file (``status``, ``report``,
  ``plan``) and the alert sensor. DuckDB refuses a writer while any other process has the file open,
  even read-only, so a reader must never open it under a running sync, and a sync waits for readers.

The lock is ``fcntl.flock`` on an open descriptor (capsule_xero/files.py): the kernel drops it when its process ends, however
it ends, so a run that was killed never blocks the next one (the PID it wrote is then stale and is
not shown). Within one process the lock is re-entrant: a CLI command holds it for its whole run and
the extract and DuckDB helpers it calls take it again without waiting for themselves.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from capsule_xero.files import open_lock_file, try_lock, unlock

LOCK_FILE = "capsule-xero.lock"
# A second run waits this long for the first to finish before it says who holds the home: long
# enough to ride out a status or report reading the file, short enough not to pile up cron runs.
WAIT_SECONDS = 10.0
# A command that only reads waits less: a sync holds the file for minutes, so say so at once.
READ_WAIT_SECONDS = 2.0
POLL_SECONDS = 0.1


@dataclass(frozen=True)
class Holder:
    """Who holds the home exclusively, as it wrote itself into the lock file."""

    pid: int
    started_at: datetime
    command: str

    def describe(self) -> str:
        return f"{self.command}, PID {self.pid}, started at {self.started_at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"


class HomeBusy(Exception):
    """Another process holds the home; the message names it when it could."""

    def __init__(self, home: Path, holder: Holder | None) -> None:
        self.home = home
        self.holder = holder
        if holder is not None:
            message = (
                f"Another sync is running on {home} ({holder.describe()}): it holds the DuckDB file "
                "and dlt's folder until it ends. Run this again once it has finished."
            )
        else:
            message = (
                f"Another capsule-xero command is using {home} (a status, report or plan reading the "
                "DuckDB file, or a sync starting). Run this again in a moment."
            )
        super().__init__(message)


@dataclass
class _Held:
    fd: int
    exclusive: bool
    depth: int


_held: dict[Path, _Held] = {}
_guard = threading.RLock()


def lock_path(home: Path) -> Path:
    return Path(home) / LOCK_FILE


def _key(home: Path) -> Path:
    return lock_path(Path(home).expanduser().resolve())


def _acquire(fd: int, exclusive: bool, wait: float) -> bool:
    deadline = time.monotonic() + max(0.0, wait)
    while True:
        if try_lock(fd, exclusive=exclusive):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL_SECONDS)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def _read_holder(path: Path) -> Holder | None:
    try:
        data = json.loads(path.read_text() or "null")
        holder = Holder(int(data["pid"]), datetime.fromisoformat(data["started_at"]), str(data["command"]))
    except (OSError, ValueError, TypeError, KeyError):
        return None
    # A process that was killed left its line behind but not its lock: that line is not the holder.
    return holder if holder.pid != os.getpid() and _alive(holder.pid) else None


def _write_holder(fd: int, command: str) -> None:
    line = json.dumps({"pid": os.getpid(), "started_at": datetime.now(UTC).isoformat(), "command": command})
    os.ftruncate(fd, 0)
    os.pwrite(fd, line.encode(), 0)


def this_command() -> str:
    """How this process was started, for the lock file: ``capsule-xero sync --apply`` (settings come
    from the environment, so the command line holds no secret)."""
    import sys

    program = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "python"
    return " ".join(["capsule-xero" if program.startswith("capsule-xero") else program, *sys.argv[1:4]])


@contextlib.contextmanager
def home_lock(
    home: Path, command: str | None = None, *, shared: bool = False, wait: float | None = None
) -> Iterator[None]:
    """Hold the home's lock (exclusive unless ``shared``) for the block; re-entrant in a process.

    Waits up to ``wait`` seconds for another process to let go, then raises ``HomeBusy`` naming the
    holder. A shared hold asked for an exclusive one is upgraded: let go, then taken exclusively, so
    another writer may come first (then this one waits like any other); once upgraded, the hold stays
    exclusive until the process lets go of it altogether. ``wait`` defaults to ``WAIT_SECONDS``."""
    wait = WAIT_SECONDS if wait is None else wait
    path = _key(home)
    with _guard:
        held = _held.get(path)
        if held is None:
            fd = open_lock_file(path)
            if not _acquire(fd, not shared, wait):
                os.close(fd)
                raise HomeBusy(Path(home), _read_holder(path))
            held = _held[path] = _Held(fd, not shared, 0)
            if not shared:
                _write_holder(fd, command or this_command())
        elif not shared and not held.exclusive:
            # Let go of the shared hold first: two readers that both want to write would otherwise
            # each wait for the other's shared hold. The writer that comes first goes first.
            unlock(held.fd)
            if not _acquire(held.fd, True, wait):
                _acquire(held.fd, False, wait)
                raise HomeBusy(Path(home), _read_holder(path))
            held.exclusive = True
            _write_holder(held.fd, command or this_command())
        held.depth += 1
    try:
        yield
    finally:
        with _guard:
            held.depth -= 1
            if held.depth == 0:
                del _held[path]
                if held.exclusive:
                    with contextlib.suppress(OSError):
                        os.ftruncate(held.fd, 0)
                unlock(held.fd)
                os.close(held.fd)
