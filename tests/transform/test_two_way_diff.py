"""Two-way contacts (sync.direction: both): the diff's `pull`, the Capsule operations it plans, the values
it quarantines instead, and the archive tag, on small hand-built tables (as tests/transform/test_diff.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import duckdb
import pytest

from capsule_xero.rules.loading import parse_rules
from reverse_etl.ledger.schema import ensure_ledger
from tests.transform.test_diff import EARLIER, INPUT_TABLES, LATER, SYNCED_AT, Scene, organisation
from transform.sql import build

RAW_CAPSULE = """
create schema if not exists raw;
create table raw.capsule_parties (
    id bigint, _dlt_id varchar, type varchar, name varchar, first_name varchar, last_name varchar,
    organisation__id bigint, owner__id bigint, owner__name varchar, created_at timestamptz, updated_at timestamptz
);
create table raw.capsule_parties__email_addresses (
    _dlt_parent_id varchar, _dlt_list_idx bigint, id bigint, type varchar, address varchar
);
create table raw.capsule_parties__phone_numbers (
    _dlt_parent_id varchar, _dlt_list_idx bigint, id bigint, type varchar, number varchar
);
create table raw.capsule_parties__websites (
    _dlt_parent_id varchar, _dlt_list_idx bigint, id bigint, type varchar, service varchar, address varchar,
    url varchar
);
create table raw.capsule_parties__addresses (
    _dlt_parent_id varchar, _dlt_list_idx bigint, id bigint, type varchar, street varchar, city varchar,
    state varchar, country varchar, zip varchar
);
create table raw.capsule_parties__tags (_dlt_parent_id varchar, _dlt_list_idx bigint, id bigint, name varchar);
create table raw.capsule_parties__fields (
    _dlt_parent_id varchar, _dlt_list_idx bigint, id bigint, definition__name varchar, value varchar
);
create table raw.capsule_deleted_parties (id bigint, deleted_at timestamptz);
create table raw.capsule_users (id bigint, name varchar, party__id bigint);
"""

BAD_ABN = "51824753557"  # 51 824 753 556 with its last digit changed: the checksum fails


def two_way(ownership: str = "{}", policy: str = "newest_wins", direction: str = "both") -> dict[str, Any]:
    """The model parameters of a rules file with this direction, ownership and conflict policy."""
    rules = parse_rules(
        f"sync: {{direction: {direction}}}\nownership: {ownership}\nconflicts: {{policy: {policy}}}"
    )
    return rules.sql_params()


class TwoWayScene(Scene):
    """test_diff's scene, plus Capsule's raw rows (for row ids and tags) and the Capsule operations."""

    def party_rows(self, party_id: int, table: str, *rows: tuple[Any, ...]) -> None:
        """Rows of one raw child table of the party (``__phone_numbers`` ...), in list order."""
        if not self.rows("select 1 from raw.capsule_parties where id = $id", id=party_id):
            self.con.execute(
                "insert into raw.capsule_parties (id, _dlt_id, type) values ($id, $dlt, 'organisation')",
                {"id": party_id, "dlt": f"p{party_id}"},
            )
        relation = self.con.table(f"raw.capsule_parties__{table}")
        for idx, row in enumerate(rows):
            relation.insert([f"p{party_id}", idx, *row])

    def plan(self, **params: object) -> dict[int, dict[str, Any]]:
        operations = super().plan(**params)
        build(self.con, "reconcile", "pull_quarantine", params)
        build(self.con, "reconcile", "capsule_updates", params)
        return operations

    def decisions(self, party_id: int) -> dict[str, str]:
        rows = self.rows(
            "select field, decision from reconcile.contact_diffs where party_id = $p", p=party_id
        )
        return {row["field"]: row["decision"] for row in rows}

    def capsule_operations(self) -> list[dict[str, Any]]:
        rows = self.rows("select * from reconcile.capsule_updates order by party_id, operation")
        for row in rows:
            for column in ("before", "after", "row_ids", "base"):
                row[column] = json.loads(row[column]) if row[column] is not None else None
        return rows


@pytest.fixture(scope="module")
def connection() -> Iterator[duckdb.DuckDBPyConnection]:
    con = duckdb.connect()
    yield con
    con.close()


@pytest.fixture
def scene(connection: duckdb.DuckDBPyConnection) -> TwoWayScene:
    for schema in ("raw", "staging", "reconcile", "ledger"):
        connection.execute(f"drop schema if exists {schema} cascade")
    connection.execute(INPUT_TABLES)
    connection.execute(RAW_CAPSULE)
    ensure_ledger(connection)
    return TwoWayScene(connection)


# --- each ownership mode ---------------------------------------------------------------------------


def test_a_field_capsule_owns_flows_to_xero_and_is_never_pulled_even_when_xero_changed_it(
    scene: TwoWayScene,
) -> None:
    _edited_in_capsule, edited_in_xero = scene.synced(1), scene.synced(2)
    scene.set("reconcile.desired_contacts", "party_id", 1, email_address="new@harbourjoinery.com.au")
    scene.set(
        "reconcile.current_contacts", "contact_id", edited_in_xero, email_address="x@harbourjoinery.com.au"
    )
    operations = scene.plan(**two_way())
    assert scene.decisions(1) == {"email_address": "write"}
    assert operations[1]["changed_fields"] == ["email_address"]
    # newest_wins keeps Xero's edit in Xero, as one-way does; Capsule is not written.
    assert scene.decisions(2) == {"email_address": "keep"}
    assert scene.capsule_operations() == []


def test_a_field_xero_owns_is_pulled_when_xero_changed_it_and_left_alone_when_only_capsule_did(
    scene: TwoWayScene,
) -> None:
    edited_in_xero, _edited_in_capsule = scene.synced(1), scene.synced(2)
    scene.set("reconcile.current_contacts", "contact_id", edited_in_xero, phone_default="+61298765432")
    scene.set("reconcile.desired_contacts", "party_id", 2, phone_default="+61298765432")
    operations = scene.plan(**two_way("{phones: xero}"))
    assert scene.decisions(1) == {"phone_default": "pull"}
    assert scene.decisions(2) == {"phone_default": "keep"}
    # A pulled field is neither sent to Xero nor "kept": it goes to Capsule.
    assert operations[1]["operation"] == "noop"
    assert operations[1]["changed_fields"] == [] and operations[1]["kept_fields"] == []
    assert "goes to Capsule: phone_default" in operations[1]["reason"]
    assert [(op["party_id"], op["operation"], op["after"]) for op in scene.capsule_operations()] == [
        (1, "update", {"phone_default": "+61298765432"})
    ]


def test_a_field_xero_owns_with_no_ledger_row_is_pulled_only_when_xero_has_a_value(
    scene: TwoWayScene,
) -> None:
    for party_id in (1, 2):
        contact_id = f"c-{party_id}"
        scene.desire(party_id, contact_id, phone_default="+61295504412")
        scene.xero(contact_id, party_id, phone_default="+61290001111" if party_id == 1 else None)
    scene.plan(**two_way("{phones: xero}"))
    assert scene.decisions(1) == {"phone_default": "pull"}
    assert scene.decisions(2) == {"phone_default": "keep"}  # an empty Xero field is no edit to copy


def test_a_field_both_own_flows_from_the_side_that_changed_it_without_a_settlement(
    scene: TwoWayScene,
) -> None:
    _edited_in_capsule, edited_in_xero = scene.synced(1), scene.synced(2)
    scene.set("reconcile.desired_contacts", "party_id", 1, email_address="new@harbourjoinery.com.au")
    # Capsule moved later for another reason: the field still changed only in Xero, so Xero's edit flows.
    scene.set("reconcile.desired_contacts", "party_id", 2, capsule_updated_at=LATER)
    scene.set(
        "reconcile.current_contacts", "contact_id", edited_in_xero, email_address="x@harbourjoinery.com.au"
    )
    operations = scene.plan(**two_way("{email_address: both}"))
    assert scene.decisions(1) == {"email_address": "write"}
    assert operations[1]["changed_fields"] == ["email_address"]
    assert scene.decisions(2) == {"email_address": "pull"}
    assert scene.settlements() == []
    (pull,) = scene.capsule_operations()
    assert pull["before"] == {"email_address": "accounts2@harbourjoinery.com.au"}
    assert pull["after"] == {"email_address": "x@harbourjoinery.com.au"}


@pytest.mark.parametrize(
    ("policy", "capsule_at", "xero_at", "decision", "operation"),
    [
        ("newest_wins", LATER, EARLIER, "write", "update"),
        ("newest_wins", EARLIER, LATER, "pull", "noop"),
        ("capsule_wins", EARLIER, LATER, "write", "update"),
        ("xero_wins", LATER, EARLIER, "pull", "noop"),
        ("manual", LATER, EARLIER, "review", "review"),
    ],
)
def test_a_field_both_own_changed_on_both_sides_is_settled_by_the_conflict_policy(
    scene: TwoWayScene, policy: str, capsule_at: Any, xero_at: Any, decision: str, operation: str
) -> None:
    contact = scene.synced(1)
    scene.set(
        "reconcile.desired_contacts", "party_id", 1, email_address="crm@harbourjoinery.com.au",
        capsule_updated_at=capsule_at,
    )  # fmt: skip
    scene.set(
        "reconcile.current_contacts", "contact_id", contact, email_address="books@harbourjoinery.com.au",
        xero_updated_at=xero_at,
    )  # fmt: skip
    operations = scene.plan(**two_way("{email_address: both}", policy))
    assert scene.decisions(1) == {"email_address": decision}
    assert operations[1]["operation"] == operation
    (settlement,) = scene.settlements()
    assert (settlement["conflict"], settlement["policy"], settlement["decision"]) == (
        "both_changed",
        policy,
        decision,
    )
    pulled = [op["after"] for op in scene.capsule_operations()]
    assert pulled == ([{"email_address": "books@harbourjoinery.com.au"}] if decision == "pull" else [])


def test_a_field_both_own_that_xero_has_empty_on_an_adopted_contact_is_filled_from_capsule(
    scene: TwoWayScene,
) -> None:
    scene.desire(1, "c-1", updated_at=EARLIER)
    scene.xero("c-1", 1, updated_at=LATER, email_address=None)
    operations = scene.plan(**two_way("{email_address: both}", "xero_wins"))
    assert scene.decisions(1) == {"email_address": "write"}
    assert operations[1]["changed_fields"] == ["email_address"]


def test_a_person_pulls_its_first_and_last_names_and_an_organisation_only_its_name(
    scene: TwoWayScene,
) -> None:
    scene.desire(1, "c-1", party_type="person", name="Mia Nguyen", first_name="Mia", last_name="Nguyen")
    scene.xero("c-1", 1, name="Mia Tran (Accounts)", first_name="Mia", last_name="Tran")
    scene.wrote("c-1", 1, name="Mia Nguyen", first_name="Mia", last_name="Nguyen")
    organisation_id = scene.synced(2)
    scene.set(
        "reconcile.current_contacts",
        "contact_id",
        organisation_id,
        name="Harbour Joinery Group",
        first_name="Ann",
    )
    scene.plan(**two_way("{name: xero, first_name: xero, last_name: xero}"))
    # The person's Xero Name is derived from its names; the organisation's FirstName is Xero's own.
    assert scene.decisions(1) == {"name": "keep", "last_name": "pull"}
    assert scene.decisions(2) == {"name": "pull", "first_name": "keep"}


# --- the Capsule operations ------------------------------------------------------------------------


def test_pulled_values_carry_capsules_value_xeros_value_and_the_rows_they_were_read_from(
    scene: TwoWayScene,
) -> None:
    contact = scene.synced(1, capsule_at=EARLIER)
    street = '{"lines":["Level 2","40 Pier St"],"city":"Pyrmont","region":"NSW","postal_code":"2009","country":"Australia"}'
    scene.set(
        "reconcile.current_contacts", "contact_id", contact, email_address="books@harbourjoinery.com.au",
        phone_mobile="+61412345678", street_address=street, xero_updated_at=LATER,
    )  # fmt: skip
    # The rows staging read: the first plausible e-mail, the +614 number filed under Work as the mobile,
    # the first Office address (a blank one is skipped).
    scene.party_rows(
        1, "email_addresses", (71, "Work", "not an address"), (72, "Work", "accounts1@harbourjoinery.com.au")
    )
    scene.party_rows(1, "phone_numbers", (81, "Work", "02 9550 4412"), (82, "Work", "0412 000 111"))
    scene.party_rows(
        1, "addresses", (91, "Office", " ", None, None, None, None), (92, "Office", "12 Dock Rd", "Balmain", "NSW", "Australia", "2041")
    )  # fmt: skip
    scene.plan(**two_way("{email_address: xero, phones: xero, addresses: xero}"))
    (update,) = scene.capsule_operations()
    assert update["operation"] == "update" and update["party_type"] == "organisation"
    assert update["changed_fields"] == ["email_address", "phone_mobile", "street_address"]
    assert update["before"] == {
        "email_address": "accounts1@harbourjoinery.com.au",
        "phone_mobile": None,
        "street_address": organisation(1)["street_address"],
    }
    assert update["after"] == {
        "email_address": "books@harbourjoinery.com.au",
        "phone_mobile": "+61412345678",
        "street_address": street,
    }
    assert update["row_ids"] == {"email_address": 72, "phone_mobile": 82, "street_address": 92}
    assert update["base"] is None  # the ledger has the contact: the writer updates its pulled fields
    assert update["reason"].startswith("copies from Xero email_address: Xero owns this field")


def test_a_pull_on_a_contact_this_tool_never_wrote_carries_the_ledger_row_to_start_from(
    scene: TwoWayScene,
) -> None:
    scene.desire(1, "c-1", updated_at=LATER, name="Harbour Joinery", phone_fax="+61295500000")
    scene.xero("c-1", 1, updated_at=EARLIER, phone_default="+61290001111", contact_number=None)
    scene.plan(**two_way("{phone_default: xero}"))
    assert scene.decisions(1) == {
        "contact_number": "write", "name": "write", "phone_default": "pull", "phone_fax": "write"
    }  # fmt: skip
    scene.set("reconcile.desired_contacts", "party_id", 1, capsule_updated_at=EARLIER)
    scene.set("reconcile.current_contacts", "contact_id", "c-1", xero_updated_at=LATER)
    scene.plan(**two_way("{phone_default: xero}"))
    assert scene.decisions(1) == {
        "contact_number": "write", "name": "keep", "phone_default": "pull", "phone_fax": "write"
    }  # fmt: skip
    (update,) = scene.capsule_operations()
    xero = organisation(1, phone_default="+61290001111", contact_number=None)
    # Pulled and written fields hold Xero's value (the writes update Xero to it), a kept one Capsule's.
    assert update["base"] == xero | {"name": "Harbour Joinery"}


def test_a_contact_waiting_for_a_person_with_no_ledger_row_pulls_nothing_until_settled(
    scene: TwoWayScene,
) -> None:
    scene.desire(1, "c-1", name="Harbour Joinery")
    scene.xero("c-1", 1, phone_default="+61290001111")
    operations = scene.plan(**two_way("{phone_default: xero}", "manual"))
    assert scene.decisions(1) == {"name": "review", "phone_default": "pull"}
    assert operations[1]["operation"] == "review"
    assert scene.capsule_operations() == []


def test_an_invalid_abn_typed_into_xero_is_quarantined_with_its_rule_and_never_pulled(
    scene: TwoWayScene,
) -> None:
    contact = scene.synced(1)
    scene.set("reconcile.current_contacts", "contact_id", contact, tax_number=BAD_ABN)
    operations = scene.plan(**two_way("{tax_number: xero}"))
    assert scene.decisions(1) == {"tax_number": "keep"}
    assert operations[1]["operation"] == "noop"
    assert scene.capsule_operations() == []
    (quarantined,) = scene.rows("select * from reconcile.pull_quarantine")
    assert quarantined["source"] == "xero" and quarantined["record_id"] == contact
    assert (quarantined["party_id"], quarantined["field"], quarantined["value"]) == (1, "tax_number", BAD_ABN)
    assert quarantined["rule"] == "abn_checksum"
    assert "not a valid ABN" in quarantined["detail"]


def test_a_valid_abn_changed_in_xero_is_pulled(scene: TwoWayScene) -> None:
    contact = scene.synced(1)
    scene.set("reconcile.current_contacts", "contact_id", contact, tax_number="53004085616")
    scene.plan(**two_way("{tax_number: xero}"))
    (update,) = scene.capsule_operations()
    assert update["after"] == {"tax_number": "53004085616"} and update["row_ids"] == {"tax_number": None}
    assert scene.rows("select * from reconcile.pull_quarantine") == []


def test_a_phone_capsule_would_read_back_as_the_other_kind_is_quarantined_not_pulled(
    scene: TwoWayScene,
) -> None:
    mobile_in_default, landline_in_mobile, foreign_mobile = scene.synced(1), scene.synced(2), scene.synced(3)
    scene.set("reconcile.current_contacts", "contact_id", mobile_in_default, phone_default="+61412345678")
    scene.set("reconcile.current_contacts", "contact_id", landline_in_mobile, phone_mobile="+61390001111")
    scene.set("reconcile.current_contacts", "contact_id", foreign_mobile, phone_mobile="+447911123456")
    scene.plan(**two_way("{phones: xero}"))
    assert scene.decisions(1) == {"phone_default": "keep"}
    assert scene.decisions(2) == {"phone_mobile": "keep"}
    assert scene.decisions(3) == {"phone_mobile": "pull"}  # a foreign number typed Mobile reads back so
    quarantined = scene.rows("select party_id, field, rule from reconcile.pull_quarantine order by party_id")
    assert quarantined == [
        {"party_id": 1, "field": "phone_default", "rule": "phone_kind"},
        {"party_id": 2, "field": "phone_mobile", "rule": "phone_kind"},
    ]


def test_a_party_whose_contact_someone_archived_is_tagged_and_untagged_once_it_is_active_again(
    scene: TwoWayScene,
) -> None:
    archived, archived_tagged, _restored, _active = (scene.synced(p) for p in (1, 2, 3, 4))
    for contact in (archived, archived_tagged):
        scene.set("reconcile.current_contacts", "contact_id", contact, contact_status="ARCHIVED")
    scene.party_rows(1, "tags", (501, "Customer"))
    scene.party_rows(2, "tags", (502, "archived in xero"))
    scene.party_rows(3, "tags", (503, "Customer"), (504, "Archived in Xero"))
    scene.party_rows(4, "tags", (505, "Customer"))
    operations = scene.plan(**two_way())
    assert operations[1]["operation"] == operations[2]["operation"] == "hold"
    tags = [
        (op["party_id"], op["operation"], op["changed_fields"], op["tag_name"], op["tag_id"])
        for op in scene.capsule_operations()
    ]
    assert tags == [
        (1, "tag", ["tags"], "Archived in Xero", None),
        (3, "untag", ["tags"], "Archived in Xero", 504),
    ]


# --- today's direction ----------------------------------------------------------------------------


def test_direction_capsule_to_xero_plans_what_it_did_before_two_way_whatever_the_ownership(
    scene: TwoWayScene,
) -> None:
    for party_id in (1, 2, 3):
        contact = scene.synced(party_id, capsule_at=EARLIER, xero_at=LATER)
        scene.set("reconcile.current_contacts", "contact_id", contact, phone_default="+61290001111",
                  email_address="x@harbourjoinery.com.au", contact_status="ARCHIVED" if party_id == 3 else "ACTIVE")  # fmt: skip
    scene.set(
        "reconcile.desired_contacts", "party_id", 2, email_address="crm@harbourjoinery.com.au",
        capsule_updated_at=LATER + timedelta(days=1),
    )  # fmt: skip
    scene.party_rows(1, "tags", (1, "Archived in Xero"))

    def plan(params: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        operations = sorted(scene.plan(**params).values(), key=lambda op: op["party_id"])
        diffs = scene.rows("select * from reconcile.contact_diffs order by party_id, field")
        return operations, diffs

    one_way_both = two_way("{email_address: both, phones: xero}", direction="capsule_to_xero")
    assert one_way_both["pulled_fields"] == [] and one_way_both["two_way"] is False
    today = two_way("{email_address: capsule, phones: xero}", direction="capsule_to_xero")
    assert plan(one_way_both) == plan(today)
    assert {d["decision"] for d in plan(today)[1]} == {"write", "keep"}
    assert scene.capsule_operations() == []
    assert scene.rows("select * from reconcile.pull_quarantine") == []


# --- staging: this tool's own Capsule writes are no edit -----------------------------------------


def test_staging_reads_this_tools_own_capsule_write_as_no_change_but_a_later_edit_as_one(
    scene: TwoWayScene,
) -> None:
    con = scene.con
    before, written = SYNCED_AT, SYNCED_AT + timedelta(hours=1)
    for party_id, updated_at in (
        (1, written),
        (2, written + timedelta(minutes=5)),
        (3, written),
        (4, written),
    ):
        con.execute(
            "insert into raw.capsule_parties (id, _dlt_id, type, name, updated_at)"
            " values ($id, $dlt, 'organisation', 'Harbour Joinery', $at)",
            {"id": party_id, "dlt": f"p{party_id}", "at": updated_at},
        )
    for party_id in (1, 2, 4):
        con.execute(
            'insert into ledger.capsule_writes (party_id, contact_id, operation, fields, "at",'
            " capsule_updated_before, capsule_updated_after) values ($p, 'c', 'update', '{}', $at, $b, $a)",
            {"p": party_id, "at": written, "b": before, "a": written},
        )
    # Party 4: this tool's ContactID write-back came before the pull, and was no edit either.
    con.execute(
        "insert into ledger.capsule_write_backs values (4, 'c-4', 1, 'written', null, $at, $b, $a)",
        {"at": before, "b": before - timedelta(days=1), "a": before},
    )
    con.execute("insert into raw.capsule_parties__fields values ('p4', 0, 1, 'Xero Contact ID', 'c-4')")
    build(con, "staging", "capsule_parties", two_way())
    rows = con.execute("select party_id, changed_at from staging.capsule_parties order by 1").fetchall()
    assert {party_id: changed_at.timestamp() for party_id, changed_at in rows} == {
        1: before.timestamp(),  # only this tool's write since
        2: (written + timedelta(minutes=5)).timestamp(),  # somebody edited the party after it
        3: written.timestamp(),  # no write of this tool at all
        4: (before - timedelta(days=1)).timestamp(),  # a write-back, then a pull: both peeled off
    }


# --- round trips: what is pulled reads back from Capsule as itself (no echo) ----------------------


def test_xeros_values_written_to_capsule_as_the_writer_maps_them_read_back_as_the_same_values(
    scene: TwoWayScene,
) -> None:
    """Each value as docs/mapping.md writes it to Capsule (phones typed Work / Mobile / Fax, addresses'
    lines joined by newlines with region as state), staged again, is the value that was pulled."""
    con = scene.con
    pulled = {
        "name": "Harbour Joinery Pty Ltd",
        "email_address": "books@harbourjoinery.com.au",
        "tax_number": "51824753556",
        "website": "https://harbourjoinery.com.au",
        "phone_default": "+61295504412",
        "phone_mobile": "+447911123456",
        "phone_fax": "+61295500000",
        "street_address": '{"lines":["Level 2","40 Pier St","Dock 3","Gate B, Rear"],"city":"Pyrmont",'
        '"region":"NSW","postal_code":"2009","country":"Australia"}',
        "postal_address": '{"lines":["PO Box 7"],"city":"Auckland","region":"Auckland","postal_code":"1010",'
        '"country":"New Zealand"}',
    }
    con.execute(
        "insert into raw.capsule_parties (id, _dlt_id, type, name, updated_at) values (1, 'p1', 'organisation', $n, now())",
        {"n": pulled["name"]},
    )
    scene.party_rows(1, "email_addresses", (1, "Work", pulled["email_address"]))
    scene.party_rows(1, "fields", (2, "ABN", pulled["tax_number"]))
    # Capsule makes the clickable url itself from the address it is given.
    scene.party_rows(1, "websites", (3, None, "URL", pulled["website"], pulled["website"]))
    scene.party_rows(
        1, "phone_numbers",
        (4, "Work", pulled["phone_default"]), (5, "Mobile", pulled["phone_mobile"]), (6, "Fax", pulled["phone_fax"]),
    )  # fmt: skip
    rows = []
    for row_id, kind, field in ((7, "Office", "street_address"), (8, "Postal", "postal_address")):
        address = json.loads(pulled[field])
        rows.append(
            (row_id, kind, "\n".join(address["lines"]), address["city"], address["region"], address["country"],
             address["postal_code"])
        )  # fmt: skip
    scene.party_rows(1, "addresses", *rows)
    build(con, "staging", "capsule_parties", two_way())
    (staged,) = scene.rows(
        """
        select
            display_name as name, email as email_address, abn as tax_number, website, phone_default,
            phone_mobile, phone_fax,
            cx_address_json(street_lines, street_city, street_region, street_postal_code, street_country)
                as street_address,
            cx_address_json(postal_lines, postal_city, postal_region, postal_postal_code, postal_country)
                as postal_address
        from staging.capsule_parties
        """
    )
    assert staged | {f: json.loads(staged[f]) for f in ("street_address", "postal_address")} == pulled | {
        f: json.loads(pulled[f]) for f in ("street_address", "postal_address")
    }
