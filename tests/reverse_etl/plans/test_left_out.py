"""What a plan leaves out: parties the error queue holds back, writes the planned-row rules rejected;
and the ContactIDs left to write back.
"""

from __future__ import annotations

from datetime import timedelta

from reverse_etl.plans.create import create_plan
from reverse_etl.plans.render import render_plan
from reverse_etl.plans.store import load_plan, plan_notes, plan_operations
from tests.reverse_etl.plans.scene import PLANNED_AT, XERO_STATE, Scene, a_few_updates, rows, rules, text_of


def test_parties_the_error_queue_holds_back_are_left_out_and_reported(scene: Scene) -> None:
    scene.wrote_before()
    a_few_updates(scene, 3)  # parties 100, 101, 102
    scene.note(100, "c-0", "Capsule update: opportunity won")
    scene.note(102, "c-2", "Capsule update: task done")
    first = create_plan(scene.con, rules(), now=PLANNED_AT - timedelta(hours=1))  # sent them; Xero refused
    scene.queue(100, "dead", None, "TaxNumber is not valid", refused_in=first.plan_id)
    scene.queue(101, "retrying", PLANNED_AT + timedelta(hours=2), "Xero was unavailable")
    scene.queue(102, "retrying", PLANNED_AT - timedelta(minutes=1), "Xero was unavailable")  # due: sent again
    plan = create_plan(scene.con, rules(), now=PLANNED_AT)
    assert [o.party_id for o in plan_operations(scene.con, plan.plan_id)] == [102]
    assert [n.party_id for n in plan_notes(scene.con, plan.plan_id)] == [102]
    assert [(h.party_id, h.queue_state, h.message) for h in plan.held_back] == [
        (100, "dead", "TaxNumber is not valid"),
        (101, "retrying", "Xero was unavailable"),
    ]
    assert plan.counts["held_back"] == 2
    shown = text_of(render_plan(scene.con, plan))
    assert "2 held back by the error queue" in shown
    assert "party 100 (update) dead, a person must act: TaxNumber is not valid" in shown
    assert load_plan(scene.con, plan.plan_id).held_back == plan.held_back


def test_a_refused_write_is_planned_again_once_the_record_changed_and_forgotten_once_nothing_is_wanted(
    scene: Scene,
) -> None:
    scene.wrote_before()
    a_few_updates(scene, 2)  # parties 100, 101
    first = create_plan(scene.con, rules(), now=PLANNED_AT)
    scene.queue(100, "dead", None, "TaxNumber is not valid", refused_in=first.plan_id)
    scene.queue(101, "dead", None, "The contact name must not contain the characters < or >.", refused_in=1)
    held = create_plan(scene.con, rules(), now=PLANNED_AT + timedelta(days=30))
    assert plan_operations(scene.con, held.plan_id) == [] and held.counts["held_back"] == 2

    scene.clear()
    scene.operation("update", 100, "c-0", name="New 0", tax_number="51824753556")  # fixed in Capsule
    fixed = create_plan(scene.con, rules(), now=PLANNED_AT + timedelta(days=31))
    assert [o.party_id for o in plan_operations(scene.con, fixed.plan_id)] == [100]  # sent again
    assert fixed.held_back == ()
    # Party 101 needs nothing any more (its name was fixed and Xero has it): nobody must act on it.
    assert [r["party_id"] for r in rows(scene.con, "select party_id from ledger.error_queue")] == [100]


def test_contact_ids_left_to_write_back_make_a_plan_unless_capsule_has_no_field_to_hold_them(
    scene: Scene,
) -> None:
    scene.wrote_before()
    scene.con.execute(
        "insert into staging.capsule_parties values (5, ?, null, false, null)",
        [XERO_STATE - timedelta(days=1)],
    )
    scene.con.execute(  # a run stopped by Capsule's hourly limit (or killed) before it wrote party 5's
        'insert into ledger.capsule_write_backs (party_id, contact_id, plan_id, state, message, "at")'
        " values (5, 'c-5', 1, 'pending', null, ?)",
        [XERO_STATE],
    )
    plan = create_plan(scene.con, rules(), now=PLANNED_AT)
    assert (plan.status, plan.operations, plan.write_backs) == ("approved", 0, 1)  # not "empty"
    assert "1 ContactID to write back to Capsule" in text_of(render_plan(scene.con, plan))

    scene.con.execute("create schema if not exists raw")
    scene.con.execute("create table raw.capsule_party_field_definitions (id bigint, name varchar)")
    scene.con.execute("insert into raw.capsule_party_field_definitions values (1, 'Customer Since')")
    nowhere = create_plan(scene.con, rules(), now=PLANNED_AT)  # no "Xero Contact ID" field in Capsule
    assert (nowhere.status, nowhere.write_backs) == ("empty", 0)


def test_a_write_the_planned_row_rules_rejected_is_left_out_of_the_plan(scene: Scene) -> None:
    scene.wrote_before()
    a_few_updates(scene, 2)  # parties 100, 101
    scene.con.execute(
        "insert into reconcile.planned_rejects values (101, 'c-1', 'update', 'name_fits_xero', 'name', 'x')"
    )
    plan = create_plan(scene.con, rules(), now=PLANNED_AT)
    assert [o.party_id for o in plan_operations(scene.con, plan.plan_id)] == [100]
