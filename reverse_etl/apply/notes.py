"""Step 5b of a run: the History notes of ``ledger.plan_notes``, each note_hash once, ever.
``ledger.note_outbox`` records a note before it is sent, and a note left there by a crash is settled
by reading the contact's History before anything is added (``recover``, at the start of every run).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reverse_etl.apply.context import RunContext
from reverse_etl.apply.recording import party_contacts
from reverse_etl.apply.written import SQL as WRITTEN_SQL
from reverse_etl.sqlfile import SqlFile, transaction
from reverse_etl.writers.xero_notes import split_note

SQL = SqlFile(Path(__file__).resolve().parent / "sql" / "notes.sql")


class NoteSender:
    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx

    def recover(self) -> None:
        """A History note whose call was never answered: read the History before sending it again."""
        for note in SQL.rows(self.ctx.con, "open_notes"):
            landed = False
            if note["note"]:
                present = {str(h.get("Details")) for h in self.ctx.writer.history(note["contact_id"])}
                landed = all(piece in present for piece in split_note(note["note"]))
            self._done(note, written=landed)

    def run(self) -> None:
        con, plan_id = self.ctx.con, self.ctx.plan_id
        notes = SQL.rows(con, "notes_to_add", {"plan_id": plan_id})
        if not notes:
            return
        created = {
            r["party_id"]: r["contact_id"]
            for r in party_contacts(con, plan_id)
            if r["operation"] != "archive"
        }
        for done, note in enumerate(notes, start=1):
            contact_id = note["contact_id"] or created.get(note["party_id"])
            if contact_id is None:
                contact_id = self._live_contact(note["party_id"])
            if contact_id is None:
                # No Xero contact (yet): its create failed or waits. The items stay un-noted, so the
                # next plan carries the note again.
                self.ctx.result.problems.append(
                    f"party {note['party_id']}: History note waits: the party has no Xero contact yet"
                )
                continue
            self._add(note, contact_id)
            self.ctx.progress("notes", done, len(notes))

    def _live_contact(self, party_id: int) -> str | None:
        live = WRITTEN_SQL.rows(self.ctx.con, "live_contact_of_party", {"party_id": party_id})
        return live[0]["contact_id"] if live else None

    def _add(self, note: dict[str, Any], contact_id: str) -> None:
        params = {"plan_id": self.ctx.plan_id, "party_id": note["party_id"], "contact_id": contact_id}
        SQL.execute(
            self.ctx.con, "note_sending", params | {"note_hash": note["note_hash"], "at": self.ctx.now()}
        )
        outcome = self.ctx.writer.add_history(contact_id, note["note"])
        self._done(note, written=outcome.ok)
        if outcome.ok:
            self.ctx.result.notes += 1
        else:
            self.ctx.result.problems.append(
                f"party {note['party_id']}: History note not added ({outcome.message}); the next plan tries again"
            )

    def _done(self, note: dict[str, Any], *, written: bool) -> None:
        """The note leaves the outbox; into ``ledger.history_notes`` when Xero holds it."""
        with transaction(self.ctx.con):
            if written:
                SQL.execute(
                    self.ctx.con,
                    "note_written",
                    {"note_hash": note["note_hash"], "item_keys": note["item_keys"], "at": self.ctx.now()},
                )
            SQL.execute(self.ctx.con, "note_done", {"note_hash": note["note_hash"]})
