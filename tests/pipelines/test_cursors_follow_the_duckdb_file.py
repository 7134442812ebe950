"""Cursors and the data they describe never disagree (issue 11, item 1).

The cursors (Capsule ``since``, the deleted feeds, Xero's ``If-Modified-Since``) live in dlt's working
folder under CAPSULE_XERO_HOME *and* in the DuckDB file. A DuckDB file lost (or moved aside because it
was corrupt) while the working folder stays, or put back from an older backup, must never make either
system look empty or older than it is: the next extract reads in full (or from the cursors the file
itself holds), so matching still sees every Xero contact and nothing is created twice.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from reverse_etl.plans.create import create_plan
from sandbox.capsule.control import CapsuleControl
from sandbox.generator import Dataset, generate
from sandbox.xero.control import XeroControl
from tests.support.sync_world import World, xero_contacts

pytestmark = pytest.mark.slow  # a 200-party migration, then a second extract and plan

PARTIES = 200
SEED = 5


@pytest.fixture(scope="module")
def dataset() -> Dataset:
    return generate(parties=PARTIES, seed=SEED)


@pytest.fixture(scope="module")
def migrated(dataset: Dataset, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """A world after its first migration (approved and applied). Each test leaves its DuckDB file
    whole and its cursors in step, as a later sync would find them."""
    with World(dataset, tmp_path_factory.mktemp("home")) as world:
        first = world.sync()
        assert first.result is not None and first.result.status == "applied"
        yield world


def review_parties(con: duckdb.DuckDBPyConnection) -> set[int]:
    rows = con.execute(
        "select distinct party_id from reports.review_queue where kind = 'match' and party_id is not null"
    ).fetchall()
    return {row[0] for row in rows}


@dataclass
class Replan:
    """What an extract, reconcile and plan found, the way ``capsule-xero sync`` runs them."""

    raw_contacts: int
    operations: dict[str, set[int]]
    review: set[int]


def plan_again(world: World) -> Replan:
    from transform.stages import reconcile

    world.extract()
    with world.connect() as con:
        reconcile(con, world.rules)
        plan = create_plan(con, world.rules)
        operations: dict[str, set[int]] = {}
        for operation, party_id in con.execute(
            "select operation, party_id from ledger.plan_operations where plan_id = ?", [plan.plan_id]
        ).fetchall():
            operations.setdefault(operation, set()).add(party_id)
        raw_contacts = con.execute("select count(*) from raw.xero_contacts").fetchone()[0]
        return Replan(raw_contacts, operations, review_parties(con))


def parties_in_xero(world: World) -> set[int]:
    return {
        int(c["ContactNumber"].removeprefix("CAP-"))
        for c in xero_contacts(world)
        if (c.get("ContactNumber") or "").startswith("CAP-")
    }


def test_a_lost_duckdb_file_reads_xero_in_full_again_and_creates_nothing_xero_holds(
    migrated: World,
) -> None:
    rerun = plan_again(migrated)  # what a sync plans with the file in place
    assert rerun.review, "the generated world has ambiguous matches the review queue holds"
    migrated.settings.duckdb_path.unlink()

    lost = plan_again(migrated)

    assert lost.raw_contacts == len(xero_contacts(migrated))
    assert lost.operations.get("create", set()) == set()
    # Archives only for parties deleted in Capsule: a Capsule read as empty would archive everyone.
    deleted_in_capsule = {t["id"] for t in migrated.dataset.capsule_deleted_parties}
    assert lost.operations.get("archive", set()) <= deleted_in_capsule
    assert lost.review == rerun.review


def test_a_duckdb_file_put_back_from_an_older_backup_reads_what_it_lacks(
    migrated: World, tmp_path: Path
) -> None:
    backup = tmp_path / "backup.duckdb"
    shutil.copyfile(migrated.settings.duckdb_path, backup)
    # Both systems move on and a later sync reads the changes; then the older file is put back
    # while the working folder keeps the newer cursors.
    with XeroControl(migrated.server.xero_url) as xero:
        xero.create_contact(Name="Backup Era Traders Pty Ltd", EmailAddress="accounts@backup-era.com.au")
    capsule = CapsuleControl(migrated.server.capsule_url)
    try:
        party = capsule.create_party({"type": "organisation", "name": "After The Backup Pty Ltd"})
        live = {p["id"] for p in migrated.dataset.capsule_parties if p["type"] == "organisation"}
        capsule.delete_party(min(live & parties_in_xero(migrated)))
    finally:
        capsule.close()
    migrated.extract()
    shutil.copyfile(backup, migrated.settings.duckdb_path)

    replan = plan_again(migrated)

    with migrated.connect() as con:
        names = {row[0] for row in con.execute("select name from raw.xero_contacts").fetchall()}
        parties = {row[0] for row in con.execute("select id from raw.capsule_parties").fetchall()}
        deleted = con.execute("select count(*) from raw.capsule_deleted_parties").fetchone()[0]
    assert "Backup Era Traders Pty Ltd" in names
    assert replan.raw_contacts == len(xero_contacts(migrated))
    assert party["id"] in parties
    assert deleted == migrated.server.call(
        lambda: (
            len(migrated.sandbox.capsule.parties.tombstones)
            + len(migrated.sandbox.capsule.parties.restricted)
        )
    )
