"""Contacts merged in Xero: a party whose contact was merged away follows Xero's pointer to the survivor.

Xero's merge (a person's action in its screens) archives the merged-away contact and points it at the
survivor with MergedToContactID (docs/api-facts.md#xero-archiving-and-restoring). Hand-made staging
tables, so each case is visible at a glance.
"""

from __future__ import annotations

from typing import Any

import duckdb

from reverse_etl.ledger.schema import ensure_ledger
from transform.sql import build

WORLD = """
create schema staging;
create schema reconcile;
create table staging.capsule_parties (
    party_id bigint, party_type varchar, display_name varchar, is_deleted boolean, organisation_id bigint,
    xero_contact_id varchar, abn varchar, email varchar, company_domain varchar, folded_name varchar,
    updated_at timestamptz, deleted_at timestamptz
);
create table reconcile.sync_scope (party_id bigint, in_scope boolean);
create table staging.xero_contacts (
    contact_id varchar, contact_number varchar, numbered_party_id bigint, abn varchar, email varchar,
    company_domain varchar, folded_name varchar, is_archived boolean, merged_to_contact_id varchar
);
"""


def party(
    con: duckdb.DuckDBPyConnection,
    party_id: int,
    *,
    xero_contact_id: str | None = None,
    name: str | None = None,
) -> None:
    folded = (name or f"party {party_id}").lower()
    con.execute(
        "insert into staging.capsule_parties values (?, 'organisation', ?, false, null, ?, null, null, null, ?, null, null)",
        [party_id, name or f"Party {party_id}", xero_contact_id, folded],
    )
    con.execute("insert into reconcile.sync_scope values (?, true)", [party_id])


def contact(
    con: duckdb.DuckDBPyConnection,
    contact_id: str,
    *,
    number: str | None = None,
    archived: bool = False,
    merged_to: str | None = None,
    name: str | None = None,
) -> None:
    numbered = int(number.removeprefix("CAP-")) if number and number.startswith("CAP-") else None
    con.execute(
        "insert into staging.xero_contacts values (?, ?, ?, null, null, null, ?, ?, ?)",
        [contact_id, number, numbered, (name or contact_id).lower(), archived, merged_to],
    )


def matches(con: duckdb.DuckDBPyConnection, params: dict[str, Any]) -> dict[int, tuple[Any, ...]]:
    build(con, "reconcile", "contact_matches", params)
    return {
        row[0]: row[1:]
        for row in con.execute(
            "select party_id, outcome, match_rule, contact_id, review_reason from reconcile.contact_matches"
        ).fetchall()
    }


def world() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute(WORLD)
    ensure_ledger(con)
    return con


def test_a_party_whose_contact_was_merged_away_in_xero_matches_the_surviving_contact(
    sql_params: dict[str, Any],
) -> None:
    con = world()
    # By its Xero Contact ID field, by our ContactNumber left on the merged-away contact, and through a
    # chain of two merges.
    party(con, 1, xero_contact_id="a1")
    contact(con, "a1", number="CAP-1", archived=True, merged_to="b1")
    contact(con, "b1")
    party(con, 2)
    contact(con, "a2", number="CAP-2", archived=True, merged_to="b2")
    contact(con, "b2")
    party(con, 3, xero_contact_id="a3")
    contact(con, "a3", archived=True, merged_to="m3")
    contact(con, "m3", archived=True, merged_to="b3")
    contact(con, "b3")
    found = matches(con, sql_params)
    assert found[1] == ("matched", "merged", "b1", None)
    assert found[2] == ("matched", "merged", "b2", None)
    assert found[3] == ("matched", "merged", "b3", None)


def test_a_merge_found_only_through_what_this_tool_wrote_is_followed_too(sql_params: dict[str, Any]) -> None:
    con = world()
    # An adopted contact keeps its own number and the ContactID never reached Capsule: only the ledger
    # knows which contact the party is.
    party(con, 1)
    contact(con, "a1", number="MYOB-7", archived=True, merged_to="b1")
    contact(con, "b1")
    con.execute(
        "insert into ledger.written_contacts (contact_id, party_id, plan_id, written_at, contact_status)"
        " values ('a1', 1, 1, now(), 'ACTIVE')"
    )
    assert matches(con, sql_params)[1] == ("matched", "merged", "b1", None)


def test_a_merge_into_a_contact_another_party_has_waits_for_review_and_that_party_keeps_it(
    sql_params: dict[str, Any],
) -> None:
    con = world()
    party(con, 1, xero_contact_id="a1")
    party(con, 2, xero_contact_id="b1")
    contact(con, "a1", number="CAP-1", archived=True, merged_to="b1")
    contact(con, "b1", number="CAP-2")
    found = matches(con, sql_params)
    outcome, rule, contact_id, reason = found[1]
    assert (outcome, rule, contact_id) == ("review", "merged", None)
    assert "merged into" in reason and "b1" in reason and "party 2" in reason
    assert found[2] == ("matched", "cross_reference", "b1", None)


def test_two_parties_merged_into_one_contact_both_wait_for_review(sql_params: dict[str, Any]) -> None:
    con = world()
    party(con, 1, xero_contact_id="a1")
    party(con, 2, xero_contact_id="a2")
    contact(con, "a1", archived=True, merged_to="b")
    contact(con, "a2", archived=True, merged_to="b")
    contact(con, "b")
    found = matches(con, sql_params)
    assert {found[1][0], found[2][0]} == {"review"}
    assert "fits 2 Capsule parties" in found[1][3]


