"""Two-way sync's creates in Capsule: which Xero contacts become Capsule parties, and which wait for a person.

Hand-made staging and reconcile tables (only the columns the two models read), built with
``transform.sql.build`` and the parameters each test names, so each case is visible at a glance.
"""

from __future__ import annotations

import json
from typing import Any

import duckdb
import pytest

from capsule_xero.rules.model import Rules
from reverse_etl.ledger.schema import ensure_ledger
from sandbox.generator import Dataset
from transform.reports import create_report_views
from transform.sql import build
from transform.stages import capsule_creates

TABLES = """
create schema staging;
create schema reconcile;
create table staging.capsule_parties (
    party_id bigint, display_name varchar, is_deleted boolean, xero_contact_id varchar, abn varchar,
    email varchar, folded_name varchar
);
create table reconcile.sync_scope (party_id bigint, in_scope boolean);
create table reconcile.contact_matches (party_id bigint, outcome varchar, contact_id varchar, candidate_contact_id varchar);
create table staging.xero_contacts (
    contact_id varchar, contact_number varchar, contact_status varchar, name varchar, abn varchar,
    email varchar, folded_name varchar, is_customer boolean
);
create table reconcile.current_contacts (
    contact_id varchar, contact_status varchar, name varchar, first_name varchar, last_name varchar,
    email_address varchar, tax_number varchar, website varchar, phone_default varchar, phone_mobile varchar,
    phone_fax varchar, street_address varchar, postal_address varchar, contact_persons varchar
);
"""

VALID_ABN = "51824753556"
STREET = '{"lines":["12 Dock Rd"],"city":"Balmain","region":"NSW","postal_code":"2041","country":"Australia"}'


class World:
    def __init__(self) -> None:
        self.con = duckdb.connect()
        self.con.execute(TABLES)
        ensure_ledger(self.con)

    def party(
        self,
        party_id: int,
        name: str,
        *,
        deleted: bool = False,
        in_scope: bool = True,
        xero_contact_id: str | None = None,
        abn: str | None = None,
        email: str | None = None,
    ) -> None:
        self.con.execute(
            "insert into staging.capsule_parties values (?, ?, ?, ?, ?, ?, ?)",
            [party_id, None if deleted else name, deleted, xero_contact_id, abn, email, name.lower()],
        )
        self.con.execute("insert into reconcile.sync_scope values (?, ?)", [party_id, in_scope])

    def contact(
        self,
        contact_id: str,
        name: str,
        *,
        number: str | None = None,
        status: str = "ACTIVE",
        customer: bool = False,
        first_name: str | None = None,
        last_name: str | None = None,
        email: str | None = None,
        tax_number: str | None = None,
        persons: str | None = None,
        **fields: str,
    ) -> None:
        abn = tax_number if tax_number == VALID_ABN else None
        self.con.execute(
            "insert into staging.xero_contacts values (?, ?, ?, ?, ?, ?, ?, ?)",
            [contact_id, number, status, name, abn, email, name.lower(), customer],
        )
        self.con.execute(
            "insert into reconcile.current_contacts values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                contact_id,
                status,
                name,
                first_name,
                last_name,
                email,
                tax_number,
                fields.get("website"),
                fields.get("phone_default"),
                fields.get("phone_mobile"),
                fields.get("phone_fax"),
                fields.get("street_address"),
                fields.get("postal_address"),
                persons,
            ],
        )

    def build(self, create_in_capsule: str, *, two_way: bool = True) -> None:
        params = {"two_way": two_way, "create_in_capsule": create_in_capsule, "contact_number_prefix": "CAP-"}
        for model in ("capsule_create_candidates", "capsule_create_reviews", "capsule_creates"):
            build(self.con, "reconcile", model, params)

    def creates(self) -> dict[str, dict[str, Any]]:
        result = self.con.execute("select * from reconcile.capsule_creates order by contact_id")
        names = [d[0] for d in result.description]
        return {row[2]: dict(zip(names, row, strict=True)) for row in result.fetchall()}

    def reviews(self) -> dict[str, tuple[Any, ...]]:
        rows = self.con.execute(
            "select contact_id, party_id, rule, reason from reconcile.capsule_create_reviews"
        ).fetchall()
        return {row[0]: row[1:] for row in rows}


