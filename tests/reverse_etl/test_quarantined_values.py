"""A quarantined value is not sent; Xero keeps what it has (README, "Validate").

A bad ABN, e-mail or phone in Capsule is quarantined and simply not sent. It is not "Capsule
emptied the field": on a contact this tool already wrote, the three-way diff must not clear Xero's
TaxNumber, EmailAddress, phone or a ContactPerson's e-mail because the value Capsule holds now is
broken. A field a person really emptied in Capsule still clears Xero's, and a value fixed in Capsule
is sent again.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from sandbox.capsule.control import CapsuleControl
from sandbox.generator import generate
from tests.support.sync_world import World, xero_contacts

pytestmark = pytest.mark.slow  # four syncs of a 40-party world: about 20 s

ABN = "51 824 753 556"
BROKEN_ABN = "51 824 753 557"  # the checksum fails
NEW_ABN = "53 004 085 616"

KEPT = {
    "type": "organisation",
    "name": "Quarantine Harbour Pty Ltd",
    "emailAddresses": [{"type": "Work", "address": "accounts@quarantineharbour.com.au"}],
    "phoneNumbers": [
        {"type": "Work", "number": "02 9550 4412"},
        {"type": "Mobile", "number": "0412 345 678"},
        {"type": "Fax", "number": "02 9550 4413"},
    ],
    "fields": [{"definition": {"name": "ABN"}, "value": ABN}],
}
PERSON = {
    "type": "person",
    "firstName": "Pat",
    "lastName": "Quinlan",
    "emailAddresses": [{"type": "Work", "address": "pat@quarantineharbour.com.au"}],
}
CLEARED = {
    "type": "organisation",
    "name": "Emptied Wharf Pty Ltd",
    "emailAddresses": [{"type": "Work", "address": "hello@emptiedwharf.com.au"}],
    "phoneNumbers": [{"type": "Work", "number": "03 9650 1234"}],
    "fields": [{"definition": {"name": "ABN"}, "value": "33 051 775 556"}],
}


def _phones(contact: dict[str, Any]) -> dict[str, str]:
    return {p["PhoneType"]: p.get("PhoneNumber") or "" for p in contact.get("Phones") or []}


def _persons(contact: dict[str, Any]) -> dict[str, str | None]:
    return {p["FirstName"]: p.get("EmailAddress") for p in contact.get("ContactPersons") or []}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with World(generate(parties=40, seed=3), tmp_path_factory.mktemp("quarantine")) as world:
        capsule = CapsuleControl(world.server.capsule_url)
        try:
            kept = capsule.create_party(KEPT)
            person = capsule.create_party({**PERSON, "organisation": {"id": kept["id"]}})
            cleared = capsule.create_party(CLEARED)
            migration = world.sync()
            assert migration.result is not None and migration.result.status == "applied", migration.result
            before = {c.get("ContactNumber"): c for c in xero_contacts(world)}

            # Someone breaks the values in Capsule (and renames the company, so the contact is written);
            # someone else really empties the other company's ABN and e-mail.
            kept_rows = capsule.get_party(kept["id"]) or {}
            abn_row = next(f["id"] for f in kept_rows["fields"] if f["definition"]["name"] == "ABN")
            work, _mobile, fax = (p["id"] for p in kept_rows["phoneNumbers"])
            capsule.update_party(
                kept["id"],
                {
                    "name": "Quarantine Harbour Holdings Pty Ltd",
                    "fields": [{"id": abn_row, "value": BROKEN_ABN}],
                    "emailAddresses": [
                        {
                            "id": kept_rows["emailAddresses"][0]["id"],
                            "address": "accounts at quarantine harbour",
                        }
                    ],
                    "phoneNumbers": [
                        {"id": work, "number": "ask reception"},
                        {"id": fax, "number": "fax broken"},
                    ],
                },
            )
            person_rows = capsule.get_party(person["id"]) or {}
            capsule.update_party(
                person["id"],
                {
                    "emailAddresses": [
                        {"id": person_rows["emailAddresses"][0]["id"], "address": "pat@@quinlan"}
                    ]
                },
            )
            cleared_rows = capsule.get_party(cleared["id"]) or {}
            capsule.update_party(
                cleared["id"],
                {
                    "fields": [{"id": cleared_rows["fields"][0]["id"], "_delete": True}],
                    "emailAddresses": [{"id": cleared_rows["emailAddresses"][0]["id"], "_delete": True}],
                },
            )
            broken = world.sync()
            after_broken = {c.get("ContactNumber"): c for c in xero_contacts(world)}
            with world.connect() as con:
                quarantine = con.execute(
                    "select record_id, rule, effect from staging.quarantine where record_id in (?, ?)",
                    [str(kept["id"]), str(person["id"])],
                ).fetchall()
                sent_fields = dict(
                    con.execute(
                        "select contact_number, changed_fields from ledger.plan_operations where plan_id = ?",
                        [broken.plan.plan_id],
                    ).fetchall()
                )
            again = world.sync(approve_first=False)

            fixed_rows = capsule.get_party(kept["id"]) or {}
            fixed_abn = next(f["id"] for f in fixed_rows["fields"] if f["definition"]["name"] == "ABN")
            capsule.update_party(kept["id"], {"fields": [{"id": fixed_abn, "value": NEW_ABN}]})
            fixed = world.sync()
            after_fixed = {c.get("ContactNumber"): c for c in xero_contacts(world)}
        finally:
            capsule.close()
        yield {
            "kept": f"CAP-{kept['id']}",
            "cleared": f"CAP-{cleared['id']}",
            "before": before,
            "broken": broken,
            "after_broken": after_broken,
            "quarantine": quarantine,
            "sent_fields": sent_fields,
            "again": again,
            "fixed": fixed,
            "after_fixed": after_fixed,
        }


def test_a_quarantined_abn_email_and_phone_leave_xeros_values_as_they_are(world: dict[str, Any]) -> None:
    number = world["kept"]
    before, after = world["before"][number], world["after_broken"][number]
    assert before["TaxNumber"] and before["EmailAddress"]  # the migration wrote them
    assert after["Name"] == "Quarantine Harbour Holdings Pty Ltd"  # the real change was written
    assert after["TaxNumber"] == before["TaxNumber"]
    assert after["EmailAddress"] == before["EmailAddress"]
    assert _phones(after) == _phones(before) and _phones(before)["DEFAULT"] and _phones(before)["FAX"]
    assert world["sent_fields"][number] == ["name"]  # nothing but the rename is sent


def test_a_contact_persons_quarantined_email_is_left_as_xero_has_it(world: dict[str, Any]) -> None:
    number = world["kept"]
    assert _persons(world["before"][number]) == {"Pat": "pat@quarantineharbour.com.au"}
    assert _persons(world["after_broken"][number]) == {"Pat": "pat@quarantineharbour.com.au"}


def test_a_field_emptied_in_capsule_still_clears_xeros(world: dict[str, Any]) -> None:
    number = world["cleared"]
    assert world["before"][number]["TaxNumber"] and world["before"][number]["EmailAddress"]
    after = world["after_broken"][number]
    assert not after.get("TaxNumber") and not after.get("EmailAddress")


def test_the_quarantine_report_says_xeros_value_is_left_as_it_is(world: dict[str, Any]) -> None:
    rules = {rule for _, rule, _ in world["quarantine"]}
    assert rules == {"abn_valid", "email_valid", "phone_valid"}
    for _, rule, effect in world["quarantine"]:
        assert "left as Xero has it" in effect, (rule, effect)


def test_a_quarantined_value_plans_nothing_again_and_a_fixed_one_is_sent(world: dict[str, Any]) -> None:
    assert world["again"].plan.status == "empty" and world["again"].xero_writes == []
    fixed = world["after_fixed"][world["kept"]]
    assert fixed["TaxNumber"].replace(" ", "") == NEW_ABN.replace(" ", "")
    assert fixed["EmailAddress"] == world["before"][world["kept"]]["EmailAddress"]
