"""The small files beside the DuckDB file: whole or not at all, private, and locks a killed process lets go."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from capsule_xero.files import exclusive_lock, open_lock_file, try_lock, unlock, write_private_file


def test_a_private_file_is_readable_by_its_owner_only_even_under_an_open_umask(tmp_path: Path) -> None:
    target = tmp_path / "xero-token.json"
    previous = os.umask(0o022)
    try:
        write_private_file(target, b'{"access_token": "first"}')
        write_private_file(target, b'{"access_token": "second"}')
    finally:
        os.umask(previous)
    assert target.read_bytes() == b'{"access_token": "second"}'
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["xero-token.json"]


def test_a_write_that_fails_half_way_leaves_the_previous_file_whole_and_no_temporary_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "xero-budget.json"
    write_private_file(target, b"the previous figures")

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space left"):
        write_private_file(target, b"new figures, never whole")
    assert target.read_bytes() == b"the previous figures"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["xero-budget.json"]


HOLD_AND_WAIT = """
import sys, time
from pathlib import Path
from capsule_xero.files import exclusive_lock
with exclusive_lock(Path(sys.argv[1])):
    print("held", flush=True)
    time.sleep(60)
"""


def test_a_lock_held_by_a_killed_process_is_free_for_the_next_one_at_once(tmp_path: Path) -> None:
    lock = tmp_path / "xero-token.lock"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_AND_WAIT, str(lock)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        fd = open_lock_file(lock)
        try:
            assert not try_lock(fd, exclusive=True)  # the other process holds it
            assert not try_lock(fd, exclusive=False)
            holder.send_signal(signal.SIGKILL)
            holder.wait(timeout=10)
            started = time.monotonic()
            with exclusive_lock(lock):  # no stale lock to clean up, no waiting
                assert time.monotonic() - started < 1.0
        finally:
            unlock(fd)
            os.close(fd)
    finally:
        holder.kill()
        holder.wait(timeout=10)
    assert stat.S_IMODE(lock.stat().st_mode) == 0o600
