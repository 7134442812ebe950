"""The writer asset reads CAPSULE_XERO_APPLY when its run starts: a dry run until it is true."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from assets.resources import HomeDuckDBResource, RulesResource
from assets.writeback import xero_contacts_written
from reverse_etl.plans.approval import approve
from reverse_etl.plans.create import create_plan
from sandbox.generator import generate
from tests.support.sync_world import World, xero_contacts
from transform.stages import reconcile


def _written(resources: dict[str, Any]) -> dict[str, Any]:
    result = dg.materialize([xero_contacts_written], resources=resources)
    (materialisation,) = result.asset_materializations_for_node(xero_contacts_written.op.name)
    return {name: value.value for name, value in materialisation.metadata.items()}


def test_with_capsule_xero_apply_true_the_writer_writes_an_approved_plan_without_any_run_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with World(generate(parties=20, seed=5), tmp_path / "home") as world:
        world.extract()
        with world.connect() as con:
            reconcile(con, world.rules)
            plan = create_plan(con, world.rules)
            approve(con, plan.plan_id)
        for name, value in (world.server.env() | {"CAPSULE_XERO_HOME": str(world.settings.home)}).items():
            monkeypatch.setenv(name, value)
        resources = {"duckdb": HomeDuckDBResource(), "rules": RulesResource()}
        before = len(xero_contacts(world))

        monkeypatch.delenv("CAPSULE_XERO_APPLY", raising=False)
        dry = _written(resources)
        assert dry["written"] is False and dry["why_not"].startswith("dry run")
        assert dry["plan"] == plan.plan_id and len(xero_contacts(world)) == before

        monkeypatch.setenv("CAPSULE_XERO_APPLY", "true")
        applied = _written(resources)
        assert applied["written"] is True and applied["plan"] == plan.plan_id
        assert applied["created"] == plan.counts["create"] > 0
        assert len(xero_contacts(world)) == before + plan.counts["create"]
