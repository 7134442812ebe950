"""Two-way contacts end to end against the stand-ins (issue 13): what a bookkeeper changes in Xero
reaches Capsule field by field, what the sales team changes in Capsule reaches Xero, and a sync after
either writes nothing on either side (no echo, no ping-pong).

Each test migrates a small generated world with ``sync.direction: both`` first, then edits one side the
way a person would (the stand-ins' control APIs), then syncs as ``capsule-xero sync --apply`` does.
"""

from __future__ import annotations

from contextlib import closing, suppress
from pathlib import Path
from typing import Any

import pytest

from capsule_xero.rules.model import Rules
from reverse_etl.undo import undo_plan
from reverse_etl.writers.xero import XeroContactWriter
from sandbox.capsule.control import CapsuleControl
from sandbox.generator import generate
from sandbox.xero.control import XeroControl
from tests.support.sync_world import PACING, World, capsule_field_values

pytestmark = pytest.mark.slow  # a 60-party world synced four or five times: about 20 s a test

PARTIES = 60
SEED = 11
TWO_WAY = {
    "sync": {"direction": "both"},
    "ownership": {"phones": "xero", "postal_address": "xero", "email_address": "both"},
}


def two_way(**sections: Any) -> Rules:
    rules = {key: dict(value) for key, value in TWO_WAY.items()}
    for key, value in sections.items():
        rules[key] = rules.get(key, {}) | value
    return Rules.model_validate(rules)


def capsule_writes(world: World, since: int) -> list[tuple[str, str]]:
    return [
        (c.method, c.path)
        for c in world.server.call(lambda: world.sandbox.calls.records("capsule", since))
        if c.method not in {"GET", "HEAD"}
    ]


def assert_quiet(world: World) -> None:
    """The next sync plans nothing and writes nothing, to Xero or to Capsule."""
    since = world.last_call()
    run = world.sync(approve_first=False)
    assert (run.plan.status, run.plan.operations, run.plan.capsule_writes) == ("empty", 0, 0), run.plan
    assert run.xero_writes == []
    assert capsule_writes(world, since) == []


def synced_organisation(world: World) -> tuple[int, str]:
    """A Capsule organisation and its Xero contact, linked by this tool's first sync."""
    with world.connect() as con:
        row = con.execute(
            "select w.party_id, w.contact_id from ledger.written_contacts as w"
            " join staging.capsule_parties as p on p.party_id = w.party_id"
            " where p.party_type = 'organisation' and w.contact_status = 'ACTIVE'"
            " order by w.party_id limit 1"
        ).fetchone()
    assert row is not None
    return int(row[0]), str(row[1])


def party(world: World, party_id: int) -> dict[str, Any]:
    with closing(CapsuleControl(world.server.capsule_url)) as control:
        found = control.get_party(party_id)
    assert found is not None
    return found


def email_changed_on_both_sides(world: World) -> tuple[int, str]:
    """A synced organisation whose e-mail is changed in Capsule to c@capsule.example, then in Xero to
    x@xero.example (Xero's edit last, so newest_wins picks Xero)."""
    party_id, contact_id = synced_organisation(world)
    first = party(world, party_id)["emailAddresses"][0]
    with closing(CapsuleControl(world.server.capsule_url)) as capsule:
        capsule.update_party(
            party_id, {"emailAddresses": [{"id": first["id"], "address": "c@capsule.example"}]}
        )
    with XeroControl(world.server.xero_url) as xero:
        xero.edit_contact(contact_id, EmailAddress="x@xero.example")
    return party_id, contact_id


def migrated(tmp_path: Path, rules: Rules) -> World:
    world = World(generate(parties=PARTIES, seed=SEED), tmp_path / "home")
    world.rules = rules
    first = world.sync()
    assert first.result is not None and first.result.status == "applied", first.result
    return world


def test_a_two_way_migration_converges_so_the_next_sync_writes_nothing_on_either_side(tmp_path: Path) -> None:
    with migrated(tmp_path, two_way()) as world:
        assert_quiet(world)


