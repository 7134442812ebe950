"""The queues that wait for a person, worked from the Dagster UI (assets/queues.py): a WARN check per
queue with its sample rows while something waits, passing when nothing does, and a dead error-queue
entry released by the ``release_error_queue_item`` job (or ``capsule-xero retry``) so the next sync
sends it again."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import duckdb
import pytest
from dagster_duckdb import DuckDBResource
from typer.testing import CliRunner

from assets.queues import build_queue_checks, build_release_job
from assets.reconcile import report_views
from assets.resources import HomeDuckDBResource, RulesResource
from assets.staging import staging_quarantine
from assets.writeback import xero_contacts_written
from cli.app import app as cli
from sandbox.capsule.control import CapsuleControl
from sandbox.generator import generate
from sandbox.xero.control import XeroControl
from tests.support.sync_world import World, xero_contacts

CHECKS = {next(iter(check.check_keys)).name: check for check in build_queue_checks()}
RELEASE = "release_error_queue_item"


def checked(name: str, resource: DuckDBResource) -> dg.AssetCheckResult:
    return CHECKS[name](duckdb=resource)


def sample(result: dg.AssetCheckResult, key: str) -> list[dict[str, object]]:
    table = result.metadata[key]
    assert isinstance(table, dg.TableMetadataValue)
    return [record.data for record in table.records]


def release_run(party_id: int) -> dg.ExecuteInProcessResult:
    return build_release_job().execute_in_process(
        run_config={"ops": {"release_dead_entry": {"config": {"party_id": party_id}}}},
        resources={"duckdb": HomeDuckDBResource()},
        raise_on_error=False,
    )


def materialised(asset: dg.AssetsDefinition) -> dict[str, dg.MetadataValue]:
    """The metadata of one materialisation of ``asset`` (a dry run for the writer)."""
    result = dg.materialize([asset], resources={"duckdb": HomeDuckDBResource(), "rules": RulesResource()})
    (materialisation,) = result.asset_materializations_for_node(asset.op.name)
    return dict(materialisation.metadata)


def rows_of(metadata: dict[str, dg.MetadataValue], key: str) -> list[dict[str, object]]:
    table = metadata[key]
    assert isinstance(table, dg.TableMetadataValue)
    return [record.data for record in table.records]


def failure_of(run: dg.ExecuteInProcessResult) -> str:
    (event,) = run.get_step_failure_events()
    data = event.step_failure_data.user_failure_data
    assert data is not None
    return data.description or ""


def test_a_dead_error_queue_entry_released_by_the_job_or_the_command_is_sent_again_by_the_next_sync(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with World(generate(parties=20, seed=5), tmp_path / "home") as world:
        capsule = CapsuleControl(world.server.capsule_url)
        try:
            angled = capsule.create_party({"type": "organisation", "name": "Smith <Wholesale> Pty Ltd"})["id"]
            world.sync()
            for name, value in (world.server.env() | {"CAPSULE_XERO_HOME": str(world.settings.home)}).items():
                monkeypatch.setenv(name, value)
            monkeypatch.delenv("CAPSULE_XERO_APPLY", raising=False)  # the writer below is a dry run
            home = HomeDuckDBResource()

            # The review queue holds the name Xero refuses, with what to do; the error queue is empty.
            review = checked("review_queue_is_empty", home)
            assert (review.passed, review.severity) == (False, dg.AssetCheckSeverity.WARN)
            (row,) = [r for r in sample(review, "review_queue_first_rows") if r["party_id"] == angled]
            assert row["kind"] == "preflight" and "rename it" in str(row["what_to_do"])
            assert str(angled) in review.metadata["sample_ids"].value  # type: ignore[attr-defined]
            assert checked("no_error_queue_item_waits_for_a_person", home).passed

            # The same rows on the assets that fill the queues, as each materialisation shows them.
            views = materialised(report_views)
            assert angled in [r["party_id"] for r in rows_of(views, "review_queue_first_rows")]
            assert "capsule-xero report review_queue --csv" in str(views["review_queue_all_rows"].value)
            staged = materialised(staging_quarantine)
            held = rows_of(staged, "quarantine_first_rows")
            assert held and staged["quarantine"].value == staged["rows"].value == len(held)
            assert all(f"of party {r['party_id']} in Capsule" in str(r["what_to_do"]) for r in held)

            # Two synced contacts are billed by repeating invoices and their parties deleted in Capsule:
            # Xero refuses both archives, and they wait dead in the error queue.
            with world.connect() as con:
                linked = con.execute(
                    "select party_id, contact_id from ledger.written_contacts"
                    " where contact_status = 'ACTIVE' order by party_id limit 2"
                ).fetchall()
            with XeroControl(world.server.xero_url) as xero:
                invoices = [
                    xero.add_repeating_invoice(contact)["RepeatingInvoiceID"] for _, contact in linked
                ]
            for party, _ in linked:
                capsule.delete_party(party)
            refused = world.sync()
            assert refused.result is not None and refused.result.refused == 2
        finally:
            capsule.close()
        (by_command, contact_a), (by_job, contact_b) = linked

        written = materialised(xero_contacts_written)  # a dry run: the plan leaves both out
        assert written["written"].value is False
        assert {r["party_id"] for r in rows_of(written, "error_queue_first_rows")} == {by_command, by_job}
        assert written["error_queue_waiting_for_a_person"].value == 2

        waiting = checked("no_error_queue_item_waits_for_a_person", home)
        assert (waiting.passed, waiting.severity) == (False, dg.AssetCheckSeverity.WARN)
        assert "2 items wait for a person" in (waiting.description or "")
        assert f"`capsule-xero retry PARTY`, or the {RELEASE} job" in (waiting.description or "")
        rows = {r["party_id"]: r for r in sample(waiting, "error_queue_first_rows")}
        assert set(rows) == {by_command, by_job}
        assert rows[by_job]["situation"] == "waits_for_a_person"
        assert "repeating invoice" in str(rows[by_job]["message"])
        assert f"capsule-xero retry {by_job}" in str(rows[by_job]["what_to_do"])

        # A bad id: the run fails with one line naming it, and releases nothing.
        wrong = release_run(42)
        assert not wrong.success
        assert failure_of(wrong).startswith("Party 42 is not in the error queue")

        said = CliRunner().invoke(cli, ["retry", str(by_command)])
        assert said.exit_code == 0, said.output
        released = release_run(by_job)
        assert released.success
        after = checked("no_error_queue_item_waits_for_a_person", home)
        assert after.passed and after.metadata["error_queue"].value == 2  # type: ignore[attr-defined]
        assert {r["situation"] for r in sample(after, "error_queue_first_rows")} == {
            "sent_again_by_the_next_sync"
        }

        # The invoices end: the next sync sends both archives again, Xero takes them, the queue empties.
        with XeroControl(world.server.xero_url) as xero:
            for invoice in invoices:
                xero.delete_repeating_invoice(invoice)
        retried = world.sync()
        assert retried.result is not None and retried.result.archived == 2
        status = {c["ContactID"]: c["ContactStatus"] for c in xero_contacts(world)}
        assert (status[contact_a], status[contact_b]) == ("ARCHIVED", "ARCHIVED")
        with world.connect() as con:
            assert con.execute("select count(*) from ledger.error_queue").fetchall() == [(0,)]
        assert checked("no_error_queue_item_waits_for_a_person", home).passed


def test_the_quarantine_check_warns_with_the_held_values_and_passes_once_none_is_held(tmp_path: Path) -> None:
    path = tmp_path / "capsule_xero.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute(
            "create schema staging;"
            " create table staging.capsule_parties (party_id bigint, display_name varchar);"
            " create table staging.quarantine (source varchar, record_id varchar, rule varchar, field varchar,"
            " value varchar, detail varchar, effect varchar);"
            " insert into staging.capsule_parties values (7, 'Acme Plumbing');"
            " insert into staging.quarantine values"
            " ('capsule', '7', 'abn_checksum', 'abn', '12 345', 'checksum fails', 'ABN not sent')"
        )
    resource = DuckDBResource(database=str(path))
    held = checked("quarantine_is_empty", resource)
    assert (held.passed, held.severity) == (False, dg.AssetCheckSeverity.WARN)
    assert "1 item waits for a person in the quarantine (abn_checksum: 1)" in (held.description or "")
    (row,) = sample(held, "quarantine_first_rows")
    assert (row["party_id"], row["name"], row["what_to_do"]) == (
        "7",
        "Acme Plumbing",
        "fix abn of party 7 in Capsule",
    )
    with duckdb.connect(str(path)) as con:
        con.execute("delete from staging.quarantine")
    assert checked("quarantine_is_empty", resource).passed
