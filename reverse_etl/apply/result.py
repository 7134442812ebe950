"""What one apply run reports, and the plan and outcome statuses it goes by."""

from __future__ import annotations

from dataclasses import dataclass, field

# Handed to ``apply_plan(on_progress=...)``: a stage (recover, contacts, groups, notes, documents,
# capsule, write_back), done/total, the calls it made, the calls left and an ETA.
from capsule_xero.progress import Progress as Progress
from reverse_etl.plans.model import PlanError

APPLICABLE = ("approved", "applying", "partly_applied")
DONE = ("applied", "empty")
SUCCESS_STATUSES = ("created", "exists", "updated", "archived", "restored")
FINAL_STATUSES = (*SUCCESS_STATUSES, "failed", "refused", "queued")


class PlanNotApplicable(PlanError):
    """The plan does not exist, or is not in a state that may be applied (pending approval, superseded)."""


@dataclass
class ApplyResult:
    """What one run of ``apply_plan`` did. ``problems`` are one plain line each, for a person."""

    plan_id: int
    status: str = ""
    created: int = 0
    exists: int = 0  # creates an earlier, interrupted attempt had made (found, not made again)
    updated: int = 0
    archived: int = 0
    restored: int = 0
    failed: int = 0  # validation: the record must be fixed (in the error queue)
    refused: int = 0  # Xero's state forbids it, e.g. a repeating invoice (in the error queue)
    queued: int = 0  # not sent: the party waits in the error queue (dead, or not due yet)
    unknown: int = 0  # answer lost and not settled: looked up before anything is sent next run
    not_sent: int = 0  # never reached Xero (the run stopped first, e.g. at the daily limit): sent next run
    recovered: int = 0  # outcomes settled by a lookup after a crash
    write_calls: int = 0  # contact write attempts (batches sent, retries with a new key included)
    batches: int = 0
    groups_changed: int = 0  # contacts whose managed group membership was set
    notes: int = 0
    written_back: int = 0
    write_backs_pending: int = 0
    capsule_written: int = 0  # Capsule writes done (sync.direction: both)
    capsule_failed: int = 0  # refused by Capsule, with its message (the Capsule error queue)
    capsule_pending: int = 0  # answer lost or not sent yet: settled or sent by the next run
    draft_documents: int = 0  # DRAFT quotes or invoices made for won opportunities (billing)
    documents_pending: int = 0  # their answer lost: looked up by Reference before anything is sent again
    problems: list[str] = field(default_factory=list)
    stopped: str | None = None  # why sending stopped early (Xero unavailable, daily limit ...)

    @property
    def complete(self) -> bool:
        """Every operation reached Xero or the error queue with a reason, and nothing stopped the run."""
        return self.status in DONE and self.stopped is None

    def counts(self) -> dict[str, int]:
        names = ("created", "exists", "updated", "archived", "restored", "failed", "refused", "queued")
        extra = ("unknown", "not_sent", "recovered", "write_calls", "groups_changed", "notes", "written_back")
        capsule = ("capsule_written", "capsule_failed", "capsule_pending")
        documents = ("draft_documents", "documents_pending")
        return {
            name: getattr(self, name)
            for name in (*names, *extra, "write_backs_pending", *capsule, *documents)
        }

    def count(self, status: str) -> None:
        """One more operation with outcome ``status`` (created, updated, failed, refused ...)."""
        setattr(self, status, getattr(self, status) + 1)
