"""Xero's records as stored: ``/Date(ms+0000)/`` strings as timestamps, the padding Xero adds dropped.

Dates (docs/api-facts.md#xero-requests-and-responses), ``If-Modified-Since`` in the form Xero documents
(docs/api-facts.md#xero-reading-contacts), and ``tidy_contact`` for every contact read.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from pipelines.xero.settings import MODIFIED_SINCE_OVERLAP

_DATE = re.compile(r"^/Date\((-?\d+)(?:[+-]\d{4})?\)/$")


def xero_ms(value: Any) -> int | None:
    """Epoch milliseconds of a ``/Date(ms+0000)/`` string (the offset is informational)."""
    if isinstance(value, str) and value.startswith("/Date("):
        match = _DATE.match(value)
        if match:
            return int(match.group(1))
    return None


def xero_datetime(value: Any) -> datetime | None:
    ms = xero_ms(value)
    return None if ms is None else datetime.fromtimestamp(ms / 1000, tz=UTC)


def convert_dates(value: Any) -> Any:
    """Every ``/Date(…)/`` string in a record, at any depth, as an aware UTC datetime (in place)."""
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, str):
                if item.startswith("/Date("):
                    moment = xero_datetime(item)
                    if moment is not None:
                        value[key] = moment
            elif isinstance(item, dict | list):
                convert_dates(item)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if isinstance(item, str) and item.startswith("/Date("):
                moment = xero_datetime(item)
                if moment is not None:
                    value[index] = moment
            elif isinstance(item, dict | list):
                convert_dates(item)
    return value


def modified_since_header(moment: datetime) -> str:
    """``If-Modified-Since`` for a cursor: its second, less the overlap, in Xero's documented
    UTC form without a zone (``2009-11-12T00:00:00``)."""
    moment = moment.astimezone(UTC).replace(microsecond=0) - MODIFIED_SINCE_OVERLAP
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def _blank(entry: dict[str, Any], key: str) -> bool:
    return all(value in ("", None, []) for name, value in entry.items() if name != key)


def tidy_contact(contact: dict[str, Any]) -> dict[str, Any]:
    """Dates as timestamps; the padding Xero adds dropped: every response lists all four phone
    types and both address types, empty when unset (docs/api-facts.md#xero-contact-fields-and-limits) — only the ones with content stay."""
    convert_dates(contact)
    phones = contact.get("Phones")
    if isinstance(phones, list):
        contact["Phones"] = [p for p in phones if not (isinstance(p, dict) and _blank(p, "PhoneType"))]
    addresses = contact.get("Addresses")
    if isinstance(addresses, list):
        contact["Addresses"] = [
            a for a in addresses if not (isinstance(a, dict) and _blank(a, "AddressType"))
        ]
    return contact


# Calendar dates, at any depth of a money document: midnight UTC on the wire, a date when stored.
# Their ``…String`` twins repeat them (docs/api-facts.md#xero-money-reading) and are dropped.
CALENDAR_DATES = frozenset(
    {"Date", "DueDate", "ExpiryDate", "FullyPaidOnDate", "ExpectedPaymentDate", "PlannedPaymentDate"}
)
_DATE_TWINS = ("DateString", "DueDateString", "ExpiryDateString")


def _calendar_dates(value: Any) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if key in CALENDAR_DATES and isinstance(item, datetime):
                value[key] = item.astimezone(UTC).date()
            elif isinstance(item, dict | list):
                _calendar_dates(item)
    elif isinstance(value, list):
        for item in value:
            _calendar_dates(item)


def tidy_document(record: dict[str, Any]) -> dict[str, Any]:
    """A money document or setting as stored: timestamps as datetimes, calendar dates as dates."""
    for twin in _DATE_TWINS:
        record.pop(twin, None)
    convert_dates(record)
    _calendar_dates(record)
    return record
