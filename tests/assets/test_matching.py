"""Matching on the generated world: each documented case ends as CASES.md says a correct sync must."""

from __future__ import annotations

from typing import Any

import duckdb

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
