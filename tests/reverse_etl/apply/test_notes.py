"""History notes: added once, and a note whose answer was lost is found in the History."""

from __future__ import annotations

from typing import Any

import duckdb
import pytest

from capsule_xero.settings import Settings
from capsule_xero.xero.auth import XeroAuth
from reverse_etl.writers.capsule import CapsuleWriteBack
from reverse_etl.writers.xero import XeroContactWriter
from sandbox.control import SandboxControl
from sandbox.xero.control import XeroControl
from tests.reverse_etl.conftest import CONTACTS, QUICK, xero_calls
from tests.reverse_etl.plans_by_hand import Killed, Row, add_plan, create, outcomes, query, run, update


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
