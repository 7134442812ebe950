"""How the Xero stand-in puts data on the wire: the envelope, `/Date(ms+0000)/`, JSON and XML.

Handlers build plain dicts and lists in Xero's field names with ``WireDate`` for timestamps;
``render`` turns them into JSON (when ``Accept`` names application/json) or XML (Xero's default,
docs/api-facts.md#xero-requests-and-responses). Unset optional fields are left out of the dicts
rather than set to ``None``: the official schemas do not allow null, and ``None`` values are dropped
here as a safety net.
"""

from __future__ import annotations

import json
import math
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from xml.sax.saxutils import escape

from starlette.requests import Request
from starlette.responses import Response

JSON_MEDIA = "application/json; charset=utf-8"
XML_MEDIA = "text/xml; charset=utf-8"
DEFAULT_PROVIDER_NAME = "Xero API Partner"  # what the spec's examples show where the app name goes


@dataclass(frozen=True)
class WireDate:
    """A timestamp as Xero writes it: ``/Date(ms+0000)/`` in JSON (or ``/Date(ms)/`` when
    ``offset`` is False, as for the envelope's ``DateTimeUTC``), ISO-8601 in XML."""

    at: datetime
    offset: bool = True

    def json(self) -> str:
        return ms_date(self.at, self.offset)

    def xml(self) -> str:
        return iso_seconds(self.at, millis=True)


def epoch_ms(at: datetime) -> int:
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return math.floor(at.timestamp() * 1000)


def ms_date(at: datetime, offset: bool = True) -> str:
    return f"/Date({epoch_ms(at)}+0000)/" if offset else f"/Date({epoch_ms(at)})/"


def iso_seconds(at: datetime, millis: bool = False) -> str:
    """UTC without a zone designator, as Xero's ``DateUTCString`` (``2019-02-23T05:23:20``)."""
    at = at.astimezone(UTC) if at.tzinfo else at
    text = at.strftime("%Y-%m-%dT%H:%M:%S")
    if millis:
        text += f".{at.microsecond // 1000:03d}"
    return text


def wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "").lower()


def envelope(key: str | None, items: Any, *, now: datetime, provider: str, **extra: Any) -> dict[str, Any]:
    """``{Id, Status, ProviderName, DateTimeUTC, [pagination], [Warnings], <key>: items}``."""
    body: dict[str, Any] = {
        "Id": str(uuid.uuid4()),
        "Status": "OK",
        "ProviderName": provider,
        "DateTimeUTC": WireDate(now, offset=False),
    }
    for name, value in extra.items():
        if value:  # ``pagination`` only when paged, ``Warnings`` only when there are some
            body[name] = value
    if key is not None:
        body[key] = items
    return body


# ---- JSON ------------------------------------------------------------------------------------


def _json_default(value: Any) -> Any:
    if isinstance(value, WireDate):
        return value.json()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime):
        return ms_date(value)
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"cannot render {type(value).__name__} as JSON")


def _drop_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_none(v) for v in value]
    return value


def to_json(payload: Any) -> bytes:
    text = json.dumps(_drop_none(payload), default=_json_default, ensure_ascii=False, separators=(",", ":"))
    # Xero's serialiser escapes the slashes of its dates ("\/Date(...)\/"); identical once decoded.
    # A string can only start with `"/Date(` or end with `)/"` at a real string boundary (an inner
    # quote is always escaped), so this never touches anything but string ends.
    text = text.replace('"/Date(', '"\\/Date(').replace(')/"', ')\\/"')
    return text.encode("utf-8")


# ---- XML -------------------------------------------------------------------------------------

SINGULAR = {
    "Contacts": "Contact",
    "ContactPersons": "ContactPerson",
    "Addresses": "Address",
    "Phones": "Phone",
    "ContactGroups": "ContactGroup",
    "Users": "User",
    "HistoryRecords": "HistoryRecord",
    "ValidationErrors": "ValidationError",
    "Warnings": "Warning",
    "SalesTrackingCategories": "SalesTrackingCategory",
    "PurchasesTrackingCategories": "PurchasesTrackingCategory",
    "Attachments": "Attachment",
    "Elements": "DataContractBase",
}


def singular(name: str) -> str:
    if name in SINGULAR:
        return SINGULAR[name]
    if name.endswith("ies"):
        return name[:-3] + "y"
    if name.endswith("s"):
        return name[:-1]
    return name


def _xml_scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, WireDate):
        return value.xml()
    if isinstance(value, datetime):
        return iso_seconds(value, millis=True)
    return escape(str(value))


def _xml_into(out: list[str], name: str, value: Any, attrs: str = "") -> None:
    if value is None:
        return
    if isinstance(value, dict):
        out.append(f"<{name}{attrs}>")
        for key, child in value.items():
            _xml_into(out, key, child)
        out.append(f"</{name}>")
    elif isinstance(value, list):
        out.append(f"<{name}{attrs}>")
        item_name = singular(name)
        for item in value:
            _xml_into(out, item_name, item)
        out.append(f"</{name}>")
    else:
        out.append(f"<{name}{attrs}>{_xml_scalar(value)}</{name}>")


XSI = ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema"'


def to_xml(payload: dict[str, Any], root: str = "Response") -> bytes:
    """A generic rendering of the same data: ``<Response><Id>..</Id>..<Contacts><Contact>..``;
    list elements are named in the singular; booleans ``true``/``false``; dates ISO-8601."""
    out: list[str] = ['<?xml version="1.0" encoding="utf-8"?>']
    _xml_into(out, root, payload, XSI)
    return "".join(out).encode("utf-8")


# ---- responses -------------------------------------------------------------------------------


def render(
    request: Request,
    payload: dict[str, Any],
    status: int = 200,
    headers: dict[str, str] | None = None,
    xml_root: str = "Response",
) -> Response:
    """JSON when the client asked for it, otherwise XML (Xero's default)."""
    if wants_json(request):
        return Response(to_json(payload), status_code=status, headers=headers, media_type=JSON_MEDIA)
    return Response(to_xml(payload, xml_root), status_code=status, headers=headers, media_type=XML_MEDIA)


def api_error(
    request: Request,
    status: int,
    error_type: str,
    message: str,
    *,
    number: int | None = None,
    elements: list[dict[str, Any]] | None = None,
) -> Response:
    """The Accounting API's own error body (schema ``Error``): ``{ErrorNumber, Type, Message, Elements}``;
    in XML it is an ``<ApiException>`` document."""
    body: dict[str, Any] = {}
    if number is not None:
        body["ErrorNumber"] = number
    body["Type"] = error_type
    body["Message"] = message
    if elements is not None:
        body["Elements"] = elements
    return render(request, body, status, xml_root="ApiException")


def plain_text(text: str, status: int, headers: dict[str, str] | None = None) -> Response:
    return Response(text, status_code=status, headers=headers, media_type="text/plain; charset=utf-8")


NOT_FOUND_TEXT = "The resource you're looking for cannot be found"


def not_found() -> Response:
    """Xero's 404 is plain text, not JSON (docs/api-facts.md#xero-errors)."""
    return plain_text(NOT_FOUND_TEXT, 404)


def problem(status: int, title: str, detail: str, headers: dict[str, str] | None = None) -> Response:
    """The gateway-style body Xero uses outside the Accounting API's own errors (401/403/429/500)."""
    body = {
        "Type": None,
        "Title": title,
        "Status": status,
        "Detail": detail,
        "Instance": str(uuid.uuid4()),
        "Extensions": {},
    }
    return Response(
        json.dumps(body).encode(), status_code=status, headers=headers, media_type="application/json"
    )
