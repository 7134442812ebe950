"""Every documented case exists, points at the right records, and really is what CASES.md says."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from sandbox.generator import CASES, CONTACT_NUMBER_PREFIX, Dataset
from sandbox.generator import abn as abns
from sandbox.generator.capsule import DEF_ABN, DEF_XERO_ID
from sandbox.generator.cases import ROLE_RATES
from sandbox.generator.phones import CLEAN_FORMATS, to_e164
from sandbox.generator.text import fold_name
from sandbox.generator.words import FREE_MAIL_DOMAINS
from sandbox.generator.xero import desired_contact, is_plausible_email
from tests.sandbox.generator.invariants import check_cases, field_value, ts

CASES_MD = Path(__file__).resolve().parents[3] / "sandbox" / "generator" / "CASES.md"


class World:
    """Look-ups over one dataset."""

    def __init__(self, ds: Dataset) -> None:
        self.ds = ds
        self.party = {p["id"]: p for p in ds.capsule_parties}
        self.contact = {c["ContactID"]: c for c in ds.xero_contacts}
        self.deleted = {d["id"]: d for d in ds.capsule_deleted_parties}
        self.people: dict[int, list[dict[str, Any]]] = {}
        for p in ds.capsule_parties:
            if p["type"] == "person" and p["organisation"]:
                self.people.setdefault(p["organisation"]["id"], []).append(p)

    def name(self, party_id: int) -> str:
        p = self.party[party_id]
        return p["name"] if p["type"] == "organisation" else f"{p['firstName']} {p['lastName']}"

    def emails(self, party_id: int) -> list[str]:
        return [e["address"] for e in self.party[party_id]["emailAddresses"]]

    def written(self, contact_id: str) -> dict[str, Any]:
        return self.ds.xero_written_by_previous_sync[contact_id]


@pytest.fixture(scope="module")
def w(ds1k: Dataset) -> World:
    return World(ds1k)


def domain(email: str) -> str:
    return email.rsplit("@", 1)[1].casefold()


def comparable(contact: dict[str, Any]) -> dict[str, Any]:
    """The fields the mapping controls, in desired_contact's vocabulary."""
    return {
        "ContactNumber": contact.get("ContactNumber"),
        "Name": contact["Name"],
        "FirstName": contact.get("FirstName"),
        "LastName": contact.get("LastName"),
        "EmailAddress": contact.get("EmailAddress"),
        "TaxNumber": contact.get("TaxNumber"),
        "Addresses": contact["Addresses"],
        "Phones": contact["Phones"],
        "ContactPersons": contact["ContactPersons"],
    }


def desired(w: World, party_id: int) -> dict[str, Any]:
    d = desired_contact(w.party[party_id], w.people.get(party_id, []))
    from sandbox.generator.xero import empty_address

    return {
        "ContactNumber": d["ContactNumber"],
        "Name": d["Name"],
        "FirstName": d.get("FirstName"),
        "LastName": d.get("LastName"),
        "EmailAddress": d.get("EmailAddress"),
        "TaxNumber": d.get("TaxNumber"),
        "Addresses": [d["street"] or empty_address("STREET"), d["pobox"] or empty_address("POBOX")],
        "Phones": d["phone_list"],
        "ContactPersons": d["persons"],
    }


# -- the catalogue ------------------------------------------------------------------------------------
@pytest.mark.parametrize("case", sorted(CASES))
def test_every_documented_case_is_present_at_a_thousand_parties(ds1k: Dataset, case: str) -> None:
    assert ds1k.cases[case], f"{case} is empty at 1,000 parties"


def test_case_ids_exist_in_the_lists_their_shape_names(ds1k: Dataset, ds10k: Dataset) -> None:
    check_cases(ds1k)
    check_cases(ds10k)


def test_cases_md_documents_every_case_and_nothing_else() -> None:
    text = CASES_MD.read_text()
    documented = set(re.findall(r"^\| `([a-z0-9_]+)` \|", text, flags=re.M))
    assert documented == set(CASES)


def test_built_cases_appear_in_their_documented_proportion_at_ten_thousand(ds10k: Dataset) -> None:
    for case, rate in ROLE_RATES.items():
        assert len(ds10k.cases[case]) == round(rate * 10), case


