"""The webhook fast lane (assets/fast_lane.py): a spooled contact change reaches Xero in one pass,
recorded in Dagster, written once whatever happened to the record between its webhook and the pass;
anything it does not handle goes back to the sensor's run."""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from datetime import UTC
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from pydantic import SecretStr

from assets.fast_lane import (
    SYNCED_THROUGH_FILE,
    WRITER_ASSET,
    FastLane,
    FastLaneWorker,
    Pass,
    dagster_recorder,
)
from assets.sensors import polling
from assets.sensors.polling import check_capsule
from assets.sensors.webhooks import turn_spooled_events_into_runs
from capsule_xero.rules.model import Rules
from capsule_xero.spool import Spool
from sandbox.capsule.control import CapsuleControl
from sandbox.generator import generate
from tests.support.sync_world import World, xero_contacts

_addresses = itertools.count()


def _migrated(home: Path, rules: Rules | None = None) -> Iterator[World]:
    """A small world migrated to Xero, writing unattended (CAPSULE_XERO_APPLY=true)."""
    with World(generate(parties=24, seed=31), home) as world:
        world.rules = rules or world.rules
        world.sync()
        world.settings = world.settings.model_copy(update={"apply_writes": True})
        yield world


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """One world for the tests that leave it in sync (each edits parties of its own: ``_linked``'s ``of``)."""
    yield from _migrated(tmp_path_factory.mktemp("fast-lane") / "home")


@pytest.fixture
def own_world(tmp_path: Path) -> Iterator[World]:
    yield from _migrated(tmp_path / "home")


@pytest.fixture
def two_way_world(tmp_path: Path) -> Iterator[World]:
    """Two-way, the e-mail owned by both sides (a change on either side flows to the other)."""
    rules = Rules.model_validate({"sync": {"direction": "both"}, "ownership": {"email_address": "both"}})
    yield from _migrated(tmp_path / "home", rules)


def _lane(world: World, record: Callable[[Pass], None] | None = None) -> FastLane:
    return FastLane(world.settings, world.rules, record=record)


def _linked(world: World, count: int = 1, *, of: int = 0) -> list[tuple[int, str, int, str]]:
    """(party id, ContactNumber, e-mail row id, ContactID) of parties linked to a contact, with one e-mail:
    the ``of``-th ``count`` of them, so that tests sharing a world never edit one another's parties."""
    prefix = world.rules.xero.contact_number_prefix
    out = []
    with closing(CapsuleControl(world.server.capsule_url)) as capsule:
        for contact in sorted(xero_contacts(world), key=lambda c: c.get("ContactNumber") or ""):
            number = contact.get("ContactNumber") or ""
            if not number.startswith(prefix) or contact.get("ContactStatus") != "ACTIVE":
                continue
            party = capsule.get_party(int(number[len(prefix) :]))
            emails = (party or {}).get("emailAddresses") or []
            if len(emails) == 1:
                out.append((party["id"], number, emails[0]["id"], contact["ContactID"]))
            if len(out) == count * (of + 1):
                return out[count * of :]
    raise AssertionError("the generated world has too few linked parties with one e-mail address")


def _edit(world: World, party_id: int, email_row: int) -> tuple[str, dict[str, Any]]:
    address = f"fast{next(_addresses)}@example.com"
    with closing(CapsuleControl(world.server.capsule_url)) as capsule:
        party = capsule.update_party(party_id, {"emailAddresses": [{"id": email_row, "address": address}]})
    return address, party


def _hook(world: World, party: dict[str, Any], event: str = "party/updated") -> None:
    Spool.at_home(world.settings.home).put("capsule", {"event": event, "record": party})


def _xero_email(world: World, number: str) -> list[str]:
    return [c.get("EmailAddress") for c in xero_contacts(world) if c.get("ContactNumber") == number]


def _cursor(world: World) -> str:
    """The polling sensor's cursor as a sensor that has been running holds it: the newest change the
    last read saw (from an old cursor, a check follows only a few changes a tick)."""
    with world.connect() as con:
        ((newest,),) = con.execute("select max(updated_at) from raw.capsule_parties").fetchall()
    return f"{newest.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}"


def _polled(cursor: str) -> dg.SensorResult | dg.RunRequest | dg.SkipReason:
    return check_capsule(dg.build_sensor_context(cursor=cursor))


def _writes(world: World, since: int) -> list[dict[str, Any]]:
    """Xero's answered writes since ``since`` (the sandbox's clock runs fast, so an access token can
    expire mid-test: its 401 and the write repeated after the refresh are one write)."""
    return [call for call in world.xero_writes(since) if call["status"] != 401]


