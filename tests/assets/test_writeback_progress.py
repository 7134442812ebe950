"""A Dagster run that writes a plan logs how far it has got (Dagster has no live metadata mid-step) and
keeps the last figures in the materialisation's metadata."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from assets.resources import HomeDuckDBResource, RulesResource
from assets.writeback import xero_contacts_written
from reverse_etl.plans.approval import approve
from reverse_etl.plans.create import create_plan
from sandbox.generator import generate
from tests.support.sync_world import World
from transform.stages import reconcile


def test_a_run_that_writes_a_plan_logs_batches_calls_left_today_and_an_eta_and_keeps_them_as_metadata(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with World(generate(parties=20, seed=5), tmp_path / "home") as world:
        world.extract()
        with world.connect() as con:
            reconcile(con, world.rules)
            approve(con, create_plan(con, world.rules).plan_id)
        for name, value in (world.server.env() | {"CAPSULE_XERO_HOME": str(world.settings.home)}).items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("CAPSULE_XERO_APPLY", "true")
        with dg.DagsterInstance.ephemeral() as instance:
            result = dg.materialize(
                [xero_contacts_written],
                resources={"duckdb": HomeDuckDBResource(), "rules": RulesResource()},
                instance=instance,
            )
            logged = [event.user_message for event in instance.all_logs(result.run_id)]
    (materialisation,) = result.asset_materializations_for_node(xero_contacts_written.op.name)
    metadata = {name: value.value for name, value in materialisation.metadata.items()}
    contacts = [line for line in logged if line.startswith("Writing contacts (batches of ≤ 50): ")]
    assert contacts[0].startswith("Writing contacts (batches of ≤ 50): 0/1 batches, 0 calls, ")
    assert contacts[-1].startswith("Writing contacts (batches of ≤ 50): 1/1 batches, ")
    assert contacts[-1].endswith("calls left today, ETA done")
    assert metadata["written"] is True
    assert metadata["progress_contacts_done"] == metadata["progress_contacts_total"] == 1
    assert metadata["progress_contacts_calls_used"] >= 1
    assert metadata["progress_contacts_calls_left_today"] > 0
    assert metadata["progress_contacts_eta"] == "done"
