"""A sync run that fails is retried by Dagster before anyone is alerted (README: alerts go out for "a
run failed after its retries").

The run fails for real against the sandbox (Capsule refuses the token), on the Dagster instance
`capsule-xero ui` prepares (cli/ui.py). Dagster itself decides, from the instance's
settings and the job's tags, whether another attempt follows; the failure sensor stays silent while
one does, and speaks for the attempt after which none does.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from assets.definitions import defs
from assets.jobs import RUN_RETRIES, incremental_sync_job
from assets.sensors.alerts import alert_on_failed_run
from cli.ui import prepare_dagster_home
from sandbox.server import SandboxServer
from tests.reverse_etl.test_alerts import HttpReceiver


@pytest.fixture
def http() -> Iterator[HttpReceiver]:
    receiver = HttpReceiver()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()


@pytest.fixture
def instance(
    server: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, http: HttpReceiver
) -> Iterator[dg.DagsterInstance]:
    """The product's Dagster instance over a home whose Capsule token the sandbox refuses."""
    home = tmp_path / "home"
    for key, value in (server.env() | {"CAPSULE_XERO_HOME": str(home)}).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("CAPSULE_API_TOKEN", "revoked-in-capsule")
    monkeypatch.delenv("CAPSULE_XERO_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "capsule-xero.yaml").write_text(
        f"alerts:\n  channels:\n    - webhook: {{url: {http.url}/ops}}\n"
    )
    monkeypatch.setenv("DAGSTER_HOME", str(prepare_dagster_home(home)))
    with dg.DagsterInstance.get() as out:
        yield out


def failed_sync(instance: dg.DagsterInstance, tags: dict[str, str] | None = None) -> dg.DagsterRun:
    # The code location `capsule-xero ui` loads, read after the fixture set the environment.
    result = (
        defs()
        .resolve_job_def(incremental_sync_job.name)
        .execute_in_process(instance=instance, raise_on_error=False, tags=tags)
    )
    assert not result.success
    run = instance.get_run_by_id(result.run_id)
    assert run is not None
    return run


def alert(instance: dg.DagsterInstance, run: dg.DagsterRun) -> None:
    failure = next(
        record.event_log_entry.dagster_event
        for record in instance.get_records_for_run(
            run.run_id, of_type=dg.DagsterEventType.RUN_FAILURE
        ).records
    )
    context = dg.build_run_status_sensor_context(
        sensor_name=alert_on_failed_run.name,
        dagster_event=failure,
        dagster_instance=instance,
        dagster_run=run,
    ).for_run_failure()
    alert_on_failed_run(context)


def test_a_failed_sync_is_retried_by_dagster_and_only_the_last_failure_alerts_a_person(
    instance: dg.DagsterInstance, http: HttpReceiver
) -> None:
    assert RUN_RETRIES >= 1
    first = failed_sync(instance)
    # Dagster marks the failed attempt: its daemon launches the retry from the failed step.
    assert first.tags.get("dagster/max_retries") == str(RUN_RETRIES)
    assert first.tags.get("dagster/will_retry") == "true"
    alert(instance, first)
    assert http.posts == []  # nobody is disturbed while Dagster tries again

    last = failed_sync(instance, {"dagster/max_retries": "0"})  # no attempt left after this one
    assert last.tags.get("dagster/will_retry") == "false"
    alert(instance, last)
    ((path, body),) = http.posts
    assert path == "/ops" and body["kind"] == "run_failed"
    assert "failed after its retries" in body["detail"] and "incremental_sync_job" in body["detail"]