def test_a_bookkeepers_edits_in_xero_reach_capsule_and_come_back_as_no_change(tmp_path: Path) -> None:
    with migrated(tmp_path, two_way()) as world:
        party_id, contact_id = synced_organisation(world)
        with XeroControl(world.server.xero_url) as xero:
            xero.edit_contact(
                contact_id,
                EmailAddress="billing@fixed-by-bookkeeper.example",
                Phones=[{"PhoneType": "MOBILE", "PhoneCountryCode": "61", "PhoneNumber": "412345678"}],
                Addresses=[
                    {
                        "AddressType": "POBOX",
                        "AddressLine1": "PO Box 77",
                        "City": "Newcastle",
                        "Region": "NSW",
                        "PostalCode": "2300",
                        "Country": "Australia",
                    }
                ],
            )
        run = world.sync()
        assert run.result is not None and run.result.status == "applied", run.result
        assert run.plan.counts.get("capsule_update") == 1
        assert run.xero_writes == []
        after = party(world, party_id)
        assert [e["address"] for e in after["emailAddresses"]][:1] == ["billing@fixed-by-bookkeeper.example"]
        assert "+61412345678" in [p["number"].replace(" ", "") for p in after["phoneNumbers"]]
        postal = [a for a in after["addresses"] if a.get("type") == "Postal"]
        assert [(a["street"], a["city"], a["state"], a["zip"]) for a in postal] == [
            ("PO Box 77", "Newcastle", "NSW", "2300")
        ]
        assert_quiet(world)


def test_a_capsule_edit_reaches_xero_only_for_fields_capsule_or_both_own(tmp_path: Path) -> None:
    with migrated(tmp_path, two_way()) as world:
        party_id, contact_id = synced_organisation(world)
        before = party(world, party_id)
        with closing(CapsuleControl(world.server.capsule_url)) as capsule:
            capsule.update_party(
                party_id,
                {
                    "emailAddresses": [
                        {"id": before["emailAddresses"][0]["id"], "address": "sales@capsule.example"}
                    ]
                    if before["emailAddresses"]
                    else [{"address": "sales@capsule.example", "type": "Work"}],
                    "phoneNumbers": [{"type": "Fax", "number": "+61 2 9999 0000"}],
                },
            )
        run = world.sync()
        assert run.result is not None and run.result.status == "applied", run.result
        with XeroControl(world.server.xero_url) as xero:
            contact = xero.contact(contact_id)
        assert contact["EmailAddress"] == "sales@capsule.example"  # both: Capsule changed, Capsule wins
        fax = [p for p in contact.get("Phones") or [] if p["PhoneType"] == "FAX"]
        assert not any(p.get("PhoneNumber") for p in fax)  # phones: xero — Capsule's new fax is not pushed
        assert_quiet(world)


@pytest.mark.parametrize(
    ("policy", "winner"), [("capsule_wins", "capsule"), ("xero_wins", "xero"), ("newest_wins", "xero")]
)
def test_an_email_changed_on_both_sides_is_settled_by_the_policy_on_both_sides(
    policy: str, winner: str, tmp_path: Path
) -> None:
    with migrated(tmp_path, two_way(conflicts={"policy": policy})) as world:
        party_id, contact_id = email_changed_on_both_sides(world)
        run = world.sync()
        assert run.result is not None and run.result.status == "applied", run.result
        expected = {"capsule": "c@capsule.example", "xero": "x@xero.example"}[winner]
        with XeroControl(world.server.xero_url) as xero:
            assert xero.contact(contact_id)["EmailAddress"] == expected
        assert party(world, party_id)["emailAddresses"][0]["address"] == expected
        with world.connect() as con:
            settled = con.execute(
                "select winner from reconcile.conflict_settlements where contact_id = ? and field = 'email_address'",
                [contact_id],
            ).fetchall()
        assert settled == [(winner,)]
        assert_quiet(world)


def test_a_manual_policy_sends_a_two_sided_change_to_review_and_writes_neither_side(tmp_path: Path) -> None:
    with migrated(tmp_path, two_way(conflicts={"policy": "manual"})) as world:
        party_id, contact_id = email_changed_on_both_sides(world)
        run = world.sync()
        assert run.plan.capsule_writes == 0
        with world.connect() as con:
            (operation,) = con.execute(
                "select operation from reconcile.contact_operations where party_id = ?", [party_id]
            ).fetchone()
        assert operation == "review"
        with XeroControl(world.server.xero_url) as xero:
            assert xero.contact(contact_id)["EmailAddress"] == "x@xero.example"
        assert party(world, party_id)["emailAddresses"][0]["address"] == "c@capsule.example"


def test_archived_in_xero_tags_the_party_and_restoring_removes_the_tag(tmp_path: Path) -> None:
    with migrated(tmp_path, two_way()) as world:
        party_id, contact_id = synced_organisation(world)
        with XeroControl(world.server.xero_url) as xero:
            xero.archive(contact_id)
        run = world.sync()
        assert run.result is not None and run.result.status == "applied", run.result
        assert "Archived in Xero" in [t["name"] for t in party(world, party_id).get("tags") or []]
        assert party(world, party_id) is not None  # never deleted
        assert_quiet(world)
        with XeroControl(world.server.xero_url) as xero:
            xero.restore(contact_id)
        world.sync()
        assert "Archived in Xero" not in [t["name"] for t in party(world, party_id).get("tags") or []]
        assert_quiet(world)


