"""Invariants every generated dataset must satisfy, whatever its seed or size.

``check(dataset)`` raises ``AssertionError`` naming the first broken rule. Used by the fixed-size tests
and by the hypothesis property test.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from sandbox.generator import CASES, CONTACT_NUMBER_PREFIX, Dataset
from sandbox.generator import abn as abns
from sandbox.generator.capsule import BUSINESS_DOMAIN, DEF_ABN, DEF_XERO_ID
from sandbox.generator.text import fold_name

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
DATE = re.compile(r"^\d{4}-\d\d-\d\d$")
GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

# Xero's documented maximum lengths (docs/api-facts.md#xero-contact-fields-and-limits / xero_accounting.yaml).
CONTACT_LIMITS = {
    "ContactNumber": 50,
    "AccountNumber": 50,
    "Name": 255,
    "FirstName": 255,
    "LastName": 255,
    "EmailAddress": 255,
    "TaxNumber": 50,
}
ADDRESS_LIMITS = {
    "AddressLine1": 500,
    "AddressLine2": 500,
    "AddressLine3": 500,
    "AddressLine4": 500,
    "City": 255,
    "Region": 255,
    "PostalCode": 50,
    "Country": 50,
    "AttentionTo": 255,
}
PHONE_LIMITS = {"PhoneNumber": 50, "PhoneAreaCode": 10, "PhoneCountryCode": 20}


def ts(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def field_value(party: dict[str, Any], definition: int) -> Any:
    return next((f["value"] for f in party["fields"] if f["definition"]["id"] == definition), None)


def check(ds: Dataset) -> None:
    check_capsule(ds)
    check_xero(ds)
    check_cases(ds)


def check_capsule(ds: Dataset) -> None:
    assert len(ds.capsule_parties) == ds.size, "exactly `parties` Capsule parties"
    assert ds.now is not None
    now, start = ds.now, ds.now - timedelta(days=3 * 365 + 1)
    parties = {p["id"]: p for p in ds.capsule_parties}
    assert len(parties) == len(ds.capsule_parties), "party ids are unique"
    org_names = [p["name"] for p in ds.capsule_parties if p["type"] == "organisation"]
    assert len(set(org_names)) == len(org_names), "organisation names are unique (Capsule enforces it)"
    assert len({n.casefold() for n in org_names}) == len(org_names), "... even ignoring case"
    user_ids = {u["id"] for u in ds.capsule_users}
    for records in (ds.capsule_parties, ds.capsule_opportunities, ds.capsule_kases, ds.capsule_tasks):
        for record in records:
            assert isinstance(record["id"], int)
            created, updated = ts(record["createdAt"]), ts(record["updatedAt"])
            assert start <= created <= updated <= now, f"timestamps of {record['id']}"
            owner = record.get("owner")
            assert owner is None or owner["id"] in user_ids, "owners are users"
    for party in ds.capsule_parties:
        for key in ("lastContactedAt",):
            assert party[key] is None or TIMESTAMP.match(party[key])
        if party["type"] == "person" and party["organisation"] is not None:
            org = parties[party["organisation"]["id"]]
            assert org["type"] == "organisation" and org["name"] == party["organisation"]["name"]
        abn = field_value(party, DEF_ABN)
        assert party["missingImportantFields"] == (party["type"] == "organisation" and abn is None)
    live = {
        "parties": set(parties),
        "opportunities": {o["id"] for o in ds.capsule_opportunities},
        "kases": {k["id"] for k in ds.capsule_kases},
    }
    tombstones = {
        "parties": ds.capsule_deleted_parties,
        "opportunities": ds.capsule_deleted_opportunities,
        "kases": ds.capsule_deleted_kases,
    }
    for kind, rows in tombstones.items():
        ids = [row["id"] for row in rows]
        assert len(set(ids)) == len(ids), f"deleted {kind} ids are unique"
        assert not set(ids) & live[kind], f"deleted {kind} are absent from the live list"
        for row in rows:
            assert set(row) == {"id", "deletedAt"} and TIMESTAMP.match(row["deletedAt"])
            assert ts(row["deletedAt"]) <= now
    for opp in ds.capsule_opportunities:
        assert opp["party"]["id"] in parties
    for kase in ds.capsule_kases:
        assert kase["party"]["id"] in parties
    for task in ds.capsule_tasks:
        links = [task[k] for k in ("party", "opportunity", "kase") if task[k] is not None]
        assert len(links) == 1, "a task hangs off exactly one of party / opportunity / kase"
        assert task["owner"] is not None and DATE.match(task["dueOn"])
    for user in ds.capsule_users:
        party = parties[user["party"]["id"]]
        assert party["type"] == "person"
        emails = [e["address"] for e in party["emailAddresses"]]
        assert emails and emails[0].endswith("@" + BUSINESS_DOMAIN), "a user's e-mail lives on their party"


def check_xero(ds: Dataset) -> None:
    assert ds.now is not None
    contacts = ds.xero_contacts
    ids = [c["ContactID"] for c in contacts]
    assert len(set(ids)) == len(ids) and all(GUID.match(i) for i in ids), "ContactIDs are unique GUIDs"
    active = [c["Name"].casefold() for c in contacts if c["ContactStatus"] == "ACTIVE"]
    assert len(set(active)) == len(active), "Name is unique among ACTIVE contacts (Xero enforces it)"
    numbers = [c["ContactNumber"] for c in contacts if "ContactNumber" in c]
    assert len(set(numbers)) == len(numbers), "ContactNumber is unique across all contacts, archived too"
    accounts = [c["AccountNumber"] for c in contacts if "AccountNumber" in c]
    assert len(set(accounts)) == len(accounts)
    for contact in contacts:
        assert contact["ContactStatus"] in ("ACTIVE", "ARCHIVED")
        for key, limit in CONTACT_LIMITS.items():
            value = contact.get(key)
            assert value is None or (isinstance(value, str) and len(value) <= limit), f"{key} within {limit}"
        assert contact["Name"] and contact["Name"] == contact["Name"].strip()
        assert len(contact["ContactPersons"]) <= 5, "at most five ContactPersons"
        assert [a["AddressType"] for a in contact["Addresses"]] == ["STREET", "POBOX"]
        for address in contact["Addresses"]:
            for key, limit in ADDRESS_LIMITS.items():
                assert len(address[key]) <= limit
        assert sorted(p["PhoneType"] for p in contact["Phones"]) == ["DDI", "DEFAULT", "FAX", "MOBILE"]
        for phone in contact["Phones"]:
            for key, limit in PHONE_LIMITS.items():
                assert len(phone[key]) <= limit
        updated = contact["UpdatedDateUTC"]
        assert isinstance(updated, datetime) and updated.tzinfo is not None and updated <= ds.now
        email = contact.get("EmailAddress")
        assert email is None or email.isascii(), "Xero does not take non-ASCII e-mail"
    long_names = {
        p["name"] for p in ds.capsule_parties if p["type"] == "organisation" and len(p["name"]) > 255
    }
    assert not long_names & {c["Name"] for c in contacts}, "over-long Capsule names never reach Xero"
    # ContactNumbers an earlier sync wrote point at a live party (holding the ContactID) or a tombstone.
    parties = {p["id"]: p for p in ds.capsule_parties}
    deleted = {d["id"] for d in ds.capsule_deleted_parties}
    missing_crossref = {pair[0] for pair in ds.cases["synced_crossref_missing_in_capsule"]}
    orphans = set(ds.cases["xero_orphan_contact_number"])
    for contact in contacts:
        number = contact.get("ContactNumber", "")
        if not number.startswith(CONTACT_NUMBER_PREFIX) or contact["ContactID"] in orphans:
            continue
        party_id = int(number[len(CONTACT_NUMBER_PREFIX) :])
        assert party_id in parties or party_id in deleted, f"{number} refers to a party Capsule knows"
        if party_id in parties and party_id not in missing_crossref:
            assert field_value(parties[party_id], DEF_XERO_ID) == contact["ContactID"]
    status = {c["ContactID"]: c["ContactStatus"] for c in contacts}
    assert len(ds.xero_contact_groups) <= 100
    for group in ds.xero_contact_groups:
        assert GUID.match(group["ContactGroupID"]) and group["Status"] in ("ACTIVE", "DELETED")
        assert len(set(group["ContactIDs"])) == len(group["ContactIDs"])
        if group["Status"] == "ACTIVE":
            assert all(status[c] == "ACTIVE" for c in group["ContactIDs"]), "groups hold active contacts"
    for user in ds.xero_users:
        assert set(user) == {
            "UserID",
            "EmailAddress",
            "FirstName",
            "LastName",
            "UpdatedDateUTC",
            "IsSubscriber",
            "OrganisationRole",
        }


def check_cases(ds: Dataset) -> None:
    assert set(ds.cases) == set(CASES), "exactly the documented cases"
    parties = {p["id"] for p in ds.capsule_parties}
    contacts = {c["ContactID"] for c in ds.xero_contacts}
    kinds = {
        "party": parties,
        "contact": contacts,
        "tombstone": {d["id"] for d in ds.capsule_deleted_parties},
        "user": {u["id"] for u in ds.capsule_users},
        "xuser": {u["UserID"] for u in ds.xero_users},
    }
    for name, shape in CASES.items():
        parts = [p.strip() for p in shape.strip("()").split(",")]
        for value in ds.cases[name]:
            values = value if isinstance(value, tuple) else (value,)
            assert len(values) == len(parts), f"{name}: {value!r} has the shape {shape}"
            for kind, item in zip(parts, values, strict=True):
                assert item in kinds[kind], f"{name}: {item!r} is not a known {kind}"
    abn_cases = ("abn_valid_spaced", "abn_valid_plain", "abn_valid_odd_format", "abn_invalid_checksum",
                 "abn_wrong_length", "abn_missing")  # fmt: skip
    orgs = sorted(p["id"] for p in ds.capsule_parties if p["type"] == "organisation")
    assert sorted(i for c in abn_cases for i in ds.cases[c]) == orgs, "every organisation has one ABN case"
    for fold_pair in ("same_company_twice", "same_name_different_company"):
        names = {p["id"]: p.get("name") for p in ds.capsule_parties}
        for a, b in ds.cases[fold_pair]:
            assert names[a] != names[b] and fold_name(names[a]) == fold_name(names[b])
    for value in (
        ds.cases["abn_valid_spaced"] + ds.cases["abn_valid_plain"] + ds.cases["abn_valid_odd_format"]
    ):
        assert value in parties
    assert abns.is_valid("51 824 753 556")
