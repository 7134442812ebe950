"""Xero contacts as the Accounting API serves them in a paged ``GET /Contacts`` (Xero's JSON field names).

Two kinds are built here:

- *hand-made* contacts (typed by a bookkeeper): phone numbers split into country/area/number the way
  people fill Xero's form, names and tax numbers in whatever style;
- contacts *an earlier run of this tool wrote*, produced by ``desired_contact`` — the Capsule → Xero
  mapping of docs/mapping.md#field-by-field made concrete (documented in CASES.md, "The earlier
  sync's mapping").

Unset optional scalars are omitted (``ContactNumber``, ``TaxNumber``, ``EmailAddress`` ...); ``Phones``
always lists the four standard types and ``Addresses`` both types, empty strings when unset, as Xero
does. ``UpdatedDateUTC`` is an aware ``datetime``; the Xero stand-in renders ``/Date(ms+0000)/``.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sandbox.generator import abn as abns
from sandbox.generator import phones

Record = dict[str, Any]

CONTACT_NUMBER_PREFIX = "CAP-"
PHONE_TYPES = ("DDI", "DEFAULT", "FAX", "MOBILE")


def empty_phones() -> list[Record]:
    return [
        {"PhoneType": t, "PhoneNumber": "", "PhoneAreaCode": "", "PhoneCountryCode": ""} for t in PHONE_TYPES
    ]


def address(kind: str, lines: list[str], city: str, region: str, postal: str, country: str) -> Record:
    lines = [*lines, "", "", "", ""][:4]
    return {
        "AddressType": kind,
        "AddressLine1": lines[0],
        "AddressLine2": lines[1],
        "AddressLine3": lines[2],
        "AddressLine4": lines[3],
        "City": city,
        "Region": region,
        "PostalCode": postal,
        "Country": country,
        "AttentionTo": "",
    }


def empty_address(kind: str) -> Record:
    return address(kind, [], "", "", "", "")


def contact(
    *,
    contact_id: str,
    name: str,
    updated: datetime,
    status: str = "ACTIVE",
    contact_number: str | None = None,
    account_number: str | None = None,
    first_name: str | None = None,
    last_name: str | None = None,
    email: str | None = None,
    tax_number: str | None = None,
    street: Record | None = None,
    pobox: Record | None = None,
    phone_list: list[Record] | None = None,
    persons: list[Record] | None = None,
    website: str | None = None,
    balances: Record | None = None,
    is_supplier: bool = False,
    is_customer: bool = False,
) -> Record:
    record: Record = {"ContactID": contact_id}
    if contact_number is not None:
        record["ContactNumber"] = contact_number
    if account_number is not None:
        record["AccountNumber"] = account_number
    record["ContactStatus"] = status
    record["Name"] = name
    if first_name is not None:
        record["FirstName"] = first_name
    if last_name is not None:
        record["LastName"] = last_name
    if email is not None:
        record["EmailAddress"] = email
    if tax_number is not None:
        record["TaxNumber"] = tax_number
    record["Addresses"] = [street or empty_address("STREET"), pobox or empty_address("POBOX")]
    record["Phones"] = phone_list if phone_list is not None else empty_phones()
    record["UpdatedDateUTC"] = updated
    record["IsSupplier"] = is_supplier
    record["IsCustomer"] = is_customer
    record["ContactPersons"] = persons or []
    record["HasAttachments"] = False
    if website is not None:
        record["Website"] = website
    if balances is not None:
        record["Balances"] = balances
    return record


def set_phone(phone_list: list[Record], kind: str, number: str, area: str = "", country: str = "") -> None:
    for phone in phone_list:
        if phone["PhoneType"] == kind:
            phone.update(PhoneNumber=number, PhoneAreaCode=area, PhoneCountryCode=country)
            return


def balances(receivable: float, overdue: float) -> Record:
    return {
        "AccountsReceivable": {"Outstanding": receivable, "Overdue": overdue},
        "AccountsPayable": {"Outstanding": 0.0, "Overdue": 0.0},
    }


def repeating_invoice(contact: Record) -> Record:
    """A monthly repeating sales invoice billed to ``contact`` (its id derived from the contact's, so
    the generator's random stream is untouched): Xero will not archive the contact
    (docs/api-facts.md#xero-archiving-and-restoring)."""
    return {
        "RepeatingInvoiceID": str(
            uuid.uuid5(uuid.NAMESPACE_URL, f"repeating-invoice/{contact['ContactID']}")
        ),
        "Type": "ACCREC",
        "Status": "AUTHORISED",
        "Contact": {"ContactID": contact["ContactID"], "Name": contact.get("Name")},
    }


# --- the earlier sync's mapping -------------------------------------------------------------------
def first_valid_email(party: Record) -> str | None:
    for row in party["emailAddresses"]:
        if is_plausible_email(row["address"]):
            return row["address"]
    return None


def is_plausible_email(value: str) -> bool:
    """The generator's own check: one @, no spaces, no empty or doubled dots, a dotted domain."""
    if value.count("@") != 1 or " " in value or ".." in value:
        return False
    local, domain = value.split("@")
    return bool(local) and "." in domain and not domain.startswith(".") and not domain.endswith(".")


def mapped_phones(party: Record) -> list[Record]:
    """DEFAULT = first Work/Home/untyped landline, MOBILE = first mobile, FAX = first Fax; E.164 in PhoneNumber."""
    phone_list = empty_phones()
    filled: set[str] = set()
    for row in party["phoneNumbers"]:
        e164 = phones.to_e164(row["number"])
        if e164 is None:
            continue
        if row["type"] == "Fax":
            kind = "FAX"
        elif e164.startswith("+614"):
            kind = "MOBILE"
        else:
            kind = "DEFAULT"
        if kind not in filled:
            filled.add(kind)
            set_phone(phone_list, kind, e164)
    return phone_list


def mapped_address(row: Record, kind: str) -> Record:
    lines = [line.strip() for line in (row["street"] or "").split("\n") if line.strip()]
    return address(kind, lines, row["city"] or "", row["state"] or "", row["zip"] or "", row["country"] or "")


def desired_contact(party: Record, people: list[Record]) -> Record:
    """The Xero fields this tool writes for a Capsule party (without ContactID / status / timestamps)."""
    fields = {f["definition"]["id"]: f["value"] for f in party["fields"]}
    out: Record = {"ContactNumber": f"{CONTACT_NUMBER_PREFIX}{party['id']}"}
    if party["type"] == "organisation":
        out["Name"] = party["name"]
    else:
        out["Name"] = f"{party['firstName']} {party['lastName']}".strip()
        out["FirstName"] = party["firstName"]
        out["LastName"] = party["lastName"]
    email = first_valid_email(party)
    if email is not None:
        out["EmailAddress"] = email
    abn = fields.get(812301)
    if isinstance(abn, str) and abns.is_valid(abn):
        out["TaxNumber"] = abns.spaced(abns.digits_of(abn))
    street = next((a for a in party["addresses"] if a["type"] in ("Office", "Home", None)), None)
    pobox = next((a for a in party["addresses"] if a["type"] in ("Postal", "Billing")), None)
    out["street"] = mapped_address(street, "STREET") if street else None
    out["pobox"] = mapped_address(pobox, "POBOX") if pobox else None
    out["phone_list"] = mapped_phones(party)
    out["persons"] = [
        {
            "FirstName": p["firstName"],
            "LastName": p["lastName"],
            "EmailAddress": first_valid_email(p) or "",
            "IncludeInEmails": False,
        }
        for p in sorted(people, key=lambda p: p["id"])[:5]
    ]
    return out


def synced_contact(
    party: Record, people: list[Record], contact_id: str, updated: datetime, status: str
) -> Record:
    d = desired_contact(party, people)
    return contact(
        contact_id=contact_id,
        name=d["Name"],
        updated=updated,
        status=status,
        contact_number=d["ContactNumber"],
        first_name=d.get("FirstName"),
        last_name=d.get("LastName"),
        email=d.get("EmailAddress"),
        tax_number=d.get("TaxNumber"),
        street=d["street"],
        pobox=d["pobox"],
        phone_list=d["phone_list"],
        persons=d["persons"],
        is_customer=True,
    )
