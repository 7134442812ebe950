"""Xero contact JSON from one planned operation (canonical values in, Xero's field names out).

The canonical form is the contract of ``transform/sql/reconcile/README.md`` ("The contact shape"):
every compared field is text or null, phones are E.164, addresses and contact persons are JSON
text. This module turns an operation holding such values into the element Xero expects in
``{"Contacts": [...]}``, so that reading the contact back and normalising it gives the same
canonical values again (a rerun after success must find nothing to write).

Rules, with the Xero fact behind each (docs/api-facts.md#xero):

- only the fields the operation carries are sent: Xero keeps omitted fields (partial update,
  docs/api-facts.md#xero-writing-contacts), so an update sends what changed and nothing else; a field
  carried as null is cleared;
- ``ContactNumber`` (the Capsule id with the configured prefix) goes on every create, update and
  restore: it is the durable key that finds a contact again after a crash (unique even among
  archived contacts, docs/api-facts.md#xero-contact-fields-and-limits);
- ``ContactPersons`` is replaced as a whole list whenever it is sent
  (docs/api-facts.md#xero-writing-contacts), so the operation must carry the *whole* desired list
  (``[]`` or null clears it), never only the changed people;
- phones go whole into ``PhoneNumber`` with empty area and country codes: the staging model
  joins the three parts before parsing, so an E.164 number alone reads back unchanged;
- the ABN is sent grouped 2-3-3-3 (``51 824 753 556``), the form people type and see in Xero; the
  read side takes the digits back out (``cx_abn``);
- an archive sends only ``ContactID`` + ``ContactStatus``; a restore may carry field changes
  with it (an archived contact accepts no other edit, docs/api-facts.md#xero-archiving-and-restoring);
- ``website`` is read-only on Xero's API (the spec marks ``Website`` read-only,
  docs/api-facts.md#xero-contact-fields-and-limits) and ``contact_groups`` is written through the
  ContactGroups endpoints (docs/api-facts.md#xero-contact-groups): neither is ever put into a
  contact element (``NOT_SENT``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

OperationKind = Literal["create", "update", "archive", "restore"]
OPERATION_KINDS: tuple[OperationKind, ...] = ("create", "update", "archive", "restore")

# Canonical compared fields (transform/sql/reconcile/README.md) this module knows how to send.
SCALAR_FIELDS: dict[str, str] = {
    "name": "Name",
    "first_name": "FirstName",
    "last_name": "LastName",
    "email_address": "EmailAddress",
    "tax_number": "TaxNumber",
}
PHONE_FIELDS: dict[str, str] = {
    "phone_default": "DEFAULT",
    "phone_mobile": "MOBILE",
    "phone_fax": "FAX",
}
ADDRESS_FIELDS: dict[str, str] = {
    "street_address": "STREET",
    "postal_address": "POBOX",
}
PERSONS_FIELD = "contact_persons"
# Compared fields that never go into a contact element: Website is read-only on the API, groups
# have their own endpoints, and the ContactNumber comes from the operation itself.
NOT_SENT = frozenset({"website", "contact_groups", "contact_number"})
KNOWN_FIELDS = frozenset({*SCALAR_FIELDS, *PHONE_FIELDS, *ADDRESS_FIELDS, PERSONS_FIELD, *NOT_SENT})

ADDRESS_LINES = 4  # AddressLine1-4 (docs/api-facts.md#xero-contact-fields-and-limits)


class PayloadError(ValueError):
    """An operation that cannot be turned into a Xero element (a bug upstream, not Xero's refusal)."""


@dataclass(frozen=True)
class ContactOperation:
    """One planned change of one Xero contact.

    ``op``: ``create`` (no ContactID yet), ``update``, ``archive`` or ``restore`` (ContactID
    required). ``fields``: canonical values keyed by compared-field name; only the keys present are
    written, a ``None`` value clears that field. ``party_id`` is the Capsule party the contact
    belongs to; ``contact_number`` its Xero ContactNumber (prefix + party id).
    """

    op: OperationKind
    party_id: int | str
    contact_number: str
    fields: Mapping[str, str | None] = field(default_factory=dict)
    contact_id: str | None = None

    def __post_init__(self) -> None:
        if self.op not in OPERATION_KINDS:
            raise PayloadError(f"unknown operation {self.op!r}; expected one of {', '.join(OPERATION_KINDS)}")
        if self.op == "create" and self.contact_id:
            raise PayloadError(f"party {self.party_id}: a create cannot carry a ContactID")
        if self.op != "create" and not self.contact_id:
            raise PayloadError(f"party {self.party_id}: an {self.op} needs the ContactID")
        # An update may go without one: a contact that keeps its own (none) because an archived
        # contact holds ours (reconcile/contact_operations.sql); its ContactID names it.
        if not self.contact_number and self.op == "create":
            raise PayloadError(f"party {self.party_id}: the ContactNumber is missing")
        unknown = set(self.fields) - KNOWN_FIELDS
        if unknown:
            raise PayloadError(f"party {self.party_id}: unknown field(s) {', '.join(sorted(unknown))}")


def format_abn(value: str) -> str:
    """11 ABN digits grouped 2-3-3-3 (``51 824 753 556``); anything else is sent as it is."""
    digits = value.strip()
    if len(digits) == 11 and digits.isdigit():
        return f"{digits[:2]} {digits[2:5]} {digits[5:8]} {digits[8:]}"
    return digits


def _text(value: Any) -> str | None:
    """Canonical values are null when empty; an empty string is treated the same way."""
    if value is None:
        return None
    text = str(value)
    return text if text.strip() else None


def _json(value: str | None, what: str, party_id: Any) -> Any:
    if value is None:
        return None
    try:
        return json.loads(value)
    except ValueError:
        raise PayloadError(f"party {party_id}: {what} is not valid JSON text") from None


def phone_element(phone_type: str, number: str | None) -> dict[str, str]:
    """One phone; ``None`` clears the type (empty strings, as Xero itself shows an unset phone)."""
    return {
        "PhoneType": phone_type,
        "PhoneNumber": number or "",
        "PhoneAreaCode": "",
        "PhoneCountryCode": "",
    }


def address_element(address_type: str, value: Mapping[str, Any] | None) -> dict[str, str]:
    """One address from ``{lines, city, region, postal_code, country}``; ``None`` clears the type.

    Xero has four address lines; a fifth and later line are joined onto the fourth so nothing is lost.
    """
    value = value or {}
    lines = [str(line) for line in (value.get("lines") or []) if line is not None and str(line).strip()]
    if len(lines) > ADDRESS_LINES:
        lines = [*lines[: ADDRESS_LINES - 1], ", ".join(lines[ADDRESS_LINES - 1 :])]
    lines += [""] * (ADDRESS_LINES - len(lines))
    out = {"AddressType": address_type}
    for number, line in enumerate(lines, start=1):
        out[f"AddressLine{number}"] = line
    out["City"] = str(value.get("city") or "")
    out["Region"] = str(value.get("region") or "")
    out["PostalCode"] = str(value.get("postal_code") or "")
    out["Country"] = str(value.get("country") or "")
    return out


def persons_element(value: Any, party_id: Any) -> list[dict[str, str]]:
    """The whole ContactPersons list (Xero replaces the list on every write that carries it)."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise PayloadError(f"party {party_id}: contact_persons must be a JSON list")
    out = []
    for person in value:
        if not isinstance(person, Mapping):
            raise PayloadError(f"party {party_id}: each contact person must be a JSON object")
        element = {
            "FirstName": _text(person.get("first_name")),
            "LastName": _text(person.get("last_name")),
            "EmailAddress": _text(person.get("email_address")),
        }
        out.append({k: v for k, v in element.items() if v is not None})
    return out


def contact_element(operation: ContactOperation) -> dict[str, Any]:
    """The JSON element for ``POST``/``PUT /Contacts`` that performs ``operation``."""
    if operation.op == "archive":
        return {"ContactID": operation.contact_id, "ContactStatus": "ARCHIVED"}
    creating = operation.op == "create"
    element: dict[str, Any] = {}
    if not creating:
        element["ContactID"] = operation.contact_id
    if operation.contact_number:
        element["ContactNumber"] = operation.contact_number
    if operation.op == "restore":
        element["ContactStatus"] = "ACTIVE"
    fields = operation.fields
    party = operation.party_id
    for name, xero_name in SCALAR_FIELDS.items():
        if name not in fields:
            continue
        value = _text(fields[name])
        if value is None and creating:
            continue
        if name == "tax_number" and value is not None:
            value = format_abn(value)
        # An empty string clears a field on update (omitting it would keep the old value).
        element[xero_name] = value if value is not None else ""
    phones = []
    for name, phone_type in PHONE_FIELDS.items():
        if name in fields and (fields[name] is not None or not creating):
            phones.append(phone_element(phone_type, _text(fields[name])))
    if phones:
        element["Phones"] = phones
    addresses = []
    for name, address_type in ADDRESS_FIELDS.items():
        if name in fields and (fields[name] is not None or not creating):
            addresses.append(address_element(address_type, _json(_text(fields[name]), name, party)))
    if addresses:
        element["Addresses"] = addresses
    if PERSONS_FIELD in fields:
        persons = persons_element(_json(_text(fields[PERSONS_FIELD]), PERSONS_FIELD, party), party)
        if persons or not creating:
            element["ContactPersons"] = persons
    return element


def encoded(value: Any) -> bytes:
    """The exact bytes sent for ``value`` (compact UTF-8 JSON): what the 3.5 MB limit is measured on."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
