"""The jobs, the nightly schedule and the Capsule polling sensor, evaluated against the sandbox."""

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import dagster as dg
import pytest

from assets.definitions import defs
from assets.jobs import historical_migration_job, incremental_sync_job, nightly_reconciliation_job
from assets.schedules import SCHEDULES
from assets.sensors.polling import capsule_changes_sensor
from assets.writeback import xero_contacts_written
from sandbox.capsule.control import CapsuleControl
from sandbox.server import SandboxServer


@pytest.fixture
def ctl(server: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[CapsuleControl]:
    """Capsule control for the sandbox the sensor's environment points at."""
    for name, value in server.env().items():
        monkeypatch.setenv(name, value)
    client = CapsuleControl(server.capsule_url)
    yield client
    client.close()


def evaluate(cursor: str | None) -> Any:
    return capsule_changes_sensor.evaluate_tick(dg.build_sensor_context(cursor=cursor))


def capsule_requests(ctl: CapsuleControl, after: int) -> list[str]:
    return [call["path"] for call in ctl.calls("capsule", since=after)]


def settled(ctl: CapsuleControl, party_id: int) -> str:
    """The party's updatedAt, after moving the sandbox clock on so the next edit is a later second."""
    stamp = ctl.get_party(party_id)["updatedAt"]  # type: ignore[index]
    ctl.set_clock(advance_seconds=5)
    return stamp


def test_with_nothing_changed_the_sensor_skips_and_keeps_its_cursor(ctl: CapsuleControl) -> None:
    party = ctl.create_party({"type": "organisation", "name": "Quiet Pty Ltd"})
    cursor = settled(ctl, party["id"])
    before = ctl.last_seq()

    result = evaluate(cursor)

    assert result.run_requests == []
    assert "No Capsule party changed" in (result.skip_message or "")
    assert result.cursor in (None, cursor)
    # The check is two one-record requests: one on the parties, one on the deleted feed.
    paths = capsule_requests(ctl, before)
    assert len(paths) == 2 and {p.rsplit("/", 1)[-1] for p in paths} == {"parties", "deleted"}


def test_an_edited_party_starts_one_run_and_moves_the_cursor_to_its_update(ctl: CapsuleControl) -> None:
    party = ctl.create_party({"type": "organisation", "name": "Edited Pty Ltd"})
    cursor = settled(ctl, party["id"])
    edited = ctl.update_party(party["id"], {"about": "edited in the UI"})

    result = evaluate(cursor)

    assert len(result.run_requests) == 1
    assert edited["updatedAt"] > cursor
    assert result.cursor == edited["updatedAt"]
    assert result.run_requests[0].run_key.endswith(edited["updatedAt"])

    again = evaluate(result.cursor)
    assert again.run_requests == [], "the same change must not start a second run"
    assert again.cursor in (None, result.cursor)


def test_several_edits_start_one_run_whose_watermark_is_the_newest_edit(ctl: CapsuleControl) -> None:
    parties = [ctl.create_party({"type": "organisation", "name": f"Batch {n} Pty Ltd"}) for n in range(4)]
    cursor = settled(ctl, parties[-1]["id"])
    stamps = []
    for party in parties[:3]:  # lowest ids first: the sandbox lists in id order, not by updatedAt
        stamps.append(ctl.update_party(party["id"], {"about": "bulk edit"})["updatedAt"])
        ctl.set_clock(advance_seconds=2)

    result = evaluate(cursor)

    assert len(result.run_requests) == 1
    assert result.cursor == max(stamps)
    assert evaluate(result.cursor).run_requests == []


def test_a_deleted_party_starts_a_run(ctl: CapsuleControl) -> None:
    party = ctl.create_party({"type": "person", "firstName": "Gone", "lastName": "Soon"})
    cursor = settled(ctl, party["id"])
    ctl.delete_party(party["id"])

    result = evaluate(cursor)

    assert len(result.run_requests) == 1
    assert result.cursor is not None and result.cursor > cursor
    assert evaluate(result.cursor).run_requests == []


def test_with_no_cursor_yet_the_first_check_starts_the_first_sync(ctl: CapsuleControl) -> None:
    party = ctl.create_party({"type": "organisation", "name": "First Pty Ltd"})

    result = evaluate(None)

    assert len(result.run_requests) == 1
    assert result.cursor == ctl.get_party(party["id"])["updatedAt"]  # type: ignore[index]


def test_without_a_capsule_token_the_sensor_skips_and_says_what_to_set(
    ctl: CapsuleControl, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctl.create_party({"type": "organisation", "name": "Unseen Pty Ltd"})
    monkeypatch.delenv("CAPSULE_API_TOKEN")
    before = ctl.last_seq()

    result = evaluate(None)

    assert result.run_requests == []
    assert "CAPSULE_API_TOKEN" in (result.skip_message or "")
    assert capsule_requests(ctl, before) == []


def test_a_refused_token_skips_the_check_instead_of_failing_the_sensor(
    ctl: CapsuleControl, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctl.create_party({"type": "organisation", "name": "Locked Pty Ltd"})
    monkeypatch.setenv("CAPSULE_API_TOKEN", "not-a-real-token")

    result = evaluate(None)

    assert result.run_requests == []
    assert "CAPSULE_API_TOKEN" in (result.skip_message or "")
    assert "not-a-real-token" not in (result.skip_message or "")


def test_the_nightly_reconciliation_runs_at_two_in_the_morning_sydney_time() -> None:
    (schedule,) = SCHEDULES
    assert schedule.job_name == "nightly_reconciliation_job"
    assert schedule.cron_schedule == "0 2 * * *"
    assert schedule.execution_timezone == "Australia/Sydney"
    # 02:00 in Sydney is 16:00 UTC in winter (AEST) and 15:00 UTC in summer (AEDT).
    sydney = ZoneInfo(schedule.execution_timezone)
    for day, utc_hour in (
        (datetime(2026, 6, 1, 2, tzinfo=sydney), 16),
        (datetime(2026, 1, 1, 2, tzinfo=sydney), 15),
    ):
        assert day.astimezone(UTC).hour == utc_hour


def test_the_sensor_polls_every_twenty_seconds_unless_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CAPSULE_POLL_SECONDS", raising=False)
    sensor = defs().resolve_sensor_def("capsule_changes_sensor")
    assert sensor.minimum_interval_seconds == 20 == capsule_changes_sensor.minimum_interval_seconds
    assert sensor.job_name == "incremental_sync_job"
    monkeypatch.setenv("CAPSULE_POLL_SECONDS", "15")
    assert defs().resolve_sensor_def("capsule_changes_sensor").minimum_interval_seconds == 15


def test_the_incremental_sync_runs_every_asset_as_a_dry_run_until_configured_to_apply() -> None:
    loaded = defs()
    dg.Definitions.validate_loadable(loaded)
    job = loaded.resolve_job_def(incremental_sync_job.name)
    keys = {key.to_user_string() for key in job.asset_layer.executable_asset_keys}
    every = {key.to_user_string() for key in loaded.resolve_asset_graph().get_all_asset_keys()}
    assert keys == every
    # The job leaves apply unset: the writer reads CAPSULE_XERO_APPLY (default false) when the run
    # starts (tests/assets/test_writeback.py).
    writer = xero_contacts_written.key.to_python_identifier()
    default = job.run_config_schema.config_type.fields["ops"].default_value[writer]
    assert default["config"].get("apply") is None


def test_the_nightly_reconciliation_reads_and_reports_but_writes_nothing() -> None:
    loaded = defs()
    job = loaded.resolve_job_def(nightly_reconciliation_job.name)
    keys = {key.to_user_string() for key in job.asset_layer.executable_asset_keys}
    assert {"capsule/parties", "xero/contacts", "reconcile/contact_operations", "reports/views"} <= keys
    assert "reverse_etl/xero_contacts_written" not in keys
    # Balances and customer/supplier flags change without moving UpdatedDateUTC: the night reads Xero whole.
    xero_read = job.run_config_schema.config_type.fields["ops"].default_value["xero_extract"]
    assert xero_read["config"]["full_read"] is True
    assert loaded.resolve_sensor_def("capsule_changes_sensor").job_name == "incremental_sync_job"
    assert loaded.resolve_schedule_def("nightly_reconciliation_schedule").job_name == job.name


def test_the_historical_migration_reads_everything_and_only_plans() -> None:
    loaded = defs()
    job = loaded.resolve_job_def(historical_migration_job.name)
    keys = {key.to_user_string() for key in job.asset_layer.executable_asset_keys}
    assert {"capsule/parties", "xero/contacts", "reports/views", "reverse_etl/xero_contacts_written"} <= keys
    config = job.run_config_schema.config_type.fields["ops"].default_value
    assert config["xero_extract"]["config"]["full_read"] is True
    assert config[xero_contacts_written.key.to_python_identifier()]["config"]["apply"] is False
