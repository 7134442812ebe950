"""Contact writes: a plan lands once, in ceil(n / 50) writes, with the ledger and audit; Xero's daily
limit stops writing with one message and the rest goes the next day.
"""

from __future__ import annotations

import math

import duckdb

from capsule_xero.settings import Settings
from capsule_xero.xero.auth import XeroAuth
from reverse_etl.writers.capsule import CapsuleWriteBack
from reverse_etl.writers.xero import XeroContactWriter
from sandbox.app import Sandbox
from sandbox.control import SandboxControl
from sandbox.xero.control import XeroControl
from tests.reverse_etl.conftest import CONTACTS, QUICK, by_number, xero_calls
from tests.reverse_etl.plans_by_hand import (
    Row,
    add_plan,
    archive,
    capsule_field,
    create,
    outcomes,
    plan_status,
    query,
    run,
    sign_in_again,
    update,
)


def test_a_plan_of_creates_updates_and_archives_lands_in_ceil_n_over_50_writes_with_ledger_and_audit(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    writer: XeroContactWriter,
    back: CapsuleWriteBack,
    parties: list[int],
    xero: XeroControl,
    control: SandboxControl,
) -> None:
    updated = parties[:30]
    archived = parties[30:50]
    created = parties[50:120]
    existing = {
        p: xero.create_contact(Name=f"Old {p}", ContactNumber=f"CAP-{p}", EmailAddress=f"old@{p}.com.au")
        for p in [*updated, *archived]
    }
    operations = [
        *(create(p, email_address=f"hello@{p}.com.au", phone_default="+61290000000") for p in created),
        *(update(p, existing[p], {"email_address": f"new@{p}.com.au"}) for p in updated),
        *(archive(p, existing[p]) for p in archived),
    ]
    plan_id = add_plan(con, operations)
    since = control.last_seq()
    result = run(con, settings, plan_id, writer, back)

    writes = [
        c for c in control.calls("xero", since) if c["path"] == CONTACTS and c["method"] in ("PUT", "POST")
    ]
    assert len(writes) == math.ceil(50 / 50) + math.ceil(70 / 50) == result.write_calls  # 50 POST, 70 PUT
    assert (result.created, result.updated, result.archived, result.failed) == (70, 30, 20, 0)
    assert result.status == plan_status(con, plan_id) == "applied"
    held = by_number(xero)
    assert all(len(held[f"CAP-{p}"]) == 1 for p in parties[:120])  # one contact per party, no duplicate

    stored = outcomes(con, plan_id)
    ledger = {r["contact_id"]: r for r in query(con, "select * from ledger.written_contacts")}
    for seq, op in enumerate(operations, start=1):
        (contact,) = held[op["contact_number"]]
        assert stored[seq]["contact_id"] == contact["ContactID"]
        row = ledger[contact["ContactID"]]
        assert row["party_id"] == op["party_id"] and row["plan_id"] == plan_id
        if op["operation"] == "create":
            assert (row["name"], row["email_address"], row["phone_default"]) == (
                op["after"]["name"],
                op["after"]["email_address"],
                "+61290000000",
            )
            assert row["contact_status"] == "ACTIVE"
        elif op["operation"] == "update":
            assert contact["EmailAddress"] == row["email_address"] == op["after"]["email_address"]
        else:
            assert contact["ContactStatus"] == row["contact_status"] == "ARCHIVED"

    audit = query(con, "select * from ledger.audit where plan_id = ? order by seq, field", [plan_id])
    by_seq: dict[int, list[Row]] = {}
    for row in audit:
        by_seq.setdefault(row["seq"], []).append(row)
    first_update = len(created) + 1
    assert [(r["field"], r["before"], r["after"]) for r in by_seq[first_update]] == [
        ("email_address", f"old@{updated[0]}.com.au", f"new@{updated[0]}.com.au")
    ]
    assert [(r["field"], r["before"], r["after"]) for r in by_seq[len(operations)]] == [
        ("contact_status", "ACTIVE", "ARCHIVED")
    ]
    assert {r["field"] for r in by_seq[1]} == {
        "contact_status",
        "contact_number",
        "name",
        "email_address",
        "phone_default",
    }
    assert capsule_field(settings, created[0]) == [stored[1]["contact_id"]]  # written back to Capsule
    assert result.written_back == 100  # the created and the updated; archived parties are gone from Capsule

    # The same plan again: nothing is sent to Xero or to Capsule.
    since = control.last_seq()
    again = run(con, settings, plan_id, writer, back)
    assert control.calls(None, since) == []
    assert (again.created, again.updated, again.archived, again.write_calls, again.written_back) == (
        0,
        0,
        0,
        0,
        0,
    )


def test_the_daily_limit_stops_writing_with_one_message_and_what_was_not_sent_goes_on_the_next_day(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    writer: XeroContactWriter,
    back: CapsuleWriteBack,
    parties: list[int],
    xero: XeroControl,
    control: SandboxControl,
    sandbox: Sandbox,
    tenant: str,
    auth: XeroAuth,
) -> None:
    plan_id = add_plan(con, [create(p) for p in parties[:120]])  # three PUT batches: 50, 50, 20
    xero.set_limits(tenant, day=1)  # the first batch is the day's last call
    since = control.last_seq()
    stopped = run(con, settings, plan_id, writer, back)

    assert [c["status"] for c in xero_calls(control, since, "PUT")] == [200, 429]
    counts = stopped.counts()
    assert (counts["created"], counts["not_sent"], counts["unknown"]) == (50, 70, 0)
    assert stopped.status == "partly_applied" and stopped.stopped is not None
    said = [*stopped.problems, stopped.stopped]
    assert sum("daily call limit" in line for line in said) == 1  # one message, not one per contact
    assert "Reads stopped" not in stopped.stopped and ".." not in stopped.stopped
    assert "not sent" in stopped.stopped
    # A 429 means Xero took nothing: the 70 are not sent (no outcome), not unknown, and not looked up.
    assert sorted(r["status"] for r in outcomes(con, plan_id).values()) == ["created"] * 50
    assert query(con, "select * from ledger.outbox where state <> 'settled'") == []

    sandbox.clock.advance(86_400)  # the organisation's daily window resets
    sign_in_again(auth, xero, tenant)
    xero.set_limits(tenant, day=5000)
    since = control.last_seq()
    with XeroContactWriter(settings, auth, policy=QUICK) as next_day:
        finished = run(con, settings, plan_id, next_day, back)
    assert (finished.status, finished.created, finished.recovered) == ("applied", 70, 0)
    assert [c["method"] for c in control.calls("xero", since) if c["path"].startswith(CONTACTS)] == [
        "PUT",
        "PUT",
    ]
    assert sorted(len(found) for found in by_number(xero).values()) == [1] * 120
