"""The stand-in's JSON against Xero's official OpenAPI schemas (tests/support/xero_schemas.py)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sandbox.app import Sandbox
from sandbox.generator.dataset import Dataset
from sandbox.server import SandboxServer
from tests.sandbox.xero.conftest import XeroApi
from tests.support.xero_schemas import errors

RICH = {
    "Name": "Harbourside Plumbing Pty Ltd",
    "ContactNumber": "CAP-1001",
    "AccountNumber": "ACC-1001",
    "FirstName": "Jo",
    "LastName": "Citizen",
    "CompanyNumber": "ACN 000 000 019",
    "EmailAddress": "jo@harbourside.com.au",
    "TaxNumber": "53004085616",
    "TaxNumberType": "EIN",
    "BankAccountDetails": "062-000 1234 5678",
    "AccountsReceivableTaxType": "OUTPUT",
    "AccountsPayableTaxType": "INPUT",
    "DefaultCurrency": "AUD",
    "XeroNetworkKey": "net-key",
    "SalesDefaultAccountCode": "200",
    "PurchasesDefaultAccountCode": "300",
    "SalesDefaultLineAmountType": "INCLUSIVE",
    "PurchasesDefaultLineAmountType": "EXCLUSIVE",
    "PaymentTerms": {
        "Bills": {"Day": 15, "Type": "OFCURRENTMONTH"},
        "Sales": {"Day": 10, "Type": "DAYSAFTERBILLMONTH"},
    },
    "Addresses": [
        {
            "AddressType": "STREET",
            "AddressLine1": "1 George St",
            "City": "Sydney",
            "Region": "NSW",
            "PostalCode": "2000",
            "Country": "Australia",
            "AttentionTo": "Jo",
        },
        {
            "AddressType": "POBOX",
            "AddressLine1": "PO Box 1",
            "City": "Sydney",
            "PostalCode": "2001",
            "Country": "Australia",
        },
    ],
    "Phones": [
        {"PhoneType": "MOBILE", "PhoneNumber": "0400 000 000", "PhoneCountryCode": "61"},
        {"PhoneType": "DEFAULT", "PhoneNumber": "9000 0000", "PhoneAreaCode": "02", "PhoneCountryCode": "61"},
    ],
    "ContactPersons": [
        {
            "FirstName": "Sam",
            "LastName": "Lee",
            "EmailAddress": "sam@harbourside.com.au",
            "IncludeInEmails": True,
        }
    ],
}


def conforms(body: object, schema: str) -> None:
    problems = errors(body, schema)
    assert problems == [], problems


def seeded(server: SandboxServer, sandbox: Sandbox, api: XeroApi) -> dict:
    """A rich contact (API-created), plus a seeded one with balances, website, group and a merge."""
    rich = api.create(**RICH)
    group = api.put("/ContactGroups", json={"ContactGroups": [{"Name": "VIP"}]}).json()["ContactGroups"][0]
    api.put(
        f"/ContactGroups/{group['ContactGroupID']}/Contacts",
        json={"Contacts": [{"ContactID": rich["ContactID"]}]},
    )
    other = {
        "ContactID": str(uuid.uuid4()),
        "Name": "Seeded With Balances",
        "ContactStatus": "ARCHIVED",
        "UpdatedDateUTC": datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC),
        "Website": "https://seeded.example",
        "IsCustomer": True,
        "Balances": {
            "AccountsReceivable": {"Outstanding": 760.0, "Overdue": 920.0},
            "AccountsPayable": {"Outstanding": 231.6, "Overdue": 0.0},
        },
        "MergedToContactID": rich["ContactID"],
        "Discount": 13.0,
    }

    def add() -> None:
        org = sandbox.xero.primary
        record = org._seed_record(other, sandbox.clock.now())
        org.contacts[record["ContactID"]] = record
        org._index(record)
        org._changed()

    server.call(add)
    return {"rich": rich, "other": other, "group": group}


def test_contact_lists_conform_paged_unpaged_and_summary(
    server: SandboxServer, sandbox: Sandbox, api: XeroApi
) -> None:
    seeded(server, sandbox, api)
    for params in (
        {"page": 1},
        {},
        {"summaryOnly": "true"},
        {"page": 1, "includeArchived": "true"},
        {"includeArchived": "true"},
    ):
        body = api.get("/Contacts", params=params).json()
        assert body["Contacts"], params
        conforms(body, "Contacts")


def test_a_single_contact_conforms(server: SandboxServer, sandbox: Sandbox, api: XeroApi) -> None:
    made = seeded(server, sandbox, api)
    for key in (made["rich"]["ContactID"], "CAP-1001", made["other"]["ContactID"]):
        body = api.get(f"/Contacts/{key}").json()
        conforms(body, "Contacts")
        conforms(body["Contacts"][0], "Contact")


def test_write_answers_conform_in_both_summarize_modes(api: XeroApi) -> None:
    api.create(Name="Taken")
    ok = api.put("/Contacts", json={"Contacts": [RICH]})
    conforms(ok.json(), "Contacts")
    batch = [
        {"Name": "Fresh"},
        {
            "Name": "Taken",
            "Addresses": [{"AddressType": "STREET", "City": "Perth"}],
            "Phones": [{"PhoneType": "MOBILE"}],
        },
    ]
    mixed = api.put("/Contacts", params={"summarizeErrors": "false"}, json={"Contacts": batch})
    assert mixed.status_code == 200
    assert [c["StatusAttributeString"] for c in mixed.json()["Contacts"]] == ["OK", "ERROR"]
    conforms(mixed.json(), "Contacts")
    batch[0]["Name"] = "Fresh Two"
    failed = api.put("/Contacts", json={"Contacts": batch})
    assert failed.status_code == 400
    conforms(failed.json(), "Error")
    no_data = api.put("/Contacts", json={"Contacts": []})
    conforms(no_data.json(), "Error")
    bad_where = api.get("/Contacts", params={"where": "Name.Contains(1)"})
    conforms(bad_where.json(), "Error")


def test_echoed_over_long_values_are_cut_to_the_schema_limits(api: XeroApi) -> None:
    batch = [
        {
            "Name": "N" * 300,
            "ContactNumber": "C" * 60,
            "Addresses": [{"AddressType": "STREET", "PostalCode": "9" * 60}],
            "Phones": [{"PhoneType": "MOBILE", "PhoneAreaCode": "1" * 12}],
        }
    ]
    body = api.put("/Contacts", params={"summarizeErrors": "false"}, json={"Contacts": batch}).json()
    conforms(body, "Contacts")
    element = body["Contacts"][0]
    assert element["StatusAttributeString"] == "ERROR" and len(element["Name"]) == 255
    assert len(element["ValidationErrors"]) == 4


def test_contact_group_answers_conform(api: XeroApi) -> None:
    contact = api.create(Name="Member")
    created = api.put("/ContactGroups", json={"ContactGroups": [{"Name": "VIP"}]})
    conforms(created.json(), "ContactGroups")
    gid = created.json()["ContactGroups"][0]["ContactGroupID"]
    added = api.put(
        f"/ContactGroups/{gid}/Contacts", json={"Contacts": [{"ContactID": contact["ContactID"]}]}
    )
    conforms(added.json(), "Contacts")
    conforms(api.get("/ContactGroups").json(), "ContactGroups")
    conforms(api.get(f"/ContactGroups/{gid}").json(), "ContactGroups")
    conforms(api.post(f"/ContactGroups/{gid}", json={"Name": "Renamed"}).json(), "ContactGroups")
    api.post("/Contacts", json={"ContactID": contact["ContactID"], "ContactStatus": "ARCHIVED"})
    refused = api.put(
        f"/ContactGroups/{gid}/Contacts", json={"Contacts": [{"ContactID": contact["ContactID"]}]}
    )
    conforms(refused.json(), "Error")
    limit = api.put(
        "/ContactGroups", params={"summarizeErrors": "false"}, json={"ContactGroups": [{"Name": "Renamed"}]}
    )
    conforms(limit.json(), "ContactGroups")


def test_users_conform(server: SandboxServer, sandbox: Sandbox, api: XeroApi) -> None:
    users = [
        {
            "UserID": str(uuid.uuid4()),
            "EmailAddress": "a@b.com",
            "FirstName": "A",
            "LastName": "B",
            "IsSubscriber": True,
            "OrganisationRole": "FINANCIALADVISER",
        }
    ]
    server.call(lambda: sandbox.xero.primary.load(Dataset(seed=0, size=0, xero_users=users)))
    conforms(api.get("/Users").json(), "Users")
    conforms(api.get(f"/Users/{users[0]['UserID']}").json(), "Users")


def test_history_answers_conform(api: XeroApi) -> None:
    cid = api.create(Name="Noted")["ContactID"]
    added = api.put(
        f"/Contacts/{cid}/History", json={"HistoryRecords": [{"Details": "Hello"}, {"Details": "World"}]}
    )
    conforms(added.json(), "HistoryRecords")
    conforms(api.get(f"/Contacts/{cid}/History").json(), "HistoryRecords")
    refused = api.put(f"/Contacts/{cid}/History", json={"Details": "x" * 3000})
    conforms(refused.json(), "Error")


def test_every_emitted_contact_field_is_a_schema_property(
    server: SandboxServer, sandbox: Sandbox, api: XeroApi
) -> None:
    """Not just valid: every key we emit is one the official Contact schema declares."""
    from tests.support.xero_schemas import _document

    declared = set(_document("xero_accounting.yaml")["components"]["schemas"]["Contact"]["properties"])
    made = seeded(server, sandbox, api)
    emitted: set[str] = set()
    for key in (made["rich"]["ContactID"], made["other"]["ContactID"]):
        emitted |= set(api.get(f"/Contacts/{key}").json()["Contacts"][0])
    emitted |= set(
        api.put(
            "/Contacts", params={"summarizeErrors": "false"}, json={"Name": "Harbourside Plumbing Pty Ltd"}
        ).json()["Contacts"][0]
    )
    assert emitted - declared == set()
