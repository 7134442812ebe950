"""The planned-row rules (transform/planned_rejects.py): the last guard before a write, one rule per thing Xero
states it refuses (docs/api-facts.md#xero-errors, docs/api-facts.md#xero-contact-fields-and-limits), each reject naming its rule and field."""

from __future__ import annotations

import json
import re
from typing import Any

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from transform import normalise
from transform.planned_rejects import CANONICAL_EMAIL, _address_fits, _json_rule, _persons_fit, reject_planned

ADDRESS = {
    "lines": ["12 Dock Rd"],
    "city": "Balmain",
    "region": "NSW",
    "postal_code": "2041",
    "country": "Australia",
}
PERSON = {"first_name": "Mia", "last_name": "Nguyen", "email_address": "mia@harbourjoinery.com.au"}


def planned(party_id: int, **values: Any) -> dict[str, Any]:
    """A create Xero takes, with ``values`` changed."""
    row: dict[str, Any] = {
        "operation": "create",
        "party_id": party_id,
        "contact_id": None,
        "name": f"Harbour Joinery {party_id} Pty Ltd",
        "first_name": None,
        "last_name": None,
        "email_address": "accounts@harbourjoinery.com.au",
        "contact_number": f"CAP-{party_id}",
        "phone_default": "+61295504412",
        "phone_mobile": None,
        "phone_fax": None,
        "tax_number": "51824753556",
        "street_address": json.dumps(ADDRESS),
        "postal_address": None,
        "contact_persons": json.dumps([PERSON]),
    }
    return row | values


def rejected(*rows: dict[str, Any]) -> set[tuple[int, str, str]]:
    frame = pd.DataFrame(list(rows)).astype({"party_id": "int64"})
    rejects, drift = reject_planned(frame)
    assert drift == []
    return {(r.party_id, r.rule, r.field) for r in rejects.itertuples()}


def test_a_write_xero_takes_passes_every_rule() -> None:
    assert (
        rejected(planned(1), planned(2, operation="update", contact_id="c-2", street_address=None)) == set()
    )


def test_a_name_with_angle_brackets_or_spaces_xero_refuses_is_held_back_by_name() -> None:
    assert rejected(
        planned(3, name="Acme <Wholesale> Pty Ltd"),
        planned(4, name=" Acme Pty Ltd"),
        planned(5, name="Acme  Pty Ltd"),
    ) == {
        (3, "name_has_no_angle_brackets", "name"),
        (4, "name_has_no_outer_or_repeated_spaces", "name"),
        (5, "name_has_no_outer_or_repeated_spaces", "name"),
    }


def test_an_email_xero_refuses_is_held_back_for_the_contact_and_for_a_person() -> None:
    assert rejected(
        planned(6, email_address="accounts@harbour"),
        planned(7, contact_persons=json.dumps([PERSON | {"email_address": "zoë@brandt.de"}])),
    ) == {(6, "email_address_is_valid", "email_address"), (7, "contact_persons_fit_xero", "contact_persons")}


def test_a_country_that_is_not_letters_or_an_over_long_address_part_is_held_back() -> None:
    assert rejected(
        planned(8, street_address=json.dumps(ADDRESS | {"country": "U.S.A."})),
        planned(9, postal_address=json.dumps(ADDRESS | {"postal_code": "2" * 51})),
        planned(10, street_address=json.dumps(ADDRESS | {"country": "New Zealand"})),
    ) == {
        (8, "street_address_fits_xero", "street_address"),
        (9, "postal_address_fits_xero", "postal_address"),
    }


def test_a_control_character_in_any_text_is_held_back_and_shown_escaped() -> None:
    frame = pd.DataFrame(
        [
            planned(11, name="Acme\x1b[31m Pty Ltd"),
            planned(12, first_name="Mia\x00"),
            planned(13, street_address=json.dumps(ADDRESS | {"city": "Bal\x07main"})),
        ]
    ).astype({"party_id": "int64"})
    rejects, _ = reject_planned(frame)
    assert {(r.party_id, r.rule) for r in rejects.itertuples()} == {
        (11, "name_has_no_control_characters"),
        (12, "first_name_has_no_control_characters"),
        (13, "street_address_fits_xero"),
    }
    shown = rejects.set_index("party_id")["value"]
    assert shown[11] == "Acme\\u001b[31m Pty Ltd" and "\x1b" not in "".join(rejects["value"])


# ------------------------------------------------------------------ the vectorised forms are exact

PROPERTY = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PIECE = st.one_of(
    st.text(max_size=8),
    st.sampled_from(["a", "Z", ".", "@", "-", " ", '"', "\\", "\x00", "\x85", "é", "x" * 51, "u.s.a"]),
)
TEXTY = st.one_of(st.none(), st.lists(PIECE, max_size=5).map("".join))
EMAILISH = st.one_of(TEXTY, st.emails(), st.emails().map(str.upper))


@PROPERTY
@given(value=st.one_of(EMAILISH, st.text()))
def test_the_canonical_email_pattern_holds_exactly_the_addresses_normalise_keeps_as_they_are(value) -> None:
    if value is None:
        return
    assert (re.fullmatch(CANONICAL_EMAIL, value) is not None) == (normalise.email(value) == value)


@PROPERTY
@given(
    addresses=st.lists(
        st.fixed_dictionaries(
            {
                "lines": st.lists(TEXTY.map(lambda v: v or "x"), max_size=6),
                "city": TEXTY,
                "region": TEXTY,
                "postal_code": TEXTY,
                "country": st.one_of(TEXTY, st.sampled_from(["Australia", "New Zealand", "U.S.A."])),
            }
        ),
        min_size=1,
        max_size=6,
    ),
    persons=st.lists(
        st.lists(
            st.fixed_dictionaries({"first_name": TEXTY, "last_name": TEXTY, "email_address": EMAILISH}),
            max_size=3,
        ),
        min_size=1,
        max_size=6,
    ),
    compact=st.booleans(),
)
def test_the_json_rules_judge_every_address_and_person_list_as_parsing_it_would(
    addresses, persons, compact
) -> None:
    separators = (",", ":") if compact else None
    address_text = pd.Series([json.dumps(a, separators=separators, ensure_ascii=compact) for a in addresses])
    persons_text = pd.Series([json.dumps(p, separators=separators, ensure_ascii=compact) for p in persons])
    assert list(_json_rule(_address_fits)(address_text)) == [_address_fits(a) for a in addresses]
    assert list(_json_rule(_persons_fit)(persons_text)) == [_persons_fit(p) for p in persons]
