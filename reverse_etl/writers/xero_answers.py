"""Reading what Xero did with a batch of contact writes: its per-item answer, and when the answer was
lost, a lookup of what landed (facts: docs/api-facts.md#xero-writing-contacts).

Always ``?summarizeErrors=false``: Xero answers 200 and marks every element ``OK``, ``WARNING`` or
``ERROR``, so a 200 is read item by item. An item Xero refused is ``failed`` with Xero's own message:
``validation`` when the record must be fixed, ``refused`` when Xero's state forbids the change (an
outstanding balance blocks the archive, an archived contact cannot be edited). A create refused because
its ContactNumber is taken is looked up: the contact an earlier, interrupted attempt made is ``exists``,
with its ContactID, and nothing is created twice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from capsule_xero.xero.pacing import XeroUnavailable
from reverse_etl.writers.payloads import ContactOperation
from reverse_etl.writers.xero_lookup import ContactLookup
from reverse_etl.writers.xero_results import SUCCESS, ErrorKind, ItemOutcome
from reverse_etl.writers.xero_session import (
    TRANSIENT_STATUSES,
    XeroWriteError,
    fold,
    json_body,
    messages,
    problem,
)


@dataclass
class Batch:
    """One request's worth of contact writes, in the order sent."""

    number: int
    method: str  # PUT (creates) or POST (the rest)
    operations: list[ContactOperation]
    elements: list[dict[str, Any]]


def error_kind(operation: ContactOperation, errors: Sequence[str]) -> ErrorKind:
    text = " ".join(errors).lower()
    if operation.op in ("archive", "restore") or "archived contact" in text:
        return "refused"
    return "validation"


def _number_taken(errors: Sequence[str]) -> bool:
    return any("contact number" in m.lower() and "already assigned" in m.lower() for m in errors)


