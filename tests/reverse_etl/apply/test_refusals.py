"""A write Xero refuses waits for a person without holding every later plan hostage (issue 11, item 14).

The generated world's ``deleted_party_synced_with_repeating_invoice`` case (sandbox/generator/CASES.md):
a Capsule party deleted whose Xero contact is billed by a repeating invoice, so Xero refuses to
archive it (an outstanding balance alone does not: that contact is archived). The migration leaves
that refusal in the error queue. Before, the queue retried it 15
minutes later, and from then on every plan carried the archive and waited for approval
(archives_need_approval), so no later Capsule edit reached Xero unattended (bench/latency.py found
it). Now the refusal waits for a person at once, the plans leave it out while nothing about it
changed, and edits flow; a person's release sends it once more.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from reverse_etl.apply.error_queue import release
from reverse_etl.plans.store import plan_operations
from sandbox.capsule.control import CapsuleControl
from sandbox.generator import Dataset, generate
from sandbox.xero.control import XeroControl
from tests.support.sync_world import World, xero_contacts

PARTIES = 240  # the smallest of seed 5's worlds with a deleted party whose contact is billed monthly
SEED = 5


@pytest.fixture(scope="module")
def dataset() -> Dataset:
    data = generate(PARTIES, seed=SEED)
    assert len(data.cases["deleted_party_synced_with_repeating_invoice"]) == 1
    return data


@pytest.fixture
def world(dataset: Dataset, tmp_path: Path) -> Iterator[World]:
    with World(dataset, tmp_path / "home") as out:
        yield out


def a_linked_person_or_organisation(world: World) -> tuple[int, int, str]:
    """(party id, id of its first e-mail row, ContactNumber) of a party whose Xero contact this tool created."""
    with world.connect() as con:
        rows = con.execute(
            "select w.party_id, w.contact_number from ledger.written_contacts as w"
            " join staging.capsule_parties as p using (party_id)"
            " where w.contact_status = 'ACTIVE' and not p.is_deleted and w.email_address is not null"
            " order by w.party_id"
        ).fetchall()
    capsule = CapsuleControl(world.server.capsule_url)
    try:
        for party_id, number in rows:
            emails = (capsule.get_party(party_id) or {}).get("emailAddresses") or []
            if emails:
                return party_id, emails[0]["id"], number
    finally:
        capsule.close()
    raise AssertionError("no synced party with an e-mail address")


def test_a_refused_archive_waits_for_a_person_and_later_edits_still_reach_xero_unattended(
    world: World, dataset: Dataset
) -> None:
    ((tombstone, owing),) = dataset.cases["deleted_party_synced_with_repeating_invoice"]
    # Another deleted party's contact only owes money: Xero archives it, its balance kept
    # (docs/api-facts.md#xero-archiving-and-restoring).
    ((_, only_owing), *_) = dataset.cases["deleted_party_synced"]
    with XeroControl(world.server.xero_url) as xero:
        xero.edit_contact(only_owing, Balances={"AccountsReceivable": {"Outstanding": 480.0, "Overdue": 0.0}})
    migration = world.sync()  # approved by a person, as a first migration must be
    assert migration.result is not None and migration.result.refused == 1
    with world.connect() as con:
        ((state, attempts, next_attempt),) = con.execute(
            "select state, attempts, next_attempt_at from ledger.error_queue where party_id = ?", [tombstone]
        ).fetchall()
    assert (state, attempts, next_attempt) == ("dead", 1, None)  # waits for a person: no retry is due
    assert (
        next(c for c in xero_contacts(world) if c["ContactID"] == only_owing)["ContactStatus"] == "ARCHIVED"
    )

    party_id, email_row, number = a_linked_person_or_organisation(world)
    capsule = CapsuleControl(world.server.capsule_url)
    capsule.update_party(party_id, {"emailAddresses": [{"id": email_row, "address": "new@edited.com.au"}]})
    capsule.close()
    later = datetime.now(UTC) + timedelta(hours=2)  # well past the 15 minutes the queue used to wait
    edit = world.sync(approve_first=False, now=later)

    assert edit.plan.status == "approved" and not edit.plan.approval_reasons  # nobody has to approve it
    assert edit.plan.counts["archive"] == 0 and edit.plan.counts["held_back"] == 1
    assert [h.party_id for h in edit.plan.held_back] == [tombstone]
    assert edit.result is not None and edit.result.status == "applied"
    held = {c["ContactNumber"]: c for c in xero_contacts(world) if c.get("ContactNumber")}
    assert held[number]["EmailAddress"] == "new@edited.com.au"
    assert next(c for c in xero_contacts(world) if c["ContactID"] == owing)["ContactStatus"] == "ACTIVE"
    assert world.sync(approve_first=False, now=later + timedelta(days=3)).plan.status == "empty"

    # A person settles it (here: releases it to be tried again as it is): the archive is planned again,
    # waits for the approval archives need, and Xero gives the same answer.
    with world.connect() as con:
        assert release(con, [tombstone]) == [tombstone]
    retried = world.sync(approve_first=False, now=later + timedelta(days=4))
    assert retried.plan.status == "pending_approval" and retried.plan.counts["archive"] == 1
    with world.connect() as con:
        assert [o.party_id for o in plan_operations(con, retried.plan.plan_id)] == [tombstone]
