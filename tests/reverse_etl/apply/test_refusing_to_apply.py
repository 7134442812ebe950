"""Refusing to apply: a plan computed against an older Xero, or one waiting for approval."""

from __future__ import annotations

from datetime import timedelta

import duckdb
import pytest

from capsule_xero.settings import Settings
from reverse_etl.apply.result import PlanNotApplicable
from reverse_etl.plans.model import StalePlanError
from reverse_etl.writers.capsule import CapsuleWriteBack
from reverse_etl.writers.xero import XeroContactWriter
from sandbox.control import SandboxControl
from tests.reverse_etl.plans_by_hand import T0, add_plan, create, plan_status, run


def test_a_plan_computed_against_an_older_xero_is_refused_before_anything_is_sent(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    writer: XeroContactWriter,
    back: CapsuleWriteBack,
    parties: list[int],
    control: SandboxControl,
) -> None:
    plan_id = add_plan(con, [create(parties[0])], xero_state_at=T0)
    con.execute("create schema if not exists raw")
    con.execute(
        "create table raw.xero_contacts (contact_id varchar, name varchar, contact_number varchar,"
        " updated_date_utc timestamptz)"
    )
    con.execute(
        "insert into raw.xero_contacts values ('abc', 'Edited Meanwhile', null, ?)",
        [T0 + timedelta(minutes=5)],
    )
    since = control.last_seq()
    with pytest.raises(StalePlanError, match="out of date"):
        run(con, settings, plan_id, writer, back)
    assert control.calls(None, since) == []
    assert plan_status(con, plan_id) == "approved"


def test_a_plan_waiting_for_approval_is_not_applied(
    con: duckdb.DuckDBPyConnection, settings: Settings, writer: XeroContactWriter, back: CapsuleWriteBack
) -> None:
    plan_id = add_plan(con, [create(1)], status="pending_approval")
    with pytest.raises(PlanNotApplicable, match=f"capsule-xero approve {plan_id}"):
        run(con, settings, plan_id, writer, back)
