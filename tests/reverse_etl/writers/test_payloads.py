"""Building Xero contact JSON from canonical operation rows (no server)."""

from __future__ import annotations

import json

import pytest

from reverse_etl.writers.payloads import ContactOperation, PayloadError, contact_element, format_abn
from transform import normalise

STREET = json.dumps(
    {
        "lines": ["Level 3", "100 George St", "Suite 2", "Rear entrance", "Via the lane"],
        "city": "Sydney",
        "region": "NSW",
        "postal_code": "2000",
        "country": "Australia",
    }
)
PEOPLE = json.dumps(
    [
        {"first_name": "Ada", "last_name": "Lovelace", "email_address": "ada@example.com.au"},
        {"first_name": "Alan", "last_name": "Turing", "email_address": None},
    ]
)


def test_a_create_carries_the_contact_number_and_only_the_fields_that_have_values() -> None:
    operation = ContactOperation(
        "create",
        42,
        "CAP-42",
        {"name": "Acme Pty Ltd", "email_address": "accounts@acme.com.au", "phone_fax": None, "website": "x"},
    )
    element = contact_element(operation)
    assert element == {
        "ContactNumber": "CAP-42",
        "Name": "Acme Pty Ltd",
        "EmailAddress": "accounts@acme.com.au",
    }


def test_an_update_clears_a_field_carried_as_null_and_leaves_absent_fields_out() -> None:
    operation = ContactOperation(
        "update", 7, "CAP-7", {"email_address": None, "phone_mobile": None}, contact_id="c-7"
    )
    element = contact_element(operation)
    assert element["ContactID"] == "c-7"
    assert element["EmailAddress"] == ""
    assert element["Phones"] == [
        {"PhoneType": "MOBILE", "PhoneNumber": "", "PhoneAreaCode": "", "PhoneCountryCode": ""}
    ]
    assert "Name" not in element and "Addresses" not in element and "ContactPersons" not in element


def test_the_abn_is_sent_grouped_and_reads_back_as_the_same_digits() -> None:
    operation = ContactOperation("create", 1, "CAP-1", {"name": "A", "tax_number": "51824753556"})
    sent = contact_element(operation)["TaxNumber"]
    assert sent == "51 824 753 556"
    assert normalise.abn(sent) == "51824753556"
    assert format_abn("not an abn") == "not an abn"


def test_an_e164_phone_goes_whole_into_phone_number_and_reads_back_unchanged() -> None:
    operation = ContactOperation("create", 1, "CAP-1", {"name": "A", "phone_default": "+61298765432"})
    (phone,) = contact_element(operation)["Phones"]
    assert phone == {
        "PhoneType": "DEFAULT",
        "PhoneNumber": "+61298765432",
        "PhoneAreaCode": "",
        "PhoneCountryCode": "",
    }
    assert normalise.phone_e164(phone["PhoneNumber"]) == "+61298765432"


def test_an_address_fills_four_lines_and_keeps_a_fifth_on_the_fourth() -> None:
    operation = ContactOperation("create", 1, "CAP-1", {"name": "A", "street_address": STREET})
    (address,) = contact_element(operation)["Addresses"]
    assert address["AddressType"] == "STREET"
    assert [address[f"AddressLine{n}"] for n in range(1, 5)] == [
        "Level 3",
        "100 George St",
        "Suite 2",
        "Rear entrance, Via the lane",
    ]
    assert (address["City"], address["Region"], address["PostalCode"], address["Country"]) == (
        "Sydney",
        "NSW",
        "2000",
        "Australia",
    )


def test_contact_persons_are_always_the_whole_list_and_an_empty_list_clears_them() -> None:
    operation = ContactOperation("update", 1, "CAP-1", {"contact_persons": PEOPLE}, contact_id="c-1")
    assert contact_element(operation)["ContactPersons"] == [
        {"FirstName": "Ada", "LastName": "Lovelace", "EmailAddress": "ada@example.com.au"},
        {"FirstName": "Alan", "LastName": "Turing"},
    ]
    cleared = ContactOperation("update", 1, "CAP-1", {"contact_persons": None}, contact_id="c-1")
    assert contact_element(cleared)["ContactPersons"] == []


def test_an_archive_sends_only_the_status_and_a_restore_may_carry_changes() -> None:
    archive = ContactOperation("archive", 1, "CAP-1", {"name": "ignored"}, contact_id="c-1")
    assert contact_element(archive) == {"ContactID": "c-1", "ContactStatus": "ARCHIVED"}
    restore = ContactOperation("restore", 1, "CAP-1", {"email_address": "a@b.com.au"}, contact_id="c-1")
    assert contact_element(restore) == {
        "ContactID": "c-1",
        "ContactNumber": "CAP-1",
        "ContactStatus": "ACTIVE",
        "EmailAddress": "a@b.com.au",
    }


@pytest.mark.parametrize(
    ("op", "contact_id", "fields", "problem"),
    [
        ("create", "c-1", {}, "cannot carry a ContactID"),
        ("update", None, {}, "needs the ContactID"),
        ("delete", "c-1", {}, "unknown operation"),
        ("create", None, {"colour": "red"}, "unknown field"),
    ],
)
def test_an_operation_that_cannot_be_sent_is_refused_when_it_is_made(
    op: str, contact_id: str | None, fields: dict[str, str], problem: str
) -> None:
    with pytest.raises(PayloadError, match=problem):
        ContactOperation(op, 1, "CAP-1", fields, contact_id=contact_id)  # type: ignore[arg-type]


def test_contact_persons_that_are_not_json_are_refused_with_the_party() -> None:
    operation = ContactOperation("create", 9, "CAP-9", {"name": "A", "contact_persons": "[oops"})
    with pytest.raises(PayloadError, match="party 9: contact_persons"):
        contact_element(operation)
