"""A stored plan as people read it (like a careful ``terraform plan``), and as JSON for scripts.

``render_plan`` gives rich ``Text`` lines: a header (number, status, when, against which Xero, why it
waits), the counts per operation, then each operation — ``+ create``, ``~ update`` with a
``field: before → after`` line per field, ``- archive``, ``↺ restore`` — with addresses, contact
persons and groups shown as readable text rather than their canonical JSON. Every value is put in a
``Text`` (never parsed as rich markup or emoji codes), with its control and invisible characters spelt
out (capsule_xero/display.py), so a name with ``[brackets]`` or ESC prints as typed and cannot move
the cursor, hide text or reverse it.
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import duckdb
from rich.console import Group
from rich.text import Text

from capsule_xero.display import spell_out
from reverse_etl.plans.documents import PlanDocument, plan_documents
from reverse_etl.plans.model import PLANNED_OPERATIONS, Plan, PlanOperation
from reverse_etl.plans.store import capsule_changes, plan_notes, plan_operations, query
from reverse_etl.sqlfile import has_table
from reverse_etl.writers.capsule_parties import CapsuleChange

DEFAULT_LIMIT = 50
VALUE_WIDTH = 100  # characters of one value on screen; --json has them whole
REASON_WIDTH = 240
HELD_BACK_SHOWN = 10

SYMBOLS = {
    "create": ("+", "green"),
    "update": ("~", "yellow"),
    "archive": ("-", "red"),
    "restore": ("↺", "cyan"),
}
STATUS_TEXT = {
    "pending_approval": "waiting for approval",
    "approved": "approved, ready to apply",
    "applying": "being applied (an interrupted apply resumes on the next run)",
    "applied": "applied",
    "partly_applied": "partly applied: stopped before the end (the next `capsule-xero sync --apply` finishes it,"
    " or a newer plan carries the rest)",
    "superseded": "superseded by a newer plan (not applied)",
    "empty": "empty: nothing to write",
}
STATUS_STYLE = {
    "pending_approval": "bold yellow",
    "approved": "bold green",
    "applied": "bold green",
    "partly_applied": "bold red",
    "superseded": "dim",
}
NOUNS = {"create": "to create", "update": "to update", "archive": "to archive", "restore": "to restore"}
CAPSULE_SYMBOLS = {
    "update": ("~", "yellow"),
    "create": ("+", "green"),
    "tag": ("#", "magenta"),
    "untag": ("#", "cyan"),
    "money": ("$", "green"),
}


def _when(value: datetime | None) -> str:
    return f"{value:%Y-%m-%d %H:%M} UTC" if value is not None else "-"


def shorten(text: str, width: int = VALUE_WIDTH) -> str:
    """A value for the screen: control characters spelt out, then cut to ``width``."""
    text = spell_out(text)
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"


def describe_value(field: str, value: str | None) -> str:
    """One canonical value as a person reads it: quoted text, an address on one line, people, groups."""
    if value is None:
        return "(empty)"
    try:
        if field.endswith("_address") and field != "email_address":
            return shorten(_address(json.loads(value)))
        if field == "contact_persons":
            return shorten(_persons(json.loads(value)))
        if field == "contact_groups":
            groups = json.loads(value)
            return shorten(", ".join(groups)) if groups else "(none)"
    except (ValueError, TypeError, AttributeError):
        pass  # not the JSON the contact shape promises: show it as it is
    return shorten(json.dumps(value, ensure_ascii=False))


def _address(address: dict[str, Any]) -> str:
    lines = [line for line in address.get("lines") or [] if line]
    place = " ".join(p for p in (address.get("city"), address.get("region"), address.get("postal_code")) if p)
    parts = [*lines, place, address.get("country") or ""]
    return ", ".join(p for p in parts if p) or "(empty)"


def _persons(people: list[dict[str, Any]]) -> str:
    if not people:
        return "(none)"
    shown = []
    for person in people:
        name = " ".join(p for p in (person.get("first_name"), person.get("last_name")) if p) or "(no name)"
        email = person.get("email_address")
        shown.append(f"{name} <{email}>" if email else name)
    return "; ".join(shown)


def plan_header(plan: Plan) -> list[Text]:
    """Number and status, when and against what, why it waits, and the counts per operation."""
    lines = [
        Text.assemble(
            (f"Plan {plan.plan_id}", "bold"),
            " · ",
            (STATUS_TEXT.get(plan.status, plan.status), STATUS_STYLE.get(plan.status, "")),
        ),
        Text(
            f"  made {_when(plan.created_at)} from Xero as of {_when(plan.xero_state_at)}"
            f" and Capsule as of {_when(plan.capsule_state_at)}",
            style="dim",
        ),
    ]
    if plan.approved_at is not None and plan.status != "pending_approval":
        who = f" by {spell_out(plan.approved_by)}" if plan.approved_by else ""
        run = f" (Dagster run {spell_out(plan.approved_in_run)})" if plan.approved_in_run else ""
        lines.append(Text(f"  approved {_when(plan.approved_at)}{who}{run}", style="dim"))
    if plan.applied_at is not None:
        lines.append(Text(f"  applied {_when(plan.applied_at)}", style="dim"))
    if plan.resumes:
        lines.append(
            Text(
                f"  Plan {plan.plan_id} was interrupted before it finished; it stands, with its approval, until"
                " `capsule-xero sync --apply` finishes it. Changes made since are planned after that.",
                style="yellow",
            )
        )
    if plan.approval_reasons:
        waits = plan.status == "pending_approval"
        lines.append(Text("  needs approval because:" if waits else "  needed approval because:"))
        lines.extend(Text(f"    • {spell_out(reason)}") for reason in plan.approval_reasons)
        if waits:
            lines.append(
                Text.assemble("  approve it with ", (f"capsule-xero approve {plan.plan_id}", "bold"))
            )
    lines.append(Text())
    counts = plan.counts
    if plan.capsule_writes:
        lines.append(
            Text(
                f"→ Xero: {plan.operations:,} {'contact' if plan.operations == 1 else 'contacts'}"
                f"   ← Capsule: {plan.capsule_writes:,} {'party' if plan.capsule_writes == 1 else 'parties'}"
                f" ({counts.get('capsule_update', 0):,} to update, {counts.get('capsule_create', 0):,} to create,"
                f" {counts.get('capsule_tag', 0):,} to tag or untag"
                + (
                    f", {counts['capsule_money']:,} with Xero's money to set)"
                    if counts.get("capsule_money")
                    else ")"
                ),
                style="bold",
            )
        )
    lines.append(
        Text(
            ", ".join(f"{counts.get(op, 0):,} {NOUNS[op]}" for op in PLANNED_OPERATIONS)
            + f", {plan.notes:,} History {'note' if plan.notes == 1 else 'notes'}"
            + (
                f", {plan.write_backs:,} {'ContactID' if plan.write_backs == 1 else 'ContactIDs'} to write back"
                " to Capsule"
                if plan.write_backs
                else ""
            ),
            style="bold",
        )
    )
    if counts.get("draft_quote") or counts.get("draft_invoice"):
        lines.append(
            Text(
                f"{counts.get('draft_quote', 0):,} draft {plural_s(counts.get('draft_quote', 0), 'quote')}"
                f" and {counts.get('draft_invoice', 0):,} draft"
                f" {plural_s(counts.get('draft_invoice', 0), 'invoice')} to create for won opportunities"
                " (never approved, sent, voided or deleted by this tool)",
                style="bold",
            )
        )
    left_out = []
    if counts.get("documents_in_review"):
        left_out.append(
            f"{counts['documents_in_review']:,} billing"
            f" {plural_s(counts['documents_in_review'], 'document')} waiting in review (reasons below;"
            " `capsule-xero report billing_review`)"
        )
    if counts.get("review"):
        left_out.append(f"{counts['review']:,} waiting in review (`capsule-xero report review_queue`)")
    if counts.get("hold"):
        left_out.append(f"{counts['hold']:,} held (archived in Xero by someone else: left alone)")
    if counts.get("held_back"):
        left_out.append(f"{counts['held_back']:,} held back by the error queue")
    if counts.get("capsule_held_back"):
        left_out.append(
            f"{counts['capsule_held_back']:,} Capsule {'write' if counts['capsule_held_back'] == 1 else 'writes'}"
            " Capsule refused before, unchanged since (`capsule-xero status`)"
        )
    if left_out:
        lines.append(Text("Not in this plan: " + "; ".join(left_out) + "."))
    if counts.get("money_fields_not_written"):
        fields = counts["money_fields_not_written"]
        lines.append(
            Text(
                f"{fields:,} money {'field' if fields == 1 else 'fields'} of the rules file (money.capsule_fields)"
                " not written to every party: Capsule lacks the definition or it does not fit;"
                " `capsule-xero report money_fields` shows the definition to create.",
                style="yellow",
            )
        )
    for held in plan.held_back[:HELD_BACK_SHOWN]:
        why = (
            "dead, a person must act"
            if held.queue_state == "dead"
            else f"retrying, next attempt {_when(held.next_attempt_at)}"
        )
        detail = f": {shorten(held.message, REASON_WIDTH)}" if held.message else ""
        operation = spell_out(held.operation or "-")
        lines.append(Text(f"  party {held.party_id} ({operation}) {why}{detail}", style="dim"))
    if len(plan.held_back) > HELD_BACK_SHOWN:
        lines.append(
            Text(
                f"  … and {len(plan.held_back) - HELD_BACK_SHOWN:,} more (`capsule-xero status`)", style="dim"
            )
        )
    return lines


def _operation_lines(op: PlanOperation, *, two_way: bool = False) -> list[Text]:
    symbol, style = SYMBOLS.get(op.operation, ("?", ""))
    title = Text.assemble(
        ("→ Xero " if two_way else "", "bold"),
        (f"{symbol} {op.operation}", style),
        f" {spell_out(op.contact_number or '(no number)')}",
    )
    if op.name:
        title.append(f" {spell_out(json.dumps(op.name, ensure_ascii=False))}")
    if not (op.contact_number or "").endswith(str(op.party_id)):
        title.append(f"  (party {op.party_id})", style="dim")
    if op.expect_refusal:
        title.append("  Xero may refuse this", style="red")
    lines = [title]
    for field in op.changed_fields:
        if op.operation == "create" and field in ("contact_number", "name"):
            continue  # already in the title line
        before = None if op.operation == "create" else op.before
        lines.append(_field_line(field, before, op.after, style))
    if op.kept_fields:
        lines.append(Text(f"    kept Xero's: {spell_out(', '.join(op.kept_fields))}", style="dim"))
    if op.reason:
        lines.append(Text(f"    # {shorten(op.reason, REASON_WIDTH)}", style="dim"))
    return lines


def plural_s(count: int, word: str) -> str:
    return word if count == 1 else f"{word}s"


def _document_lines(document: PlanDocument) -> list[Text]:
    """``+ draft quote CAP-OPP-12 for Acme: Fit-out 5000.00 AUD (Exclusive GST)``, or why it waits."""
    if document.operation == "create":
        return [Text.assemble(("→ Xero ", "bold"), ("+ ", "green"), spell_out(document.title))]
    return [
        Text.assemble(
            ("→ Xero ", "bold"), ("? ", "yellow"), spell_out(document.title), (" waits for review", "yellow")
        ),
        Text(f"    # {shorten(document.reason or '', REASON_WIDTH)}", style="dim"),
    ]


def _field_line(
    field: str, before: dict[str, str | None] | None, after: dict[str, str | None], style: str
) -> Text:
    """``    field: before → after`` (only the new value when there is no before)."""
    new = describe_value(field, after.get(field))
    if before is None:
        return Text.assemble(f"    {field}: ", (new, style))
    return Text.assemble(
        f"    {field}: ", (describe_value(field, before.get(field)), "dim"), " → ", (new, style)
    )


def money_text(value: str | None) -> str:
    """A money field's value as a person reads it: an amount with thousands separators and cents,
    anything else (the last invoice, a date) as it is; an empty field as (empty)."""
    if value is None or not value.strip():
        return "(empty)"
    try:
        amount = Decimal(value)
    except InvalidOperation:
        return shorten(value)
    return f"{amount:,.2f}" if amount.is_finite() else shorten(value)


def _money_lines(change: CapsuleChange, name: str | None) -> list[Text]:
    """``← Capsule  Acme Pty Ltd  Outstanding (Xero): 1,200.00 → 980.00``, one line per field."""
    who = spell_out(name) if name else f"party {change.party_id}"
    before = change.before or {}
    return [
        Text.assemble(
            ("← Capsule ", "bold"),
            (f" {who}  ", ""),
            f"{spell_out(field)}: ",
            (money_text(before.get(field)), "dim"),
            " → ",
            (money_text(change.after.get(field)), "green"),
        )
        for field in change.changed_fields
    ]


def _party_names(con: duckdb.DuckDBPyConnection, changes: list[CapsuleChange]) -> dict[int, str]:
    wanted = sorted({c.party_id for c in changes if c.operation == "money" and c.party_id is not None})
    if not wanted or not has_table(con, "staging", "capsule_parties"):
        return {}
    rows = con.execute(query("party_names"), {"party_ids": wanted}).fetchall()
    return {int(party_id): str(name) for party_id, name in rows if name is not None}


def _capsule_lines(change: CapsuleChange) -> list[Text]:
    """One Capsule write: ``← Capsule ~ update party 12 "Acme"`` and a ``field: before → after`` line each."""
    symbol, style = CAPSULE_SYMBOLS.get(change.operation, ("?", ""))
    who = f"party {change.party_id}" if change.party_id is not None else f"Xero contact {change.contact_id}"
    title = Text.assemble(
        ("← Capsule ", "bold"), (f"{symbol} {change.operation}", style), f" {spell_out(who)}"
    )
    name = change.after.get("name") or (change.before or {}).get("name")
    if name:
        title.append(f" {spell_out(json.dumps(name, ensure_ascii=False))}")
    lines = [title]
    if change.operation in ("tag", "untag"):
        verb = "adds" if change.operation == "tag" else "removes"
        lines.append(Text.assemble(f"    {verb} tag ", (spell_out(json.dumps(change.tag_name or "")), style)))
    for field in change.changed_fields:
        if field == "tags":
            continue
        lines.append(_field_line(field, change.before, change.after, style))
    if change.reason:
        lines.append(Text(f"    # {shorten(change.reason, REASON_WIDTH)}", style="dim"))
    return lines


def render_plan(
    con: duckdb.DuckDBPyConnection,
    plan: Plan,
    *,
    limit: int | None = DEFAULT_LIMIT,
    operation: str | None = None,
) -> Group:
    """The whole plan for a console: header and counts first, then at most ``limit`` operations."""
    lines = plan_header(plan)
    total = plan.counts.get(operation, 0) if operation else plan.operations
    shown = plan_operations(con, plan.plan_id, operation=operation, limit=limit)
    if shown:
        lines.append(Text())
    for op in shown:
        lines.extend(_operation_lines(op, two_way=plan.capsule_writes > 0))
    if plan.capsule_writes and operation is None:
        changes = capsule_changes(con, plan.plan_id, limit=limit)
        names = _party_names(con, changes)
        for change in changes:
            if change.operation == "money":
                lines.extend(_money_lines(change, names.get(change.party_id or 0)))
            else:
                lines.extend(_capsule_lines(change))
        if limit is not None and plan.capsule_writes > limit:
            lines.append(
                Text(
                    f"  … and {plan.capsule_writes - limit:,} more Capsule writes (--json prints everything)."
                )
            )
    if operation is None:
        for document in plan_documents(con, plan.plan_id, limit=limit):
            lines.extend(_document_lines(document))
    if operation and not shown:
        lines.append(Text(f"\nNo {operation} operations in plan {plan.plan_id}."))
    if len(shown) < total:
        what = f"{operation} operations" if operation else "operations"
        lines.append(
            Text(
                f"\n… and {total - len(shown):,} more {what} ({total:,} in all): --limit {total} shows them,"
                " --json prints everything."
            )
        )
    if plan.status == "empty":
        lines.append(Text("Nothing to do: Xero already holds what Capsule says."))
    return Group(*lines)


def render_summary(plan: Plan) -> Group:
    """Header and counts only (what ``sync`` prints)."""
    return Group(*plan_header(plan))


def plan_json(
    con: duckdb.DuckDBPyConnection,
    plan: Plan,
    *,
    limit: int | None = None,
    operation: str | None = None,
) -> dict[str, Any]:
    """The plan with its operations (before/after as canonical values), notes and held-back parties."""

    def when(value: datetime | None) -> str | None:
        return value.isoformat() if value is not None else None

    return {
        "plan_id": plan.plan_id,
        "status": plan.status,
        "created_at": when(plan.created_at),
        "xero_state_at": when(plan.xero_state_at),
        "capsule_state_at": when(plan.capsule_state_at),
        "approved_at": when(plan.approved_at),
        "applied_at": when(plan.applied_at),
        "approved_by": plan.approved_by,
        "approved_in_run": plan.approved_in_run,
        "content_hash": plan.content_hash,
        "rules_fingerprint": plan.rules_fingerprint,
        "approval_reasons": list(plan.approval_reasons),
        "counts": plan.counts,
        "operations": [
            {
                "seq": op.seq,
                "operation": op.operation,
                "party_id": op.party_id,
                "contact_id": op.contact_id,
                "contact_number": op.contact_number,
                "name": op.name,
                "changed_fields": list(op.changed_fields),
                "before": op.before,
                "after": op.after,
                "kept_fields": list(op.kept_fields),
                "reason": op.reason,
                "expect_refusal": op.expect_refusal,
            }
            for op in plan_operations(con, plan.plan_id, operation=operation, limit=limit)
        ],
        "capsule_operations": [
            {
                "seq": c.seq,
                "operation": c.operation,
                "party_id": c.party_id,
                "contact_id": c.contact_id,
                "changed_fields": list(c.changed_fields),
                "before": c.before,
                "after": c.after,
                "tag_name": c.tag_name,
                "reason": c.reason,
            }
            for c in capsule_changes(con, plan.plan_id, limit=limit)
        ],
        "documents": [
            {
                "seq": d.seq,
                "operation": d.operation,
                "reference": d.reference,
                "kind": d.kind,
                "opportunity_id": d.opportunity_id,
                "party_id": d.party_id,
                "contact_id": d.contact_id,
                "description": d.description,
                "amount": str(d.unit_amount) if d.unit_amount is not None else None,
                "currency": d.currency,
                "line_amount_types": d.line_amount_types,
                "reason": d.reason,
            }
            for d in plan_documents(con, plan.plan_id, limit=limit)
        ],
        "notes": [
            {"party_id": n.party_id, "contact_id": n.contact_id, "note_hash": n.note_hash, "note": n.note}
            for n in plan_notes(con, plan.plan_id)
        ],
        "held_back": [
            {
                "party_id": h.party_id,
                "operation": h.operation,
                "queue_state": h.queue_state,
                "next_attempt_at": when(h.next_attempt_at),
                "error_kind": h.error_kind,
                "message": h.message,
            }
            for h in plan.held_back
        ],
    }
