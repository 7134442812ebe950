"""The alert sensors send what needs a person to the rules file's channels, once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from assets.sensors.alerts import alerts_sensor
from reverse_etl.ledger.schema import ensure_ledger
from tests.reverse_etl.test_alerts import HttpReceiver, queue, store_plan


@pytest.fixture
def http() -> Iterator[HttpReceiver]:
    receiver = HttpReceiver()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CAPSULE_XERO_HOME", str(tmp_path))
    monkeypatch.delenv("CAPSULE_XERO_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_without_channels_the_alert_sensor_says_there_is_nowhere_to_send(home: Path) -> None:
    result = alerts_sensor(dg.build_sensor_context())
    assert isinstance(result, dg.SkipReason) and "alerts.channels" in (result.skip_message or "")


def test_the_alert_sensor_sends_dead_letters_and_a_waiting_plan_once(home: Path, http: HttpReceiver) -> None:
    (home / "capsule-xero.yaml").write_text(f"alerts:\n  channels:\n    - webhook: {{url: {http.url}/ops}}\n")
    with duckdb.connect(str(home / "capsule_xero.duckdb")) as con:
        ensure_ledger(con)
        queue(con, 7, "dead", "Email address is not valid")
        queue(con, 8, "retrying", "Xero was busy")  # a retry in progress needs nobody
        store_plan(con, 4, "pending_approval", ["first migration"])
    alerts_sensor(dg.build_sensor_context())
    alerts_sensor(dg.build_sensor_context())  # the next check sends nothing new
    sent = [body for path, body in http.posts if path == "/ops"]
    assert sorted(body["kind"] for body in sent) == ["dead_letters", "plan_waiting"]
    assert any("capsule-xero approve 4" in body["fix"] for body in sent)
