"""With a tenants file, the Dagster code location is partitioned by client: each run is one client's,
reads and writes only that client's folder, and carries the tag the run queue limits to one run per
client; the schedule and the sensors ask for a run per client, and one client's trouble never stops
another's runs (against the sandbox's two Xero organisations)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import duckdb
import httpx
import pytest
from dagster._core.instance.config import dagster_instance_config
from dagster._grpc.impl import get_partition_tags

from assets.definitions import defs
from assets.sensors.alerts import alert_on_failed_run
from assets.tenancy import TENANT_TAG
from capsule_xero.settings import Settings
from capsule_xero.spool import Spool
from capsule_xero.xero.auth import XeroAuth, login
from cli.deploy import ONE_RUN_PER_TENANT
from cli.ui import prepare_dagster_home
from sandbox.capsule.control import CapsuleControl
from sandbox.generator import generate
from sandbox.server import SandboxServer
from tests.reverse_etl.test_alerts import HttpReceiver

TENANTS = ["acme", "bolt"]
JOBS = (
    "incremental_sync_job",
    "nightly_reconciliation_job",
    "historical_migration_job",
    "approve_and_apply_plan",
    "release_error_queue_item",
)


@pytest.fixture
def home(server: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Two clients, acme (the sandbox's seeded organisation) and bolt (its second, empty one), sharing
    the sandbox's one Capsule account; the Xero sign-in at the top-level home."""
    server.call(lambda: server.sandbox.load(generate(parties=12, seed=4)))
    env = server.env()
    capsule_token = env.pop("CAPSULE_API_TOKEN")
    for key, value in (env | {"CAPSULE_XERO_HOME": str(tmp_path)}).items():
        monkeypatch.setenv(key, value)
    for name in ("CAPSULE_API_TOKEN", "XERO_TENANT_ID", "CAPSULE_XERO_CONFIG", "CAPSULE_XERO_TENANT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ACME_CAPSULE_TOKEN", capsule_token)
    monkeypatch.setenv("BOLT_CAPSULE_TOKEN", capsule_token)
    acme, bolt = list(server.call(lambda: list(server.sandbox.xero.tenants)))[:2]
    (tmp_path / "tenants.yaml").write_text(
        f"""tenants:
  - name: acme
    capsule_api_url: {env["CAPSULE_API_URL"]}
    capsule_token_env: ACME_CAPSULE_TOKEN
    xero_tenant_id: {acme}
    rules: acme.yaml
  - name: bolt
    capsule_api_url: {env["CAPSULE_API_URL"]}
    capsule_token_env: BOLT_CAPSULE_TOKEN
    xero_tenant_id: {bolt}
""",
        encoding="utf-8",
    )
    (tmp_path / "acme.yaml").write_text("{}\n", encoding="utf-8")
    return tmp_path


@pytest.fixture
def instance(home: Path) -> Iterator[dg.DagsterInstance]:
    with dg.DagsterInstance.ephemeral() as out:
        yield out


@pytest.fixture
def http() -> Iterator[HttpReceiver]:
    receiver = HttpReceiver()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()


def _sign_in() -> None:
    login(
        XeroAuth(Settings.from_env()),
        choose_tenant=lambda c: c[0],
        open_url=lambda u: httpx.get(u, follow_redirects=True),
    )


def _partitions(definition: object) -> list[str] | None:
    partitions_def = getattr(definition, "partitions_def", None)
    return None if partitions_def is None else list(partitions_def.get_partition_keys())


