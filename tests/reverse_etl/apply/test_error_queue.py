"""The error queue: what Xero refused waits for a person, is released by one, and leaves on success."""

from __future__ import annotations

from datetime import timedelta

import duckdb

from capsule_xero.settings import Settings
from reverse_etl.apply.error_queue import release
from reverse_etl.writers.capsule import CapsuleWriteBack
from reverse_etl.writers.xero import XeroContactWriter
from sandbox.control import SandboxControl
from sandbox.xero.control import XeroControl
from tests.reverse_etl.conftest import by_number, xero_calls
from tests.reverse_etl.plans_by_hand import BALANCE, T0, add_plan, archive, create, outcomes, query, run


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
