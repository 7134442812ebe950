"""The staging and reconcile assets materialise in Dagster, read the rules file, and run their checks."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_duckdb import DuckDBResource

from assets.checks import CHECKS
from assets.reconcile import RECONCILE_ASSETS, sync_scope
from assets.resources import RulesResource
from assets.staging import staging_capsule_parties, staging_quarantine, staging_xero_contacts
from sandbox.generator import Dataset


def _copy(con: Any, tmp_path: Path) -> Path:
    # Dagster's resource opens the file with its own settings, which DuckDB refuses beside this
    # module's open connection: materialise into a checkpointed copy.
    con.execute("checkpoint")
    (path,) = con.sql(
        "select path from duckdb_databases() where database_name = current_database()"
    ).fetchall()[0]
    copy = tmp_path / "copy.duckdb"
    shutil.copyfile(path, copy)
    return copy


def _materialise(copy: Path, rules_file: Path | None = None) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [
            staging_capsule_parties,
            staging_xero_contacts,
            staging_quarantine,
            *RECONCILE_ASSETS,
            *CHECKS,
        ],
        resources={
            "duckdb": DuckDBResource(database=str(copy)),
            "rules": RulesResource(config_file=str(rules_file) if rules_file else None),
        },
    )


def _metadata(result: dg.ExecuteInProcessResult) -> dict[str, dict[str, Any]]:
    materialisations = [
        e.event_specific_data.materialization for e in result.get_asset_materialization_events()
    ]
    return {
        m.asset_key.to_user_string(): {k: v.value for k, v in m.metadata.items()} for m in materialisations
    }


def test_the_reconcile_assets_materialise_with_counts_and_their_checks_pass(
    world: tuple[Dataset, Any, int], tmp_path: Path
) -> None:
    dataset, con, _ = world
    result = _materialise(_copy(con, tmp_path))
    assert result.success
    metadata = _metadata(result)
    assert metadata["staging/capsule_parties"]["rows"] == len(dataset.capsule_parties) + len(
        dataset.capsule_deleted_parties
    )
    assert metadata["staging/xero_contacts"]["rows"] == len(dataset.xero_contacts)
    assert metadata["reconcile/contact_matches"]["matched"] >= len(dataset.cases["synced_in_sync"])
    assert metadata["reconcile/contact_matches"]["review"] >= len(dataset.cases["xero_duplicate_abn"])
    operations = metadata["reconcile/contact_operations"]
    assert operations["create"] >= len(dataset.cases["stale_xero_contact_id"])
    # Tombstones whose contact is still active; the party the world deleted never had a contact.
    active_tombstones = (
        dataset.cases["deleted_party_synced"] + dataset.cases["deleted_party_synced_with_repeating_invoice"]
    )
    assert operations["archive"] == len(active_tombstones)
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks == {
        "capsule_parties_follow_the_row_rules": True,
        "planned_operations_are_writes_xero_accepts": True,
    }


def test_a_rules_file_keeps_tagged_parties_out_through_dagster(
    world: tuple[Dataset, Any, int], tmp_path: Path
) -> None:
    dataset, con, _ = world
    rules_file = tmp_path / "capsule-xero.yaml"
    rules_file.write_text("sync:\n  skip_if:\n    - tag: Staff\n")
    result = _materialise(_copy(con, tmp_path), rules_file)
    assert result.success
    assert _metadata(result)["reconcile/sync_scope"]["out_of_scope"] == len(dataset.cases["staff_party"])


def test_a_broken_rules_file_fails_the_run_naming_the_line(
    world: tuple[Dataset, Any, int], tmp_path: Path
) -> None:
    _, con, _ = world
    rules_file = tmp_path / "capsule-xero.yaml"
    rules_file.write_text("sync:\n  people: everyone\n")
    result = dg.materialize(
        [sync_scope],
        resources={
            "duckdb": DuckDBResource(database=str(_copy(con, tmp_path))),
            "rules": RulesResource(config_file=str(rules_file)),
        },
        raise_on_error=False,
    )
    assert not result.success
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    assert "line 2" in str(failure.event_specific_data.error) and "sync.people" in str(
        failure.event_specific_data.error
    )


def test_the_writer_asset_stores_a_plan_and_writes_nothing_by_default(
    world: tuple[Dataset, Any, int], tmp_path: Path
) -> None:
    import duckdb

    from assets.writeback import xero_contacts_written

    _, con, _ = world
    copy = _copy(con, tmp_path)
    resources = {"duckdb": DuckDBResource(database=str(copy)), "rules": RulesResource()}
    assert dg.materialize(
        [*RECONCILE_ASSETS, staging_capsule_parties, staging_xero_contacts, staging_quarantine],
        resources=resources,
    ).success
    dry = dg.materialize([xero_contacts_written], resources=resources)
    written = _metadata(dry)["reverse_etl/xero_contacts_written"]
    assert written["written"] is False and written["planned_create"] > 0
    # A first migration waits for a person even when the run is configured to apply.
    configured = dg.materialize(
        [xero_contacts_written],
        resources=resources,
        run_config={"ops": {"reverse_etl__xero_contacts_written": {"config": {"apply": True}}}},
    )
    again = _metadata(configured)["reverse_etl/xero_contacts_written"]
    assert again["written"] is False and "approve" in again["why_not"]
    assert again["plan"] == written["plan"]  # the same plan, not a new number
    with duckdb.connect(str(copy), read_only=True) as check:
        assert check.sql("select count(*) from ledger.written_contacts").fetchall() == [(0,)]
