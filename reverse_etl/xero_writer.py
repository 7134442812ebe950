"""The Xero contact writer: plain httpx through the shared authorisation and pacing.

``XeroContactWriter.write(operations)`` sends planned contact operations in batches and yields,
per batch, what happened to every item. Facts behind each choice are in the Xero fact sheet
(specs/xero/FACTS.md in the shared design folder); section numbers below refer to it.

Batches
    At most 50 contacts and 3.5 MB of JSON per call (§3, §11), measured on the exact bytes sent.
    Creates go in ``PUT /Contacts`` (create only), everything else in ``POST /Contacts`` with the
    ContactID: a ``POST`` without a ContactID updates whichever *active* contact already has the
    same Name (§3), silently overwriting someone else's contact, while a ``PUT`` refuses that with
    a validation error. The price is at most one extra call per run (creates and updates never
    share a batch). Archives, updates and restores go before creates, so a name freed by an archive
    or a rename is free when the create arrives.

Per-item outcomes
    Always ``?summarizeErrors=false`` (§3): Xero answers 200 and marks every element ``OK``,
    ``WARNING`` or ``ERROR``, so a 200 is read item by item. An item Xero refused is ``failed``
    with Xero's own message and is never resent by this writer: ``validation`` when the record
    must be fixed, ``refused`` when Xero's state forbids the change (a repeating invoice blocks
    the archive, an archived contact cannot be edited). A create refused because its ContactNumber
    is taken is looked up: the contact an earlier, interrupted attempt made is ``exists``, with its
    ContactID, and nothing is created twice.

Retries and exactly once
    Every batch attempt carries a fresh ``Idempotency-Key`` (§10). The shared transport
    (``capsule_xero.xero.pacing.PacedTransport``) resends a keyed write after a 429 (honouring
    ``Retry-After``), a 5xx, a timeout or a lost answer with the *same* key, and Xero replays its
    first answer instead of writing twice. Xero also caches a 5xx under the key and forgets keys
    after 6 minutes (§10), so when the transport gives up, the writer finds out what really
    happened (creates by ContactNumber among the contacts changed since the attempt started,
    archives and restores by ContactID) and sends only what did not land, with a new key, at most
    ``batch_attempts`` times. What stays unknown is reported ``unknown`` (``transient``) and the
    run stops: the next run calls ``find_contacts`` before it sends anything again. A batch whose
    first attempt Xero refuses for its daily limit (a 429 is answered before anything is taken,
    §11) is ``not_sent``: nothing to look up, a later run sends it; the run stops there.

    ``write(..., on_attempt=...)`` calls back *before* each attempt with the batch number, attempt,
    key and operations, so an apply loop can record "about to send batch K" durably first and the
    outcomes after.

Contact groups (§8) and History notes (§7) have their own methods. Nothing here logs a token.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from urllib.parse import quote

import httpx
import stamina

from capsule_xero.settings import Settings
from capsule_xero.xero.auth import XeroAuth, XeroHttpxAuth
from capsule_xero.xero.budget import budget_file_in
from capsule_xero.xero.pacing import DailyLimitReached, PacedTransport, PacingPolicy, XeroUnavailable
from reverse_etl.payloads import ContactOperation, contact_element, encoded

log = logging.getLogger(__name__)

MAX_BATCH = 50  # contacts per write (§3, §11)
MAX_BODY_BYTES = 3_500_000  # per request body (§11)
MAX_IDS_PER_CALL = 40  # ContactIDs per GET ?IDs= (Xero suggests ~40: the URL length is the limit, §2)
LOOKUP_PAGE_SIZE = 1000  # the largest page Xero serves (§2)
HISTORY_DETAILS_MAX = 2_500  # characters per note (§7)
IDEMPOTENCY_KEY_MAX = 128  # §10
# How far before an attempt's start the lookup reaches back: covers the difference between this
# machine's clock and Xero's (UpdatedDateUTC is Xero's time, the attempt's start is ours).
LOOKUP_MARGIN = timedelta(minutes=5)
TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})

ItemStatus = Literal["created", "updated", "archived", "restored", "exists", "failed", "unknown", "not_sent"]
ErrorKind = Literal["validation", "refused", "transient"]
SUCCESS: dict[str, ItemStatus] = {
    "create": "created",
    "update": "updated",
    "archive": "archived",
    "restore": "restored",
}


class XeroWriteError(Exception):
    """A whole request was refused in a way no retry can fix (401/403/404...): the run must stop."""


class _RefusedForTheDay(Exception):
    """The write itself met Xero's daily limit: a 429 means Xero took none of it (§11)."""

    def __init__(self, stop: DailyLimitReached) -> None:
        super().__init__(str(stop))
        self.stop = stop


