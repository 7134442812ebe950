"""The desired state on a generated world: the Xero contact each Capsule party should become
(``reconcile.mapped_contacts``) and every Xero contact in the same shape (``reconcile.current_contacts``).

The oracle is the generator itself: ``sandbox.generator.xero.desired_contact`` is the mapping an earlier
run of this tool used, ``dataset.xero_written_by_previous_sync`` what it wrote, and the dataset what
each side looks like now. A field differs between the two tables exactly when one side changed it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import duckdb
import pytest

from sandbox.generator import Dataset, capsule, phones, xero
from transform.normalise import email as canonical_email
from transform.sql import build

World = tuple[Dataset, duckdb.DuckDBPyConnection, int]
Record = dict[str, Any]

COMPARED = (
    "contact_number",
    "name",
    "first_name",
    "last_name",
    "email_address",
    "tax_number",
    "website",
    "phone_default",
    "phone_mobile",
    "phone_fax",
    "street_address",
    "postal_address",
    "contact_persons",
    "contact_groups",
)
PHONE_FIELDS = {"DEFAULT": "phone_default", "MOBILE": "phone_mobile", "FAX": "phone_fax"}
PAIR_CASES = (
    "synced_in_sync",
    "synced_capsule_changed",
    "synced_xero_changed",
    "conflict_both_changed_xero_later",
    "conflict_both_changed_capsule_later",
    "synced_org_new_person",
    "synced_crossref_missing_in_capsule",
    "xero_archived_synced_contact",
)


# --- reading the tables ---------------------------------------------------------------------------
def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[Record]:
    result = con.execute(sql)
    names = [d[0] for d in result.description]
    return [dict(zip(names, row, strict=True)) for row in result.fetchall()]


def mapped(con: duckdb.DuckDBPyConnection) -> dict[int, Record]:
    return {r["party_id"]: r for r in _rows(con, "select * from reconcile.mapped_contacts")}


def current(con: duckdb.DuckDBPyConnection) -> dict[str, Record]:
    return {r["contact_id"]: r for r in _rows(con, "select * from reconcile.current_contacts")}


def staged_parties(con: duckdb.DuckDBPyConnection) -> dict[int, Record]:
    return {r["party_id"]: r for r in _rows(con, "select * from staging.capsule_parties")}


def differing(desired: Record, now: Record) -> set[str]:
    return {field for field in COMPARED if desired[field] != now[field]}


@contextmanager
def rebuilt(
    con: duckdb.DuckDBPyConnection, params: Mapping[str, Any], *setup: tuple[str, dict[str, Any]]
) -> Iterator[None]:
    """Rebuild the desired state with other parameters inside a transaction that is rolled back."""
    con.execute("begin transaction")
    try:
        for statement, values in setup:
            con.execute(statement, values)
        build(con, "reconcile", "mapped_contacts", params)
        build(con, "reconcile", "current_contacts", params)
        yield
    finally:
        con.execute("rollback")


# --- the oracle: what the generator says each side holds -------------------------------------------
def live_parties(dataset: Dataset, deleted: int) -> dict[int, Record]:
    return {p["id"]: p for p in dataset.capsule_parties if p["id"] != deleted}


def people_of(parties: Mapping[int, Record], org_id: int) -> list[Record]:
    return sorted(
        (
            p
            for p in parties.values()
            if p["type"] == "person" and (p["organisation"] or {}).get("id") == org_id
        ),
        key=lambda p: p["id"],
    )


def first_url(party: Record) -> str | None:
    return next(((w["url"] or w["address"]) for w in party["websites"] if w["service"] == "URL"), None)


def oracle_groups(party: Record) -> list[str]:
    names = {t["name"] for t in party["tags"] if t["name"] in capsule.GROUP_TAGS}
    if party["owner"] is not None:
        names.add(f"Owner: {party['owner']['name']}")
    return sorted(names)


def xero_groups(dataset: Dataset, contact_id: str) -> list[str]:
    managed = set(capsule.GROUP_TAGS)
    return sorted(
        g["Name"]
        for g in dataset.xero_contact_groups
        if g["Status"] == "ACTIVE"
        and contact_id in g["ContactIDs"]
        and (g["Name"] in managed or g["Name"].startswith("Owner: "))
    )


def written_fields(mine: Record, other: Record) -> set[str]:
    """The compared fields in which two Xero-shaped records (the mapping's or Xero's) differ."""
    out = set()
    for key, field in (
        ("Name", "name"),
        ("FirstName", "first_name"),
        ("LastName", "last_name"),
        ("EmailAddress", "email_address"),
        ("TaxNumber", "tax_number"),
    ):
        if mine.get(key) != other.get(key):
            out.add(field)
    for index, field in ((0, "street_address"), (1, "postal_address")):
        if mine["Addresses"][index] != other["Addresses"][index]:
            out.add(field)
    for kind, field in PHONE_FIELDS.items():
        ours = next(p for p in mine["Phones"] if p["PhoneType"] == kind)
        theirs = next(p for p in other["Phones"] if p["PhoneType"] == kind)
        if ours != theirs:
            out.add(field)
    if mine["ContactPersons"] != other["ContactPersons"]:
        out.add("contact_persons")
    return out


def as_written(party: Record, people: list[Record]) -> Record:
    """What the earlier sync's mapping would write for the party as it is now."""
    d = xero.desired_contact(party, people)
    return xero.contact(
        contact_id="",
        name=d["Name"],
        updated=None,  # type: ignore[arg-type]
        first_name=d.get("FirstName"),
        last_name=d.get("LastName"),
        email=d.get("EmailAddress"),
        tax_number=d.get("TaxNumber"),
        street=d["street"],
        pobox=d["pobox"],
        phone_list=d["phone_list"],
        persons=d["persons"],
    )