def test_with_a_tenants_file_every_asset_check_and_job_is_partitioned_by_client(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    definitions = defs()
    dg.Definitions.validate_loadable(definitions)
    graph = definitions.resolve_asset_graph()
    assert {key: _partitions(graph.get(key)) for key in graph.get_all_asset_keys()} == dict.fromkeys(
        graph.get_all_asset_keys(), TENANTS
    )
    assert graph.asset_check_keys
    assert {key: _partitions(graph.get(key)) for key in graph.asset_check_keys} == dict.fromkeys(
        graph.asset_check_keys, TENANTS
    )
    assert {job: _partitions(definitions.resolve_job_def(job)) for job in JOBS} == dict.fromkeys(
        JOBS, TENANTS
    )

    (home / "tenants.yaml").unlink()  # one client, as before: nothing is partitioned
    single = defs()
    graph = single.resolve_asset_graph()
    assert all(graph.get(key).partitions_def is None for key in graph.get_all_asset_keys())
    assert all(graph.get(key).partitions_def is None for key in graph.asset_check_keys)
    assert all(single.resolve_job_def(job).partitions_def is None for job in JOBS)


def test_a_run_launched_for_a_client_carries_the_tag_the_run_queue_limits(home: Path) -> None:
    """What the code server answers when the UI launches a job for a partition (or a backfill does)."""
    assert {"key": TENANT_TAG, "value": {"applyLimitPerUniqueValue": True}, "limit": 1} in ONE_RUN_PER_TENANT
    repository = defs().get_repository_def()
    for job in JOBS:
        tags = get_partition_tags(repository, job, "bolt")
        assert tags.tags[TENANT_TAG] == "bolt", tags  # type: ignore[union-attr]


def test_the_ui_instance_of_several_clients_admits_one_run_per_client(tmp_path: Path) -> None:
    folder = prepare_dagster_home(tmp_path, several_tenants=True)
    config, _ = dagster_instance_config(str(folder))  # read and checked as Dagster reads it
    runs = config["concurrency"]["runs"]
    # The jobs' tag, and Dagster's own partition tag: the asset graph's Materialize button sets only that.
    for tag in (TENANT_TAG, "dagster/partition"):
        assert {"key": tag, "value": {"applyLimitPerUniqueValue": True}, "limit": 1} in runs[
            "tag_concurrency_limits"
        ]
    # One DuckDB file per client: different clients' steps may run side by side, one run per client.
    assert config["concurrency"]["pools"]["default_limit"] == runs["max_concurrent_runs"] > 1


def test_an_incremental_sync_for_bolt_writes_only_bolts_duckdb_file(
    home: Path, instance: dg.DagsterInstance
) -> None:
    _sign_in()
    definitions = defs()
    # Both reads and a stage (through the DuckDB resource): the rest of the job writes as the stage does.
    graph = definitions.resolve_asset_graph()
    read_and_stage = [key for key in graph.get_all_asset_keys() if key.path[0] in {"capsule", "xero"}] + [
        dg.AssetKey(["staging", "xero_contacts"])
    ]
    result = definitions.resolve_job_def("incremental_sync_job").execute_in_process(
        instance=instance, partition_key="bolt", asset_selection=read_and_stage, raise_on_error=False
    )
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    run = instance.get_run_by_id(result.run_id)
    assert run is not None and run.tags[TENANT_TAG] == "bolt"
    with duckdb.connect(str(home / "tenants" / "bolt" / "capsule_xero.duckdb"), read_only=True) as con:
        assert con.execute("select count(*) from raw.capsule_parties").fetchone()[0] > 0
        assert con.execute("select count(*) from raw.xero_contacts").fetchone()[0] == 0  # its own, empty org
        assert con.execute("select count(*) from staging.xero_contacts").fetchone()[0] == 0
    assert not (home / "tenants" / "acme").exists() or not any((home / "tenants" / "acme").iterdir())
    assert not (home / "capsule_xero.duckdb").exists()


def test_the_nightly_schedule_asks_for_one_run_per_client(home: Path) -> None:
    repository = defs().get_repository_def()
    (schedule,) = repository.schedule_defs
    night = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)
    result = schedule.evaluate_tick(
        dg.build_schedule_context(scheduled_execution_time=night, repository_def=repository)
    )
    requests = result.run_requests or []
    assert [(r.partition_key, r.tags[TENANT_TAG]) for r in requests] == [("acme", "acme"), ("bolt", "bolt")]
    assert len({r.run_key for r in requests}) == 2


