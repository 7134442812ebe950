"""What a person is told when Xero stops a run, and Xero's error shapes read in one place.

- ``DailyLimitReached``: reads stopped to keep the daily limit and the write reserve intact
  (docs/api-facts.md#xero-rate-limits); it says when to run again.
- ``XeroUnavailable``: Xero or the network kept failing through every retry.
- ``MissingScope``: a 401 ``insufficient_scope``; it names the scope the endpoint needs and the
  command that asks for it (``missing_scope`` builds it from the refused request).
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

from capsule_xero.xero.scopes import ScopeStyle, scope_for


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


class MissingScope(Exception):
    """Xero refused a call for a scope the sign-in did not grant; only new consent adds one."""

    def __init__(self, method: str, path: str, scope: str, custom_connection: bool = False) -> None:
        self.method, self.path, self.scope = method, path, scope
        fix = (
            f"add {scope} to the custom connection at developer.xero.com, have it authorised again,"
            " then run `capsule-xero auth login`"
            if custom_connection
            else "run `capsule-xero auth login` to consent again"
        )
        super().__init__(
            f"Xero refused {method} {path} (401 insufficient_scope): the Xero sign-in lacks the scope {scope}; {fix}."
        )


# The first path segment after /api.xro/2.0 → the scope family it needs
# (docs/api-facts.md#xero-scopes-for-money). Items are listed under both invoices and settings in
# Xero's granular table; the tool reads them with invoices, so that is the scope named.
_FAMILIES = {
    **dict.fromkeys(
        (
            "invoices",
            "creditnotes",
            "quotes",
            "items",
            "repeatinginvoices",
            "purchaseorders",
            "linkedtransactions",
        ),
        "invoices",
    ),
    **dict.fromkeys(("payments", "overpayments", "prepayments", "batchpayments"), "payments"),
    **dict.fromkeys(("contacts", "contactgroups"), "contacts"),
}
# Contacts and settings are the same for granular and broad apps; these are the scopes sign-in asks for.
_FIXED = {"contacts": "accounting.contacts"}
_SETTINGS_SCOPE = "accounting.settings.read"


def missing_scope(
    status: int,
    www_authenticate: str,
    method: str,
    path: str,
    style: ScopeStyle = "granular",
    custom_connection: bool = False,
) -> MissingScope | None:
    """The ``MissingScope`` for a refused call, or None when it was not refused for a scope.

    Xero says which scope is missing nowhere in its answer (a bare 401 ``AuthorizationUnsuccessful``
    with ``WWW-Authenticate: insufficient_scope``), so the scope is found from the endpoint: reading
    needs the ``.read`` scope at least, writing the full one.
    """
    if status != 401 or "insufficient_scope" not in www_authenticate.lower():
        return None
    segments = [s for s in path.lower().split("/") if s]
    tail = segments[segments.index("2.0") + 1 :] if "2.0" in segments else segments
    family = _FAMILIES.get(tail[0] if tail else "", "settings")
    if family in _FIXED:
        scope = _FIXED[family]
    elif family == "settings":
        scope = _SETTINGS_SCOPE if method.upper() == "GET" else "accounting.settings"
    else:
        scope = scope_for(family, "read" if method.upper() == "GET" else "write", style)
    return MissingScope(method.upper(), path, scope, custom_connection)


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