def expected_differences(
    dataset: Dataset, parties: Mapping[int, Record], party_id: int, contact_id: str
) -> set[str]:
    """The fields changed since the earlier sync on either side, per the generator's own records."""
    party = parties[party_id]
    snapshot = dataset.xero_written_by_previous_sync[contact_id]
    now = next(c for c in dataset.xero_contacts if c["ContactID"] == contact_id)
    changed = written_fields(as_written(party, people_of(parties, party_id)), snapshot)
    changed |= written_fields(now, snapshot)
    # The earlier sync wrote no Website (CASES.md mapping): where the party has one, Xero lacks it.
    if first_url(party) != now.get("Website"):
        changed.add("website")
    if oracle_groups(party) != xero_groups(dataset, contact_id):
        changed.add("contact_groups")
    return changed


# --- the earlier sync's pairs ----------------------------------------------------------------------
def test_an_in_sync_pair_maps_to_what_xero_holds_in_every_field_the_earlier_sync_wrote(world: World) -> None:
    dataset, con, deleted = world
    desired, now = mapped(con), current(con)
    parties = live_parties(dataset, deleted)
    equal_everywhere = 0
    for party_id, contact_id in dataset.cases["synced_in_sync"]:
        row = desired[party_id]
        assert row["contact_id"] == contact_id and row["match_outcome"] == "matched"
        differs = differing(row, now[contact_id])
        # Website is the one field the earlier sync never wrote (CASES.md mapping): it differs exactly
        # where the party has a website the earlier sync did not send.
        assert differs <= {"website"}, (party_id, differs)
        written = dataset.xero_written_by_previous_sync[contact_id].get("Website")
        assert ("website" in differs) == (first_url(parties[party_id]) != written), party_id
        equal_everywhere += not differs
    assert equal_everywhere > 0


def test_after_a_change_on_either_side_exactly_the_changed_fields_differ(world: World) -> None:
    dataset, con, deleted = world
    desired, now = mapped(con), current(con)
    parties = live_parties(dataset, deleted)
    seen: set[str] = set()
    for case in PAIR_CASES:
        for pair in dataset.cases[case]:
            party_id, contact_id = pair[0], pair[1]
            expected = expected_differences(dataset, parties, party_id, contact_id)
            assert differing(desired[party_id], now[contact_id]) == expected, (case, party_id, expected)
            seen |= expected
    # The world exercises every kind of change the generator makes.
    assert {"email_address", "street_address", "phone_default", "contact_persons", "contact_groups"} <= seen


