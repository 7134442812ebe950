"""Name folding, transliteration and phone reading used to build (and check) the cases."""

from __future__ import annotations

import random

import pytest

from sandbox.generator import phones
from sandbox.generator.text import ascii_fold, email_local, fold_name, iso, parse_iso, slug


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Harbourside Joinery Pty Ltd", "HARBOURSIDE JOINERY PTY. LIMITED"),
        ("Smith & Sons Plumbing", "Smith and Sons Plumbing"),
        ("Café Ōtautahi", "Cafe Otautahi"),
        ("Nguyễn Đông Á Trading", "Nguyen Dong A Trading"),
        ("  Blue Gum  Electrical ", "blue gum electrical"),
    ],
)
def test_name_variants_fold_equal(a: str, b: str) -> None:
    assert fold_name(a) == fold_name(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [("Smith Plumbing", "Smith Electrical"), ("李 伟", "王 静"), ("Blue Gum Plumbing", "Bluegum Plumbing")],
)
def test_different_names_fold_apart(a: str, b: str) -> None:
    assert fold_name(a) != fold_name(b)


def test_transliteration_slugs_and_email_locals_are_ascii() -> None:
    assert ascii_fold("Søren Østergaard Đặng") == "Soren Ostergaard Dang"
    assert slug("Smith & Sons Pty Ltd") == "smithsons"
    assert email_local("O'Brien") == "obrien" and email_local("van der Berg") == "vanderberg"


def test_capsule_timestamps_round_trip() -> None:
    assert iso(parse_iso("2025-03-04T02:15:09Z")) == "2025-03-04T02:15:09Z"


@pytest.mark.parametrize(
    ("number", "e164"),
    [
        ("0412 345 678", "+61412345678"),
        ("+61 412 345 678", "+61412345678"),
        ("0061 412 345 678", "+61412345678"),
        ("(02) 9876 5432", "+61298765432"),
        ("02-9876-5432", "+61298765432"),
        ("+61 2 9876 5432", "+61298765432"),
        ("+61 (0)2 9876 5432", "+61298765432"),
        ("+61 (02) 9876 5432", "+61298765432"),
        ("9876 5432", None),
        ("1300 123 456", None),
        ("13 12 34", None),
        ("+64 9 555 1234", None),
        ("N/A", None),
        ("0412 345", None),
    ],
)
def test_phone_numbers_read_as_e164_only_when_unambiguous(number: str, e164: str | None) -> None:
    assert phones.to_e164(number) == e164


@pytest.mark.parametrize("label", phones.FORMATS)
def test_every_phone_format_can_be_made_and_clean_ones_read_back(label: str) -> None:
    rng = random.Random(label)
    for state in ("NSW", "VIC", "QLD", "WA", "NT", None):
        number = phones.make(rng, label, state)
        assert number and len(number) <= 50
        if label in phones.CLEAN_FORMATS:
            assert phones.to_e164(number) is not None
