"""Staleness: a plan fits Xero and the rules it was made against, or is refused; an interrupted plan
stands while it still fits.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from capsule_xero.rules.conflicts import ConflictRules
from capsule_xero.rules.model import Rules
from reverse_etl.plans.create import create_plan
from reverse_etl.plans.model import StalePlanError
from reverse_etl.plans.render import render_plan
from reverse_etl.plans.staleness import check_plan_is_current
from reverse_etl.plans.store import load_plan, mark_plan, plan_operations
from tests.reverse_etl.plans.scene import NO_APPROVAL, Scene, a_few_updates, rules, text_of


def test_a_plan_is_current_while_nothing_in_xero_changed_after_it(scene: Scene) -> None:
    a_few_updates(scene, 2)
    plan = create_plan(scene.con, rules())
    check_plan_is_current(scene.con, plan.plan_id, rules())


def test_a_contact_changed_in_xero_after_the_plan_makes_it_stale_with_a_message_naming_it(
    scene: Scene,
) -> None:
    a_few_updates(scene, 7)
    plan = create_plan(scene.con, rules())
    later = plan.xero_state_at + timedelta(minutes=5)
    scene.con.execute(
        "update raw.xero_contacts set updated_date_utc = ? where contact_id in ('c-1', 'c-2', 'c-3', 'c-4',"
        " 'c-5', 'c-6')",
        [later],
    )
    with pytest.raises(StalePlanError) as caught:
        check_plan_is_current(scene.con, plan.plan_id)
    error = caught.value
    assert (error.changed_contacts, error.rules_changed) == (6, False)
    assert "6 Xero contacts changed or appeared" in str(error)
    assert "c-1, c-2, c-3, c-4, c-5, …" in str(error) and "c-6" not in str(error)
    assert "capsule-xero plan --refresh" in str(error)


def test_a_contact_that_appeared_in_xero_after_the_plan_makes_it_stale(scene: Scene) -> None:
    scene.wrote_before()
    scene.xero("c-0", name="Someone Else")
    scene.operation("create", 1, name="Acme Pty Ltd")
    plan = create_plan(scene.con, rules())
    # Someone typed the same name into Xero: the create would now collide with it.
    scene.con.execute(
        "insert into raw.xero_contacts values ('typed-by-hand', null, 'Acme Pty Ltd', ?)",
        [plan.xero_state_at + timedelta(seconds=1)],
    )
    with pytest.raises(StalePlanError, match="typed-by-hand"):
        check_plan_is_current(scene.con, plan.plan_id)


def test_the_plans_own_writes_do_not_make_it_stale_so_an_interrupted_apply_can_resume(scene: Scene) -> None:
    scene.xero("c-1", name="Old")
    scene.operation("update", 1, "c-1", name="New")
    scene.operation("create", 2, name="Created")
    plan = create_plan(scene.con, rules())
    later = plan.xero_state_at + timedelta(minutes=1)
    # The plan updated c-1 (recorded in the ledger) and created CAP-2, whose answer was lost.
    scene.con.execute("update raw.xero_contacts set updated_date_utc = ? where contact_id = 'c-1'", [later])
    scene.con.execute(
        "insert into ledger.written_contacts (contact_id, party_id, plan_id, written_at, contact_status)"
        " values ('c-1', 1, ?, ?, 'ACTIVE')",
        [plan.plan_id, later],
    )
    scene.con.execute("insert into raw.xero_contacts values ('new-2', 'CAP-2', 'Created', ?)", [later])
    check_plan_is_current(scene.con, plan.plan_id)


def test_changed_rules_make_a_plan_stale(scene: Scene) -> None:
    a_few_updates(scene, 1)
    plan = create_plan(scene.con, rules())
    other = Rules(approval=NO_APPROVAL, conflicts=ConflictRules(policy="xero_wins"))
    with pytest.raises(StalePlanError, match="the rules file changed") as caught:
        check_plan_is_current(scene.con, plan.plan_id, other)
    assert caught.value.rules_changed and caught.value.changed_contacts == 0


def test_a_superseded_plan_is_never_current(scene: Scene) -> None:
    a_few_updates(scene, 1)
    first = create_plan(scene.con, rules())
    scene.operation("create", 60, name="Sixty")
    create_plan(scene.con, rules())
    with pytest.raises(StalePlanError, match="superseded by plan 2") as caught:
        check_plan_is_current(scene.con, first.plan_id)
    assert caught.value.superseded_by == 2


def test_an_interrupted_plan_stands_until_it_is_finished_while_xero_has_not_moved_on(scene: Scene) -> None:
    a_few_updates(scene, 1)
    first = create_plan(scene.con, rules())
    mark_plan(scene.con, first.plan_id, "applying")  # the run applying it was killed
    scene.operation("create", 70, name="Seventy")  # a change in Capsule meanwhile
    again = create_plan(scene.con, rules())
    assert (again.plan_id, again.resumes, again.status) == (first.plan_id, True, "partly_applied")
    assert [o.party_id for o in plan_operations(scene.con, first.plan_id)] == [100]  # its own, with approval
    check_plan_is_current(scene.con, first.plan_id)  # the apply loop may finish it
    assert "was interrupted before it finished" in text_of(render_plan(scene.con, again))


def test_an_interrupted_plan_xero_has_moved_on_from_is_closed_and_a_new_plan_carries_the_rest(
    scene: Scene,
) -> None:
    a_few_updates(scene, 1)
    first = create_plan(scene.con, rules())
    mark_plan(scene.con, first.plan_id, "applying")
    scene.con.execute(
        "update raw.xero_contacts set updated_date_utc = ? where contact_id = 'c-0'",
        [first.xero_state_at + timedelta(minutes=5)],  # someone edited the contact in Xero
    )
    scene.operation("create", 70, name="Seventy")
    second = create_plan(scene.con, rules())
    assert (second.plan_id, second.resumes) == (2, False)
    assert load_plan(scene.con, first.plan_id).status == "partly_applied"  # closed; its record stays true
    with pytest.raises(StalePlanError, match="superseded by plan 2"):
        check_plan_is_current(scene.con, first.plan_id)