def test_a_person_joining_an_organisation_re_evaluates_it(world: World) -> None:
    dataset, con, deleted = world
    desired = mapped(con)
    parties = live_parties(dataset, deleted)
    for org_id, _contact_id, newcomer_id in dataset.cases["synced_org_new_person"]:
        row = desired[org_id]
        newcomer = parties[newcomer_id]
        assert row["capsule_updated_at"].isoformat().replace("+00:00", "Z") == newcomer["updatedAt"]
        assert newcomer["updatedAt"] > parties[org_id]["updatedAt"]
        names = [(p["first_name"], p["last_name"]) for p in json.loads(row["contact_persons"])]
        assert (newcomer["firstName"], newcomer["lastName"]) in names


# --- Capsule structure -----------------------------------------------------------------------------
def test_a_person_with_an_organisation_is_only_a_contact_person_of_it(world: World) -> None:
    dataset, con, deleted = world
    desired = mapped(con)
    parties = live_parties(dataset, deleted)
    for person_id in dataset.cases["person_with_organisation"]:
        assert person_id not in desired
        person = parties[person_id]
        org_id = person["organisation"]["id"]
        first_five = [p["id"] for p in people_of(parties, org_id)][:5]
        if org_id in desired and person_id in first_five:
            persons = json.loads(desired[org_id]["contact_persons"])
            entry = persons[first_five.index(person_id)]
            assert (entry["first_name"], entry["last_name"]) == (person["firstName"], person["lastName"])
            assert entry["email_address"] == canonical_email(xero.first_valid_email(person))


def test_an_organisation_with_more_than_five_people_sends_the_first_five_and_reports_the_total(
    world: World,
) -> None:
    dataset, con, deleted = world
    desired = mapped(con)
    parties = live_parties(dataset, deleted)
    for org_id in dataset.cases["org_more_than_five_people"]:
        people = people_of(parties, org_id)
        row = desired[org_id]
        assert row["people_total"] == len(people) > 5
        persons = json.loads(row["contact_persons"])
        assert [(p["first_name"], p["last_name"]) for p in persons] == [
            (p["firstName"], p["lastName"]) for p in people[:5]
        ]


def test_a_standalone_person_becomes_a_contact_with_first_and_last_name(world: World) -> None:
    dataset, con, deleted = world
    desired = mapped(con)
    parties = live_parties(dataset, deleted)
    for person_id in set(dataset.cases["person_without_organisation"]) - {deleted}:
        person = parties[person_id]
        row = desired[person_id]
        assert (row["first_name"], row["last_name"]) == (person["firstName"], person["lastName"])
        assert row["name"] == f"{person['firstName']} {person['lastName']}"
        assert row["contact_persons"] is None and row["people_total"] is None


def test_unicode_names_are_kept_intact(world: World) -> None:
    dataset, con, deleted = world
    desired = mapped(con)
    parties = live_parties(dataset, deleted)
    checked = 0
    for party_id in dataset.cases["unicode_name"]:
        party = parties[party_id]
        if party_id in desired:
            expected = xero.desired_contact(party, [])["Name"]
            assert desired[party_id]["name"].encode() == expected.encode()
            checked += 1
        else:  # a person of an organisation: intact inside its ContactPersons
            org = desired.get(party["organisation"]["id"])
            if org is not None and party["firstName"] in (org["contact_persons"] or ""):
                checked += 1
    assert checked > 0


def test_over_long_names_are_held_back_and_never_mapped(world: World) -> None:
    dataset, con, _ = world
    desired = mapped(con)
    for party_id in dataset.cases["over_long_name"]:
        assert party_id not in desired
    assert all(len(row["name"]) <= 255 for row in desired.values())


def test_deleted_parties_are_absent(world: World) -> None:
    dataset, con, deleted = world
    desired = mapped(con)
    assert deleted not in desired
    for case in ("deleted_party", "deleted_party_synced", "deleted_party_synced_already_archived"):
        for ids in dataset.cases[case]:
            assert (ids[0] if isinstance(ids, tuple | list) else ids) not in desired


