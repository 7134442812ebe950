"""``webhook_events_sensor``: spooled webhook events become one incremental_sync run per batch."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import dagster as dg
import httpx
import pytest

from assets.webhook_sensor import SENSORS_WEBHOOKS, webhook_events_sensor
from capsule_xero.settings import SecretStr
from capsule_xero.spool import Spool
from capsule_xero.webhooks import WebhookReceiver, xero_signature

KEY = "sensor-test-key/3q9Xv0Lw8Rk2Jm5Tn7Bc1Hd4Fg6Ys=="


@pytest.fixture
def spool(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Spool:
    monkeypatch.setenv("CAPSULE_XERO_HOME", str(tmp_path))
    return Spool.at_home(tmp_path)


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


def evaluate(context: dg.SensorEvaluationContext) -> dg.SensorResult | dg.SkipReason:
    return webhook_events_sensor(context)


def test_with_no_events_the_sensor_skips(spool: Spool) -> None:
    result = evaluate(dg.build_sensor_context())
    assert isinstance(result, dg.SkipReason)
    assert str(spool.root) in (result.skip_message or "")


def test_a_batch_of_events_becomes_one_run_the_cursor_moves_and_the_next_evaluation_skips(
    spool: Spool,
) -> None:
    spooled = [
        spool.put("xero", xero_event(str(uuid.uuid4())))[0],
        spool.put("capsule", {"event": "party/updated", "record": {"id": 7}})[0],
        spool.put("xero", xero_event(str(uuid.uuid4())))[0],
    ]
    newest = spool.pending()[-1]
    context = dg.build_sensor_context()

    result = evaluate(context)
    assert isinstance(result, dg.SensorResult)
    [run] = result.run_requests
    assert run.run_key == newest.stem
    assert run.tags["capsule_xero/webhook_events"] == "3"
    assert run.tags["capsule_xero/webhook_sources"] == "capsule:1,xero:2"
    assert json.loads(result.cursor)["newest"] == newest.stem
    assert spool.pending() == []
    assert sorted(p.name for p in spool.done.glob("*.json")) == sorted(p.name for p in spooled)

    again = evaluate(dg.build_sensor_context(cursor=result.cursor))
    assert isinstance(again, dg.SkipReason)


def test_a_later_event_gets_a_new_run_key_and_the_cursor_counts_on(spool: Spool) -> None:
    spool.put("xero", xero_event(str(uuid.uuid4())))
    first = evaluate(dg.build_sensor_context())
    later, _ = spool.put("xero", xero_event(str(uuid.uuid4())))
    second = evaluate(dg.build_sensor_context(cursor=first.cursor))
    assert isinstance(second, dg.SensorResult)
    assert second.run_requests[0].run_key == later.stem != first.run_requests[0].run_key
    assert json.loads(second.cursor)["total"] == 2


def test_events_received_before_a_receiver_restart_still_become_a_run(spool: Spool) -> None:
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
    result = evaluate(dg.build_sensor_context())
    assert isinstance(result, dg.SensorResult)
    assert result.run_requests[0].tags["capsule_xero/webhook_events"] == "2"
    assert sorted(Spool.read(p).event["resourceId"] for p in spool.done.glob("*.json")) == sorted(ids)


def test_the_sensor_targets_the_incremental_sync_job_by_name() -> None:
    @dg.op
    def noop() -> None:
        return None

    @dg.job(name="incremental_sync_job")
    def incremental_sync() -> None:
        noop()

    defs = dg.Definitions(jobs=[incremental_sync], sensors=SENSORS_WEBHOOKS)
    sensor = defs.resolve_sensor_def("webhook_events_sensor")
    assert sensor.job_name == "incremental_sync_job"
