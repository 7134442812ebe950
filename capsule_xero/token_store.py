"""The Xero token store: one JSON file under CAPSULE_XERO_HOME, written atomically with mode 0600.

Xero rotates the refresh token on every use (FACTS §12), so losing a freshly issued token means
the user must consent again. Hence: write the new token set to a temp file, fsync, rename over
the old one (never a half-written file), fsync the folder, and only then hand the access token
out. One refresher at a time across processes: callers hold ``TokenStore.lock()`` (an exclusive
``flock`` on a side file) around read-refresh-write.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REFRESH_TOKEN_IDLE_DAYS = 60  # FACTS §12: a refresh token dies after 60 days unused


@dataclass
class TokenSet:
    access_token: str
    expires_at: datetime
    refresh_token: str | None = None  # None for custom connections (client_credentials)
    refreshed_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    scopes: list[str] = field(default_factory=list)
    tenant_id: str | None = None
    tenant_name: str | None = None
    kind: str = "oauth"  # "oauth" (authorization code) | "custom" (client_credentials)
    # The refresh token this set replaced, kept for Xero's 30-minute grace window: if a refresh
    # response is lost, the previous token can be used once more (FACTS §12).
    previous_refresh_token: str | None = None

    def access_token_valid(self, now: datetime, margin_seconds: float = 60) -> bool:
        return now < self.expires_at - timedelta(seconds=margin_seconds)

    def refresh_token_expires_at(self) -> datetime | None:
        if self.refresh_token is None:
            return None
        return self.refreshed_at + timedelta(days=REFRESH_TOKEN_IDLE_DAYS)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["expires_at"] = self.expires_at.isoformat()
        data["refreshed_at"] = self.refreshed_at.isoformat()
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TokenSet:
        data = dict(data)
        data["expires_at"] = datetime.fromisoformat(data["expires_at"])
        data["refreshed_at"] = datetime.fromisoformat(data["refreshed_at"])
        return cls(**data)

    def __repr__(self) -> str:  # tokens never reach a log line through repr
        return f"TokenSet(kind={self.kind!r}, tenant_id={self.tenant_id!r}, expires_at={self.expires_at.isoformat()})"


class TokenStore:
    def __init__(self, home: Path) -> None:
        self.path = Path(home) / "xero-token.json"
        self._lock_path = Path(home) / "xero-token.lock"

    def load(self) -> TokenSet | None:
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            return None
        return TokenSet.from_json(json.loads(text))

    def save(self, tokens: TokenSet) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".xero-token.", dir=self.path.parent)
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w") as handle:
                json.dump(tokens.to_json(), handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        dir_fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def delete(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def lock(self) -> contextlib.AbstractContextManager[None]:
        """Exclusive across processes and threads (each call opens its own descriptor)."""
        return exclusive_lock(self._lock_path)


@contextlib.contextmanager
def exclusive_lock(lock_path: Path) -> Iterator[None]:
    """Hold an exclusive flock on ``lock_path`` (created 0600) across processes and threads."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