def test_mapped_contacts_are_the_syncable_parties_with_their_match(world: World) -> None:
    _, con, _ = world
    rows = con.sql(
        "select m.outcome, d.match_outcome, m.contact_id, d.contact_id, d.contact_number, 'CAP-' || d.party_id"
        " from reconcile.mapped_contacts as d"
        " left join reconcile.contact_matches as m using (party_id)"
    ).fetchall()
    for outcome, mapped_outcome, matched_id, contact_id, number, expected_number in rows:
        assert mapped_outcome == outcome and number == expected_number
        assert contact_id == (matched_id if outcome == "matched" else None)
    assert {r[1] for r in rows} == {"matched", "new", "review"}


# --- values: bad ones never reach the mapping, good ones in canonical form ------------------------
def test_bad_emails_never_reach_a_mapped_value(world: World) -> None:
    dataset, con, deleted = world
    desired = mapped(con)
    parties = live_parties(dataset, deleted)
    mapped_emails = {r["email_address"] for r in desired.values()} | {
        p["email_address"] for r in desired.values() for p in json.loads(r["contact_persons"] or "[]")
    }
    for party_id in dataset.cases["bad_email"]:
        for row in parties[party_id]["emailAddresses"]:
            if not xero.is_plausible_email(row["address"]):
                assert row["address"] not in mapped_emails and row["address"].lower() not in mapped_emails


def test_free_mail_addresses_map_lower_cased(world: World) -> None:
    dataset, con, deleted = world
    desired = mapped(con)
    parties = live_parties(dataset, deleted)
    for party_id in dataset.cases["free_mail_person"] + dataset.cases["free_mail_organisation"]:
        if party_id in desired:
            assert desired[party_id]["email_address"] == xero.first_valid_email(parties[party_id]).lower()


def test_only_valid_abns_are_mapped_as_their_eleven_digits(world: World) -> None:
    dataset, con, _ = world
    desired, staged = mapped(con), staged_parties(con)
    for case in ("abn_invalid_checksum", "abn_wrong_length", "abn_missing"):
        for party_id in dataset.cases[case]:
            if party_id in desired:
                assert desired[party_id]["tax_number"] is None, case
    for case in ("abn_valid_spaced", "abn_valid_plain", "abn_valid_odd_format"):
        for party_id in dataset.cases[case]:
            if party_id in desired:
                digits = re.sub(r"\D", "", staged[party_id]["abn_raw"])
                assert desired[party_id]["tax_number"] == digits, case


def expected_e164(number: str) -> str | None:
    """The generator's strict reading, plus the national and overseas numbers CASES.md keeps."""
    strict = phones.to_e164(number)
    if strict is not None:
        return strict
    digits = re.sub(r"\D", "", number)
    if re.fullmatch(r"1[38]00 ?\d{2,3} ?\d{2,3}( \d{2})?|13 \d{2} \d{2}", number.strip()):
        return "+61" + digits
    if number.strip().startswith("+64"):
        return "+" + digits
    return None


def test_phones_stage_as_e164_by_xero_type_and_garbage_never_does(world: World) -> None:
    dataset, con, deleted = world
    staged = staged_parties(con)
    parties = live_parties(dataset, deleted)
    phone_cases = [name for name in dataset.cases if name.startswith("phone_")]
    checked: set[str] = set()
    for case in phone_cases:
        for party_id in dataset.cases[case]:
            if party_id not in parties:
                continue
            party, row = parties[party_id], staged[party_id]
            readable = {expected_e164(p["number"]) for p in party["phoneNumbers"]} - {None}
            for field in PHONE_FIELDS.values():
                assert row[field] is None or row[field] in readable, (case, party_id, field, row[field])
            # Where the earlier sync's mapping fills a type, the staged number of that type is the same.
            for phone in xero.mapped_phones(party):
                if phone["PhoneNumber"] and phone["PhoneType"] in PHONE_FIELDS:
                    assert row[PHONE_FIELDS[phone["PhoneType"]]] == phone["PhoneNumber"], (case, party_id)
                    checked.add(phone["PhoneType"])
    assert checked == set(PHONE_FIELDS)
    for party_id in dataset.cases["phone_local_rate_1300_1800"] + dataset.cases["phone_local_rate_13"]:
        values = [staged[party_id][f] for f in PHONE_FIELDS.values()]
        assert any(v is not None and re.fullmatch(r"\+61(1[38]00\d{6}|13\d{4})", v) for v in values)
    for party_id in dataset.cases["phone_overseas"]:
        assert any((staged[party_id][f] or "").startswith("+64") for f in PHONE_FIELDS.values())


