"""The Capsule stage of an apply run: what changed in Xero written to Capsule parties, exactly once as far
as Capsule allows (issue 13; the writer: reverse_etl/writers/capsule_parties.py).

Capsule takes no idempotency key and merges list rows by id (docs/api-facts.md#capsule-writing): a PUT
that adds a row, an untag and a POST, repeated after a lost answer, would add the row (or party) twice.
So every write is in ``ledger.capsule_outbox`` (committed) before it leaves, and its answer is recorded
in one transaction that also removes it from there:

- done: ``ledger.capsule_outcomes`` says so (a create names the party it made: the next run's matching
  links it through its "Xero Contact ID" field); ``ledger.capsule_writes`` keeps the party's updatedAt
  before and after, so staging does not take this tool's write for somebody's edit; an update sets
  the pulled fields of ``ledger.written_contacts`` to the values written (inserting the plan's ``base``
  for a contact with no row), so the next diff sees nothing to do on either side (no echo).
- failed: Capsule refused it (422, or 404 for a party deleted meanwhile), with Capsule's message. These
  outcomes are the Capsule error queue: ``ledger.error_queue`` holds one Xero write per party (its key)
  and cannot take a create, which has no party yet.
- unknown: the answer was lost (a timeout, a dropped connection, 5xx after every retry). The write stays
  in the outbox; ``recover()``, which runs first in the next apply, reads the party back and records it
  done, or sends it again.

Capsule's hourly limit (``CapsuleRateLimitReached``, after the pacer waited what it could) stops the
stage cleanly: what was done is recorded and the rest is sent by the next run.
Use: ``sender = CapsuleChangeSender(ctx); sender.recover(); sender.run(changes)``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import httpx

from capsule_xero.capsule.errors import (
    CapsuleError,
    CapsuleRateLimitReached,
    CapsuleRequestRejected,
)
from reverse_etl.apply.context import RunContext
from reverse_etl.ledger.schema import ensure_ledger
from reverse_etl.sqlfile import SqlFile, has_table, transaction
from reverse_etl.writers.capsule_parties import (
    CapsuleChange,
    CapsulePartyWriter,
    PayloadError,
    ReadBack,
    Written,
)
from reverse_etl.writers.capsule_party_payloads import PartyRequest

log = logging.getLogger(__name__)

SQL = SqlFile(Path(__file__).resolve().parent / "sql" / "capsule_changes.sql")
LOST = (CapsuleError, httpx.HTTPError)  # what is left once refusals and the hourly limit are handled


@dataclass
class CapsuleApplyResult:
    """What the Capsule stage did in one run (``problems`` also go to the run's ``ApplyResult``)."""

    done: int = 0
    failed: int = 0
    unknown: int = 0  # answer lost: read back by the next run before anything is sent again
    not_sent: int = 0  # stopped before they were sent (the hourly limit, Capsule down): next run
    recovered: int = 0  # settled by a read-back after a lost answer
    created: dict[str, int] = field(default_factory=dict)  # contact id -> the party made for it
    stopped: str | None = None


class _Stop(Exception):
    """Sending cannot go on this run (the hourly limit, a refused token, Capsule down)."""


def capsule_refusals(con: duckdb.DuckDBPyConnection, limit: int = 100) -> list[dict[str, Any]]:
    """The Capsule error queue, newest first: writes Capsule refused last time, with its message."""
    if not has_table(con, "ledger", "capsule_outcomes"):
        return []
    return SQL.rows(con, "capsule_refusals", {"limit": limit})


class CapsuleChangeSender:
    def __init__(self, ctx: RunContext, writer: CapsulePartyWriter | None = None) -> None:
        self.ctx = ctx
        rules = ctx.rules
        self.writer = writer or CapsulePartyWriter(
            ctx.capsule.client,
            abn_field=rules.capsule.abn_field,
            xero_id_field=rules.capsule.xero_contact_id_field,
            archived_tag=rules.sync.archived_tag,
        )
        self.result = CapsuleApplyResult()
        ensure_ledger(ctx.con)

    # ---- step 1 of a run: settle what a lost answer left in the outbox --------------------------
    def recover(self) -> CapsuleApplyResult:
        waiting = SQL.rows(self.ctx.con, "open_outbox")

        def settle(row: dict[str, Any]) -> None:
            change = CapsuleChange.from_json(row["change"])
            back = self.writer.read_back(change, row["attempted_at"])
            if back.landed:
                self._done(change, _written(change, back), row["capsule_updated_before"], recovered=True)
            else:  # not in Capsule: sent again, the party's stamp just read being the one before it
                self._attempt(change, back.updated_at or row["capsule_updated_before"])

        self._each("recover_capsule", waiting, settle)
        return self.result

    # ---- step 2: the plan's Capsule writes -------------------------------------------------------
    def run(self, changes: list[CapsuleChange]) -> CapsuleApplyResult:
        if self.result.stopped is not None:
            self.result.not_sent += len(changes)
            return self.result
        pending = sorted(changes, key=lambda c: (c.plan_id, c.seq))
        settled = self._settled({c.plan_id for c in pending})
        todo = [c for c in pending if (c.plan_id, c.seq) not in settled]
        waiting = {(c.plan_id, c.seq) for c in todo} & self._in_outbox({c.plan_id for c in todo})
        self.result.unknown += len(waiting)  # recover() could not settle them: never sent blind
        todo = [c for c in todo if (c.plan_id, c.seq) not in waiting]
        before = self._staged_updated_at(c.party_id for c in todo)
        self._each(
            "capsule",
            todo,
            lambda change: self._attempt(change, before.get(change.party_id) if change.party_id else None),
        )
        return self.result

    def _each(self, stage: str, items: list[Any], step: Callable[[Any], None]) -> None:
        """``step`` for each item, with progress, until something stops the stage for this run."""
        self.ctx.progress(stage, 0, len(items))
        for position, item in enumerate(items):
            try:
                step(item)
            except _Stop as stop:  # this item is settled or left in the outbox
                self._stopped(str(stop), len(items) - position - 1)
                return
            except CapsuleRateLimitReached as exc:  # nothing of this item was sent
                self._stopped(str(exc), len(items) - position)
                return
            except LOST as exc:  # a read (a read-back, the field definitions) that failed: nothing sent
                self._stopped(f"Capsule did not answer: {exc}", len(items) - position)
                return
            self.ctx.progress(stage, position + 1, len(items))

    # ---- one write ------------------------------------------------------------------------------
    def _attempt(self, change: CapsuleChange, updated_before: datetime | None) -> None:
        """Send ``change`` with its outbox row committed first, and record its answer. Raises ``_Stop``
        when nothing more can be sent this run (the write is then settled or left in the outbox), and
        ``CapsuleRateLimitReached`` when the hourly limit came before the call (nothing was sent)."""
        try:
            request = self.writer.request(change)
        except PayloadError as exc:
            self._failed(change, str(exc))
            return
        self._into_outbox(change, request, updated_before)
        try:
            written = self.writer.send(change, request)
        except CapsuleRateLimitReached:
            # Refused unprocessed (a 429) or never sent: nothing to read back.
            SQL.execute(self.ctx.con, "delete_outbox", {"plan_id": change.plan_id, "seq": change.seq})
            raise
        except CapsuleRequestRejected as refused:
            if refused.status in (401, 403):
                SQL.execute(self.ctx.con, "delete_outbox", {"plan_id": change.plan_id, "seq": change.seq})
                raise _Stop(str(refused)) from None
            self._failed(change, _refusal(change, refused))
            return
        except PayloadError as exc:  # answered, but not with a party: read back next run
            self._unknown(change, str(exc))
            return
        except LOST as exc:
            self._unknown(change, str(exc))
            if request.idempotent:
                # The pacer already sent this one again and again: Capsule is down, not one answer lost.
                raise _Stop(str(exc)) from None
            return
        self._done(change, written, updated_before)

    def _into_outbox(
        self, change: CapsuleChange, request: PartyRequest, updated_before: datetime | None
    ) -> None:
        """Committed before the request leaves (autocommit: no transaction is open here)."""
        SQL.execute(
            self.ctx.con,
            "insert_outbox",
            {
                "plan_id": change.plan_id,
                "seq": change.seq,
                "party_id": change.party_id,
                "contact_id": change.contact_id,
                "operation": change.operation,
                "body": json.dumps(request.body, ensure_ascii=False, separators=(",", ":")),
                "change": change.as_json(),
                # Capsule's clock, not the run's (a fixed time in tests): a create is looked for among
                # the parties Capsule changed since then.
                "attempted_at": datetime.now(UTC),
                "updated_before": updated_before,
            },
        )

    # ---- recording ------------------------------------------------------------------------------
    def _done(
        self,
        change: CapsuleChange,
        written: Written,
        updated_before: datetime | None,
        *,
        recovered: bool = False,
    ) -> None:
        con, at = self.ctx.con, self.ctx.now()
        created = written.party_id if change.operation == "create" else None
        message = "found in Capsule by a read-back after a lost answer" if recovered else None
        with transaction(con):
            self._outcome(change, "done", message, at, created)
            SQL.execute(
                con,
                "record_capsule_write",
                {
                    "party_id": written.party_id,
                    "contact_id": change.contact_id,
                    "plan_id": change.plan_id,
                    "seq": change.seq,
                    "operation": change.operation,
                    "fields": json.dumps(_fields_written(change), ensure_ascii=False, separators=(",", ":")),
                    "at": at,
                    "updated_before": None if created is not None else updated_before,
                    "updated_after": written.updated_at,
                },
            )
            if change.operation == "update":
                self._set_base(change, at)
            SQL.execute(con, "delete_outbox", {"plan_id": change.plan_id, "seq": change.seq})
        self.result.done += 1
        self.result.recovered += int(recovered)
        if created is not None:
            self.result.created[change.contact_id] = created

    def _set_base(self, change: CapsuleChange, at: datetime) -> None:
        params = {"contact_id": change.contact_id, "party_id": change.party_id, "plan_id": change.plan_id}
        if change.base is not None:
            base = json.dumps(change.base, ensure_ascii=False)
            SQL.execute(self.ctx.con, "insert_base", params | {"at": at, "base": base})
        after = json.dumps({f: change.after.get(f) for f in change.changed_fields}, ensure_ascii=False)
        SQL.execute(
            self.ctx.con,
            "set_pulled_fields",
            {"contact_id": change.contact_id, "fields": list(change.changed_fields), "after": after},
        )

    def _failed(self, change: CapsuleChange, message: str) -> None:
        with transaction(self.ctx.con):
            self._outcome(change, "failed", message, self.ctx.now(), None)
            SQL.execute(self.ctx.con, "delete_outbox", {"plan_id": change.plan_id, "seq": change.seq})
        self.result.failed += 1
        self.ctx.result.problems.append(f"{_record(change)}: not written to Capsule: {message}")

    def _unknown(self, change: CapsuleChange, message: str) -> None:
        """The outbox row stays: the next run reads the party back before sending anything again."""
        self._outcome(change, "unknown", message, self.ctx.now(), None)
        self.result.unknown += 1
        log.warning(
            "%s: Capsule's answer was lost (%s); the next run reads it back", _record(change), message
        )

    def _outcome(
        self, change: CapsuleChange, status: str, message: str | None, at: datetime, created: int | None
    ) -> None:
        SQL.execute(
            self.ctx.con,
            "record_outcome",
            {
                "plan_id": change.plan_id,
                "seq": change.seq,
                "party_id": change.party_id,
                "contact_id": change.contact_id,
                "operation": change.operation,
                "status": status,
                "message": message,
                "at": at,
                "party_id_created": created,
            },
        )

    def _stopped(self, why: str, left: int) -> None:
        self.result.stopped = why
        self.result.not_sent += max(0, left)
        self.ctx.result.problems.append(
            f"Capsule writes stopped with {max(0, left)} left for the next run: {why}"
        )

    def all_settled(self, changes: list[CapsuleChange]) -> bool:
        """Every one of ``changes`` is done or failed (its answer in, nothing left in the outbox)."""
        if not changes:
            return True
        settled = self._settled({c.plan_id for c in changes})
        return all((c.plan_id, c.seq) in settled for c in changes)

    # ---- reading the ledger -------------------------------------------------------------------------
    def _settled(self, plan_ids: Iterable[int]) -> set[tuple[int, int]]:
        return {
            (plan_id, int(row["seq"]))
            for plan_id in plan_ids
            for row in SQL.rows(self.ctx.con, "final_outcomes", {"plan_id": plan_id})
        }

    def _in_outbox(self, plan_ids: Iterable[int]) -> set[tuple[int, int]]:
        return {
            (plan_id, int(row["seq"]))
            for plan_id in plan_ids
            for row in SQL.rows(self.ctx.con, "outbox_seqs", {"plan_id": plan_id})
        }

    def _staged_updated_at(self, party_ids: Iterable[int | None]) -> dict[int, Any]:
        wanted = sorted({p for p in party_ids if p is not None})
        if not wanted or not has_table(self.ctx.con, "staging", "capsule_parties"):
            return {}
        rows = SQL.rows(self.ctx.con, "staged_updated_at", {"party_ids": wanted})
        return {int(r["party_id"]): r["updated_at"] for r in rows}


def _written(change: CapsuleChange, back: ReadBack) -> Written:
    party_id = back.party_id if back.party_id is not None else change.party_id
    assert party_id is not None  # a landed read-back names its party
    return Written(int(party_id), back.updated_at)


def _fields_written(change: CapsuleChange) -> dict[str, Any]:
    if change.operation == "tag":
        return {"tags": change.tag_name}
    if change.operation == "untag":
        return {"tags": None}
    if change.operation == "create":
        return {k: v for k, v in change.after.items() if v is not None}
    return {f: change.after.get(f) for f in change.changed_fields}


def _record(change: CapsuleChange) -> str:
    party = f"party {change.party_id}" if change.party_id is not None else "a new party"
    return f"{party} ({change.operation} from Xero contact {change.contact_id})"


def _refusal(change: CapsuleChange, refused: CapsuleRequestRejected) -> str:
    if refused.status == 404:
        return f"party {change.party_id} no longer exists in Capsule"
    return f"Capsule refused it (HTTP {refused.status}: {refused.detail or 'no reason given'})"
