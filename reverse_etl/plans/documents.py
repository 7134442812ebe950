"""A plan's billing documents: DRAFT quotes or invoices for won Capsule opportunities (docs/billing.md).

The reconcile's ``reconcile.billing_documents`` (checked by ``reconcile.billing_preflight``) is drafted
with the rest of a plan (reverse_etl/plans/create.py), counted (``draft_quote``, ``draft_invoice``,
``documents_in_review``, ``documents_to_approve``), folded into the plan's content hash and stored in
``ledger.plan_documents``. A document with a preflight problem is stored as ``review`` with its reason
and is never sent; the others (``create``) are sent by reverse_etl/apply/documents.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from reverse_etl.sqlfile import SqlFile, has_table

if TYPE_CHECKING:
    from capsule_xero.rules.model import Rules

DOCUMENTS = SqlFile(Path(__file__).resolve().parent / "sql" / "documents.sql")
DOCUMENT_COUNTS = ("draft_quote", "draft_invoice")
# The settings the draft reads beside the reconcile (tracking IDs, the base currency).
CHECKED_WITH = ("xero_tracking_categories", "xero_tracking_categories__options", "xero_organisation")


@dataclass(frozen=True)
class PlanDocument:
    """One row of ``ledger.plan_documents``: a DRAFT quote or invoice a plan creates (or holds in review)."""

    plan_id: int
    seq: int
    operation: str  # create | review
    reference: str
    kind: str  # quote | invoice
    opportunity_id: int
    opportunity_name: str | None
    party_id: int | None
    party_name: str | None
    contact_id: str | None
    contact_status: str  # known | created_in_plan | none
    description: str
    quantity: Decimal
    unit_amount: Decimal | None
    currency: str | None
    line_amount_types: str
    account_code: str | None
    tax_type: str | None
    item_code: str | None
    tracking_category_id: str | None
    tracking_category: str | None
    tracking_option_id: str | None
    tracking_option: str | None
    reason: str | None
    inputs_hash: str

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> PlanDocument:
        return cls(**{name: row[name] for name in cls.__dataclass_fields__})

    @property
    def title(self) -> str:
        """``draft quote CAP-OPP-12 for Acme Pty Ltd: Fit-out 5000.00 AUD (Exclusive GST)``."""
        amount = (
            f"{self.unit_amount} {self.currency or ''}".strip()
            if self.unit_amount is not None
            else "no value"
        )
        gst = {"Exclusive": "Exclusive GST", "Inclusive": "Inclusive GST"}.get(
            self.line_amount_types, "no tax"
        )
        party = self.party_name or f"party {self.party_id}"
        return f"draft {self.kind} {self.reference} for {party}: {self.description} {amount} ({gst})"


def draft_documents(con: duckdb.DuckDBPyConnection, rules: Rules) -> None:
    """The temporary table ``plan_draft_documents`` (empty when the reconcile made no billing tables)."""
    if not has_table(con, "reconcile", "billing_documents"):
        DOCUMENTS.execute(con, "draft_none")
    elif all(has_table(con, "raw", table) for table in CHECKED_WITH):
        DOCUMENTS.execute(con, "draft", {"auto_approve_under": rules.billing.auto_approve_under})
    else:
        DOCUMENTS.execute(con, "draft_unchecked")


def draft_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    (row,) = DOCUMENTS.rows(con, "draft_counts")
    return {key: int(value) for key, value in row.items()}


def draft_hash(con: duckdb.DuckDBPyConnection) -> str:
    """What the plan's documents ask of Xero, for the plan's content hash ('' when there are none)."""
    ((hashed,),) = DOCUMENTS.execute(con, "draft_hash").fetchall()
    return hashed


def store_documents(con: duckdb.DuckDBPyConnection, plan_id: int) -> None:
    DOCUMENTS.execute(con, "store", {"plan_id": plan_id})


def drop_draft(con: duckdb.DuckDBPyConnection) -> None:
    DOCUMENTS.execute(con, "drop_draft")


def plan_documents(
    con: duckdb.DuckDBPyConnection, plan_id: int, *, operation: str | None = None, limit: int | None = None
) -> list[PlanDocument]:
    """Plan ``plan_id``'s documents in order (one operation only when given, at most ``limit``)."""
    if not has_table(con, "ledger", "plan_documents"):
        return []
    rows = DOCUMENTS.rows(con, "documents", {"plan_id": plan_id, "operation": operation, "limit": limit})
    return [PlanDocument.from_row(row) for row in rows]


def approval_reason(counts: Mapping[str, int], rules: Rules) -> str | None:
    """Why the plan's documents wait for a person: every document does, unless
    ``billing.auto_approve_under`` lets one under that amount in the base currency through."""
    waiting = counts.get("documents_to_approve", 0)
    if not waiting:
        return None
    kinds = [kind for kind in ("quote", "invoice") if counts.get(f"draft_{kind}")]
    noun = kinds[0] if len(kinds) == 1 else "document"
    limit = rules.billing.auto_approve_under
    why = (
        f"not under billing.auto_approve_under ({limit} in the base currency)"
        if limit is not None
        else "every billing document waits for approval unless billing.auto_approve_under is set"
    )
    return f"{waiting:,} draft {noun}{'' if waiting == 1 else 's'} to create in Xero ({why})"