def test_an_australian_mobile_is_a_mobile_whatever_its_label_and_a_fax_is_what_capsule_calls_one(
    world: World,
) -> None:
    _, con, _ = world
    kinds = con.sql(
        "select lower(n.type) = 'fax', cx_phone_e164(n.number) like '+614%', p.phone_default, p.phone_mobile,"
        " p.phone_fax"
        " from raw.capsule_parties as r"
        " join raw.capsule_parties__phone_numbers as n on n._dlt_parent_id = r._dlt_id"
        " join staging.capsule_parties as p on p.party_id = r.id"
        " where cx_phone_e164(n.number) like '+61%'"
    ).fetchall()
    assert any(is_mobile and not is_fax for is_fax, is_mobile, *_ in kinds)
    assert any(is_fax for is_fax, *_ in kinds)
    for is_fax, is_mobile, default, mobile, fax in kinds:
        assert fax is not None if is_fax else (mobile if is_mobile else default) is not None
        assert mobile is None or mobile.startswith("+614")
        assert default is None or not default.startswith("+614")


# --- addresses -------------------------------------------------------------------------------------
def test_addresses_map_street_and_postal_with_state_codes_and_foreign_countries_kept(world: World) -> None:
    dataset, con, deleted = world
    staged = staged_parties(con)
    parties = live_parties(dataset, deleted)
    codes = {"NSW", "VIC", "QLD", "WA", "SA", "TAS", "ACT", "NT"}
    for party_id in dataset.cases["address_state_unnormalised"]:
        row = staged[party_id]
        assert {row["street_region"], row["postal_region"]} - {None} <= codes
        assert row["street_region"] or row["postal_region"]
    for party_id in dataset.cases["address_overseas"]:
        party, row = parties[party_id], staged[party_id]
        typed = next(a for a in party["addresses"] if a["country"] == "New Zealand")
        side = "street" if typed["type"] in ("Office", "Home", None) else "postal"
        assert row[f"{side}_country"] == "New Zealand" and row[f"{side}_region"] == typed["state"]
    for party in parties.values():  # the first Office/Home/untyped and the first Postal/Billing
        street = next((a for a in party["addresses"] if a["type"] in ("Office", "Home", None)), None)
        postal = next((a for a in party["addresses"] if a["type"] in ("Postal", "Billing")), None)
        row = staged[party["id"]]
        for side, typed in (("street", street), ("postal", postal)):
            expected = xero.mapped_address(typed, "STREET")["AddressLine1"] if typed else None
            assert (row[f"{side}_lines"] or [None])[0] == (expected or None), (party["id"], side)
            assert row[f"{side}_postal_code"] == (typed["zip"] if typed else None)


def test_the_same_address_typed_differently_in_xero_compares_equal(world: World) -> None:
    _, con, _ = world
    (same,) = con.sql(
        "select cx_address_json(cx_street_lines('Level 2' || chr(10) || ' 10 Pitt St '), 'Sydney',"
        " cx_region('New South Wales', 'Australia'), '2000', cx_country('Australia'))"
        " = cx_address_json(cx_address_lines(['Level 2', '10 Pitt St', '', '']), 'Sydney',"
        " cx_region('nsw', 'AU'), '2000', cx_country('AU'))"
    ).fetchall()[0]
    assert same is True


# --- groups ----------------------------------------------------------------------------------------
def test_hand_made_xero_groups_never_show_up_as_a_difference(world: World) -> None:
    _, con, _ = world
    hand_made = ("Christmas Card List", "Trade Suppliers")
    (members,) = con.sql(
        "select count(*) from staging.xero_contacts where list_has_any(contact_groups, $names)",
        params={"names": list(hand_made)},
    ).fetchall()[0]
    assert members > 0
    for row in current(con).values():
        assert not set(json.loads(row["contact_groups"] or "[]")) & set(hand_made)


def test_groups_are_the_mapped_tags_and_the_owner(world: World) -> None:
    dataset, con, deleted = world
    desired = mapped(con)
    parties = live_parties(dataset, deleted)
    for party_id, row in desired.items():
        assert json.loads(row["contact_groups"] or "[]") == oracle_groups(parties[party_id])
    for party_id in dataset.cases["party_without_owner"]:
        if party_id in desired:
            assert "Owner: " not in (desired[party_id]["contact_groups"] or "")