def test_a_client_without_its_token_is_skipped_and_named_while_the_other_gets_its_run(
    home: Path, server: SandboxServer, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("ACME_CAPSULE_TOKEN")
    repository = defs().get_repository_def()
    sensor = next(s for s in repository.sensor_defs if s.name == "capsule_changes_sensor")
    context = dg.build_sensor_context(cursor=None, repository_def=repository)
    result = sensor.evaluate_tick(context)
    assert [(r.partition_key, r.tags[TENANT_TAG]) for r in result.run_requests or []] == [("bolt", "bolt")]
    # The tick's log (shown with the tick in the UI) says why acme got no run.
    assert "WARNING - acme: not checked, ACME_CAPSULE_TOKEN is not set" in capfd.readouterr().err

    # Next check: bolt's watermark holds, so nothing new for bolt; acme's reason is the tick's.
    after = sensor.evaluate_tick(dg.build_sensor_context(cursor=result.cursor, repository_def=repository))
    assert not after.run_requests
    assert "ACME_CAPSULE_TOKEN is not set" in (after.skip_message or "")
    ctl = CapsuleControl(server.capsule_url)
    try:
        ctl.set_clock(advance_seconds=5)
        ctl.create_party({"type": "organisation", "name": "New Client Pty Ltd"})
    finally:
        ctl.close()
    changed = sensor.evaluate_tick(dg.build_sensor_context(cursor=after.cursor, repository_def=repository))
    assert [r.partition_key for r in changed.run_requests or []] == ["bolt"]


def test_an_alert_for_a_failed_client_run_names_the_client_first(
    home: Path, instance: dg.DagsterInstance, http: HttpReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACME_CAPSULE_TOKEN", "revoked-in-capsule")
    (home / "acme.yaml").write_text(f"alerts:\n  channels:\n    - webhook: {{url: {http.url}/ops}}\n")
    result = (
        defs()
        .resolve_job_def("incremental_sync_job")
        .execute_in_process(
            instance=instance, partition_key="acme", raise_on_error=False, tags={"dagster/max_retries": "0"}
        )
    )
    assert not result.success
    assert not (home / "tenants" / "bolt").exists()  # acme's run never looked into bolt's folder
    run = instance.get_run_by_id(result.run_id)
    assert run is not None
    failure = next(
        record.event_log_entry.dagster_event
        for record in instance.get_records_for_run(
            run.run_id, of_type=dg.DagsterEventType.RUN_FAILURE
        ).records
    )
    alert_on_failed_run(
        dg.build_run_status_sensor_context(
            sensor_name=alert_on_failed_run.name,
            dagster_event=failure,
            dagster_instance=instance,
            dagster_run=run,
        ).for_run_failure()
    )
    ((path, body),) = http.posts
    assert path == "/ops" and body["kind"] == "run_failed"
    assert body["title"].startswith("acme: ") and "incremental_sync_job" in body["title"]
    assert "--tenant acme" in body["fix"]


def test_a_broken_tenants_file_is_shown_as_a_settings_problem_and_the_location_still_loads(
    home: Path,
) -> None:
    (home / "tenants.yaml").write_text(
        "tenants:\n  - name: acme\n    capsule_token_env: sk_live_1234567890abcdefXYZ\n"
    )
    repository = defs().get_repository_def()
    (sensor,) = repository.sensor_defs
    assert sensor.name == "capsule_xero_settings" and not repository.schedule_defs
    shown = sensor.evaluate_tick(dg.build_sensor_context()).skip_message or ""
    assert "tenant 'acme': capsule_token_env looks like a token" in shown
    assert "sk_live_1234567890abcdefXYZ" not in shown


def test_a_run_for_no_client_reads_and_writes_nothing(home: Path, instance: dg.DagsterInstance) -> None:
    result = (
        defs()
        .resolve_implicit_global_asset_job_def()
        .execute_in_process(
            instance=instance,
            asset_selection=[dg.AssetKey(["staging", "xero_contacts"])],
            raise_on_error=False,
        )
    )
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "This run names no client" in str(failure.event_specific_data.error.cause)  # type: ignore[union-attr]
    assert not (home / "tenants").exists() and not (home / "capsule_xero.duckdb").exists()


def test_each_clients_spooled_webhooks_become_a_run_for_that_client(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CAPSULE_XERO_HOME", str(tmp_path))
    for name in ("CAPSULE_XERO_TENANT", "CAPSULE_XERO_TENANTS", "CAPSULE_XERO_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "tenants.yaml").write_text(
        "tenants:\n"
        "  - {name: acme, capsule_token_env: ACME_CAPSULE_TOKEN, xero_tenant_id: 4a1c6b2e-0f9d-4f3a-9b7e-2d5c8e1f0a6b}\n"
        "  - {name: bolt, capsule_token_env: BOLT_CAPSULE_TOKEN, xero_tenant_id: 5b2d7c3f-1a0e-4b4b-8c8f-3e6d9f2a1b7c}\n"
    )
    event = {"resourceId": "c1", "eventType": "UPDATE", "eventCategory": "CONTACT"}
    for name in TENANTS:  # the same delivery in each client's spool (one sender behind both)
        Spool.at_home(tmp_path / "tenants" / name).put("xero", event)
    Spool.at_home(tmp_path).put("xero", event | {"resourceId": "c2"})  # no client's: read by no run
    repository = defs().get_repository_def()
    sensor = next(s for s in repository.sensor_defs if s.name == "webhook_events_sensor")
    result = sensor.evaluate_tick(dg.build_sensor_context(repository_def=repository))
    requests = {r.partition_key: r for r in result.run_requests or []}
    assert sorted(requests) == TENANTS
    assert {name: r.tags[TENANT_TAG] for name, r in requests.items()} == {"acme": "acme", "bolt": "bolt"}
    assert {name: r.tags["capsule_xero/webhook_events"] for name, r in requests.items()} == {
        "acme": "1",
        "bolt": "1",
    }
    assert requests["acme"].run_key != requests["bolt"].run_key  # each client's run is asked for
    assert set(json.loads(result.cursor or "{}")) == set(TENANTS)
