"""The plan as the Dagster UI shows it on the writer asset, and the approve_and_apply_plan job a person
launches from the Launchpad with the plan's number and hash (assets/approval.py)."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from assets.approval import approve_and_apply_plan
from assets.resources import HomeDuckDBResource, RulesResource
from assets.writeback import xero_contacts_written
from pipelines.capsule import extract_capsule
from reverse_etl.plans.render import plan_header
from reverse_etl.plans.render_markdown import md_text
from reverse_etl.plans.store import load_plan
from sandbox.capsule.control import CapsuleControl
from sandbox.generator import generate
from tests.support.sync_world import World, xero_contacts
from transform.stages import reconcile

# Xero takes it (no < or >), and in a Markdown cell it would add a column, bold text and a link.
HOSTILE_NAME = "Pipe | Works *Bold* [link](http://x) & `Co` Pty Ltd"


def _resources() -> dict[str, Any]:
    return {"duckdb": HomeDuckDBResource(), "rules": RulesResource()}


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    """A small generated world, read and reconciled, whose Dagster runs use its home and stand-ins;
    the first plan waits for approval (a first migration)."""
    with World(generate(parties=15, seed=5), tmp_path / "home") as world:
        for name, value in (world.server.env() | {"CAPSULE_XERO_HOME": str(world.settings.home)}).items():
            monkeypatch.setenv(name, value)
        monkeypatch.delenv("CAPSULE_XERO_APPLY", raising=False)
        monkeypatch.delenv("DAGSTER_USER", raising=False)
        yield world


def _plan_again(world: World) -> None:
    world.extract()
    with world.connect() as con:
        reconcile(con, world.rules)


def _writer_metadata() -> dict[str, Any]:
    """Materialise the writer asset as the UI does (a dry run): what its materialisation shows."""
    result = dg.materialize([xero_contacts_written], resources=_resources())
    (materialisation,) = result.asset_materializations_for_node(xero_contacts_written.op.name)
    return {name: value.value for name, value in materialisation.metadata.items()}


def _approve_and_apply(plan: int, plan_hash: str, **more: str) -> dg.ExecuteInProcessResult:
    config = {"plan": plan, "plan_hash": plan_hash, **more}
    return approve_and_apply_plan.execute_in_process(
        run_config={"ops": {"approve_and_apply": {"config": config}}},
        resources=_resources(),
        raise_on_error=False,
    )


def _failure(result: dg.ExecuteInProcessResult) -> str:
    assert not result.success
    (failed,) = [event for event in result.all_events if event.is_step_failure]
    return failed.step_failure_data.error.message


def _status(world: World, plan_id: int) -> str:
    with contextlib.closing(world.connect()) as con:
        plan = load_plan(con, plan_id)
    assert plan is not None
    return plan.status


def test_the_writer_asset_shows_a_waiting_plan_and_an_approval_with_another_hash_writes_nothing(
    world: World,
) -> None:
    with contextlib.closing(CapsuleControl(world.server.capsule_url)) as capsule:
        party = capsule.create_party({"type": "organisation", "name": HOSTILE_NAME})
    _plan_again(world)

    shown = _writer_metadata()

    with contextlib.closing(world.connect()) as con:
        plan = load_plan(con)
    assert plan is not None and plan.status == "pending_approval"
    assert shown["plan"] == plan.plan_id and shown["plan_hash"] == plan.content_hash
    assert len(plan.content_hash or "") == 64
    assert "first migration" in shown["waits_because"]
    assert f"plan: {plan.plan_id}" in shown["waits_because"] and plan.content_hash in shown["waits_because"]
    assert f"| → Xero | create contact | {plan.counts['create']:,} |" in shown["plan_counts"]
    table = shown["plan_operations"]
    # One row per field; the hostile name is one escaped cell: no extra column, row, link or image.
    row = next(line for line in table.splitlines() if f"CAP\\-{party['id']}" in line)
    assert md_text(f"CAP-{party['id']} {HOSTILE_NAME}") in row
    assert "\\|" in row and "\\*Bold\\*" in row and "\\[link\\]" in row
    assert len(re.split(r"(?<!\\)\|", row)) == 6  # four cells between the outer pipes
    assert "→ Xero create" in row
    assert md_text('email_address: "') in table  # the generated contacts' fields, one row each

    # Approved with a hash that is not the one shown: refused on one line, nothing approved or written.
    before = world.last_call()

    result = _approve_and_apply(shown["plan"], "0" * 64, approved_by="Sam Bookkeeper")

    reason = _failure(result)
    assert f"Plan {shown['plan']}'s hash is {shown['plan_hash']}" in reason
    assert "Nothing was approved or written" in reason and "\n" not in reason.strip()
    assert world.xero_writes(before) == []
    assert _status(world, shown["plan"]) == "pending_approval"


def test_an_approval_of_a_superseded_plan_writes_nothing(world: World) -> None:
    _plan_again(world)
    first = _writer_metadata()
    with contextlib.closing(CapsuleControl(world.server.capsule_url)) as capsule:
        capsule.create_party({"type": "organisation", "name": "Newer Plan Pty Ltd"})
    extract_capsule(world.settings)  # only Capsule changed
    with world.connect() as con:
        reconcile(con, world.rules)
    newer = _writer_metadata()
    assert newer["plan"] > first["plan"] and newer["plan_hash"] != first["plan_hash"]
    before = world.last_call()

    result = _approve_and_apply(first["plan"], first["plan_hash"])

    reason = _failure(result)
    assert (
        f"Plan {first['plan']} is out of date: plan {newer['plan']} was made from a newer reconcile" in reason
    )
    assert world.xero_writes(before) == []
    assert _status(world, first["plan"]) == "superseded"
    assert _status(world, newer["plan"]) == "pending_approval"


def test_the_right_number_and_hash_approve_and_apply_the_plan_once_recording_who_and_the_run(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    _plan_again(world)
    shown = _writer_metadata()
    contacts_before = len(xero_contacts(world))
    monkeypatch.setenv("DAGSTER_USER", "sam@bookkeepers.example")

    result = _approve_and_apply(shown["plan"], shown["plan_hash"])

    assert result.success
    with contextlib.closing(world.connect()) as con:
        plan = load_plan(con, shown["plan"])
    assert plan is not None and plan.status == "applied"
    assert plan.approved_by == "sam@bookkeepers.example" and plan.approved_in_run == result.run_id
    shown_in_terminal = "\n".join(line.plain for line in plan_header(plan))  # `capsule-xero plan`
    assert f"by sam@bookkeepers.example (Dagster run {result.run_id})" in shown_in_terminal
    assert len(xero_contacts(world)) == contacts_before + plan.counts["create"] > contacts_before
    # The apply shows on the writer asset's page too.
    (written,) = result.asset_materializations_for_node("approve_and_apply")
    assert written.metadata["created"].value == plan.counts["create"]
    assert written.metadata["approved_by"].value == "sam@bookkeepers.example"

    # Launched again (a second click): refused, nothing sent twice.
    before = world.last_call()
    again = _approve_and_apply(shown["plan"], shown["plan_hash"], approved_by="someone else")
    assert f"Plan {shown['plan']} is applied: there is nothing to approve or write." in _failure(again)
    assert world.xero_writes(before) == []
    with contextlib.closing(world.connect()) as con:
        assert load_plan(con, shown["plan"]).approved_by == "sam@bookkeepers.example"  # type: ignore[union-attr]


def test_plan_values_are_escaped_for_a_markdown_table_cell() -> None:
    assert md_text("a | b") == "a \\| b"
    assert md_text("<script>") == "\\<script\\>"
    assert md_text("line\nnext") == "line\\\\nnext"
    assert md_text("Smith & Sons") == "Smith \\& Sons"
