"""The Xero token store: one JSON file under CAPSULE_XERO_HOME, written atomically with mode 0600.

Xero rotates the refresh token on every use (docs/api-facts.md#xero-oauth-2-sign-in-and-tokens), so losing a freshly issued token means
the user must consent again. Hence: write the new token set to a temp file, fsync, rename over
the old one (never a half-written file), fsync the folder, and only then hand the access token
out (capsule_xero/files.py). One refresher at a time across processes: callers hold
``TokenStore.lock()`` (an exclusive ``flock`` on a side file) around read-refresh-write.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import stat
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from capsule_xero.files import exclusive_lock, write_private_file

REFRESH_TOKEN_IDLE_DAYS = (
    60  # a refresh token dies after 60 days unused (docs/api-facts.md#xero-oauth-2-sign-in-and-tokens)
)
STORE_FILE_NAME = "xero-token.json"
SIGN_IN_AGAIN = "run `capsule-xero auth login` to sign in again"

log = logging.getLogger(__name__)


class TokenFileError(ValueError):
    """The token file exists but holds no usable token set; the message says what is wrong and what to run."""

    def __init__(self, path: Path, what: str, fix: str = SIGN_IN_AGAIN) -> None:
        self.path = path
        self.what = what
        super().__init__(f"The Xero token file {path} {what}: {fix}.")


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
    # response is lost, the previous token can be used once more (docs/api-facts.md#xero-oauth-2-sign-in-and-tokens).
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
        """The token set in ``data``; ``ValueError`` saying which part is missing or wrong."""
        data = dict(data)
        for name in ("access_token", "expires_at", "refreshed_at"):
            if not data.get(name):
                raise ValueError(f"has no {name}")
        for name in ("expires_at", "refreshed_at"):
            try:
                moment = datetime.fromisoformat(str(data[name]))
            except ValueError:
                raise ValueError(f"has an {name} that is not a time") from None
            if moment.tzinfo is None:
                raise ValueError(f"has an {name} without a time zone")
            data[name] = moment
        texts = (
            "access_token",
            "refresh_token",
            "tenant_id",
            "tenant_name",
            "kind",
            "previous_refresh_token",
        )
        for name in texts:
            if data.get(name) is not None and not isinstance(data[name], str):
                raise ValueError(f"has a {name} that is not text")
        if not isinstance(data.get("scopes", []), list):
            raise ValueError("has scopes that are not a list")
        unknown = sorted(set(data) - {f.name for f in fields(cls)})
        if unknown:
            raise ValueError(f"has fields this version does not know ({', '.join(unknown)})")
        return cls(**data)

    def __repr__(self) -> str:  # tokens never reach a log line through repr
        return f"TokenSet(kind={self.kind!r}, tenant_id={self.tenant_id!r}, expires_at={self.expires_at.isoformat()})"


class TokenStore:
    def __init__(self, home: Path) -> None:
        self.path = Path(home) / STORE_FILE_NAME
        self._lock_path = Path(home) / "xero-token.lock"

    def load(self) -> TokenSet | None:
        """The stored token set; None when nobody signed in; ``TokenFileError`` when the file is unusable."""
        opened = token_file_made_private(self.path.parent)
        if opened:
            log.warning(opened)
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except IsADirectoryError:
            raise TokenFileError(self.path, "is a folder, not a file") from None
        except UnicodeDecodeError:
            raise TokenFileError(self.path, "is not text (overwritten by something else?)") from None
        except OSError as error:
            raise TokenFileError(self.path, f"cannot be read ({error.strerror})") from None
        if not text.strip():
            raise TokenFileError(self.path, "is empty")
        try:
            data = json.loads(text)
        except ValueError:
            raise TokenFileError(self.path, "is not valid JSON (cut short, or overwritten?)") from None
        if not isinstance(data, dict):
            raise TokenFileError(self.path, "does not hold a token set")
        try:
            return TokenSet.from_json(data)
        except ValueError as error:
            raise TokenFileError(self.path, str(error)) from None

    def problem(self) -> str | None:
        """Why the stored sign-in cannot be used, in one line (None: it can, or nobody signed in)."""
        try:
            self.load()
        except TokenFileError as error:
            return str(error)
        return None

    def save(self, tokens: TokenSet) -> None:
        if self.path.is_dir():
            raise TokenFileError(
                self.path, "is a folder, not a file", "remove it, then run `capsule-xero auth login`"
            )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_private_file(self.path, json.dumps(tokens.to_json()).encode("utf-8"))

    def delete(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def lock(self) -> contextlib.AbstractContextManager[None]:
        """Exclusive across processes and threads (each call opens its own descriptor)."""
        return exclusive_lock(self._lock_path)


def token_file_made_private(home: Path) -> str | None:
    """Close a token file other local users could read (0644 after a copy or a restore) to 0600.

    Returns the warning to show when it had to, else None. Only the owner's own file is changed.
    """
    path = Path(home) / STORE_FILE_NAME
    try:
        info = path.lstat()
    except OSError:
        return None
    mode = stat.S_IMODE(info.st_mode)
    if not stat.S_ISREG(info.st_mode) or not mode & 0o077 or info.st_uid != os.getuid():
        return None
    try:
        path.chmod(0o600)
    except OSError:
        return (
            f"The Xero token file {path} is readable by other users ({mode:04o}) and could not be made"
            " private: `chmod 600` it, then run `capsule-xero auth logout` and `capsule-xero auth login`"
            " to replace the tokens."
        )
    return (
        f"The Xero token file {path} was readable by other users ({mode:04o}); it is now 0600. If"
        " anyone else uses this machine, run `capsule-xero auth logout` and `capsule-xero auth login`"
        " to replace the tokens they could have read."
    )
