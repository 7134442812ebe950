"""What the Xero writer reports: per contact, per batch, per lookup, per group and per History note."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from reverse_etl.writers.payloads import ContactOperation
from reverse_etl.writers.xero_session import fold

ItemStatus = Literal["created", "updated", "archived", "restored", "exists", "failed", "unknown", "not_sent"]
ErrorKind = Literal["validation", "refused", "transient"]
SUCCESS: dict[str, ItemStatus] = {
    "create": "created",
    "update": "updated",
    "archive": "archived",
    "restore": "restored",
}


@dataclass
class ItemOutcome:
    """What happened to one operation. ``element`` is the JSON sent; ``answer`` Xero's contact."""

    operation: ContactOperation
    status: ItemStatus
    element: dict[str, Any]
    contact_id: str | None = None
    error_kind: ErrorKind | None = None
    message: str | None = None
    answer: dict[str, Any] | None = None

    @property
    def party_id(self) -> int | str:
        return self.operation.party_id

    @property
    def contact_number(self) -> str:
        return self.operation.contact_number

    @property
    def ok(self) -> bool:
        """Xero holds the change (``exists``: the contact was there already, made by an earlier try)."""
        return self.status not in ("failed", "unknown", "not_sent")


@dataclass(frozen=True)
class BatchAttempt:
    """Handed to ``on_attempt`` before a batch attempt is sent (record it, then let it go)."""

    batch: int
    attempt: int
    idempotency_key: str
    method: str
    operations: tuple[ContactOperation, ...]
    body_bytes: int
    started_at: datetime


@dataclass
class BatchResult:
    batch: int
    method: str
    items: list[ItemOutcome]
    idempotency_keys: list[str] = field(default_factory=list)  # one per attempt, in order
    first_sent_at: datetime | None = None

    @property
    def idempotency_key(self) -> str:
        return self.idempotency_keys[-1]

    @property
    def attempts(self) -> int:
        return len(self.idempotency_keys)

    def by_status(self, *statuses: str) -> list[ItemOutcome]:
        return [item for item in self.items if item.status in statuses]


@dataclass
class FoundContacts:
    """Contacts as Xero holds them now, by ContactNumber (case-folded) and by ContactID (lower case)."""

    by_number: dict[str, dict[str, Any]] = field(default_factory=dict)
    by_id: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: int = 0

    def add(self, contact: Mapping[str, Any]) -> None:
        item = dict(contact)
        cid = str(item.get("ContactID") or "").lower()
        if cid:
            self.by_id[cid] = item
        number = item.get("ContactNumber")
        if isinstance(number, str) and number.strip():
            self.by_number[fold(number)] = item

    def number(self, contact_number: str) -> dict[str, Any] | None:
        return self.by_number.get(fold(contact_number))

    def contact(self, contact_id: str) -> dict[str, Any] | None:
        return self.by_id.get(contact_id.lower())


@dataclass
class GroupsEnsured:
    ids: dict[str, str]  # every requested name (as given) -> ContactGroupID
    created: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # name -> Xero's message


@dataclass
class MembershipResult:
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # ContactID -> Xero's message


@dataclass
class HistoryOutcome:
    contact_id: str
    ok: bool
    notes: list[str]
    message: str | None = None
    error_kind: ErrorKind | None = None
