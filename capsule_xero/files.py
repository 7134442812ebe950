"""The small files beside the DuckDB file: written whole or not at all, private, locked across processes.

- ``write_private_file``: a temporary file in the same folder (created 0600), written, ``fsync``,
  renamed over the target, and the folder ``fsync``ed: a file that exists is whole and survives a
  crash or power cut, and a reader never sees half of one (the token store, the Xero budget record,
  the alerts sent, each webhook delivery in the spool).
- ``exclusive_lock``: an exclusive ``fcntl.flock`` on a lock file (created 0600) for a block, across
  processes and threads (each hold opens its own descriptor). The kernel drops a flock when its
  process ends, however it ends, so a process killed while holding one never blocks the next.
  ``open_lock_file`` / ``try_lock`` / ``unlock`` are the same lock taken step by step, shared or
  exclusive, for the home's lock (capsule_xero/home_lock.py).

Why not the ``filelock`` package (in the lock file through dagster): the home's lock needs shared holds
(commands that only read) beside exclusive ones and writes its holder into the locked descriptor;
filelock offers exclusive locks only, so two mechanisms would remain.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


def fsync_dir(path: Path) -> None:
    """Make the folder's entries (a file created, renamed or removed in it) survive a power cut."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_private_file(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically and durably; the file is readable by its owner only.

    The temporary file is named ``.<name>.<random>.tmp`` beside the target (a dot-name no ``*.json``
    glob matches); it is removed again when anything fails.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, PRIVATE_FILE)  # mkstemp makes it 0600 already; said here, not assumed
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


def open_lock_file(path: Path) -> int:
    """A descriptor on the lock file ``path`` (created 0600, with its folder) to lock and unlock."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return os.open(path, os.O_RDWR | os.O_CREAT, PRIVATE_FILE)


def try_lock(fd: int, *, exclusive: bool) -> bool:
    """Take the flock on ``fd`` (exclusive or shared) if nobody else's hold is in the way; never waits."""
    try:
        fcntl.flock(fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EAGAIN, errno.EWOULDBLOCK, errno.EACCES):
            return False
        raise
    return True


def unlock(fd: int) -> None:
    fcntl.flock(fd, fcntl.LOCK_UN)


@contextlib.contextmanager
def exclusive_lock(lock_path: Path) -> Iterator[None]:
    """Hold an exclusive flock on ``lock_path`` for the block, waiting for any other holder."""
    fd = open_lock_file(lock_path)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        unlock(fd)
        os.close(fd)
