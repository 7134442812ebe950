"""A fresh migration converges under every ``people`` setting and every conflict policy (issue 11, item 4).

The first ``sync --apply`` (approved) writes the migration: contacts in Xero, ContactIDs written back
to Capsule, groups, History notes. Those writes are this tool's own: they move Xero's and Capsule's
timestamps, but they are nobody's edit. So the second sync must find nothing to do, whatever the
rules say about people and conflicts — no plan, no write to Xero, no write to Capsule. A value Xero
had won in the first plan stays Xero's.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from capsule_xero.rules.model import Rules
from sandbox.generator import generate
from tests.support.sync_world import World, xero_state

pytestmark = pytest.mark.slow  # two syncs of a 200-party world per setting: about 18 s each

PARTIES = 200
SEED = 5
PEOPLE = ("contact_persons", "contacts")
POLICIES = ("newest_wins", "capsule_wins", "xero_wins", "manual")


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("people", PEOPLE)
def test_the_sync_after_a_fresh_migration_writes_nothing(people: str, policy: str, tmp_path: Path) -> None:
    rules = Rules.model_validate({"sync": {"people": people}, "conflicts": {"policy": policy}})
    dataset = generate(parties=PARTIES, seed=SEED)
    # The world holds what broke convergence: a synced organisation Xero changed last (its values win
    # a newest_wins settlement), with people who become contacts and get their ContactID written back.
    with_people = {p["organisation"]["id"] for p in dataset.capsule_parties if p.get("organisation")}
    assert {party for party, *_ in dataset.cases["synced_xero_changed"]} & with_people
    with World(dataset, tmp_path / "home") as world:
        world.rules = rules
        first = world.sync()
        assert first.result is not None and first.result.status == "applied", first.result
        migrated = xero_state(world)

        since = world.last_call()
        second = world.sync(approve_first=False)
        with world.connect() as con:
            planned = con.execute(
                "select party_id, operation, reason from reconcile.contact_operations"
                " where operation in ('create', 'update', 'archive', 'restore')"
                " and party_id not in (select party_id from ledger.error_queue)"
            ).fetchall()
        capsule_writes = [
            (c.method, c.path)
            for c in world.server.call(lambda: world.sandbox.calls.records("capsule", since))
            if c.method not in {"GET", "HEAD"}
        ]
        assert planned == []
        assert (second.plan.status, second.plan.operations) == ("empty", 0)
        assert second.xero_writes == []
        assert capsule_writes == []
        assert xero_state(world) == migrated
