"""The apply loop against the Xero and Capsule stand-ins: exactly once across crashes, the error queue,
the ledger and audit, groups, History notes and the ContactID write-back.

Plans are written into ``ledger.plans`` / ``ledger.plan_operations`` / ``ledger.plan_notes`` by hand
(the columns of reverse_etl/sql/plans.sql), so each test says exactly which operations it applies.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
import typer
from typer.testing import CliRunner

from capsule_xero.rules import Rules
from capsule_xero.settings import Settings
from capsule_xero.xero.auth import XeroAuth
from capsule_xero.xero.token_store import TokenSet
from cli.write import register
from reverse_etl.apply import ApplyResult, PlanNotApplicable, apply_plan, ensure_apply_tables, release
from reverse_etl.capsule_writer import CapsuleWriteBack
from reverse_etl.plans import StalePlanError
from reverse_etl.xero_writer import XeroContactWriter
from sandbox.app import Sandbox
from sandbox.capsule.control import CapsuleControl
from sandbox.control import SandboxControl
from sandbox.generator import Dataset, generate
from sandbox.server import SandboxServer
from sandbox.xero.control import XeroControl
from tests.reverse_etl.conftest import API, CONTACTS, QUICK, by_number, fast_capsule_pacer, xero_calls

Row = dict[str, Any]
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
BALANCE = {"AccountsReceivable": {"Outstanding": 250.0, "Overdue": 0.0}}


# ---- plans by hand ---------------------------------------------------------------------------------


def create(party: int, **fields: str | None) -> Row:
    values = {"contact_number": f"CAP-{party}", "name": f"Party {party} Pty Ltd", **fields}
    return {"operation": "create", "party_id": party, "contact_number": f"CAP-{party}", "after": values}


def update(party: int, contact: Row, after: dict[str, str | None], before: Row | None = None) -> Row:
    """An update of the fields in ``after``; ``before`` defaults to the values the contact has."""
    return {
        "operation": "update",
        "party_id": party,
        "contact_id": contact["ContactID"],
        "contact_number": contact.get("ContactNumber") or f"CAP-{party}",
        "after": after,
        "before": before if before is not None else {name: _xero_value(contact, name) for name in after},
    }


def archive(party: int, contact: Row) -> Row:
    return {
        "operation": "archive",
        "party_id": party,
        "contact_id": contact["ContactID"],
        "contact_number": contact.get("ContactNumber"),
        "after": {},
        "before": {},
    }


def _xero_value(contact: Row, name: str) -> str | None:
    xero = {
        "name": "Name",
        "email_address": "EmailAddress",
        "first_name": "FirstName",
        "last_name": "LastName",
    }
    return contact.get(xero[name]) if name in xero else None


def add_plan(
    con: duckdb.DuckDBPyConnection,
    operations: list[Row],
    *,
    status: str = "approved",
    notes: list[Row] = (),  # type: ignore[assignment]
    rules: Rules | None = None,
    xero_state_at: datetime | None = None,
) -> int:
    """Store a plan with these operations (seq = position) and notes; returns its number."""
    ensure_apply_tables(con)
    ((plan_id,),) = con.execute("select coalesce(max(plan_id), 0) + 1 from ledger.plans").fetchall()
    con.execute(
        "insert into ledger.plans (plan_id, created_at, rules_fingerprint, xero_state_at, capsule_state_at,"
        " status, approval_reasons, operation_counts, approved_at, applied_at, content_hash)"
        " values (?, ?, ?, ?, null, ?, [], '{}', ?, null, null)",
        [plan_id, T0, (rules or Rules()).fingerprint(), xero_state_at, status, T0],
    )
    for seq, op in enumerate(operations, start=1):
        con.execute(
            "insert into ledger.plan_operations (plan_id, seq, operation, party_id, contact_id, contact_number,"
            " changed_fields, after, before, kept_fields, reason, expect_refusal, name)"
            " values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                plan_id,
                seq,
                op["operation"],
                op["party_id"],
                op.get("contact_id"),
                op.get("contact_number"),
                op.get("changed_fields", list(op["after"])),
                json.dumps(op["after"]),
                json.dumps(op["before"]) if op.get("before") is not None else None,
                op.get("kept_fields", []),
                op.get("reason", f"test {op['operation']}"),
                op.get("expect_refusal", False),
                op["after"].get("name"),
            ],
        )
    for note in notes:
        con.execute(
            "insert into ledger.plan_notes values (?, ?, ?, ?, ?, ?)",
            [
                plan_id,
                note["party_id"],
                note.get("contact_id"),
                note["note_hash"],
                note["item_keys"],
                note["note"],
            ],
        )
    return plan_id


def query(con: duckdb.DuckDBPyConnection, text: str, params: list[Any] | None = None) -> list[Row]:
    result = con.execute(text, params or [])
    names = [d[0] for d in result.description]
    return [dict(zip(names, row, strict=True)) for row in result.fetchall()]


def outcomes(con: duckdb.DuckDBPyConnection, plan_id: int) -> dict[int, Row]:
    rows = query(con, "select * from ledger.operation_outcomes where plan_id = ?", [plan_id])
    return {r["seq"]: r for r in rows}


def plan_status(con: duckdb.DuckDBPyConnection, plan_id: int) -> str:
    return query(con, "select status from ledger.plans where plan_id = ?", [plan_id])[0]["status"]


def capsule_field(settings: Settings, party_id: int, name: str = "Xero Contact ID") -> list[Any]:
    import httpx

    response = httpx.get(
        f"{settings.capsule_api_url}/parties/{party_id}",
        params={"embed": "fields"},
        headers={"Authorization": f"Bearer {settings.capsule_api_token.reveal()}"},
    )
    response.raise_for_status()
    return [f["value"] for f in response.json()["party"]["fields"] if f["definition"]["name"] == name]


# ---- fixtures ----------------------------------------------------------------------------------------


def load_parties(server: SandboxServer, sandbox: Sandbox, count: int = 150) -> list[int]:
    """Ids of ``count`` generated Capsule parties, loaded into Capsule only (Xero starts empty)."""
    data: Dataset = generate(count, seed=11)
    server.call(sandbox.capsule.load, data)
    return [int(p["id"]) for p in data.capsule_parties]


def open_ledger(path: Path) -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect(str(path))
    ensure_apply_tables(connection)
    return connection


@pytest.fixture
def parties(server: SandboxServer, sandbox: Sandbox) -> list[int]:
    return load_parties(server, sandbox)


@pytest.fixture
def con(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    with open_ledger(tmp_path / "apply.duckdb") as connection:
        yield connection


@pytest.fixture
def back(settings: Settings) -> Iterator[CapsuleWriteBack]:
    with CapsuleWriteBack(settings, pacer=fast_capsule_pacer()) as client:
        yield client


def run(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    plan_id: int,
    writer: XeroContactWriter,
    back: CapsuleWriteBack,
    **options: Any,
) -> ApplyResult:
    return apply_plan(
        con, settings, options.pop("rules", Rules()), plan_id, writer=writer, capsule=back, **options
    )


def sign_in_again(auth: XeroAuth, xero: XeroControl, tenant: str) -> None:
    """A new access token from the stand-in, stored where ``auth login`` puts it (as the auth fixture)."""
    issued = xero.issue_token(tenant_ids=[tenant])
    auth.store.save(
        TokenSet(
            access_token=issued["access_token"],
            expires_at=datetime.now(UTC) + timedelta(minutes=20),
            scopes=list(issued["scopes"]),
            tenant_id=tenant,
        )
    )


class Killed(BaseException):
    """Stands for the process dying: nothing after it runs (no ``except Exception`` catches it)."""


class DiesAfterBatch(XeroContactWriter):
    """A writer whose process dies right after Xero answered batch ``die_after`` (counted from 1),
    before the apply loop could store the answer."""

    def __init__(self, *args: Any, die_after: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.die_after = die_after

    def write(self, operations: Any, **kwargs: Any) -> Iterator[Any]:  # type: ignore[override]
        for number, result in enumerate(super().write(operations, **kwargs), start=1):
            if number == self.die_after:
                raise Killed
            yield result


# ---- a plan lands once, in ceil(n / 50) writes -----------------------------------------------------


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


# ---- exactly once across crashes ---------------------------------------------------------------------


@pytest.mark.parametrize("die_after", [1, 2], ids=["after-the-post-batch", "after-a-create-batch"])
def test_a_run_killed_after_xero_committed_a_batch_is_settled_by_lookup_and_creates_nothing_twice(
    die_after: int,
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    auth: XeroAuth,
    writer: XeroContactWriter,
    back: CapsuleWriteBack,
    parties: list[int],
    xero: XeroControl,
    control: SandboxControl,
) -> None:
    old = {p: xero.create_contact(Name=f"Old {p}", ContactNumber=f"CAP-{p}") for p in parties[:3]}
    operations = [
        archive(parties[0], old[parties[0]]),
        archive(parties[1], old[parties[1]]),
        update(parties[2], old[parties[2]], {"name": "Renamed Pty Ltd"}),
        *(create(p) for p in parties[3:58]),  # 55 creates: a batch of 50 and one of 5
    ]
    plan_id = add_plan(con, operations)
    since = control.last_seq()
    with DiesAfterBatch(settings, auth, policy=QUICK, die_after=die_after) as dying, pytest.raises(Killed):
        run(con, settings, plan_id, dying, back)
    open_rows = query(con, "select * from ledger.outbox where state = 'sending'")
    assert len(open_rows) == 1 and not outcomes(con, plan_id).keys() & set(open_rows[0]["seqs"])

    result = run(con, settings, plan_id, writer, back)
    assert result.status == "applied" and result.recovered == (2 if die_after == 1 else 50)
    calls = xero_calls(control, since)
    puts = [c for c in calls if c["method"] == "PUT"]
    assert [c["batch_size"] for c in puts] == [50, 5]  # the committed batch was looked up, not sent again
    lookups = [c for c in calls if c["method"] == "GET"]
    assert len(lookups) == 1  # one lookup settles the whole batch
    held = by_number(xero)
    assert all(len(held[f"CAP-{p}"]) == 1 for p in parties[:58])
    assert held[f"CAP-{parties[0]}"][0]["ContactStatus"] == "ARCHIVED"
    assert held[f"CAP-{parties[2]}"][0]["Name"] == "Renamed Pty Ltd"
    stored = outcomes(con, plan_id)
    assert {r["status"] for r in stored.values()} == {"archived", "updated", "created"}
    assert all(
        stored[s]["contact_id"] == held[op["contact_number"]][0]["ContactID"]
        for s, op in enumerate(operations, 1)
    )
    assert query(con, "select count(*) as n from ledger.outbox where state <> 'settled'")[0]["n"] == 0
    ledger_rows = query(con, "select count(*) as n from ledger.written_contacts")[0]["n"]
    assert ledger_rows == 58
    audit_rows = query(
        con, "select seq, field, count(*) as n from ledger.audit group by all having count(*) > 1"
    )
    assert audit_rows == []  # every change audited once, settled by lookup or not


def test_a_sigkilled_apply_leaves_its_outbox_committed_and_the_next_run_creates_nothing_twice(
    con: duckdb.DuckDBPyConnection,
    tmp_path: Path,
    settings: Settings,
    auth: XeroAuth,
    writer: XeroContactWriter,
    back: CapsuleWriteBack,
    parties: list[int],
    xero: XeroControl,
    control: SandboxControl,
    server: SandboxServer,
) -> None:
    """A real kill -9 of another process right after Xero committed the first batch: what that process
    committed to DuckDB before the send survives, and the next run settles the batch by lookup."""
    plan_id = add_plan(con, [create(p) for p in parties[:60]])
    con.close()
    script = (
        "import os, signal, duckdb\n"
        "from capsule_xero.rules import Rules\n"
        "from capsule_xero.settings import Settings\n"
        "from capsule_xero.xero.auth import XeroAuth\n"
        "from reverse_etl.apply import apply_plan\n"
        "from reverse_etl.capsule_writer import CapsuleWriteBack\n"
        "from reverse_etl.xero_writer import XeroContactWriter\n"
        "class Dies(XeroContactWriter):\n"
        "    def write(self, operations, **kwargs):\n"
        "        for result in super().write(operations, **kwargs):\n"
        "            os.kill(os.getpid(), signal.SIGKILL)\n"
        "            yield result\n"
        "settings = Settings.from_env()\n"
        "con = duckdb.connect(os.environ['APPLY_DB'])\n"
        "apply_plan(con, settings, Rules(), int(os.environ['PLAN_ID']),\n"
        "           writer=Dies(settings, XeroAuth(settings)), capsule=CapsuleWriteBack(settings))\n"
    )
    env = {
        **os.environ,
        **server.env(),
        "CAPSULE_XERO_HOME": str(settings.home),
        "XERO_TENANT_ID": settings.xero_tenant_id,
        "APPLY_DB": str(tmp_path / "apply.duckdb"),
        "PLAN_ID": str(plan_id),
    }
    since = control.last_seq()
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    assert len(by_number(xero)) == 50  # Xero committed the first batch before the kill

    again = duckdb.connect(str(tmp_path / "apply.duckdb"))
    try:
        sending = query(again, "select seqs from ledger.outbox where state = 'sending'")
        assert [len(r["seqs"]) for r in sending] == [50]  # recorded, committed, before the request left
        result = run(again, settings, plan_id, writer, back)
        assert (result.status, result.recovered, result.created) == ("applied", 50, 60)
        assert [c["batch_size"] for c in xero_calls(control, since, "PUT")] == [50, 10]
        held = by_number(xero)
        assert sorted(len(v) for v in held.values()) == [1] * 60
    finally:
        again.close()


def test_an_answer_lost_for_good_is_recorded_unknown_and_settled_by_lookup_on_the_next_run(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    auth: XeroAuth,
    back: CapsuleWriteBack,
    parties: list[int],
    xero: XeroControl,
    control: SandboxControl,
) -> None:
    """Xero committed the batch and dropped the connection; the transport's retries and the writer's
    lookup both met a down Xero: the items stay unknown, the run stops, nothing is resent blind."""
    plan_id = add_plan(con, [create(p) for p in parties[:4]])
    control.add_fault("xero", "PUT", CONTACTS, times=2, drop=1.0)  # both tries of the transport
    control.add_fault("xero", "GET", CONTACTS, times=2, **{"503": 1.0})  # and the writer's lookup
    since = control.last_seq()
    with XeroContactWriter(settings, auth, policy=replace(QUICK, attempts=2), batch_attempts=1) as flaky:
        first = run(con, settings, plan_id, flaky, back)
    assert first.stopped is not None and first.unknown == 4 and first.status == "partly_applied"
    assert {r["status"] for r in outcomes(con, plan_id).values()} == {"unknown"}
    assert query(con, "select state from ledger.outbox")[0]["state"] == "answered"
    assert len(by_number(xero)) == 4  # landed, though nobody heard

    with XeroContactWriter(settings, auth, policy=QUICK) as healthy:
        second = run(con, settings, plan_id, healthy, back)
    assert (second.status, second.recovered) == ("applied", 4)
    assert len(xero_calls(control, since, "PUT")) == 2  # the dropped PUT and its retry, never sent again
    assert sorted(len(v) for v in by_number(xero).values()) == [1, 1, 1, 1]


# ---- the error queue ---------------------------------------------------------------------------------


def test_a_validation_error_waits_for_a_person_at_once_and_is_not_sent_again_until_the_record_changes(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    writer: XeroContactWriter,
    back: CapsuleWriteBack,
    parties: list[int],
    xero: XeroControl,
    control: SandboxControl,
) -> None:
    bad, good = parties[0], parties[1]
    plan_id = add_plan(con, [create(bad, name="Smith <Plumbing> Pty Ltd"), create(good)])
    since = control.last_seq()
    result = run(con, settings, plan_id, writer, back, now=T0)
    assert (result.created, result.failed, result.status) == (1, 1, "applied")
    (entry,) = query(con, "select * from ledger.error_queue")
    assert (entry["party_id"], entry["operation"], entry["error_kind"], entry["state"]) == (
        bad,
        "create",
        "validation",
        "dead",  # waits for a person now: sending it again would get the same answer
    )
    assert (entry["attempts"], entry["next_attempt_at"]) == (1, None)
    (said,) = [p for p in result.problems if f"party {bad}" in p]
    assert f"CAP-{bad}" in said and "waits for a person" in said
    assert entry["message"] and entry["message"] in said  # Xero's own words, with the record named
    assert len(xero_calls(control, since, "PUT")) == 1

    # Days later the reconcile still wants the very same create: it is not sent, however often.
    for days in (1, 30):
        again = add_plan(con, [create(bad, name="Smith <Plumbing> Pty Ltd")])
        since = control.last_seq()
        held = run(con, settings, again, writer, back, now=T0 + timedelta(days=days))
        assert held.queued == 1 and xero_calls(control, since, "PUT") == []
        assert "waits for a person" in outcomes(con, again)[1]["message"]
    assert query(con, "select attempts from ledger.error_queue")[0]["attempts"] == 1

    # The name is fixed in Capsule: the changed create is sent, lands, and leaves the queue.
    fixed = add_plan(con, [create(bad, name="Smith Plumbing Pty Ltd")])
    done = run(con, settings, fixed, writer, back, now=T0 + timedelta(days=31))
    assert done.created == 1 and query(con, "select * from ledger.error_queue") == []
    assert [c["Name"] for c in by_number(xero)[f"CAP-{bad}"]] == ["Smith Plumbing Pty Ltd"]


def test_a_person_can_release_a_waiting_record_to_be_sent_again_as_it_is(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    writer: XeroContactWriter,
    back: CapsuleWriteBack,
    parties: list[int],
    control: SandboxControl,
) -> None:
    refused = create(parties[0], name="Smith <Plumbing> Pty Ltd")
    assert run(con, settings, add_plan(con, [refused]), writer, back, now=T0).failed == 1
    assert run(con, settings, add_plan(con, [refused]), writer, back, now=T0 + timedelta(hours=1)).queued == 1

    assert release(con, [parties[0], 999]) == [parties[0]]  # 999 waits for nothing: not released
    since = control.last_seq()
    again = run(con, settings, add_plan(con, [refused]), writer, back, now=T0 + timedelta(hours=2))
    assert again.failed == 1 and len(xero_calls(control, since, "PUT")) == 1  # sent once more, as it is
    (entry,) = query(con, "select * from ledger.error_queue")
    assert (entry["state"], entry["attempts"]) == ("dead", 2)  # and waits again
    assert run(con, settings, add_plan(con, [refused]), writer, back, now=T0 + timedelta(days=9)).queued == 1


def test_a_success_takes_the_party_out_of_the_error_queue(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    writer: XeroContactWriter,
    back: CapsuleWriteBack,
    parties: list[int],
    xero: XeroControl,
) -> None:
    taken = xero.create_contact(Name="Taken Pty Ltd")
    failing = add_plan(con, [create(parties[0], name="Taken Pty Ltd")])
    run(con, settings, failing, writer, back, now=T0)
    xero.edit_contact(taken["ContactID"], Name="Renamed By A Person")
    fixed = add_plan(con, [create(parties[0], name="Taken Pty Ltd")])
    result = run(con, settings, fixed, writer, back, now=T0 + timedelta(hours=1))
    assert result.created == 1
    assert query(con, "select * from ledger.error_queue") == []


def test_an_archive_refused_for_a_repeating_invoice_is_queued_as_refused_with_the_reason(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    writer: XeroContactWriter,
    back: CapsuleWriteBack,
    parties: list[int],
    xero: XeroControl,
) -> None:
    owing = xero.create_contact(Name="Owes Us Pty Ltd", ContactNumber=f"CAP-{parties[0]}", Balances=BALANCE)
    xero.add_repeating_invoice(owing["ContactID"])
    plan_id = add_plan(con, [archive(parties[0], owing)])
    result = run(con, settings, plan_id, writer, back, now=T0)
    assert (result.refused, result.archived, result.status) == (1, 0, "applied")
    (entry,) = query(con, "select * from ledger.error_queue")
    assert (entry["error_kind"], entry["operation"], entry["contact_id"]) == (
        "refused",
        "archive",
        owing["ContactID"],
    )
    assert "repeating invoice" in entry["message"]
    assert outcomes(con, plan_id)[1]["status"] == "refused"
    assert xero.contact(owing["ContactID"])["ContactStatus"] == "ACTIVE"
    assert query(con, "select * from ledger.written_contacts") == []


# ---- refusing to apply -------------------------------------------------------------------------------


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


# ---- around the contact --------------------------------------------------------------------------------


def test_groups_are_created_and_membership_set_for_new_and_changed_contacts(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    writer: XeroContactWriter,
    back: CapsuleWriteBack,
    parties: list[int],
    xero: XeroControl,
    control: SandboxControl,
) -> None:
    member = xero.create_contact(Name="Member Pty Ltd", ContactNumber=f"CAP-{parties[0]}")
    vip = writer.ensure_groups(["VIP", "Christmas Cards"]).ids
    writer.set_group_members(vip["VIP"], add=[member["ContactID"]])
    writer.set_group_members(vip["Christmas Cards"], add=[member["ContactID"]])
    plan_id = add_plan(
        con,
        [
            create(parties[1], contact_groups='["VIP","Wholesale"]'),
            {
                **update(parties[0], member, {"name": "Member Renamed"}),
                "after": {"name": "Member Renamed", "contact_groups": '["Wholesale"]'},
                "before": {"name": "Member Pty Ltd", "contact_groups": '["VIP"]'},
            },
        ],
    )
    since = control.last_seq()
    result = run(con, settings, plan_id, writer, back)
    assert result.groups_changed == 2 and not [p for p in result.problems if "group" in p]
    groups = {g["Name"]: {c["ContactID"] for c in g.get("Contacts", [])} for g in xero.groups()}
    new_id = outcomes(con, plan_id)[1]["contact_id"]
    assert groups["Wholesale"] == {new_id, member["ContactID"]}
    assert groups["VIP"] == {new_id}
    assert groups["Christmas Cards"] == {member["ContactID"]}  # a group this tool does not manage stays
    ledger = {
        r["contact_id"]: r["contact_groups"] for r in query(con, "select * from ledger.written_contacts")
    }
    assert ledger == {new_id: '["VIP","Wholesale"]', member["ContactID"]: '["Wholesale"]'}
    group_calls = [c for c in control.calls("xero", since) if c["path"].startswith(f"{API}/ContactGroups")]
    assert (
        len([c for c in group_calls if c["method"] == "PUT" and c["path"].endswith("/Contacts")]) == 2
    )  # one per group
    audit = query(
        con, "select seq, before, after from ledger.audit where field = 'contact_groups' order by seq"
    )
    assert [(r["seq"], r["before"], r["after"]) for r in audit] == [
        (1, None, '["VIP","Wholesale"]'),
        (2, '["VIP"]', '["Wholesale"]'),
    ]


def _note(party: int, text: str, contact_id: str | None = None) -> Row:
    return {
        "party_id": party,
        "contact_id": contact_id,
        "note_hash": f"hash-{party}-{len(text)}",
        "item_keys": [f"task:{party}@2026-03-01T00:00:00Z"],
        "note": text,
    }


def test_a_history_note_is_added_once_to_the_new_contact_and_never_again(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    writer: XeroContactWriter,
    back: CapsuleWriteBack,
    parties: list[int],
    xero: XeroControl,
    control: SandboxControl,
) -> None:
    note = _note(parties[0], 'Capsule update 2026-03-01: New task "Call back" due 2026-03-09')
    plan_id = add_plan(con, [create(parties[0])], notes=[note])
    result = run(con, settings, plan_id, writer, back)
    contact_id = outcomes(con, plan_id)[1]["contact_id"]
    assert result.notes == 1
    assert [h["Details"] for h in xero.history(contact_id) if h["Changes"] == "Note"] == [note["note"]]
    (noted,) = query(con, "select * from ledger.history_notes")
    assert (noted["contact_id"], noted["note_hash"], noted["item_keys"]) == (
        contact_id,
        note["note_hash"],
        note["item_keys"],
    )

    again = add_plan(
        con,
        [update(parties[0], {"ContactID": contact_id}, {"name": "Renamed"}, before={"name": "x"})],
        notes=[note],
    )
    since = control.last_seq()
    second = run(con, settings, again, writer, back)
    assert second.notes == 0
    assert xero_calls(control, since, "PUT", path=f"{CONTACTS}/{contact_id}/History") == []
    assert len([h for h in xero.history(contact_id) if h["Changes"] == "Note"]) == 1


def test_a_note_whose_answer_was_lost_in_a_crash_is_found_in_the_history_not_added_twice(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    auth: XeroAuth,
    writer: XeroContactWriter,
    back: CapsuleWriteBack,
    xero: XeroControl,
    control: SandboxControl,
) -> None:
    contact = xero.create_contact(Name="Noted Pty Ltd", ContactNumber="CAP-7")
    note = _note(7, 'Capsule update 2026-03-01: Opportunity "Fit-out" won, A$12,000', contact["ContactID"])
    plan_id = add_plan(con, [], notes=[note])

    class DiesAfterNote(XeroContactWriter):
        def add_history(self, contact_id: str, text: str) -> Any:
            super().add_history(contact_id, text)
            raise Killed

    with DiesAfterNote(settings, auth, policy=QUICK) as dying, pytest.raises(Killed):
        run(con, settings, plan_id, dying, back)
    assert len(query(con, "select * from ledger.note_outbox")) == 1
    since = control.last_seq()
    result = run(con, settings, plan_id, writer, back)
    assert result.notes == 0 and result.status == "applied"
    assert xero_calls(control, since, "PUT", path=f"{CONTACTS}/{contact['ContactID']}/History") == []
    assert len([h for h in xero.history(contact["ContactID"]) if h["Changes"] == "Note"]) == 1
    assert [r["note_hash"] for r in query(con, "select * from ledger.history_notes")] == [note["note_hash"]]
    assert query(con, "select * from ledger.note_outbox") == []


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


# ---- the command -------------------------------------------------------------------------------------


def command_env(monkeypatch: pytest.MonkeyPatch, server: SandboxServer, settings: Settings) -> None:
    """The environment ``capsule-xero`` reads, pointing at the stand-ins and the signed-in home."""
    env = server.env() | {"CAPSULE_XERO_HOME": str(settings.home), "XERO_TENANT_ID": settings.xero_tenant_id}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("CAPSULE_XERO_CONFIG", raising=False)


def cli() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


def test_the_apply_command_reads_xero_writes_the_newest_approved_plan_and_then_has_nothing_to_do(
    monkeypatch: pytest.MonkeyPatch,
    server: SandboxServer,
    settings: Settings,
    auth: XeroAuth,
    parties: list[int],
    xero: XeroControl,
    control: SandboxControl,
) -> None:
    command_env(monkeypatch, server, settings)
    with open_ledger(settings.duckdb_path) as con:
        plan_id = add_plan(con, [create(p) for p in parties[:3]])
    since = control.last_seq()
    first = CliRunner().invoke(cli(), ["apply"])
    assert first.exit_code == 0, first.output
    assert "3 created" in first.output and f"Plan {plan_id} is applied" in first.output
    assert len(by_number(xero)) == 3
    contact_calls = [(c["method"], c["path"]) for c in control.calls("xero", since) if c["path"] == CONTACTS]
    assert contact_calls[0] == ("GET", CONTACTS) and contact_calls[-1] == (
        "PUT",
        CONTACTS,
    )  # read, then write
    again = CliRunner().invoke(cli(), ["apply"])
    assert (
        again.exit_code == 0 and f"Nothing to apply: the newest plan, {plan_id}, is applied" in again.output
    )


def test_the_apply_command_refuses_a_plan_xero_has_moved_on_from_and_exits_1(
    monkeypatch: pytest.MonkeyPatch,
    server: SandboxServer,
    settings: Settings,
    auth: XeroAuth,
    parties: list[int],
    xero: XeroControl,
) -> None:
    command_env(monkeypatch, server, settings)
    with open_ledger(settings.duckdb_path) as con:
        plan_id = add_plan(con, [create(parties[0])], xero_state_at=datetime.now(UTC) - timedelta(days=1))
    xero.create_contact(Name="Made By A Person Meanwhile")
    result = CliRunner().invoke(cli(), ["apply", str(plan_id)])
    assert result.exit_code == 1 and "out of date" in result.output
    assert [c["Name"] for c in xero.contacts()] == ["Made By A Person Meanwhile"]


def test_the_retry_command_releases_a_waiting_record_and_says_which_were_not_waiting(
    monkeypatch: pytest.MonkeyPatch,
    server: SandboxServer,
    settings: Settings,
    writer: XeroContactWriter,
    back: CapsuleWriteBack,
    parties: list[int],
) -> None:
    command_env(monkeypatch, server, settings)
    refused = create(parties[0], name="Smith <Plumbing> Pty Ltd")
    with open_ledger(settings.duckdb_path) as con:
        assert run(con, settings, add_plan(con, [refused]), writer, back, now=T0).failed == 1
    result = CliRunner().invoke(cli(), ["retry", str(parties[0]), "42"])
    assert result.exit_code == 1  # 42 was not waiting: said, not silently passed over
    assert f"Released {parties[0]}: the next `capsule-xero sync --apply` sends it again." in result.output
    assert "Not waiting in the error queue: 42" in result.output
    with open_ledger(settings.duckdb_path) as con:
        again = run(con, settings, add_plan(con, [refused]), writer, back, now=T0 + timedelta(hours=1))
    assert (again.failed, again.queued) == (1, 0)  # sent again as it was, and refused again


# ---- Xero's daily limit --------------------------------------------------------------------------------


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