# -- the earlier sync --------------------------------------------------------------------------------
def test_in_sync_contacts_equal_the_mapping_of_their_party_and_what_was_written(w: World) -> None:
    for party_id, contact_id in w.ds.cases["synced_in_sync"]:
        contact = w.contact[contact_id]
        assert contact["ContactNumber"] == f"{CONTACT_NUMBER_PREFIX}{party_id}"
        assert field_value(w.party[party_id], DEF_XERO_ID) == contact_id
        assert comparable(contact) == desired(w, party_id)
        assert comparable(w.written(contact_id)) == comparable(contact)
        assert (
            w.ds.previous_sync_at <= contact["UpdatedDateUTC"] <= w.ds.previous_sync_at + timedelta(hours=1)
        )


def test_synced_parties_have_clean_data(w: World) -> None:
    synced = [pair[0] for case in ("synced_in_sync", "synced_xero_changed") for pair in w.ds.cases[case]]
    for party_id in synced:
        party = w.party[party_id]
        assert all(is_plausible_email(e) for e in w.emails(party_id))
        assert all(to_e164(p["number"]) for p in party["phoneNumbers"])
        abn = field_value(party, DEF_ABN)
        assert abn is None or abns.is_valid(abn)


def test_capsule_changes_after_the_sync_are_newer_than_the_xero_contact(w: World) -> None:
    sync_end = w.ds.previous_sync_at + timedelta(hours=1)
    for party_id, contact_id in w.ds.cases["synced_capsule_changed"]:
        contact, party = w.contact[contact_id], w.party[party_id]
        assert ts(party["updatedAt"]) > sync_end
        assert contact["UpdatedDateUTC"] < sync_end
        assert comparable(contact) == comparable(w.written(contact_id))


def test_xero_changes_after_the_sync_are_newer_than_capsule(w: World) -> None:
    sync_end = w.ds.previous_sync_at + timedelta(hours=1)
    for party_id, contact_id in w.ds.cases["synced_xero_changed"]:
        contact, party = w.contact[contact_id], w.party[party_id]
        assert contact["UpdatedDateUTC"] > sync_end > ts(party["updatedAt"])
        assert comparable(contact) != comparable(w.written(contact_id)), "Xero really changed"
        assert desired(w, party_id) == comparable(w.written(contact_id)), "Capsule did not"


@pytest.mark.parametrize("later", ["xero", "capsule"])
def test_both_sides_changed_the_email_and_the_timestamps_say_who_was_later(w: World, later: str) -> None:
    for party_id, contact_id in w.ds.cases[f"conflict_both_changed_{later}_later"]:
        contact, party = w.contact[contact_id], w.party[party_id]
        written = w.written(contact_id)["EmailAddress"]
        assert contact["EmailAddress"] != written and desired(w, party_id)["EmailAddress"] != written
        assert contact["EmailAddress"] != desired(w, party_id)["EmailAddress"]
        xero_time, capsule_time = contact["UpdatedDateUTC"], ts(party["updatedAt"])
        assert (xero_time > capsule_time) == (later == "xero")


def test_a_person_who_joined_after_the_sync_is_missing_from_contact_persons(w: World) -> None:
    for org_id, contact_id, person_id in w.ds.cases["synced_org_new_person"]:
        person = w.party[person_id]
        assert person["organisation"]["id"] == org_id
        assert ts(person["createdAt"]) > w.ds.previous_sync_at
        assert ts(w.party[org_id]["updatedAt"]) < w.ds.previous_sync_at + timedelta(hours=1)
        names = {(p["FirstName"], p["LastName"]) for p in w.contact[contact_id]["ContactPersons"]}
        assert (person["firstName"], person["lastName"]) in {
            (p["FirstName"], p["LastName"]) for p in desired(w, org_id)["ContactPersons"]
        }
        assert len(names) < len(desired(w, org_id)["ContactPersons"])


def test_a_crossref_that_was_never_written_back_leaves_only_the_contact_number(w: World) -> None:
    for party_id, contact_id in w.ds.cases["synced_crossref_missing_in_capsule"]:
        assert field_value(w.party[party_id], DEF_XERO_ID) is None
        assert w.contact[contact_id]["ContactNumber"] == f"{CONTACT_NUMBER_PREFIX}{party_id}"


def test_a_synced_contact_archived_in_xero_is_archived_after_the_sync(w: World) -> None:
    for party_id, contact_id in w.ds.cases["xero_archived_synced_contact"]:
        contact = w.contact[contact_id]
        assert contact["ContactStatus"] == "ARCHIVED" and contact["UpdatedDateUTC"] > w.ds.previous_sync_at
        assert party_id in w.party


def test_a_stale_xero_contact_id_points_at_no_contact(w: World) -> None:
    numbers = {c.get("ContactNumber") for c in w.ds.xero_contacts}
    for party_id in w.ds.cases["stale_xero_contact_id"]:
        stale = field_value(w.party[party_id], DEF_XERO_ID)
        assert stale and stale not in w.contact
        assert f"{CONTACT_NUMBER_PREFIX}{party_id}" not in numbers


