"""The Xero contact writer against the Xero stand-in: batches, per-item outcomes, retries, no duplicates."""

from __future__ import annotations

import itertools
import math
from dataclasses import replace

import httpx
import pytest

from capsule_xero.settings import Settings
from capsule_xero.xero.auth import XeroAuth
from capsule_xero.xero.pacing import XeroUnavailable
from capsule_xero.xero.transports import pacer_for
from reverse_etl.writers.payloads import ContactOperation, encoded
from reverse_etl.writers.xero import XeroContactWriter
from reverse_etl.writers.xero_notes import split_note
from reverse_etl.writers.xero_results import BatchAttempt, BatchResult
from sandbox.control import SandboxControl
from sandbox.xero.control import XeroControl
from tests.reverse_etl.conftest import API, CONTACTS, QUICK, by_number, new_org, xero_calls
from tests.support.waiting import wait_for

BALANCE = {"AccountsReceivable": {"Outstanding": 250.0, "Overdue": 0.0}}


class Recording(httpx.HTTPTransport):
    """The real transport, noting the Idempotency-Key of every write the client sends."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[str, str, str | None]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append((request.method, request.url.path, request.headers.get("Idempotency-Key")))
        return super().handle_request(request)

    def keys(self, method: str, path: str = CONTACTS) -> list[str | None]:
        return [key for m, p, key in self.sent if (m, p) == (method, path)]


def write_all(
    writer: XeroContactWriter, operations: list[ContactOperation], **kwargs: object
) -> list[BatchResult]:
    return list(writer.write(operations, **kwargs))  # type: ignore[arg-type]


def outcomes(results: list[BatchResult]) -> dict[str, str]:
    return {item.contact_number: item.status for result in results for item in result.items}


def test_creates_go_in_batches_of_at_most_fifty_and_every_item_gets_its_contact_id(
    writer: XeroContactWriter, control: SandboxControl, xero: XeroControl
) -> None:
    operations = [new_org(n) for n in range(1, 121)]
    since = control.last_seq()
    results = write_all(writer, operations)
    puts = xero_calls(control, since, "PUT")
    assert len(puts) == math.ceil(120 / 50)
    assert [c["batch_size"] for c in puts] == [50, 50, 20]
    assert all("summarizeErrors=false" in c["query"] for c in puts)
    assert len({c["idempotency_key"] for c in puts}) == 3  # one key per batch attempt
    assert set(outcomes(results).values()) == {"created"}
    held = by_number(xero)
    for item in (item for result in results for item in result.items):
        (contact,) = held[item.contact_number]
        assert contact["ContactID"] == item.contact_id
        assert contact["Name"] == item.operation.fields["name"]


def test_a_batch_is_cut_before_its_body_passes_the_byte_limit(settings: Settings, auth: XeroAuth) -> None:
    operations = [new_org(n, street_address='{"lines": ["' + "x" * 400 + '"]}') for n in range(1, 31)]
    with XeroContactWriter(settings, auth, policy=QUICK, max_bytes=2_000) as small:
        batches = small.batches(operations)
    assert len(batches) > 1
    assert sum(len(b.operations) for b in batches) == 30
    for batch in batches:
        assert len(encoded({"Contacts": batch.elements})) <= 2_000
    # Each batch is as full as the limit allows: the next item would not have fitted.
    for batch, following in itertools.pairwise(batches):
        assert len(encoded({"Contacts": [*batch.elements, following.elements[0]]})) > 2_000


def test_one_invalid_item_fails_alone_with_xeros_message_and_is_never_sent_again(
    writer: XeroContactWriter, control: SandboxControl, xero: XeroControl
) -> None:
    taken = xero.create_contact(Name="Taken Pty Ltd", EmailAddress="owner@taken.com.au")
    operations = [new_org(1), new_org(2, name="Taken Pty Ltd", email_address="other@else.com.au"), new_org(3)]
    since = control.last_seq()
    (result,) = write_all(writer, operations)
    assert [item.status for item in result.items] == ["created", "failed", "created"]
    bad = result.items[1]
    assert bad.error_kind == "validation"
    assert bad.message is not None and "already assigned to another contact" in bad.message
    assert bad.element["Name"] == "Taken Pty Ltd"  # the record goes to the error queue with the message
    assert len(xero_calls(control, since, "PUT")) == 1
    assert xero.contact(taken["ContactID"])["EmailAddress"] == "owner@taken.com.au"  # not overwritten
    assert "CAP-2" not in by_number(xero)


def test_a_429_is_waited_out_for_its_retry_after_then_sent_again_with_the_same_key(
    settings: Settings, auth: XeroAuth, control: SandboxControl, xero: XeroControl, tenant: str
) -> None:
    control.set_clock(speed=60)  # Xero's minute lasts a real second: Retry-After is 1 s
    control.add_fault("xero", "PUT", CONTACTS, times=1, **{"429": 1.0})
    since = control.last_seq()
    recording = Recording()
    with XeroContactWriter(
        settings, auth, transport=recording, policy=replace(QUICK, minute_seconds=1.0)
    ) as writer:
        (result,) = write_all(writer, [new_org(1), new_org(2)])
    refused, sent = xero_calls(control, since, "PUT")
    assert (refused["status"], sent["status"]) == (429, 200)
    assert recording.keys("PUT") == [result.idempotency_key] * 2
    assert sent["started"] - refused["started"] >= 0.95  # Retry-After: 1 (second)
    assert pacer_for(settings.xero_api_url, tenant).stats.rate_limited == 1
    assert [len(by_number(xero)[n]) for n in ("CAP-1", "CAP-2")] == [1, 1]


def test_500_and_503_answers_are_retried_with_the_same_key_and_create_nothing_twice(
    settings: Settings, auth: XeroAuth, control: SandboxControl, xero: XeroControl
) -> None:
    control.add_fault("xero", "PUT", CONTACTS, times=2, **{"503": 1.0})
    control.add_fault("xero", "PUT", CONTACTS, times=1, **{"500": 1.0})
    since = control.last_seq()
    recording = Recording()
    with XeroContactWriter(settings, auth, transport=recording, policy=QUICK) as writer:
        (result,) = write_all(writer, [new_org(n) for n in range(1, 6)])
    puts = xero_calls(control, since, "PUT")
    assert [c["status"] for c in puts] == [503, 503, 500, 200]
    assert recording.keys("PUT") == [result.idempotency_key] * 4
    assert result.attempts == 1
    assert {item.status for item in result.items} == {"created"}
    held = by_number(xero)
    assert [len(held[f"CAP-{n}"]) for n in range(1, 6)] == [1] * 5


def test_an_answer_lost_after_the_commit_is_replayed_by_its_key_and_nothing_is_duplicated(
    writer: XeroContactWriter, control: SandboxControl, xero: XeroControl
) -> None:
    control.add_fault("xero", "PUT", CONTACTS, times=1, drop=1.0)
    since = control.last_seq()
    (result,) = write_all(writer, [new_org(1), new_org(2)])
    first, second = xero_calls(control, since, "PUT")
    assert first["fault"] == "drop" and second["status"] == 200
    assert first["idempotency_key"] == second["idempotency_key"]
    assert [item.status for item in result.items] == ["created", "created"]
    found = writer.find_contacts(contact_numbers=["CAP-1", "CAP-2"])
    held = by_number(xero)
    for item in result.items:
        (contact,) = held[item.contact_number]
        assert found.number(item.contact_number)["ContactID"] == contact["ContactID"] == item.contact_id


def test_a_write_that_times_out_is_sent_again_with_its_key_and_lands_once(
    settings: Settings, auth: XeroAuth, control: SandboxControl, xero: XeroControl
) -> None:
    """The hung request still lands after the client gave up; the retry with the same key does not
    add a second contact."""
    control.add_fault("xero", "PUT", CONTACTS, times=1, hang_seconds=0.8, hang=1.0)
    recording = Recording()
    with XeroContactWriter(
        settings, auth, transport=recording, policy=replace(QUICK, read_timeout=0.3)
    ) as writer:
        (result,) = write_all(writer, [new_org(1), new_org(2)])
    assert [item.status for item in result.items] == ["created", "created"]
    assert recording.keys("PUT") == [result.idempotency_key] * 2
    wait_for(
        lambda: (
            len(xero_calls(control, 0, "PUT")) == 2
            and all(c["status"] for c in xero_calls(control, 0, "PUT"))
        )
    )
    held = by_number(xero)
    assert [len(held[n]) for n in ("CAP-1", "CAP-2")] == [1, 1]


def test_a_batch_whose_every_answer_is_lost_is_confirmed_by_a_lookup_not_sent_again(
    settings: Settings, auth: XeroAuth, control: SandboxControl, xero: XeroControl
) -> None:
    control.add_fault("xero", "PUT", CONTACTS, times=2, drop=1.0)
    since = control.last_seq()
    with XeroContactWriter(settings, auth, policy=replace(QUICK, attempts=2)) as writer:
        (result,) = write_all(writer, [new_org(n) for n in range(1, 4)])
    assert len(xero_calls(control, since, "PUT")) == 2  # the transport gave up; no new key was needed
    lookups = xero_calls(control, since, "GET")
    assert len(lookups) == 1  # one If-Modified-Since page found all three
    assert {item.status for item in result.items} == {"created"}
    assert all("confirmed by a lookup" in (item.message or "") for item in result.items)
    held = by_number(xero)
    assert [len(held[f"CAP-{n}"]) for n in range(1, 4)] == [1, 1, 1]
    assert [held[f"CAP-{n}"][0]["ContactID"] for n in range(1, 4)] == [i.contact_id for i in result.items]


def test_a_lasting_5xx_is_checked_then_sent_again_with_a_new_key(
    settings: Settings, auth: XeroAuth, control: SandboxControl, xero: XeroControl
) -> None:
    """Xero caches a 5xx under its key (docs/api-facts.md#xero-idempotency-keys): after the retries,
    look, then use a new key."""
    control.add_fault("xero", "PUT", CONTACTS, times=2, **{"500": 1.0})
    since = control.last_seq()
    attempts: list[BatchAttempt] = []
    recording = Recording()
    with XeroContactWriter(settings, auth, transport=recording, policy=replace(QUICK, attempts=2)) as writer:
        (result,) = write_all(writer, [new_org(1), new_org(2)], on_attempt=attempts.append)
    puts = xero_calls(control, since, "PUT")
    assert [c["status"] for c in puts] == [500, 500, 200]
    first, second = result.idempotency_keys
    assert recording.keys("PUT") == [first, first, second]
    assert len(xero_calls(control, since, "GET")) == 1  # looked before sending again
    assert [(a.attempt, a.idempotency_key) for a in attempts] == list(enumerate(result.idempotency_keys, 1))
    assert [item.status for item in result.items] == ["created", "created"]
    assert [len(by_number(xero)[n]) for n in ("CAP-1", "CAP-2")] == [1, 1]


def test_what_cannot_be_settled_is_reported_unknown_and_the_run_stops(
    settings: Settings, auth: XeroAuth, control: SandboxControl, xero: XeroControl
) -> None:
    control.add_fault("xero", "PUT", CONTACTS, **{"503": 1.0})
    results: list[BatchResult] = []
    writer = XeroContactWriter(settings, auth, policy=replace(QUICK, attempts=2), batch_attempts=2)
    with writer, pytest.raises(XeroUnavailable):
        for result in writer.write([new_org(n) for n in range(1, 60)]):
            results.append(result)
    (first,) = results  # the second batch was never sent
    assert {item.status for item in first.items} == {"unknown"}
    assert {item.error_kind for item in first.items} == {"transient"}
    assert "looks it up by ContactNumber" in (first.items[0].message or "")
    assert by_number(xero) == {}


def test_on_attempt_is_called_before_the_batch_reaches_xero(
    writer: XeroContactWriter, control: SandboxControl
) -> None:
    seen: list[tuple[BatchAttempt, int]] = []

    def record(attempt: BatchAttempt) -> None:
        seen.append((attempt, len(xero_calls(control, 0, "PUT"))))

    since = control.last_seq()
    results = write_all(writer, [new_org(n) for n in range(1, 53)], on_attempt=record, first_batch=7)
    assert [r.batch for r in results] == [7, 8]
    assert [(a.batch, len(a.operations), calls_before) for a, calls_before in seen] == [(7, 50, 0), (8, 2, 1)]
    assert [a.idempotency_key for a, _ in seen] == [
        c["idempotency_key"] for c in xero_calls(control, since, "PUT")
    ]


def test_a_create_whose_contact_number_xero_already_holds_reports_that_contact_instead_of_a_new_one(
    writer: XeroContactWriter, xero: XeroControl
) -> None:
    earlier = xero.create_contact(Name="Made By A Crashed Run", ContactNumber="CAP-5")
    (result,) = write_all(writer, [new_org(5)])
    (item,) = result.items
    assert item.status == "exists" and item.ok
    assert item.contact_id == earlier["ContactID"]
    assert len(by_number(xero)["CAP-5"]) == 1


def test_archive_refused_for_a_repeating_invoice_lands_in_the_error_queue_others_are_archived(
    writer: XeroContactWriter, xero: XeroControl
) -> None:
    billed = xero.create_contact(Name="Billed Monthly Pty Ltd", ContactNumber="CAP-1")
    xero.add_repeating_invoice(billed["ContactID"])
    owing = xero.create_contact(Name="Owes Us Pty Ltd", ContactNumber="CAP-2", Balances=BALANCE)
    operations = [
        ContactOperation("archive", 1, "CAP-1", contact_id=billed["ContactID"]),
        ContactOperation("archive", 2, "CAP-2", contact_id=owing["ContactID"]),
    ]
    (result,) = write_all(writer, operations)
    refused, archived = result.items
    assert refused.status == "failed" and refused.error_kind == "refused"
    assert refused.message is not None and "repeating invoice" in refused.message
    assert archived.status == "archived"  # an outstanding balance does not stop an archive
    assert xero.contact(billed["ContactID"])["ContactStatus"] == "ACTIVE"
    assert xero.contact(owing["ContactID"])["ContactStatus"] == "ARCHIVED"


def test_a_contact_reappearing_in_capsule_is_restored_with_its_changes(
    writer: XeroContactWriter, xero: XeroControl
) -> None:
    contact = xero.create_contact(Name="Back Again Pty Ltd", ContactNumber="CAP-3")
    xero.archive(contact["ContactID"])
    operation = ContactOperation(
        "restore", 3, "CAP-3", {"email_address": "hello@backagain.com.au"}, contact_id=contact["ContactID"]
    )
    (result,) = write_all(writer, [operation])
    assert result.items[0].status == "restored"
    now = xero.contact(contact["ContactID"])
    assert (now["ContactStatus"], now["EmailAddress"]) == ("ACTIVE", "hello@backagain.com.au")


def test_an_update_of_an_archived_contact_is_refused_not_retried(
    writer: XeroContactWriter, xero: XeroControl, control: SandboxControl
) -> None:
    contact = xero.create_contact(Name="Gone Pty Ltd", ContactNumber="CAP-4")
    xero.archive(contact["ContactID"])
    since = control.last_seq()
    operation = ContactOperation("update", 4, "CAP-4", {"name": "Renamed"}, contact_id=contact["ContactID"])
    (result,) = write_all(writer, [operation])
    assert (result.items[0].status, result.items[0].error_kind) == ("failed", "refused")
    assert "archived contact" in (result.items[0].message or "")
    assert len(xero_calls(control, since, "POST")) == 1


def test_contact_persons_are_replaced_as_a_whole_list_and_kept_when_not_sent(
    writer: XeroContactWriter, xero: XeroControl
) -> None:
    three = '[{"first_name": "A", "last_name": "One"}, {"first_name": "B", "last_name": "Two"}, {"first_name": "C", "last_name": "Three"}]'
    (created,) = write_all(writer, [new_org(8, contact_persons=three)])
    cid = created.items[0].contact_id
    assert cid is not None
    two = '[{"first_name": "B", "last_name": "Two", "email_address": "b@two.com.au"}, {"first_name": "D", "last_name": "Four"}]'
    write_all(writer, [ContactOperation("update", 8, "CAP-8", {"contact_persons": two}, contact_id=cid)])
    people = [(p["FirstName"], p["LastName"]) for p in xero.contact(cid)["ContactPersons"]]
    assert people == [("B", "Two"), ("D", "Four")]
    write_all(
        writer, [ContactOperation("update", 8, "CAP-8", {"email_address": "x@y.com.au"}, contact_id=cid)]
    )
    assert len(xero.contact(cid)["ContactPersons"]) == 2


def test_updates_and_archives_share_a_post_batch_and_creates_use_put(
    writer: XeroContactWriter, xero: XeroControl, control: SandboxControl
) -> None:
    one = xero.create_contact(Name="One Pty Ltd", ContactNumber="CAP-1")
    two = xero.create_contact(Name="Two Pty Ltd", ContactNumber="CAP-2")
    operations = [
        new_org(3, name="Two Pty Ltd"),  # takes the name the archive below frees
        ContactOperation("update", 1, "CAP-1", {"tax_number": "51824753556"}, contact_id=one["ContactID"]),
        ContactOperation("archive", 2, "CAP-2", contact_id=two["ContactID"]),
    ]
    since = control.last_seq()
    results = write_all(writer, operations)
    assert [(r.method, len(r.items)) for r in results] == [("POST", 2), ("PUT", 1)]
    assert [c["method"] for c in xero_calls(control, since)] == ["POST", "PUT"]
    assert outcomes(results) == {"CAP-1": "updated", "CAP-2": "archived", "CAP-3": "created"}
    assert xero.contact(one["ContactID"])["TaxNumber"] == "51 824 753 556"


def test_find_contacts_reads_ids_forty_at_a_time_and_numbers_one_call_each_without_a_time(
    writer: XeroContactWriter, control: SandboxControl
) -> None:
    results = write_all(writer, [new_org(n) for n in range(1, 46)])
    ids = [item.contact_id for r in results for item in r.items]
    since = control.last_seq()
    found = writer.find_contacts(contact_ids=[str(i) for i in ids])
    assert len(found.by_id) == 45 and found.calls == 2
    found = writer.find_contacts(contact_numbers=["CAP-1", "CAP-2", "CAP-999"])
    assert found.calls == 3 and found.number("CAP-999") is None and found.number("cap-1") is not None
    assert len(xero_calls(control, since, "GET", path=f"{CONTACTS}")) == 2
    assert len(control.calls("xero", since)) == 5


def test_missing_groups_are_created_once_and_membership_is_added_and_removed(
    writer: XeroContactWriter, xero: XeroControl, control: SandboxControl
) -> None:
    results = write_all(writer, [new_org(n) for n in range(1, 4)])
    a, b, c = (item.contact_id for item in results[0].items)
    assert a and b and c
    first = writer.ensure_groups(["VIP"])
    since = control.last_seq()
    ensured = writer.ensure_groups(["vip", "Wholesale", "Wholesale"])
    assert ensured.created == ["Wholesale"] and ensured.ids["vip"] == first.ids["VIP"]
    assert len(xero_calls(control, since, "PUT", path=f"{API}/ContactGroups")) == 1
    group = ensured.ids["Wholesale"]
    xero.archive(c)
    added = writer.set_group_members(group, add=[a, b, c])
    assert sorted(added.added) == sorted([a, b]) and added.failed == {
        c: "Unable to assign an Archived contact."
    }
    changed = writer.set_group_members(group, remove=[a, a])
    assert changed.removed == [a] and not changed.failed
    (wholesale,) = [g for g in xero.groups() if g["Name"] == "Wholesale"]
    assert [m["ContactID"] for m in wholesale["Contacts"]] == [b]


def test_a_long_history_note_is_split_into_notes_of_at_most_2500_characters_in_one_call(
    writer: XeroContactWriter, xero: XeroControl, control: SandboxControl
) -> None:
    (result,) = write_all(writer, [new_org(1)])
    cid = result.items[0].contact_id
    assert cid is not None
    text = "\n".join(f"Opportunity {n}: stage moved to Negotiation, value $12,000" for n in range(60))
    control.add_fault("xero", "PUT", f"{CONTACTS}/{cid}/History", times=1, drop=1.0)
    since = control.last_seq()
    outcome = writer.add_history(cid, text)
    assert outcome.ok and len(outcome.notes) == math.ceil(len(text) / 2500)
    assert all(len(note) <= 2500 for note in outcome.notes)
    notes = [h["Details"] for h in xero.history(cid) if h["Changes"] == "Note"]
    assert notes == outcome.notes  # once each, though the first answer was lost
    assert "\n".join(notes) == text
    assert len({c["idempotency_key"] for c in control.calls("xero", since)}) == 1


def test_split_note_cuts_an_overlong_line_and_keeps_short_text_whole() -> None:
    assert split_note("short") == ["short"]
    assert [len(n) for n in split_note("y" * 6000)] == [2500, 2500, 1000]