def test_group_parameters_choose_which_groups_are_managed(world: World, sql_params: dict[str, Any]) -> None:
    dataset, con, _ = world
    prospect = next(
        p["id"] for p in dataset.capsule_parties if any(t["name"] == "Prospect" for t in p["tags"])
    )
    with rebuilt(con, sql_params | {"owner_groups": False, "all_tags_are_groups": True}):
        desired, now = mapped(con), current(con)
        assert "Prospect" in json.loads(desired[prospect]["contact_groups"])
        every = [*desired.values(), *now.values()]
        assert not any("Owner: " in (row["contact_groups"] or "") for row in every)
        assert not any("Christmas Card List" in (row["contact_groups"] or "") for row in now.values())


# --- scope parameters ------------------------------------------------------------------------------
def test_people_as_contacts_makes_every_person_a_contact_and_keeps_them_as_contact_persons(
    world: World, sql_params: dict[str, Any]
) -> None:
    dataset, con, _ = world
    before = mapped(con)
    with rebuilt(con, sql_params | {"people_as_contacts": True}):
        after = mapped(con)
    for person_id in dataset.cases["person_with_organisation"]:
        assert person_id in after and after[person_id]["first_name"] is not None
    for party_id, row in before.items():
        assert after[party_id]["contact_persons"] == row["contact_persons"]


def test_a_party_out_of_scope_is_not_mapped(world: World, sql_params: dict[str, Any]) -> None:
    dataset, con, _ = world
    party_id = dataset.cases["synced_in_sync"][0][0]
    assert party_id in mapped(con)
    out = ("update reconcile.sync_scope set in_scope = false where party_id = $id", {"id": party_id})
    with rebuilt(con, sql_params, out):
        assert party_id not in mapped(con)
    assert party_id in mapped(con)


# --- staging additions -----------------------------------------------------------------------------
def test_staging_carries_tags_custom_fields_and_the_owner_by_email(world: World) -> None:
    dataset, con, deleted = world
    staged = staged_parties(con)
    parties = live_parties(dataset, deleted)
    users = {u["id"]: u for u in dataset.capsule_users}
    for party_id, party in parties.items():
        row = staged[party_id]
        assert row["tags"] == [t["name"] for t in party["tags"]]
        fields: dict[str, str] = {}
        for f in party["fields"]:
            value = f["value"]
            text = json.dumps(value) if isinstance(value, bool) else str(value)
            fields.setdefault(f["definition"]["name"].strip().lower(), text)
        assert dict(row["custom_fields"]) == fields
        owner = party["owner"]
        if owner is None:
            assert row["owner_email"] is None and row["owner_name"] is None
        else:
            user_party = parties[users[owner["id"]]["party"]["id"]]
            assert row["owner_name"] == owner["name"]
            assert row["owner_email"] == xero.first_valid_email(user_party).lower()


def test_staging_carries_xero_websites_balances_and_phone_parts_joined(world: World) -> None:
    dataset, con, _ = world
    rows = {
        r["contact_id"]: r
        for r in _rows(
            con, "select contact_id, website, balance_outstanding, phone_default from staging.xero_contacts"
        )
    }
    for contact in dataset.xero_contacts:
        row = rows[contact["ContactID"]]
        assert row["website"] == contact.get("Website")
        balances = contact.get("Balances")
        owed = (
            balances["AccountsReceivable"]["Outstanding"] + balances["AccountsPayable"]["Outstanding"]
            if balances
            else 0
        )
        assert float(row["balance_outstanding"]) == pytest.approx(owed, abs=0.01)
        default = next(p for p in contact["Phones"] if p["PhoneType"] == "DEFAULT")
        if default["PhoneAreaCode"]:  # hand-made: area code and local number typed apart
            area = re.sub(r"\D", "", default["PhoneAreaCode"]).lstrip("0")
            assert row["phone_default"] == "+61" + area + re.sub(r"\D", "", default["PhoneNumber"])
    (with_balance,) = dataset.cases["deleted_party_synced_with_repeating_invoice"][:1]
    assert rows[with_balance[1]]["balance_outstanding"] > 0