# ---- what the writer reports -----------------------------------------------------------------------


@dataclass
class ItemOutcome:
    """What happened to one operation. ``element`` is the JSON sent; ``answer`` Xero's contact."""

    operation: ContactOperation
    status: ItemStatus
    element: dict[str, Any]
    contact_id: str | None = None
    error_kind: ErrorKind | None = None
    message: str | None = None
    answer: dict[str, Any] | None = None

    @property
    def party_id(self) -> int | str:
        return self.operation.party_id

    @property
    def contact_number(self) -> str:
        return self.operation.contact_number

    @property
    def ok(self) -> bool:
        """Xero holds the change (``exists``: the contact was there already, made by an earlier try)."""
        return self.status not in ("failed", "unknown", "not_sent")


@dataclass(frozen=True)
class BatchAttempt:
    """Handed to ``on_attempt`` before a batch attempt is sent (record it, then let it go)."""

    batch: int
    attempt: int
    idempotency_key: str
    method: str
    operations: tuple[ContactOperation, ...]
    body_bytes: int
    started_at: datetime


@dataclass
class BatchResult:
    batch: int
    method: str
    items: list[ItemOutcome]
    idempotency_keys: list[str] = field(default_factory=list)  # one per attempt, in order
    first_sent_at: datetime | None = None

    @property
    def idempotency_key(self) -> str:
        return self.idempotency_keys[-1]

    @property
    def attempts(self) -> int:
        return len(self.idempotency_keys)

    def by_status(self, *statuses: str) -> list[ItemOutcome]:
        return [item for item in self.items if item.status in statuses]


@dataclass
class FoundContacts:
    """Contacts as Xero holds them now, by ContactNumber (case-folded) and by ContactID (lower case)."""

    by_number: dict[str, dict[str, Any]] = field(default_factory=dict)
    by_id: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: int = 0

    def add(self, contact: Mapping[str, Any]) -> None:
        item = dict(contact)
        cid = str(item.get("ContactID") or "").lower()
        if cid:
            self.by_id[cid] = item
        number = item.get("ContactNumber")
        if isinstance(number, str) and number.strip():
            self.by_number[_fold(number)] = item

    def number(self, contact_number: str) -> dict[str, Any] | None:
        return self.by_number.get(_fold(contact_number))

    def contact(self, contact_id: str) -> dict[str, Any] | None:
        return self.by_id.get(contact_id.lower())


@dataclass
class GroupsEnsured:
    ids: dict[str, str]  # every requested name (as given) -> ContactGroupID
    created: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # name -> Xero's message


@dataclass
class MembershipResult:
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # ContactID -> Xero's message


@dataclass
class HistoryOutcome:
    contact_id: str
    ok: bool
    notes: list[str]
    message: str | None = None
    error_kind: ErrorKind | None = None


# ---- helpers ---------------------------------------------------------------------------------------


def _fold(number: str) -> str:
    return number.strip().casefold()


def _now() -> datetime:
    return datetime.now(UTC)


def _messages(item: Mapping[str, Any], key: str = "ValidationErrors") -> list[str]:
    out = []
    for error in item.get(key) or ():
        if isinstance(error, Mapping):
            text = error.get("Message") or error.get("Description")
            if text:
                out.append(str(text))
    return out


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _problem(response: httpx.Response) -> str:
    """A whole-request error as one line: Xero's message, else the status."""
    body = _json(response)
    if isinstance(body, Mapping):
        for key in ("Message", "Detail", "Title", "message"):
            if body.get(key):
                return f"HTTP {response.status_code}: {body[key]}"
    text = response.text.strip()[:200] if response.text else ""
    return f"HTTP {response.status_code}" + (f": {text}" if text else "")


