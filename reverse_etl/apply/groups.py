"""Step 5a of a run: managed contact groups for every written contact whose groups changed (missing
groups created, members added and removed: one call per group).

Groups are recorded in ``written_contacts.contact_groups`` only once Xero holds them, and each
contact's target is in ``ledger.group_outbox`` from before the first group call until then: a run
killed between group calls leaves contacts in some of their groups, and the diff
(transform/sql/reconcile/contact_diffs.sql) counts that as this tool's own write, so the rest is sent
instead of being kept as if someone had edited Xero.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reverse_etl.apply.context import RunContext
from reverse_etl.apply.recording import Recorder, party_contacts
from reverse_etl.ledger.values import canonical, group_names, groups_value
from reverse_etl.plans.model import PlanOperation
from reverse_etl.sqlfile import SqlFile, transaction
from reverse_etl.writers.xero_results import GroupsEnsured

SQL = SqlFile(Path(__file__).resolve().parent / "sql" / "groups.sql")


@dataclass
class GroupChange:
    """One contact's managed groups: as before the plan, and the names to add and to remove."""

    op: PlanOperation
    contact_id: str
    before: list[str]
    add: list[str]
    remove: list[str]


@dataclass
class GroupCalls:
    """What Xero answered: the groups' ids (made when missing) and every membership it refused."""

    ensured: GroupsEnsured
    existing: dict[str, str]  # folded name -> ContactGroupID, for removals
    failed: dict[tuple[str, str], str] = field(default_factory=dict)  # (group id, contact id) -> message


def _folded(names: list[str]) -> set[str]:
    return {n.casefold() for n in names}


class GroupSetter:
    def __init__(self, ctx: RunContext, record: Recorder) -> None:
        self.ctx = ctx
        self.record = record

    def run(self) -> None:
        changes = self._changes()
        if not changes:
            return
        # Recorded before the first call: a run killed between group calls leaves contacts in some of
        # their groups, and the next diff must see that as this tool's doing (ledger.group_outbox).
        SQL.insert_rows(
            self.ctx.con,
            "groups_sending",
            (
                {
                    "contact_id": c.contact_id,
                    "party_id": c.op.party_id,
                    "plan_id": c.op.plan_id,
                    "target": groups_value(group_names(c.op.after.get("contact_groups"))),
                }
                for c in changes
            ),
            at=self.ctx.now(),
        )
        self._settle(changes, self._send(changes))

    def _changes(self) -> list[GroupChange]:
        contacts = {r["party_id"]: r["contact_id"] for r in party_contacts(self.ctx.con, self.ctx.plan_id)}
        changes: list[GroupChange] = []
        for op in self.ctx.ops:
            if "contact_groups" not in op.changed_fields or op.operation == "archive":
                continue
            contact_id = contacts.get(op.party_id)
            if contact_id is None:
                continue  # the contact was not written (failed, queued, unknown)
            desired = group_names(op.after.get("contact_groups"))
            before = [] if op.operation == "create" else group_names(op.before_values.get("contact_groups"))
            written = self.record.written.get(contact_id)
            if written is not None and written["contact_groups"] == groups_value(desired):
                continue  # set by an earlier run of this plan
            add = [n for n in desired if n.casefold() not in _folded(before)]
            remove = [n for n in before if n.casefold() not in _folded(desired)]
            changes.append(GroupChange(op, contact_id, before, add, remove))
        return changes

    def _send(self, changes: list[GroupChange]) -> GroupCalls:
        writer = self.ctx.writer
        wanted = [name for c in changes for name in c.add]
        calls = GroupCalls(writer.ensure_groups(wanted) if wanted else GroupsEnsured(ids={}), {})
        if any(c.remove for c in changes):
            calls.existing = {
                str(g.get("Name", "")).strip().casefold(): str(g["ContactGroupID"]).lower()
                for g in writer.contact_groups()
            }
        adds: dict[str, list[str]] = {}
        removes: dict[str, list[str]] = {}
        for c in changes:
            for name in c.add:
                if name in calls.ensured.ids:
                    adds.setdefault(calls.ensured.ids[name], []).append(c.contact_id)
            for name in c.remove:
                group_id = calls.existing.get(name.strip().casefold())
                if group_id is not None:
                    removes.setdefault(group_id, []).append(c.contact_id)
        group_list = sorted(set(adds) | set(removes))
        for done, group_id in enumerate(group_list, start=1):
            outcome = writer.set_group_members(
                group_id, add=adds.get(group_id, ()), remove=removes.get(group_id, ())
            )
            for contact_id, message in outcome.failed.items():
                calls.failed[(group_id, contact_id)] = message
            self.ctx.progress("groups", done, len(group_list))
        return calls

    def _settle(self, changes: list[GroupChange], calls: GroupCalls) -> None:
        """Record the groups each contact now has in Xero (ledger, audit), and what failed."""
        at = self.ctx.now()
        settled: list[dict[str, Any]] = []
        for c in changes:
            held, problems = _now_held(c, calls)
            value = groups_value(held)
            settled.append({"contact_id": c.contact_id, "contact_groups": value, "plan_id": c.op.plan_id})
            self.record.written.set_groups(c.contact_id, value)
            before_value = (
                None if c.op.operation == "create" else canonical(c.op.before_values.get("contact_groups"))
            )
            if value != before_value:
                self.record.audit(c.op, c.contact_id, "contact_groups", before_value, value)
            if not problems:
                self.ctx.result.groups_changed += 1
            for problem in problems:
                self.ctx.result.problems.append(
                    f"party {c.op.party_id} groups: {problem} (the next plan tries again)"
                )
        with transaction(self.ctx.con):
            SQL.insert_rows(self.ctx.con, "set_written_groups", settled, at=at)
            SQL.insert_rows(self.ctx.con, "groups_done", ({"contact_id": r["contact_id"]} for r in settled))
            self.record.flush(at)


def _now_held(change: GroupChange, calls: GroupCalls) -> tuple[list[str], list[str]]:
    """The managed groups the contact is in now (as Xero answered), and why any is not as planned."""
    result = {n.casefold(): n for n in change.before}
    problems = []
    for name in change.add:
        group_id = calls.ensured.ids.get(name)
        if group_id is None:
            problems.append(
                f'group "{name}" could not be created: {calls.ensured.failed.get(name, "refused")}'
            )
        elif (group_id, change.contact_id) in calls.failed:
            problems.append(f'not added to "{name}": {calls.failed[(group_id, change.contact_id)]}')
        else:
            result[name.casefold()] = name
    for name in change.remove:
        group_id = calls.existing.get(name.strip().casefold())
        if group_id is not None and (group_id, change.contact_id) in calls.failed:
            problems.append(f'not removed from "{name}": {calls.failed[(group_id, change.contact_id)]}')
        else:
            result.pop(name.casefold(), None)
    return list(result.values()), problems