def test_a_contact_merged_in_xero_moves_the_partys_cross_reference_to_the_survivor(tmp_path: Path) -> None:
    with migrated(tmp_path, two_way()) as world:
        party_id, contact_id = synced_organisation(world)
        with XeroControl(world.server.xero_url) as xero:
            survivor = xero.create_contact(Name="Survivor Holdings Pty Ltd")
            xero.merge(contact_id, into=survivor["ContactID"])
        run = world.sync()
        assert run.result is not None and run.result.status == "applied", run.result
        assert capsule_field_values(world)[party_id] == survivor["ContactID"]
        with world.connect() as con:
            matched = con.execute(
                "select contact_id, match_rule from reconcile.contact_matches where party_id = ?", [party_id]
            ).fetchall()
        assert matched == [(survivor["ContactID"].lower(), "merged")] or matched == [
            (survivor["ContactID"], "merged")
        ]
        assert_quiet(world)


def test_create_in_capsule_makes_one_party_per_unmatched_customer_and_none_for_look_alikes(
    tmp_path: Path,
) -> None:
    with migrated(tmp_path, two_way(sync={"create_in_capsule": "customers"})) as world:
        _, contact_id = synced_organisation(world)
        with XeroControl(world.server.xero_url) as xero:
            look_alike_of = xero.contact(contact_id)
            new = xero.create_contact(
                Name="Brand New Customer Pty Ltd", EmailAddress="accounts@brandnew.example"
            )
            xero.edit_contact(new["ContactID"], IsCustomer=True)
            supplier = xero.create_contact(Name="Only A Supplier Pty Ltd")
            xero.edit_contact(supplier["ContactID"], IsSupplier=True)
            # Xero keeps names unique, so the look-alike shares the party's e-mail under another name.
            twin = xero.create_contact(
                Name="Same Inbox Trading Pty Ltd", EmailAddress=look_alike_of["EmailAddress"]
            )
            xero.edit_contact(twin["ContactID"], IsCustomer=True)
        run = world.sync()  # a create waits for approval by default; the world approves it
        assert run.approved and run.plan.counts.get("capsule_create") == 1
        links = capsule_field_values(world)
        created = [p for p, c in links.items() if c == new["ContactID"]]
        assert len(created) == 1
        assert supplier["ContactID"] not in links.values()
        assert twin["ContactID"] not in links.values()
        assert party(world, created[0])["name"] == "Brand New Customer Pty Ltd"
        world.sync()  # links the contact both ways: its ContactNumber names the new party
        with XeroControl(world.server.xero_url) as xero:
            assert xero.contact(new["ContactID"])["ContactNumber"] == f"CAP-{created[0]}"
        assert_quiet(world)
        assert [c for c in capsule_field_values(world).values() if c == new["ContactID"]] == [
            new["ContactID"]
        ]


