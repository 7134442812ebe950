"""Undo the Capsule side of a plan (sync.direction: both): put back what the plan replaced in Capsule,
where Capsule still holds what the plan wrote (reverse_etl/undo.py does the Xero side).

For each Capsule write of the plan that landed (``ledger.capsule_outcomes`` done), the party is read as
Capsule holds it now (one ``GET /parties/{id}``), then:

- **update**: each field still as the plan wrote it gets the value from before the plan (the same row,
  found by the value written; a row the plan added is deleted, a row it deleted is added again); a field
  someone changed since is kept and reported;
- **tag** / **untag**: the archived-in-Xero tag is removed / added again;
- **create**: the party is deleted, only while nobody has touched it since (its ``updatedAt`` is still
  the one Capsule gave the create); otherwise it is in use, kept and reported.

Like the Xero undo, the ledger keeps what the plan wrote: the next sync sees the undone fields as changed
in Capsule and settles them by their owner (a field Xero owns stays as undone in Capsule while Xero
keeps its value; a field both own is then written to Xero).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import duckdb

from capsule_xero.capsule.errors import CapsuleError, CapsuleRequestRejected
from reverse_etl.sqlfile import SqlFile, has_table
from reverse_etl.writers.capsule_parties import CapsuleChange, CapsulePartyWriter
from reverse_etl.writers.capsule_party_payloads import LIST_ROWS, row_holding, shows_change

SQL = SqlFile(Path(__file__).resolve().parent / "undo_capsule.sql")


@dataclass
class CapsuleUndoResult:
    reverted: list[str] = field(default_factory=list)  # "party 12: email_address"
    kept: list[str] = field(default_factory=list)  # changed since in Capsule: kept, with why
    failed: list[str] = field(default_factory=list)  # Capsule refused the undo write


def undo_capsule_changes(
    con: duckdb.DuckDBPyConnection, plan_id: int, writer: CapsulePartyWriter
) -> CapsuleUndoResult:
    """Undo plan ``plan_id``'s Capsule writes with ``writer``; see the module docstring."""
    result = CapsuleUndoResult()
    if not has_table(con, "ledger", "plan_capsule_operations") or not has_table(
        con, "ledger", "capsule_outcomes"
    ):
        return result
    for row in SQL.rows(con, "done_changes", {"plan_id": plan_id}):
        change = CapsuleChange.from_row(row)
        party_id = change.party_id or row["party_id_created"]
        try:
            _undo_one(writer, change, party_id, row["capsule_updated_after"], result)
        except CapsuleRequestRejected as refused:
            result.failed.append(f"party {party_id}: {refused}")
        except CapsuleError as exc:
            result.failed.append(f"party {party_id}: Capsule did not answer ({exc}); run undo again")
    return result


def _undo_one(
    writer: CapsulePartyWriter,
    change: CapsuleChange,
    party_id: int,
    created_stamp: Any,
    result: CapsuleUndoResult,
) -> None:
    party = writer.read_party(party_id)
    who = f"party {party_id}"
    if party is None:
        result.kept.append(f"{who}: deleted in Capsule since")
        return
    if change.operation == "create":
        if created_stamp is None or writer.stamp(party) != created_stamp:
            result.kept.append(f"{who}: created by the plan and changed since, so it is kept")
            return
        writer.client.request("DELETE", f"/parties/{party_id}", idempotent=True)
        result.reverted.append(f"{who}: created by the plan, deleted")
        return
    if change.operation in ("tag", "untag"):
        inverse = replace(change, operation="untag" if change.operation == "tag" else "tag", tag_id=None)
        if not shows_change(party, change, None, change.tag_name or writer.archived_tag):
            result.kept.append(f"{who}: tag {change.tag_name!r} changed since, so it is kept")
            return
        writer.send(inverse)
        result.reverted.append(
            f"{who}: tag {change.tag_name!r} {'removed' if change.operation == 'tag' else 'added'}"
        )
        return
    abn = writer.definition_id(writer.abn_field) if "tax_number" in change.changed_fields else None
    undone: list[str] = []
    row_ids: dict[str, int | None] = {}
    for name in change.changed_fields:
        single = replace(change, changed_fields=(name,))
        if not shows_change(party, single, abn, writer.archived_tag):
            result.kept.append(f"{who}: {name} changed in Capsule since, so it is kept")
            continue
        undone.append(name)
        written = change.after.get(name)
        if change.operation == "money":  # a money field is set by its definition, kept in row_ids
            row_ids[name] = change.row_ids.get(name)
        elif name in LIST_ROWS:
            row_ids[name] = row_holding(party, name, written) if written is not None else None
    if not undone:
        return
    before = change.before or {}
    inverse = replace(
        change,
        changed_fields=tuple(undone),
        after={name: before.get(name) for name in undone},
        before={name: change.after.get(name) for name in undone},
        row_ids=row_ids,
    )
    writer.send(inverse)
    result.reverted.extend(f"{who}: {name}" for name in undone)
