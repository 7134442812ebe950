"""Every Capsule failure as one exception family, and Capsule's error shapes read in one place.

Capsule answers an error with JSON: ``{"message": ...}`` (``{"error": ...}`` on a 429), and on a 422
also ``"errors": [{"message", "resource", "field"}]`` (docs/api-facts.md#capsule-errors).
``error_detail`` turns that into one line in Capsule's own words; ``rejection`` turns a 4xx into a
``CapsuleRequestRejected`` whose message says what to fix. The extractor (requests, through dlt) and
the write-back and polling sensor (httpx, through capsule_xero/capsule/client.py) both use them.
Messages never contain the token: it is cut out of any text that could quote it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from datetime import datetime
from typing import Any

TOKEN_HELP = "Capsule → My Preferences → API Authentication Tokens"  # noqa: S105 (where to get one)
DETAIL_CHARACTERS = 200


class CapsuleError(Exception):
    """Base of every Capsule failure this project reports. Messages never contain the token.

    ``advice`` is a sentence the caller adds for its situation (e.g. the extractor says where the
    next run resumes); it is part of ``str(error)``."""

    advice: str = ""

    def with_advice(self, advice: str) -> CapsuleError:
        self.advice = advice
        return self

    def __str__(self) -> str:
        message = super().__str__()
        return f"{message} {self.advice}" if self.advice else message


class CapsuleRateLimitReached(CapsuleError):
    """The hourly budget is used up and the reset is too far away to wait for."""

    def __init__(self, resume_at: datetime, limit: int | None, seconds_left: float) -> None:
        self.resume_at = resume_at
        self.limit = limit
        self.seconds_left = seconds_left
        minutes = max(1, math.ceil(seconds_left / 60))
        per_hour = f"{limit:,} calls per hour" if limit else "its hourly limit"
        super().__init__(
            f"Capsule's API limit for this user is used up ({per_hour}). It resets at "
            f"{resume_at:%Y-%m-%d %H:%M:%S} UTC (in about {minutes} min): run again after that."
        )


class CapsuleRequestRejected(CapsuleError):
    """A 4xx other than 429: retrying cannot help; the message says what to fix.

    ``detail`` is Capsule's own words (``error_detail``), for a caller that words its own message."""

    def __init__(self, status: int, message: str, detail: str = "") -> None:
        self.status = status
        self.detail = detail
        super().__init__(message)


class CapsuleUnavailable(CapsuleError):
    """5xx, timeouts or dropped connections that outlasted every retry."""


class CapsuleLoadFailed(CapsuleError):
    """Capsule answered, but normalising or writing into DuckDB failed."""


def error_detail(text: str) -> str:
    """Capsule's own words in an error body: ``message`` plus each validation error's field and message."""
    try:
        body: Any = json.loads(text) if text else None
    except ValueError:
        return (text or "").strip()[:DETAIL_CHARACTERS]
    if not isinstance(body, dict):
        return (str(body) if body is not None else "")[:DETAIL_CHARACTERS]
    parts = [str(body.get("message") or body.get("error") or "").strip()]
    for error in body.get("errors") or []:
        if isinstance(error, dict):
            field = f"{error.get('field')}: " if error.get("field") else ""
            parts.append(f"{field}{error.get('message')}")
    return "; ".join(p for p in parts if p)


def redact(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def _fix(status: int, api_url: str) -> str:
    if status == 401:
        return (
            "Capsule did not accept the API token. Set CAPSULE_API_TOKEN to a valid personal access "
            f"token ({TOKEN_HELP}); it may have been revoked or mistyped."
        )
    if status == 403:
        return (
            "The API token works but lacks permission for this. Use a token of a user who can see "
            f"these records, with the 'read' scope ({TOKEN_HELP})."
        )
    if status == 404:
        return f"Check CAPSULE_API_URL (now {api_url or 'unset'}): it should end in /api/v2."
    if status == 422:
        return (
            "Capsule refused the request's parameters; this is a bug in capsule-xero's request, "
            "not in your settings. Please report it with this message."
        )
    return "Retrying will not help; check the request and Capsule's status."


def rejection(
    status: int, reason: str, text: str, what: str, api_url: str, secrets: Iterable[str] = ()
) -> CapsuleRequestRejected:
    """A 4xx answer (``status``, its reason phrase and body ``text``) to ``what`` (e.g. ``GET /parties``)
    as an error a person can act on; the token never appears in it."""
    secrets = tuple(secrets)
    detail = redact(error_detail(text), secrets)
    said = f"{status} {reason or ''}".strip() + (f": {detail}" if detail else "")
    message = f"Capsule refused {what} ({said}). {_fix(status, api_url)}"
    return CapsuleRequestRejected(status, redact(message, secrets), detail)
