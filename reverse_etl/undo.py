"""Undo a plan: write back the values it replaced, where Xero still holds what the plan wrote.

``undo_plan(con, settings, plan_id)`` reads the plan's audit rows (``ledger.audit``, written by
reverse_etl/apply/), looks every contact up as Xero holds it now (``find_contacts``: one call per
40 ContactIDs), and for each field:

- Xero still holds the value the plan wrote → the value from before the plan is written back (an
  update, batched 50 a call) and recorded as a new audit row (``is_undo``, reason "undo of plan N");
- Xero holds something else → someone changed it since: it is kept and reported ("changed since: kept").

Whole-contact operations are undone as a whole: a contact the plan **created** is archived (Xero has
no delete, docs/api-facts.md#xero-archiving-and-restoring) — only when every field the plan wrote is still as written, since a created
contact someone has worked on since is in use; a contact the plan **archived** is restored; a contact it
**restored** gets its field changes undone and is archived again. The ContactNumber a plan wrote stays:
it is how this tool finds its contacts. Contact groups are undone by membership (the groups added are
left, the groups left are joined again) when the membership is still the plan's.

What undo leaves alone, on purpose: ``ledger.written_contacts`` keeps what the plan wrote, so the next
sync sees the undone fields as *changed in Xero* and settles them by the conflict policy (with the
default ``newest_wins`` the undo, being newer, stands; with ``capsule_wins`` the next sync writes the
plan's values again — change Capsule or the rules first). A created contact that undo archived is
"archived by someone else" for the next sync and is held, not restored; an archived contact that undo
restored is archived again by the next sync while its party is still deleted in Capsule.

A plan's Capsule writes (sync.direction: both) are undone the same way, where Capsule still holds what
the plan wrote (reverse_etl/undo_capsule.py).

Reverse ETL never imports orchestration (docs/architecture.md#layers).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from capsule_xero.capsule.client import CapsuleClient
from capsule_xero.rules.model import Rules
from capsule_xero.settings import Settings
from reverse_etl.apply.documents import drafts_made
from reverse_etl.apply.recording import insert_audit
from reverse_etl.ledger.schema import ensure_ledger
from reverse_etl.ledger.values import canonical, group_names, groups_value
from reverse_etl.plans.model import PlanError
from reverse_etl.plans.store import capsule_changes, load_plan
from reverse_etl.sqlfile import SqlFile
from reverse_etl.undo_capsule import CapsuleUndoResult, undo_capsule_changes
from reverse_etl.writers.capsule_parties import CapsulePartyWriter
from reverse_etl.writers.payloads import ContactOperation
from reverse_etl.writers.xero import XeroContactWriter
from reverse_etl.writers.xero_holds import folded_names, group_memberships, holds_value

SQL = SqlFile(Path(__file__).resolve().parent / "undo.sql")

STATUS = "contact_status"
GROUPS = "contact_groups"


@dataclass(frozen=True)
class UndoLine:
    """One field (or whole contact) of the plan and what undo did with it."""

    party_id: int | None
    contact_id: str
    field: str
    detail: str


@dataclass
class UndoResult:
    plan_id: int
    reverted: list[UndoLine] = field(default_factory=list)  # before value written back
    kept: list[UndoLine] = field(default_factory=list)  # changed since in Xero: kept, reported
    failed: list[UndoLine] = field(default_factory=list)  # Xero refused the undo write
    archived: list[str] = field(default_factory=list)  # contacts the plan created, archived now
    restored: list[str] = field(default_factory=list)  # contacts the plan archived, restored now
    already_undone: int = 0  # audit rows an earlier undo of this plan already took back
    write_calls: int = 0
    capsule: CapsuleUndoResult = field(default_factory=CapsuleUndoResult)  # the plan's Capsule side
    # DRAFT quotes and invoices the plan made: left alone (the tool never deletes a document), listed.
    drafts_left: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.failed and not self.capsule.failed


@dataclass
class _Contact:
    """The audit rows of one planned operation (one contact)."""

    seq: int
    operation: str
    party_id: int | None
    contact_id: str
    contact_number: str | None
    fields: dict[str, tuple[str | None, str | None]]  # field -> (before, after) as the plan wrote them
    undone: set[str] = field(default_factory=set)  # fields an earlier undo of the plan took back


Fields = dict[str, tuple[str | None, str | None]]  # field -> (before, after) to write back


@dataclass
class _UndoWork:
    """What undo sends: field reverts and restores first, then the archives, then group memberships."""

    first: list[tuple[_Contact, ContactOperation, Fields]] = field(default_factory=list)
    then: list[_Contact] = field(default_factory=list)
    groups: list[tuple[_Contact, list[str], list[str]]] = field(default_factory=list)


def undo_plan(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    plan_id: int,
    *,
    writer: XeroContactWriter | None = None,
    now: Callable[[], datetime] | None = None,
    rules: Rules | None = None,
    capsule: CapsulePartyWriter | None = None,
) -> UndoResult:
    """Undo plan ``plan_id`` where Xero still holds what it wrote, and its Capsule writes where Capsule
    still holds them (reverse_etl/undo_capsule.py); see the module docstring."""
    ensure_ledger(con)
    if load_plan(con, plan_id) is None:
        raise PlanError(f"There is no plan {plan_id}.")
    clock = now or (lambda: datetime.now(UTC))
    own_writer = writer is None
    if writer is None:
        from capsule_xero.xero.auth import XeroAuth

        writer = XeroContactWriter(settings, XeroAuth(settings))
    try:
        result = _Undo(con, plan_id, writer, clock).run()
    finally:
        if own_writer:
            writer.close()
    result.drafts_left = drafts_made(con, plan_id)
    if capsule is not None:
        result.capsule = undo_capsule_changes(con, plan_id, capsule)
    elif capsule_changes(con, plan_id):
        rules = rules or Rules()
        with CapsuleClient.of(settings) as client:
            party_writer = CapsulePartyWriter(
                client,
                abn_field=rules.capsule.abn_field,
                xero_id_field=rules.capsule.xero_contact_id_field,
                archived_tag=rules.sync.archived_tag,
            )
            result.capsule = undo_capsule_changes(con, plan_id, party_writer)
    return result


class _Undo:
    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        plan_id: int,
        writer: XeroContactWriter,
        clock: Callable[[], datetime],
    ) -> None:
        self.con = con
        self.plan_id = plan_id
        self.writer = writer
        self.now = clock
        self.result = UndoResult(plan_id)
        self.reason = f"undo of plan {plan_id}"

    def contacts(self) -> list[_Contact]:
        result = SQL.execute(self.con, "plan_audit", {"plan_id": self.plan_id}).fetchall()
        contacts: dict[int, _Contact] = {}
        for seq, operation, party_id, contact_id, number, name, before, after, undone in result:
            contact = contacts.setdefault(
                seq, _Contact(seq, operation or "update", party_id, contact_id, number, {})
            )
            if undone:
                self.result.already_undone += 1
                contact.undone.add(name)
                continue
            if name in contact.fields:  # a later row of the same field (groups set after the write)
                contact.fields[name] = (contact.fields[name][0], after)
            else:
                contact.fields[name] = (before, after)
        # A created contact archived by an earlier undo is done with, whatever else its rows say.
        return [
            c for c in contacts.values() if c.fields and not (c.operation == "create" and STATUS in c.undone)
        ]

    def run(self) -> UndoResult:
        contacts = self.contacts()
        if not contacts:
            return self.result
        found = self.writer.find_contacts(contact_ids=sorted({c.contact_id for c in contacts}))
        work = _UndoWork()
        for contact in contacts:
            now = found.contact(contact.contact_id)
            if now is None:
                self.keep(contact, "*", "no longer in Xero (merged or removed)")
                continue
            holds = {name: holds_value(now, name, after) for name, (_, after) in contact.fields.items()}
            if contact.operation == "create":
                self._plan_create(contact, holds, work)
            elif contact.operation == "archive":
                self._plan_archive(contact, holds, now, work)
            else:
                self._plan_fields(contact, holds, now, work)
        failed_first = self.write(work.first)
        archives = []
        for contact in work.then:
            if contact.seq in failed_first:
                self.keep(contact, STATUS, "not archived again: undoing its fields failed")
                continue
            number = contact.contact_number or f"party {contact.party_id}"
            archives.append(
                (
                    contact,
                    ContactOperation("archive", contact.party_id or 0, number, {}, contact.contact_id),
                    {STATUS: ("ARCHIVED", "ACTIVE")},  # recorded as ACTIVE -> ARCHIVED
                )
            )
        self.write(archives)
        self.undo_groups(work.groups)
        return self.result

    def _plan_create(self, contact: _Contact, holds: dict[str, bool], work: _UndoWork) -> None:
        """A contact the plan created is archived, only while every field is still as the plan wrote it."""
        changed = sorted(name for name, ok in holds.items() if not ok)
        if changed:
            self.keep(contact, "*", f"created by the plan but changed since ({', '.join(changed)}): kept")
        else:
            work.then.append(contact)

    def _plan_archive(
        self, contact: _Contact, holds: dict[str, bool], now: Mapping[str, Any], work: _UndoWork
    ) -> None:
        """A contact the plan archived is restored, while it is still archived."""
        if not holds.get(STATUS):
            self.keep(contact, STATUS, "archived by the plan, restored since: kept")
            return
        number = contact.contact_number or now.get("ContactNumber")
        if number:
            operation = ContactOperation("restore", contact.party_id or 0, number, {}, contact.contact_id)
            work.first.append((contact, operation, {STATUS: contact.fields[STATUS]}))
        else:
            self.keep(contact, STATUS, "archived by the plan, but has no ContactNumber to restore it by")

    def _plan_fields(
        self, contact: _Contact, holds: dict[str, bool], now: Mapping[str, Any], work: _UndoWork
    ) -> None:
        """An update or restore: each field Xero still holds as written goes back; groups by membership;
        a restored contact is archived again afterwards."""
        revert: dict[str, tuple[str | None, str | None]] = {}
        for name, (before, after) in contact.fields.items():
            if name in (STATUS, GROUPS):
                continue
            if name == "contact_number":
                self.keep(contact, name, "the ContactNumber stays: it is how this tool finds the contact")
            elif holds[name]:
                revert[name] = (before, after)
            else:
                self.keep(contact, name, "changed since: kept")
        if GROUPS in contact.fields:
            before, after = contact.fields[GROUPS]
            added = [n for n in group_names(after) if n.casefold() not in folded_names(group_names(before))]
            left = [n for n in group_names(before) if n.casefold() not in folded_names(group_names(after))]
            if _member_of(now, added) and not _member_of_any(now, left):
                work.groups.append((contact, added, left))
            else:
                self.keep(contact, GROUPS, "group membership changed since: kept")
        number = contact.contact_number or now.get("ContactNumber")
        if revert and not number:
            for name in revert:  # every update carries the ContactNumber (reverse_etl/writers/payloads.py)
                self.keep(contact, name, "the contact has no ContactNumber to write it back with")
        elif revert:
            fields = {name: before for name, (before, _) in revert.items()}
            operation = ContactOperation("update", contact.party_id or 0, number, fields, contact.contact_id)
            work.first.append((contact, operation, revert))
        if contact.operation == "restore" and STATUS not in contact.undone:
            if holds.get(STATUS):
                work.then.append(contact)
            else:
                self.keep(contact, STATUS, "restored by the plan, archived since: kept")

    def keep(self, contact: _Contact, name: str, detail: str) -> None:
        self.result.kept.append(UndoLine(contact.party_id, contact.contact_id, name, detail))

    def write(self, work: list[tuple[_Contact, ContactOperation, Fields]]) -> set[int]:
        """Send the undo operations; record an undo audit row per field taken back. Returns the seqs that failed."""
        if not work:
            return set()
        by_operation = {id(operation): (contact, fields) for contact, operation, fields in work}
        failed: set[int] = set()

        def count(_attempt: object) -> None:
            self.result.write_calls += 1

        # Each batch is recorded as it is answered: if Xero stops the undo part way, what was taken
        # back is in the audit already and a second undo takes back only the rest.
        for batch in self.writer.write([op for _, op, _ in work], on_attempt=count):
            for item in batch.items:
                contact, fields = by_operation[id(item.operation)]
                if not item.ok:
                    failed.add(contact.seq)
                    for name in fields:
                        self.result.failed.append(
                            UndoLine(contact.party_id, contact.contact_id, name, item.message or item.status)
                        )
                    continue
                if item.operation.op == "archive":
                    if contact.operation == "create":
                        self.result.archived.append(contact.contact_id)
                elif item.operation.op == "restore":
                    self.result.restored.append(contact.contact_id)
                for name, (before, after) in fields.items():
                    self.audit(contact, name, after, before)
                    self.result.reverted.append(
                        UndoLine(
                            contact.party_id, contact.contact_id, name, f"{_short(after)} → {_short(before)}"
                        )
                    )
        return failed

    def undo_groups(self, work: list[tuple[_Contact, list[str], list[str]]]) -> None:
        work = [(c, added, left) for c, added, left in work if added or left]
        if not work:
            return
        ensured = (
            self.writer.ensure_groups([n for _, _, left in work for n in left])
            if any(left for *_, left in work)
            else None
        )
        ids = {
            str(g.get("Name", "")).strip().casefold(): str(g["ContactGroupID"]).lower()
            for g in self.writer.contact_groups()
        }
        for contact, added, left in work:
            problems: list[str] = []
            for name in added:
                group_id = ids.get(name.strip().casefold())
                if group_id is not None:
                    out = self.writer.set_group_members(group_id, remove=[contact.contact_id])
                    problems += list(out.failed.values())
            for name in left:
                group_id = ensured.ids.get(name) if ensured else None
                if group_id is None:
                    problems.append(f'group "{name}" could not be made again')
                    continue
                out = self.writer.set_group_members(group_id, add=[contact.contact_id])
                problems += list(out.failed.values())
            before, after = contact.fields[GROUPS]
            if problems:
                self.result.failed.append(
                    UndoLine(contact.party_id, contact.contact_id, GROUPS, "; ".join(problems))
                )
                continue
            self.audit(contact, GROUPS, after, groups_value(group_names(before)))
            self.result.reverted.append(
                UndoLine(contact.party_id, contact.contact_id, GROUPS, f"{_short(after)} → {_short(before)}")
            )

    def audit(self, contact: _Contact, name: str, before: str | None, after: str | None) -> None:
        record = {
            "plan_id": self.plan_id,
            "seq": contact.seq,
            "party_id": contact.party_id,
            "contact_id": contact.contact_id,
            "field": name,
            "before": before,
            "after": after,
            "reason": self.reason,
        }
        insert_audit(self.con, [record], self.now(), undo=True)


def _member_of(contact: Mapping[str, Any], names: list[str]) -> bool:
    return folded_names(names) <= group_memberships(contact)


def _member_of_any(contact: Mapping[str, Any], names: list[str]) -> bool:
    return bool(folded_names(names) & group_memberships(contact))


def _short(value: str | None, limit: int = 60) -> str:
    text = "(empty)" if value is None else canonical(value) or "(empty)"
    return text if len(text) <= limit else text[: limit - 1] + "…"
