"""The catalogue of messy-data cases: names, what their ids are, and how often the generator makes them.

``ROLE_RATES`` are *units per 1,000 parties* for the cases built on purpose (a unit is one organisation
with its people, one person, one tombstone or one Xero contact). Each block of up to 1,000 parties makes
``round(rate × block / 1000)`` units, at least one when the block has ``MIN_BLOCK_FOR_ALL_CASES`` parties
or more, so every case appears from 200 parties up. ``FILLER_*`` are exact shares of the remaining
("background") parties, assigned by shuffling a label list — never left to chance.
CASES.md explains every case and what a correct sync does with it.
"""

from __future__ import annotations

MIN_BLOCK_FOR_ALL_CASES = 200

# Built on purpose, in this order (deleted ones first: they need no party budget).
ROLE_RATES: dict[str, float] = {
    "deleted_party_synced": 4,
    "deleted_party_synced_already_archived": 2,
    "deleted_party_synced_with_repeating_invoice": 1,
    "deleted_party": 20,
    "synced_in_sync": 60,
    "synced_capsule_changed": 10,
    "synced_xero_changed": 10,
    "conflict_both_changed_xero_later": 3,
    "conflict_both_changed_capsule_later": 3,
    "synced_org_new_person": 2,
    "synced_crossref_missing_in_capsule": 3,
    "xero_archived_synced_contact": 2,
    "stale_xero_contact_id": 2,
    "xero_match_abn": 20,
    "xero_match_abn_formatted_differently": 8,
    "xero_match_email_domain": 10,
    "xero_match_email_person": 10,
    "xero_match_name_exact": 8,
    "xero_match_name_person": 5,
    "name_variant_case": 3,
    "name_variant_legal_suffix": 3,
    "name_variant_ampersand": 3,
    "name_variant_accents": 2,
    "xero_same_name_different_company": 2,
    "xero_archived_name_collision": 3,
    "xero_duplicate_abn": 2,
    "free_mail_domain_trap": 3,
    "same_company_twice": 3,
    "same_name_different_company": 2,
    "org_more_than_five_people": 4,
    "xero_only": 120,
    "xero_only_archived": 25,
    "xero_foreign_contact_number": 2,
    "xero_orphan_contact_number": 1,
}
DELETED_ROLES = (
    "deleted_party_synced",
    "deleted_party_synced_already_archived",
    "deleted_party_synced_with_repeating_invoice",
    "deleted_party",
)

# Exact shares of the background ("filler") parties. Whatever is not listed gets the default label.
FILLER_ORG_ABN = {"plain": 0.15, "odd": 0.04, "invalid_checksum": 0.03, "wrong_length": 0.02, "missing": 0.20}
FILLER_ORG_EMAIL = {"free": 0.08, "bad": 0.02, "none": 0.05}  # default: mailbox at the org's own domain
FILLER_ORG_NAME = {"unicode": 0.03, "long": 0.01}  # default: normal
FILLER_PERSON_NAME = {"unicode": 0.04}
FILLER_PERSON_WITH_ORG_EMAIL = {
    "free": 0.22,
    "none": 0.12,
    "bad": 0.02,
}  # default: work address at org domain
FILLER_PERSON_ALONE_EMAIL = {"own": 0.15, "none": 0.15, "bad": 0.02}  # default: free-mail
FILLER_PHONE = {
    "mobile_international": 0.08,
    "landline_parenthesised": 0.10,
    "landline_spaced": 0.12,
    "landline_dashed": 0.04,
    "landline_international": 0.05,
    "landline_trunk_zero": 0.02,
    "landline_no_area_code": 0.03,
    "local_rate_1300_1800": 0.03,
    "local_rate_13": 0.01,
    "overseas": 0.01,
    "garbage": 0.02,
    "none": 0.15,
}  # default: mobile_local
FILLER_ORG_ADDRESS = {"state_unnormalised": 0.06, "overseas": 0.02, "none": 0.10}  # default: au
FILLER_PERSON_ADDRESS = {"state_unnormalised": 0.02, "overseas": 0.01, "none": 0.60}

PHONE_CASES = tuple(
    f"phone_{label}"
    for label in (
        "mobile_local",
        "mobile_international",
        "landline_parenthesised",
        "landline_spaced",
        "landline_dashed",
        "landline_international",
        "landline_trunk_zero",
        "landline_no_area_code",
        "local_rate_1300_1800",
        "local_rate_13",
        "overseas",
        "garbage",
    )
)

# Every key of ``Dataset.cases``, with the shape of its ids:
#   party = Capsule party id; contact = Xero ContactID; user = Capsule user id; xuser = Xero UserID;
#   tombstone = id in capsule_deleted_parties; (a, b, ...) = tuple.
CASES: dict[str, str] = {
    # ABNs (every organisation is in exactly one of these)
    "abn_valid_spaced": "party",
    "abn_valid_plain": "party",
    "abn_valid_odd_format": "party",
    "abn_invalid_checksum": "party",
    "abn_wrong_length": "party",
    "abn_missing": "party",
    # Capsule structure and quality
    "person_with_organisation": "party",
    "person_without_organisation": "party",
    "org_more_than_five_people": "party",
    "same_company_twice": "(party, party)",
    "same_name_different_company": "(party, party)",
    "free_mail_person": "party",
    "free_mail_organisation": "party",
    "unicode_name": "party",
    "over_long_name": "party",
    "bad_email": "party",
    **{name: "party" for name in PHONE_CASES},
    "address_state_unnormalised": "party",
    "address_overseas": "party",
    "party_without_owner": "party",
    "staff_party": "party",
    "capsule_only": "party",
    # the earlier sync and what happened since
    "synced_in_sync": "(party, contact)",
    "synced_capsule_changed": "(party, contact)",
    "synced_xero_changed": "(party, contact)",
    "conflict_both_changed_xero_later": "(party, contact)",
    "conflict_both_changed_capsule_later": "(party, contact)",
    "synced_org_new_person": "(party, contact, party)",
    "synced_crossref_missing_in_capsule": "(party, contact)",
    "xero_archived_synced_contact": "(party, contact)",
    "stale_xero_contact_id": "party",
    # deletions
    "deleted_party": "tombstone",
    "deleted_party_synced": "(tombstone, contact)",
    "deleted_party_synced_already_archived": "(tombstone, contact)",
    "deleted_party_synced_with_repeating_invoice": "(tombstone, contact)",
    # hand-made Xero contacts that match (or nearly match) a Capsule party
    "xero_match_abn": "(party, contact)",
    "xero_match_abn_formatted_differently": "(party, contact)",
    "xero_match_email_domain": "(party, contact)",
    "xero_match_email_person": "(party, contact)",
    "xero_match_name_exact": "(party, contact)",
    "xero_match_name_person": "(party, contact)",
    "name_variant_case": "(party, contact)",
    "name_variant_legal_suffix": "(party, contact)",
    "name_variant_ampersand": "(party, contact)",
    "name_variant_accents": "(party, contact)",
    "xero_same_name_different_company": "(party, contact)",
    "xero_archived_name_collision": "(party, contact)",
    "xero_duplicate_abn": "(party, contact, contact)",
    "free_mail_domain_trap": "(party, contact)",
    # Xero-only contacts
    "xero_only": "contact",
    "xero_only_archived": "contact",
    "xero_foreign_contact_number": "contact",
    "xero_orphan_contact_number": "contact",
    # owners and users
    "owner_matched_xero_user": "(user, xuser)",
    "owner_email_case_differs": "(user, xuser)",
    "owner_without_xero_user": "user",
    "xero_user_without_capsule_user": "xuser",
}
