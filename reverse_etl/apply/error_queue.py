"""The error queue: parties whose last write Xero refused (docs/architecture.md#the-ledger-and-the-outbox,
docs/operations.md#the-error-queue; the table: reverse_etl/ledger/sql/error_queue.sql).

An item Xero refused goes to ``ledger.error_queue`` with Xero's message. A validation error or a
refusal Xero's state decides is ``dead`` at once — it waits for a person — and
``ledger.error_queue_inputs`` keeps the hash of what was refused (``cx_operation_inputs``): new plans
leave the party out while they would ask the very same thing, a plan that still holds it does not send
it (outcome ``queued``), and a changed record, or ``release`` (``capsule-xero retry``), sends it again.
A Name or ContactNumber another contact holds is left to each plan's preflight. Only a failure in
``RETRIED_ERROR_KINDS`` is retried by itself, after growing delays (``RetryPolicy``), dead after
``max_attempts``. Success takes the party out of the queue.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from reverse_etl.apply.result import ApplyResult
from reverse_etl.ledger.schema import ensure_ledger
from reverse_etl.plans.model import PlanOperation
from reverse_etl.sqlfile import SqlFile

SQL = SqlFile(Path(__file__).resolve().parent / "sql" / "error_queue.sql")

# Error kinds the error queue retries by itself (with RetryPolicy's delays). Everything else Xero
# refuses — a validation error (the record must change), a refusal its state decides (an outstanding
# balance) — gives the same answer however often it is sent, so it waits for a person at once.
RETRIED_ERROR_KINDS = frozenset({"transient"})


def release_hint(party_id: int) -> str:
    """What ends a wait in the error queue, for the person reading it."""
    return (
        "fix the record in Capsule or Xero (a changed record is sent again by the next sync),"
        f" or `capsule-xero retry {party_id}` to send it again as it is"
    )


def release(con: duckdb.DuckDBPyConnection, party_ids: Iterable[int]) -> list[int]:
    """A person releases parties that wait in the error queue: the next plan sends their operation
    again, as it is (and if Xero refuses it again, it waits again). Returns the parties released."""
    ensure_ledger(con)
    wanted = {"party_ids": sorted(set(party_ids))}
    waiting = [row["party_id"] for row in SQL.rows(con, "waiting_failures", wanted)]
    SQL.execute(con, "release_failures", wanted)
    return waiting


@dataclass(frozen=True)
class RetryPolicy:
    """How the error queue spaces the retries of a transient failure (``RETRIED_ERROR_KINDS``):
    ``first_delay`` × ``factor`` ^ (attempts − 1), at most ``max_delay``; after ``max_attempts``
    failed attempts the party is ``dead``. Other refusals are dead at once."""

    first_delay: timedelta = timedelta(minutes=15)
    factor: float = 4.0
    max_delay: timedelta = timedelta(hours=24)
    max_attempts: int = 5

    def delay(self, attempts: int) -> timedelta:
        return min(self.first_delay * (self.factor ** max(0, attempts - 1)), self.max_delay)


@dataclass
class ErrorQueue:
    """The queue as one apply run sees and changes it (party -> its entry)."""

    con: duckdb.DuckDBPyConnection
    result: ApplyResult
    retry: RetryPolicy
    entries: dict[int, dict[str, Any]] = field(init=False)

    def __post_init__(self) -> None:
        self.entries = {r["party_id"]: r for r in SQL.rows(self.con, "error_queue")}

    def held_back(self, op: PlanOperation, at: datetime) -> str | None:
        """Why the queue keeps this party's operation back, or None when it may be sent."""
        row = self.entries.get(op.party_id)
        if row is None:
            return None
        if row["state"] == "dead":
            if row.get("inputs_hash") is None or row["inputs_hash"] != op.inputs_hash:
                return None  # the record changed since Xero refused it, or a person released it
            return f"waits for a person in the error queue ({row['message']}): {release_hint(op.party_id)}"
        if row["next_attempt_at"] is not None and row["next_attempt_at"] > at:
            return (
                f"waiting in the error queue until {row['next_attempt_at']:%Y-%m-%d %H:%M %Z} "
                f"(attempt {row['attempts']} failed: {row['message']})"
            )
        return None

    def cleared(self, party_id: int) -> None:
        """The party's write succeeded: it leaves the queue."""
        if self.entries.pop(party_id, None) is not None:
            SQL.execute(self.con, "clear_failure", {"party_id": party_id})
            SQL.execute(self.con, "forget_inputs", {"party_id": party_id})

    def refused(self, op: PlanOperation, status: str, error_kind: str, message: str, at: datetime) -> None:
        """Xero refused ``op`` (``status`` failed or refused): queue it, retrying or dead, and say so."""
        previous = self.entries.get(op.party_id)
        attempts = (previous["attempts"] if previous else 0) + 1
        # A validation error or a refusal Xero's state decides gives the same answer however often
        # it is sent: it waits for a person (or a change of the record) at once. Only a failure
        # named transient is retried, with growing delays.
        retry = error_kind in RETRIED_ERROR_KINDS and attempts < self.retry.max_attempts
        # What is held back until it changes. A Name or ContactNumber another contact holds is no
        # fault of the record: every plan's preflight checks it against a fresh read of Xero (and
        # suffixes, links or sends it to review), so a plan that still carries the same write has
        # found the value free again; holding it back would only keep it from Xero.
        inputs_hash = None if "already assigned to another contact" in message.lower() else op.inputs_hash
        next_attempt_at = at + self.retry.delay(attempts) if retry else None
        self.entries[op.party_id] = {
            "party_id": op.party_id,
            "state": "retrying" if retry else "dead",
            "attempts": attempts,
            "next_attempt_at": next_attempt_at,
            "message": message,
            "inputs_hash": inputs_hash,
        }
        self._store(op, error_kind, message, attempts, at)
        if inputs_hash is None or retry:
            SQL.execute(self.con, "forget_inputs", {"party_id": op.party_id})
        else:
            SQL.execute(self.con, "keep_inputs", {"party_id": op.party_id, "inputs_hash": inputs_hash})
        self.result.count(status)
        self.result.problems.append(
            _problem(op, status, message, attempts, self.retry.max_attempts, next_attempt_at, inputs_hash)
        )

    def _store(self, op: PlanOperation, error_kind: str, message: str, attempts: int, at: datetime) -> None:
        SQL.execute(
            self.con,
            "queue_failure",
            {
                "party_id": op.party_id,
                "contact_id": op.contact_id,
                "plan_id": op.plan_id,
                "seq": op.seq,
                "operation": op.operation,
                "error_kind": error_kind,
                "message": message,
                "attempts": attempts,
                "max_attempts": self.retry.max_attempts,
                "delay": self.retry.delay(attempts),
                "retry": error_kind in RETRIED_ERROR_KINDS,
                "at": at,
            },
        )


def _problem(
    op: PlanOperation,
    status: str,
    message: str,
    attempts: int,
    max_attempts: int,
    next_attempt_at: datetime | None,
    inputs_hash: str | None,
) -> str:
    """The refusal in one line for a person: retried when, sent again when, or waiting for them."""
    record = f"party {op.party_id} ({op.operation} {op.contact_number or op.contact_id})"
    if next_attempt_at is not None:
        return (
            f"{record}: {status}: {message} — attempt {attempts} of {max_attempts}, "
            f"retried after {next_attempt_at:%Y-%m-%d %H:%M %Z}"
        )
    if inputs_hash is None:
        return (
            f"{record}: {status}: {message} — sent again once no other Xero contact holds it"
            " (each plan checks a fresh read of Xero first)"
        )
    return f"{record}: {status}: {message} — waits for a person: {release_hint(op.party_id)}"