@pytest.fixture
def scene() -> World:
    return World()


def test_only_customers_or_every_unmatched_contact_is_created_and_none_unless_two_way_asks(
    scene: World,
) -> None:
    scene.contact("c-customer", "Bayside Bakery", customer=True)
    scene.contact("c-supplier", "Paper Supplies")
    for create_in_capsule, two_way, expected in (
        ("none", True, set()),
        ("all", False, set()),
        ("customers", True, {"c-customer"}),
        ("all", True, {"c-customer", "c-supplier"}),
    ):
        scene.build(create_in_capsule, two_way=two_way)
        assert set(scene.creates()) == expected, (create_in_capsule, two_way)
    # The stage is one-way until the rules file turns two-way on.
    counts = capsule_creates(scene.con, Rules(), Rules().sql_params())
    assert counts["reconcile.capsule_creates"] == 0 and scene.creates() == {}


def test_a_contact_that_looks_like_any_capsule_party_waits_for_review_and_is_not_created(
    scene: World,
) -> None:
    scene.party(1, "Deleted Co", deleted=True, abn=VALID_ABN)
    scene.party(2, "Staff Member", in_scope=False, email="kim@harbour.com.au")
    scene.party(3, "Coastal Plumbing")
    scene.contact("c-abn", "Other Name Pty Ltd", tax_number=VALID_ABN)
    scene.contact("c-email", "Kim at Harbour", email="kim@harbour.com.au")
    scene.contact("c-name", "Coastal Plumbing")
    scene.contact("c-new", "Brand New Co")
    scene.build("all")
    assert set(scene.creates()) == {"c-new"}
    reviews = scene.reviews()
    assert {contact: (party, rule) for contact, (party, rule, _) in reviews.items()} == {
        "c-abn": (1, "abn"),
        "c-email": (2, "email"),
        "c-name": (3, "name"),
    }
    assert (
        "same ABN as Capsule party 1" in reviews["c-abn"][2] and "deleted in Capsule" in reviews["c-abn"][2]
    )
    assert "does not sync" in reviews["c-email"][2]
    assert "(Coastal Plumbing)" in reviews["c-name"][2] and "not created in Capsule" in reviews["c-name"][2]


def test_a_contact_some_party_already_has_is_never_created_again(scene: World) -> None:
    # Numbered after a party (even one Capsule no longer has), named in a deleted party's Xero Contact ID
    # field, a match waiting for review, a contact this tool wrote: each is some party's.
    scene.contact("c-numbered", "Numbered Co", number="CAP-77")
    scene.party(8, "Gone Co", deleted=True, xero_contact_id="C-REFERENCED")
    scene.contact("c-referenced", "Referenced Co")
    scene.con.execute("insert into reconcile.contact_matches values (9, 'review', null, 'c-candidate')")
    scene.contact("c-candidate", "Candidate Co")
    scene.con.execute(
        "insert into reconcile.contact_matches values (10, 'matched', 'c-matched', 'c-matched')"
    )
    scene.contact("c-matched", "Matched Co")
    scene.con.execute(
        "insert into ledger.written_contacts (contact_id, party_id, written_at, contact_status)"
        " values ('c-written', 11, now(), 'ACTIVE')"
    )
    scene.contact("c-written", "Written Co")
    scene.contact("c-free", "Free Co", number="MYOB-00001")
    scene.build("all")
    assert set(scene.creates()) == {"c-free"}
    assert scene.reviews() == {}