def _error_kind(operation: ContactOperation, messages: Sequence[str]) -> ErrorKind:
    text = " ".join(messages).lower()
    if operation.op in ("archive", "restore") or "archived contact" in text:
        return "refused"
    return "validation"


def _number_taken(messages: Sequence[str]) -> bool:
    return any("contact number" in m.lower() and "already assigned" in m.lower() for m in messages)


def split_note(text: str, limit: int = HISTORY_DETAILS_MAX) -> list[str]:
    """A note cut into pieces of at most ``limit`` characters, at line ends where possible."""
    text = text.strip()
    if len(text) <= limit:
        return [text] if text else []
    notes: list[str] = []
    current = ""
    for line in text.splitlines(keepends=True):
        while len(line) > limit:
            if current:
                notes.append(current.rstrip())
                current = ""
            notes.append(line[:limit].rstrip())
            line = line[limit:]
        if len(current) + len(line) > limit:
            notes.append(current.rstrip())
            current = ""
        current += line
    if current.strip():
        notes.append(current.rstrip())
    return [note for note in notes if note.strip()]


# ---- the writer ------------------------------------------------------------------------------------


@dataclass
class _Batch:
    number: int
    method: str  # PUT (creates) or POST (the rest)
    operations: list[ContactOperation]
    elements: list[dict[str, Any]]


