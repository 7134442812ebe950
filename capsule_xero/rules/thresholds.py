"""The numbers that gate a run: matching confidence, the share of rejects tolerated, what needs approval."""

from __future__ import annotations

from pydantic import Field

from capsule_xero.rules.section import Section


class MatchingRules(Section):
    min_confidence: float = Field(default=0.6, ge=0, le=1)


class ValidationRules(Section):
    max_reject_share: float = Field(default=0.2, ge=0, le=1)


class ApprovalRules(Section):
    max_operations: int = Field(default=100, ge=0)
    archives_need_approval: bool = True
    first_migration_needs_approval: bool = True
    # Writes to Capsule (sync.direction: both): a new Capsule party is a new CRM record the sales team
    # sees, so by default a person approves those; updates of fields Xero owns flow freely.
    capsule_creates_need_approval: bool = True
    capsule_updates_need_approval: bool = False
