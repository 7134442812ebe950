"""The ContactID written back to Capsule, within Capsule's hourly limit (reverse_etl/apply/write_back.py)."""

from __future__ import annotations

import duckdb

from capsule_xero.rules.model import Rules
from capsule_xero.settings import Settings
from capsule_xero.xero.auth import XeroAuth
from reverse_etl.writers.capsule import CapsuleWriteBack
from reverse_etl.writers.xero import XeroContactWriter
from sandbox.app import Sandbox
from sandbox.capsule.control import CapsuleControl
from sandbox.xero.control import XeroControl
from tests.reverse_etl.conftest import fast_capsule_pacer
from tests.reverse_etl.plans_by_hand import (
    add_plan,
    capsule_field,
    create,
    outcomes,
    query,
    run,
    sign_in_again,
)


def test_contact_ids_are_written_back_and_what_capsules_hourly_limit_stops_is_done_by_the_next_run(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    auth: XeroAuth,
    writer: XeroContactWriter,
    parties: list[int],
    ctl: CapsuleControl,
    sandbox: Sandbox,
    xero: XeroControl,
    tenant: str,
) -> None:
    plan_id = add_plan(con, [create(p) for p in parties[:5]])
    now = sandbox.clock.timestamp()
    sandbox.clock.advance(3600 - now % 3600 + 10)  # 10 s into a fresh hour: the reset is ~an hour away
    sign_in_again(auth, xero, tenant)  # the stand-in's clock moved past the access token's life
    ctl.set_rate_limit(limit=3, window_seconds=3600)
    with CapsuleWriteBack(settings, pacer=fast_capsule_pacer(clock=sandbox.clock.timestamp)) as back:
        first = run(con, settings, plan_id, writer, back)
    assert (first.status, first.written_back, first.write_backs_pending) == ("applied", 2, 3)
    assert any("next run" in p for p in first.problems)
    states = {r["party_id"]: r["state"] for r in query(con, "select * from ledger.capsule_write_backs")}
    assert sorted(states.values()) == ["pending", "pending", "pending", "written", "written"]

    sandbox.clock.advance(3600)  # the next hour, with Capsule's usual allowance
    sign_in_again(auth, xero, tenant)
    ctl.set_rate_limit(limit=4000, window_seconds=3600)
    with CapsuleWriteBack(settings, pacer=fast_capsule_pacer(clock=sandbox.clock.timestamp)) as back:
        second = run(con, settings, plan_id, writer, back)
    assert (second.written_back, second.write_backs_pending, second.write_calls) == (3, 0, 0)
    ids = {r["seq"]: r["contact_id"] for r in outcomes(con, plan_id).values()}
    for seq, party in enumerate(parties[:5], start=1):
        assert capsule_field(settings, party) == [ids[seq]]


def test_a_missing_capsule_field_gives_one_warning_and_keeps_the_write_backs_pending(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    writer: XeroContactWriter,
    back: CapsuleWriteBack,
    parties: list[int],
) -> None:
    rules = Rules.model_validate({"capsule": {"xero_contact_id_field": "Xero Ref"}})
    plan_id = add_plan(con, [create(p) for p in parties[:3]], rules=rules)
    result = run(con, settings, plan_id, writer, back, rules=rules)
    assert result.status == "applied" and result.created == 3
    warnings = [p for p in result.problems if "Xero Ref" in p]
    assert len(warnings) == 1
    assert [r["state"] for r in query(con, "select state from ledger.capsule_write_backs")] == ["pending"] * 3
