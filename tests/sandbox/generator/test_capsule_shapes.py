"""Capsule records have exactly the shapes of specs/capsule/examples (keys and key order)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from sandbox.generator import Dataset
from sandbox.generator.capsule import BUSINESS_DOMAIN
from tests.sandbox.generator.invariants import DATE, TIMESTAMP

# The person example was fetched with embed=tags,fields; every generated record carries every embed
# (Dataset contract), so the one key ``missingImportantFields`` adds is expected on top.
EMBED_ONLY = ["missingImportantFields"]


def keys(record: dict[str, Any]) -> list[str]:
    return list(record)


def parties_of(ds: Dataset, kind: str) -> list[dict[str, Any]]:
    return [p for p in ds.capsule_parties if p["type"] == kind]


def test_every_person_has_exactly_the_keys_of_the_example_person_in_order(ds1k, examples) -> None:
    expected = keys(examples["party-person"]["party"]) + EMBED_ONLY
    people = parties_of(ds1k, "person")
    assert people
    for person in people:
        assert keys(person) == expected


def test_every_organisation_has_exactly_the_keys_of_the_example_organisation(ds1k, examples) -> None:
    expected = keys(examples["party-organisation"]["party"])
    orgs = parties_of(ds1k, "organisation")
    assert orgs
    for org in orgs:
        assert keys(org) == expected


def test_nested_rows_have_the_example_keys(ds1k, examples) -> None:
    org = examples["party-organisation"]["party"]
    person = examples["party-person"]["party"]
    expected = {
        "owner": set(org["owner"]),
        "team": set(org["team"]),
        "organisation": set(person["organisation"]),
        "phoneNumbers": set(org["phoneNumbers"][0]),
        "addresses": set(org["addresses"][0]),
        "emailAddresses": set(org["emailAddresses"][0]),
        "websites": set(org["websites"][0]),
        "tags": set(org["tags"][0]),
    }
    seen = set()
    for party in ds1k.capsule_parties:
        for key, key_set in expected.items():
            value = party.get(key)
            rows = value if isinstance(value, list) else [value] if value is not None else []
            for row in rows:
                assert set(row) == key_set, (key, row)
                seen.add(key)
        for row in party["fields"]:
            assert set(row) in ({"id", "definition", "value"}, {"id", "definition", "value", "tagId"})
            assert set(row["definition"]) == {"id", "name"}
            seen.add("fields")
    assert seen == set(expected) | {"fields"}, "every nested kind occurs"


def test_field_values_have_the_json_type_of_their_definition(ds1k) -> None:
    definitions = {d["id"]: d for d in ds1k.capsule_field_definitions}
    for party in ds1k.capsule_parties:
        for row in party["fields"]:
            definition = definitions[row["definition"]["id"]]
            assert row["definition"]["name"] == definition["name"]
            value = row["value"]
            if definition["type"] == "boolean":
                assert isinstance(value, bool)
            elif definition["type"] == "number":
                assert isinstance(value, str) and value.isdigit(), "numbers come back as strings"
            elif definition["type"] == "date":
                assert DATE.match(value)
            elif definition["type"] == "list":
                assert value in definition["options"]
            else:
                assert isinstance(value, str)
            assert ("tagId" in row) == ("tag" in definition)
            rule = definition.get("captureRule")
            assert rule is None or rule == party["type"]


@pytest.mark.parametrize(
    ("records", "example", "wrapper", "extra"),
    [
        ("capsule_users", "users", "users", []),
        ("capsule_opportunities", "opportunity", "opportunity", EMBED_ONLY),
        ("capsule_kases", "kase", "kase", EMBED_ONLY),
        ("capsule_tasks", "task", "task", []),
    ],
)
def test_users_opportunities_kases_and_tasks_have_the_example_keys(
    ds1k, examples, records, example, wrapper, extra
):
    body = examples[example][wrapper]
    sample = body[0] if isinstance(body, list) else body
    rows = getattr(ds1k, records)
    assert rows
    for row in rows:
        assert set(row) == set(sample) | set(extra), records


def test_account_level_records_use_only_keys_the_examples_use(ds1k, examples) -> None:
    definition_keys = set().union(*(set(d) for d in examples["party-field-definitions"]["definitions"]))
    for definition in ds1k.capsule_field_definitions:
        assert {"id", "type", "name", "displayOrder", "important"} <= set(definition) <= definition_keys
    tag_keys = set().union(*(set(t) for t in examples["party-tags"]["tags"]))
    for tag in ds1k.capsule_tags:
        assert {"id", "name", "dataTag"} <= set(tag) <= tag_keys
    names = {d["name"]: d["type"] for d in ds1k.capsule_field_definitions}
    assert names["ABN"] == "text" and names["Xero Contact ID"] == "text"
    assert {"list", "date", "number", "boolean"} <= set(names.values())
    assert any(t["dataTag"] for t in ds1k.capsule_tags)
    assert {"Customer", "Supplier", "Wholesale", "VIP", "Prospect"} <= {t["name"] for t in ds1k.capsule_tags}


def test_tombstones_have_exactly_the_example_keys(ds1k, examples) -> None:
    expected = set(examples["parties-deleted"]["parties"][0])
    for rows in (
        ds1k.capsule_deleted_parties,
        ds1k.capsule_deleted_opportunities,
        ds1k.capsule_deleted_kases,
    ):
        assert rows
        assert all(set(row) == expected for row in rows)


def test_timestamps_are_utc_seconds_with_z_and_updated_is_never_before_created(ds1k) -> None:
    for records in (ds1k.capsule_parties, ds1k.capsule_opportunities, ds1k.capsule_kases, ds1k.capsule_tasks):
        for record in records:
            assert TIMESTAMP.match(record["createdAt"]) and TIMESTAMP.match(record["updatedAt"])
            assert record["updatedAt"] >= record["createdAt"]


def test_timestamps_spread_over_about_three_years(ds1k) -> None:
    created = sorted(p["createdAt"] for p in ds1k.capsule_parties)
    assert created[0][:4] == "2023" and created[-1][:4] == "2026"


def test_party_ids_grow_with_creation_time(ds10k) -> None:
    ordered = [p["createdAt"] for p in sorted(ds10k.capsule_parties, key=lambda p: p["id"])]
    assert ordered == sorted(ordered)


def test_each_users_email_is_reachable_through_the_users_own_party(ds1k) -> None:
    parties = {p["id"]: p for p in ds1k.capsule_parties}
    assert len(ds1k.capsule_users) >= 3
    usernames = set()
    for user in ds1k.capsule_users:
        party = parties[user["party"]["id"]]
        assert (party["firstName"], party["lastName"]) == (
            user["party"]["firstName"],
            user["party"]["lastName"],
        )
        address = party["emailAddresses"][0]["address"]
        assert re.fullmatch(rf"[a-z0-9.]+@{re.escape(BUSINESS_DOMAIN)}", address)
        assert user["party"]["id"] in ds1k.cases["staff_party"]
        usernames.add(user["username"])
    assert len(usernames) == len(ds1k.capsule_users)


def test_owners_and_teams_on_records_are_the_accounts_users_and_teams(ds1k) -> None:
    users = {u["id"]: u for u in ds1k.capsule_users}
    teams = {t["id"]: t["name"] for t in ds1k.capsule_teams}
    for records in (ds1k.capsule_parties, ds1k.capsule_opportunities, ds1k.capsule_kases, ds1k.capsule_tasks):
        for record in records:
            if record["owner"] is not None:
                assert record["owner"]["username"] == users[record["owner"]["id"]]["username"]
            if record.get("team") is not None:
                assert teams[record["team"]["id"]] == record["team"]["name"]


def test_people_link_to_organisations_or_stand_alone(ds1k) -> None:
    people = parties_of(ds1k, "person")
    linked = [p for p in people if p["organisation"] is not None]
    assert 0.4 < len(linked) / len(people) < 0.8
    orgs = {p["id"] for p in parties_of(ds1k, "organisation")}
    assert all(p["organisation"]["id"] in orgs for p in linked)


def test_addresses_are_mostly_australian_with_states_and_postcodes(ds1k) -> None:
    rows = [a for p in ds1k.capsule_parties for a in p["addresses"]]
    australian = [a for a in rows if a["country"] == "Australia"]
    assert len(australian) / len(rows) > 0.9
    assert {"Office", "Postal", "Billing", "Home"} <= {a["type"] for a in rows}
    assert all(re.fullmatch(r"\d{4}", a["zip"]) for a in australian)
    assert any(a["zip"].startswith("0") for a in australian), "NT postcodes keep their leading zero"
