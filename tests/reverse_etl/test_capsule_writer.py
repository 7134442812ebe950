"""Writing Xero ContactIDs back to a Capsule custom field, against the Capsule stand-in."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import httpx
import pytest

from capsule_xero.settings import Settings
from reverse_etl.writers.capsule import CapsuleWriteBack
from sandbox.app import Sandbox
from sandbox.capsule.control import CapsuleControl
from sandbox.generator import Dataset
from tests.reverse_etl.conftest import fast_capsule_pacer

PARTIES = "/api/v2/parties"


def party_ids(world: Dataset, count: int) -> list[int]:
    return [int(p["id"]) for p in world.capsule_parties[:count]]


def field_values(settings: Settings, party_id: int, name: str = "Xero Contact ID") -> list[Any]:
    """The party's values for the named field, as Capsule's API shows them."""
    response = httpx.get(
        f"{settings.capsule_api_url}/parties/{party_id}",
        params={"embed": "fields"},
        headers={"Authorization": f"Bearer {settings.capsule_api_token.get_secret_value()}"},
    )
    response.raise_for_status()
    return [f["value"] for f in response.json()["party"]["fields"] if f["definition"]["name"] == name]


def writes(ctl: CapsuleControl, since: int) -> list[dict[str, Any]]:
    return [c for c in ctl.calls("capsule", since) if c["method"] == "PUT"]


def test_contact_ids_are_written_to_the_configured_field_and_visible_in_a_capsule_get(
    settings: Settings, capsule_world: Dataset, ctl: CapsuleControl
) -> None:
    ids = {party: str(uuid.uuid4()) for party in party_ids(capsule_world, 3)}
    since = ctl.last_seq()
    with CapsuleWriteBack(settings, pacer=fast_capsule_pacer()) as back:
        result = back.write_contact_ids(ids)
    assert result.written == ids and result.complete and not result.failed
    assert len(writes(ctl, since)) == 3  # one PUT per party, after one read of the definitions
    assert len(ctl.calls("capsule", since)) == 4
    for party, contact_id in ids.items():
        assert field_values(settings, party) == [contact_id]


def test_writing_the_same_contact_id_again_keeps_one_value(
    settings: Settings, capsule_world: Dataset
) -> None:
    (party,) = party_ids(capsule_world, 1)
    with CapsuleWriteBack(settings, pacer=fast_capsule_pacer()) as back:
        back.write_contact_ids({party: "first-id"})
        back.write_contact_ids({party: "second-id"})
        back.write_contact_ids({party: "second-id"})
    assert field_values(settings, party) == ["second-id"]


def test_a_missing_field_definition_gives_one_warning_per_run_and_is_not_a_failure(
    settings: Settings, capsule_world: Dataset, ctl: CapsuleControl, caplog: pytest.LogCaptureFixture
) -> None:
    first, second = party_ids(capsule_world, 2)
    since = ctl.last_seq()
    back = CapsuleWriteBack(settings, pacer=fast_capsule_pacer(), field_name="Xero Ref")
    with caplog.at_level(logging.WARNING, logger="reverse_etl.writers.capsule"), back:
        one = back.write_contact_ids({first: "a"})
        two = back.write_contact_ids({second: "b"})
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "'Xero Ref'" in warnings[0].getMessage()
    assert one.pending == [first] and two.pending == [second] and not one.failed
    assert one.warning is not None and "Xero Ref" in one.warning
    assert writes(ctl, since) == []
    assert len(ctl.calls("capsule", since)) == 1  # the definitions, read once


def test_a_party_deleted_in_capsule_is_reported_and_the_others_are_written(
    settings: Settings, capsule_world: Dataset, ctl: CapsuleControl
) -> None:
    gone, kept = party_ids(capsule_world, 2)
    ctl.delete_party(gone)
    with CapsuleWriteBack(settings, pacer=fast_capsule_pacer()) as back:
        result = back.write_contact_ids({gone: "x", kept: "y"})
    assert result.written == {kept: "y"}
    assert result.failed == {gone: f"party {gone} no longer exists in Capsule"}


def test_a_write_back_that_met_a_server_error_is_sent_again(
    settings: Settings, capsule_world: Dataset, ctl: CapsuleControl
) -> None:
    (party,) = party_ids(capsule_world, 1)
    ctl.add_fault("capsule", "PUT", f"{PARTIES}/*", times=2, **{"500": 1.0})
    since = ctl.last_seq()
    with CapsuleWriteBack(settings, pacer=fast_capsule_pacer()) as back:
        result = back.write_contact_ids({party: "after-errors"})
    assert result.written == {party: "after-errors"}
    assert [c["status"] for c in writes(ctl, since)] == [500, 500, 200]
    assert field_values(settings, party) == ["after-errors"]


def test_the_write_back_stops_within_capsules_hourly_limit_and_keeps_the_rest_for_the_next_run(
    settings: Settings, capsule_world: Dataset, ctl: CapsuleControl, sandbox: Sandbox
) -> None:
    parties = party_ids(capsule_world, 4)
    now = sandbox.clock.timestamp()
    sandbox.clock.advance(3600 - now % 3600 + 10)  # 10 s into a fresh hour: the reset is ~an hour away
    ctl.set_rate_limit(limit=3, window_seconds=3600)
    since = ctl.last_seq()
    pacer = fast_capsule_pacer(clock=sandbox.clock.timestamp)
    with CapsuleWriteBack(settings, pacer=pacer) as back:
        result = back.write_contact_ids({p: f"id-{p}" for p in parties})
    assert list(result.written) == parties[:2]
    assert result.pending == parties[2:] and not result.complete
    assert result.stopped is not None and "run again after that" in result.stopped
    served = ctl.calls("capsule", since)
    assert len(served) == 3 and all(c["status"] != 429 for c in served)  # stopped, never refused
