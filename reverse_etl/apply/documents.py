"""The billing stage of an apply run: DRAFT quotes or invoices for won Capsule opportunities, exactly once
(docs/billing.md; the writer: reverse_etl/writers/xero_documents.py).

It runs after the contacts, so a party whose contact the same plan created has its ContactID
(``ledger.written_contacts``). For each ``create`` document of the plan:

1. Its Reference (CAP-OPP-<id>) is looked up in Xero first: a document that already has it — made by
   hand, or by an earlier run whose record was lost — is not created again (outcome ``exists``).
2. The outbox row (``ledger.document_outbox``) is committed, then ``PUT`` goes with an
   Idempotency-Key derived from the opportunity, the kind and the attempt (the generation). The
   transport's own retries carry the same key, so Xero replays instead of creating twice.
3. The answer is recorded with the outbox row removed in one transaction: ``done`` (number and link),
   ``failed`` (Xero refused it: its message; planned again only when what it asks changes), or
   ``unknown`` (the answer was lost; the row stays). An Idempotency-Key replays for 6 minutes only
   (docs/api-facts.md#xero-idempotency-keys), so ``recover()``, first in every run, looks the Reference
   up before anything is sent again: found, it is ``done``; not found, it is sent with the next
   generation's key.
4. Around a document made: a History note naming the Capsule opportunity (only on the tool's own
   documents), then its number and link into the Capsule opportunity field ``billing.opportunity_field``;
   a field Capsule does not define is reported with the exact definition to create, never skipped in
   silence. What a stopped run left of these is finished by the next one.

The tool never approves, sends, voids or deletes a document.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import httpx

from capsule_xero.capsule.errors import CapsuleError
from capsule_xero.xero.pacing import DailyLimitReached, XeroUnavailable
from reverse_etl.apply.context import RunContext
from reverse_etl.ledger.schema import ensure_ledger
from reverse_etl.plans.documents import PlanDocument, plan_documents
from reverse_etl.sqlfile import SqlFile, transaction
from reverse_etl.writers.xero_documents import (
    DocumentRefused,
    DraftDocument,
    OpportunityField,
    XeroDocument,
    XeroDocumentWriter,
)

log = logging.getLogger(__name__)

SQL = SqlFile(Path(__file__).resolve().parent / "sql" / "documents.sql")
LOST = (httpx.TransportError, XeroUnavailable)


@dataclass
class DocumentApplyResult:
    created: int = 0
    exists: int = 0
    failed: int = 0
    unknown: int = 0
    recovered: int = 0


def idempotency_key(document: PlanDocument, generation: int) -> str:
    """Derived from the opportunity, the kind and the attempt: the same send carries the same key."""
    return f"capsule-xero-opp-{document.opportunity_id}-{document.kind}-{generation}"


def history_details(document: PlanDocument | None, reference: str, opportunity_id: int) -> str:
    name = document.opportunity_name if document is not None else None
    what = f"Capsule opportunity {opportunity_id}{f' “{name}”' if name else ''}"
    return f"Created as a DRAFT by capsule-xero from {what} when it was won (Reference {reference})."


class DocumentSender:
    def __init__(
        self,
        ctx: RunContext,
        writer: XeroDocumentWriter | None = None,
        field: OpportunityField | None = None,
    ) -> None:
        self.ctx = ctx
        self._writer = writer
        self._field_writer = field
        self.result = DocumentApplyResult()
        self._field_missing_said = False
        ensure_ledger(ctx.con)

    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        return self.ctx.con

    # Made when first needed: a run without billing documents touches neither client.
    @property
    def writer(self) -> XeroDocumentWriter:
        if self._writer is None:
            self._writer = XeroDocumentWriter(self.ctx.writer.session)
        return self._writer

    @property
    def field(self) -> OpportunityField:
        if self._field_writer is None:
            self._field_writer = OpportunityField(
                self.ctx.capsule.client, self.ctx.rules.billing.opportunity_field
            )
        return self._field_writer

    # ---- step 1 of a run: the lost answers, then what was left around the documents made -------------
    def recover(self) -> None:
        for row in SQL.rows(self.con, "open_outbox"):
            document = self._document(row["plan_id"], row["seq"])
            found = self.writer.find(row["kind"], row["reference"], row["contact_id"])
            if found is not None:
                self._made(document, found, recovered=True)
            elif document is not None:
                self._send(document, row["contact_id"], int(row["generation"]) + 1)
            else:  # the plan row is gone (cannot happen: plans are never deleted); nothing to send
                SQL.execute(self.con, "delete_outbox", {"reference": row["reference"]})
        self.finish_around()

    # ---- step 2: the plan's documents --------------------------------------------------------------
    def run(self, documents: list[PlanDocument]) -> DocumentApplyResult:
        settled = self._settled(self.ctx.plan_id)
        waiting = {row["reference"] for row in SQL.rows(self.con, "in_outbox")}
        todo = [d for d in documents if d.operation == "create" and d.seq not in settled]
        self.ctx.progress("documents", 0, len(todo))
        for position, document in enumerate(todo):
            if document.reference in waiting:
                self.result.unknown += 1  # recover() could not settle it: never sent blind
                continue
            contact_id = document.contact_id or self._written_contact(document.party_id)
            if contact_id is None:
                self._failed(
                    document,
                    None,
                    f"party {document.party_id}'s Xero contact was not created, so the {document.kind} was not"
                    " made (see `capsule-xero status`); it is planned again once the contact exists",
                )
                continue
            found = self.writer.find(document.kind, document.reference, contact_id)
            if found is not None:
                self._exists(document, found)
            else:
                ((attempts,),) = SQL.execute(
                    self.con, "earlier_attempts", {"reference": document.reference}
                ).fetchall()
                self._send(document, contact_id, int(attempts) + 1)
            self.ctx.progress("documents", position + 1, len(todo))
        return self.result

    def all_settled(self, documents: list[PlanDocument]) -> bool:
        sent = [d for d in documents if d.operation == "create"]
        settled = self._settled(self.ctx.plan_id)
        return all(d.seq in settled for d in sent)

    # ---- one document ------------------------------------------------------------------------------
    def _send(self, document: PlanDocument, contact_id: str, generation: int) -> None:
        draft = self._draft(document, contact_id)
        key = idempotency_key(document, generation)
        # Committed before the request leaves (autocommit: no transaction is open here).
        SQL.execute(
            self.con,
            "insert_outbox",
            {
                "reference": document.reference,
                "plan_id": document.plan_id,
                "seq": document.seq,
                "kind": document.kind,
                "contact_id": contact_id,
                "generation": generation,
                "idempotency_key": key,
                "body": draft.body().decode("utf-8"),
                "attempted_at": datetime.now(UTC),
            },
        )
        try:
            made = self.writer.create(draft, key)
        except DailyLimitReached:
            # Refused unprocessed (Xero took nothing): nothing to look up.
            SQL.execute(self.con, "delete_outbox", {"reference": document.reference})
            raise
        except DocumentRefused as refused:
            self._failed(document, draft.contact_id, f"Xero refused the {document.kind}: {refused}")
            return
        except LOST as exc:
            self._outcome(document, "unknown", None, str(exc))
            self.result.unknown += 1
            log.warning(
                "%s: Xero's answer was lost (%s); the next run looks its Reference up",
                document.reference,
                exc,
            )
            return
        self._made(document, made, recovered=False)

    def _made(self, document: PlanDocument | None, made: XeroDocument, *, recovered: bool) -> None:
        if document is None:
            return
        message = "found by its Reference after a lost answer" if recovered else None
        with transaction(self.con):
            self._outcome(document, "done", made, message)
            SQL.execute(self.con, "delete_outbox", {"reference": document.reference})
        self.result.created += 1
        self.result.recovered += int(recovered)
        self._around(document.plan_id, document.seq, document, made, ours=True, noted=False)

    def _exists(self, document: PlanDocument, found: XeroDocument) -> None:
        message = (
            f"Xero already has {found.number or found.document_id} with Reference {document.reference}"
            f" ({(found.status or '').lower()}): not created again"
        )
        self._outcome(document, "exists", found, message)
        self.result.exists += 1
        self.ctx.result.problems.append(f"{document.reference}: {message}")
        self._around(document.plan_id, document.seq, document, found, ours=False, noted=False)

    def _failed(self, document: PlanDocument, contact_id: str | None, message: str) -> None:
        with transaction(self.con):
            self._outcome(document, "failed", None, message)
            SQL.execute(self.con, "delete_outbox", {"reference": document.reference})
        self.result.failed += 1
        self.ctx.result.problems.append(f"{document.reference} ({document.party_name}): {message}")

    def _outcome(
        self, document: PlanDocument, status: str, made: XeroDocument | None, message: str | None
    ) -> None:
        SQL.execute(
            self.con,
            "record_outcome",
            {
                "plan_id": document.plan_id,
                "seq": document.seq,
                "reference": document.reference,
                "kind": document.kind,
                "opportunity_id": document.opportunity_id,
                "status": status,
                "document_id": made.document_id if made else None,
                "document_number": made.number if made else None,
                "url": made.url if made else None,
                "message": message,
                "inputs_hash": document.inputs_hash,
                "at": self.ctx.now(),
            },
        )

    # ---- around a document: the History note and the Capsule field ---------------------------------
    def finish_around(self) -> None:
        for row in SQL.rows(self.con, "unfinished_around"):
            made = XeroDocument(
                row["kind"], row["document_id"], row["document_number"], row["reference"], None
            )
            document = self._document(row["plan_id"], row["seq"])
            self._around(
                row["plan_id"],
                row["seq"],
                document,
                made,
                ours=row["status"] == "done",
                noted=row["history_noted"],
            )

    def _around(
        self,
        plan_id: int,
        seq: int,
        document: PlanDocument | None,
        made: XeroDocument,
        *,
        ours: bool,
        noted: bool,
        retry: bool = False,
    ) -> None:
        reference = made.reference or (document.reference if document else "")
        opportunity_id = document.opportunity_id if document else 0
        if ours and not noted:
            details = history_details(document, reference, opportunity_id)
            try:
                # A note left to a later run may have landed before the run stopped: read first.
                if not retry or details not in self.writer.history_details(made.kind, made.document_id):
                    self.writer.add_history(
                        made.kind, made.document_id, details, f"capsule-xero-note-{made.document_id}"
                    )
                SQL.execute(self.con, "noted", {"plan_id": plan_id, "seq": seq})
            except (DocumentRefused, *LOST) as exc:
                self.ctx.result.problems.append(
                    f"{reference}: the History note was not added yet ({exc}); the next run adds it"
                )
        self._field(plan_id, seq, opportunity_id, made, reference)

    def _field(self, plan_id: int, seq: int, opportunity_id: int, made: XeroDocument, reference: str) -> None:
        params: dict[str, Any] = {"plan_id": plan_id, "seq": seq}
        try:
            definition = self.field.definition()
            if definition is None:
                SQL.execute(self.con, "field_written", params | {"capsule_field": "pending"})
                if not self._field_missing_said:
                    self._field_missing_said = True
                    self.ctx.result.problems.append(self.field.missing())
                return
            self.field.write(opportunity_id, f"{made.number or made.document_id} {made.url}")
            SQL.execute(self.con, "field_written", params | {"capsule_field": "written"})
        except (CapsuleError, httpx.HTTPError) as exc:
            SQL.execute(self.con, "field_written", params | {"capsule_field": "pending"})
            self.ctx.result.problems.append(
                f"{reference}: the Capsule opportunity {opportunity_id} field was not written ({exc});"
                " the next run writes it"
            )

    # ---- reading the ledger --------------------------------------------------------------------------
    def _settled(self, plan_id: int) -> set[int]:
        return {int(row["seq"]) for row in SQL.rows(self.con, "settled", {"plan_id": plan_id})}

    def _written_contact(self, party_id: int | None) -> str | None:
        if party_id is None:
            return None
        rows = SQL.rows(self.con, "written_contact", {"party_id": party_id})
        return rows[0]["contact_id"] if rows else None

    def _document(self, plan_id: int, seq: int) -> PlanDocument | None:
        rows = SQL.rows(self.con, "plan_document", {"plan_id": plan_id, "seq": seq})
        return PlanDocument.from_row(rows[0]) if rows else None

    def _draft(self, document: PlanDocument, contact_id: str) -> DraftDocument:
        tracking: tuple[dict[str, str], ...] = ()
        if document.tracking_category and document.tracking_option:
            entry = {"Name": document.tracking_category, "Option": document.tracking_option}
            if document.tracking_category_id and document.tracking_option_id:
                entry |= {
                    "TrackingCategoryID": document.tracking_category_id,
                    "TrackingOptionID": document.tracking_option_id,
                }
            tracking = (entry,)
        assert document.unit_amount is not None  # the preflight sends a document without value to review
        return DraftDocument(
            kind=document.kind,  # type: ignore[arg-type]
            reference=document.reference,
            contact_id=contact_id,
            title=document.opportunity_name or document.description,
            description=document.description,
            quantity=document.quantity,
            unit_amount=document.unit_amount,
            currency=document.currency,
            line_amount_types=document.line_amount_types,
            account_code=document.account_code,
            tax_type=document.tax_type,
            item_code=document.item_code,
            tracking=tracking,
            date=self.ctx.now().date(),
        )


def documents_to_send(con: duckdb.DuckDBPyConnection, plan_id: int) -> list[PlanDocument]:
    return plan_documents(con, plan_id, operation="create")


def drafts_made(con: duckdb.DuckDBPyConnection, plan_id: int) -> list[str]:
    """The DRAFT quotes and invoices plan ``plan_id`` made, one line each (what undo leaves alone)."""
    ensure_ledger(con)
    return [
        f"draft {row['kind']} {row['document_number'] or ''} ({row['reference']}) {row['url']}".replace(
            "  ", " "
        )
        for row in SQL.rows(con, "made_by_plan", {"plan_id": plan_id})
    ]
