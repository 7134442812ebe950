"""Whether a Xero contact (as the API answers it) still holds a canonical value this tool sent: the
reading side of payloads.py, used by undo (reverse_etl/undo.py) to touch only what nobody changed since.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from reverse_etl.ledger.values import group_names
from reverse_etl.writers.payloads import (
    ADDRESS_FIELDS,
    PERSONS_FIELD,
    PHONE_FIELDS,
    SCALAR_FIELDS,
    address_element,
    persons_element,
)

ADDRESS_PARTS = (
    "AddressLine1",
    "AddressLine2",
    "AddressLine3",
    "AddressLine4",
    "City",
    "Region",
    "PostalCode",
    "Country",
)


def holds_value(contact: Mapping[str, Any], name: str, value: str | None) -> bool:
    """Whether Xero's contact holds the canonical ``value`` of field ``name``.

    Compared the way the plan sent it (reverse_etl/writers/payloads.py), ignoring case and spacing
    Xero or a person may add; a field this cannot compare counts as changed (undo then leaves it alone).
    """
    if name == "contact_status":
        return (contact.get("ContactStatus") or None) == value
    if name == "contact_number":
        return _fold(contact.get("ContactNumber")) == _fold(value)
    if name == "tax_number":
        return _compact(contact.get("TaxNumber")) == _compact(value)
    if name in SCALAR_FIELDS:
        return _fold(contact.get(SCALAR_FIELDS[name])) == _fold(value)
    if name in PHONE_FIELDS:
        phone = next((p for p in contact.get("Phones") or () if p.get("PhoneType") == PHONE_FIELDS[name]), {})
        joined = "".join(
            str(phone.get(k) or "") for k in ("PhoneCountryCode", "PhoneAreaCode", "PhoneNumber")
        )
        return _digits(joined) == _digits(value)
    if name in ADDRESS_FIELDS:
        kind = ADDRESS_FIELDS[name]
        held = next((a for a in contact.get("Addresses") or () if a.get("AddressType") == kind), {})
        sent = address_element(kind, json.loads(value) if value else None)
        return all(_fold(held.get(part)) == _fold(sent.get(part)) for part in ADDRESS_PARTS)
    if name == PERSONS_FIELD:
        sent = persons_element(json.loads(value) if value else None, None)
        held = [
            {k: p.get(k) for k in ("FirstName", "LastName", "EmailAddress") if p.get(k)}
            for p in contact.get("ContactPersons") or ()
        ]
        return [_folded_dict(p) for p in held] == [_folded_dict(p) for p in sent]
    if name == "contact_groups":
        return folded_names(group_names(value)) <= group_memberships(contact)
    return False


def folded_names(names: Iterable[Any]) -> set[str]:
    """Group names as Xero compares them: no surrounding spaces, any case."""
    return {str(n).strip().casefold() for n in names}


def group_memberships(contact: Mapping[str, Any]) -> set[str]:
    """The (folded) names of the groups the contact is in."""
    return folded_names(g.get("Name", "") for g in contact.get("ContactGroups") or ())


def _fold(value: Any) -> str:
    return " ".join(str(value or "").split()).casefold()


def _compact(value: Any) -> str:
    return re.sub(r"\s", "", str(value or "")).casefold()


def _digits(value: Any) -> str:
    return re.sub(r"\D", "", str(value or ""))


def _folded_dict(value: Mapping[str, Any]) -> dict[str, str]:
    return {k: _fold(v) for k, v in value.items() if _fold(v)}
