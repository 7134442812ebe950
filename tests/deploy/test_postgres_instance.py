"""The instance `capsule-xero deploy` writes keeps runs, event logs and schedules in a real PostgreSQL
server (tests/support/postgres.py), and its run queue admits one run per tenant at a time."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

# Dagster's internals, where it has no public API: tick records, in-process workspaces, the queue's
# daemon and running a queued run (the daemon, the webserver and the run worker do these).
from dagster._core.definitions.run_request import InstigatorType
from dagster._core.events import DagsterEventType
from dagster._core.execution.api import execute_run
from dagster._core.remote_origin import InProcessCodeLocationOrigin
from dagster._core.scheduler.instigation import InstigatorStatus, TickData, TickStatus
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._core.workspace.context import WorkspaceProcessContext
from dagster._core.workspace.load_target import InProcessWorkspaceLoadTarget
from dagster._daemon.run_coordinator.queued_run_coordinator_daemon import QueuedRunCoordinatorDaemon
from typer.testing import CliRunner

from capsule_xero.tenants import TENANT_TAG
from cli import app as cli
from tests.deploy import tenant_jobs
from tests.support.postgres import PostgresServer

CODE_LOCATION = "tenant_jobs"

# Dagster's own external_data reads a deprecated ScheduleDefinition property when it loads any schedule.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Property `ScheduleDefinition.environment_vars`:DeprecationWarning"
)


@pytest.fixture(scope="module")
def deploy_folder(postgres: PostgresServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """What `capsule-xero deploy` writes, with the DAGSTER_PG_* environment naming the test server."""
    folder = tmp_path_factory.mktemp("deploy")
    with pytest.MonkeyPatch.context() as environment:
        environment.setenv("CAPSULE_XERO_HOME", str(folder / "home"))
        environment.delenv("CAPSULE_XERO_CONFIG", raising=False)
        for name, value in postgres.dagster_environment().items():
            environment.setenv(name, value)
        result = CliRunner().invoke(cli.app, ["deploy", "--out", str(folder / "instance")])
        assert result.exit_code == 0, result.output
        yield folder / "instance"


@pytest.fixture(scope="module")
def instance(deploy_folder: Path) -> Iterator[dg.DagsterInstance]:
    with dg.DagsterInstance.from_config(str(deploy_folder)) as loaded:
        yield loaded


@pytest.fixture(scope="module")
def workspace(instance: dg.DagsterInstance) -> Iterator[WorkspaceProcessContext]:
    """The small code location, loaded in this process (the services load theirs in a code server; what
    the instance stores is the same)."""
    origin = InProcessCodeLocationOrigin(
        LoadableTargetOrigin(module_name=tenant_jobs.__name__), location_name=CODE_LOCATION
    )
    with WorkspaceProcessContext(instance, InProcessWorkspaceLoadTarget(origin)) as context:
        yield context


def test_a_run_its_events_and_its_asset_are_stored_in_postgresql(
    instance: dg.DagsterInstance, postgres: PostgresServer
) -> None:
    @dg.asset
    def reconciled_contacts() -> dg.MaterializeResult:
        return dg.MaterializeResult(metadata={"contacts": 3})

    result = dg.materialize([reconciled_contacts], instance=instance, tags={TENANT_TAG: "acme"})

    assert result.success
    run = instance.get_run_by_id(result.run_id)
    assert run is not None and run.status == dg.DagsterRunStatus.SUCCESS and run.tags[TENANT_TAG] == "acme"
    materialization = instance.get_latest_materialization_event(dg.AssetKey("reconciled_contacts"))
    assert materialization is not None and materialization.run_id == result.run_id
    # Read from the server directly, as the dagster role over TCP: the rows are in PostgreSQL itself.
    with postgres.connect() as connection, connection.cursor() as cursor:
        cursor.execute("select status from runs where run_id = %s", (result.run_id,))
        assert cursor.fetchall() == [("SUCCESS",)]
        cursor.execute(
            "select count(*) from event_logs where run_id = %s and dagster_event_type = %s",
            (result.run_id, "ASSET_MATERIALIZATION"),
        )
        assert cursor.fetchone() == (1,)


def test_a_schedule_turned_on_and_its_ticks_are_read_back_from_postgresql_by_a_second_instance(
    instance: dg.DagsterInstance,
    workspace: WorkspaceProcessContext,
    deploy_folder: Path,
    postgres: PostgresServer,
) -> None:
    location = workspace.create_request_context().get_code_location(CODE_LOCATION)
    schedule = location.get_repository("__repository__").get_schedule("nightly_sync")
    origin_id, selector_id = schedule.get_remote_origin_id(), schedule.selector_id

    instance.start_schedule(schedule)  # what the UI's toggle does
    instance.create_tick(  # what the daemon records each time the schedule is evaluated
        TickData(
            instigator_origin_id=origin_id,
            instigator_name="nightly_sync",
            instigator_type=InstigatorType.SCHEDULE,
            status=TickStatus.SKIPPED,
            timestamp=time.time(),
            selector_id=selector_id,
        )
    )

    # The daemon and the webserver each open their own instance on the folder: a second one reads it back.
    with dg.DagsterInstance.from_config(str(deploy_folder)) as daemon_instance:
        state = daemon_instance.get_instigator_state(origin_id, selector_id)
        assert state is not None and state.status == InstigatorStatus.RUNNING
        ticks = daemon_instance.get_ticks(origin_id, selector_id)
        assert [tick.status for tick in ticks] == [TickStatus.SKIPPED]
    with postgres.connect() as connection, connection.cursor() as cursor:
        cursor.execute("select status from jobs where job_origin_id = %s", (origin_id,))
        assert cursor.fetchall() == [("RUNNING",)]
        cursor.execute("select count(*) from job_ticks where job_origin_id = %s", (origin_id,))
        assert cursor.fetchone() == (1,)


def test_the_run_queue_admits_one_run_per_tenant_and_the_waiting_run_once_the_first_ends(
    instance: dg.DagsterInstance, workspace: WorkspaceProcessContext
) -> None:
    request = workspace.create_request_context()
    repository = request.get_code_location(CODE_LOCATION).get_repository("__repository__")
    remote_job = repository.get_full_job("sync_tenant")

    def submit(tenant: str) -> str:
        """As the UI, a schedule or a sensor submits a run: to the queue, tagged with its tenant."""
        run = instance.create_run_for_job(
            tenant_jobs.sync_tenant,
            remote_job_origin=remote_job.get_remote_origin(),
            job_code_origin=remote_job.get_python_origin(),
            tags={TENANT_TAG: tenant},
        )
        return instance.submit_run(run.run_id, request).run_id

    def start(run_id: str) -> None:
        """What the daemon records for a run it takes from the queue, before its launcher starts it."""
        starting = dg.DagsterEvent(
            event_type_value=DagsterEventType.PIPELINE_STARTING.value, job_name="sync_tenant"
        )
        instance.report_dagster_event(starting, run_id=run_id)

    def admitted() -> list[str]:
        """The runs one pass of the queue's daemon takes now, from what PostgreSQL holds."""
        # The daemon's public entry point also launches what it takes (a code server and a process per
        # run: tens of seconds here); this is the choice it makes each pass, without the launching.
        queue = QueuedRunCoordinatorDaemon(interval_seconds=1)
        runs = queue._get_runs_to_dequeue(
            instance, instance.get_concurrency_config(), fixed_iteration_time=None
        )
        return [run.run_id for run in runs]

    first_a, second_a, first_b = submit("a"), submit("a"), submit("b")
    assert {run.status for run in instance.get_runs(dg.RunsFilter(run_ids=[first_a, second_a, first_b]))} == {
        dg.DagsterRunStatus.QUEUED
    }

    # Tenant a's second run waits for its first; tenant b's run proceeds side by side.
    assert admitted() == [first_a, first_b]
    start(first_a)
    start(first_b)
    assert admitted() == []

    # Once tenant a's first run has ended, its second is next, though b's run is still in progress.
    execute_run(dg.reconstructable(tenant_jobs.sync_tenant), instance.get_run_by_id(first_a), instance)
    assert instance.get_run_by_id(first_a).status == dg.DagsterRunStatus.SUCCESS
    assert admitted() == [second_a]