def _calls(world: World, api: str, since: int) -> list[Any]:
    return world.server.call(lambda: world.sandbox.calls.records(api, since))


def test_a_spooled_party_edit_reaches_xero_in_one_pass_and_dagster_records_its_plan(world: World) -> None:
    ((party_id, number, row, _),) = _linked(world, of=0)
    address, party = _edit(world, party_id, row)
    _hook(world, party)
    instance = dg.DagsterInstance.ephemeral()
    since = world.last_call()

    done = _lane(world, record=dagster_recorder(instance)).run_pass()

    assert done is not None and done.declined is None and done.result is not None
    assert _xero_email(world, number) == [address]
    assert len(_writes(world, since)) == 1
    spool = Spool.at_home(world.settings.home)
    assert spool.pending() == [] and list(spool.claimed.glob("*.json")) == []
    assert len(list(spool.done.glob("*.json"))) == 1
    event = instance.get_latest_materialization_event(WRITER_ASSET)
    assert event is not None and event.run_id == ""  # a materialisation without a run
    metadata = {key: value.value for key, value in event.asset_materialization.metadata.items()}
    assert metadata["plan"] == done.plan.plan_id and metadata["written"] is True
    assert metadata["updated"] == 1 and metadata["trigger"] == "webhook fast lane (no run)"


def test_a_party_changed_again_after_its_webhook_reaches_xero_with_its_latest_value_once(
    world: World,
) -> None:
    ((party_id, number, row, _),) = _linked(world, of=1)
    _, first = _edit(world, party_id, row)
    _hook(world, first)
    latest, _ = _edit(world, party_id, row)  # its own webhook is still on the way
    since = world.last_call()

    _lane(world).run_pass()

    assert _xero_email(world, number) == [latest]
    assert len(_writes(world, since)) == 1


def test_two_webhooks_for_one_party_in_one_second_are_one_read_and_one_write(world: World) -> None:
    ((party_id, number, row, _),) = _linked(world, of=2)
    address, party = _edit(world, party_id, row)
    _hook(world, party)
    _hook(world, party, "party/created")  # a second delivery for the same party (another hook)
    since = world.last_call()

    done = _lane(world).run_pass()

    assert done is not None and done.deliveries == 2 and done.plan is not None and done.plan.operations == 1
    assert _xero_email(world, number) == [address]
    assert len(_writes(world, since)) == 1
    capsule_reads = [c for c in _calls(world, "capsule", since) if c.method == "GET"]
    assert len(capsule_reads) == 2  # parties and deleted parties since the cursor, once
    assert _lane(world).run_pass() is None


def test_a_party_deleted_before_its_pass_is_never_written_or_recreated_and_its_archive_waits(
    own_world: World,
) -> None:
    world = own_world  # its archive waits for approval: every later plan in its world would wait too
    ((party_id, number, row, _),) = _linked(world)
    _, party = _edit(world, party_id, row)
    _hook(world, party)
    with closing(CapsuleControl(world.server.capsule_url)) as capsule:
        capsule.delete_party(party_id)
    since = world.last_call()

    done = _lane(world).run_pass()

    assert done is not None and done.plan is not None
    assert done.plan.counts.get("archive") == 1 and done.plan.waits_for_approval
    assert done.result is None and _writes(world, since) == []
    assert len(_xero_email(world, number)) == 1  # still one contact, untouched until a person approves


