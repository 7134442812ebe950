"""Writing Xero's values to Capsule parties (issue 13, pull) against the Capsule stand-in: rows by id,
only the changed fields, the link on a create, and reading back whether a write landed."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from capsule_xero.capsule.client import CapsuleClient
from capsule_xero.capsule.errors import CapsuleRequestRejected, CapsuleUnavailable
from capsule_xero.settings import Settings
from reverse_etl.writers.capsule_parties import CapsuleChange, CapsulePartyWriter
from sandbox.capsule.control import CapsuleControl
from sandbox.generator import Dataset
from tests.reverse_etl.conftest import fast_capsule_pacer

PARTIES = "/api/v2/parties"
ABN = "51824753556"  # a valid ABN (checksum)


@pytest.fixture
def client(settings: Settings, capsule_world: Dataset) -> Iterator[CapsuleClient]:
    with CapsuleClient.of(settings, pacer=fast_capsule_pacer()) as made:
        yield made


@pytest.fixture
def parties(client: CapsuleClient) -> CapsulePartyWriter:
    return CapsulePartyWriter(client)


def change(operation: str = "update", party_id: int | None = None, **values: Any) -> CapsuleChange:
    after: dict[str, str | None] = values.pop("after", {})
    return CapsuleChange(
        plan_id=values.pop("plan_id", 1),
        seq=values.pop("seq", 1),
        operation=operation,
        party_id=party_id,
        contact_id=values.pop("contact_id", "5f0c7d8e-0000-4000-8000-000000000001"),
        party_type=values.pop("party_type", "organisation"),
        changed_fields=tuple(values.pop("changed_fields", tuple(after))),
        after=after,
        before=values.pop("before", None),
        row_ids=values.pop("row_ids", {}),
        tag_name=values.pop("tag_name", None),
        tag_id=values.pop("tag_id", None),
        base=None,
        reason=None,
    )


def address(lines: list[str], city: str, region: str, postal_code: str, country: str = "Australia") -> str:
    value = {"lines": lines, "city": city, "region": region, "postal_code": postal_code, "country": country}
    return json.dumps(value, separators=(",", ":"))


def org(ctl: CapsuleControl, **fields: Any) -> dict[str, Any]:
    return ctl.create_party(
        {"type": "organisation", "name": f"Pull Test {uuid.uuid4().hex[:8]} Pty Ltd", **fields}
    )


def rows(party: dict[str, Any], key: str) -> list[dict[str, Any]]:
    return [dict(r) for r in party[key]]


def test_an_email_phone_and_address_are_updated_by_row_id_and_the_other_rows_stay(
    parties: CapsulePartyWriter, ctl: CapsuleControl
) -> None:
    party = org(
        ctl,
        emailAddresses=[
            {"type": "Work", "address": "old@acme.com.au"},
            {"type": "Home", "address": "h@acme.com.au"},
        ],
        phoneNumbers=[
            {"type": "Work", "number": "02 9000 0000"},
            {"type": "Mobile", "number": "0412 000 000"},
        ],
        addresses=[
            {"type": "Office", "street": "1 Old St", "city": "Sydney", "state": "NSW", "country": "Australia"}
        ],
    )
    email, other_email = party["emailAddresses"]
    work, mobile = party["phoneNumbers"]
    (office,) = party["addresses"]
    new_address = address(["Level 2", "5 New Rd"], "Melbourne", "VIC", "3000")
    written = parties.send(
        change(
            party_id=party["id"],
            after={
                "email_address": "new@acme.com.au",
                "phone_default": "+61298765432",
                "street_address": new_address,
            },
            row_ids={
                "email_address": email["id"],
                "phone_default": work["id"],
                "street_address": office["id"],
            },
        )
    )
    now = ctl.get_party(party["id"])
    assert now is not None and written.party_id == party["id"] and written.updated_at is not None
    assert rows(now, "emailAddresses") == [{**email, "address": "new@acme.com.au"}, other_email]
    assert rows(now, "phoneNumbers") == [{**work, "number": "+61298765432"}, mobile]
    assert rows(now, "addresses") == [
        {**office, "street": "Level 2\n5 New Rd", "city": "Melbourne", "state": "VIC", "zip": "3000"}
    ]


def test_only_the_changed_fields_are_sent(parties: CapsulePartyWriter, ctl: CapsuleControl) -> None:
    party = org(ctl, about="kept", phoneNumbers=[{"type": "Work", "number": "02 9000 0000"}])
    (phone,) = party["phoneNumbers"]
    request = parties.request(
        change(
            party_id=party["id"],
            after={"phone_default": "+61291112222"},
            row_ids={"phone_default": phone["id"]},
        )
    )
    assert request.body == {"party": {"phoneNumbers": [{"id": phone["id"], "number": "+61291112222"}]}}
    assert request.idempotent  # an update of an existing row lands the same however often it is sent


def test_a_cleared_field_deletes_its_row(parties: CapsulePartyWriter, ctl: CapsuleControl) -> None:
    party = org(
        ctl,
        phoneNumbers=[{"type": "Work", "number": "02 9000 0000"}, {"type": "Fax", "number": "02 9000 0001"}],
    )
    work, fax = party["phoneNumbers"]
    request = parties.request(
        change(party_id=party["id"], after={"phone_fax": None}, row_ids={"phone_fax": fax["id"]})
    )
    assert not request.idempotent  # deleting twice is a 422: never repeated blind
    parties.send(change(party_id=party["id"], after={"phone_fax": None}, row_ids={"phone_fax": fax["id"]}))
    now = ctl.get_party(party["id"])
    assert now is not None and rows(now, "phoneNumbers") == [work]


def test_a_phone_is_added_when_the_party_has_none_of_that_kind(
    parties: CapsulePartyWriter, ctl: CapsuleControl
) -> None:
    party = org(ctl, phoneNumbers=[{"type": "Work", "number": "02 9000 0000"}])
    (work,) = party["phoneNumbers"]
    parties.send(
        change(party_id=party["id"], after={"phone_mobile": "+61412345678"}, row_ids={"phone_mobile": None})
    )
    now = ctl.get_party(party["id"])
    assert now is not None
    assert [(r["type"], r["number"]) for r in now["phoneNumbers"]] == [
        ("Work", work["number"]),
        ("Mobile", "+61412345678"),
    ]


def test_the_abn_is_written_to_its_custom_field(parties: CapsulePartyWriter, ctl: CapsuleControl) -> None:
    party = org(ctl)
    parties.send(change(party_id=party["id"], after={"tax_number": ABN}))
    now = ctl.get_party(party["id"])
    assert now is not None and [f["value"] for f in now["fields"] if f["definition"]["name"] == "ABN"] == [
        ABN
    ]


def test_the_archived_tag_is_added_by_name_and_removed_by_id(
    parties: CapsulePartyWriter, ctl: CapsuleControl
) -> None:
    party = org(ctl)
    parties.send(change("tag", party["id"], changed_fields=("tags",), tag_name="Archived in Xero"))
    tagged = ctl.get_party(party["id"])
    assert tagged is not None and [t["name"] for t in tagged["tags"]] == ["Archived in Xero"]
    tag_id = tagged["tags"][0]["id"]
    parties.send(
        change("untag", party["id"], changed_fields=("tags",), tag_name="Archived in Xero", tag_id=tag_id)
    )
    untagged = ctl.get_party(party["id"])
    assert untagged is not None and untagged["tags"] == []


def test_a_create_makes_the_party_with_its_link_to_the_xero_contact_in_the_same_call(
    parties: CapsulePartyWriter, ctl: CapsuleControl
) -> None:
    since = ctl.last_seq()
    created = change(
        "create",
        contact_id="c0ffee00-0000-4000-8000-00000000beef",
        after={
            "name": "Brand New Pty Ltd",
            "email_address": "accounts@brandnew.com.au",
            "phone_default": "+61290001111",
            "postal_address": address(["PO Box 12"], "Perth", "WA", "6000"),
            "tax_number": ABN,
        },
    )
    written = parties.send(created)
    assert [c["method"] for c in ctl.calls("capsule", since) if c["path"].startswith(PARTIES)] == [
        "GET",
        "POST",
    ]
    party = ctl.get_party(written.party_id)
    assert party is not None and party["name"] == "Brand New Pty Ltd"
    assert {f["definition"]["name"]: f["value"] for f in party["fields"]} == {
        "Xero Contact ID": "c0ffee00-0000-4000-8000-00000000beef",
        "ABN": ABN,
    }
    assert [(r["type"], r["street"], r["zip"]) for r in party["addresses"]] == [
        ("Postal", "PO Box 12", "6000")
    ]
    assert parties.read_back(created, datetime.now(UTC)).party_id == written.party_id


def test_a_refusal_carries_capsules_own_message(parties: CapsulePartyWriter, ctl: CapsuleControl) -> None:
    party = org(ctl)
    bad = change(
        party_id=party["id"], after={"street_address": address(["1 Rue"], "Paris", "IDF", "75001", "Narnia")}
    )
    with pytest.raises(CapsuleRequestRejected) as refused:
        parties.send(bad)
    assert refused.value.status == 422 and "Narnia is not a valid country" in refused.value.detail


def test_after_a_dropped_answer_the_read_back_sees_an_added_row_and_no_second_is_sent(
    parties: CapsulePartyWriter, ctl: CapsuleControl
) -> None:
    party = org(ctl)
    added = change(
        party_id=party["id"], after={"email_address": "new@acme.com.au"}, row_ids={"email_address": None}
    )
    attempted = datetime.now(UTC)
    assert not parties.read_back(added, attempted).landed
    ctl.add_fault("capsule", "PUT", f"{PARTIES}/{party['id']}", times=1, drop=1.0)
    with pytest.raises(CapsuleUnavailable):
        parties.send(added)  # not sent again by the pacer: the add may have landed (it did)
    back = parties.read_back(added, attempted)
    assert back.landed and back.updated_at is not None
    now = ctl.get_party(party["id"])
    assert now is not None and [r["address"] for r in now["emailAddresses"]] == ["new@acme.com.au"]