# -- deletions --------------------------------------------------------------------------------------
def test_deleted_parties_are_tombstones_only(w: World) -> None:
    numbers = {c.get("ContactNumber") for c in w.ds.xero_contacts}
    for party_id in w.ds.cases["deleted_party"]:
        assert party_id in w.deleted and party_id not in w.party
        assert f"{CONTACT_NUMBER_PREFIX}{party_id}" not in numbers


@pytest.mark.parametrize(
    ("case", "status"),
    [
        ("deleted_party_synced", "ACTIVE"),
        ("deleted_party_synced_already_archived", "ARCHIVED"),
        ("deleted_party_synced_with_repeating_invoice", "ACTIVE"),
    ],
)
def test_deleted_parties_an_earlier_sync_wrote_still_have_their_contact(
    w: World, case: str, status: str
) -> None:
    for party_id, contact_id in w.ds.cases[case]:
        contact = w.contact[contact_id]
        assert party_id in w.deleted and party_id not in w.party
        assert contact["ContactNumber"] == f"{CONTACT_NUMBER_PREFIX}{party_id}"
        assert contact["ContactStatus"] == status
        assert ts(w.deleted[party_id]["deletedAt"]) > w.ds.previous_sync_at
        billed = case == "deleted_party_synced_with_repeating_invoice"
        assert ("Balances" in contact) == billed
        invoices = [i for i in w.ds.xero_repeating_invoices if i["Contact"]["ContactID"] == contact_id]
        assert [i["Status"] for i in invoices] == (["AUTHORISED"] if billed else [])


# -- hand-made contacts near Capsule parties -----------------------------------------------------------------
def test_abn_matches_share_the_digits_and_nothing_stronger(w: World) -> None:
    for case in ("xero_match_abn", "xero_match_abn_formatted_differently"):
        for party_id, contact_id in w.ds.cases[case]:
            contact = w.contact[contact_id]
            capsule_abn = field_value(w.party[party_id], DEF_ABN)
            assert abns.digits_of(capsule_abn) == abns.digits_of(contact["TaxNumber"])
            assert (capsule_abn == contact["TaxNumber"]) == (case == "xero_match_abn")
            assert "ContactNumber" not in contact
            assert fold_name(contact["Name"]) != fold_name(w.name(party_id))


def test_email_domain_matches_share_a_non_free_domain_but_not_the_abn_or_name(w: World) -> None:
    for party_id, contact_id in w.ds.cases["xero_match_email_domain"]:
        contact = w.contact[contact_id]
        domains = {domain(e) for e in w.emails(party_id)}
        assert domain(contact["EmailAddress"]) in domains and domains.isdisjoint(FREE_MAIL_DOMAINS)
        assert "TaxNumber" not in contact
        assert fold_name(contact["Name"]) != fold_name(w.name(party_id))


def test_person_email_matches_share_the_address_up_to_case(w: World) -> None:
    for party_id, contact_id in w.ds.cases["xero_match_email_person"]:
        contact = w.contact[contact_id]
        assert w.party[party_id]["organisation"] is None
        assert contact["EmailAddress"].casefold() in {e.casefold() for e in w.emails(party_id)}
    assert any(
        w.contact[c]["EmailAddress"] not in w.emails(p) for p, c in w.ds.cases["xero_match_email_person"]
    ), "some differ in case"


@pytest.mark.parametrize(
    "case",
    [
        "xero_match_name_exact",
        "xero_match_name_person",
        "name_variant_case",
        "name_variant_legal_suffix",
        "name_variant_ampersand",
        "name_variant_accents",
    ],
)
def test_name_matches_fold_equal_and_share_nothing_else(w: World, case: str) -> None:
    for party_id, contact_id in w.ds.cases[case]:
        contact, capsule_name = w.contact[contact_id], w.name(party_id)
        assert fold_name(contact["Name"]) == fold_name(capsule_name)
        assert (contact["Name"] == capsule_name) == (
            case in ("xero_match_name_exact", "xero_match_name_person")
        )
        assert "TaxNumber" not in contact and "ContactNumber" not in contact
        if contact.get("EmailAddress"):
            assert contact["EmailAddress"] not in w.emails(party_id)
            assert domain(contact["EmailAddress"]) in FREE_MAIL_DOMAINS
        if case == "name_variant_case":
            assert contact["Name"].casefold() == capsule_name.casefold()
        if case == "name_variant_accents":
            assert not capsule_name.isascii() and contact["Name"].isascii()
        if case == "name_variant_ampersand":
            assert ("&" in contact["Name"]) != ("&" in capsule_name)


