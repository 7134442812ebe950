"""A plan snapshots the reconcile's writes of a generated world (200 parties, extracted from the
sandbox and reconciled once, copied per test).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import duckdb
import httpx
import pytest

from capsule_xero.rules.model import Rules
from capsule_xero.rules.thresholds import ApprovalRules
from capsule_xero.settings import Settings
from capsule_xero.xero.auth import XeroAuth, login
from pipelines.capsule import extract_capsule
from pipelines.xero import run_xero_extract
from reverse_etl.plans.create import create_plan
from reverse_etl.plans.store import plan_notes, plan_operations
from sandbox.app import Sandbox
from sandbox.generator import generate
from sandbox.server import SandboxServer
from tests.reverse_etl.plans.scene import PLANNED, SEED, rows, rules
from transform.stages import reconcile


@pytest.fixture(scope="module")
def world_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """200 generated parties extracted from the sandbox and reconciled with the default rules."""
    sandbox = Sandbox(seed=SEED)
    sandbox.load(generate(parties=200, seed=SEED))
    home = tmp_path_factory.mktemp("plans-world")
    with SandboxServer(sandbox) as server:
        settings = Settings.from_env(server.env() | {"CAPSULE_XERO_HOME": str(home)})
        login(
            XeroAuth(settings),
            choose_tenant=lambda c: c[0],
            open_url=lambda u: httpx.get(u, follow_redirects=True),
        )
        extract_capsule(settings)
        run_xero_extract(settings)
    with duckdb.connect(str(settings.duckdb_path)) as con:
        # The generated CRM activity ends in mid-2026: reconcile "then", so History notes are due.
        ((latest,),) = con.execute("select max(updated_at) from raw.capsule_opportunities").fetchall()
        reconcile(con, Rules(), now=latest + timedelta(days=1))
        con.execute("checkpoint")
    return settings.duckdb_path


@pytest.fixture
def world(world_file: Path, tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A private, writable copy of the reconciled world."""
    copy = tmp_path / "world.duckdb"
    shutil.copy(world_file, copy)
    with duckdb.connect(str(copy)) as con:
        yield con


def test_a_plan_snapshots_each_write_with_the_sent_fields_after_and_xeros_values_before(
    world: duckdb.DuckDBPyConnection,
) -> None:
    plan = create_plan(world, rules())
    wanted = rows(
        world,
        "select * from reconcile.contact_operations where list_contains(?, operation)",
        [list(PLANNED)],
    )
    current = {c["contact_id"]: c for c in rows(world, "select * from reconcile.current_contacts")}
    ops = plan_operations(world, plan.plan_id)
    assert sorted((o.operation, o.party_id) for o in ops) == sorted(
        (w["operation"], w["party_id"]) for w in wanted
    )
    assert {w["operation"] for w in wanted} >= {"create", "update", "archive"}  # the world has each kind
    by_party = {w["party_id"]: w for w in wanted}
    for op in ops:
        row = by_party[op.party_id]
        assert list(op.changed_fields) == row["changed_fields"]
        assert op.after == {f: row[f] for f in row["changed_fields"]}
        if op.operation == "create":
            assert op.before is None and op.contact_id is None
        else:
            assert op.before == {f: current[op.contact_id][f] for f in row["changed_fields"]}
            assert op.contact_id == row["contact_id"]
        assert list(op.kept_fields) == row["kept_fields"]
        assert op.expect_refusal == row["expect_refusal"]
        assert op.reason.startswith(row["reason"])
    assert [o.seq for o in ops] == list(range(1, len(ops) + 1))
    assert {op: plan.counts[op] for op in PLANNED} == {
        op: sum(1 for w in wanted if w["operation"] == op) for op in PLANNED
    }


def test_an_archive_of_a_contact_that_owes_money_keeps_the_balance_in_the_plan_for_the_approver(
    world: duckdb.DuckDBPyConnection,
) -> None:
    create_plan(world, rules())
    (owing,) = [
        o for o in plan_operations(world, 1, operation="archive") if "outstanding balance" in o.reason
    ]
    assert "Xero keeps" in owing.reason and not owing.expect_refusal


def test_a_plan_snapshots_the_history_notes_the_reconcile_wrote(world: duckdb.DuckDBPyConnection) -> None:
    wanted = rows(world, "select party_id, note_hash, note from reconcile.history_notes order by party_id")
    assert wanted, "the world should have recent CRM activity to note"
    plan = create_plan(world, rules())
    notes = plan_notes(world, plan.plan_id)
    assert [(n.party_id, n.note_hash, n.note) for n in notes] == [
        (w["party_id"], w["note_hash"], w["note"]) for w in wanted
    ]
    assert plan.notes == len(wanted)


def test_xero_state_at_is_the_newest_updated_date_of_the_extracted_contacts(
    world: duckdb.DuckDBPyConnection,
) -> None:
    ((newest,),) = world.execute("select max(updated_date_utc) from raw.xero_contacts").fetchall()
    assert create_plan(world, rules()).xero_state_at == newest


def test_a_first_migration_of_the_generated_world_waits_for_approval_for_each_reason_that_applies(
    world: duckdb.DuckDBPyConnection,
) -> None:
    plan = create_plan(world, Rules(approval=ApprovalRules(max_operations=10)))
    assert plan.status == "pending_approval" and plan.approved_at is None
    archives = plan.counts["archive"]
    assert plan.approval_reasons == (
        f"{plan.operations:,} operations, over the limit of 10 (approval.max_operations)",
        f"{archives} archives (approval.archives_need_approval)",
        "first migration: nothing written to Xero yet (approval.first_migration_needs_approval)",
    )
