"""The rules of two-way contacts: sync.direction, create_in_capsule, archived_tag, ownership both, and
the approval of Capsule writes, as a user writes them and as the SQL models receive them."""

from __future__ import annotations

import pytest

from capsule_xero.rules.fields import PULLABLE_FIELDS
from capsule_xero.rules.loading import RulesError, parse_rules
from capsule_xero.rules.model import Rules


def problems(text: str) -> list[str]:
    with pytest.raises(RulesError) as caught:
        parse_rules(text, source="capsule-xero.yaml")
    return caught.value.problems


def test_without_a_direction_nothing_flows_from_xero_to_capsule_whatever_the_ownership() -> None:
    rules = parse_rules("ownership: {phones: xero, email_address: both}")
    params = rules.sql_params()
    assert rules.sync.direction == "capsule_to_xero" and params["two_way"] is False
    assert params["pulled_fields"] == []
    assert params["xero_owned_fields"] == ["phone_default", "phone_fax", "phone_mobile", "website"]
    assert params["create_in_capsule"] == "none" and params["archived_tag"] == "Archived in Xero"
    assert rules.approval.capsule_creates_need_approval is True
    assert rules.approval.capsule_updates_need_approval is False


def test_with_direction_both_the_fields_xero_or_both_own_are_pulled_and_capsules_are_not() -> None:
    rules = parse_rules(
        "sync: {direction: both, create_in_capsule: customers, archived_tag: Gone from Xero}\n"
        "ownership: {phones: xero, phone_fax: capsule, email_address: both, website: both,"
        " contact_persons: xero}"
    )
    params = rules.sql_params()
    assert params["two_way"] is True
    assert params["pulled_fields"] == ["email_address", "website", "phone_default", "phone_mobile"]
    # Website cannot be written in Xero, so owned by both it is Xero's: it only ever flows to Capsule.
    assert params["both_owned_fields"] == ["email_address"]
    assert params["create_in_capsule"] == "customers" and params["archived_tag"] == "Gone from Xero"
    # ContactPersons and the groups stay Capsule → Xero even when Xero owns them.
    assert not {"contact_persons", "contact_groups", "contact_number"} & set(PULLABLE_FIELDS)


def test_every_pullable_field_is_pulled_when_xero_owns_them_all() -> None:
    owned = ", ".join(f"{field}: xero" for field in PULLABLE_FIELDS)
    params = parse_rules(f"sync: {{direction: both}}\nownership: {{{owned}}}").sql_params()
    assert params["pulled_fields"] == list(PULLABLE_FIELDS)


def test_a_misspelt_direction_or_create_option_is_refused_with_its_line_and_the_choices() -> None:
    assert problems("sync:\n  direction: two_way\n") == [
        'capsule-xero.yaml line 2: sync.direction: "two_way" is not one of capsule_to_xero, both'
    ]
    assert problems("sync:\n  direction: both\n  create_in_capsule: every\n") == [
        'capsule-xero.yaml line 3: sync.create_in_capsule: "every" is not one of none, customers, all'
    ]


def test_creating_capsule_parties_needs_direction_both() -> None:
    (problem,) = problems("sync:\n  create_in_capsule: all\n")
    assert "create_in_capsule: all writes to Capsule, so it needs direction: both" in problem


def test_contact_persons_and_groups_cannot_be_owned_by_both() -> None:
    (problem,) = problems("ownership:\n  contact_persons: both\n")
    assert problem.startswith("capsule-xero.yaml line 2: ownership.contact_persons:")


def test_a_pulled_field_cannot_also_be_transformed_or_its_value_would_never_settle() -> None:
    (problem,) = problems(
        "sync: {direction: both}\nownership: {name: both}\ntransforms: [{field: name, op: suffix, value: ' Pty'}]\n"
    )
    assert "name flows from Xero to Capsule" in problem and "cannot also have a transform" in problem
    # One-way, a transform of a field Xero owns is what it was: shaping the value a create sends.
    assert parse_rules("ownership: {name: xero}\ntransforms: [{field: name, op: trim}]").transforms


def test_an_empty_archived_tag_is_refused() -> None:
    (problem,) = problems('sync:\n  archived_tag: "  "\n')
    assert "archived_tag" in problem and "must not be empty" in problem


def test_the_two_way_settings_change_the_fingerprint_so_a_waiting_plan_is_stale() -> None:
    assert parse_rules("sync: {direction: both}").fingerprint() != Rules().fingerprint()
    assert (
        parse_rules("approval: {capsule_updates_need_approval: true}").fingerprint() != Rules().fingerprint()
    )