def test_no_other_xero_contact_folds_to_a_capsule_name_by_accident(w: World) -> None:
    intended = {
        pair[1]
        for case in CASES
        if case.startswith(
            ("xero_match_name", "name_variant", "xero_same_name", "xero_archived_name", "synced", "conflict")
        )
        or case in ("xero_match_email_person", "xero_archived_synced_contact")
        for pair in w.ds.cases[case]
    }
    capsule_folds = {
        fold_name(w.name(p["id"]))
        for p in w.ds.capsule_parties
        if p["type"] == "organisation" or p["organisation"] is None
    }
    for contact in w.ds.xero_contacts:
        if contact["ContactID"] not in intended:
            assert fold_name(contact["Name"]) not in capsule_folds, contact["Name"]


def test_same_name_different_company_in_xero_has_another_abn_and_state(w: World) -> None:
    for party_id, contact_id in w.ds.cases["xero_same_name_different_company"]:
        party, contact = w.party[party_id], w.contact[contact_id]
        assert contact["Name"] == party["name"] and contact["ContactStatus"] == "ACTIVE"
        assert abns.is_valid(contact["TaxNumber"]) and abns.is_valid(field_value(party, DEF_ABN))
        assert abns.digits_of(contact["TaxNumber"]) != abns.digits_of(field_value(party, DEF_ABN))
        assert contact["Addresses"][0]["Region"] not in {a["state"] for a in party["addresses"]}


def test_archived_name_collisions_are_archived_and_have_no_active_twin(w: World) -> None:
    active = {c["Name"] for c in w.ds.xero_contacts if c["ContactStatus"] == "ACTIVE"}
    for party_id, contact_id in w.ds.cases["xero_archived_name_collision"]:
        contact = w.contact[contact_id]
        assert contact["ContactStatus"] == "ARCHIVED" and contact["Name"] == w.party[party_id]["name"]
        assert contact["Name"] not in active


def test_duplicate_abns_in_xero_are_two_active_contacts_with_different_names(w: World) -> None:
    for party_id, first_id, second_id in w.ds.cases["xero_duplicate_abn"]:
        first, second = w.contact[first_id], w.contact[second_id]
        digits = abns.digits_of(field_value(w.party[party_id], DEF_ABN))
        assert abns.digits_of(first["TaxNumber"]) == abns.digits_of(second["TaxNumber"]) == digits
        assert first["ContactStatus"] == second["ContactStatus"] == "ACTIVE"
        assert fold_name(first["Name"]) != fold_name(second["Name"])


def test_free_mail_traps_share_only_a_free_mail_domain(w: World) -> None:
    for party_id, contact_id in w.ds.cases["free_mail_domain_trap"]:
        shared = {domain(e) for e in w.emails(party_id)} & {domain(w.contact[contact_id]["EmailAddress"])}
        assert shared and shared <= set(FREE_MAIL_DOMAINS)
        assert party_id in w.ds.cases["capsule_only"]


# -- Xero only ---------------------------------------------------------------------------------------
def test_xero_only_contacts_point_at_no_capsule_party(w: World) -> None:
    capsule_emails = {e["address"].casefold() for p in w.ds.capsule_parties for e in p["emailAddresses"]}
    capsule_abns = {
        abns.digits_of(v) for p in w.ds.capsule_parties if (v := field_value(p, DEF_ABN)) and abns.is_valid(v)
    }
    for case in (
        "xero_only",
        "xero_only_archived",
        "xero_foreign_contact_number",
        "xero_orphan_contact_number",
    ):
        for contact_id in w.ds.cases[case]:
            contact = w.contact[contact_id]
            assert contact.get("EmailAddress", "").casefold() not in capsule_emails
            assert abns.digits_of(contact.get("TaxNumber", "")) not in capsule_abns
            number = contact.get("ContactNumber")
            if case == "xero_foreign_contact_number":
                assert number and not number.startswith(CONTACT_NUMBER_PREFIX)
            elif case == "xero_orphan_contact_number":
                party_id = int(number[len(CONTACT_NUMBER_PREFIX) :])
                assert party_id not in w.party and party_id not in w.deleted
            else:
                assert number is None
    assert all(w.contact[c]["ContactStatus"] == "ARCHIVED" for c in w.ds.cases["xero_only_archived"])


def test_capsule_only_parties_have_no_contact_number_in_xero(w: World) -> None:
    numbers = {c.get("ContactNumber") for c in w.ds.xero_contacts}
    assert w.ds.cases["capsule_only"]
    for party_id in w.ds.cases["capsule_only"]:
        party = w.party[party_id]
        assert party["type"] == "organisation" or party["organisation"] is None
        assert f"{CONTACT_NUMBER_PREFIX}{party_id}" not in numbers