def test_a_change_whose_webhook_was_lost_is_synced_by_the_next_pass_or_in_the_polling_sensors_tick(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    (lost, announced, later) = _linked(world, 3, of=1)
    cursor = _cursor(world)
    lost_address, _ = _edit(world, lost[0], lost[2])  # its webhook never arrives
    announced_address, party = _edit(world, announced[0], announced[2])
    _hook(world, party)

    _lane(world).run_pass()

    assert _xero_email(world, lost[1]) == [lost_address]
    assert _xero_email(world, announced[1]) == [announced_address]
    env = world.server.env() | {"CAPSULE_XERO_HOME": str(world.settings.home), "CAPSULE_XERO_APPLY": "true"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    synced = _polled(cursor)
    assert isinstance(synced, dg.SkipReason) and "fast lane" in (synced.skip_message or "")

    later_address, _ = _edit(world, later[0], later[2])  # lost too, and no webhook follows it
    since = world.last_call()
    polled = _polled(cursor)

    assert isinstance(polled, dg.SensorResult) and not polled.run_requests  # no run worker to start
    (event,) = polled.asset_events
    assert event.asset_key == WRITER_ASSET and event.metadata["updated"].value == 1
    assert _xero_email(world, later[1]) == [later_address]
    assert len(_writes(world, since)) == 1


def test_a_polled_change_too_large_for_a_tick_is_left_to_an_incremental_run(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    ((party_id, number, row, _),) = _linked(world, of=7)
    cursor = _cursor(world)
    _edit(world, party_id, row)
    env = world.server.env() | {"CAPSULE_XERO_HOME": str(world.settings.home), "CAPSULE_XERO_APPLY": "true"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(polling, "IN_TICK_MAX_OPERATIONS", 0)
    since = world.last_call()

    polled = _polled(cursor)

    assert isinstance(polled, dg.RunRequest)
    assert _writes(world, since) == []
    world.sync()  # the run it started
    assert len(_writes(world, since)) == 1 and _xero_email(world, number)[0].startswith("fast")


def _with_xero_webhooks(world: World) -> World:
    world.settings = world.settings.model_copy(update={"xero_webhook_key": SecretStr("k" * 64)})
    return world


@pytest.fixture
def world_with_xero_webhooks(world: World) -> Iterator[World]:
    """The shared world, with XERO_WEBHOOK_KEY set for this test only."""
    without = world.settings
    yield _with_xero_webhooks(world)
    world.settings = without


def test_xero_echoes_of_its_own_writes_cost_no_call_and_another_change_in_xero_is_read(
    world_with_xero_webhooks: World,
) -> None:
    world = world_with_xero_webhooks
    ((party_id, _, row, contact_id),) = _linked(world, of=8)
    _, party = _edit(world, party_id, row)
    _hook(world, party)
    _lane(world).run_pass()
    spool = Spool.at_home(world.settings.home)
    echo = {"resourceId": contact_id, "eventCategory": "CONTACT", "eventType": "UPDATE", "sequence": 1}
    spool.put("xero", echo)
    since = world.last_call()

    quiet = _lane(world).run_pass()

    assert quiet is not None and quiet.echoes == 1 and quiet.plan is None
    assert _calls(world, "xero", since) == [] and _calls(world, "capsule", since) == []
    spool.put("xero", {**echo, "sequence": 2})  # a person's edit in Xero: no write of ours explains it
    read = _lane(world).run_pass()
    assert read is not None and read.echoes == 0 and read.read_xero == "an edit in Xero"
    assert read.plan is not None


def test_with_xero_webhooks_an_edit_after_an_update_is_written_without_reading_xero_or_undoing_it(
    two_way_world: World,
) -> None:
    # Two-way: an older copy of the first contact would read as an edit in Xero and be pulled back
    # into Capsule, undoing the first edit.
    world = _with_xero_webhooks(two_way_world)
    (first, second) = _linked(world, 2)
    first_address, party = _edit(world, first[0], first[2])
    _hook(world, party)
    _lane(world).run_pass()  # reads Xero: the copy is the migration's
    second_address, party = _edit(world, second[0], second[2])
    _hook(world, party)
    since = world.last_call()

    done = _lane(world).run_pass()

    assert done is not None and done.read_xero is None and done.plan is not None
    # Only the second party: the first's copy is older than its write, and the ledger stands for it.
    assert done.plan.operations == 1
    assert [c.method for c in _calls(world, "xero", since) if c.status != 401] == ["POST"]
    assert _xero_email(world, first[1]) == [first_address]
    assert _xero_email(world, second[1]) == [second_address]
    with closing(CapsuleControl(world.server.capsule_url)) as capsule:
        assert capsule.get_party(first[0])["emailAddresses"][0]["address"] == first_address


def test_an_event_the_fast_lane_does_not_handle_goes_back_to_the_sensors_run(world: World) -> None:
    spool = Spool.at_home(world.settings.home)
    spool.put("capsule", {"event": "opportunity/updated", "record": {"id": 1}})
    since = world.last_call()

    done = _lane(world).run_pass()

    assert done is not None and done.declined is not None and "opportunity/updated" in done.declined
    assert len(spool.pending()) == 1 and list(spool.claimed.glob("*.json")) == []
    assert _calls(world, "capsule", since) == [] and _calls(world, "xero", since) == []
    spool.mark_done(spool.pending())  # the sensor's run took it (the world is shared)


def test_claims_a_dead_receiver_left_go_back_to_the_queue_when_the_next_one_starts(tmp_path: Path) -> None:
    spool = Spool.at_home(tmp_path)
    spool.put("capsule", {"event": "party/updated", "record": {"id": 7}})
    spool.claim(spool.pending())
    assert spool.pending() == []

    class Lane:
        tenant, _who = "", ""

    lane = Lane()
    lane.spool = spool  # type: ignore[attr-defined]
    FastLaneWorker([lane])  # type: ignore[list-item]

    assert len(spool.pending()) == 1 and list(spool.claimed.glob("*.json")) == []


def test_a_receiver_on_a_home_that_never_had_a_delivery_starts_its_fast_lane(tmp_path: Path) -> None:
    spool = Spool.at_home(tmp_path / "fresh")

    class Lane:
        tenant, _who = "", ""

    lane = Lane()
    lane.spool = spool  # type: ignore[attr-defined]
    worker = FastLaneWorker([lane])  # type: ignore[list-item]
    worker.start()
    worker.stop()

    assert not worker.is_alive()


def test_the_sensor_leaves_fresh_deliveries_to_a_watching_fast_lane_and_takes_what_it_gives_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CAPSULE_XERO_HOME", str(tmp_path))
    spool = Spool.at_home(tmp_path)
    spool.put("capsule", {"event": "party/updated", "record": {"id": 2}})
    spool.beat()
    left = turn_spooled_events_into_runs(dg.build_sensor_context())
    assert isinstance(left, dg.SkipReason) and "fast lane" in (left.skip_message or "")

    (given_back,) = spool.pending()
    os.utime(given_back, (time.time() - 60, time.time() - 60))  # a delivery the lane gave back
    taken = turn_spooled_events_into_runs(dg.build_sensor_context())
    assert isinstance(taken, dg.SensorResult) and len(taken.run_requests) == 1
    beat = spool.root / ".fast-lane-beat"
    os.utime(beat, (time.time() - 60, time.time() - 60))  # the receiver stopped: fresh ones are the sensor's
    spool.put("capsule", {"event": "party/updated", "record": {"id": 3}})
    assert spool.fresh_for_fast_lane() == set()


def test_the_polling_sensors_first_check_starts_a_run_not_a_sync_in_its_tick(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = world.server.env() | {"CAPSULE_XERO_HOME": str(world.settings.home), "CAPSULE_XERO_APPLY": "true"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    ((party_id, number, row, _),) = _linked(world, of=9)
    address, _ = _edit(world, party_id, row)
    # As on an install whose fast lane never ran: from no cursor a check follows only a few of the
    # changes since Capsule began, and one the lane had synced would be skipped as such.
    (world.settings.home / SYNCED_THROUGH_FILE).unlink(missing_ok=True)
    since = world.last_call()

    first = check_capsule(dg.build_sensor_context())  # no cursor: everything since Capsule began

    assert isinstance(first, dg.RunRequest)
    assert _calls(world, "xero", since) == []
    world.sync()  # the run it started
    assert _xero_email(world, number) == [address]


def test_while_the_fast_lane_watches_polling_asks_capsule_only_every_five_minutes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Capsule at an address where nothing answers: a check that asks it says "Capsule not checked".
    monkeypatch.setenv("CAPSULE_XERO_HOME", str(tmp_path))
    monkeypatch.setenv("CAPSULE_API_TOKEN", "t" * 40)
    monkeypatch.setenv("CAPSULE_API_URL", "http://127.0.0.1:9/api/v2")
    monkeypatch.setattr(polling, "PACER_OPTIONS", {**polling.PACER_OPTIONS, "attempts": 1})
    (tmp_path / polling.POLLED_FILE).touch()  # a check a minute ago
    os.utime(tmp_path / polling.POLLED_FILE, (time.time() - 60, time.time() - 60))
    spool = Spool.at_home(tmp_path)

    without_lane = check_capsule(dg.build_sensor_context(cursor="2026-01-01T00:00:00Z"))
    spool.beat()
    backstop = check_capsule(dg.build_sensor_context(cursor="2026-01-01T00:00:00Z"))
    os.utime(tmp_path / polling.POLLED_FILE, (time.time() - 301, time.time() - 301))
    due = check_capsule(dg.build_sensor_context(cursor="2026-01-01T00:00:00Z"))

    assert isinstance(without_lane, dg.SkipReason) and "Capsule not checked" in (
        without_lane.skip_message or ""
    )
    assert isinstance(backstop, dg.SkipReason) and "backstop" in (backstop.skip_message or "")
    assert isinstance(due, dg.SkipReason) and "Capsule not checked" in (due.skip_message or "")
