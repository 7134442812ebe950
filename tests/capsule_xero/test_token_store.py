"""The Xero token store: atomic, private, one writer at a time."""

from __future__ import annotations

import multiprocessing
import os
import stat
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from capsule_xero.xero.token_store import TokenFileError, TokenSet, TokenStore, token_file_made_private


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


# --- files that are not what the store wrote (issue 11) ------------------------------------------------


def test_a_token_file_other_users_could_read_is_made_private_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = TokenStore(tmp_path)
    store.save(_tokens())
    os.chmod(store.path, 0o644)  # restored from a backup, or copied by hand
    assert store.load() is not None
    assert stat.S_IMODE(os.stat(store.path).st_mode) == 0o600
    assert "was readable by other users (0644); it is now 0600" in caplog.text
    assert "access-abc" not in caplog.text


def test_a_private_token_file_is_left_alone_and_gives_no_warning(tmp_path: Path) -> None:
    store = TokenStore(tmp_path)
    store.save(_tokens())
    assert token_file_made_private(tmp_path) is None
    assert token_file_made_private(tmp_path / "nobody-signed-in-here") is None


@pytest.mark.parametrize(
    ("write", "what"),
    [
        (lambda path: path.write_text(""), "is empty"),
        (
            lambda path: path.write_text('{"access_token": "abc", "expi'),
            "is not valid JSON (cut short, or overwritten?)",
        ),
        (
            lambda path: path.write_bytes(b"\xff\xfe\x00garbage"),
            "is not text (overwritten by something else?)",
        ),
        (lambda path: path.mkdir(), "is a folder, not a file"),
        (
            lambda path: path.write_text(
                '{"access_token": "abc", "refreshed_at": "2030-01-01T00:00:00+00:00"}'
            ),
            "has no expires_at",
        ),
        (
            lambda path: path.write_text(
                '{"access_token": "abc", "expires_at": "tomorrow", "refreshed_at": "2030-01-01T00:00:00+00:00"}'
            ),
            "has an expires_at that is not a time",
        ),
        (
            lambda path: path.write_text(
                '{"access_token": "abc", "expires_at": "2030-01-01T00:00:00", "refreshed_at": "2030-01-01T00:00:00+00:00"}'
            ),
            "has an expires_at without a time zone",
        ),
    ],
)
def test_an_unusable_token_file_says_what_is_wrong_and_to_sign_in_again(
    tmp_path: Path, write: Callable[[Path], object], what: str
) -> None:
    store = TokenStore(tmp_path)
    write(store.path)
    with pytest.raises(TokenFileError) as caught:
        store.load()
    assert (
        str(caught.value)
        == f"The Xero token file {store.path} {what}: run `capsule-xero auth login` to sign in again."
    )
    assert store.problem() == str(caught.value)


def test_an_unusable_token_file_is_an_alert_to_sign_in_again_not_a_failing_sensor(tmp_path: Path) -> None:
    from capsule_xero.rules.model import Rules
    from capsule_xero.settings import Settings
    from reverse_etl.alerts.finding import find_alerts

    TokenStore(tmp_path).path.write_text('{"access_token": "tok-123"')
    (alert,) = find_alerts(
        None, Settings.from_env({"CAPSULE_XERO_HOME": str(tmp_path)}), Rules(), datetime.now(UTC)
    )
    assert alert.title == "The Xero sign-in cannot be read"
    assert "is not valid JSON" in alert.detail and "tok-123" not in alert.text()
    assert alert.fix_command == "`capsule-xero auth login`"