def test_a_merge_chain_that_loops_or_ends_archived_leaves_the_party_on_its_own_contact(
    sql_params: dict[str, Any],
) -> None:
    con = world()
    party(con, 1, xero_contact_id="a1")
    contact(con, "a1", archived=True, merged_to="l1")
    contact(con, "l1", archived=True, merged_to="a1")
    party(con, 2, xero_contact_id="a2")
    contact(con, "a2", archived=True, merged_to="z2")
    contact(con, "z2", archived=True)
    party(con, 3, xero_contact_id="a3")
    contact(con, "a3", archived=True, merged_to="gone")
    found = matches(con, sql_params)
    # Nothing active to follow to: the archived contact stays the match (held and reported, as today).
    assert found[1] == ("matched", "cross_reference", "a1", None)
    assert found[2] == ("matched", "cross_reference", "a2", None)
    assert found[3] == ("matched", "cross_reference", "a3", None)


def test_a_chain_longer_than_five_merges_is_not_followed(sql_params: dict[str, Any]) -> None:
    con = world()
    party(con, 1, xero_contact_id="m0")
    for step in range(6):
        contact(con, f"m{step}", archived=True, merged_to=f"m{step + 1}")
    contact(con, "m6")
    assert matches(con, sql_params)[1] == ("matched", "cross_reference", "m0", None)


PLAN_INPUTS = """
create table reconcile.desired_contacts (
    party_id bigint, party_type varchar, contact_id varchar, match_outcome varchar, capsule_updated_at timestamptz,
    people_total integer, quarantined_fields varchar[],
    quarantined_people struct(first_name varchar, last_name varchar)[],
    contact_number varchar, name varchar, first_name varchar, last_name varchar, email_address varchar,
    tax_number varchar, website varchar, phone_default varchar, phone_mobile varchar, phone_fax varchar,
    street_address varchar, postal_address varchar, contact_persons varchar, contact_groups varchar
);
create table reconcile.current_contacts (
    contact_id varchar, contact_status varchar, xero_updated_at timestamptz, balance_outstanding decimal(18, 2),
    contact_number varchar, name varchar, first_name varchar, last_name varchar, email_address varchar,
    tax_number varchar, website varchar, phone_default varchar, phone_mobile varchar, phone_fax varchar,
    street_address varchar, postal_address varchar, contact_persons varchar, contact_groups varchar
);
"""


def test_a_merged_partys_plan_updates_the_survivor_without_the_number_it_cannot_take_and_links_it_back(
    sql_params: dict[str, Any],
) -> None:
    from datetime import UTC, datetime, timedelta

    from reverse_etl.plans.write_backs import write_backs_wanted
    from transform.stages import build_plan_tables

    con = world()
    con.execute(PLAN_INPUTS)
    synced = datetime(2026, 6, 1, tzinfo=UTC)
    party(con, 1, xero_contact_id="a1", name="Harbour Joinery")
    contact(con, "a1", number="CAP-1", archived=True, merged_to="b1", name="Harbour Joinery")
    contact(con, "b1", name="Harbour Joinery")
    # This tool created a1 for the party; a person then merged it into b1, a contact typed by hand.
    con.execute(
        "insert into ledger.written_contacts (contact_id, party_id, plan_id, written_at, contact_status,"
        " contact_number, name) values ('a1', 1, 1, ?, 'ACTIVE', 'CAP-1', 'Harbour Joinery')",
        [synced],
    )
    build(con, "reconcile", "contact_matches", sql_params)
    con.execute(
        "insert into reconcile.desired_contacts (party_id, contact_id, match_outcome, capsule_updated_at,"
        " people_total, quarantined_fields, quarantined_people, contact_number, name, email_address)"
        " select party_id, contact_id, outcome, ?, 1, [], [], 'CAP-1', 'Harbour Joinery', 'hello@harbour.com.au'"
        " from reconcile.contact_matches",
        [synced + timedelta(days=1)],
    )
    con.execute(
        "insert into reconcile.current_contacts (contact_id, contact_status, xero_updated_at,"
        " balance_outstanding, contact_number, name) values"
        " ('a1', 'ARCHIVED', ?, 0, 'CAP-1', 'Harbour Joinery'), ('b1', 'ACTIVE', ?, 0, null, 'Harbour Joinery')",
        [synced, synced],
    )
    build_plan_tables(con, sql_params)
    operation, contact_id, changed = con.execute(
        "select operation, contact_id, changed_fields from reconcile.contact_operations where party_id = 1"
    ).fetchone()
    # ContactNumber is unique among all contacts, archived included (docs/api-facts.md): the merged-away
    # contact keeps CAP-1, so the survivor keeps its own and is linked by its ContactID instead.
    assert (operation, contact_id, changed) == ("update", "b1", ["email_address"])
    settlement, detail = con.execute(
        "select settlement, detail from reconcile.preflight_problems where party_id = 1"
    ).fetchone()
    assert settlement == "not_sent" and "a1" in detail and "archived" in detail
    # The survivor's ContactID goes into the party's Xero Contact ID field.
    assert write_backs_wanted(con) == {1: "b1"}
