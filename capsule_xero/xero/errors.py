"""What a person is told when Xero stops a run, and Xero's error shapes read in one place.

- ``DailyLimitReached``: reads stopped to keep the daily limit and the write reserve intact
  (docs/api-facts.md#xero-rate-limits); it says when to run again.
- ``XeroUnavailable``: Xero or the network kept failing through every retry.
- ``problem_detail`` / ``error_message``: Xero's own words in an error body, whichever shape it has
  (``Message`` and ``Elements[].ValidationErrors`` of the Accounting API, ``Detail``/``Title`` of the
  gateway's problem details; docs/api-facts.md#xero-errors). The extractor (pipelines/xero/helpers.py)
  reads its errors with them; nothing here quotes a header or a token.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any


class DailyLimitReached(Exception):
    """Reads stopped to keep Xero's daily limit (and the write reserve) intact.

    ``resume_after`` is when the organisation's daily window will have reset (exact when Xero
    said so in ``Retry-After``, otherwise the latest it can be: Xero's day windows last 24 hours).
    """

    load_info: Any = None  # set by run_xero_extract: what was loaded before the stop

    def __init__(self, tenant: str, remaining: int | None, reserve: int, resume_after: datetime, exact: bool):
        self.tenant = tenant
        self.remaining = remaining
        self.reserve = reserve
        self.resume_after = resume_after
        self.exact = exact
        when = resume_after.strftime("%Y-%m-%d %H:%M UTC")
        org = f"organisation {tenant}" if tenant else "this organisation"
        if remaining:
            state = f"is nearly used up: {remaining} calls left, kept for writes (reserve {reserve})"
        else:
            state = "is used up (Xero refused a call with 429, limit: day)"
        # The parts a writer words its own stop with (reverse_etl/apply.py): this text is the reader's.
        self.situation = f"Xero's daily call limit for {org} {state}"
        self.timing = (
            f"after {when}"
            if exact
            else f"after {when} at the latest (Xero's daily window resets within 24 hours)"
        )
        super().__init__(
            f"{self.situation}. Reads stopped cleanly; what was read is loaded, "
            f"and the next run continues from its cursor. Run again {self.timing}."
        )


class XeroUnavailable(Exception):
    """Xero kept failing (5xx, 429, timeouts or dropped connections) through every retry."""


def _body(text: str) -> Any:
    try:
        return json.loads(text) if text else None
    except ValueError:
        return None


def problem_detail(text: str) -> str:
    """The one-line reason of a whole-request error (401, 403, 429, 5xx), or the text itself."""
    body = _body(text)
    if body is None:
        return (text or "")[:300]
    if isinstance(body, dict):
        for key in ("Detail", "detail", "Message", "message", "Title"):
            if isinstance(body.get(key), str) and body[key]:
                return body[key][:300]
    return ""


def element_messages(element: Mapping[str, Any], key: str = "ValidationErrors") -> list[str]:
    """The messages Xero put on one element of a batch (``ValidationErrors`` or ``Warnings``)."""
    out = []
    for error in element.get(key) or ():
        if isinstance(error, Mapping):
            text = error.get("Message") or error.get("Description")
            if text:
                out.append(str(text))
    return out


def error_message(text: str) -> str:
    """Xero's message for a refused request, with every element's validation errors."""
    body = _body(text)
    if body is None:
        return (text or "").strip()[:300]
    if not isinstance(body, dict):
        return ""
    messages = [body.get("Message") or body.get("Detail") or body.get("Title") or ""]
    for element in body.get("Elements") or []:
        messages += element_messages(element or {})
    return "; ".join(m for m in messages if m)[:500]
