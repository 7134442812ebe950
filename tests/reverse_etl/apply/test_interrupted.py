"""An interrupted ``sync --apply`` is finished by the next one (issue 11, items 2 and 5).

A generated world with people as contacts of their own is migrated the way ``capsule-xero sync
--apply`` does it (tests/support/sync_world.py), and the process "dies" part-way (an exception no
``except Exception`` catches, raised from the writers: nothing after it runs, no transaction in
flight commits) — during the contact-group step, or while ContactIDs are written back to Capsule.
Then ``sync --apply`` runs again, and what the first run started is all there: every contact in its
managed groups, every Capsule party's "Xero Contact ID", no plan left open, nothing waiting for an
approval a person already gave. The SIGKILL versions of the same points are in the crash trials
(tests/reverse_etl/apply/test_crash_trials.py).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from capsule_xero.capsule.errors import CapsuleError
from capsule_xero.rules.model import Rules
from reverse_etl.plans.store import latest_plans
from reverse_etl.writers.capsule import CapsuleWriteBack
from reverse_etl.writers.xero import XeroContactWriter
from sandbox.generator import Dataset, generate
from sandbox.xero.control import XeroControl
from tests.support.sync_world import FIELD, SyncRun, World, capsule_field_values, xero_contacts

PARTIES = 160
SEED = 5
OPEN = ("approved", "applying", "partly_applied", "pending_approval")


class Killed(BaseException):
    """Stands for the process dying: nothing after it runs (no ``except Exception`` catches it)."""


def die_at_group_call(n: int) -> Callable[[XeroContactWriter, CapsuleWriteBack], None]:
    """The process dies as the ``n``-th ``PUT /ContactGroups/{id}/Contacts`` leaves (the ones before landed)."""

    def interrupt(writer: XeroContactWriter, _back: CapsuleWriteBack) -> None:
        calls = itertools.count(1)
        original = writer.set_group_members

        def set_group_members(group_id: str, **members: Any) -> Any:
            if next(calls) >= n:
                raise Killed
            return original(group_id, **members)

        writer.set_group_members = set_group_members  # type: ignore[method-assign]

    return interrupt


def stop_write_back_after(
    n: int, error: BaseException
) -> Callable[[XeroContactWriter, CapsuleWriteBack], None]:
    """The Capsule write-back raises ``error`` after ``n`` parties were written (and recorded up to then)."""

    def interrupt(_writer: XeroContactWriter, back: CapsuleWriteBack) -> None:
        original = back.write_contact_ids

        def write_contact_ids(wanted: Any, field_name: Any = None, *, on_written: Any = None) -> Any:
            written = itertools.count(1)

            def counted(party_id: int, contact_id: str, updated_at: str | None) -> None:
                if on_written is not None:
                    on_written(party_id, contact_id, updated_at)
                if next(written) >= n:
                    raise error

            return original(wanted, field_name, on_written=counted)

        back.write_contact_ids = write_contact_ids  # type: ignore[method-assign]

    return interrupt


@pytest.fixture(scope="module")
def dataset() -> Dataset:
    return generate(PARTIES, seed=SEED)


@pytest.fixture
def world(dataset: Dataset, tmp_path: Path) -> Iterator[World]:
    with World(dataset, tmp_path / "home") as out:
        out.rules = Rules.model_validate({"sync": {"people": "contacts"}})
        yield out


def managed_groups_astray(world: World) -> dict[str, tuple[list[str], list[str]]]:
    """ContactNumber → (managed groups Capsule wants, managed groups Xero has) where they differ, for
    every contact of the newest reconcile (desired_contacts: the groups each party should have)."""
    with world.connect() as con:
        desired = {
            number: json.loads(groups) if groups else []
            for number, groups in con.execute(
                "select contact_number, contact_groups from reconcile.desired_contacts"
            ).fetchall()
        }
    managed = set(world.rules.groups.tags) | {name for names in desired.values() for name in names}
    prefix = world.rules.groups.owner_group_prefix
    astray = {}
    for contact in xero_contacts(world):
        number = contact.get("ContactNumber")
        if number not in desired or contact["ContactStatus"] != "ACTIVE":
            continue
        held = sorted(
            g["Name"]
            for g in contact.get("ContactGroups") or []
            if g["Name"] in managed or g["Name"].startswith(prefix)
        )
        if held != sorted(desired[number]):
            astray[number] = (sorted(desired[number]), held)
    return astray


def fields_missing(world: World) -> dict[int, Any]:
    """Parties linked to a Xero contact (in the ledger) whose Capsule field does not hold its ContactID."""
    with world.connect() as con:
        linked = dict(
            con.execute(
                "select w.party_id, w.contact_id from ledger.written_contacts as w"
                " join staging.capsule_parties as p on p.party_id = w.party_id"
                " where w.contact_status = 'ACTIVE' and not p.is_deleted"
            ).fetchall()
        )
    held = capsule_field_values(world, FIELD)
    return {
        party: (contact, held.get(party)) for party, contact in linked.items() if held.get(party) != contact
    }


def leftovers(world: World, run: SyncRun) -> dict[str, int]:
    """What a plan still carries of what an interrupted run started: creates, group changes, History
    notes, write-backs. (Updates of other fields are another matter a plan may carry.)"""
    with world.connect() as con:
        ((groups,),) = con.execute(
            "select count(*) from ledger.plan_operations where plan_id = ? and list_contains(changed_fields, 'contact_groups')",
            [run.plan.plan_id],
        ).fetchall()
    counts = {"create": run.plan.counts["create"], "groups": groups, "notes": run.plan.notes}
    return {name: n for name, n in (counts | {"write_backs": run.plan.write_backs}).items() if n}


def plan_statuses(world: World) -> dict[int, str]:
    with world.connect() as con:
        return {p.plan_id: p.status for p in latest_plans(con, 50)}


def open_plans(world: World) -> dict[int, str]:
    """Plans something is still to be sent for: one left ``applying``, or a newest plan still to be
    applied or finished (an older ``partly_applied`` plan is closed: a newer plan carried the rest)."""
    statuses = plan_statuses(world)
    newest = max(statuses)
    return {n: s for n, s in statuses.items() if s == "applying" or (n == newest and s in OPEN)}


# ---- item 2: the contact-group step ------------------------------------------------------------------


def test_a_sync_killed_in_the_group_step_is_finished_by_the_next_sync_without_asking_again(
    world: World,
) -> None:
    with pytest.raises(Killed):
        world.sync(interrupt=die_at_group_call(3))
    assert len(managed_groups_astray(world)) > 40  # the kill left most contacts without their groups
    (killed,) = [number for number, status in plan_statuses(world).items() if status == "applying"]

    rerun = world.sync(approve_first=False)
    assert not rerun.approved  # a person approved it once: finishing it needs no second approval
    assert rerun.plan.plan_id == killed and rerun.result is not None
    assert (rerun.result.status, rerun.result.stopped, rerun.result.created) == ("applied", None, 0)

    final = world.sync(approve_first=False)
    assert managed_groups_astray(world) == {}
    assert leftovers(world, final) == {}
    assert open_plans(world) == {}


def test_groups_a_killed_run_set_are_its_own_so_a_new_plan_sets_the_rest_when_the_old_cannot_resume(
    world: World,
) -> None:
    with pytest.raises(Killed):
        world.sync(interrupt=die_at_group_call(3))
    # Someone edits a contact in Xero: the killed plan was computed against an older Xero and may not
    # be resumed, so the next sync plans again, against what Xero holds now (groups half set).
    with XeroControl(world.server.xero_url) as xero:
        other = next(
            c for c in xero.contacts() if c["ContactStatus"] == "ACTIVE" and not c.get("ContactNumber")
        )
        xero.edit_contact(other["ContactID"], Website="https://example.com.au/edited")
    killed = max(plan_statuses(world))

    rerun = world.sync()
    assert rerun.plan.plan_id != killed and rerun.result is not None
    assert plan_statuses(world)[killed] == "partly_applied"  # closed: the new plan carries the rest
    assert managed_groups_astray(world) == {}  # newest_wins took none of the tool's own writes for Xero's
    assert leftovers(world, world.sync(approve_first=False)) == {}
    assert open_plans(world) == {}


# ---- item 5: the ContactID write-back ----------------------------------------------------------------


def test_a_sync_killed_in_the_write_back_is_finished_by_the_next_sync_not_called_nothing_to_do(
    world: World,
) -> None:
    with pytest.raises(Killed):
        world.sync(interrupt=stop_write_back_after(40, Killed()))
    assert len(fields_missing(world)) > 50
    (killed,) = [number for number, status in plan_statuses(world).items() if status == "applying"]

    rerun = world.sync(approve_first=False)
    assert rerun.plan.status != "empty" and rerun.result is not None
    assert rerun.result.write_backs_pending == 0 and rerun.result.written_back > 50
    assert fields_missing(world) == {}
    assert plan_statuses(world)[killed] == "applied"
    assert leftovers(world, world.sync(approve_first=False)) == {}
    assert open_plans(world) == {}


def test_write_backs_capsule_stopped_are_sent_by_the_next_sync_even_with_nothing_else_to_do(
    world: World,
) -> None:
    world.rules = Rules()  # people as contact persons: a migration that converges in one sync
    first = world.sync(interrupt=stop_write_back_after(20, CapsuleError("Capsule's hourly limit is used up")))
    assert first.result is not None and first.result.write_backs_pending > 40
    assert first.result.status == "applied"  # every contact, group and note is in Xero

    rerun = world.sync(approve_first=False)
    assert rerun.plan.status == "approved" and rerun.plan.operations == 0
    assert rerun.plan.counts["write_backs"] == first.result.write_backs_pending
    assert rerun.result is not None and rerun.xero_writes == []
    assert fields_missing(world) == {}
    assert world.sync(approve_first=False).plan.status == "empty"
