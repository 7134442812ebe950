"""A stored plan and its parts, as read from the ledger (docs/architecture.md#plans-and-approval).

- ``Plan``: one row of ``ledger.plans`` — number, when, the rules' fingerprint, the Xero state it was
  computed against (``xero_state_at``: the newest ``UpdatedDateUTC`` extracted), its status, why it
  waits for approval, and counts per operation (``counts["write_backs"]``: ContactIDs of contacts Xero
  already has that the Capsule field should hold and does not);
- ``PlanOperation``: one row of ``ledger.plan_operations``, a contact written, with per-field
  ``before`` / ``after`` values (canonical text, transform/sql/reconcile/README.md "The contact
  shape") and the reason; the apply loop turns it into a ``ContactOperation`` to send;
- ``PlanNote``: a History note it adds; ``HeldBack``: a party the error queue kept out of it.

Reverse ETL never imports orchestration (docs/architecture.md#layers).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from reverse_etl.ledger.values import canonical
from reverse_etl.writers.payloads import NOT_SENT, ContactOperation

PLANNED_OPERATIONS = ("create", "update", "archive", "restore")
# Capsule writes (sync.direction: both), counted by kind: reconcile.capsule_operations' operation -> count.
CAPSULE_COUNT_OF = {
    "update": "capsule_update",
    "create": "capsule_create",
    "tag": "capsule_tag",
    "untag": "capsule_tag",
    "money": "capsule_money",  # Xero's money in Capsule fields (issue 14, part 3), whatever the direction
}
CAPSULE_COUNTS = ("capsule_update", "capsule_create", "capsule_tag", "capsule_money")
STATUSES = ("pending_approval", "approved", "applying", "applied", "partly_applied", "superseded", "empty")


class PlanError(ValueError):
    """A plan cannot be made, found, approved or applied as asked; the message says what to do."""


class StalePlanError(PlanError):
    """The plan was computed against an older Xero (or other rules) and must not be applied."""

    def __init__(
        self,
        message: str,
        *,
        plan_id: int,
        changed_contacts: int = 0,
        contact_ids: Sequence[str] = (),
        rules_changed: bool = False,
        superseded_by: int | None = None,
    ) -> None:
        super().__init__(message)
        self.plan_id = plan_id
        self.changed_contacts = changed_contacts
        self.contact_ids = list(contact_ids)
        self.rules_changed = rules_changed
        self.superseded_by = superseded_by


@dataclass(frozen=True)
class HeldBack:
    """A party the error queue kept out of a plan."""

    party_id: int
    operation: str | None
    queue_state: str
    next_attempt_at: datetime | None
    error_kind: str | None
    message: str | None


@dataclass(frozen=True)
class Plan:
    """One stored plan (a row of ``ledger.plans``), with what the run that made it learnt."""

    plan_id: int
    created_at: datetime
    status: str
    rules_fingerprint: str
    xero_state_at: datetime | None
    capsule_state_at: datetime | None
    approval_reasons: tuple[str, ...]
    counts: dict[str, int]
    approved_at: datetime | None = None
    applied_at: datetime | None = None
    # What the plan does, hashed (plans/sql/content_hash.sql): the UI's approval job asks for it, so a
    # person approves exactly the plan they read. None for a plan stored before plans had one.
    content_hash: str | None = None
    # Who approved it from the Dagster UI (assets/approval.py) and in which run; None otherwise.
    approved_by: str | None = None
    approved_in_run: str | None = None
    held_back: tuple[HeldBack, ...] = ()
    # Set by create_plan: the earlier plan stood in for an identical new one / plans it superseded /
    # the newest plan's apply was interrupted and it stands until an apply finishes it.
    reused: bool = False
    superseded: tuple[int, ...] = field(default=())
    resumes: bool = False

    @property
    def operations(self) -> int:
        """Contacts the plan writes (History notes not counted)."""
        return sum(self.counts.get(op, 0) for op in PLANNED_OPERATIONS)

    @property
    def capsule_writes(self) -> int:
        """Parties the plan writes in Capsule (fields pulled from Xero, the archived tag, creates, money)."""
        return sum(self.counts.get(kind, 0) for kind in CAPSULE_COUNTS)

    @property
    def notes(self) -> int:
        return self.counts.get("notes", 0)

    @property
    def write_backs(self) -> int:
        """ContactIDs to write back to Capsule for contacts Xero already has (pending or missing)."""
        return self.counts.get("write_backs", 0)

    @property
    def waits_for_approval(self) -> bool:
        return self.status == "pending_approval"


@dataclass(frozen=True)
class PlanOperation:
    """One row of ``ledger.plan_operations``: ``after`` / ``before`` parsed (``before`` is None for a
    create, and for a contact the reconcile had no current values of). ``inputs_hash`` (read for the
    apply loop only) is what the operation asks of Xero (plans/sql/macros.sql cx_operation_inputs)."""

    plan_id: int
    seq: int
    operation: str
    party_id: int
    contact_id: str | None
    contact_number: str | None
    name: str | None
    changed_fields: tuple[str, ...]
    after: dict[str, str | None]
    before: dict[str, str | None] | None
    kept_fields: tuple[str, ...]
    reason: str | None
    expect_refusal: bool
    inputs_hash: str | None = None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> PlanOperation:
        return cls(
            plan_id=int(row["plan_id"]),
            seq=int(row["seq"]),
            operation=row["operation"],
            party_id=int(row["party_id"]),
            contact_id=row["contact_id"],
            contact_number=row["contact_number"],
            name=row["name"],
            changed_fields=tuple(row["changed_fields"] or ()),
            after=json.loads(row["after"]) if row["after"] else {},
            before=json.loads(row["before"]) if row["before"] is not None else None,
            kept_fields=tuple(row["kept_fields"] or ()),
            reason=row["reason"],
            expect_refusal=bool(row["expect_refusal"]),
            inputs_hash=row.get("inputs_hash"),
        )

    @property
    def before_values(self) -> Mapping[str, str | None]:
        """``before``, empty when there is none."""
        return self.before or {}

    @property
    def sent_fields(self) -> list[str]:
        """The changed fields that go into the contact element (not Website, groups or the number)."""
        return [f for f in self.changed_fields if f not in NOT_SENT]

    def contact_operation(self) -> ContactOperation:
        """The write this operation asks of Xero (reverse_etl/writers/payloads.py)."""
        fields = (
            {} if self.operation == "archive" else {f: canonical(self.after.get(f)) for f in self.sent_fields}
        )
        # An archive sends only ContactID + status; a contact without a ContactNumber is still named.
        number = self.contact_number or (f"party {self.party_id}" if self.operation == "archive" else "")
        contact_id = None if self.operation == "create" else self.contact_id
        return ContactOperation(self.operation, self.party_id, number, fields, contact_id)  # type: ignore[arg-type]


@dataclass(frozen=True)
class PlanNote:
    plan_id: int
    party_id: int
    contact_id: str | None
    note_hash: str
    item_keys: tuple[str, ...]
    note: str
