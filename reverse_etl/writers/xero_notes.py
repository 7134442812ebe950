"""History notes: reading a contact's History and adding a note to it, never twice
(facts: docs/api-facts.md#xero-history-notes)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from capsule_xero.xero.pacing import XeroUnavailable
from reverse_etl.writers.payloads import encoded
from reverse_etl.writers.xero_results import HistoryOutcome
from reverse_etl.writers.xero_session import TRANSIENT_STATUSES, XeroSession, json_body, messages, problem

HISTORY_DETAILS_MAX = 2_500  # characters per note


def split_note(text: str, limit: int = HISTORY_DETAILS_MAX) -> list[str]:
    """A note cut into pieces of at most ``limit`` characters, at line ends where possible."""
    text = text.strip()
    if len(text) <= limit:
        return [text] if text else []
    notes: list[str] = []
    current = ""
    for line in text.splitlines(keepends=True):
        while len(line) > limit:
            if current:
                notes.append(current.rstrip())
                current = ""
            notes.append(line[:limit].rstrip())
            line = line[limit:]
        if len(current) + len(line) > limit:
            notes.append(current.rstrip())
            current = ""
        current += line
    if current.strip():
        notes.append(current.rstrip())
    return [note for note in notes if note.strip()]


class HistoryNotes:
    def __init__(self, session: XeroSession) -> None:
        self.session = session

    def history(self, contact_id: str) -> list[dict[str, Any]]:
        """The contact's History records (``Changes``, ``DateUTC``, ``User``, ``Details``)."""
        response = self.session.get(f"/Contacts/{contact_id}/History", None)
        return list((json_body(response) or {}).get("HistoryRecords") or ())

    def add(self, contact_id: str, text: str) -> HistoryOutcome:
        """Add ``text`` as a note to the contact's History, in one call (several notes when it is
        longer than 2,500 characters, cut at line ends).

        Notes cannot be edited or deleted, so a note must never be added twice: a retry after a lost
        answer carries the same key and Xero replays; when the transport gives up, the History is read
        to see whether the notes landed, and if that is not known either, ``XeroUnavailable`` stops
        the run (the next one checks ``history`` before adding again).
        """
        notes = split_note(text)
        if not notes:
            return HistoryOutcome(contact_id, True, [])
        try:
            response: httpx.Response | None = self.session.http.put(
                f"/Contacts/{contact_id}/History",
                content=encoded({"HistoryRecords": [{"Details": note} for note in notes]}),
                headers={"Idempotency-Key": self.session.new_key(), "Content-Type": "application/json"},
            )
        except (XeroUnavailable, httpx.TransportError):
            response = None
        if response is not None and response.status_code == 200:
            return HistoryOutcome(contact_id, True, notes)
        if response is None or response.status_code in TRANSIENT_STATUSES:
            present = [str(r.get("Details")) for r in self.history(contact_id)]
            if all(note in present for note in notes):
                return HistoryOutcome(contact_id, True, notes, "confirmed by reading the History")
            lost = "no answer" if response is None else problem(response)
            raise XeroUnavailable(f"adding a History note to {contact_id} kept failing ({lost})")
        body = json_body(response)
        errors: list[str] = []
        if isinstance(body, Mapping):
            for element in body.get("Elements") or ():
                errors += messages(element)
        if response.status_code == 404:
            errors = [f"the contact {contact_id} does not exist in Xero"]
        return HistoryOutcome(
            contact_id, False, notes, "; ".join(errors) or problem(response), error_kind="validation"
        )
