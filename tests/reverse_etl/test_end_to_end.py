"""End to end against the sandbox (issue 5, "Prove it"): a generated world synced with apply the way
``capsule-xero sync --apply`` does it, first without faults (the golden run), then with 15% of Xero's
calls failing in every way the sandbox knows, until nothing is left to write.

The oracle is the generator, not the product: which Capsule parties should become contacts follows
from the parties themselves and ``dataset.cases`` (sandbox/generator/CASES.md), and the values a
created contact should hold from ``sandbox.generator.xero.desired_contact`` (the mapping CASES.md
documents).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pipelines.xero import xero_error
from reverse_etl.plans.model import PlanError
from sandbox.faults import FaultRule
from sandbox.generator import Dataset, generate
from sandbox.generator.xero import desired_contact
from tests.support.sync_world import (
    SyncRun,
    World,
    by_contact_number,
    capsule_field_values,
    xero_contacts,
    xero_state,
)

pytestmark = pytest.mark.slow  # a whole sync of a 300-party world, twice: about a minute for the file

PARTIES = 300
SEED = 5
MAX_RUNS = 8
# Every fault kind the sandbox has, 3% each: 15% of Xero API calls misbehave.
FAULTS = {"429": 0.03, "500": 0.03, "503": 0.03, "hang": 0.03, "drop": 0.03}
# A few hundred calls give each kind only a handful of chances, so each also strikes a contact write
# once for sure, first: (method, kind). The drop of the first create batch (committed in Xero, the
# answer lost) and the hang of the first update batch (it lands after the client gave up) are the
# cases where a careless retry duplicates or loses a change.
SURE_FAULTS = (("PUT", "drop"), ("POST", "hang"), ("PUT", "429"), ("POST", "503"), ("PUT", "500"))
# Then an outage: the next create batches answer 503 this many times in a row, more than the writer
# retries within a run (8 tries a call, 3 attempts a batch), so a run stops part-way and the next
# one must settle what it left unknown and carry on.
OUTAGE_CALLS = 40
# A hung call is held past the client's read timeout (sync_world.PACING: 0.5 s), then processed.
HANG_SECONDS = 1.0
API = "/api.xro/2.0"

# Cases whose parties a correct sync leaves without a contact of their own (CASES.md): ambiguous
# matches wait in the review queue, an over-long name is quarantined, and a contact a bookkeeper
# archived stays archived.
NOT_SYNCED = (
    "same_company_twice",
    "xero_same_name_different_company",
    "xero_archived_name_collision",
    "xero_duplicate_abn",
    "over_long_name",
    "xero_archived_synced_contact",
)
CREATED = ("capsule_only", "stale_xero_contact_id", "free_mail_domain_trap", "same_name_different_company")
# (party, contact) cases whose party must end on that very contact: kept or adopted, never a new one.
KEPT_OR_ADOPTED = (
    "synced_in_sync",
    "synced_capsule_changed",
    "synced_xero_changed",
    "conflict_both_changed_xero_later",
    "conflict_both_changed_capsule_later",
    "synced_org_new_person",
    "synced_crossref_missing_in_capsule",
    "xero_match_abn",
    "xero_match_abn_formatted_differently",
    "xero_match_email_domain",
    "xero_match_email_person",
    "xero_match_name_exact",
    "xero_match_name_person",
    "name_variant_case",
    "name_variant_legal_suffix",
    "name_variant_ampersand",
    "name_variant_accents",
)


def parties(dataset: Dataset, *cases: str) -> set[int]:
    """Every Capsule party id the cases produced (a pair's or triple's parties included)."""
    found: set[int] = set()
    for case in cases:
        for ids in dataset.cases[case]:
            found.update(i for i in (ids if isinstance(ids, tuple) else (ids,)) if isinstance(i, int))
    return found


def eligible(dataset: Dataset) -> set[int]:
    """Capsule parties that must each end as exactly one active Xero contact: every organisation and
    every person without one (people with an organisation become its ContactPersons)."""
    candidates = {
        int(p["id"])
        for p in dataset.capsule_parties
        if p["type"] == "organisation" or not p.get("organisation")
    }
    return candidates - parties(dataset, *NOT_SYNCED)


def desired(dataset: Dataset, party_id: int) -> dict[str, Any]:
    party = next(p for p in dataset.capsule_parties if p["id"] == party_id)
    people = [p for p in dataset.capsule_parties if (p.get("organisation") or {}).get("id") == party_id]
    return desired_contact(party, people)


@dataclass
class Synced:
    """A world after its first, fault-free sync --apply, and what that left in both systems."""

    world: World
    first: SyncRun
    contacts: list[dict[str, Any]]
    state: dict[str, tuple[Any, ...]]
    capsule_field: dict[int, Any]


@pytest.fixture(scope="module")
def dataset() -> Dataset:
    return generate(parties=PARTIES, seed=SEED)


@pytest.fixture(scope="module")
def synced(dataset: Dataset, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synced]:
    with World(dataset, tmp_path_factory.mktemp("clean")) as world:
        first = world.sync()
        yield Synced(world, first, xero_contacts(world), xero_state(world), capsule_field_values(world))


# ---- golden end to end ---------------------------------------------------------------------------


def test_a_first_migration_waits_for_approval_then_lands_whole_in_one_run(synced: Synced) -> None:
    first = synced.first
    assert first.approved and "first migration" in " ".join(first.plan.approval_reasons)
    assert first.result is not None
    assert first.result.status == "applied" and first.result.stopped is None
    assert first.result.unknown == 0


def test_every_eligible_capsule_party_has_exactly_one_active_xero_contact_numbered_after_it(
    synced: Synced, dataset: Dataset
) -> None:
    held = by_contact_number(synced.contacts)
    wanted = eligible(dataset)
    kept_or_adopted = {ids[0] for case in KEPT_OR_ADOPTED for ids in dataset.cases[case]}
    assert (parties(dataset, *CREATED) | kept_or_adopted) - parties(dataset, *NOT_SYNCED) <= wanted
    missing = sorted(p for p in wanted if f"CAP-{p}" not in held)
    assert missing == []
    not_one_active = {
        p: [c["ContactStatus"] for c in held[f"CAP-{p}"]]
        for p in wanted
        if [c["ContactStatus"] for c in held[f"CAP-{p}"]] != ["ACTIVE"]
    }
    assert not_one_active == {}


def test_no_two_xero_contacts_share_a_contact_number(synced: Synced) -> None:
    duplicates = {
        number: len(found) for number, found in by_contact_number(synced.contacts).items() if len(found) > 1
    }
    assert duplicates == {}


def test_created_contacts_hold_the_name_email_and_spaced_abn_of_their_capsule_party(
    synced: Synced, dataset: Dataset
) -> None:
    held = by_contact_number(synced.contacts)
    created = parties(dataset, *CREATED) - parties(dataset, *NOT_SYNCED)
    assert created
    wrong = {}
    for party_id in created:
        (contact,) = held[f"CAP-{party_id}"]
        want = desired(dataset, party_id)
        got = {key: contact.get(key) for key in ("Name", "EmailAddress", "TaxNumber")}
        expected = {key: want.get(key) for key in ("Name", "EmailAddress", "TaxNumber")}
        if got != expected:
            wrong[party_id] = (expected, got)
    assert wrong == {}


def test_synced_and_matching_xero_contacts_are_kept_or_adopted_never_made_again(
    synced: Synced, dataset: Dataset
) -> None:
    held = by_contact_number(synced.contacts)
    moved = {}
    for case in KEPT_OR_ADOPTED:
        for party_id, contact_id, *_ in dataset.cases[case]:
            found = [c["ContactID"] for c in held.get(f"CAP-{party_id}", [])]
            if found != [contact_id]:
                moved[(case, party_id)] = (contact_id, found)
    assert moved == {}


def test_contacts_of_parties_deleted_in_capsule_are_archived_unless_a_repeating_invoice_stops_it(
    synced: Synced, dataset: Dataset
) -> None:
    status = {c["ContactID"]: c["ContactStatus"] for c in synced.contacts}
    archived_cases = ("deleted_party_synced", "deleted_party_synced_already_archived")
    assert {status[contact] for case in archived_cases for _, contact in dataset.cases[case]} == {"ARCHIVED"}

    ((tombstone, billed),) = dataset.cases["deleted_party_synced_with_repeating_invoice"]
    assert status[billed] == "ACTIVE"
    with synced.world.connect() as con:
        queued = con.execute(
            "select contact_id, operation, error_kind, message, state from ledger.error_queue where party_id = ?",
            [tombstone],
        ).fetchall()
    assert len(queued) == 1
    contact_id, operation, kind, message, state = queued[0]
    assert (contact_id, operation, kind, state) == (billed, "archive", "refused", "dead")
    assert "repeating invoice" in message  # Xero's own reason, for the person who must act on it


def test_the_capsule_field_of_every_synced_party_holds_its_xero_contact_id(
    synced: Synced, dataset: Dataset
) -> None:
    held = by_contact_number(synced.contacts)
    expected = {p: held[f"CAP-{p}"][0]["ContactID"] for p in eligible(dataset)}
    actual = {p: synced.capsule_field.get(p) for p in expected}
    assert actual == expected


def test_a_second_sync_plans_nothing_and_writes_nothing_to_xero_or_capsule(synced: Synced) -> None:
    world = synced.world
    since = world.last_call()
    again = world.sync()
    assert again.plan.status == "empty" and again.plan.operations == 0
    assert again.result is None
    assert again.xero_writes == []
    capsule_writes = [
        c
        for c in world.server.call(lambda: world.sandbox.calls.records("capsule", since))
        if c.method not in {"GET", "HEAD"}
    ]
    assert capsule_writes == []
    assert xero_state(world) == synced.state


# ---- fault soak ----------------------------------------------------------------------------------


def links(world: World, contacts: list[dict[str, Any]]) -> dict[int, str | None]:
    """Capsule party → the ContactNumber of the Xero contact its "Xero Contact ID" field names (None
    when no contact has that id): ContactIDs differ between two sandboxes, ContactNumbers do not."""
    number = {c["ContactID"]: c.get("ContactNumber") for c in contacts}
    return {party: number.get(value) for party, value in capsule_field_values(world).items()}


def queued(world: World) -> set[tuple[Any, ...]]:
    with world.connect() as con:
        return set(
            con.sql("select party_id, operation, error_kind, state from ledger.error_queue").fetchall()
        )


def sync_until_nothing_is_left(world: World) -> list[str]:
    """``sync --apply`` again and again, as a person would after each failed run, until the plan is
    empty (at most MAX_RUNS runs). Returns what each run ended in."""
    runs: list[str] = []
    for _ in range(MAX_RUNS):
        try:
            run = world.sync()
        except PlanError as exc:  # e.g. Xero changed between plan and apply: the CLI exits 1
            runs.append(f"refused: {exc}")
            continue
        except Exception as exc:
            if xero_error(exc) is None:  # not Xero failing: a bug, not a fault to ride out
                raise
            runs.append(f"xero failed: {xero_error(exc)}")
            continue
        if run.plan.status == "empty":
            runs.append("empty")
            return runs
        assert run.result is not None
        runs.append(
            f"{run.result.status}{' (stopped: ' + run.result.stopped + ')' if run.result.stopped else ''}"
        )
    return runs


def test_with_15_percent_of_xero_calls_failing_repeated_syncs_converge_to_the_fault_free_state(
    synced: Synced, dataset: Dataset, tmp_path: Path
) -> None:
    with World(dataset, tmp_path / "faulty") as world:
        rules = [
            FaultRule("xero", method, f"{API}/Contacts", {kind: 1.0}, times=1, hang_seconds=HANG_SECONDS)
            for method, kind in SURE_FAULTS
        ]
        rules.insert(1, FaultRule("xero", "PUT", f"{API}/Contacts", {"503": 1.0}, times=OUTAGE_CALLS))
        rules.append(FaultRule("xero", "*", f"{API}/*", FAULTS, hang_seconds=HANG_SECONDS))
        for rule in rules:  # the first rule that matches a call decides
            world.server.call(world.sandbox.faults.add, rule)
        runs = sync_until_nothing_is_left(world)
        faults = world.server.call(lambda: world.sandbox.calls.stats("xero"))["faults"]
        world.server.call(world.sandbox.faults.clear)

        assert runs[-1] == "empty", runs
        assert set(faults) == set(FAULTS), faults  # every kind of fault really happened
        assert [rule.fired for rule in rules[:-1]] == [1, OUTAGE_CALLS, *[1] * (len(SURE_FAULTS) - 1)]
        assert any(run.startswith("partly_applied") for run in runs), runs  # the outage stopped a run
        contacts = xero_contacts(world)
        assert {n: len(found) for n, found in by_contact_number(contacts).items() if len(found) > 1} == {}
        assert xero_state(world) == synced.state
        assert links(world, contacts) == links(synced.world, synced.contacts)
        # Faults that were ridden out leave nothing in the error queue: it holds what the clean run's holds.
        assert queued(world) == queued(synced.world)