class XeroContactWriter:
    """Writes contacts, groups and notes to one Xero organisation.

    ``transport`` is the inner httpx transport (tests may pass one); every call still goes through
    the organisation's shared pacer. ``policy`` is the pacing policy (limits, retries, timeouts).
    """

    def __init__(
        self,
        settings: Settings,
        auth: XeroAuth,
        *,
        transport: httpx.BaseTransport | None = None,
        policy: PacingPolicy | None = None,
        max_batch: int = MAX_BATCH,
        max_bytes: int = MAX_BODY_BYTES,
        batch_attempts: int = 3,
        key_prefix: str = "capsule-xero-",
        lookup_margin: timedelta = LOOKUP_MARGIN,
        now: Callable[[], datetime] = _now,
    ) -> None:
        if not 1 <= max_batch <= MAX_BATCH:
            raise ValueError(f"max_batch must be between 1 and {MAX_BATCH}")
        if len(key_prefix) > 64:
            raise ValueError("key_prefix must be at most 64 characters (Idempotency-Key max 128)")
        self.settings = settings
        self.max_batch = max_batch
        self.max_bytes = max_bytes
        self.batch_attempts = max(1, batch_attempts)
        self.key_prefix = key_prefix
        self.lookup_margin = lookup_margin
        self.now = now
        timeouts = policy or PacingPolicy()
        self.policy = timeouts
        self.http = httpx.Client(
            base_url=settings.xero_api_url,
            transport=PacedTransport(transport, policy=policy, budget_file=budget_file_in(settings.home)),
            auth=XeroHttpxAuth(auth),
            # httpx always sets a timeout on the request, so the policy's is given here.
            timeout=httpx.Timeout(timeouts.read_timeout, connect=timeouts.connect_timeout),
            headers={"Accept": "application/json", "User-Agent": "capsule-xero (reverse-etl)"},
        )

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> XeroContactWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def new_key(self) -> str:
        return f"{self.key_prefix}{uuid.uuid4()}"[:IDEMPOTENCY_KEY_MAX]

    # ---- batching -------------------------------------------------------------------------------
    def batches(self, operations: Iterable[ContactOperation], first_batch: int = 1) -> list[_Batch]:
        """Operations in the order they are sent, cut at 50 items or 3.5 MB, whichever comes first."""
        order = {"archive": 0, "update": 1, "restore": 2, "create": 3}
        ordered = sorted(operations, key=lambda op: order[op.op])  # stable: the caller's order otherwise
        out: list[_Batch] = []
        envelope = len(encoded({"Contacts": []}))
        current: _Batch | None = None
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
                current = _Batch(first_batch + len(out), method, [], [])
                out.append(current)
                size = envelope
            current.operations.append(operation)
            current.elements.append(element)
            size += item_bytes + (1 if len(current.elements) > 1 else 0)
        return out

    # ---- writing contacts -----------------------------------------------------------------------
    def write(
        self,
        operations: Iterable[ContactOperation],
        *,
        on_attempt: Callable[[BatchAttempt], None] | None = None,
        first_batch: int = 1,
    ) -> Iterator[BatchResult]:
        """Send ``operations``; yield one ``BatchResult`` per batch as soon as it is settled.

        Raises (after yielding the batch it happened in) ``XeroUnavailable`` when Xero stayed
        unreachable even for the lookup, ``DailyLimitReached`` when the day's calls are used up,
        ``XeroWriteError`` for a refusal of the whole request (authorisation, configuration).
        """
        for batch in self.batches(operations, first_batch):
            yield from self._write_batch(batch, on_attempt)

    def _write_batch(
        self, batch: _Batch, on_attempt: Callable[[BatchAttempt], None] | None
    ) -> Iterator[BatchResult]:
        outcomes: dict[int, ItemOutcome] = {}
        result = BatchResult(batch.number, batch.method, [])
        pending: list[int] = []
        for index, element in enumerate(batch.elements):
            if len(encoded({"Contacts": [element]})) > self.max_bytes:
                outcomes[index] = ItemOutcome(
                    batch.operations[index],
                    "failed",
                    element,
                    error_kind="validation",
                    message=f"the contact is larger than {self.max_bytes:,} bytes of JSON on its own",
                )
            else:
                pending.append(index)
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
        for index in not_sent:
            outcomes[index] = ItemOutcome(
                batch.operations[index],
                "not_sent",
                batch.elements[index],
                error_kind="transient",
                message="not sent: Xero's daily call limit is used up",
            )
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

    def _attempt(
        self,
        batch: _Batch,
        attempt: int,
        pending: list[int],
        outcomes: dict[int, ItemOutcome],
        result: BatchResult,
        on_attempt: Callable[[BatchAttempt], None] | None,
    ) -> tuple[list[int], str]:
        """One attempt at the ``pending`` items: send, read, and when the answer is lost, look up
        what landed. Returns the items still open and why."""
        key = self.new_key()
        body = encoded({"Contacts": [batch.elements[i] for i in pending]})
        started = self.now()
        if on_attempt is not None:
            on_attempt(
                BatchAttempt(
                    batch.number,
                    attempt,
                    key,
                    batch.method,
                    tuple(batch.operations[i] for i in pending),
                    len(body),
                    started,
                )
            )
        result.idempotency_keys.append(key)
        if result.first_sent_at is None:
            result.first_sent_at = started
        try:
            response: httpx.Response | None = self.http.request(
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
            lost = _problem(response)
            settled = self._read_answer(batch, pending, response)
            outcomes.update(settled)
            pending = [i for i in pending if i not in settled]
        if pending:
            # The answer was lost or Xero kept failing: find out what landed before sending again.
            # Since the *first* attempt: a hung earlier attempt may land after a later one was sent.
            landed = self._confirm(batch, pending, result.first_sent_at or started)
            outcomes.update(landed)
            pending = [i for i in pending if i not in landed]
        return pending, lost

    def _read_answer(
        self, batch: _Batch, pending: list[int], response: httpx.Response
    ) -> dict[int, ItemOutcome]:
        """Outcomes Xero's answer settles (items it leaves open are missing from the result)."""
        status = response.status_code
        if status in (401, 403):
            raise XeroWriteError(
                f"Xero refused the write ({_problem(response)}): check the connection with "
                "`capsule-xero auth status` and that the app has the accounting.contacts scope."
            )
        if status in TRANSIENT_STATUSES or status == 409:
            return {}  # not processed, or not known to be (409: the same key is still in flight)
        body = _json(response)
        if status == 200 and isinstance(body, Mapping) and isinstance(body.get("Contacts"), list):
            return self._read_items(batch, pending, body["Contacts"])
        if status == 400 and isinstance(body, Mapping):
            message = str(body.get("Detail") or body.get("Message") or "")
            if "idempotency-key" in message.lower():
                return {}  # a key clash: nothing known about this attempt, the lookup decides
            if body.get("Type") == "ValidationException" and isinstance(body.get("Elements"), list):
                # Only failed elements are listed; the others may have been saved (§3): left open.
                return self._read_items(batch, pending, body["Elements"], only_failures=True)
        if 400 <= status < 500 and status != 404:
            # The whole request was refused before anything was written (bad JSON, a type Xero
            # cannot bind, a body too large): every item carries the reason.
            reason = _problem(response)
            return {
                i: ItemOutcome(
                    batch.operations[i], "failed", batch.elements[i], error_kind="validation", message=reason
                )
                for i in pending
            }
        raise XeroWriteError(f"Xero answered {_problem(response)} to {batch.method} /Contacts")

    def _read_items(
        self, batch: _Batch, pending: list[int], answers: list[Any], only_failures: bool = False
    ) -> dict[int, ItemOutcome]:
        by_number = {_fold(batch.operations[i].contact_number): i for i in pending}
        by_id = {
            str(batch.operations[i].contact_id).lower(): i for i in pending if batch.operations[i].contact_id
        }
        settled: dict[int, ItemOutcome] = {}
        for position, answer in enumerate(answers):
            if not isinstance(answer, Mapping):
                continue
            index = self._match(answer, position, pending, by_number, by_id, positional=not only_failures)
            if index is None or index in settled:
                continue
            operation, element = batch.operations[index], batch.elements[index]
            state = str(answer.get("StatusAttributeString") or "").upper()
            errors = _messages(answer)
            failed = state == "ERROR" or bool(answer.get("HasValidationErrors")) or bool(errors)
            if failed:
                settled[index] = self._failure(operation, element, errors or ["Xero marked the item ERROR"])
                continue
            if only_failures:
                continue
            contact_id = str(answer.get("ContactID") or "").lower() or None
            warnings = _messages(answer, "Warnings")
            settled[index] = ItemOutcome(
                operation,
                SUCCESS[operation.op],
                element,
                contact_id=contact_id,
                message="; ".join(warnings) or None,
                answer=dict(answer),
            )
        return settled

    @staticmethod
    def _match(
        answer: Mapping[str, Any],
        position: int,
        pending: list[int],
        by_number: dict[str, int],
        by_id: dict[str, int],
        positional: bool,
    ) -> int | None:
        """Which sent item an answer element belongs to: by ContactNumber, ContactID, else position
        (Xero answers in the order sent)."""
        number = answer.get("ContactNumber")
        if isinstance(number, str) and _fold(number) in by_number:
            return by_number[_fold(number)]
        cid = str(answer.get("ContactID") or "").lower()
        if cid in by_id:
            return by_id[cid]
        if positional and position < len(pending):
            return pending[position]
        return None

    def _failure(
        self, operation: ContactOperation, element: dict[str, Any], errors: list[str]
    ) -> ItemOutcome:
        message = "; ".join(errors)
        if operation.op == "create" and _number_taken(errors):
            # An earlier attempt (a crashed run, an answer lost after the 6-minute key window) made
            # this contact already: report it with its ContactID instead of creating another.
            try:
                found = self.find_contacts(contact_numbers=[operation.contact_number])
            except (XeroUnavailable, httpx.TransportError) as exc:
                return ItemOutcome(
                    operation,
                    "unknown",
                    element,
                    error_kind="transient",
                    message=f"{message}; looking the contact up failed ({type(exc).__name__})",
                )
            existing = found.number(operation.contact_number)
            if existing is not None:
                return ItemOutcome(
                    operation,
                    "exists",
                    element,
                    contact_id=str(existing.get("ContactID") or "").lower() or None,
                    message=f"Xero already has ContactNumber {operation.contact_number}: nothing created ({message})",
                    answer=existing,
                )
        return ItemOutcome(
            operation, "failed", element, error_kind=_error_kind(operation, errors), message=message
        )

    def _confirm(self, batch: _Batch, pending: list[int], started: datetime) -> dict[int, ItemOutcome]:
        """Items of a lost attempt that Xero shows as done. Updates cannot be told apart from the
        state before, so they are not confirmed here: resending one sets the same values again."""
        creates = [i for i in pending if batch.operations[i].op == "create"]
        statuses = [i for i in pending if batch.operations[i].op in ("archive", "restore")]
        if not creates and not statuses:
            return {}
        found = self.find_contacts(
            contact_numbers=[batch.operations[i].contact_number for i in creates],
            contact_ids=[str(batch.operations[i].contact_id) for i in statuses],
            modified_since=started,
        )
        landed: dict[int, ItemOutcome] = {}
        for index in creates:
            operation = batch.operations[index]
            contact = found.number(operation.contact_number)
            if contact is not None:
                landed[index] = ItemOutcome(
                    operation,
                    "created",
                    batch.elements[index],
                    contact_id=str(contact.get("ContactID") or "").lower() or None,
                    message="confirmed by a lookup after Xero's answer was lost",
                    answer=contact,
                )
        for index in statuses:
            operation = batch.operations[index]
            contact = found.contact(str(operation.contact_id))
            wanted = "ARCHIVED" if operation.op == "archive" else "ACTIVE"
            if contact is not None and contact.get("ContactStatus") == wanted:
                landed[index] = ItemOutcome(
                    operation,
                    SUCCESS[operation.op],
                    batch.elements[index],
                    contact_id=str(operation.contact_id).lower(),
                    message="confirmed by a lookup after Xero's answer was lost",
                    answer=contact,
                )
        return landed

    # ---- finding out what Xero holds ------------------------------------------------------------
    def find_contacts(
        self,
        *,
        contact_numbers: Iterable[str] = (),
        contact_ids: Iterable[str] = (),
        modified_since: datetime | None = None,
    ) -> FoundContacts:
        """The contacts Xero holds with these ContactNumbers / ContactIDs (archived ones included).

        - ContactIDs: ``GET /Contacts?IDs=`` 40 at a time (§2), one call per 40.
        - ContactNumbers with ``modified_since`` (when the interrupted write started): the contacts
          changed since then (less a clock margin) via ``If-Modified-Since``, 1,000 per page, until
          every number is found: one call for a lost batch. Any write bumps ``UpdatedDateUTC``, so a
          number not among them did not land.
        - ContactNumbers without a time: ``GET /Contacts/{ContactNumber}`` each (§2). A ``where``
          OR-ing the numbers would be one call, but ContactNumber is not an optimised filter on
          Xero (slow, refused over 100k contacts) and the stand-in refuses OR outright.
        """
        found = FoundContacts()
        ids = sorted({str(i).lower() for i in contact_ids if i})
        for start in range(0, len(ids), MAX_IDS_PER_CALL):
            chunk = ids[start : start + MAX_IDS_PER_CALL]
            response = self._get(
                "/Contacts",
                {"IDs": ",".join(chunk), "includeArchived": "true", "page": "1", "pageSize": "100"},
            )
            found.calls += 1
            for contact in (_json(response) or {}).get("Contacts") or ():
                found.add(contact)
        numbers = sorted({n for n in contact_numbers if n and n.strip()}, key=_fold)
        missing = [n for n in numbers if found.number(n) is None]
        if missing and modified_since is not None:
            since = (modified_since - self.lookup_margin).astimezone(UTC)
            page, pages = 1, 1
            while page <= pages and any(found.number(n) is None for n in missing):
                response = self._get(
                    "/Contacts",
                    {"includeArchived": "true", "page": str(page), "pageSize": str(LOOKUP_PAGE_SIZE)},
                    headers={"If-Modified-Since": since.strftime("%Y-%m-%dT%H:%M:%S")},
                )
                found.calls += 1
                body = _json(response) or {}
                for contact in body.get("Contacts") or ():
                    found.add(contact)
                pages = int((body.get("pagination") or {}).get("pageCount") or 0)
                page += 1
        elif missing:
            for number in missing:
                response = self._get(f"/Contacts/{quote(number, safe='')}", None, allow_404=True)
                found.calls += 1
                if response.status_code == 200:
                    for contact in (_json(response) or {}).get("Contacts") or ():
                        found.add(contact)
        return found

    def _get(
        self,
        path: str,
        params: Mapping[str, str] | None,
        headers: Mapping[str, str] | None = None,
        allow_404: bool = False,
    ) -> httpx.Response:
        response = self.http.get(path, params=params, headers=headers)
        if response.status_code == 200 or (allow_404 and response.status_code == 404):
            return response
        if response.status_code in TRANSIENT_STATUSES:
            raise XeroUnavailable(f"GET {path} kept failing ({_problem(response)}); try again later.")
        raise XeroWriteError(f"GET {path} was refused ({_problem(response)})")

    # ---- contact groups (§8) --------------------------------------------------------------------
    def contact_groups(self) -> list[dict[str, Any]]:
        """Xero's active contact groups (``ContactGroupID``, ``Name``, ``Status``)."""
        return list((_json(self._get("/ContactGroups", None)) or {}).get("ContactGroups") or ())

    def ensure_groups(self, names: Iterable[str]) -> GroupsEnsured:
        """Every named group's ContactGroupID, creating the missing ones in one call.

        Names compare without regard to case or surrounding spaces (Xero's group names are unique
        that way); a group Xero refuses (e.g. the limit of 100 groups) is in ``failed``.
        """
        wanted = [n for n in dict.fromkeys(names) if n and n.strip()]
        existing = {_fold(g.get("Name", "")): g for g in self.contact_groups()}
        result = GroupsEnsured(ids={})
        missing: list[str] = []
        for name in wanted:
            group = existing.get(_fold(name))
            if group is not None:
                result.ids[name] = str(group["ContactGroupID"]).lower()
            elif _fold(name) not in {_fold(m) for m in missing}:
                missing.append(name)
        for start in range(0, len(missing), MAX_BATCH):
            chunk = missing[start : start + MAX_BATCH]
            response = self.http.put(
                "/ContactGroups",
                params={"summarizeErrors": "false"},
                content=encoded({"ContactGroups": [{"Name": name.strip()} for name in chunk]}),
                headers={"Idempotency-Key": self.new_key(), "Content-Type": "application/json"},
            )
            if response.status_code in TRANSIENT_STATUSES:
                raise XeroUnavailable(f"creating contact groups kept failing ({_problem(response)})")
            body = _json(response)
            answers = (body or {}).get("ContactGroups") if isinstance(body, Mapping) else None
            if response.status_code != 200 or not isinstance(answers, list):
                for name in chunk:
                    result.failed[name] = _problem(response)
                continue
            for name, answer in zip(chunk, answers, strict=False):
                errors = _messages(answer)
                if errors or str(answer.get("StatusAttributeString", "")).upper() == "ERROR":
                    result.failed[name] = "; ".join(errors) or "Xero marked the group ERROR"
                else:
                    result.ids[name] = str(answer["ContactGroupID"]).lower()
                    result.created.append(name)
        for name in wanted:  # a name differing only in case from a created one
            if name not in result.ids and name not in result.failed:
                twin = next((n for n in result.ids if _fold(n) == _fold(name)), None)
                if twin is not None:
                    result.ids[name] = result.ids[twin]
        return result

    def set_group_members(
        self, group_id: str, *, add: Iterable[str] = (), remove: Iterable[str] = ()
    ) -> MembershipResult:
        """Add contacts to a group (``PUT``, 50 per call) and take others out (``DELETE``, one each:
        Xero has no bulk removal of chosen contacts). Archived contacts cannot be added (§8)."""
        result = MembershipResult()
        to_add = list(dict.fromkeys(str(c).lower() for c in add))
        for start in range(0, len(to_add), MAX_BATCH):
            chunk = to_add[start : start + MAX_BATCH]
            response = self.http.put(
                f"/ContactGroups/{group_id}/Contacts",
                content=encoded({"Contacts": [{"ContactID": cid} for cid in chunk]}),
                headers={"Idempotency-Key": self.new_key(), "Content-Type": "application/json"},
            )
            if response.status_code in TRANSIENT_STATUSES:
                raise XeroUnavailable(f"adding contacts to a group kept failing ({_problem(response)})")
            body = _json(response) or {}
            failures: dict[str, str] = {}
            if response.status_code == 400 and isinstance(body.get("Elements"), list):
                # Like contacts: the valid ones are added even though the answer is a 400.
                for element in body["Elements"]:
                    cid = str(element.get("ContactID") or "").lower()
                    failures[cid] = "; ".join(_messages(element)) or "refused"
            elif response.status_code != 200:
                failures = dict.fromkeys(chunk, _problem(response))
            result.failed.update({cid: msg for cid, msg in failures.items() if cid in chunk})
            result.added += [cid for cid in chunk if cid not in failures]
        for cid in dict.fromkeys(str(c).lower() for c in remove):
            message = self._remove_member(group_id, cid)
            if message is None:
                result.removed.append(cid)
            else:
                result.failed[cid] = message
        return result

    def _remove_member(self, group_id: str, contact_id: str) -> str | None:
        """None when the contact is out of the group (removed now, or already out); else why not.

        A DELETE takes no Idempotency-Key (§10), so the shared transport does not resend it after
        a 5xx or a lost answer; removal is idempotent in effect, so it is retried here, and "not a
        member" after a retry means the first try landed.
        """
        response: httpx.Response | None = None
        try:
            for attempt in stamina.retry_context(
                on=lambda exc: isinstance(exc, (httpx.TransportError, _RetryStatus)),
                attempts=3,
                wait_initial=self.policy.backoff_initial,
                wait_max=self.policy.backoff_max,
                wait_jitter=self.policy.backoff_jitter,
            ):
                with attempt:
                    response = self.http.delete(f"/ContactGroups/{group_id}/Contacts/{contact_id}")
                    if response.status_code in TRANSIENT_STATUSES:
                        raise _RetryStatus(response)
        except _RetryStatus as exc:
            return _problem(exc.response)
        except httpx.TransportError as exc:
            raise XeroUnavailable(
                f"removing a contact from a group kept failing ({type(exc).__name__})"
            ) from exc
        assert response is not None
        if response.status_code in (200, 204):
            return None
        if response.status_code == 400 and "not a member" in response.text.lower():
            return None
        return _problem(response)

    # ---- history notes (§7) ---------------------------------------------------------------------
    def history(self, contact_id: str) -> list[dict[str, Any]]:
        """The contact's History records (``Changes``, ``DateUTC``, ``User``, ``Details``)."""
        response = self._get(f"/Contacts/{contact_id}/History", None)
        return list((_json(response) or {}).get("HistoryRecords") or ())

    def add_history(self, contact_id: str, text: str) -> HistoryOutcome:
        """Add ``text`` as a note to the contact's History, in one call (several notes when it is
        longer than 2,500 characters, cut at line ends).

        Notes cannot be edited or deleted (§7), so a note must never be added twice: a retry after
        a lost answer carries the same key and Xero replays; when the transport gives up, the
        History is read to see whether the notes landed, and if that is not known either,
        ``XeroUnavailable`` stops the run (the next one checks ``history`` before adding again).
        """
        notes = split_note(text)
        if not notes:
            return HistoryOutcome(contact_id, True, [])
        try:
            response: httpx.Response | None = self.http.put(
                f"/Contacts/{contact_id}/History",
                content=encoded({"HistoryRecords": [{"Details": note} for note in notes]}),
                headers={"Idempotency-Key": self.new_key(), "Content-Type": "application/json"},
            )
        except (XeroUnavailable, httpx.TransportError):
            response = None
        if response is not None and response.status_code == 200:
            return HistoryOutcome(contact_id, True, notes)
        if response is None or response.status_code in TRANSIENT_STATUSES:
            present = [str(r.get("Details")) for r in self.history(contact_id)]
            if all(note in present for note in notes):
                return HistoryOutcome(contact_id, True, notes, "confirmed by reading the History")
            lost = "no answer" if response is None else _problem(response)
            raise XeroUnavailable(f"adding a History note to {contact_id} kept failing ({lost})")
        body = _json(response)
        errors: list[str] = []
        if isinstance(body, Mapping):
            for element in body.get("Elements") or ():
                errors += _messages(element)
        if response.status_code == 404:
            errors = [f"the contact {contact_id} does not exist in Xero"]
        return HistoryOutcome(
            contact_id, False, notes, "; ".join(errors) or _problem(response), error_kind="validation"
        )


class _RetryStatus(Exception):
    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"HTTP {response.status_code}")
        self.response = response
