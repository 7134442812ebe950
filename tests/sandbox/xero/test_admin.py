"""The Xero stand-in's control routes (/_sandbox/xero/...) through XeroControl."""

from __future__ import annotations

import pytest

from sandbox.app import Sandbox
from sandbox.server import SandboxServer
from sandbox.xero.control import XeroControl
from sandbox.xero.state import ContactEvent
from tests.sandbox.xero.conftest import XeroApi, ms


def test_tenants_are_listed_with_their_limits(xero_control: XeroControl, sandbox: Sandbox) -> None:
    tenants = xero_control.tenants()
    assert [t["tenant_id"] for t in tenants] == list(sandbox.xero.tenants)
    assert tenants[0]["limits"] == {"minute": 60, "day": 5000, "concurrent": 5}
    assert xero_control.primary_tenant_id() == sandbox.xero.primary_tenant_id


def test_an_issued_test_token_works_against_the_api(
    xero_control: XeroControl, server: SandboxServer, second_tenant_id: str
) -> None:
    issued = xero_control.issue_token(tenant_ids=[second_tenant_id], scopes=["accounting.contacts.read"])
    assert issued["tenant_id"] == second_tenant_id and issued["scopes"] == ["accounting.contacts.read"]
    client = XeroApi(server, issued["access_token"], second_tenant_id)
    try:
        assert client.get("/Contacts").status_code == 200
        assert client.put("/Contacts", json={"Name": "x"}).status_code == 401
    finally:
        client.close()


def test_a_person_creating_and_editing_contacts_bumps_dates_and_fires_events(
    xero_control: XeroControl, api: XeroApi, sandbox: Sandbox, events: list[ContactEvent]
) -> None:
    made = xero_control.create_contact(Name="Made In The UI", EmailAddress="ui@example.com")
    sandbox.clock.advance(30)
    edited = xero_control.edit_contact(made["ContactID"], Website="https://ui.example", FirstName="Uma")
    assert edited["Website"] == "https://ui.example" and edited["FirstName"] == "Uma"
    assert ms(edited["UpdatedDateUTC"]) - ms(made["UpdatedDateUTC"]) >= 30_000
    assert api.contact(made["ContactID"])["Website"] == "https://ui.example"
    assert [e.event_type for e in events] == ["CREATE", "UPDATE"]


def test_balance_and_customer_flag_changes_do_not_bump_the_date(
    xero_control: XeroControl, sandbox: Sandbox, events: list[ContactEvent]
) -> None:
    made = xero_control.create_contact(Name="Customer")
    sandbox.clock.advance(30)
    balances = {"AccountsReceivable": {"Outstanding": 120.5, "Overdue": 0.0}}
    edited = xero_control.edit_contact(made["ContactID"], Balances=balances, IsCustomer=True)
    assert edited["Balances"] == balances and edited["IsCustomer"] is True
    assert edited["UpdatedDateUTC"] == made["UpdatedDateUTC"]
    assert [e.event_type for e in events] == ["CREATE"]


def test_a_contact_marked_as_customer_and_supplier_reads_so_everywhere_but_is_not_dated(
    xero_control: XeroControl, api: XeroApi, sandbox: Sandbox
) -> None:
    # Xero sets the flags from invoices and bills and does not move UpdatedDateUTC for them
    # (docs/api-facts.md#xero-contact-fields-and-limits, #xero-reading-contacts).
    made = api.create(Name="Buyer")
    assert (made["IsCustomer"], made["IsSupplier"]) == (False, False)
    sandbox.clock.advance(5)
    cursor = sandbox.clock.now().strftime("%Y-%m-%dT%H:%M:%S")
    sandbox.clock.advance(5)
    xero_control.edit_contact(made["ContactID"], IsCustomer=True, IsSupplier=True)
    single = api.contact(made["ContactID"])
    paged = api.get("/Contacts", params={"page": 1}).json()["Contacts"][0]
    unpaged = api.get("/Contacts").json()["Contacts"][0]
    for read in (single, paged, unpaged):
        assert (read["IsCustomer"], read["IsSupplier"]) == (True, True)
    assert single["UpdatedDateUTC"] == made["UpdatedDateUTC"]
    assert api.get("/Contacts", headers={"If-Modified-Since": cursor}).json()["Contacts"] == []
    # A round trip of the fetched contact still passes; the API itself cannot clear the flag.
    assert api.post("/Contacts", json=single).status_code == 200
    refused = api.post("/Contacts", json={"ContactID": made["ContactID"], "IsCustomer": False})
    assert refused.status_code == 400


def test_archive_restore_and_merge_as_a_person(xero_control: XeroControl, api: XeroApi) -> None:
    keep = xero_control.create_contact(Name="Keep", ContactNumber="K-1")
    gone = xero_control.create_contact(Name="Gone")
    assert xero_control.archive("K-1")["ContactStatus"] == "ARCHIVED"
    assert xero_control.restore(keep["ContactID"])["ContactStatus"] == "ACTIVE"
    merged = xero_control.merge(gone["ContactID"], into=keep["ContactID"])
    assert merged["ContactStatus"] == "ARCHIVED" and merged["MergedToContactID"] == keep["ContactID"]
    assert api.contact(gone["ContactID"])["MergedToContactID"] == keep["ContactID"]
    unpaged = api.get("/Contacts", params={"includeArchived": "true"}).json()["Contacts"]
    assert all("MergedToContactID" not in c for c in unpaged)
    assert [h["Changes"] for h in xero_control.history(gone["ContactID"])] == [
        "Created",
        "Archived",
        "Edited",
    ]


def test_a_contact_can_be_merged_only_into_another_active_contact(
    xero_control: XeroControl, events: list[ContactEvent]
) -> None:
    one = xero_control.create_contact(Name="One")["ContactID"]
    old = xero_control.create_contact(Name="Old")["ContactID"]
    xero_control.archive(old)
    with pytest.raises(RuntimeError, match="another, active contact"):
        xero_control.merge(one, into=one)
    with pytest.raises(RuntimeError, match="another, active contact"):
        xero_control.merge(one, into=old)
    assert xero_control.contact(one)["ContactStatus"] == "ACTIVE"
    assert "MergedToContactID" not in xero_control.contact(one)
    assert [e.event_type for e in events] == ["CREATE", "CREATE", "UPDATE"]


def test_the_same_rules_apply_to_a_person(xero_control: XeroControl) -> None:
    xero_control.create_contact(Name="Taken")
    with pytest.raises(RuntimeError, match="already assigned"):
        xero_control.create_contact(Name="Taken")
    with pytest.raises(RuntimeError, match="400"):
        xero_control.create_contact(Name="X", tenant="not-a-tenant")


def test_contacts_and_groups_are_listed_for_a_tenant(
    xero_control: XeroControl, api: XeroApi, second_tenant_id: str
) -> None:
    xero_control.create_contact(Name="Primary One")
    xero_control.create_contact(Name="Second One", tenant=second_tenant_id)
    assert [c["Name"] for c in xero_control.contacts()] == ["Primary One"]
    assert [c["Name"] for c in xero_control.contacts(tenant=second_tenant_id)] == ["Second One"]
    api.put("/ContactGroups", json={"Name": "VIP"})
    assert [g["Name"] for g in xero_control.groups()] == ["VIP"]
