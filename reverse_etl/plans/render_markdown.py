"""A stored plan as Markdown, for the writer asset's materialisation in the Dagster UI
(docs/operations.md#approving-a-plan-in-the-dagster-ui).

The same reading as ``capsule-xero plan`` (reverse_etl/plans/render.py): the counts per operation and
direction, why a plan waits (the approval rules in words), then the operations as a table — contact,
operation, ``field: before → after``, reason — the first ``MARKDOWN_ROWS`` of them, with the command
that shows them all. Every value is spelt out (control and invisible characters as escapes, newlines
as ``\\n``) and then has each ASCII punctuation character backslash-escaped (CommonMark: any of them
may be), so a contact named ``| x | <img>`` or ``**Acme**`` shows as typed and cannot add a column, a
row, a link or an image to the table.
"""

from __future__ import annotations

import re

import duckdb

from capsule_xero.display import spell_out
from reverse_etl.plans.model import Plan, PlanOperation
from reverse_etl.plans.render import REASON_WIDTH, describe_value, shorten
from reverse_etl.plans.store import capsule_changes, plan_operations
from reverse_etl.writers.capsule_parties import CapsuleChange

MARKDOWN_ROWS = 200  # operations in the table; the rest are a command away
_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")

# (direction, operation as a person reads it, key of Plan.counts), in the order shown.
COUNTED = (
    ("→ Xero", "create contact", "create"),
    ("→ Xero", "update contact", "update"),
    ("→ Xero", "archive contact", "archive"),
    ("→ Xero", "restore contact", "restore"),
    ("→ Xero", "History note", "notes"),
    ("→ Xero", "DRAFT quote", "draft_quote"),
    ("→ Xero", "DRAFT invoice", "draft_invoice"),
    ("← Capsule", "update party", "capsule_update"),
    ("← Capsule", "create party", "capsule_create"),
    ("← Capsule", "tag or untag party", "capsule_tag"),
    ("← Capsule", "set Xero's money fields", "capsule_money"),
    ("← Capsule", "write back the ContactID", "write_backs"),
    ("not in this plan", "waiting in review (`capsule-xero report review_queue`)", "review"),
    ("not in this plan", "billing document waiting in review", "documents_in_review"),
    ("not in this plan", "held (archived in Xero by someone else)", "hold"),
    ("not in this plan", "held back by the error queue (`capsule-xero status`)", "held_back"),
)


def md_text(value: object) -> str:
    """``value`` for a Markdown table cell: spelt out, every ASCII punctuation character escaped."""
    return _PUNCTUATION.sub(r"\\\1", spell_out(value))


def approve_command(plan: Plan) -> str:
    """What approves and applies ``plan`` in the UI, and in a terminal (plain text: a text metadata value)."""
    return (
        f"the approve_and_apply_plan job with plan: {plan.plan_id} and plan_hash: {plan.content_hash}"
        f" (or capsule-xero approve {plan.plan_id}, then capsule-xero apply {plan.plan_id})"
    )


def waits_because(plan: Plan) -> str | None:
    """Why ``plan`` waits for a person, in words (the rules of the rules file's ``approval:``), and
    what approves it; None when it does not wait."""
    if not plan.waits_for_approval:
        return None
    reasons = "; ".join(spell_out(reason) for reason in plan.approval_reasons) or "approval rules"
    return f"Plan {plan.plan_id} waits for a person because of {reasons}. Approve it with {approve_command(plan)}."


def counts_markdown(plan: Plan) -> str:
    """The plan's counts per direction and operation, as a Markdown table (zero counts left out)."""
    rows = [
        f"| {direction} | {what} | {plan.counts.get(key, 0):,} |"
        for direction, what, key in COUNTED
        if plan.counts.get(key, 0)
    ]
    if not rows:
        return "Nothing to write: Xero and Capsule already agree."
    return "\n".join(["| direction | operation | count |", "| --- | --- | ---: |", *rows])


def _contact(op: PlanOperation) -> str:
    number = op.contact_number or f"party {op.party_id}"
    return md_text(f"{number} {op.name}" if op.name else number)


def _xero_rows(op: PlanOperation) -> list[tuple[str, str, str, str]]:
    fields = [
        f
        for f in op.changed_fields
        if not (op.operation == "create" and f in ("contact_number", "name"))  # in the contact cell
    ]
    changes = []
    for field in fields:
        after = describe_value(field, op.after.get(field))
        if op.operation == "create" or op.before is None:
            changes.append(md_text(f"{field}: {after}"))
        else:
            changes.append(md_text(f"{field}: {describe_value(field, op.before.get(field))} → {after}"))
    reason = md_text(shorten(op.reason, REASON_WIDTH)) if op.reason else ""
    if op.expect_refusal:
        reason = f"{reason} (Xero may refuse this)".strip()
    return _rows(_contact(op), f"→ Xero {op.operation}", changes, reason)


def _capsule_rows(change: CapsuleChange) -> list[tuple[str, str, str, str]]:
    who = f"party {change.party_id}" if change.party_id is not None else f"Xero contact {change.contact_id}"
    name = change.after.get("name") or (change.before or {}).get("name")
    changes = []
    if change.operation in ("tag", "untag"):
        verb = "adds" if change.operation == "tag" else "removes"
        changes.append(md_text(f"{verb} tag {change.tag_name or ''}"))
    for field in change.changed_fields:
        if field == "tags":
            continue
        after = describe_value(field, change.after.get(field))
        if change.before is None:
            changes.append(md_text(f"{field}: {after}"))
        else:
            changes.append(md_text(f"{field}: {describe_value(field, change.before.get(field))} → {after}"))
    reason = md_text(shorten(change.reason, REASON_WIDTH)) if change.reason else ""
    return _rows(md_text(f"{who} {name}" if name else who), f"← Capsule {change.operation}", changes, reason)


def _rows(contact: str, operation: str, changes: list[str], reason: str) -> list[tuple[str, str, str, str]]:
    """One row per changed field; the contact, operation and reason on the first only."""
    changes = changes or [""]
    return [
        (contact if i == 0 else "", operation if i == 0 else "", change, reason if i == 0 else "")
        for i, change in enumerate(changes)
    ]


def operations_markdown(con: duckdb.DuckDBPyConnection, plan: Plan, limit: int = MARKDOWN_ROWS) -> str:
    """The plan's operations (Xero's first, then Capsule's) as a Markdown table, at most ``limit``,
    then how many more there are and the command that shows them all."""
    total = plan.operations + plan.capsule_writes
    if total == 0:
        return "No contact or party to write."
    rows: list[tuple[str, str, str, str]] = []
    xero_ops = plan_operations(con, plan.plan_id, limit=limit)
    for op in xero_ops:
        rows.extend(_xero_rows(op))
    shown = len(xero_ops)
    if shown < limit and plan.capsule_writes:
        changes = capsule_changes(con, plan.plan_id, limit=limit - shown)
        for change in changes:
            rows.extend(_capsule_rows(change))
        shown += len(changes)
    lines = [
        "| contact | operation | field: before → after | reason |",
        "| --- | --- | --- | --- |",
        *(f"| {' | '.join(row)} |" for row in rows),
    ]
    if shown < total:
        lines += [
            "",
            f"… and {total - shown:,} more ({total:,} in all): `capsule-xero plan {plan.plan_id} --limit {total}`"
            f" shows them all, `capsule-xero plan {plan.plan_id} --json` prints them whole for a script.",
        ]
    return "\n".join(lines)
