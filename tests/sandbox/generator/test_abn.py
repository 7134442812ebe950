"""ABNs: the ABR checksum, and every ABN the generator writes is exactly as valid as its case says."""

from __future__ import annotations

import random

import pytest

from sandbox.generator import Dataset
from sandbox.generator import abn as abns
from sandbox.generator.capsule import DEF_ABN
from tests.sandbox.generator.invariants import field_value


def abn_of(ds: Dataset, party_id: int) -> str:
    party = next(p for p in ds.capsule_parties if p["id"] == party_id)
    return field_value(party, DEF_ABN)


@pytest.mark.parametrize("value", ["51 824 753 556", "51824753556", "ABN 51-824-753-556", "90 551 661 605"])
def test_published_example_abns_pass_the_checksum_in_any_format(value: str) -> None:
    assert abns.is_valid(value)


@pytest.mark.parametrize(
    "value", ["51 824 753 557", "51 824 753 55", "051 824 753 556", "", "ABN", "01 824 753 556"]
)
def test_altered_or_malformed_abns_fail(value: str) -> None:
    assert not abns.is_valid(value)


def test_made_abns_are_valid_and_changing_any_one_digit_breaks_them() -> None:
    rng = random.Random(1)
    for _ in range(2000):
        digits = abns.make_valid(rng)
        assert len(digits) == 11 and abns.is_valid(digits)
        position = rng.randrange(1, 11)
        changed = (
            digits[:position]
            + str((int(digits[position]) + rng.randrange(1, 10)) % 10)
            + digits[position + 1 :]
        )
        assert not abns.is_valid(changed)
        assert not abns.is_valid(abns.make_invalid_checksum(rng))
        assert len(abns.digits_of(abns.wrong_length(rng))) != 11


def test_every_valid_abn_in_the_dataset_passes_the_checksum(ds1k: Dataset) -> None:
    for case in ("abn_valid_spaced", "abn_valid_plain", "abn_valid_odd_format"):
        assert ds1k.cases[case]
        for party_id in ds1k.cases[case]:
            assert abns.is_valid(abn_of(ds1k, party_id)), (case, abn_of(ds1k, party_id))


def test_valid_abns_are_formatted_as_their_case_says(ds1k: Dataset) -> None:
    for party_id in ds1k.cases["abn_valid_spaced"]:
        value = abn_of(ds1k, party_id)
        assert value == abns.spaced(abns.digits_of(value))
    for party_id in ds1k.cases["abn_valid_plain"]:
        assert abn_of(ds1k, party_id).isdigit()
    for party_id in ds1k.cases["abn_valid_odd_format"]:
        value = abn_of(ds1k, party_id)
        assert not value.isdigit() and value != abns.spaced(abns.digits_of(value))


def test_every_invalid_checksum_abn_has_eleven_digits_and_fails(ds1k: Dataset) -> None:
    assert ds1k.cases["abn_invalid_checksum"]
    for party_id in ds1k.cases["abn_invalid_checksum"]:
        value = abn_of(ds1k, party_id)
        assert len(abns.digits_of(value)) == 11 and not abns.is_valid(value)


def test_every_wrong_length_abn_has_other_than_eleven_digits(ds1k: Dataset) -> None:
    assert ds1k.cases["abn_wrong_length"]
    for party_id in ds1k.cases["abn_wrong_length"]:
        value = abn_of(ds1k, party_id)
        assert len(abns.digits_of(value)) != 11 and not abns.is_valid(value)


def test_organisations_in_abn_missing_have_no_abn_field(ds1k: Dataset) -> None:
    for party_id in ds1k.cases["abn_missing"]:
        assert abn_of(ds1k, party_id) is None


def test_every_xero_tax_number_is_a_valid_abn(ds1k: Dataset) -> None:
    tax_numbers = [c["TaxNumber"] for c in ds1k.xero_contacts if "TaxNumber" in c]
    assert tax_numbers
    assert all(abns.is_valid(t) for t in tax_numbers)


def test_valid_abns_are_unique_except_where_a_case_shares_one(ds1k: Dataset) -> None:
    shared = {p for pair in ds1k.cases["same_company_twice"] for p in pair}
    seen: dict[str, int] = {}
    for party in ds1k.capsule_parties:
        value = field_value(party, DEF_ABN)
        if party["id"] in shared or value is None or not abns.is_valid(value):
            continue
        digits = abns.digits_of(value)
        assert digits not in seen, (seen.get(digits), party["id"])
        seen[digits] = party["id"]
