"""The Xero contact writer: plain httpx through the shared authorisation and pacing.

``XeroContactWriter.write(operations)`` sends planned contact operations in batches and yields, per
batch, what happened to every item. Facts behind each choice: docs/api-facts.md#xero. Its parts, one
file each:

- ``xero_session.py``: the client (authorisation, pacing, timeouts), Idempotency-Keys, Xero's errors;
- ``xero_batches.py``: batches of at most 50 contacts and 3.5 MB of JSON per call
  (docs/api-facts.md#xero-writing-contacts), measured on the exact bytes sent. Creates go in
  ``PUT /Contacts`` (create only), everything else in ``POST /Contacts`` with the ContactID: a
  ``POST`` without a ContactID updates whichever *active* contact already has the same Name,
  silently overwriting someone else's contact, while a ``PUT`` refuses that with a validation
  error. The price is at most one extra call per run (creates and updates never share a batch).
  Every attempt carries a fresh Idempotency-Key (docs/api-facts.md#xero-idempotency-keys);
- ``xero_answers.py``: each item's outcome from Xero's answer (``?summarizeErrors=false``), and a
  lookup of what landed when the answer was lost. What stays unknown is reported ``unknown``
  (``transient``) and the run stops: the next run calls ``find_contacts`` before it sends anything
  again. A batch whose first attempt Xero refuses for its daily limit (a 429 is answered before
  anything is taken, docs/api-facts.md#xero-rate-limits) is ``not_sent``: nothing to look up, a later
  run sends it; the run stops there;
- ``xero_lookup.py``: contacts by ContactNumber and ContactID (docs/api-facts.md#xero-reading-contacts);
- ``xero_groups.py``: contact groups (docs/api-facts.md#xero-contact-groups);
- ``xero_notes.py``: History notes (docs/api-facts.md#xero-history-notes);
- ``xero_results.py``: what the writer reports.

``write(..., on_attempt=...)`` calls back *before* each attempt with the batch number, attempt, key
and operations, so an apply loop can record "about to send batch K" durably first and the outcomes
after (reverse_etl/apply/outbox.py). Nothing here logs a token.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx

from capsule_xero.settings import Settings
from capsule_xero.xero.auth import XeroAuth
from capsule_xero.xero.pacing import PacingPolicy
from reverse_etl.writers.payloads import ContactOperation
from reverse_etl.writers.xero_answers import AnswerReader, Batch
from reverse_etl.writers.xero_batches import MAX_BATCH, MAX_BODY_BYTES, ContactBatches
from reverse_etl.writers.xero_groups import ContactGroups
from reverse_etl.writers.xero_lookup import LOOKUP_MARGIN, ContactLookup
from reverse_etl.writers.xero_notes import HistoryNotes
from reverse_etl.writers.xero_results import (
    BatchAttempt,
    BatchResult,
    FoundContacts,
    GroupsEnsured,
    HistoryOutcome,
    MembershipResult,
)
from reverse_etl.writers.xero_session import XeroSession, now_utc


class XeroContactWriter:
    """Writes contacts, groups and notes to one Xero organisation.

    ``transport`` is the inner httpx transport (tests may pass one); every call still goes through
    the organisation's shared pacer. ``policy`` is the pacing policy (limits, retries, timeouts).
    """

    def __init__(
        self,
        settings: Settings,
        auth: XeroAuth,
        *,
        transport: httpx.BaseTransport | None = None,
        policy: PacingPolicy | None = None,
        max_batch: int = MAX_BATCH,
        max_bytes: int = MAX_BODY_BYTES,
        batch_attempts: int = 3,
        key_prefix: str = "capsule-xero-",
        lookup_margin: timedelta = LOOKUP_MARGIN,
        now: Callable[[], datetime] = now_utc,
    ) -> None:
        if not 1 <= max_batch <= MAX_BATCH:
            raise ValueError(f"max_batch must be between 1 and {MAX_BATCH}")
        self.settings = settings
        self.session = XeroSession(
            settings, auth, transport=transport, policy=policy, key_prefix=key_prefix, now=now
        )
        self.lookup = ContactLookup(self.session, lookup_margin)
        self.contacts = ContactBatches(
            self.session,
            AnswerReader(self.lookup),
            max_batch=max_batch,
            max_bytes=max_bytes,
            batch_attempts=batch_attempts,
        )
        self.groups = ContactGroups(self.session)
        self.notes = HistoryNotes(self.session)

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> XeroContactWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def new_key(self) -> str:
        return self.session.new_key()

    # ---- contacts ------------------------------------------------------------------------------
    def batches(self, operations: Iterable[ContactOperation], first_batch: int = 1) -> list[Batch]:
        """Operations in the order they are sent, cut at 50 items or 3.5 MB, whichever comes first."""
        return self.contacts.batches(operations, first_batch)

    def write(
        self,
        operations: Iterable[ContactOperation],
        *,
        on_attempt: Callable[[BatchAttempt], None] | None = None,
        first_batch: int = 1,
    ) -> Iterator[BatchResult]:
        """Send ``operations``; yield one ``BatchResult`` per batch as soon as it is settled.

        Raises (after yielding the batch it happened in) ``XeroUnavailable`` when Xero stayed
        unreachable even for the lookup, ``DailyLimitReached`` when the day's calls are used up,
        ``XeroWriteError`` for a refusal of the whole request (authorisation, configuration).
        """
        return self.contacts.write(operations, on_attempt, first_batch)

    def find_contacts(
        self,
        *,
        contact_numbers: Iterable[str] = (),
        contact_ids: Iterable[str] = (),
        modified_since: datetime | None = None,
    ) -> FoundContacts:
        """The contacts Xero holds with these ContactNumbers / ContactIDs (see ``ContactLookup.find``)."""
        return self.lookup.find(
            contact_numbers=contact_numbers, contact_ids=contact_ids, modified_since=modified_since
        )

    # ---- contact groups ------------------------------------------------------------------------
    def contact_groups(self) -> list[dict[str, Any]]:
        """Xero's active contact groups (``ContactGroupID``, ``Name``, ``Status``)."""
        return self.groups.active()

    def ensure_groups(self, names: Iterable[str]) -> GroupsEnsured:
        """Every named group's ContactGroupID, creating the missing ones (see ``ContactGroups.ensure``)."""
        return self.groups.ensure(names)

    def set_group_members(
        self, group_id: str, *, add: Iterable[str] = (), remove: Iterable[str] = ()
    ) -> MembershipResult:
        """Add contacts to a group and take others out (see ``ContactGroups.set_members``)."""
        return self.groups.set_members(group_id, add=add, remove=remove)

    # ---- History notes -------------------------------------------------------------------------
    def history(self, contact_id: str) -> list[dict[str, Any]]:
        """The contact's History records (``Changes``, ``DateUTC``, ``User``, ``Details``)."""
        return self.notes.history(contact_id)

    def add_history(self, contact_id: str, text: str) -> HistoryOutcome:
        """Add ``text`` to the contact's History, never twice (see ``HistoryNotes.add``)."""
        return self.notes.add(contact_id, text)
