"""Xero contacts, users and groups obey Xero's own rules and official schemas."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sandbox.generator import CONTACT_NUMBER_PREFIX, Dataset
from sandbox.generator.xero import is_plausible_email
from tests.sandbox.generator.invariants import check_xero
from tests.support.xero_schemas import errors


def rendered(value: Any) -> Any:
    """Dates as the Xero stand-in renders them (``/Date(ms+0000)/``), so Xero's schema applies."""
    if isinstance(value, datetime):
        return f"/Date({int(value.timestamp() * 1000)}+0000)/"
    if isinstance(value, dict):
        return {k: rendered(v) for k, v in value.items()}
    if isinstance(value, list):
        return [rendered(v) for v in value]
    return value


def test_xero_invariants_hold_at_ten_thousand_parties(ds10k: Dataset) -> None:
    check_xero(ds10k)


def test_active_names_are_unique_but_an_archived_contact_may_share_one(ds1k: Dataset) -> None:
    active = [c["Name"].casefold() for c in ds1k.xero_contacts if c["ContactStatus"] == "ACTIVE"]
    assert len(active) == len(set(active))
    archived = {c["Name"] for c in ds1k.xero_contacts if c["ContactStatus"] == "ARCHIVED"}
    org_names = {p.get("name") for p in ds1k.capsule_parties}
    assert archived & org_names, "some archived names collide with live Capsule organisations"


def test_contact_numbers_are_unique_short_and_absent_from_most_contacts(ds1k: Dataset) -> None:
    numbers = [c["ContactNumber"] for c in ds1k.xero_contacts if "ContactNumber" in c]
    assert len(numbers) == len(set(numbers)) and all(len(n) <= 50 for n in numbers)
    assert len(numbers) < len(ds1k.xero_contacts) / 2, "hand-made contacts have no ContactNumber"
    assert any(n.startswith(CONTACT_NUMBER_PREFIX) for n in numbers)
    assert any(not n.startswith(CONTACT_NUMBER_PREFIX) for n in numbers)


def test_contact_persons_never_exceed_five(ds1k: Dataset) -> None:
    assert max(len(c["ContactPersons"]) for c in ds1k.xero_contacts) <= 5
    assert any(c["ContactPersons"] for c in ds1k.xero_contacts)


def test_over_long_capsule_names_never_appear_in_xero(ds1k: Dataset) -> None:
    long_ids = set(ds1k.cases["over_long_name"])
    long_names = {p["name"] for p in ds1k.capsule_parties if p["id"] in long_ids}
    assert long_names and all(len(n) > 255 for n in long_names)
    xero_names = [c["Name"] for c in ds1k.xero_contacts]
    assert all(len(n) <= 255 for n in xero_names)
    assert not any(n in name or name[:255] == n for n in xero_names for name in long_names)


def test_xero_emails_are_plausible_ascii(ds1k: Dataset) -> None:
    for contact in ds1k.xero_contacts:
        for email in [contact.get("EmailAddress")] + [p["EmailAddress"] for p in contact["ContactPersons"]]:
            if email:
                assert email.isascii() and is_plausible_email(email)


def test_contacts_conform_to_xeros_official_contact_schema(ds1k: Dataset) -> None:
    sample = ds1k.xero_contacts[::3]
    problems = {c["ContactID"]: errors(rendered(c), "Contact") for c in sample}
    assert not {k: v for k, v in problems.items() if v}


def test_users_and_groups_conform_to_xeros_official_schemas(ds1k: Dataset) -> None:
    for user in ds1k.xero_users:
        assert not errors(rendered(user), "User")
    for group in ds1k.xero_contact_groups:
        as_served = {k: v for k, v in group.items() if k != "ContactIDs"}
        as_served["Contacts"] = [{"ContactID": cid} for cid in group["ContactIDs"]]
        assert not errors(as_served, "ContactGroup")


def test_phone_and_address_types_are_xeros(ds1k: Dataset) -> None:
    phone_types = {p["PhoneType"] for c in ds1k.xero_contacts for p in c["Phones"]}
    address_types = {a["AddressType"] for c in ds1k.xero_contacts for a in c["Addresses"]}
    assert phone_types == {"DEFAULT", "DDI", "MOBILE", "FAX"}
    assert address_types == {"POBOX", "STREET"}


def test_contact_groups_come_from_tags_owners_and_bookkeepers(ds1k: Dataset) -> None:
    names = {g["Name"] for g in ds1k.xero_contact_groups}
    assert {"Customer", "Supplier", "Wholesale", "VIP"} <= names
    assert any(n.startswith("Owner: ") for n in names)
    assert any(g["Status"] == "DELETED" for g in ds1k.xero_contact_groups)
    assert all(
        g["ContactIDs"] for g in ds1k.xero_contact_groups if g["Name"] in ("Customer", "Christmas Card List")
    )


def test_some_xero_users_share_emails_with_capsule_users_and_some_do_not(ds1k: Dataset) -> None:
    parties = {p["id"]: p for p in ds1k.capsule_parties}
    capsule_emails = {
        parties[u["party"]["id"]]["emailAddresses"][0]["address"].casefold() for u in ds1k.capsule_users
    }
    xero_emails = {u["EmailAddress"].casefold() for u in ds1k.xero_users}
    assert capsule_emails & xero_emails
    assert capsule_emails - xero_emails
    assert xero_emails - capsule_emails
    assert sum(u["IsSubscriber"] for u in ds1k.xero_users) == 1