class AnswerReader:
    """Outcomes of one batch's items from Xero's answer, or from a lookup when the answer was lost."""

    def __init__(self, lookup: ContactLookup) -> None:
        self.lookup = lookup

    def read(self, batch: Batch, pending: list[int], response: httpx.Response) -> dict[int, ItemOutcome]:
        """Outcomes Xero's answer settles (items it leaves open are missing from the result)."""
        status = response.status_code
        if status in (401, 403):
            raise XeroWriteError(
                f"Xero refused the write ({problem(response)}): check the connection with "
                "`capsule-xero auth status` and that the app has the accounting.contacts scope."
            )
        if status in TRANSIENT_STATUSES or status == 409:
            return {}  # not processed, or not known to be (409: the same key is still in flight)
        body = json_body(response)
        if status == 200 and isinstance(body, Mapping) and isinstance(body.get("Contacts"), list):
            return self._items(batch, pending, body["Contacts"])
        if status == 400 and isinstance(body, Mapping):
            message = str(body.get("Detail") or body.get("Message") or "")
            if "idempotency-key" in message.lower():
                return {}  # a key clash: nothing known about this attempt, the lookup decides
            if body.get("Type") == "ValidationException" and isinstance(body.get("Elements"), list):
                # Only failed elements are listed; the others may have been saved: left open.
                return self._items(batch, pending, body["Elements"], only_failures=True)
        if 400 <= status < 500 and status != 404:
            # The whole request was refused before anything was written (bad JSON, a type Xero
            # cannot bind, a body too large): every item carries the reason.
            reason = problem(response)
            return {
                i: ItemOutcome(
                    batch.operations[i], "failed", batch.elements[i], error_kind="validation", message=reason
                )
                for i in pending
            }
        raise XeroWriteError(f"Xero answered {problem(response)} to {batch.method} /Contacts")

    def _items(
        self, batch: Batch, pending: list[int], answers: list[Any], only_failures: bool = False
    ) -> dict[int, ItemOutcome]:
        by_number = {
            fold(batch.operations[i].contact_number): i for i in pending if batch.operations[i].contact_number
        }
        by_id = {
            str(batch.operations[i].contact_id).lower(): i for i in pending if batch.operations[i].contact_id
        }
        settled: dict[int, ItemOutcome] = {}
        for position, answer in enumerate(answers):
            if not isinstance(answer, Mapping):
                continue
            index = _match(answer, position, pending, by_number, by_id, positional=not only_failures)
            if index is None or index in settled:
                continue
            operation, element = batch.operations[index], batch.elements[index]
            state = str(answer.get("StatusAttributeString") or "").upper()
            errors = messages(answer)
            if state == "ERROR" or bool(answer.get("HasValidationErrors")) or bool(errors):
                settled[index] = self._failure(operation, element, errors or ["Xero marked the item ERROR"])
                continue
            if only_failures:
                continue
            contact_id = str(answer.get("ContactID") or "").lower() or None
            warnings = messages(answer, "Warnings")
            settled[index] = ItemOutcome(
                operation,
                SUCCESS[operation.op],
                element,
                contact_id=contact_id,
                message="; ".join(warnings) or None,
                answer=dict(answer),
            )
        return settled

    def _failure(
        self, operation: ContactOperation, element: dict[str, Any], errors: list[str]
    ) -> ItemOutcome:
        message = "; ".join(errors)
        if operation.op == "create" and _number_taken(errors):
            # An earlier attempt (a crashed run, an answer lost after the 6-minute key window) made
            # this contact already: report it with its ContactID instead of creating another.
            try:
                found = self.lookup.find(contact_numbers=[operation.contact_number])
            except (XeroUnavailable, httpx.TransportError) as exc:
                return ItemOutcome(
                    operation,
                    "unknown",
                    element,
                    error_kind="transient",
                    message=f"{message}; looking the contact up failed ({type(exc).__name__})",
                )
            existing = found.number(operation.contact_number)
            if existing is not None:
                return ItemOutcome(
                    operation,
                    "exists",
                    element,
                    contact_id=str(existing.get("ContactID") or "").lower() or None,
                    message=f"Xero already has ContactNumber {operation.contact_number}: nothing created ({message})",
                    answer=existing,
                )
        return ItemOutcome(
            operation, "failed", element, error_kind=error_kind(operation, errors), message=message
        )

    def confirm(self, batch: Batch, pending: list[int], started: datetime) -> dict[int, ItemOutcome]:
        """Items of a lost attempt that Xero shows as done. Updates cannot be told apart from the
        state before, so they are not confirmed here: resending one sets the same values again."""
        creates = [i for i in pending if batch.operations[i].op == "create"]
        statuses = [i for i in pending if batch.operations[i].op in ("archive", "restore")]
        if not creates and not statuses:
            return {}
        found = self.lookup.find(
            contact_numbers=[batch.operations[i].contact_number for i in creates],
            contact_ids=[str(batch.operations[i].contact_id) for i in statuses],
            modified_since=started,
        )
        landed: dict[int, ItemOutcome] = {}
        for index in creates:
            contact = found.number(batch.operations[index].contact_number)
            if contact is not None:
                contact_id = str(contact.get("ContactID") or "").lower() or None
                landed[index] = _confirmed(batch, index, "created", contact_id, contact)
        for index in statuses:
            operation = batch.operations[index]
            contact = found.contact(str(operation.contact_id))
            wanted = "ARCHIVED" if operation.op == "archive" else "ACTIVE"
            if contact is not None and contact.get("ContactStatus") == wanted:
                contact_id = str(operation.contact_id).lower()
                landed[index] = _confirmed(batch, index, SUCCESS[operation.op], contact_id, contact)
        return landed


def _confirmed(
    batch: Batch, index: int, status: Any, contact_id: str | None, contact: dict[str, Any]
) -> ItemOutcome:
    return ItemOutcome(
        batch.operations[index],
        status,
        batch.elements[index],
        contact_id=contact_id,
        message="confirmed by a lookup after Xero's answer was lost",
        answer=contact,
    )


def _match(
    answer: Mapping[str, Any],
    position: int,
    pending: list[int],
    by_number: dict[str, int],
    by_id: dict[str, int],
    positional: bool,
) -> int | None:
    """Which sent item an answer element belongs to: by ContactNumber, ContactID, else position
    (Xero answers in the order sent)."""
    number = answer.get("ContactNumber")
    if isinstance(number, str) and fold(number) in by_number:
        return by_number[fold(number)]
    cid = str(answer.get("ContactID") or "").lower()
    if cid in by_id:
        return by_id[cid]
    if positional and position < len(pending):
        return pending[position]
    return None
