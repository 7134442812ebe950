"""Matching on the generated world: each documented case ends as CASES.md says a correct sync must."""

from __future__ import annotations

from typing import Any

import duckdb

from reverse_etl.ledger.schema import ensure_ledger
from sandbox.generator import Dataset


def match(con: duckdb.DuckDBPyConnection, party_id: int) -> dict[str, Any]:
    cursor = con.execute("select * from reconcile.contact_matches where party_id = $id", {"id": party_id})
    names = [d[0] for d in cursor.description]
    rows = cursor.fetchall()
    assert len(rows) == 1, f"party {party_id} should be matched exactly once"
    return dict(zip(names, rows[0], strict=True))


def test_synced_parties_match_their_contact_by_cross_reference_or_contact_number(
    world: tuple[Dataset, Any, int],
) -> None:
    dataset, con, _ = world
    for case, rule in (
        ("synced_in_sync", "cross_reference"),
        ("synced_crossref_missing_in_capsule", "contact_number"),
        ("xero_archived_synced_contact", "cross_reference"),
    ):
        for party_id, contact_id, *_ in dataset.cases[case]:
            found = match(con, party_id)
            assert (found["outcome"], found["match_rule"], found["contact_id"]) == (
                "matched",
                rule,
                contact_id,
            ), case


def test_hand_made_contacts_are_adopted_by_the_first_rule_that_fits(world: tuple[Dataset, Any, int]) -> None:
    dataset, con, _ = world
    for case, rule in (
        ("xero_match_abn", "abn"),
        ("xero_match_abn_formatted_differently", "abn"),
        ("xero_match_email_domain", "email_domain"),
        ("xero_match_email_person", "email"),
        ("xero_match_name_exact", "name"),
        ("xero_match_name_person", "name"),
        ("name_variant_case", "name"),
        ("name_variant_legal_suffix", "name"),
        ("name_variant_ampersand", "name"),
        ("name_variant_accents", "name"),
    ):
        for party_id, contact_id in dataset.cases[case]:
            found = match(con, party_id)
            assert (found["outcome"], found["match_rule"], found["contact_id"]) == (
                "matched",
                rule,
                contact_id,
            ), case


def test_ambiguous_or_conflicting_matches_wait_for_review_and_never_name_a_contact(
    world: tuple[Dataset, Any, int],
) -> None:
    dataset, con, _ = world
    for case in ("xero_duplicate_abn", "xero_same_name_different_company", "xero_archived_name_collision"):
        for party_id, *_ in dataset.cases[case]:
            found = match(con, party_id)
            assert found["outcome"] == "review" and found["review_reason"], case
            assert found["contact_id"] is None, case
    for first, second in dataset.cases["same_company_twice"]:
        assert {match(con, first)["outcome"], match(con, second)["outcome"]} == {"review"}


def test_free_mail_and_stale_references_never_match_and_new_parties_are_created(
    world: tuple[Dataset, Any, int],
) -> None:
    dataset, con, deleted = world
    for party_id, trap in dataset.cases["free_mail_domain_trap"]:
        assert match(con, party_id)["contact_id"] != trap
    for party_id in dataset.cases["stale_xero_contact_id"]:
        found = match(con, party_id)
        assert found["stale_cross_reference"] and found["outcome"] == "new"
    capsule_only = [p for p in dataset.cases["capsule_only"] if p != deleted]
    outcomes = con.execute(
        "select outcome, count(*) from reconcile.contact_matches where party_id in (select unnest($ids)) group by all",
        {"ids": capsule_only},
    ).fetchall()
    assert outcomes == [("new", len(capsule_only))]


def test_people_of_an_organisation_and_deleted_parties_are_not_contacts_of_their_own(
    world: tuple[Dataset, Any, int],
) -> None:
    dataset, con, deleted = world
    people = dataset.cases["person_with_organisation"]
    assert con.execute(
        "select count(*) from reconcile.contact_matches where party_id in (select unnest($ids)) or party_id = $deleted",
        {"ids": people, "deleted": deleted},
    ).fetchall() == [(0,)]


# --- contacts numbered after a Capsule party ---------------------------------------------------------

NUMBERED_WORLD = """
create schema staging;
create schema reconcile;
create table staging.capsule_parties (
    party_id bigint, party_type varchar, display_name varchar, is_deleted boolean, organisation_id bigint,
    xero_contact_id varchar, abn varchar, email varchar, company_domain varchar, folded_name varchar
);
create table reconcile.sync_scope (party_id bigint, in_scope boolean);
create table staging.xero_contacts (
    contact_id varchar, contact_number varchar, numbered_party_id bigint, abn varchar, email varchar,
    company_domain varchar, folded_name varchar, is_archived boolean, merged_to_contact_id varchar
);
insert into staging.capsule_parties values
    (1, 'organisation', 'Acme Pty Ltd', false, null, null, '51824753556', 'info@acme.com.au', 'acme.com.au', 'acme'),
    (2, 'person', 'Sam Lee', false, 1, 'c-2', null, 'sam@acme.com.au', 'acme.com.au', 'sam lee'),
    (4, 'organisation', 'Other Pty Ltd', false, null, 'c-2', null, null, null, 'other'),
    (5, 'organisation', 'Merged Pty Ltd', false, null, 'c-6', null, null, null, 'merged'),
    (6, 'organisation', null, true, null, null, null, null, null, null);
insert into reconcile.sync_scope select party_id, true from staging.capsule_parties;
insert into staging.xero_contacts values
    ('c-2', 'CAP-2', 2, '51824753556', 'sam@acme.com.au', 'acme.com.au', 'sam lee', false, null),
    ('c-6', 'CAP-6', 6, null, null, null, 'merged', false, null),
    ('c-7', 'CAP-7', 7, null, 'info@acme.com.au', 'acme.com.au', 'acme', true, null);
"""


def test_a_contact_numbered_after_another_party_is_never_that_partys_match_but_a_merged_ones_is(
    sql_params: dict[str, object],
) -> None:
    from transform.sql import build

    con = duckdb.connect()
    con.execute(NUMBERED_WORLD)
    ensure_ledger(con)
    build(con, "reconcile", "contact_matches", sql_params | {"people_as_contacts": True})
    found = {
        row[0]: row[1:]
        for row in con.execute(
            "select party_id, outcome, match_rule, contact_id, review_reason from reconcile.contact_matches"
        ).fetchall()
    }
    # The organisation shares its person's ABN, domain and e-mail host, and its archived look-alike
    # is numbered after a party Capsule no longer has: none of them is its contact.
    assert found[1] == ("new", None, None, None)
    assert found[2] == ("matched", "cross_reference", "c-2", None)
    # A cross-reference copied onto another party does not take a live party's contact away...
    assert found[4] == ("new", None, None, None)
    # ...but one left by a merge (the numbered party is gone) links the contact, to be renumbered.
    assert found[5] == ("matched", "cross_reference", "c-6", None)