def test_archived_contacts_are_never_created(scene: World) -> None:
    scene.contact("c-archived", "Old Co", status="ARCHIVED", customer=True)
    scene.contact("c-gdpr", "Forget Me", status="GDPRREQUEST", customer=True)
    scene.party(1, "Old Co")
    scene.build("all")
    assert scene.creates() == {} and scene.reviews() == {}


def test_a_contact_named_after_its_own_person_becomes_a_person_else_an_organisation(scene: World) -> None:
    scene.contact(
        "c-person",
        "Sam Lee",
        first_name="Sam",
        last_name="LEE",
        email="sam@lee.id.au",
        tax_number="12345678901",
        phone_mobile="+61412345678",
    )
    scene.contact(
        "c-organisation",
        "Harbour Joinery",
        first_name="Mia",
        last_name="Nguyen",
        tax_number=VALID_ABN,
        website="https://harbourjoinery.com.au",
        street_address=STREET,
        phone_default="+61295504412",
    )
    scene.contact(
        "c-sole-trader",
        "Ann Smith",
        first_name="Ann",
        last_name="Smith",
        persons='[{"first_name":"Bob","last_name":"Smith","email_address":null}]',
    )
    scene.build("all")
    creates = scene.creates()
    person = creates["c-person"]
    assert (person["operation"], person["party_id"], person["party_type"]) == ("create", None, "person")
    # An invalid ABN typed into Xero never lands in Capsule's ABN field.
    assert json.loads(person["after"]) == {
        "first_name": "Sam",
        "last_name": "LEE",
        "email_address": "sam@lee.id.au",
        "phone_mobile": "+61412345678",
    }
    assert person["changed_fields"] == ["first_name", "last_name", "email_address", "phone_mobile"]
    organisation = creates["c-organisation"]
    assert organisation["party_type"] == "organisation"
    assert json.loads(organisation["after"]) == {
        "name": "Harbour Joinery",
        "tax_number": VALID_ABN,
        "website": "https://harbourjoinery.com.au",
        "phone_default": "+61295504412",
        "street_address": STREET,
    }
    assert (organisation["before"], organisation["row_ids"], organisation["base"]) == (None, "{}", None)
    assert "has no Capsule party: created as an organisation" in organisation["reason"]
    # A contact with people of its own is an organisation even when its name is a person's.
    assert creates["c-sole-trader"]["party_type"] == "organisation"


def test_on_the_generated_world_only_contacts_no_party_has_are_created_and_look_alikes_reach_the_review_queue(
    world: tuple[Dataset, duckdb.DuckDBPyConnection, int], sql_params: dict[str, Any]
) -> None:
    dataset, con, _ = world
    try:
        capsule_creates(con, Rules(), sql_params | {"two_way": True, "create_in_capsule": "all"})
        create_report_views(con)
        created = {c for (c,) in con.execute("select contact_id from reconcile.capsule_creates").fetchall()}
        held = {
            c for (c,) in con.execute("select contact_id from reconcile.capsule_create_reviews").fetchall()
        }
        xero_only = set(dataset.cases["xero_only"])
        # Every contact only Xero has is created or held for a person; nothing a party has, nothing
        # archived, nothing numbered after a party Capsule no longer has.
        assert xero_only <= created | held and created
        # A free-mail look-alike no party may match (CASES.md) is a contact only Xero has, too.
        free_mail_traps = {contact for _, contact in dataset.cases["free_mail_domain_trap"]}
        assert created <= xero_only | free_mail_traps | set(dataset.cases["xero_foreign_contact_number"])
        assert not (created | held) & set(dataset.cases["xero_only_archived"])
        assert not (created | held) & set(dataset.cases["xero_orphan_contact_number"])
        queued = {
            c
            for (c,) in con.execute(
                "select contact_id from reports.review_queue where kind = 'capsule_create'"
            ).fetchall()
        }
        assert queued == held
    finally:
        capsule_creates(con, Rules(), sql_params)
        create_report_views(con)
