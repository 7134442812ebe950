"""What Capsule text reaches Xero (issue 11, items 13 and 14): names and every other text field are
cleaned before matching and writing (NFC, no controls, nothing invisible at the ends), a name left
empty is held back with its rule, and what Xero states it refuses is settled before anything is sent.

A small generated world plus the hostile parties below, synced with apply against the sandbox, then
synced again: Xero holds the cleaned values, nothing was refused, and the second sync writes nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from sandbox.capsule.control import CapsuleControl
from sandbox.generator import generate
from tests.support.sync_world import SyncRun, World, xero_contacts

pytestmark = pytest.mark.slow  # two syncs of a 40-party world: about 15 s

CAFE_NFC = "Caf\u00e9 Nero Pty Ltd"
CAFE_NFD = "Cafe\u0301 Nero Pty Ltd"
HOSTILE = {
    "invisible": {"type": "organisation", "name": "\u200b\u200b\ufeff"},
    "controls": {
        "type": "organisation",
        "name": "\x1b[31mHarbour\x00 Freight\tCo\x1b[0m",
        "addresses": [
            {"type": "Office", "street": "12 Dock Rd\x00", "city": "Balmain\u200b", "country": "Australia"}
        ],
    },
    "cafe_composed": {"type": "organisation", "name": CAFE_NFC},
    "cafe_decomposed": {"type": "organisation", "name": CAFE_NFD},
    "angle_brackets": {"type": "organisation", "name": "Smith <Wholesale> Pty Ltd"},
}


@pytest.fixture(scope="module")
def synced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with World(generate(parties=40, seed=3), tmp_path_factory.mktemp("text")) as world:
        capsule = CapsuleControl(world.server.capsule_url)
        try:
            ids = {key: capsule.create_party(party)["id"] for key, party in HOSTILE.items()}
        finally:
            capsule.close()
        first = world.sync()
        contacts = {c.get("ContactNumber"): c for c in xero_contacts(world)}
        since = world.last_call()
        second = world.sync(approve_first=False)
        with world.connect() as con:
            quarantine = con.execute(
                "select record_id, rule, value, detail, effect from staging.quarantine"
            ).fetchall()
            review = con.execute("select kind, party_id, reason from reports.review_queue").fetchall()
            queued = con.execute("select party_id, message from ledger.error_queue").fetchall()
        capsule_writes = [
            c
            for c in world.server.call(lambda: world.sandbox.calls.records("capsule", since))
            if c.method != "GET"
        ]
        yield {
            "ids": ids,
            "first": first,
            "second": second,
            "contacts": contacts,
            "quarantine": quarantine,
            "review": review,
            "queued": queued,
            "capsule_writes_after": capsule_writes,
        }


def contact_of(synced: dict[str, Any], key: str) -> dict[str, Any] | None:
    return synced["contacts"].get(f"CAP-{synced['ids'][key]}")


def test_a_name_of_only_invisible_characters_is_held_back_with_its_rule_and_never_reaches_xero(
    synced: dict[str, Any],
) -> None:
    party = str(synced["ids"]["invisible"])
    assert contact_of(synced, "invisible") is None
    assert not [c for c in synced["contacts"].values() if not (c.get("Name") or "").strip("\u200b\ufeff ")]
    (row,) = [r for r in synced["quarantine"] if r[0] == party]
    _, rule, value, detail, effect = row
    assert (rule, effect) == ("name_present", "party held back")
    assert value == "\\u200b\\u200b\\ufeff" and "invisible" in detail


def test_controls_and_escapes_are_removed_from_every_text_sent(synced: dict[str, Any]) -> None:
    contact = contact_of(synced, "controls")
    assert contact is not None and contact["Name"] == "Harbour Freight Co"
    (street,) = [a for a in contact["Addresses"] if a["AddressType"] == "STREET"]
    assert (street["AddressLine1"], street["City"], street["Country"]) == (
        "12 Dock Rd",
        "Balmain",
        "Australia",
    )


def test_composed_and_decomposed_spellings_of_one_name_are_one_name_and_never_two_look_alikes(
    synced: dict[str, Any],
) -> None:
    composed = contact_of(synced, "cafe_composed")
    assert composed is not None and composed["Name"] == CAFE_NFC
    # The later party wants a Name another party takes in this plan: a person decides (name_collision
    # is review by default), instead of a second contact that looks the same.
    assert contact_of(synced, "cafe_decomposed") is None
    later = synced["ids"]["cafe_decomposed"]
    assert [kind for kind, party, reason in synced["review"] if party == later and CAFE_NFC in reason] == [
        "preflight"
    ]


def test_what_xero_refuses_never_reaches_it_and_waits_for_a_person_with_the_rule_named(
    synced: dict[str, Any],
) -> None:
    assert contact_of(synced, "angle_brackets") is None
    angle = synced["ids"]["angle_brackets"]
    assert [(kind, reason) for kind, party, reason in synced["review"] if party == angle] == [
        (
            "preflight",
            'Name "Smith <Wholesale> Pty Ltd" has < or >, which Xero refuses in a contact name: a person decides',
        )
    ]
    # Nothing of these parties was sent for Xero to refuse: the error queue holds none of them.
    assert [row for row in synced["queued"] if row[0] in synced["ids"].values()] == []


def test_the_second_sync_writes_nothing(synced: dict[str, Any]) -> None:
    first: SyncRun = synced["first"]
    second: SyncRun = synced["second"]
    assert first.result is not None and first.result.status == "applied"
    assert (second.plan.status, second.plan.operations) == ("empty", 0)
    assert second.xero_writes == [] and synced["capsule_writes_after"] == []
