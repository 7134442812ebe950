"""``webhook_events_sensor``: spooled webhook events become one incremental_sync run per batch.

A batch leaves the spool only once Dagster has recorded its run. ``Daemon`` below plays the part of
the Dagster sensor daemon against a real (ephemeral) instance: it commits a tick's cursor together
with the runs it asked for and creates a run key's run at most once; a test crashes it by dropping
what a tick returned, or by keeping the cursor and dropping the runs.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path

import dagster as dg
import httpx
import pytest
from dagster._core.storage.tags import RUN_KEY_TAG
from pydantic import SecretStr

from assets.sensors.webhooks import JOB_NAME, webhook_events_sensor
from capsule_xero.spool import Spool
from capsule_xero.webhooks import WebhookReceiver, xero_signature

KEY = "sensor-test-key/3q9Xv0Lw8Rk2Jm5Tn7Bc1Hd4Fg6Ys=="


@pytest.fixture
def spool(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Spool:
    monkeypatch.setenv("CAPSULE_XERO_HOME", str(tmp_path))
    return Spool.at_home(tmp_path)


@pytest.fixture
def instance() -> dg.DagsterInstance:
    return dg.DagsterInstance.ephemeral()


def xero_event(contact_id: str) -> dict:
    return {
        "resourceUrl": f"https://api.xero.com/api.xro/2.0/Contacts/{contact_id}",
        "resourceId": contact_id,
        "eventDateUtc": "2026-11-25T01:15:39.902",
        "eventType": "UPDATE",
        "eventCategory": "CONTACT",
        "tenantId": "c2cc9b6e-9458-4c7d-93cc-f02b81b0594f",
        "tenantType": "ORGANISATION",
    }


def spool_xero_events(spool: Spool, count: int) -> list[Path]:
    return [spool.put("xero", xero_event(str(uuid.uuid4())))[0] for _ in range(count)]


def evaluate(context: dg.SensorEvaluationContext) -> dg.SensorResult | dg.SkipReason:
    return webhook_events_sensor(context)


def run_requests(result: dg.SensorResult | dg.SkipReason) -> list[dg.RunRequest]:
    return list(result.run_requests or []) if isinstance(result, dg.SensorResult) else []


def done_names(spool: Spool) -> set[str]:
    return {path.name for path in spool.done.glob("*.json")} if spool.done.is_dir() else set()


class Daemon:
    """The Dagster sensor daemon's guarantees: cursor committed with the tick's runs, one run per key."""

    def __init__(self, instance: dg.DagsterInstance, cursor: str | None = None) -> None:
        self.instance, self.cursor = instance, cursor

    def evaluate(self) -> dg.SensorResult | dg.SkipReason:
        return evaluate(dg.build_sensor_context(instance=self.instance, cursor=self.cursor))

    def commit(self, result: dg.SensorResult | dg.SkipReason, *, create_runs: bool = True) -> None:
        if create_runs:
            for request in run_requests(result):
                self.create_run(request)
        if isinstance(result, dg.SensorResult) and result.cursor is not None:
            self.cursor = result.cursor

    def tick(self) -> dg.SensorResult | dg.SkipReason:
        result = self.evaluate()
        self.commit(result)
        return result

    def create_run(self, request: dg.RunRequest) -> None:
        if self.runs_with_key(request.run_key):
            return  # Dagster skips a run key this sensor already launched
        tags = {**request.tags, RUN_KEY_TAG: request.run_key}
        # Launched by the default run coordinator (a queued run would need a code location origin).
        self.instance.add_run(
            dg.DagsterRun(job_name=JOB_NAME, tags=tags, status=dg.DagsterRunStatus.STARTING)
        )

    def runs_with_key(self, run_key: str | None) -> list[dg.DagsterRun]:
        return list(self.instance.get_runs(filters=dg.RunsFilter(tags={RUN_KEY_TAG: run_key})))

    def runs(self) -> list[dg.DagsterRun]:
        return list(self.instance.get_runs())


def test_with_no_events_the_sensor_skips(spool: Spool) -> None:
    result = evaluate(dg.build_sensor_context())
    assert isinstance(result, dg.SkipReason)
    assert str(spool.root) in (result.skip_message or "")


def test_a_batch_of_events_becomes_one_run_tagged_with_its_sources(
    spool: Spool, instance: dg.DagsterInstance
) -> None:
    spool_xero_events(spool, 1)
    spool.put("capsule", {"event": "party/updated", "record": {"id": 7}})
    spool_xero_events(spool, 1)

    [run] = run_requests(Daemon(instance).evaluate())
    assert run.run_key
    assert run.tags["capsule_xero/trigger"] == "webhooks"
    assert run.tags["capsule_xero/webhook_events"] == "3"
    assert run.tags["capsule_xero/webhook_sources"] == "capsule:1,xero:2"


def test_events_stay_in_the_spool_until_their_run_exists(spool: Spool, instance: dg.DagsterInstance) -> None:
    spooled = spool_xero_events(spool, 3)
    daemon = Daemon(instance)

    first = daemon.evaluate()
    daemon.commit(first, create_runs=False)  # the cursor is kept, the run never made it to the instance
    assert spool.pending() == spooled

    second = daemon.evaluate()
    assert spool.pending() == spooled
    daemon.commit(second)

    third = daemon.tick()
    assert run_requests(third) == []
    assert spool.pending() == []
    assert done_names(spool) == {path.name for path in spooled}
    assert json.loads(daemon.cursor or "{}")["total"] == 3


def test_a_run_created_but_never_launched_is_asked_for_again_and_its_events_stay(
    spool: Spool, instance: dg.DagsterInstance
) -> None:
    spooled = spool_xero_events(spool, 2)
    daemon = Daemon(instance)
    [request] = run_requests(daemon.evaluate())
    daemon.commit(daemon.evaluate(), create_runs=False)
    # The daemon created the run and stopped before submitting it (Dagster launches it when asked again).
    tags = {**request.tags, RUN_KEY_TAG: request.run_key}
    instance.add_run(dg.DagsterRun(job_name=JOB_NAME, tags=tags, status=dg.DagsterRunStatus.NOT_STARTED))

    [again] = run_requests(daemon.evaluate())
    assert again.run_key == request.run_key
    assert spool.pending() == spooled


def test_a_tick_whose_run_was_never_recorded_asks_for_the_same_batch_again_under_the_same_run_key(
    spool: Spool, instance: dg.DagsterInstance
) -> None:
    spooled = spool_xero_events(spool, 2)
    daemon = Daemon(instance)

    [lost] = run_requests(daemon.evaluate())  # the daemon dies: neither cursor nor run is recorded
    [asked_again] = run_requests(daemon.evaluate())

    assert asked_again.run_key == lost.run_key
    assert asked_again.tags == lost.tags
    assert spool.pending() == spooled


def test_events_arriving_during_a_run_go_into_the_next_run_never_a_second_run_for_the_same_events(
    spool: Spool, instance: dg.DagsterInstance
) -> None:
    first_batch = spool_xero_events(spool, 2)
    daemon = Daemon(instance)
    [first] = run_requests(daemon.tick())

    [arrived] = spool_xero_events(spool, 1)  # while the first run is queued or running
    [second] = run_requests(daemon.tick())
    assert second.run_key != first.run_key
    assert second.tags["capsule_xero/webhook_events"] == "1"
    assert done_names(spool) == {path.name for path in first_batch}
    assert spool.pending() == [arrived]

    assert run_requests(daemon.tick()) == []
    assert run_requests(daemon.tick()) == []
    runs = daemon.runs()
    assert sorted(run.tags[RUN_KEY_TAG] for run in runs) == sorted([first.run_key, second.run_key])
    assert sum(int(run.tags["capsule_xero/webhook_events"]) for run in runs) == 3
    assert done_names(spool) == {path.name for path in [*first_batch, arrived]}


def test_a_replayed_event_after_its_run_is_a_duplicate_and_asks_for_no_run(
    spool: Spool, instance: dg.DagsterInstance
) -> None:
    event = xero_event(str(uuid.uuid4()))
    spool.put("xero", event)
    daemon = Daemon(instance)
    daemon.tick()
    daemon.tick()
    assert spool.pending() == []

    _, new = spool.put("xero", event)
    assert not new
    assert run_requests(daemon.tick()) == []
    assert len(daemon.runs()) == 1


def test_restarting_the_daemon_at_any_point_of_a_tick_loses_no_event(
    spool: Spool, instance: dg.DagsterInstance
) -> None:
    spooled = spool_xero_events(spool, 3)
    daemon = Daemon(instance)

    daemon.evaluate()  # dies before the tick is recorded
    daemon = Daemon(instance, daemon.cursor)  # a restart: a new context with the persisted cursor
    daemon.commit(daemon.evaluate(), create_runs=False)  # dies after the cursor, before the run
    daemon = Daemon(instance, daemon.cursor)
    [first] = run_requests(daemon.tick())

    later = spool_xero_events(spool, 2)
    lost = daemon.evaluate()  # moves the first batch to done/, then dies before the tick is recorded
    assert done_names(spool) == {path.name for path in spooled}
    daemon = Daemon(instance, daemon.cursor)
    [second] = run_requests(daemon.tick())
    assert run_requests(lost)[0].run_key == second.run_key != first.run_key

    daemon = Daemon(instance, daemon.cursor)
    assert run_requests(daemon.tick()) == []
    assert spool.pending() == []
    assert done_names(spool) == {path.name for path in [*spooled, *later]}
    assert sorted(run.tags[RUN_KEY_TAG] for run in daemon.runs()) == sorted([first.run_key, second.run_key])
    assert json.loads(daemon.cursor or "{}")["total"] == 5


def test_a_flood_is_split_into_runs_of_at_most_the_batch_limit(
    spool: Spool, instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("assets.sensors.webhooks.MAX_EVENTS_PER_RUN", 3)
    spooled = spool_xero_events(spool, 5)
    daemon = Daemon(instance)

    [first] = run_requests(daemon.tick())
    [second] = run_requests(daemon.tick())
    assert run_requests(daemon.tick()) == []
    assert [first.tags["capsule_xero/webhook_events"], second.tags["capsule_xero/webhook_events"]] == [
        "3",
        "2",
    ]
    assert done_names(spool) == {path.name for path in spooled}


def test_without_an_instance_the_callers_kept_cursor_stands_for_the_run(spool: Spool) -> None:
    # How bench/latency.py drives the sensor: it keeps the cursor and runs each request itself.
    spooled = spool_xero_events(spool, 1)
    first = evaluate(dg.build_sensor_context())
    assert spool.pending() == spooled

    later = spool_xero_events(spool, 1)
    second = evaluate(dg.build_sensor_context(cursor=first.cursor))
    [run] = run_requests(second)
    assert run.run_key != run_requests(first)[0].run_key
    assert done_names(spool) == {path.name for path in spooled}
    assert spool.pending() == later

    third = evaluate(dg.build_sensor_context(cursor=second.cursor))
    assert run_requests(third) == []
    assert json.loads(third.cursor)["total"] == 2


def test_events_received_before_a_receiver_restart_still_become_a_run(
    spool: Spool, instance: dg.DagsterInstance
) -> None:
    ids = [str(uuid.uuid4()) for _ in range(2)]
    with httpx.Client(timeout=10, trust_env=False) as http:
        for contact_id in ids:
            receiver = WebhookReceiver(Spool(spool.root), xero_key=SecretStr(KEY)).start()
            body = json.dumps(
                {
                    "events": [xero_event(contact_id)],
                    "firstEventSequence": 1,
                    "lastEventSequence": 1,
                    "entropy": "X",
                }
            ).encode()
            response = http.post(
                receiver.xero_url, content=body, headers={"x-xero-signature": xero_signature(KEY, body)}
            )
            assert response.status_code == 200
            receiver.stop()  # the receiver restarts between the two events
    daemon = Daemon(instance)
    [run] = run_requests(daemon.tick())
    assert run.tags["capsule_xero/webhook_events"] == "2"
    daemon.tick()
    done = [event["resourceId"] for path in spool.done.glob("*.json") for event in Spool.read(path).events]
    assert sorted(done) == sorted(ids)


def test_one_delivery_of_many_records_is_one_run_tagged_with_its_events(
    spool: Spool, instance: dg.DagsterInstance
) -> None:
    records = [{"id": n, "name": f"Party {n}"} for n in range(5)]
    spool.put_delivery("capsule", json.dumps({"event": "party/updated", "payload": records}).encode())
    spool_xero_events(spool, 2)
    daemon = Daemon(instance)
    [run] = run_requests(daemon.tick())
    assert run.tags["capsule_xero/webhook_events"] == "7"
    assert run.tags["capsule_xero/webhook_deliveries"] == "3"
    assert run.tags["capsule_xero/webhook_sources"] == "capsule:5,xero:2"
    daemon.tick()
    assert json.loads(daemon.cursor or "{}")["total"] == 7


def test_deliveries_a_run_took_are_deleted_from_done_after_the_retention_days(
    spool: Spool, instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEBHOOK_SPOOL_DAYS", "2")
    old = spool_xero_events(spool, 2)
    [old_event] = Spool.read(old[0]).events
    daemon = Daemon(instance)
    daemon.tick()
    daemon.tick()
    three_days_ago = time.time() - 3 * 86400
    for path in old:
        os.utime(spool.done / path.name, (three_days_ago, three_days_ago))
    recent = spool_xero_events(spool, 1)
    daemon.tick()
    daemon.tick()
    assert done_names(spool) == {path.name for path in recent}
    # A replay within the days is still a duplicate; after them it is new (at worst one more run).
    [recent_event] = Spool.read(spool.done / recent[0].name).events
    assert spool.put("xero", recent_event)[1] is False
    assert spool.put("xero", old_event)[1] is True


def test_the_sensor_targets_the_incremental_sync_job_by_name() -> None:
    @dg.op
    def noop() -> None:
        return None

    @dg.job(name="incremental_sync_job")
    def incremental_sync() -> None:
        noop()

    defs = dg.Definitions(jobs=[incremental_sync], sensors=[webhook_events_sensor])
    sensor = defs.resolve_sensor_def("webhook_events_sensor")
    assert sensor.job_name == "incremental_sync_job"
