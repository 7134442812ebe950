"""GET /Contacts and GET /Contacts/{ContactID|ContactNumber}.

Facts: docs/api-facts.md#xero-requests-and-responses, #xero-reading-contacts, #xero-contact-fields-and-limits.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from sandbox.app import Sandbox
from sandbox.server import SandboxServer
from tests.sandbox.xero.conftest import XeroApi, ms, seed

T0 = datetime(2026, 3, 1, 9, 0, 0, tzinfo=UTC)


def _contacts(n: int, **extra: object) -> list[dict[str, object]]:
    return [
        {
            "ContactID": str(uuid.UUID(int=i + 1)),
            "Name": f"Contact {i:05d}",
            "EmailAddress": f"c{i}@example.com.au",
            "ContactNumber": f"CAP-{i}",
            "UpdatedDateUTC": T0 + timedelta(seconds=i),
            **extra,
        }
        for i in range(n)
    ]


def test_get_contacts_without_page_is_unpaged_with_the_reduced_field_set(api: XeroApi) -> None:
    api.create(Name="Acme", ContactPersons=[{"FirstName": "Jo"}], XeroNetworkKey="k1")
    body = api.get("/Contacts").json()
    assert "pagination" not in body
    contact = body["Contacts"][0]
    for dropped in (
        "ContactPersons",
        "PaymentTerms",
        "ContactGroups",
        "Website",
        "Balances",
        "XeroNetworkKey",
    ):
        assert dropped not in contact
    assert contact["Name"] == "Acme" and "Addresses" in contact and "Phones" in contact


def test_get_contacts_with_page_returns_full_contacts_and_pagination(api: XeroApi) -> None:
    api.create(Name="Acme", ContactPersons=[{"FirstName": "Jo"}], XeroNetworkKey="k1")
    body = api.get("/Contacts", params={"page": 1}).json()
    assert body["pagination"] == {"page": 1, "pageSize": 100, "pageCount": 1, "itemCount": 1}
    contact = body["Contacts"][0]
    assert contact["ContactPersons"] == [{"FirstName": "Jo"}]
    assert contact["ContactGroups"] == [] and contact["XeroNetworkKey"] == "k1"


def test_page_size_is_clamped_between_1_and_1000(
    server: SandboxServer, sandbox: Sandbox, api: XeroApi
) -> None:
    seed(server, sandbox, _contacts(1200))
    big = api.get("/Contacts", params={"page": 1, "pageSize": 5000}).json()
    assert big["pagination"]["pageSize"] == 1000 and len(big["Contacts"]) == 1000
    assert big["pagination"]["pageCount"] == 2 and big["pagination"]["itemCount"] == 1200
    small = api.get("/Contacts", params={"page": 1, "pageSize": 0}).json()
    assert small["pagination"]["pageSize"] == 1 and len(small["Contacts"]) == 1
    default = api.get("/Contacts", params={"page": 2}).json()
    assert default["pagination"]["pageSize"] == 100 and len(default["Contacts"]) == 100


def test_a_page_past_the_end_is_an_empty_list(server: SandboxServer, sandbox: Sandbox, api: XeroApi) -> None:
    seed(server, sandbox, _contacts(3))
    body = api.get("/Contacts", params={"page": 2}).json()
    assert body["Contacts"] == [] and body["pagination"]["pageCount"] == 1


def test_paging_walks_every_contact_once_in_the_default_order(
    server: SandboxServer, sandbox: Sandbox, api: XeroApi
) -> None:
    contacts = _contacts(250)
    # Ties on UpdatedDateUTC are broken by ContactID, so pages stay stable.
    for c in contacts[:10]:
        c["UpdatedDateUTC"] = T0
    seed(server, sandbox, contacts)
    seen = []
    for page in (1, 2, 3):
        seen += [c["ContactID"] for c in api.get("/Contacts", params={"page": page}).json()["Contacts"]]
    assert seen == [c["ContactID"] for c in contacts]


def test_archived_contacts_are_listed_only_with_include_archived(
    server: SandboxServer, sandbox: Sandbox, api: XeroApi
) -> None:
    contacts = _contacts(3)
    contacts[1]["ContactStatus"] = "ARCHIVED"
    seed(server, sandbox, contacts)
    default = api.get("/Contacts", params={"page": 1}).json()["Contacts"]
    assert [c["Name"] for c in default] == ["Contact 00000", "Contact 00002"]
    every = api.get("/Contacts", params={"page": 1, "includeArchived": "true"}).json()["Contacts"]
    assert [c["ContactStatus"] for c in every] == ["ACTIVE", "ARCHIVED", "ACTIVE"]


def test_if_modified_since_returns_contacts_updated_in_or_after_that_second(
    server: SandboxServer, sandbox: Sandbox, api: XeroApi
) -> None:
    contacts = _contacts(5)
    contacts[2]["UpdatedDateUTC"] = T0 + timedelta(seconds=2, milliseconds=700)
    seed(server, sandbox, contacts)
    # Inclusive at 1 s resolution: the record updated at :02.700 is returned for a cursor of :02.
    since = (T0 + timedelta(seconds=2)).strftime("%Y-%m-%dT%H:%M:%S")
    body = api.get("/Contacts", params={"page": 1}, headers={"If-Modified-Since": since}).json()
    assert [c["Name"] for c in body["Contacts"]] == ["Contact 00002", "Contact 00003", "Contact 00004"]
    # An offset form and an HTTP-date name the same instant.
    iso = (T0 + timedelta(seconds=3)).astimezone(UTC).isoformat().replace("+00:00", "-00:00")
    assert len(api.get("/Contacts", headers={"If-Modified-Since": iso}).json()["Contacts"]) == 2
    http_date = (T0 + timedelta(seconds=4)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert len(api.get("/Contacts", headers={"If-Modified-Since": http_date}).json()["Contacts"]) == 1


def test_if_modified_since_sees_a_write_made_after_the_cursor(api: XeroApi, sandbox: Sandbox) -> None:
    first = api.create(Name="Old")
    sandbox.clock.advance(5)
    cursor = sandbox.clock.now()
    sandbox.clock.advance(5)
    api.post("/Contacts", json={"ContactID": first["ContactID"], "EmailAddress": "new@example.com"})
    api.create(Name="New")
    since = cursor.strftime("%Y-%m-%dT%H:%M:%S")
    names = [c["Name"] for c in api.get("/Contacts", headers={"If-Modified-Since": since}).json()["Contacts"]]
    assert names == ["Old", "New"]


def test_a_malformed_if_modified_since_is_a_400(api: XeroApi) -> None:
    response = api.get("/Contacts", headers={"If-Modified-Since": "yesterday"})
    assert response.status_code == 400


def test_where_is_equality_case_and_accent_insensitive(api: XeroApi) -> None:
    api.create(Name="Café Déjà Vu", EmailAddress="hello@cafe.com.au")
    api.create(Name="Other")
    for where in ('Name=="cafe deja vu"', 'Name="CAFÉ DÉJÀ VU"', 'EmailAddress=="HELLO@cafe.com.au"'):
        contacts = api.get("/Contacts", params={"where": where}).json()["Contacts"]
        assert [c["Name"] for c in contacts] == ["Café Déjà Vu"], where


def test_where_joins_clauses_with_and(api: XeroApi) -> None:
    api.create(Name="Acme", ContactNumber="A-1", AccountNumber="ACC-1")
    api.create(Name="Beta", ContactNumber="B-1")
    where = 'ContactStatus=="ACTIVE" AND ContactNumber=="a-1" && AccountNumber="acc-1"'
    assert [c["Name"] for c in api.get("/Contacts", params={"where": where}).json()["Contacts"]] == ["Acme"]


@pytest.mark.parametrize(
    "where",
    ['Name.Contains("Ac")', 'Name=="Acme" OR Name=="Beta"', 'Website=="x"', "Name==Acme", 'Name!="Acme"'],
)
def test_a_where_the_stand_in_cannot_evaluate_exactly_is_a_400_query_parse_exception(
    api: XeroApi, where: str
) -> None:
    response = api.get("/Contacts", params={"where": where})
    assert response.status_code == 400
    body = response.json()
    assert body["Type"] == "QueryParseException" and body["ErrorNumber"] == 16


def test_order_sorts_by_the_named_field(api: XeroApi) -> None:
    for name in ("beta", "Alpha", "Gamma"):
        api.create(Name=name)
    names = [c["Name"] for c in api.get("/Contacts", params={"order": "Name DESC"}).json()["Contacts"]]
    assert names == ["Gamma", "beta", "Alpha"]
    names = [c["Name"] for c in api.get("/Contacts", params={"order": "Name"}).json()["Contacts"]]
    assert names == ["Alpha", "beta", "Gamma"]
    assert api.get("/Contacts", params={"order": "Colour ASC"}).status_code == 400


def test_ids_returns_just_those_contacts(api: XeroApi) -> None:
    a, _, c = (api.create(Name=n) for n in ("A", "B", "C"))
    ids = f"{a['ContactID']},{c['ContactID'].upper()}"
    assert [x["Name"] for x in api.get("/Contacts", params={"IDs": ids}).json()["Contacts"]] == ["A", "C"]


def test_more_than_52_ids_answer_404_as_xero_does(api: XeroApi) -> None:
    ids = ",".join(str(uuid.uuid4()) for _ in range(53))
    response = api.get("/Contacts", params={"IDs": ids})
    assert response.status_code == 404


def test_search_term_matches_names_numbers_and_emails_case_insensitively(api: XeroApi) -> None:
    api.create(Name="Harbour Bridge Plumbing", ContactNumber="CAP-77")
    api.create(Name="Other", EmailAddress="ops@harbourview.com.au")
    api.create(Name="Unrelated", FirstName="Jo", LastName="Harbour")
    api.create(Name="Nope")
    found = api.get("/Contacts", params={"searchTerm": "HARBOUR"}).json()["Contacts"]
    assert sorted(c["Name"] for c in found) == ["Harbour Bridge Plumbing", "Other", "Unrelated"]
    assert [c["Name"] for c in api.get("/Contacts", params={"searchTerm": "cap-7"}).json()["Contacts"]] == [
        "Harbour Bridge Plumbing"
    ]


def test_summary_only_drops_heavy_fields_and_forces_paging(api: XeroApi) -> None:
    api.create(Name="Acme", ContactPersons=[{"FirstName": "Jo"}], SalesDefaultAccountCode="200")
    body = api.get("/Contacts", params={"summaryOnly": "true"}).json()
    assert body["pagination"]["page"] == 1
    contact = body["Contacts"][0]
    for dropped in (
        "Addresses",
        "ContactGroups",
        "ContactPersons",
        "IsCustomer",
        "IsSupplier",
        "SalesDefaultAccountCode",
    ):
        assert dropped not in contact
    assert contact["Name"] == "Acme" and "UpdatedDateUTC" in contact


def test_an_unpaged_request_over_the_high_volume_threshold_is_a_400(
    server: SandboxServer, sandbox: Sandbox, api: XeroApi
) -> None:
    seed(server, sandbox, _contacts(30))
    server.call(lambda: setattr(sandbox.xero.primary, "high_volume_threshold", 20))
    response = api.get("/Contacts")
    assert response.status_code == 400 and response.json()["Type"] == "HighVolumeException"
    assert api.get("/Contacts", params={"page": 1}).status_code == 200
    # Filtering down below the threshold is fine unpaged.
    assert api.get("/Contacts", params={"where": 'Name=="Contact 00001"'}).status_code == 200
    # Ordering on an unoptimised field touches every contact: refused too.
    assert api.get("/Contacts", params={"page": 1, "order": "EmailAddress"}).status_code == 400
    assert api.get("/Contacts", params={"page": 1, "order": "Name DESC"}).status_code == 200


def test_a_single_contact_is_found_by_id_or_number_archived_too(
    server: SandboxServer, sandbox: Sandbox, api: XeroApi
) -> None:
    contacts = _contacts(2)
    contacts[1]["ContactStatus"] = "ARCHIVED"
    seed(server, sandbox, contacts)
    by_id = api.get(f"/Contacts/{contacts[1]['ContactID']}").json()
    assert "pagination" not in by_id and len(by_id["Contacts"]) == 1
    assert by_id["Contacts"][0]["ContactStatus"] == "ARCHIVED"
    assert api.contact("cap-0")["ContactID"] == contacts[0]["ContactID"]
    assert api.contact("CAP-1")["ContactPersons"] == []  # full field set


def test_an_unknown_contact_is_a_plain_text_404(api: XeroApi) -> None:
    for key in (str(uuid.uuid4()), "NO-SUCH-NUMBER"):
        response = api.get(f"/Contacts/{key}")
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("text/plain")
        assert response.text == "The resource you're looking for cannot be found"


def test_responses_list_both_address_types_and_the_four_standard_phone_types(api: XeroApi) -> None:
    contact = api.create(Name="Acme", Addresses=[{"AddressType": "POBOX", "City": "Perth"}])
    assert [a["AddressType"] for a in contact["Addresses"]] == ["STREET", "POBOX"]
    assert contact["Addresses"][0]["City"] == "" and contact["Addresses"][1]["City"] == "Perth"
    assert [p["PhoneType"] for p in contact["Phones"]] == ["DDI", "DEFAULT", "FAX", "MOBILE"]
    assert all(p["PhoneNumber"] == "" for p in contact["Phones"])


def test_json_envelope_carries_id_status_provider_and_a_dotnet_date(api: XeroApi) -> None:
    response = api.get("/Contacts")
    body = response.json()
    assert body["Status"] == "OK" and uuid.UUID(body["Id"]) and body["ProviderName"]
    assert body["DateTimeUTC"].startswith("/Date(") and "+" not in body["DateTimeUTC"]
    assert "Warnings" not in body and "pagination" not in body
    # On the wire the slashes of dates are escaped, as Xero's serialiser does.
    assert '"\\/Date(' in response.text


def test_updated_date_is_a_dotnet_date_with_offset(api: XeroApi, sandbox: Sandbox) -> None:
    contact = api.create(Name="Acme")
    assert contact["UpdatedDateUTC"].endswith("+0000)/")
    assert abs(ms(contact["UpdatedDateUTC"]) - sandbox.clock.now().timestamp() * 1000) < 5000


def test_xml_is_the_default_format(xml_api: XeroApi, api: XeroApi) -> None:
    api.create(Name="Acme & Sons", ContactPersons=[{"FirstName": "Jo"}])
    response = xml_api.get("/Contacts", params={"page": 1})
    assert response.headers["content-type"].startswith("text/xml")
    text = response.text
    assert "<Response" in text and "<Status>OK</Status>" in text
    assert "<Contacts><Contact><ContactID>" in text and "<Name>Acme &amp; Sons</Name>" in text
    assert "<ContactPersons><ContactPerson><FirstName>Jo</FirstName>" in text
    assert "<Phones><Phone><PhoneType>DDI</PhoneType>" in text and "<IsSupplier>false</IsSupplier>" in text
    import xml.etree.ElementTree as ET

    root = ET.fromstring(response.content)  # noqa: S314 - our own output
    assert root.tag == "Response" and root.find("Contacts/Contact/Name").text == "Acme & Sons"


def test_an_xml_error_is_an_api_exception_document(xml_api: XeroApi) -> None:
    response = xml_api.put("/Contacts", json={"Contacts": [{"Name": ""}]})
    assert response.status_code == 400
    assert "<ApiException" in response.text and "<ErrorNumber>10</ErrorNumber>" in response.text
    assert "<ValidationErrors><ValidationError><Message>Contact Name cannot be empty" in response.text


def test_the_read_scope_allows_reads_and_refuses_writes(server: SandboxServer, issue, tenant_id: str) -> None:
    client = XeroApi(server, issue(scopes={"accounting.contacts.read"}), tenant_id)
    try:
        assert client.get("/Contacts").status_code == 200
        refused = client.put("/Contacts", json={"Name": "Acme"})
        assert refused.status_code == 401 and refused.headers["WWW-Authenticate"] == "insufficient_scope"
        assert client.get("/Users").status_code == 401  # /Users needs accounting.settings(.read)
    finally:
        client.close()


def test_a_missing_token_is_a_401_and_a_foreign_tenant_a_403(api: XeroApi, server: SandboxServer) -> None:
    import httpx

    url = server.xero_url + "/api.xro/2.0/Contacts"
    assert httpx.get(url, headers={"xero-tenant-id": api.tenant_id}).status_code == 401
    foreign = httpx.get(
        url, headers={"Authorization": f"Bearer {api.token}", "xero-tenant-id": str(uuid.uuid4())}
    )
    assert foreign.status_code == 403 and foreign.json()["Detail"] == "AuthenticationUnsuccessful"


def test_every_answer_carries_the_rate_limit_headers(api: XeroApi) -> None:
    for response in (
        api.get("/Contacts"),
        api.get(f"/Contacts/{uuid.uuid4()}"),
        api.put("/Contacts", json={}),
    ):
        assert {"x-daylimit-remaining", "x-minlimit-remaining", "x-appminlimit-remaining"} <= set(
            response.headers
        )


def test_an_unknown_accounting_endpoint_is_a_404(api: XeroApi) -> None:
    assert api.get("/BankTransactions").status_code == 404
