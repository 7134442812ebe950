"""Making plans: numbered, approved or waiting, empty, superseded, reused when nothing changed."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import duckdb
import pytest

from capsule_xero.rules.conflicts import ConflictRules
from capsule_xero.rules.model import Rules
from reverse_etl.plans.approval import approve
from reverse_etl.plans.create import create_plan
from reverse_etl.plans.render import render_plan
from reverse_etl.plans.staleness import check_plan_is_current
from reverse_etl.plans.store import latest_plans, mark_plan, plan_operations
from tests.reverse_etl.plans.scene import NO_APPROVAL, PLANNED_AT, Scene, a_few_updates, rules, text_of


def test_plans_are_numbered_one_two_three(scene: Scene) -> None:
    scene.wrote_before()
    numbers = []
    for n in range(3):
        scene.operation("create", 10 + n, name=f"Party {n}")  # each run finds one more thing to do
        numbers.append(create_plan(scene.con, rules(), now=PLANNED_AT).plan_id)
    assert numbers == [1, 2, 3]


def test_an_update_snapshots_only_the_changed_fields_before_and_after(scene: Scene) -> None:
    scene.wrote_before()
    address = (
        '{"lines":["1 George St"],"city":"Sydney","region":"NSW","postal_code":"2000","country":"Australia"}'
    )
    scene.xero("c-1", name="Acme", email_address="old@acme.com.au", phone_default="+61290000000")
    scene.operation("update", 1, "c-1", email_address="new@acme.com.au", street_address=address)
    plan = create_plan(scene.con, rules(), now=PLANNED_AT)
    (op,) = plan_operations(scene.con, plan.plan_id)
    assert op.after == {"email_address": "new@acme.com.au", "street_address": address}
    assert op.before == {"email_address": "old@acme.com.au", "street_address": None}
    assert op.name == "Acme"  # unchanged: Xero's name, for the people reading the plan


@pytest.mark.parametrize(
    ("approval", "setup", "reason"),
    [
        (
            {"max_operations": 2},
            lambda s: (s.wrote_before(), a_few_updates(s, 3)),
            "3 operations, over the limit of 2 (approval.max_operations)",
        ),
        (
            {"archives_need_approval": True},
            lambda s: (s.wrote_before(), s.xero("c-9", name="Gone"), s.operation("archive", 9, "c-9")),
            "1 archive (approval.archives_need_approval)",
        ),
        (
            {"first_migration_needs_approval": True},
            lambda s: a_few_updates(s, 1),
            "first migration: nothing written to Xero yet (approval.first_migration_needs_approval)",
        ),
    ],
    ids=["over the size limit", "with an archive", "first migration"],
)
def test_a_plan_waits_for_approval_with_the_reason_and_the_rule_that_asked_for_it(
    scene: Scene, approval: dict[str, Any], setup: Any, reason: str
) -> None:
    setup(scene)
    waiting = create_plan(scene.con, rules(**approval), now=PLANNED_AT)
    assert (waiting.status, waiting.approval_reasons, waiting.approved_at) == (
        "pending_approval",
        (reason,),
        None,
    )
    assert waiting.waits_for_approval
    with duckdb.connect() as other:  # the same reconcile under rules that do not ask
        same = Scene(other)
        setup(same)
        relaxed = create_plan(same.con, rules(), now=PLANNED_AT)
    assert (relaxed.status, relaxed.approval_reasons) == ("approved", ())


def test_a_plan_within_every_limit_is_approved_automatically(scene: Scene) -> None:
    scene.wrote_before()
    a_few_updates(scene, 2)
    scene.xero("c-9", name="Gone")
    scene.operation("archive", 9, "c-9")
    plan = create_plan(scene.con, rules(max_operations=3), now=PLANNED_AT)
    assert (plan.status, plan.approval_reasons, plan.approved_at) == ("approved", (), PLANNED_AT)


def test_a_plan_with_nothing_to_write_is_stored_as_empty_and_a_rerun_adds_no_new_number(scene: Scene) -> None:
    scene.operation("noop", 1, "c-1")
    scene.operation("review", 2)
    first = create_plan(scene.con, Rules(), now=PLANNED_AT)
    assert (first.plan_id, first.status, first.approval_reasons, first.operations) == (1, "empty", (), 0)
    assert first.counts["review"] == 1
    again = create_plan(scene.con, Rules(), now=PLANNED_AT + timedelta(hours=1))
    assert (again.plan_id, again.status, again.reused) == (1, "empty", True)
    assert "Nothing to do" in text_of(render_plan(scene.con, again))


def test_a_new_plan_supersedes_the_one_not_yet_applied_but_never_an_applied_one(scene: Scene) -> None:
    scene.wrote_before()
    scene.operation("create", 1, name="One")
    applied = create_plan(scene.con, rules(), now=PLANNED_AT)
    mark_plan(scene.con, applied.plan_id, "applied")
    scene.operation("create", 2, name="Two")
    waiting = create_plan(scene.con, rules(first_migration_needs_approval=True, max_operations=0))
    scene.operation("create", 3, name="Three")
    newest = create_plan(scene.con, rules())
    assert newest.superseded == (waiting.plan_id,)
    statuses = {p.plan_id: p.status for p in latest_plans(scene.con, 10)}
    assert statuses == {applied.plan_id: "applied", waiting.plan_id: "superseded", newest.plan_id: "approved"}


def test_an_empty_plan_supersedes_a_waiting_plan_the_data_made_moot(scene: Scene) -> None:
    a_few_updates(scene, 1)
    waiting = create_plan(scene.con, rules(first_migration_needs_approval=True))
    scene.clear()
    empty = create_plan(scene.con, rules(first_migration_needs_approval=True))
    assert (empty.plan_id, empty.status, empty.superseded) == (2, "empty", (waiting.plan_id,))


def test_a_replan_that_comes_out_the_same_keeps_the_plan_and_its_approval(scene: Scene) -> None:
    a_few_updates(scene, 2)
    first = create_plan(scene.con, rules(first_migration_needs_approval=True), now=PLANNED_AT)
    approve(scene.con, first.plan_id)
    # Xero moved on (a contact the plan does not touch) and the reconcile found the same writes.
    scene.con.execute("insert into raw.xero_contacts values ('other', null, 'Other', ?)", [PLANNED_AT])
    again = create_plan(scene.con, rules(first_migration_needs_approval=True), now=PLANNED_AT)
    assert (again.plan_id, again.status, again.reused) == (first.plan_id, "approved", True)
    assert again.xero_state_at == PLANNED_AT
    check_plan_is_current(scene.con, again.plan_id)  # recomputed against the newer Xero: current


def test_other_rules_make_a_new_plan_even_when_the_writes_are_the_same(scene: Scene) -> None:
    a_few_updates(scene, 1)
    first = create_plan(scene.con, rules())
    second = create_plan(
        scene.con, Rules(approval=NO_APPROVAL, conflicts=ConflictRules(policy="capsule_wins"))
    )
    assert (second.plan_id, second.reused, second.superseded) == (2, False, (first.plan_id,))
