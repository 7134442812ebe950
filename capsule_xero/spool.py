"""A durable spool of webhook events outside the DuckDB file (DESIGN.md: receivers never write it).

One file per event in ``$CAPSULE_XERO_HOME/spool/``, named ``<source>-<content hash>.json``:

- Written atomically (temporary file, ``fsync``, ``rename``, ``fsync`` of the directory), so a file
  that exists is whole and survives a crash or power cut; the receiver answers 200 only after that.
- Named by a hash of the event itself (never of the delivery's envelope: Xero's ``entropy`` and
  sequence numbers differ between retries of the same events), so a replayed or retried event lands
  on the same name and is kept once — also after the sensor has moved it to ``spool/done/``.
- The sensor (assets/webhook_sensor.py) reads the pending files oldest first and moves a batch to
  ``spool/done/`` only once Dagster has recorded the run it asked for (until then the files stay
  pending, so a daemon dying mid-tick loses none).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SOURCES = frozenset({"xero", "capsule"})


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def event_name(source: str, event: Any) -> str:
    """``<source>-<sha256 of the event's canonical JSON>.json``: the same event, the same name."""
    if source not in SOURCES:
        raise ValueError(f"unknown event source {source!r}")
    canonical = json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return f"{source}-{hashlib.sha256(canonical.encode('utf-8')).hexdigest()}.json"


@dataclass(frozen=True)
class SpooledEvent:
    path: Path
    source: str
    received_at: str
    event: dict[str, Any]


class Spool:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.done = self.root / "done"

    @classmethod
    def at_home(cls, home: Path) -> Spool:
        return cls(Path(home) / "spool")

    def _ensure(self) -> None:
        if not self.done.is_dir():
            self.done.mkdir(parents=True, exist_ok=True)
            _fsync_dir(self.root)
            _fsync_dir(self.root.parent)

    def put(self, source: str, event: dict[str, Any]) -> tuple[Path, bool]:
        """Store ``event`` durably; returns its path and whether it was new (False: a duplicate)."""
        self._ensure()
        name = event_name(source, event)
        path = self.root / name
        if path.exists() or (self.done / name).exists():
            return path, False
        record = {"source": source, "received_at": datetime.now(UTC).isoformat(), "event": event}
        # A dot-name the sensor's ``*.json`` never matches; random so concurrent deliveries never share it.
        tmp = self.root / f".{name}.{secrets.token_hex(4)}.tmp"
        try:
            with open(tmp, "wb") as handle:
                handle.write(json.dumps(record, ensure_ascii=False).encode("utf-8"))
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        _fsync_dir(self.root)
        return path, True

    def pending(self) -> list[Path]:
        """Spooled events not yet turned into a run, oldest first."""
        if not self.root.is_dir():
            return []
        files = []
        for path in self.root.glob("*.json"):
            with contextlib.suppress(FileNotFoundError):  # moved to done/ meanwhile
                files.append((path.stat().st_mtime_ns, path.name, path))
        return [path for _, _, path in sorted(files)]

    @staticmethod
    def read(path: Path) -> SpooledEvent:
        record = json.loads(Path(path).read_bytes())
        return SpooledEvent(Path(path), record["source"], record["received_at"], record["event"])

    def mark_done(self, paths: list[Path]) -> None:
        """Move consumed events to ``done/`` (kept, so a later replay of one is still a duplicate)."""
        if not paths:
            return
        self._ensure()
        for path in paths:
            with contextlib.suppress(FileNotFoundError):
                os.replace(path, self.done / path.name)
        _fsync_dir(self.done)
        _fsync_dir(self.root)
