"""A plan as people read it (like ``terraform plan``) and as JSON."""

from __future__ import annotations

import json

import pytest

from reverse_etl.plans.create import create_plan
from reverse_etl.plans.render import plan_json, render_plan
from tests.reverse_etl.plans.scene import Scene, rules, text_of


@pytest.fixture
def every_kind(scene: Scene) -> Scene:
    scene.wrote_before()
    scene.operation(
        "create",
        123,
        name="Acme [Pty] Ltd",
        email_address="hello@acme.com.au",
        contact_persons='[{"first_name":"Ann","last_name":"Lee","email_address":"ann@acme.com.au"},'
        '{"first_name":"Bo","last_name":"Ng","email_address":null}]',
    )
    scene.xero("c-45", name="Old Name", contact_number="CAP-45")
    scene.operation(
        "update",
        45,
        "c-45",
        name="New Name",
        postal_address='{"lines":["PO Box 1"],"city":"Hobart","region":"TAS","postal_code":"7000","country":"Australia"}',
    )
    scene.xero("c-9", name="Gone Pty Ltd", contact_number="CAP-9")
    scene.operation("archive", 9, "c-9")
    scene.xero("c-7", name="Back Pty Ltd", contact_number="CAP-7")
    scene.operation("restore", 7, "c-7")
    scene.note(45, "c-45", "Capsule update 2026-06-30: opportunity won")
    return scene


def test_the_printed_plan_shows_counts_first_then_each_operation_like_terraform(every_kind: Scene) -> None:
    plan = create_plan(every_kind.con, rules(archives_need_approval=True))
    shown = text_of(render_plan(every_kind.con, plan))
    lines = shown.splitlines()
    assert lines[0] == "Plan 1 · waiting for approval"
    assert "1 archive (approval.archives_need_approval)" in shown and "capsule-xero approve 1" in shown
    counts = lines.index("1 to create, 1 to update, 1 to archive, 1 to restore, 1 History note")
    create = lines.index('+ create CAP-123 "Acme [Pty] Ltd"')
    update = lines.index('~ update CAP-45 "New Name"')
    assert counts < create < update
    assert lines[update + 1 : update + 3] == [
        '    name: "Old Name" → "New Name"',
        "    postal_address: (empty) → PO Box 1, Hobart TAS 7000, Australia",
    ]
    assert '    email_address: "hello@acme.com.au"' in lines
    assert "    contact_persons: Ann Lee <ann@acme.com.au>; Bo Ng" in lines
    assert '- archive CAP-9 "Gone Pty Ltd"' in lines and '↺ restore CAP-7 "Back Pty Ltd"' in lines


def test_the_printed_plan_can_be_limited_and_filtered_by_operation(every_kind: Scene) -> None:
    plan = create_plan(every_kind.con, rules())
    limited = text_of(render_plan(every_kind.con, plan, limit=1))
    assert "+ create CAP-123" in limited and "~ update" not in limited
    assert "… and 3 more operations (4 in all): --limit 4 shows them" in limited
    updates = text_of(render_plan(every_kind.con, plan, operation="update"))
    assert "~ update CAP-45" in updates and "+ create" not in updates and "- archive" not in updates


def test_the_plan_as_json_has_every_operation_with_its_values_whole(every_kind: Scene) -> None:
    plan = create_plan(every_kind.con, rules())
    data = json.loads(json.dumps(plan_json(every_kind.con, plan)))
    assert data["plan_id"] == 1 and data["status"] == "approved"
    assert [o["operation"] for o in data["operations"]] == ["create", "update", "restore", "archive"]
    update = data["operations"][1]
    assert update["before"] == {"name": "Old Name", "postal_address": None}
    assert json.loads(update["after"]["postal_address"])["city"] == "Hobart"
    assert [n["party_id"] for n in data["notes"]] == [45]
