"""Owners and History notes: the two things Xero contacts have no field for
(docs/mapping.md#contact-groups-tags-and-owners, docs/mapping.md#history-notes-opportunities-cases-and-tasks).

``reconcile.owner_matches`` is checked against the generated world's owner cases (CASES.md "Owners and
users"); ``reconcile.history_notes`` on small hand-made tables, where each test says which items a
party has, what this tool already noted, and what note (if any) must come out.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import duckdb
import pytest

from sandbox.generator import Dataset
from transform.sql import build

World = tuple[Dataset, duckdb.DuckDBPyConnection, int]
Record = dict[str, Any]

LEDGER_DDL = """
create schema if not exists ledger;
create table if not exists ledger.history_notes (
    party_id bigint not null,
    contact_id varchar,
    note_hash varchar primary key,
    item_keys varchar[] not null,
    written_at timestamptz not null
)
"""
XERO_HISTORY_LIMIT = 2500


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[Record]:
    result = con.execute(sql)
    names = [d[0] for d in result.description]
    return [dict(zip(names, row, strict=True)) for row in result.fetchall()]


# --- owners on the generated world ----------------------------------------------------------------
@pytest.fixture(scope="module")
def owners(world: World, sql_params: dict[str, object]) -> dict[int | None, Record]:
    _, con, _ = world
    build(con, "reconcile", "owner_matches", sql_params)
    return {r["user_id"]: r for r in _rows(con, "select * from reconcile.owner_matches")}


def test_an_owner_whose_email_a_xero_user_has_is_mapped_to_that_user(
    world: World, owners: dict[int | None, Record]
) -> None:
    dataset, _, _ = world
    assert dataset.cases["owner_matched_xero_user"]
    for user_id, xero_user_id in dataset.cases["owner_matched_xero_user"]:
        assert owners[user_id]["outcome"] == "matched"
        assert owners[user_id]["xero_user_id"] == xero_user_id


def test_owner_emails_are_matched_whatever_their_case(world: World, owners: dict[int | None, Record]) -> None:
    dataset, _, _ = world
    xero_emails = {u["UserID"]: u["EmailAddress"] for u in dataset.xero_users}
    assert dataset.cases["owner_email_case_differs"]
    for user_id, xero_user_id in dataset.cases["owner_email_case_differs"]:
        row = owners[user_id]
        assert xero_emails[xero_user_id] != row["owner_email"]
        assert xero_emails[xero_user_id].lower() == row["owner_email"]
        assert row["xero_user_id"] == xero_user_id


def test_an_owner_without_a_xero_user_is_reported_as_not_in_xero(
    world: World, owners: dict[int | None, Record]
) -> None:
    dataset, _, _ = world
    assert dataset.cases["owner_without_xero_user"]
    for user_id in dataset.cases["owner_without_xero_user"]:
        assert owners[user_id]["outcome"] == "owner not in Xero"
        assert owners[user_id]["xero_user_id"] is None
        assert owners[user_id]["owner_email"] is not None


def test_xero_users_no_capsule_user_points_at_are_never_owners(
    world: World, owners: dict[int | None, Record]
) -> None:
    dataset, _, _ = world
    mapped = {r["xero_user_id"] for r in owners.values()}
    assert dataset.cases["xero_user_without_capsule_user"]
    assert mapped.isdisjoint(dataset.cases["xero_user_without_capsule_user"])


def test_every_capsule_user_has_a_row_with_its_owner_group_and_live_parties(
    world: World, owners: dict[int | None, Record]
) -> None:
    dataset, _, deleted = world
    live = [p for p in dataset.capsule_parties if p["id"] != deleted]
    for user in dataset.capsule_users:
        row = owners[user["id"]]
        assert row["group_name"] == "Owner: " + user["name"]
        owned = sum(1 for p in live if p["owner"] is not None and p["owner"]["id"] == user["id"])
        assert row["parties_owned"] == owned


def test_parties_without_an_owner_are_counted_on_a_no_owner_row(
    world: World, owners: dict[int | None, Record]
) -> None:
    dataset, _, deleted = world
    unowned = {p["id"] for p in dataset.capsule_parties if p["owner"] is None} - {deleted}
    assert set(dataset.cases["party_without_owner"]) - {deleted} <= unowned
    assert owners[None]["outcome"] == "no owner"
    assert owners[None]["parties_owned"] == len(unowned)
    assert owners[None]["group_name"] is None


def test_a_user_whose_party_has_no_plausible_email_is_reported_as_such() -> None:
    con = duckdb.connect()
    con.execute("""
        create schema raw;
        create table raw.capsule_users (id bigint, name varchar, party__id bigint);
        create table raw.capsule_parties (id bigint, _dlt_id varchar, owner__id bigint);
        create table raw.capsule_parties__email_addresses (
            _dlt_parent_id varchar, _dlt_list_idx bigint, address varchar);
        create table raw.capsule_deleted_parties (id bigint, deleted_at timestamptz);
        create table raw.xero_users (user_id varchar, email_address varchar);
        insert into raw.capsule_users values (1, 'Ann Lee', 10), (2, 'Bo Chan', 20);
        insert into raw.capsule_parties values (10, 'p10', 1), (20, 'p20', 1), (30, 'p30', 2);
        insert into raw.capsule_parties__email_addresses values
            ('p10', 0, 'ann.lee@example'), ('p20', 0, 'not an address'), ('p20', 1, 'Bo.Chan@Example.com.au');
        insert into raw.xero_users values ('x-ann', 'ann.lee@example.com.au');
    """)
    build(con, "reconcile", "owner_matches", {"owner_groups": True, "owner_group_prefix": "Owner: "})
    rows = {r["user_id"]: r for r in _rows(con, "select * from reconcile.owner_matches")}
    assert rows[1]["owner_email"] is None
    assert rows[1]["outcome"] == "no e-mail on the user's party"
    assert rows[2]["owner_email"] == "bo.chan@example.com.au"
    assert rows[2]["outcome"] == "owner not in Xero"


# --- History notes on hand-made tables -------------------------------------------------------------
NOW = datetime(2026, 7, 1, tzinfo=UTC)
SINCE = NOW - timedelta(days=30)


def at(days_ago: float) -> datetime:
    return NOW - timedelta(days=days_ago)


class Capsule:
    """Just the columns ``history_notes.sql`` reads, filled one record at a time."""

    def __init__(self) -> None:
        self.con = duckdb.connect()
        self.con.execute("""
            create schema raw; create schema staging; create schema reconcile;
            create table staging.capsule_parties (
                party_id bigint, party_type varchar, organisation_id bigint, is_deleted boolean);
            create table reconcile.contact_matches (party_id bigint, contact_id varchar, outcome varchar);
            create table reconcile.sync_scope (party_id bigint, in_scope boolean, scope_reason varchar);
            create table staging.quarantine (record_id varchar, rule varchar, effect varchar);
            create table raw.capsule_opportunities (
                id bigint, name varchar, party__id bigint, milestone__name varchar, lost_reason__id bigint,
                lost_reason__name varchar, closed_on date, value__amount double, value__currency varchar,
                created_at timestamptz, updated_at timestamptz);
            create table raw.capsule_kases (
                id bigint, name varchar, party__id bigint, status varchar, stage__name varchar,
                closed_on date, created_at timestamptz, updated_at timestamptz);
            create table raw.capsule_tasks (
                id bigint, description varchar, status varchar, party__id bigint, opportunity__id bigint,
                kase__id bigint, due_on date, completed_at timestamptz, created_at timestamptz,
                updated_at timestamptz);
            create table raw.capsule_deleted_opportunities (id bigint, deleted_at timestamptz);
            create table raw.capsule_deleted_kases (id bigint, deleted_at timestamptz);
        """)
        self.con.execute(LEDGER_DDL)

    def party(
        self,
        party_id: int,
        *,
        person_of: int | None = None,
        person: bool = False,
        deleted: bool = False,
        outcome: str = "matched",
    ) -> None:
        kind = "person" if person or person_of is not None else "organisation"
        self.con.execute(
            "insert into staging.capsule_parties values (?, ?, ?, ?)", [party_id, kind, person_of, deleted]
        )
        if not deleted and person_of is None:
            contact = f"contact-{party_id}" if outcome == "matched" else None
            self.con.execute(
                "insert into reconcile.contact_matches values (?, ?, ?)", [party_id, contact, outcome]
            )
        self.con.execute("insert into reconcile.sync_scope values (?, true, null)", [party_id])

    def opportunity(
        self,
        item_id: int,
        party_id: int,
        name: str,
        updated: datetime,
        *,
        milestone: str = "Proposal",
        amount: float | None = None,
        closed_on: date | None = None,
        created: datetime | None = None,
    ) -> None:
        self.con.execute(
            "insert into raw.capsule_opportunities values (?, ?, ?, ?, null, null, ?, ?, 'AUD', ?, ?)",
            [item_id, name, party_id, milestone, closed_on, amount, created or at(400), updated],
        )

    def kase(
        self, item_id: int, party_id: int, name: str, updated: datetime, *, closed: bool = False
    ) -> None:
        self.con.execute(
            "insert into raw.capsule_kases values (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                item_id,
                name,
                party_id,
                "CLOSED" if closed else "OPEN",
                "Done" if closed else "In Progress",
                updated.date() if closed else None,
                at(400),
                updated,
            ],
        )

    def task(
        self,
        item_id: int,
        description: str,
        updated: datetime,
        *,
        party_id: int | None = None,
        opportunity_id: int | None = None,
        completed: bool = False,
    ) -> None:
        self.con.execute(
            "insert into raw.capsule_tasks values (?, ?, ?, ?, ?, null, ?, ?, ?, ?)",
            [
                item_id,
                description,
                "COMPLETED" if completed else "OPEN",
                party_id,
                opportunity_id,
                date(2026, 7, 20),
                updated if completed else None,
                at(400),
                updated,
            ],
        )

    def change_task(self, item_id: int, updated: datetime) -> None:
        self.con.execute(
            "update raw.capsule_tasks set status = 'COMPLETED', completed_at = ?, updated_at = ? where id = ?",
            [updated, updated, item_id],
        )

    def delete_opportunity(self, item_id: int, when: datetime) -> None:
        self.con.execute("insert into raw.capsule_deleted_opportunities values (?, ?)", [item_id, when])

    def notes(self, since: datetime | None = SINCE) -> dict[int, Record]:
        build(self.con, "reconcile", "history_notes", {"history_since": since})
        return {r["party_id"]: r for r in _rows(self.con, "select * from reconcile.history_notes")}

    def written(self, note: Record, when: datetime = NOW) -> None:
        self.con.execute(
            "insert into ledger.history_notes values (?, ?, ?, ?, ?)",
            [
                note["party_id"],
                note["contact_id"] or "contact-new",
                note["note_hash"],
                note["item_keys"],
                when,
            ],
        )


@pytest.fixture
def capsule() -> Iterator[Capsule]:
    tables = Capsule()
    yield tables
    tables.con.close()


def lines_of(note: str) -> list[str]:
    header, _, body = note.partition(": ")
    assert re.fullmatch(r"Capsule update \d{4}-\d{2}-\d{2}", header)
    return body.split(" · ")


def test_a_note_summarises_the_partys_changed_items_in_the_order_they_changed(capsule: Capsule) -> None:
    capsule.party(1)
    capsule.task(300, "Call back re quote", at(1), party_id=1, completed=True)
    capsule.opportunity(
        100, 1, "Fit-out Stage 2", at(3), milestone="Won", amount=12500, closed_on=date(2026, 6, 28)
    )
    capsule.kase(200, 1, "Warranty claim", at(2), closed=True)
    capsule.opportunity(101, 1, "Old quote", at(200))

    note = capsule.notes()[1]

    assert note["contact_id"] == "contact-1"
    assert note["items_total"] == 3
    assert note["note"] == (
        "Capsule update 2026-06-30: "
        'Opportunity "Fit-out Stage 2" won, A$12,500 · Case "Warranty claim" closed 2026-06-29 · '
        'Task "Call back re quote" completed 2026-06-30'
    )
    assert [key.split("@")[0] for key in note["item_keys"]] == ["opportunity:100", "kase:200", "task:300"]


def test_items_changed_at_the_same_moment_are_ordered_by_id_so_the_note_never_varies(
    capsule: Capsule,
) -> None:
    capsule.party(1)
    for item_id in (305, 301, 303):
        capsule.task(item_id, f"Task {item_id}", at(1), party_id=1)

    first, second = capsule.notes()[1], capsule.notes()[1]

    assert [line.split('"')[1] for line in lines_of(first["note"])] == ["Task 301", "Task 303", "Task 305"]
    assert (first["note"], first["note_hash"]) == (second["note"], second["note_hash"])


def test_an_item_created_since_the_cutoff_is_called_new(capsule: Capsule) -> None:
    capsule.party(1)
    capsule.opportunity(100, 1, "Fresh lead", at(2), created=at(3), milestone="New")
    capsule.opportunity(101, 1, "Long-running deal", at(2))

    lines = lines_of(capsule.notes()[1]["note"])

    assert lines == ['New opportunity "Fresh lead" at New', 'Opportunity "Long-running deal" at Proposal']


def test_a_note_too_long_for_xero_keeps_whole_items_and_ends_with_and_n_more(capsule: Capsule) -> None:
    capsule.party(1)
    for n in range(80):
        capsule.task(
            1000 + n,
            f"Chase the signed delivery docket for pallet number {n} at the warehouse",
            at(2),
            party_id=1,
        )

    note = capsule.notes()[1]
    lines = lines_of(note["note"])
    more = re.fullmatch(r"… and (\d+) more", lines[-1])

    assert len(note["note"]) <= XERO_HISTORY_LIMIT
    assert more is not None
    shown = lines[:-1]
    assert len(shown) + int(more.group(1)) == note["items_total"] == 80
    assert all(re.fullmatch(r'Task "Chase .* warehouse" due 2026-07-20', line) for line in shown)
    assert len(note["item_keys"]) == 80


def test_a_long_title_is_cut_between_words(capsule: Capsule) -> None:
    capsule.party(1)
    capsule.task(300, " ".join(["warehouse"] * 30), at(1), party_id=1)

    title = lines_of(capsule.notes()[1]["note"])[0].split('"')[1]

    assert title.endswith("warehouse…")
    assert len(title) <= 80


def test_a_title_reaches_xeros_history_without_controls_or_terminal_escapes(capsule: Capsule) -> None:
    capsule.party(1)
    capsule.task(301, "\x1b[31mChase\x00 the\tinvoice\x1b[0m\u200b", at(1), party_id=1)

    (line,) = lines_of(capsule.notes()[1]["note"])

    assert line.split('"')[1] == "Chase the invoice"


def test_items_changed_before_history_since_are_left_out_of_a_first_note(capsule: Capsule) -> None:
    capsule.party(1)
    capsule.party(2)
    capsule.task(300, "Recent", at(1), party_id=1)
    capsule.task(301, "Years ago", at(900), party_id=1)
    capsule.task(302, "Also years ago", at(800), party_id=2)

    notes = capsule.notes()

    assert [line.split('"')[1] for line in lines_of(notes[1]["note"])] == ["Recent"]
    assert 2 not in notes
    assert 2 in capsule.notes(since=None)


def test_items_already_noted_make_no_new_note(capsule: Capsule) -> None:
    capsule.party(1)
    capsule.task(300, "Call back re quote", at(1), party_id=1)
    capsule.opportunity(100, 1, "Fit-out Stage 2", at(3))
    capsule.written(capsule.notes()[1])

    assert capsule.notes() == {}


def test_a_changed_item_after_a_note_makes_a_new_note_about_it_alone(capsule: Capsule) -> None:
    capsule.party(1)
    capsule.task(300, "Call back re quote", at(5), party_id=1)
    capsule.opportunity(100, 1, "Fit-out Stage 2", at(3))
    first = capsule.notes()[1]
    capsule.written(first, when=at(2))

    capsule.change_task(300, at(1))
    second = capsule.notes()[1]

    assert second["note_hash"] != first["note_hash"]
    assert lines_of(second["note"]) == ['Task "Call back re quote" completed 2026-06-30']
    assert second["items_total"] == 1


def test_an_item_changed_after_the_first_note_counts_even_once_history_since_has_moved_past_it(
    capsule: Capsule,
) -> None:
    capsule.party(1)
    capsule.task(300, "First", at(50), party_id=1)
    capsule.written(capsule.notes(since=at(60))[1], when=at(45))
    capsule.task(301, "Changed while the sync was not running", at(40), party_id=1)

    note = capsule.notes(since=at(30))[1]

    assert [line.split('"')[1] for line in lines_of(note["note"])] == [
        "Changed while the sync was not running"
    ]


def test_a_deleted_party_and_its_items_get_no_note(capsule: Capsule) -> None:
    capsule.party(1, deleted=True)
    capsule.task(300, "Call back", at(1), party_id=1)
    capsule.party(2)
    capsule.party(3, person_of=2, deleted=True)
    capsule.task(301, "Deleted person's task", at(1), party_id=3)
    capsule.task(302, "Organisation's task", at(1), party_id=2)

    notes = capsule.notes()

    assert set(notes) == {2}
    assert [line.split('"')[1] for line in lines_of(notes[2]["note"])] == ["Organisation's task"]


def test_a_party_held_back_for_its_name_gets_no_note_it_could_never_send(capsule: Capsule) -> None:
    capsule.party(1, outcome="new")
    capsule.con.execute("insert into staging.quarantine values ('1', 'name_fits_xero', 'party held back')")
    capsule.task(300, "Call back", at(1), party_id=1)
    capsule.party(2, outcome="new")
    capsule.con.execute("insert into staging.quarantine values ('2', 'email_valid', 'address not sent')")
    capsule.task(301, "Send the quote", at(1), party_id=2)

    assert set(capsule.notes()) == {2}


def test_a_persons_items_go_on_their_organisations_note(capsule: Capsule) -> None:
    capsule.party(1)
    capsule.party(2, person_of=1)
    capsule.opportunity(100, 2, "Person's deal", at(2))
    capsule.task(300, "Person's task", at(1), party_id=2)

    notes = capsule.notes()

    assert set(notes) == {1}
    assert notes[1]["items_total"] == 2


def test_a_task_on_an_opportunity_goes_on_the_opportunitys_party_unless_the_opportunity_was_deleted(
    capsule: Capsule,
) -> None:
    capsule.party(1)
    capsule.party(2)
    capsule.opportunity(100, 1, "Live deal", at(9))
    capsule.opportunity(101, 2, "Dropped deal", at(9))
    capsule.task(300, "Send quote", at(1), opportunity_id=100)
    capsule.task(301, "Chase quote", at(1), opportunity_id=101)
    capsule.delete_opportunity(101, at(5))

    notes = capsule.notes()

    assert "Send quote" in notes[1]["note"]
    assert 2 not in notes


def test_a_party_about_to_be_created_gets_a_note_without_a_contact_and_one_in_review_waits(
    capsule: Capsule,
) -> None:
    capsule.party(1, outcome="new")
    capsule.party(2, outcome="review")
    capsule.task(300, "Welcome call", at(1), party_id=1)
    capsule.task(301, "Check duplicate", at(1), party_id=2)

    notes = capsule.notes()

    assert set(notes) == {1}
    assert notes[1]["contact_id"] is None


def test_an_opportunity_deleted_after_it_was_noted_is_noted_as_deleted_once(capsule: Capsule) -> None:
    capsule.party(1)
    capsule.opportunity(100, 1, "Fit-out Stage 2", at(5))
    capsule.opportunity(101, 1, "Never noted", at(100))
    capsule.written(capsule.notes()[1], when=at(4))
    capsule.delete_opportunity(100, at(1))
    capsule.delete_opportunity(101, at(1))

    note = capsule.notes()[1]

    assert lines_of(note["note"]) == ['Opportunity "Fit-out Stage 2" deleted']
    capsule.written(note)
    assert capsule.notes() == {}


# --- History notes on the generated world ----------------------------------------------------------
def test_every_note_of_the_generated_world_fits_xero_and_goes_to_a_live_contact_to_be(world: World) -> None:
    _, con, deleted = world
    con.execute(LEDGER_DDL)
    build(con, "reconcile", "history_notes", {"history_since": None})
    notes = _rows(con, "select * from reconcile.history_notes")
    targets = {
        r["party_id"]: r["contact_id"]
        for r in _rows(con, "select * from reconcile.contact_matches where outcome in ('matched', 'new')")
    }
    assert notes
    assert deleted not in {n["party_id"] for n in notes}
    for note in notes:
        assert note["party_id"] in targets
        assert note["contact_id"] == targets[note["party_id"]]
        assert len(note["note"]) <= XERO_HISTORY_LIMIT
        assert len(note["item_keys"]) == note["items_total"] == len(set(note["item_keys"]))
