"""The Xero token store: atomic, private, one writer at a time."""

from __future__ import annotations

import multiprocessing
import os
import stat
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from capsule_xero.token_store import TokenSet, TokenStore


def _tokens(access: str = "access-abc", refresh: str | None = "refresh-xyz") -> TokenSet:
    return TokenSet(
        access_token=access, refresh_token=refresh, expires_at=datetime.now(UTC) + timedelta(minutes=30)
    )


def test_a_saved_token_set_reads_back_the_same(tmp_path: Path) -> None:
    store = TokenStore(tmp_path)
    tokens = _tokens()
    tokens.tenant_id = "tenant-1"
    store.save(tokens)
    assert store.load() == tokens


def test_the_token_file_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    store = TokenStore(tmp_path)
    store.save(_tokens())
    mode = stat.S_IMODE(os.stat(store.path).st_mode)
    assert mode == 0o600


def test_a_save_leaves_no_temporary_files_and_replaces_the_old_set_whole(tmp_path: Path) -> None:
    store = TokenStore(tmp_path)
    store.save(_tokens("first"))
    store.save(_tokens("second"))
    assert store.load().access_token == "second"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["xero-token.json"]


def test_tokens_never_show_in_the_repr_of_a_token_set() -> None:
    text = repr(_tokens("access-secret-1", "refresh-secret-2"))
    assert "access-secret-1" not in text and "refresh-secret-2" not in text


def test_the_refresh_token_is_known_to_die_sixty_days_after_its_last_use() -> None:
    tokens = _tokens()
    assert tokens.refresh_token_expires_at() == tokens.refreshed_at + timedelta(days=60)
    assert _tokens(refresh=None).refresh_token_expires_at() is None


def _hold_lock(home: str, log: str, label: str) -> None:
    store = TokenStore(Path(home))
    with store.lock():
        with open(log, "a") as handle:
            handle.write(f"{label}-in\n")
        time.sleep(0.3)
        with open(log, "a") as handle:
            handle.write(f"{label}-out\n")


def test_the_lock_lets_one_process_at_a_time_refresh(tmp_path: Path) -> None:
    log = tmp_path / "log.txt"
    ctx = multiprocessing.get_context("spawn")
    workers = [
        ctx.Process(target=_hold_lock, args=(str(tmp_path), str(log), name)) for name in ("a", "b", "c")
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(20)
    lines = log.read_text().split()
    assert len(lines) == 6
    for i in range(0, 6, 2):  # every "in" is followed by its own "out": no two holders overlap
        assert lines[i].endswith("-in") and lines[i + 1] == lines[i].replace("-in", "-out")