def test_under_faults_on_both_apis_repeated_two_way_syncs_converge_with_no_duplicate_capsule_row(
    tmp_path: Path,
) -> None:
    with migrated(tmp_path, two_way()) as world:
        with world.connect() as con:
            pairs = con.execute(
                "select w.party_id, w.contact_id from ledger.written_contacts as w"
                " join staging.capsule_parties as p on p.party_id = w.party_id"
                " where p.party_type = 'organisation' and w.contact_status = 'ACTIVE' order by w.party_id limit 6"
            ).fetchall()
        edits = {}
        with XeroControl(world.server.xero_url) as xero:
            for n, (party_id, contact_id) in enumerate(pairs):
                mobile = f"4123450{n:02d}"
                xero.edit_contact(
                    contact_id,
                    EmailAddress=f"fixed{n}@bookkeeper.example",
                    Phones=[{"PhoneType": "MOBILE", "PhoneCountryCode": "61", "PhoneNumber": mobile}],
                    Addresses=[
                        {
                            "AddressType": "POBOX",
                            "AddressLine1": f"PO Box {n + 1}",
                            "City": "Hobart",
                            "Region": "TAS",
                            "PostalCode": "7001",
                            "Country": "Australia",
                        }
                    ],
                )
                edits[int(party_id)] = (f"fixed{n}@bookkeeper.example", f"+61{mobile}", f"PO Box {n + 1}")
        with closing(CapsuleControl(world.server.capsule_url)) as capsule:
            # No Capsule 429 here: the stand-in's says the hour's budget is gone until the next hour, which
            # the pacer then honours for the rest of the test (tests/reverse_etl/apply/test_capsule_changes.py
            # covers Capsule's 429).
            capsule.add_fault("capsule", "*", "*", **{"500": 0.05, "503": 0.05, "drop": 0.05})
            capsule.add_fault("xero", "*", "/api.xro/*", **{"503": 0.05, "drop": 0.05, "429": 0.05})
            for _ in range(4):
                # A run may die of a fault (an extract that gave up): the next run settles what it left.
                with suppress(Exception):
                    world.sync()
            capsule.clear_faults()
        world.sync()
        for party_id, (email, mobile, po_box) in edits.items():
            now = party(world, party_id)
            emails = [e["address"] for e in now["emailAddresses"]]
            numbers = [p["number"].replace(" ", "") for p in now["phoneNumbers"]]
            streets = [(a.get("type"), a.get("street")) for a in now["addresses"]]
            assert emails[0] == email and len(emails) == len(set(emails)), (party_id, emails)
            assert numbers.count(mobile) == 1 and len(numbers) == len(set(numbers)), (party_id, numbers)
            # The postal row Capsule had (Postal or Billing) is updated in place; a new one is typed Postal.
            postal = [street for kind, street in streets if kind in ("Postal", "Billing")]
            assert postal == [po_box] and len(streets) == len(set(streets)), (party_id, streets)
        assert_quiet(world)


def test_a_pull_capsule_refuses_is_reported_with_its_message_and_not_sent_again_until_it_changes(
    tmp_path: Path,
) -> None:
    with migrated(tmp_path, two_way()) as world:
        party_id, contact_id = synced_organisation(world)
        box = {
            "AddressType": "POBOX",
            "AddressLine1": "PO Box 5",
            "City": "Cair Paravel",
            "Country": "Narnia",
        }
        with XeroControl(world.server.xero_url) as xero:
            xero.edit_contact(contact_id, Addresses=[box])
        refused = world.sync()
        assert refused.result is not None and refused.result.capsule_failed == 1
        assert any("Narnia" in problem for problem in refused.result.problems)
        since = world.last_call()
        again = world.sync(approve_first=False)
        assert again.plan.counts.get("capsule_held_back") == 1 and again.plan.capsule_writes == 0
        assert capsule_writes(world, since) == []
        with XeroControl(world.server.xero_url) as xero:
            xero.edit_contact(contact_id, Addresses=[box | {"Country": "Australia", "City": "Hobart"}])
        fixed = world.sync()
        assert fixed.result is not None and fixed.result.capsule_written == 1
        postal = [a for a in party(world, party_id)["addresses"] if a["street"] == "PO Box 5"]
        assert [(a["city"], a["country"]) for a in postal] == [("Hobart", "Australia")]


def test_undo_puts_back_what_a_plan_pulled_into_capsule_and_keeps_what_changed_since(tmp_path: Path) -> None:
    with migrated(tmp_path, two_way()) as world:
        party_id, contact_id = synced_organisation(world)
        before = party(world, party_id)
        old_email = before["emailAddresses"][0]["address"]
        with XeroControl(world.server.xero_url) as xero:
            xero.edit_contact(
                contact_id,
                EmailAddress="pulled@bookkeeper.example",
                Phones=[{"PhoneType": "MOBILE", "PhoneCountryCode": "61", "PhoneNumber": "498765432"}],
            )
        run = world.sync()
        assert run.result is not None and run.result.capsule_written == 1
        # Someone edits the mobile in Capsule after the pull: undo must keep that.
        pulled = party(world, party_id)
        mobile = next(p for p in pulled["phoneNumbers"] if p["number"].replace(" ", "") == "+61498765432")
        with closing(CapsuleControl(world.server.capsule_url)) as capsule:
            capsule.update_party(
                party_id, {"phoneNumbers": [{"id": mobile["id"], "number": "+61 400 000 001"}]}
            )
        with world.connect() as con, XeroContactWriter(world.settings, world.auth, policy=PACING) as writer:
            undone = undo_plan(con, world.settings, run.plan.plan_id, writer=writer, rules=world.rules)
        assert undone.capsule.reverted == [f"party {party_id}: email_address"]
        assert any("phone_mobile changed in Capsule since" in line for line in undone.capsule.kept)
        after = party(world, party_id)
        assert after["emailAddresses"][0]["address"] == old_email
        assert "+61400000001" in [p["number"].replace(" ", "") for p in after["phoneNumbers"]]
