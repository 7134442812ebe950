"""Approving: only the waiting newest plan."""

from __future__ import annotations

import pytest

from reverse_etl.plans.approval import approve
from reverse_etl.plans.create import create_plan
from reverse_etl.plans.model import PlanError
from reverse_etl.plans.store import mark_plan
from tests.reverse_etl.plans.scene import PLANNED_AT, Scene, a_few_updates, rules


def test_approve_turns_the_waiting_newest_plan_into_an_approved_one(scene: Scene) -> None:
    a_few_updates(scene, 1)
    waiting = create_plan(scene.con, rules(first_migration_needs_approval=True))
    approved = approve(scene.con, waiting.plan_id, now=PLANNED_AT)
    assert (approved.status, approved.approved_at) == ("approved", PLANNED_AT)
    assert approved.approval_reasons == waiting.approval_reasons  # why it needed a person stays on record


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("already approved", "Plan 1 is already approved"),
        ("superseded", "Plan 1 is out of date: plan 2"),
        ("no such plan", "There is no plan 7 (the newest is plan 1)"),
        ("empty", "Plan 1 is empty"),
        ("applied", "Plan 1 is applied"),
    ],
)
def test_approve_refuses_any_plan_but_the_waiting_newest_one_and_says_why(
    scene: Scene, case: str, message: str
) -> None:
    waits = rules(first_migration_needs_approval=True)
    if case != "empty":
        a_few_updates(scene, 1)
    create_plan(scene.con, waits)
    target = 7 if case == "no such plan" else 1
    if case == "already approved":
        approve(scene.con, 1)
    elif case == "superseded":
        scene.operation("create", 50, name="Newcomer")
        create_plan(scene.con, waits)
    elif case == "applied":
        mark_plan(scene.con, 1, "applied")
    with pytest.raises(PlanError, match=message.replace("(", r"\(").replace(")", r"\)")):
        approve(scene.con, target)
