"""The three-way diff, conflict settlement, preflight and operations, on small hand-built tables.

Each test builds the few rows it needs of the plan's inputs (desired and current contacts, the
ledger, the matches and the tombstones), builds the plan with ``build_plan_tables`` and reads
``reconcile.contact_operations`` and its companions.
"""

from __future__ import annotations

import itertools
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import duckdb
import pytest

from capsule_xero.rules.fields import COMPARED_FIELDS
from reverse_etl.ledger.schema import ensure_ledger
from transform.stages import build_plan_tables

SYNCED_AT = datetime(2026, 6, 20, 9, 0, tzinfo=UTC)
EARLIER = SYNCED_AT + timedelta(days=1)
LATER = SYNCED_AT + timedelta(days=2)
WRITTEN_AT = datetime(2026, 7, 1, tzinfo=UTC)

RULES = {
    "contact_number_prefix": "CAP-",
    "xero_owned_fields": [],
    "conflict_policy": "newest_wins",
    "name_collision": "suffix",
    "restore_archived_by_xero": False,
    # Rules parameters the plan does not use; the models must bind only the ones they name.
    "min_confidence": 0.6,
    "abn_field": "ABN",
    # Today's direction (sync.direction: capsule_to_xero): nothing flows Xero → Capsule.
    "two_way": False,
    "pulled_fields": [],
    "both_owned_fields": [],
}

PLANNED_WRITES = {"create", "update", "archive", "restore"}

INPUT_TABLES = """
create schema staging;
create schema reconcile;
create table staging.capsule_parties (
    party_id bigint, is_deleted boolean, deleted_at timestamptz, xero_contact_id varchar
);
create table reconcile.contact_matches (party_id bigint, outcome varchar, review_reason varchar, contact_id varchar);
create table reconcile.desired_contacts (
    party_id bigint, contact_id varchar, match_outcome varchar, capsule_updated_at timestamptz,
    people_total integer,
    contact_number varchar, name varchar, first_name varchar, last_name varchar, email_address varchar,
    tax_number varchar, website varchar, phone_default varchar, phone_mobile varchar, phone_fax varchar,
    street_address varchar, postal_address varchar, contact_persons varchar, contact_groups varchar,
    quarantined_fields varchar[], quarantined_people struct(first_name varchar, last_name varchar)[],
    party_type varchar
);
create table reconcile.current_contacts (
    contact_id varchar, contact_status varchar, xero_updated_at timestamptz, balance_outstanding decimal(18, 2),
    contact_number varchar, name varchar, first_name varchar, last_name varchar, email_address varchar,
    tax_number varchar, website varchar, phone_default varchar, phone_mobile varchar, phone_fax varchar,
    street_address varchar, postal_address varchar, contact_persons varchar, contact_groups varchar
);
"""


def organisation(party_id: int, **changes: str | None) -> dict[str, str | None]:
    """The compared fields of a tidy organisation, as both sides hold them when in sync."""
    fields: dict[str, str | None] = dict.fromkeys(COMPARED_FIELDS)
    fields |= {
        "contact_number": f"CAP-{party_id}",
        "name": f"Harbour Joinery {party_id} Pty Ltd",
        "email_address": f"accounts{party_id}@harbourjoinery.com.au",
        "tax_number": "51824753556",
        "website": "https://harbourjoinery.com.au",
        "phone_default": "+61295504412",
        "street_address": '{"lines":["12 Dock Rd"],"city":"Balmain","region":"NSW","postal_code":"2041","country":"Australia"}',
        "contact_persons": '[{"first_name":"Mia","last_name":"Nguyen","email_address":"mia@harbourjoinery.com.au"}]',
        "contact_groups": '["Customer","Owner: Mia Nguyen"]',
    }
    return fields | changes


