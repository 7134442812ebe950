"""Sending contact writes in batches, each attempt with a fresh Idempotency-Key, and settling every item
(facts: docs/api-facts.md#xero-writing-contacts, docs/api-facts.md#xero-idempotency-keys).

The shared transport (``capsule_xero.xero.pacing.PacedTransport``) resends a keyed write after a 429
(honouring ``Retry-After``), a 5xx, a timeout or a lost answer with the *same* key, and Xero replays
its first answer instead of writing twice. Xero also caches a 5xx under the key and forgets keys after
6 minutes, so when the transport gives up, the writer finds out what really happened (creates by
ContactNumber among the contacts changed since the attempt started, archives and restores by
ContactID) and sends only what did not land, with a new key, at most ``batch_attempts`` times.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator

import httpx

from capsule_xero.xero.pacing import DailyLimitReached, XeroUnavailable
from reverse_etl.writers.payloads import ContactOperation, contact_element, encoded
from reverse_etl.writers.xero_answers import AnswerReader, Batch
from reverse_etl.writers.xero_results import BatchAttempt, BatchResult, ItemOutcome
from reverse_etl.writers.xero_session import XeroSession, problem

log = logging.getLogger(__name__)

MAX_BATCH = 50  # contacts per write
MAX_BODY_BYTES = 3_500_000  # per request body
# Archives, updates and restores go before creates, so a name freed by an archive or a rename is free
# when the create arrives.
SEND_ORDER = {"archive": 0, "update": 1, "restore": 2, "create": 3}

OnAttempt = Callable[[BatchAttempt], None]


class _RefusedForTheDay(Exception):
    """The write itself met Xero's daily limit: a 429 means Xero took none of it
    (docs/api-facts.md#xero-rate-limits)."""

    def __init__(self, stop: DailyLimitReached) -> None:
        super().__init__(str(stop))
        self.stop = stop


class ContactBatches:
    def __init__(
        self,
        session: XeroSession,
        answers: AnswerReader,
        *,
        max_batch: int,
        max_bytes: int,
        batch_attempts: int,
    ) -> None:
        self.session = session
        self.answers = answers
        self.max_batch = max_batch
        self.max_bytes = max_bytes
        self.batch_attempts = max(1, batch_attempts)

    def batches(self, operations: Iterable[ContactOperation], first_batch: int = 1) -> list[Batch]:
        """Operations in the order they are sent, cut at 50 items or 3.5 MB, whichever comes first."""
        ordered = sorted(operations, key=lambda op: SEND_ORDER[op.op])  # stable: the caller's order otherwise
        out: list[Batch] = []
        envelope = len(encoded({"Contacts": []}))
        current: Batch | None = None
        size = envelope
        for operation in ordered:
            method = "PUT" if operation.op == "create" else "POST"
            element = contact_element(operation)
            item_bytes = len(encoded(element))
            if current is None or (
                current.method != method
                or len(current.elements) >= self.max_batch
                or size + item_bytes + 1 > self.max_bytes
            ):
                current = Batch(first_batch + len(out), method, [], [])
                out.append(current)
                size = envelope
            current.operations.append(operation)
            current.elements.append(element)
            size += item_bytes + (1 if len(current.elements) > 1 else 0)
        return out

    def write(
        self, operations: Iterable[ContactOperation], on_attempt: OnAttempt | None, first_batch: int
    ) -> Iterator[BatchResult]:
        for batch in self.batches(operations, first_batch):
            yield from self._write_batch(batch, on_attempt)

    def _write_batch(self, batch: Batch, on_attempt: OnAttempt | None) -> Iterator[BatchResult]:
        outcomes = self._too_large(batch)
        pending = [i for i in range(len(batch.elements)) if i not in outcomes]
        result = BatchResult(batch.number, batch.method, [])
        lost = ""
        stop: BaseException | None = None
        not_sent: list[int] = []
        for attempt in range(1, self.batch_attempts + 1):
            if not pending:
                break
            try:
                pending, lost = self._attempt(batch, attempt, pending, outcomes, result, on_attempt)
            except _RefusedForTheDay as refused:
                # Refused before Xero took anything. On a first attempt nothing of the batch went
                # out: not sent, sent by a later run. After a lost attempt the earlier one may still
                # have landed: those stay unknown and are looked up first.
                stop = refused.stop
                not_sent, pending = (pending, []) if attempt == 1 else ([], pending)
                lost = "Xero's daily call limit"
                break
            except Exception as exc:
                # Whatever stops the run (the day's limit, a refused authorisation, Xero gone even
                # for the lookup), the outcomes settled so far are yielded first.
                stop, lost = exc, str(exc)
                break
            if pending and attempt < self.batch_attempts:
                log.info(
                    "Xero batch %s: %s item(s) did not land (%s); sending them again with a new key",
                    batch.number,
                    len(pending),
                    lost,
                )
        outcomes.update(_left_open(batch, not_sent, pending, lost))
        result.items = [outcomes[i] for i in range(len(batch.operations))]
        yield result
        if stop is not None:
            raise stop
        unknown = result.by_status("unknown")
        if unknown:
            raise XeroUnavailable(
                f"Xero batch {batch.number}: {len(unknown)} item(s) could not be settled after "
                f"{result.attempts} attempt(s) ({unknown[0].message})"
            )

    def _too_large(self, batch: Batch) -> dict[int, ItemOutcome]:
        """Items that exceed the body limit on their own: failed before anything is sent."""
        return {
            index: ItemOutcome(
                batch.operations[index],
                "failed",
                element,
                error_kind="validation",
                message=f"the contact is larger than {self.max_bytes:,} bytes of JSON on its own",
            )
            for index, element in enumerate(batch.elements)
            if len(encoded({"Contacts": [element]})) > self.max_bytes
        }

    def _attempt(
        self,
        batch: Batch,
        attempt: int,
        pending: list[int],
        outcomes: dict[int, ItemOutcome],
        result: BatchResult,
        on_attempt: OnAttempt | None,
    ) -> tuple[list[int], str]:
        """One attempt at the ``pending`` items: send, read, and when the answer is lost, look up
        what landed. Returns the items still open and why."""
        key = self.session.new_key()
        body = encoded({"Contacts": [batch.elements[i] for i in pending]})
        started = self.session.now()
        if on_attempt is not None:
            operations = tuple(batch.operations[i] for i in pending)
            on_attempt(BatchAttempt(batch.number, attempt, key, batch.method, operations, len(body), started))
        result.idempotency_keys.append(key)
        if result.first_sent_at is None:
            result.first_sent_at = started
        try:
            response: httpx.Response | None = self.session.http.request(
                batch.method,
                "/Contacts",
                params={"summarizeErrors": "false"},
                content=body,
                headers={"Idempotency-Key": key, "Content-Type": "application/json"},
            )
        except DailyLimitReached as stop:
            raise _RefusedForTheDay(stop) from stop
        except (XeroUnavailable, httpx.TransportError) as exc:
            response = None
            lost = f"no answer from Xero ({type(exc).__name__})"
        if response is not None:
            lost = problem(response)
            settled = self.answers.read(batch, pending, response)
            outcomes.update(settled)
            pending = [i for i in pending if i not in settled]
        if pending:
            # The answer was lost or Xero kept failing: find out what landed before sending again.
            # Since the *first* attempt: a hung earlier attempt may land after a later one was sent.
            landed = self.answers.confirm(batch, pending, result.first_sent_at or started)
            outcomes.update(landed)
            pending = [i for i in pending if i not in landed]
        return pending, lost


def _left_open(batch: Batch, not_sent: list[int], pending: list[int], lost: str) -> dict[int, ItemOutcome]:
    """Outcomes of the items no attempt settled: never sent (the daily limit), or not known."""
    outcomes = {
        index: ItemOutcome(
            batch.operations[index],
            "not_sent",
            batch.elements[index],
            error_kind="transient",
            message="not sent: Xero's daily call limit is used up",
        )
        for index in not_sent
    }
    for index in pending:
        outcomes[index] = ItemOutcome(
            batch.operations[index],
            "unknown",
            batch.elements[index],
            error_kind="transient",
            message=(
                f"{lost.rstrip('.')}. Whether Xero applied it is not known: the next run looks it up by "
                "ContactNumber/ContactID before sending it again."
            ),
        )
    return outcomes