# -- Capsule structure and quality -------------------------------------------------------------------------
def test_same_company_twice_shares_an_abn_under_name_variants(w: World) -> None:
    for first, second in w.ds.cases["same_company_twice"]:
        a, b = w.party[first], w.party[second]
        assert abns.digits_of(field_value(a, DEF_ABN)) == abns.digits_of(field_value(b, DEF_ABN))
        assert a["name"] != b["name"] and fold_name(a["name"]) == fold_name(b["name"])


def test_same_name_different_company_differs_in_abn_and_state(w: World) -> None:
    for first, second in w.ds.cases["same_name_different_company"]:
        a, b = w.party[first], w.party[second]
        assert abns.digits_of(field_value(a, DEF_ABN)) != abns.digits_of(field_value(b, DEF_ABN))
        assert {x["state"] for x in a["addresses"]}.isdisjoint({x["state"] for x in b["addresses"]})


def test_large_organisations_have_more_than_five_people(w: World) -> None:
    for org_id in w.ds.cases["org_more_than_five_people"]:
        assert len(w.people[org_id]) > 5


def test_people_with_and_without_organisations_are_as_recorded(w: World) -> None:
    for party_id in w.ds.cases["person_with_organisation"]:
        assert w.party[party_id]["organisation"] is not None
    for party_id in w.ds.cases["person_without_organisation"]:
        assert w.party[party_id]["type"] == "person" and w.party[party_id]["organisation"] is None


@pytest.mark.parametrize("case", ["free_mail_person", "free_mail_organisation"])
def test_free_mail_cases_use_free_mail_domains(w: World, case: str) -> None:
    for party_id in w.ds.cases[case]:
        assert any(domain(e) in FREE_MAIL_DOMAINS for e in w.emails(party_id))
    found = {domain(e) for p in w.ds.cases[case] for e in w.emails(p)} & set(FREE_MAIL_DOMAINS)
    assert len(found) >= 5


def test_unicode_names_carry_accents_cjk_vietnamese_and_macrons(w: World) -> None:
    names = [w.name(p) for p in w.ds.cases["unicode_name"]]
    assert all(not n.isascii() for n in names)
    text = " ".join(names)
    assert re.search(r"[\u4e00-\u9fff\uac00-\ud7af]", text), "CJK or Hangul"
    assert re.search(r"[āēīōū]", text.lower()) or re.search(r"[ễạặđ]", text.lower())


def test_over_long_names_are_longer_than_xero_allows(w: World) -> None:
    assert all(len(w.name(p)) > 255 for p in w.ds.cases["over_long_name"])


def test_bad_emails_are_all_implausible(w: World) -> None:
    for party_id in w.ds.cases["bad_email"]:
        assert any(not is_plausible_email(e) for e in w.emails(party_id))
    good = [
        e
        for p in w.ds.capsule_parties
        if p["id"] not in set(w.ds.cases["bad_email"])
        for e in w.emails(p["id"])
    ]
    assert all(is_plausible_email(e) for e in good)


@pytest.mark.parametrize("label", CLEAN_FORMATS)
def test_clean_phone_formats_read_as_australian_e164(w: World, label: str) -> None:
    for party_id in w.ds.cases[f"phone_{label}"]:
        assert any(
            (e := to_e164(p["number"])) and re.fullmatch(r"\+61[2-478]\d{8}", e)
            for p in w.party[party_id]["phoneNumbers"]
        )


def test_ambiguous_and_garbage_phones_do_not_read_as_e164(w: World) -> None:
    for case in ("phone_garbage", "phone_landline_no_area_code", "phone_local_rate_13", "phone_overseas"):
        for party_id in w.ds.cases[case]:
            assert any(to_e164(p["number"]) is None for p in w.party[party_id]["phoneNumbers"])


def test_owner_email_pairs_match_up_to_case(w: World) -> None:
    users = {u["id"]: u for u in w.ds.capsule_users}
    xusers = {u["UserID"]: u for u in w.ds.xero_users}
    for user_id, xuser_id in w.ds.cases["owner_matched_xero_user"]:
        email = w.emails(users[user_id]["party"]["id"])[0]
        assert xusers[xuser_id]["EmailAddress"].casefold() == email.casefold()
        differs = (user_id, xuser_id) in w.ds.cases["owner_email_case_differs"]
        assert (xusers[xuser_id]["EmailAddress"] != email) == differs