class Scene:
    """The plan's inputs, a few rows at a time, and the plan built from them."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self.ids = itertools.count(1)

    def desire(
        self,
        party_id: int,
        contact_id: str | None = None,
        *,
        outcome: str | None = None,
        review_reason: str | None = None,
        updated_at: datetime = SYNCED_AT,
        people_total: int = 1,
        quarantined_fields: tuple[str, ...] = (),
        quarantined_people: tuple[dict[str, str], ...] = (),
        party_type: str = "organisation",
        **changes: str | None,
    ) -> None:
        outcome = outcome or ("matched" if contact_id else "new")
        fields = organisation(party_id, **changes)
        self.con.table("reconcile.desired_contacts").insert(
            [
                party_id,
                contact_id,
                outcome,
                updated_at,
                people_total,
                *fields.values(),
                list(quarantined_fields),
                list(quarantined_people),
                party_type,
            ]
        )
        self.con.table("reconcile.contact_matches").insert([party_id, outcome, review_reason, contact_id])
        self.con.table("staging.capsule_parties").insert([party_id, False, None, contact_id])

    def xero(
        self,
        contact_id: str,
        party_id: int,
        *,
        status: str = "ACTIVE",
        updated_at: datetime = SYNCED_AT,
        balance: str = "0",
        **changes: str | None,
    ) -> None:
        fields = organisation(party_id, **changes)
        self.con.table("reconcile.current_contacts").insert(
            [contact_id, status, updated_at, Decimal(balance), *fields.values()]
        )

    def wrote(self, contact_id: str, party_id: int, *, status: str = "ACTIVE", **changes: str | None) -> None:
        fields = organisation(party_id, **changes)
        self.con.table("ledger.written_contacts").insert(
            [contact_id, party_id, 1, SYNCED_AT, status, *fields.values()]
        )

    def synced(
        self, party_id: int, *, capsule_at: datetime = SYNCED_AT, xero_at: datetime = SYNCED_AT
    ) -> str:
        """A party this tool wrote earlier, unchanged since on both sides; returns its ContactID."""
        contact_id = f"00000000-0000-0000-0000-{party_id:012d}"
        self.desire(party_id, contact_id, updated_at=capsule_at)
        self.xero(contact_id, party_id, updated_at=xero_at)
        self.wrote(contact_id, party_id)
        return contact_id

    def tombstone(self, party_id: int, xero_contact_id: str | None = None) -> None:
        self.con.table("staging.capsule_parties").insert([party_id, True, EARLIER, xero_contact_id])

    def set(self, table: str, key: str, key_value: object, **values: object) -> None:
        """Change a few columns of one input row (the tests' edits on either side)."""
        relation = self.con.table(table)
        rows = relation.fetchall()
        columns = relation.columns
        self.con.execute("delete from " + table)  # noqa: S608 - table names are this module's constants
        edited = []
        for row in rows:
            record = dict(zip(columns, row, strict=True))
            if record[key] == key_value:
                record |= values
            edited.append(list(record.values()))
        insert_rows(self.con, table, edited)

    def plan(self, **rules: object) -> dict[int, dict[str, Any]]:
        self.counts = build_plan_tables(self.con, RULES | rules)
        return {row["party_id"]: row for row in self.rows("select * from reconcile.contact_operations")}

    def rows(self, sql: str, **params: object) -> list[dict[str, Any]]:
        cursor = self.con.execute(sql, params)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def settlements(self) -> list[dict[str, Any]]:
        return self.rows("select * from reconcile.conflict_settlements order by party_id, field")

    def problems(self) -> list[dict[str, Any]]:
        return self.rows("select * from reconcile.preflight_problems order by party_id, field, problem")


@pytest.fixture(scope="module")
def connection() -> Iterator[duckdb.DuckDBPyConnection]:
    # One connection for the module: registering the cx_* normalisers takes longer than a plan.
    con = duckdb.connect()
    yield con
    con.close()


@pytest.fixture
def scene(connection: duckdb.DuckDBPyConnection) -> Scene:
    connection.execute("drop schema if exists staging cascade")
    connection.execute("drop schema if exists reconcile cascade")
    connection.execute("drop schema if exists ledger cascade")
    connection.execute(INPUT_TABLES)
    ensure_ledger(connection)
    return Scene(connection)


def simulate_write(scene: Scene, written_at: datetime = WRITTEN_AT) -> None:
    """Apply the planned writes as a Xero that accepts them all would, and record them in the ledger.

    The ledger keeps, per field (reverse_etl/sql/ledger.sql): the value sent; for a field the plan
    kept from Xero on purpose, the Capsule value it was compared with; otherwise Xero's value. The
    party is then matched to its contact, as the next run's matching would find it by ContactNumber.
    """
    con = scene.con
    current = {row["contact_id"]: row for row in scene.rows("select * from reconcile.current_contacts")}
    ledger = {row["contact_id"]: row for row in scene.rows("select * from ledger.written_contacts")}
    desired = {row["party_id"]: row for row in scene.rows("select * from reconcile.desired_contacts")}
    operations = scene.rows("select * from reconcile.contact_operations")
    for op in (op for op in operations if op["operation"] in PLANNED_WRITES):
        contact_id = op["contact_id"] or str(uuid.uuid4())
        contact = current.setdefault(
            contact_id,
            {"contact_id": contact_id, "balance_outstanding": Decimal(0)} | dict.fromkeys(COMPARED_FIELDS),
        )
        contact |= {field: op[field] for field in op["changed_fields"]}
        contact["contact_status"] = "ARCHIVED" if op["operation"] == "archive" else "ACTIVE"
        contact["xero_updated_at"] = written_at
        if op["operation"] == "archive":
            image = {field: ledger.get(contact_id, contact)[field] for field in COMPARED_FIELDS}
        else:
            want = desired[op["party_id"]]
            want |= {"contact_id": contact_id, "match_outcome": "matched"}
            image = {
                field: want[field] if field in op["kept_fields"] else contact[field]
                for field in COMPARED_FIELDS
            }
        ledger[contact_id] = {
            "contact_id": contact_id,
            "party_id": op["party_id"],
            "plan_id": 2,
            "written_at": written_at,
            "contact_status": contact["contact_status"],
        } | image
    for table, rows in (
        ("reconcile.current_contacts", current.values()),
        ("ledger.written_contacts", ledger.values()),
        ("reconcile.desired_contacts", desired.values()),
    ):
        columns = con.table(table).columns
        con.execute("delete from " + table)  # noqa: S608 - table names are this module's constants
        insert_rows(con, table, [[row[column] for column in columns] for row in rows])


def insert_rows(con: duckdb.DuckDBPyConnection, table: str, rows: list[list[Any]], chunk: int = 200) -> None:
    """``table.insert(row)`` for each row, as a few multi-row INSERTs of the same parameters: DuckDB
    takes about as long for one row's INSERT as for two hundred, and a 1,000-party world's rewrite
    (test_golden) took seconds row by row."""
    for start in range(0, len(rows), chunk):
        part = rows[start : start + chunk]
        one = "(" + ", ".join("?" for _ in part[0]) + ")"
        con.execute(
            f"insert into {table} values " + ", ".join(one for _ in part),  # noqa: S608 - this module's table names
            [value for row in part for value in row],
        )


# --- the three-way table -------------------------------------------------------------------------


def test_a_field_changed_only_in_capsule_is_written_without_a_settlement(scene: Scene) -> None:
    contact = scene.synced(1)
    scene.set(
        "reconcile.desired_contacts",
        "party_id",
        1,
        email_address="new@harbourjoinery.com.au",
        capsule_updated_at=EARLIER,
    )

    op = scene.plan()[1]

    assert (op["operation"], op["contact_id"], op["changed_fields"]) == ("update", contact, ["email_address"])
    assert op["email_address"] == "new@harbourjoinery.com.au"
    assert op["name"] is None, "an unchanged field is not sent"
    assert "changed in Capsule" in op["reason"]
    assert scene.settlements() == []


@pytest.mark.parametrize("policy", ["newest_wins", "capsule_wins", "xero_wins", "manual"])
def test_a_quarantined_value_is_not_sent_and_leaves_xeros_field_while_an_emptied_one_clears_it(
    scene: Scene, policy: str
) -> None:
    quarantined = ("tax_number", "email_address", "phone_default", "phone_fax")
    kept = scene.synced(1)
    cleared = scene.synced(2)
    later = {"capsule_updated_at": LATER}
    scene.set("reconcile.desired_contacts", "party_id", 1, **dict.fromkeys(quarantined), **later)
    scene.set(
        "reconcile.desired_contacts",
        "party_id",
        1,
        quarantined_fields=list(quarantined),
        quarantined_people=[{"first_name": "Mia", "last_name": "Nguyen"}],
        contact_persons='[{"first_name":"Mia","last_name":"Nguyen","email_address":null},'
        '{"first_name":"Ali","last_name":"Khan","email_address":"ali@harbourjoinery.com.au"}]',
    )
    scene.set("reconcile.desired_contacts", "party_id", 2, tax_number=None, email_address=None, **later)

    ops = scene.plan(conflict_policy=policy)

    # Only the new person is news; Mia keeps the e-mail Xero has, in the whole list Xero replaces.
    assert (ops[1]["operation"], ops[1]["contact_id"]) == ("update", kept)
    assert ops[1]["changed_fields"] == ["contact_persons"]
    assert json.loads(ops[1]["contact_persons"])[0]["email_address"] == "mia@harbourjoinery.com.au"
    assert (ops[2]["operation"], ops[2]["contact_id"]) == ("update", cleared)
    assert ops[2]["changed_fields"] == ["email_address", "tax_number"]
    assert (ops[2]["email_address"], ops[2]["tax_number"]) == (None, None)


def test_a_field_changed_only_in_xero_keeps_xeros_value_when_xero_is_newer_and_logs_both_timestamps(
    scene: Scene,
) -> None:
    contact = scene.synced(1)
    scene.set(
        "reconcile.current_contacts",
        "contact_id",
        contact,
        phone_default="+61298765432",
        xero_updated_at=LATER,
    )

    op = scene.plan()[1]

    assert op["operation"] == "noop" and op["changed_fields"] == []
    [settlement] = scene.settlements()
    assert settlement | {"reason": None} == {
        "party_id": 1,
        "contact_id": contact,
        "field": "phone_default",
        "conflict": "xero_changed",
        "capsule_value": "+61295504412",
        "xero_value": "+61298765432",
        "base_value": "+61295504412",
        "capsule_updated_at": SYNCED_AT,
        "xero_updated_at": LATER,
        "policy": "newest_wins",
        "winner": "xero",
        "decision": "keep",
        "reason": None,
    }
    assert "only change" in settlement["reason"]


@pytest.mark.parametrize(
    ("capsule_at", "xero_at", "winner"), [(LATER, EARLIER, "capsule"), (EARLIER, LATER, "xero")]
)
def test_a_field_changed_on_both_sides_goes_to_the_side_changed_last(
    scene: Scene, capsule_at: datetime, xero_at: datetime, winner: str
) -> None:
    contact = scene.synced(1)
    scene.set(
        "reconcile.desired_contacts",
        "party_id",
        1,
        email_address="capsule@harbourjoinery.com.au",
        capsule_updated_at=capsule_at,
    )
    scene.set(
        "reconcile.current_contacts",
        "contact_id",
        contact,
        email_address="xero@harbourjoinery.com.au",
        xero_updated_at=xero_at,
    )

    op = scene.plan()[1]

    [settlement] = scene.settlements()
    assert (settlement["conflict"], settlement["winner"]) == ("both_changed", winner)
    assert (settlement["capsule_value"], settlement["xero_value"]) == (
        "capsule@harbourjoinery.com.au",
        "xero@harbourjoinery.com.au",
    )
    if winner == "capsule":
        assert (op["operation"], op["email_address"]) == ("update", "capsule@harbourjoinery.com.au")
    else:
        assert op["operation"] == "noop"


def test_a_contact_changed_on_neither_side_plans_nothing_and_has_no_diff(scene: Scene) -> None:
    scene.synced(1, capsule_at=SYNCED_AT + timedelta(seconds=4))

    op = scene.plan()[1]

    assert (op["operation"], op["changed_fields"], op["reason"]) == ("noop", [], "in sync")
    assert scene.rows("select * from reconcile.contact_diffs") == []


def test_without_a_ledger_row_a_difference_is_settled_by_the_policy_like_a_conflict(scene: Scene) -> None:
    # A hand-made contact adopted by ABN: nothing this tool wrote, so no base to tell who changed what.
    scene.desire(1, "hand-made", updated_at=LATER, email_address="accounts@harbourjoinery.com.au")
    scene.xero(
        "hand-made",
        1,
        updated_at=EARLIER,
        contact_number=None,
        email_address="hello@harbourjoinery.com.au",
        website="https://www.harbourjoinery.com.au",
    )

    op = scene.plan()[1]

    assert op["operation"] == "update"
    assert op["changed_fields"] == ["contact_number", "email_address", "website"]
    assert {(s["field"], s["conflict"], s["winner"]) for s in scene.settlements()} == {
        ("email_address", "no_base", "capsule"),
        ("website", "no_base", "capsule"),
    }, "setting our ContactNumber is adoption, not a conflict"


@pytest.mark.parametrize(
    ("policy", "operation", "winner"),
    [
        ("newest_wins", "noop", "xero"),
        ("capsule_wins", "update", "capsule"),
        ("xero_wins", "noop", "xero"),
        ("manual", "review", "person"),
    ],
)
def test_each_conflict_policy_settles_a_change_made_in_xero(
    scene: Scene, policy: str, operation: str, winner: str
) -> None:
    contact = scene.synced(1)
    scene.set(
        "reconcile.current_contacts",
        "contact_id",
        contact,
        email_address="bookkeeper@harbourjoinery.com.au",
        xero_updated_at=LATER,
    )

    op = scene.plan(conflict_policy=policy)[1]

    assert op["operation"] == operation
    [settlement] = scene.settlements()
    assert (settlement["policy"], settlement["winner"]) == (policy, winner)
    if operation == "update":
        assert op["email_address"] == "accounts1@harbourjoinery.com.au"
    if operation == "review":
        assert "a person decides" in op["reason"]


def test_newest_wins_keeps_a_field_changed_only_in_xero_even_when_capsule_moved_later_for_another(
    scene: Scene,
) -> None:
    # Capsule moved later for another reason (a tag; and this tool's own ContactID write-back moves
    # it seconds after every write): no evidence Capsule changed the phone, so Xero's edit stands
    # while the tag still goes out.
    contact = scene.synced(1)
    scene.set(
        "reconcile.desired_contacts",
        "party_id",
        1,
        capsule_updated_at=LATER,
        contact_groups='["Customer","Owner: Mia Nguyen","VIP"]',
    )
    scene.set(
        "reconcile.current_contacts",
        "contact_id",
        contact,
        phone_default="+61298765432",
        xero_updated_at=EARLIER,
    )

    op = scene.plan()[1]

    assert op["changed_fields"] == ["contact_groups"]
    [settlement] = scene.settlements()
    assert (settlement["field"], settlement["winner"]) == ("phone_default", "xero")
    assert "only change" in settlement["reason"]


# --- ContactNumber and Xero-owned fields ---------------------------------------------------------


def test_an_adopted_contact_gets_our_contact_number_but_a_foreign_one_is_kept(scene: Scene) -> None:
    scene.desire(1, "hand-made")
    scene.xero("hand-made", 1, contact_number=None)
    scene.desire(2, "from-myob")
    scene.xero("from-myob", 2, contact_number="MYOB-00001")

    ops = scene.plan()

    assert (ops[1]["operation"], ops[1]["changed_fields"], ops[1]["contact_number"]) == (
        "update",
        ["contact_number"],
        "CAP-1",
    )
    assert (ops[2]["operation"], ops[2]["changed_fields"], ops[2]["contact_number"]) == (
        "noop",
        [],
        "MYOB-00001",
    )
    [diff] = scene.rows("select * from reconcile.contact_diffs where party_id = 2")
    assert diff["decision"] == "keep"
    assert "MYOB-00001" in diff["reason"] and "ContactID" in diff["reason"]
    assert scene.settlements() == []


def test_a_xero_owned_field_keeps_xeros_value_but_is_sent_on_creation(scene: Scene) -> None:
    contact = scene.synced(1)
    scene.set(
        "reconcile.desired_contacts",
        "party_id",
        1,
        capsule_updated_at=LATER,
        phone_default="+61299990000",
        email_address="new@harbourjoinery.com.au",
    )
    scene.desire(2)

    ops = scene.plan(xero_owned_fields=["phone_default"])

    assert ops[1]["contact_id"] == contact
    assert (ops[1]["operation"], ops[1]["changed_fields"]) == ("update", ["email_address"])
    assert "Xero owns this field" in ops[1]["reason"]
    assert ops[2]["operation"] == "create" and ops[2]["phone_default"] == "+61295504412"


# --- one test per operation ----------------------------------------------------------------------


def test_a_new_party_is_created_with_every_field_it_has(scene: Scene) -> None:
    scene.desire(7, website=None)

    op = scene.plan()[7]

    assert (op["operation"], op["contact_id"], op["contact_number"]) == ("create", None, "CAP-7")
    expected = organisation(7, website=None)
    assert op["changed_fields"] == [field for field in COMPARED_FIELDS if expected[field] is not None]
    assert {field: op[field] for field in COMPARED_FIELDS} == expected


def test_a_party_deleted_in_capsule_archives_its_active_contact_found_by_its_contact_number(
    scene: Scene,
) -> None:
    scene.xero("written-before", 3)
    scene.tombstone(3)

    op = scene.plan()[3]

    assert (op["operation"], op["contact_id"], op["expect_refusal"]) == ("archive", "written-before", False)
    assert "deleted in Capsule" in op["reason"]


def test_an_archive_of_a_contact_with_an_outstanding_balance_is_planned_and_names_the_balance(
    scene: Scene,
) -> None:
    scene.xero("owes-money", 3, balance="1250.40")
    scene.wrote("owes-money", 3)
    scene.tombstone(3)

    op = scene.plan()[3]

    # An outstanding balance does not block archiving (docs/api-facts.md#xero-archiving-and-restoring):
    # nothing predicts a refusal.
    assert (op["operation"], op["expect_refusal"], op["refusal_reason"]) == ("archive", False, None)
    assert "outstanding balance of 1250.40" in op["reason"]


def test_a_deleted_party_whose_contact_is_already_archived_or_never_existed_plans_nothing(
    scene: Scene,
) -> None:
    scene.xero("archived-already", 4, status="ARCHIVED")
    scene.tombstone(4, xero_contact_id="ARCHIVED-ALREADY".lower())
    scene.tombstone(5)

    ops = scene.plan()

    assert ops[4]["operation"] == "noop" and "already archived" in ops[4]["reason"]
    assert 5 not in ops, "a tombstone without a Xero contact has nothing to do"


def test_a_deleted_party_never_archives_a_contact_a_live_party_now_has(scene: Scene) -> None:
    contact = scene.synced(1)
    scene.tombstone(9, xero_contact_id=contact)  # merged into party 1 in Capsule

    ops = scene.plan()

    assert ops[9]["operation"] == "noop" and "live party 1" in ops[9]["reason"]
    assert ops[1]["operation"] == "noop"


def test_a_contact_this_tool_archived_is_restored_when_its_party_is_live_again(scene: Scene) -> None:
    scene.desire(6, "archived-by-us")
    scene.xero("archived-by-us", 6, status="ARCHIVED")
    scene.wrote("archived-by-us", 6, status="ARCHIVED")

    op = scene.plan()[6]

    assert (op["operation"], op["contact_id"], op["changed_fields"]) == ("restore", "archived-by-us", [])


def test_a_contact_a_bookkeeper_archived_is_held_unless_the_rules_restore_it(scene: Scene) -> None:
    scene.desire(6, "archived-by-bookkeeper", email_address="new@harbourjoinery.com.au", updated_at=LATER)
    scene.xero("archived-by-bookkeeper", 6, status="ARCHIVED")
    scene.wrote("archived-by-bookkeeper", 6)

    held = scene.plan()[6]
    restored = scene.plan(restore_archived_by_xero=True)[6]

    assert (held["operation"], held["changed_fields"]) == ("hold", [])
    assert "left alone" in held["reason"]
    assert (restored["operation"], restored["changed_fields"]) == ("restore", ["email_address"])


def test_a_match_waiting_for_review_plans_no_write_and_says_why(scene: Scene) -> None:
    scene.desire(8, outcome="review", review_reason="2 Xero contacts fit the abn rule")

    op = scene.plan()[8]

    assert op["operation"] == "review"
    assert "2 Xero contacts fit the abn rule" in op["reason"]
    assert scene.rows("select * from reconcile.contact_diffs") == []


def test_a_party_with_no_match_row_is_never_created_blindly(scene: Scene) -> None:
    scene.desire(24)
    scene.set("reconcile.desired_contacts", "party_id", 24, match_outcome=None)

    op = scene.plan()[24]

    assert op["operation"] == "review" and "never matched" in op["reason"]


def test_a_deleted_party_finds_the_contact_this_tool_wrote_for_it_through_the_ledger(scene: Scene) -> None:
    scene.xero("renumbered", 25, contact_number="MYOB-00025")
    scene.wrote("renumbered", 25)
    scene.tombstone(25)

    op = scene.plan()[25]

    assert (op["operation"], op["contact_id"]) == ("archive", "renumbered")
    assert "found by ledger" in op["reason"]


# --- preflight -----------------------------------------------------------------------------------


def test_a_new_contact_whose_name_an_active_contact_has_is_suffixed_with_its_contact_number(
    scene: Scene,
) -> None:
    scene.desire(10, name="Kumar & Stone Vets")
    scene.xero("other-practice", 99, name="KUMAR & STONE VETS", contact_number=None)
    scene.xero("archived-namesake", 98, name="Kumar & Stone Vets", status="ARCHIVED", contact_number=None)

    op = scene.plan()[10]

    assert (op["operation"], op["name"]) == ("create", "Kumar & Stone Vets (CAP-10)")
    [problem] = scene.problems()
    assert (problem["problem"], problem["settlement"]) == ("name_taken", "suffix")
    assert "other-practice" in problem["detail"], "only the active namesake blocks the name"


def test_a_suffixed_name_stays_within_255_characters(scene: Scene) -> None:
    long_name = "Trustee for the Harbour Joinery Family Trust " * 6
    scene.desire(11, name=long_name[:250])
    scene.xero("namesake", 99, name=long_name[:250], contact_number=None)

    op = scene.plan()[11]

    assert len(op["name"]) == 255 and op["name"].endswith(" (CAP-11)")


def test_a_suffixed_name_that_is_taken_as_well_goes_to_review(scene: Scene) -> None:
    scene.desire(26, name="Coastal Plumbing")
    scene.xero("namesake", 98, name="Coastal Plumbing", contact_number=None)
    scene.xero("suffixed-by-hand", 99, name="Coastal Plumbing (CAP-26)", contact_number=None)

    op = scene.plan()[26]

    assert op["operation"] == "review"
    assert {p["problem"] for p in scene.problems()} == {"name_taken", "suffixed_name_taken"}


def test_name_collision_link_turns_a_create_into_an_update_of_the_one_hand_made_namesake(
    scene: Scene,
) -> None:
    scene.desire(12, name="Bondi Surf Supplies", email_address="hello@bondisurf.com.au", updated_at=LATER)
    scene.xero("hand-made", 99, name="Bondi Surf Supplies", contact_number=None, email_address=None)

    op = scene.plan(name_collision="link")[12]

    assert (op["operation"], op["contact_id"]) == ("update", "hand-made")
    assert op["changed_fields"][:1] == ["contact_number"] and "email_address" in op["changed_fields"]
    assert [(p["problem"], p["settlement"]) for p in scene.problems()] == [("name_taken", "link")]


def test_name_collision_link_never_takes_a_contact_of_another_party(scene: Scene) -> None:
    scene.desire(13, name="Bondi Surf Supplies")
    scene.xero("ours-already", 99, name="Bondi Surf Supplies")  # carries CAP-99

    op = scene.plan(name_collision="link")[13]

    assert op["operation"] == "review"
    assert "ours-already" in op["reason"]


def test_name_collision_link_never_gives_one_contact_to_two_new_parties(scene: Scene) -> None:
    scene.desire(27, name="Bondi Surf Supplies")
    scene.desire(28, name="BONDI SURF SUPPLIES")
    scene.xero("hand-made", 99, name="Bondi Surf Supplies", contact_number=None)

    ops = scene.plan(name_collision="link")

    assert (ops[27]["operation"], ops[28]["operation"]) == ("review", "review")


def test_name_collision_review_sends_the_create_to_a_person(scene: Scene) -> None:
    scene.desire(14, name="Bondi Surf Supplies")
    scene.xero("hand-made", 99, name="Bondi Surf Supplies", contact_number=None)

    op = scene.plan(name_collision="review")[14]

    assert op["operation"] == "review" and "a person decides" in op["reason"]


def test_two_new_parties_with_one_name_do_not_both_take_it(scene: Scene) -> None:
    scene.desire(15, name="Coastal Plumbing")
    scene.desire(16, name="coastal plumbing")

    ops = scene.plan()

    assert (ops[15]["operation"], ops[15]["name"]) == ("create", "Coastal Plumbing")
    assert (ops[16]["operation"], ops[16]["name"]) == ("create", "coastal plumbing (CAP-16)")


def test_a_restore_needs_its_name_free_among_active_contacts(scene: Scene) -> None:
    scene.desire(17, "archived-by-us", name="Coastal Plumbing")
    scene.xero("archived-by-us", 17, status="ARCHIVED", name="Coastal Plumbing")
    scene.wrote("archived-by-us", 17, status="ARCHIVED", name="Coastal Plumbing")
    scene.xero("new-namesake", 99, name="Coastal Plumbing", contact_number=None)

    op = scene.plan(name_collision="review")[17]

    assert op["operation"] == "review" and "new-namesake" in op["reason"]


def test_a_contact_number_another_contact_has_even_archived_sends_the_party_to_review(scene: Scene) -> None:
    scene.desire(18)
    scene.xero("old-account", 99, status="ARCHIVED", contact_number="cap-18", name="Somebody Else")

    op = scene.plan()[18]

    assert op["operation"] == "review"
    [problem] = scene.problems()
    assert (problem["problem"], problem["value"]) == ("contact_number_taken", "CAP-18")
    assert "old-account" in problem["detail"]


def test_an_over_long_name_goes_to_review_but_an_over_long_email_is_just_not_sent(scene: Scene) -> None:
    scene.desire(19, name="N" * 256)
    contact = scene.synced(20)
    scene.set(
        "reconcile.desired_contacts",
        "party_id",
        20,
        capsule_updated_at=LATER,
        email_address="a" * 250 + "@x.com.au",
        phone_default="+61299990000",
    )

    ops = scene.plan()

    assert ops[19]["operation"] == "review" and "256 characters" in ops[19]["reason"]
    assert (ops[20]["operation"], ops[20]["contact_id"]) == ("update", contact)
    assert ops[20]["changed_fields"] == ["phone_default"] and ops[20]["email_address"] is None
    assert {(p["party_id"], p["field"], p["settlement"]) for p in scene.problems()} == {
        (19, "name", "review"),
        (20, "email_address", "not_sent"),
    }


def test_an_address_with_an_over_long_line_is_not_sent_and_the_rest_still_is(scene: Scene) -> None:
    address = (
        '{"lines":["'
        + "x" * 501
        + '"],"city":"Balmain","region":"NSW","postal_code":"2041","country":"Australia"}'
    )
    scene.desire(21, street_address=address)

    op = scene.plan()[21]

    assert op["operation"] == "create" and op["street_address"] is None
    assert "street_address" not in op["changed_fields"] and "name" in op["changed_fields"]
    assert [(p["field"], p["problem"]) for p in scene.problems()] == [("street_address", "too_long")]


def test_an_update_left_with_nothing_sendable_becomes_a_noop(scene: Scene) -> None:
    scene.synced(22)
    scene.set("reconcile.desired_contacts", "party_id", 22, capsule_updated_at=LATER, tax_number="9" * 51)

    op = scene.plan()[22]

    assert (op["operation"], op["changed_fields"]) == ("noop", [])
    assert "not sent" in op["reason"]


def test_an_organisation_with_more_than_five_people_gets_a_note(scene: Scene) -> None:
    scene.desire(23, people_total=8)

    op = scene.plan()[23]

    assert op["operation"] == "create"
    [note] = scene.problems()
    assert (note["problem"], note["settlement"], note["value"]) == ("more_than_five_people", "note", "8")


def test_a_name_xero_refuses_for_its_characters_or_spaces_goes_to_review_with_the_rule_named(
    scene: Scene,
) -> None:
    scene.desire(24, name="Acme <Wholesale> Pty Ltd")
    contact = scene.synced(25)
    scene.set("reconcile.desired_contacts", "party_id", 25, capsule_updated_at=LATER, name="Acme > Co")
    scene.desire(26, name="Acme  Pty Ltd ")  # a rules-file transform can leave spaces Xero refuses

    ops = scene.plan()

    assert {party: ops[party]["operation"] for party in (24, 25, 26)} == {
        24: "review",
        25: "review",
        26: "review",
    }
    assert ops[25]["contact_id"] == contact
    problems = {(p["party_id"], p["problem"], p["settlement"]) for p in scene.problems()}
    assert problems == {
        (24, "name_characters", "review"),
        (25, "name_characters", "review"),
        (26, "name_spaces", "review"),
    }
    assert "< or >" in ops[24]["reason"] and "spaces" in ops[26]["reason"]


def test_an_update_that_would_empty_the_name_goes_to_review(scene: Scene) -> None:
    scene.synced(27)
    scene.set("reconcile.desired_contacts", "party_id", 27, capsule_updated_at=LATER, name=None)

    op = scene.plan()[27]

    assert op["operation"] == "review" and "Name is empty" in op["reason"]


def test_an_email_xero_refuses_or_a_country_that_is_not_letters_is_not_sent_and_the_rest_is(
    scene: Scene,
) -> None:
    foreign = '{"lines":["1 Main St"],"city":"Austin","region":"TX","postal_code":"78701","country":"U.S.A."}'
    people = '[{"first_name":"Zoë","last_name":"Brandt","email_address":"zoë@brandt.de"}]'
    scene.desire(28, email_address="accounts@brandt", street_address=foreign, contact_persons=people)

    op = scene.plan()[28]

    assert op["operation"] == "create" and "name" in op["changed_fields"]
    assert not {"email_address", "street_address", "contact_persons"} & set(op["changed_fields"])
    assert op["email_address"] is None and op["street_address"] is None and op["contact_persons"] is None
    assert {(p["field"], p["problem"], p["settlement"]) for p in scene.problems()} == {
        ("email_address", "email_invalid", "not_sent"),
        ("street_address", "country_not_letters", "not_sent"),
        ("contact_persons", "email_invalid", "not_sent"),
    }


def test_a_control_character_never_reaches_xero(scene: Scene) -> None:
    address = '{"lines":["12 Dock Rd\\u0000"],"city":"Balmain","region":"NSW","postal_code":"2041","country":"Australia"}'
    scene.desire(29, name="Acme\x1b[31m Pty Ltd", street_address=address)
    scene.desire(30, street_address=address)

    ops = scene.plan()

    assert ops[29]["operation"] == "review"
    assert ops[30]["operation"] == "create" and "street_address" not in ops[30]["changed_fields"]
    assert {(p["party_id"], p["field"], p["problem"], p["settlement"]) for p in scene.problems()} == {
        (29, "name", "control_characters", "review"),
        (29, "street_address", "control_characters", "not_sent"),
        (30, "street_address", "control_characters", "not_sent"),
    }


# --- invariants ----------------------------------------------------------------------------------


def build_every_case(scene: Scene) -> None:
    """One party or tombstone per branch above, in one world."""
    scene.synced(1)
    contact = scene.synced(2)
    scene.set(
        "reconcile.desired_contacts", "party_id", 2, email_address="new@x.com.au", capsule_updated_at=LATER
    )
    contact = scene.synced(3)
    scene.set(
        "reconcile.current_contacts",
        "contact_id",
        contact,
        phone_default="+61298765432",
        xero_updated_at=LATER,
    )
    contact = scene.synced(4)
    scene.set(
        "reconcile.desired_contacts", "party_id", 4, email_address="c@x.com.au", capsule_updated_at=EARLIER
    )
    scene.set(
        "reconcile.current_contacts", "contact_id", contact, email_address="x@x.com.au", xero_updated_at=LATER
    )
    scene.desire(5, "hand-made", updated_at=LATER, website="https://www.x.com.au")
    scene.xero("hand-made", 5, contact_number=None)
    scene.desire(6, "from-myob", tax_number="83914571673")
    scene.xero("from-myob", 6, contact_number="MYOB-00001")
    scene.desire(7)
    scene.desire(8, name="Kumar & Stone Vets")
    scene.xero("namesake", 98, name="Kumar & Stone Vets", contact_number=None)
    scene.desire(9, name="Coastal Plumbing")
    scene.desire(10, name="COASTAL PLUMBING")
    scene.desire(11, outcome="review", review_reason="2 Xero contacts fit the abn rule")
    scene.desire(12, "archived-by-us")
    scene.xero("archived-by-us", 12, status="ARCHIVED")
    scene.wrote("archived-by-us", 12, status="ARCHIVED")
    scene.desire(13, "archived-by-bookkeeper")
    scene.xero("archived-by-bookkeeper", 13, status="ARCHIVED")
    scene.desire(14, people_total=9, email_address="a" * 256)
    scene.desire(15, name="N" * 300)
    scene.xero("to-archive", 16)
    scene.tombstone(16)
    scene.xero("owes-money", 17, balance="99.95")
    scene.tombstone(17)
    scene.xero("archived-already", 18, status="ARCHIVED")
    scene.tombstone(18)
    scene.tombstone(19)


def test_every_desired_row_and_every_tombstone_with_a_contact_ends_in_exactly_one_operation(
    scene: Scene,
) -> None:
    build_every_case(scene)

    scene.plan()

    [(operations, parties, desired, tombstones)] = scene.con.execute(
        """
        select
            (select count(*) from reconcile.contact_operations),
            (select count(distinct party_id) from reconcile.contact_operations),
            (select count(*) from reconcile.desired_contacts),
            (select count(*) from staging.capsule_parties
             where is_deleted and party_id in (16, 17, 18))
        """
    ).fetchall()
    assert operations == parties == desired + tombstones
    assert scene.counts["contact_operations"] == operations


@pytest.mark.parametrize("policy", ["newest_wins", "capsule_wins", "xero_wins", "manual"])
@pytest.mark.parametrize("name_collision", ["suffix", "link", "review"])
def test_after_a_successful_write_a_rerun_plans_no_write(
    scene: Scene, policy: str, name_collision: str
) -> None:
    build_every_case(scene)
    rules = {"conflict_policy": policy, "name_collision": name_collision}
    first = scene.plan(**rules)
    assert {op["operation"] for op in first.values()} & PLANNED_WRITES, "the first plan has work to do"

    simulate_write(scene)
    second = scene.plan(**rules)

    writes = {
        party: (op["operation"], op["changed_fields"], op["reason"])
        for party, op in second.items()
        if op["operation"] in PLANNED_WRITES
    }
    assert writes == {}
    assert second.keys() == first.keys()


def test_a_name_this_tool_suffixed_is_not_taken_back_on_the_next_run(scene: Scene) -> None:
    scene.desire(8, name="Kumar & Stone Vets")
    scene.xero("namesake", 98, name="Kumar & Stone Vets", contact_number=None)
    scene.plan()
    simulate_write(scene)

    op = scene.plan()[8]

    assert op["operation"] == "noop"
    assert scene.rows("select * from reconcile.contact_diffs") == []


def test_unknown_policies_are_refused_before_anything_is_built(scene: Scene) -> None:
    with pytest.raises(ValueError, match="conflict_policy"):
        scene.plan(conflict_policy="latest")
    with pytest.raises(ValueError, match="xero_owned_fields"):
        scene.plan(xero_owned_fields=["Phone"])


def test_the_ledger_is_created_once_and_keeps_its_rows(scene: Scene) -> None:
    scene.wrote("kept", 1)

    ensure_ledger(scene.con)

    assert [row["contact_id"] for row in scene.rows("select * from ledger.written_contacts")] == ["kept"]


def test_adopting_a_contact_fills_a_field_xero_left_empty_even_when_xero_is_newer(scene: Scene) -> None:
    contact_id = "00000000-0000-0000-0000-000000000009"
    scene.desire(9, contact_id, updated_at=EARLIER)
    scene.xero(contact_id, 9, updated_at=LATER, email_address=None)
    op = scene.plan()[9]
    assert "email_address" in op["changed_fields"]
    (settlement,) = [s for s in scene.settlements() if s["field"] == "email_address"]
    assert settlement["winner"] == "capsule" and "empty" in settlement["reason"]
