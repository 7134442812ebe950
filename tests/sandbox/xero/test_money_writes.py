"""Xero's money, write side: DRAFT invoices and quotes through PUT/POST, their History, status
changes, and payments (sandbox/xero/money_writes.py), checked against an independent Decimal
computation and Xero's OpenAPI schemas."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import httpx
import pytest

from sandbox.app import Sandbox
from sandbox.control import SandboxControl
from sandbox.generator import Dataset, generate
from sandbox.server import SandboxServer
from tests.sandbox.xero.conftest import XeroApi, ms
from tests.support.xero_schemas import errors

WRITER_SCOPES = {
    "accounting.invoices",
    "accounting.payments",
    "accounting.settings.read",
    "accounting.contacts.read",
}


@functools.cache
def book() -> Dataset:
    return generate(30, seed=5)


@pytest.fixture
def xero(server: SandboxServer, sandbox: Sandbox, issue) -> Iterator[XeroApi]:
    dataset = book()
    server.call(lambda: sandbox.load(dataset))
    client = XeroApi(server, issue(scopes=WRITER_SCOPES), sandbox.xero.primary_tenant_id)
    yield client
    client.close()


def customer(index: int = 0) -> dict[str, Any]:
    active = [c for c in book().xero_contacts if c.get("ContactStatus", "ACTIVE") == "ACTIVE"]
    return active[index]


def archived_customer() -> dict[str, Any]:
    return next(c for c in book().xero_contacts if c.get("ContactStatus") == "ARCHIVED")


def decimal_json(response: httpx.Response) -> Any:
    return json.loads(response.text, parse_float=Decimal)


def conforms(body: object, schema: str) -> None:
    problems = errors(body, schema)
    assert problems == [], problems[:5]


def cents(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def expected_totals(lines: list[tuple[str, str, str]], mode: str) -> tuple[Decimal, Decimal, Decimal]:
    """(SubTotal, TotalTax, Total) of (quantity, unit amount, GST %) lines, computed here apart from
    the stand-in: line amount to the cent, GST per line to the cent, then summed."""
    amounts, taxes = [], []
    for quantity, unit, percent in lines:
        amount = cents(Decimal(quantity) * Decimal(unit))
        rate = Decimal(percent) / 100
        if mode == "Exclusive":
            tax = cents(amount * rate)
        elif mode == "Inclusive":
            tax = cents(amount * rate / (1 + rate))
        else:
            tax = Decimal("0.00")
        amounts.append(amount)
        taxes.append(tax)
    tax_total = sum(taxes, Decimal(0))
    sub_total = sum(amounts, Decimal(0)) - (tax_total if mode == "Inclusive" else 0)
    return sub_total, tax_total, sub_total + tax_total


def draft_invoice(**extra: Any) -> dict[str, Any]:
    body = {
        "Type": "ACCREC",
        "Contact": {"ContactID": customer()["ContactID"]},
        "Date": "2026-12-01",
        "DueDate": "2026-12-31",
        "Reference": "CAP-OPP-12",
        "LineAmountTypes": "Exclusive",
        "LineItems": [
            {
                "Description": "Website rebuild",
                "Quantity": 1,
                "UnitAmount": 1234.55,
                "AccountCode": "200",
                "TaxType": "OUTPUT",
                "Tracking": [{"Name": "Region", "Option": "NSW"}],
            }
        ],
    }
    body.update(extra)
    return body


def draft_quote(**extra: Any) -> dict[str, Any]:
    body = {
        "Contact": {"ContactID": customer()["ContactID"]},
        "Date": "2026-12-01",
        "Reference": "CAP-OPP-7",
        "Title": "Won: Website rebuild",
        "LineAmountTypes": "EXCLUSIVE",
        "LineItems": [
            {
                "Description": "Website rebuild",
                "Quantity": 1,
                "UnitAmount": 999.9999,
                "AccountCode": "200",
                "TaxType": "OUTPUT",
            }
        ],
    }
    body.update(extra)
    return body


def put(api: XeroApi, path: str, element: dict[str, Any], **kw: Any) -> httpx.Response:
    key = path.strip("/").split("/")[0].split("?")[0]
    return api.put(path, content=json.dumps({key: [element]}, default=str), **kw)


def highest(numbers: list[str], prefix: str) -> int:
    return max((int(n[len(prefix) :]) for n in numbers if n.startswith(prefix)), default=0)


# ---- slice 1: creating drafts -------------------------------------------------------------------


def test_a_put_invoice_is_a_draft_with_the_next_number_and_gst_per_line_ignoring_sent_totals(
    xero: XeroApi,
) -> None:
    before = [i["InvoiceNumber"] for i in book().xero_invoices if i["Type"] == "ACCREC"]
    element = draft_invoice(SubTotal=1, TotalTax=1, Total=2, AmountDue=2)
    element["LineItems"].append(
        {"Description": "Hosting", "Quantity": 3, "UnitAmount": 33.35, "AccountCode": "200"}
    )
    response = put(xero, "/Invoices", element)
    assert response.status_code == 200, response.text
    conforms(response.json(), "Invoices")
    invoice = decimal_json(response)["Invoices"][0]
    assert invoice["Status"] == "DRAFT" and invoice["Type"] == "ACCREC"
    assert invoice["InvoiceNumber"] == f"INV-{highest(before, 'INV-') + 1:05d}"
    sub_total, tax, total = expected_totals([("1", "1234.55", "10"), ("3", "33.35", "10")], "Exclusive")
    assert (invoice["SubTotal"], invoice["TotalTax"], invoice["Total"]) == (sub_total, tax, total)
    assert invoice["AmountDue"] == total and invoice["AmountPaid"] == 0
    assert [line["TaxAmount"] for line in invoice["LineItems"]] == [Decimal("123.46"), Decimal("10.01")]
    # The second line took the Sales account's default tax type.
    assert invoice["LineItems"][1]["TaxType"] == "OUTPUT"
    assert invoice["LineItems"][0]["Tracking"][0]["Option"] == "NSW"
    assert invoice["LineItems"][0]["Tracking"][0]["TrackingOptionID"]
    assert len({line["LineItemID"] for line in invoice["LineItems"]}) == 2
    assert invoice["Contact"]["ContactID"] == customer()["ContactID"]
    assert invoice["DateString"] == "2026-12-01T00:00:00"

    second = put(xero, "/Invoices", draft_invoice(Reference="CAP-OPP-13")).json()["Invoices"][0]
    assert second["InvoiceNumber"] == f"INV-{highest(before, 'INV-') + 2:05d}"


@pytest.mark.parametrize("mode", ["Inclusive", "NoTax"])
def test_an_inclusive_or_no_tax_invoice_totals_as_xero_does(xero: XeroApi, mode: str) -> None:
    lines = [("2", "10.05", "10"), ("1", "0.55", "10"), ("7", "19.95", "10")]
    element = draft_invoice(
        LineAmountTypes=mode,
        LineItems=[
            {
                "Description": f"Line {i}",
                "Quantity": Decimal(q),
                "UnitAmount": Decimal(u),
                "AccountCode": "200",
            }
            for i, (q, u, _) in enumerate(lines)
        ],
    )
    response = put(xero, "/Invoices", element)
    assert response.status_code == 200, response.text
    invoice = decimal_json(response)["Invoices"][0]
    assert (invoice["SubTotal"], invoice["TotalTax"], invoice["Total"]) == expected_totals(lines, mode)
    assert invoice["LineAmountTypes"] == mode


def test_a_put_quote_is_a_draft_with_the_next_quote_number_and_four_decimal_unit_amounts(
    xero: XeroApi,
) -> None:
    before = [q["QuoteNumber"] for q in book().xero_quotes]
    response = put(xero, "/Quotes", draft_quote(Total=5))
    assert response.status_code == 200, response.text
    conforms(response.json(), "Quotes")
    quote = decimal_json(response)["Quotes"][0]
    assert quote["Status"] == "DRAFT" and quote["QuoteNumber"] == f"QU-{highest(before, 'QU-') + 1:05d}"
    assert quote["LineItems"][0]["UnitAmount"] == Decimal("999.9999")
    assert (quote["SubTotal"], quote["TotalTax"], quote["Total"]) == expected_totals(
        [("1", "999.9999", "10")], "Exclusive"
    )
    # Quotes have no where: a writer finds its quote by listing the contact's quotes.
    listed = xero.get("/Quotes", params={"ContactID": customer()["ContactID"], "page": 1}).json()["Quotes"]
    assert quote["QuoteID"] in [q["QuoteID"] for q in listed]
    assert [q["Reference"] for q in listed if q["QuoteID"] == quote["QuoteID"]] == ["CAP-OPP-7"]


def test_a_new_invoice_is_found_by_reference_and_by_if_modified_since(
    xero: XeroApi, sandbox: Sandbox
) -> None:
    invoice = put(xero, "/Invoices", draft_invoice(Reference="CAP-OPP-42")).json()["Invoices"][0]
    found = xero.get("/Invoices", params={"where": 'Type=="ACCREC" AND Reference=="CAP-OPP-42"', "page": 1})
    assert [i["InvoiceID"] for i in found.json()["Invoices"]] == [invoice["InvoiceID"]]
    assert found.json()["Invoices"][0]["LineItems"]
    since = invoice["UpdatedDateUTCString"]
    changed = xero.get("/Invoices", params={"page": 1}, headers={"If-Modified-Since": since}).json()[
        "Invoices"
    ]
    assert [i["InvoiceID"] for i in changed] == [invoice["InvoiceID"]]
    assert ms(changed[0]["UpdatedDateUTC"]) // 1000 <= int(sandbox.clock.now().timestamp())
    mine = xero.get("/Invoices", params={"createdByMyApp": "true", "page": 1}).json()["Invoices"]
    assert [i["InvoiceID"] for i in mine] == [invoice["InvoiceID"]]
    quote = put(xero, "/Quotes", draft_quote()).json()["Quotes"][0]
    quotes = xero.get("/Quotes", headers={"If-Modified-Since": since}).json()["Quotes"]
    assert quote["QuoteID"] in [q["QuoteID"] for q in quotes]


BAD_LINES = [
    ({"AccountCode": "999"}, "Account code '999' is not a valid code for this document."),
    ({"TaxType": "INPUT"}, "The TaxType code 'INPUT' cannot be used with account code '200'."),
    (
        {"TaxType": "EXEMPTEXPORT"},
        "The TaxType code 'EXEMPTEXPORT' does not exist or cannot be used for this type of transaction",
    ),
    ({"ItemCode": "NO-SUCH-ITEM"}, "Item code 'NO-SUCH-ITEM' is not a valid item code."),
    (
        {"Tracking": [{"Name": "Colour", "Option": "Red"}]},
        "Tracking category 'Colour' does not exist or is archived.",
    ),
    (
        {"Tracking": [{"Name": "Region", "Option": "NT (closed)"}]},
        "Tracking option 'NT (closed)' does not exist or is archived in tracking category 'Region'.",
    ),
]


@pytest.mark.parametrize(("change", "message"), BAD_LINES, ids=[m[:30] for _, m in BAD_LINES])
def test_a_bad_line_is_refused_with_xeros_validation_exception(
    xero: XeroApi, change: dict[str, Any], message: str
) -> None:
    element = draft_invoice()
    element["LineItems"][0].update(change)
    response = put(xero, "/Invoices", element)
    assert response.status_code == 400
    body = response.json()
    conforms(body, "Error")
    assert (body["ErrorNumber"], body["Type"], body["Message"]) == (
        10,
        "ValidationException",
        "A validation exception occurred",
    )
    assert [e["Message"] for e in body["Elements"][0]["ValidationErrors"]] == [message]
    assert body["Elements"][0]["HasErrors"] is True
    assert xero.get("/Invoices", params={"where": 'Reference=="CAP-OPP-12"'}).json()["Invoices"] == []


def test_an_archived_account_contact_or_unsubscribed_currency_is_refused(
    xero: XeroApi, server: SandboxServer, sandbox: Sandbox
) -> None:
    def archive_account() -> None:
        from sandbox.xero.money import book_of

        accounts = book_of(sandbox.xero.primary).accounts.records.values()
        next(a for a in accounts if a["Code"] == "260")["Status"] = "ARCHIVED"

    server.call(archive_account)
    cases = [
        (
            {"LineItems": [{"Description": "x", "Quantity": 1, "UnitAmount": 5, "AccountCode": "260"}]},
            "Account code '260' has been archived, or has been deleted. Each line item must reference a valid account.",
        ),
        ({"CurrencyCode": "EUR"}, "Organisation is not subscribed to currency EUR"),
        (
            {"Contact": {"ContactID": archived_customer()["ContactID"]}},
            "The contact is archived and cannot be used.",
        ),
        (
            {"Contact": {}},
            "The Contact must contain at least 1 of the following elements to identify the contact: "
            "Name, ContactID, ContactNumber",
        ),
        (
            {"Contact": {"ContactID": "6f0b9a4e-0000-4000-8000-000000000000"}},
            "The contact '6f0b9a4e-0000-4000-8000-000000000000' does not exist in this organisation.",
        ),
    ]
    for change, message in cases:
        response = put(xero, "/Invoices", draft_invoice(**change))
        assert response.status_code == 400, change
        assert [e["Message"] for e in response.json()["Elements"][0]["ValidationErrors"]] == [message]


def test_summarize_errors_false_answers_200_with_each_elements_status_and_saves_the_good_one(
    xero: XeroApi,
) -> None:
    bad = draft_invoice(Reference="CAP-OPP-2")
    bad["LineItems"][0]["AccountCode"] = "999"
    body = {"Invoices": [draft_invoice(Reference="CAP-OPP-1"), bad]}
    response = xero.put("/Invoices", params={"summarizeErrors": "false"}, content=json.dumps(body))
    assert response.status_code == 200
    conforms(response.json(), "Invoices")
    first, second = response.json()["Invoices"]
    assert (first["StatusAttributeString"], first["HasErrors"]) == ("OK", False)
    assert (second["StatusAttributeString"], second["HasErrors"]) == ("ERROR", True)
    assert second["ValidationErrors"] == [
        {"Message": "Account code '999' is not a valid code for this document."}
    ]
    # Summarised (the default): a 400 for the bad one, the good one saved all the same.
    response = xero.put(
        "/Invoices", content=json.dumps({"Invoices": [draft_invoice(Reference="CAP-OPP-3"), bad]})
    )
    assert response.status_code == 400 and len(response.json()["Elements"]) == 1
    refs = {
        i.get("Reference")
        for i in xero.get("/Invoices", params={"createdByMyApp": "true"}).json()["Invoices"]
    }
    assert refs == {"CAP-OPP-1", "CAP-OPP-3"}


def test_a_duplicate_invoice_number_is_refused_and_a_quote_needs_its_date(xero: XeroApi) -> None:
    taken = next(
        i["InvoiceNumber"] for i in book().xero_invoices if i["Type"] == "ACCREC" and i["Status"] != "DELETED"
    )
    response = put(xero, "/Invoices", draft_invoice(InvoiceNumber=taken))
    assert [e["Message"] for e in response.json()["Elements"][0]["ValidationErrors"]] == [
        "Invoice # must be unique."
    ]
    quote = draft_quote()
    del quote["Date"]
    response = put(xero, "/Quotes", quote)
    assert response.status_code == 400
    conforms(response.json(), "Error")
    assert response.json()["Elements"][0]["ValidationErrors"] == [
        {"Message": "Date is required for a quote."}
    ]


def test_writing_needs_the_invoices_write_scope_or_the_broad_transactions_scope(xero: XeroApi, issue) -> None:
    def status(scopes: set[str], path: str, element: dict[str, Any]) -> int:
        client = XeroApi(xero.server, issue(scopes=scopes), xero.tenant_id)
        try:
            return put(client, path, element).status_code
        finally:
            client.close()

    assert status({"accounting.invoices.read"}, "/Invoices", draft_invoice()) == 401
    assert status({"accounting.transactions.read"}, "/Quotes", draft_quote()) == 401
    assert status({"accounting.invoices"}, "/Invoices", draft_invoice()) == 200
    assert status({"accounting.transactions"}, "/Quotes", draft_quote()) == 200


def test_an_idempotency_key_replays_the_first_answer_and_a_dropped_answer_left_the_invoice_saved(
    xero: XeroApi, control: SandboxControl
) -> None:
    element = draft_invoice(Reference="CAP-OPP-77")
    first = put(xero, "/Invoices", element, headers={"Idempotency-Key": "opp-77-inv-1"})
    again = put(xero, "/Invoices", element, headers={"Idempotency-Key": "opp-77-inv-1"})
    assert first.json()["Invoices"][0]["InvoiceID"] == again.json()["Invoices"][0]["InvoiceID"]
    control.add_fault("xero", "PUT", "/api.xro/2.0/Quotes", times=1, drop=1.0)
    with pytest.raises(httpx.HTTPError):
        put(xero, "/Quotes", draft_quote(Reference="CAP-OPP-78"), headers={"Idempotency-Key": "opp-78-qu-1"})
    retry = put(
        xero, "/Quotes", draft_quote(Reference="CAP-OPP-78"), headers={"Idempotency-Key": "opp-78-qu-1"}
    )
    assert retry.status_code == 200
    listed = xero.get("/Quotes", params={"ContactID": customer()["ContactID"]}).json()["Quotes"]
    assert [q["QuoteID"] for q in listed if q.get("Reference") == "CAP-OPP-78"] == [
        retry.json()["Quotes"][0]["QuoteID"]
    ]
    found = xero.get("/Invoices", params={"where": 'Type=="ACCREC" AND Reference=="CAP-OPP-77"'}).json()
    assert len(found["Invoices"]) == 1


# ---- slice 2: history, updates and statuses ---------------------------------------------------


def test_a_history_note_on_a_new_invoice_or_quote_is_listed_after_its_creation(xero: XeroApi) -> None:
    invoice = put(xero, "/Invoices", draft_invoice()).json()["Invoices"][0]
    quote = put(xero, "/Quotes", draft_quote()).json()["Quotes"][0]
    for path in (f"/Invoices/{invoice['InvoiceID']}", f"/Quotes/{quote['QuoteID']}"):
        note = {"HistoryRecords": [{"Details": "Created from Capsule opportunity 12 (Website rebuild)"}]}
        added = xero.put(f"{path}/History", json=note)
        assert added.status_code == 200, added.text
        conforms(added.json(), "HistoryRecords")
        listed = xero.get(f"{path}/History")
        conforms(listed.json(), "HistoryRecords")
        records = listed.json()["HistoryRecords"]
        assert [r["Changes"] for r in records] == ["Created", "Note"]
        assert records[-1]["Details"] == "Created from Capsule opportunity 12 (Website rebuild)"
        assert records[-1]["User"] == "System Generated"
    unknown = xero.put("/Invoices/6f0b9a4e-0000-4000-8000-000000000000/History", json=note)
    assert unknown.status_code == 400
    conforms(unknown.json(), "Error")
    assert unknown.json()["Message"] == "The document with the supplied id was not found for this endpoint."
    empty = xero.put(f"/Invoices/{invoice['InvoiceID']}/History", json={"HistoryRecords": [{"Details": ""}]})
    assert empty.status_code == 400
    payment = book().xero_payments[0]["PaymentID"]
    assert xero.put(f"/Payments/{payment}/History", json=note).status_code == 200
    reader = XeroApi(xero.server, xero_token(xero, {"accounting.invoices.read"}), xero.tenant_id)
    try:
        assert reader.get(f"/Invoices/{invoice['InvoiceID']}/History").status_code == 200
        assert reader.put(f"/Invoices/{invoice['InvoiceID']}/History", json=note).status_code == 401
    finally:
        reader.close()


def xero_token(api: XeroApi, scopes: set[str]) -> str:
    sandbox = api.server.sandbox
    return api.server.call(lambda: sandbox.xero.identity.issue_access_token(scopes=frozenset(scopes))).token


def test_posting_new_lines_replaces_them_keeping_only_the_line_ids_sent_back(
    xero: XeroApi, sandbox: Sandbox, server: SandboxServer
) -> None:
    element = draft_invoice()
    element["LineItems"].append(
        {"Description": "Hosting", "Quantity": 1, "UnitAmount": 10, "AccountCode": "200"}
    )
    invoice = put(xero, "/Invoices", element).json()["Invoices"][0]
    kept, dropped = invoice["LineItems"]
    kept["Tracking"] = []
    server.call(lambda: sandbox.clock.advance(5))
    update = {
        "LineItems": [
            # Sent back as read, less the amounts Xero works out (a stale LineAmount is refused).
            {**{k: v for k, v in kept.items() if k not in ("LineAmount", "TaxAmount")}, "UnitAmount": 2000},
            {"Description": "Training", "Quantity": 2, "UnitAmount": 150.25, "AccountCode": "200"},
        ]
    }
    response = xero.post(
        f"/Invoices/{invoice['InvoiceID']}", content=json.dumps({"Invoices": [update]}, default=str)
    )
    assert response.status_code == 200, response.text
    conforms(response.json(), "Invoices")
    updated = decimal_json(response)["Invoices"][0]
    ids = [line["LineItemID"] for line in updated["LineItems"]]
    assert ids[0] == kept["LineItemID"] and ids[1] not in (kept["LineItemID"], dropped["LineItemID"])
    assert (updated["SubTotal"], updated["TotalTax"], updated["Total"]) == expected_totals(
        [("1", "2000", "10"), ("2", "150.25", "10")], "Exclusive"
    )
    assert updated["InvoiceNumber"] == invoice["InvoiceNumber"] and updated["Reference"] == "CAP-OPP-12"
    assert ms(updated["UpdatedDateUTC"]) > ms(invoice["UpdatedDateUTC"])
    # POST /Invoices with a sales invoice's number updates that invoice (no duplicate).
    by_number = {"InvoiceNumber": invoice["InvoiceNumber"], "Reference": "CAP-OPP-12b"}
    response = xero.post("/Invoices", json={"Invoices": [by_number]})
    assert response.json()["Invoices"][0]["InvoiceID"] == invoice["InvoiceID"]
    assert xero.get(f"/Invoices/{invoice['InvoiceID']}").json()["Invoices"][0]["Reference"] == "CAP-OPP-12b"
    history = xero.get(f"/Invoices/{invoice['InvoiceID']}/History").json()["HistoryRecords"]
    assert [r["Changes"] for r in history] == ["Created", "Edited", "Edited"]


def status_change(api: XeroApi, path: str, key: str, status: str) -> httpx.Response:
    return api.post(f"{path}/{key}", json={path.strip("/"): [{"Status": status}]})


def refusal(response: httpx.Response) -> list[str]:
    assert response.status_code == 400, response.text
    conforms(response.json(), "Error")
    return [e["Message"] for e in response.json()["Elements"][0]["ValidationErrors"]]


def test_invoice_status_changes_follow_xeros_matrix(xero: XeroApi) -> None:
    draft = put(xero, "/Invoices", draft_invoice()).json()["Invoices"][0]["InvoiceID"]
    assert refusal(status_change(xero, "/Invoices", draft, "PAID")) == [
        "Invoice not of valid status for modification"
    ]
    assert (
        status_change(xero, "/Invoices", draft, "AUTHORISED").json()["Invoices"][0]["Status"] == "AUTHORISED"
    )
    assert refusal(status_change(xero, "/Invoices", draft, "DRAFT")) == [
        "Invoice not of valid status for modification"
    ]
    assert refusal(status_change(xero, "/Invoices", draft, "DELETED")) == [
        "Invoice not of valid status for modification"
    ]
    voided = status_change(xero, "/Invoices", draft, "VOIDED").json()["Invoices"][0]
    assert voided["Status"] == "VOIDED" and voided["AmountDue"] == 0 and voided["Total"] > 0
    assert refusal(status_change(xero, "/Invoices", draft, "AUTHORISED")) == [
        "Invoice not of valid status for modification"
    ]
    second = put(xero, "/Invoices", draft_invoice()).json()["Invoices"][0]
    deleted = status_change(xero, "/Invoices", second["InvoiceID"], "DELETED").json()["Invoices"][0]
    assert deleted["Status"] == "DELETED"
    # A deleted draft's number can be used again.
    reused = put(xero, "/Invoices", draft_invoice(InvoiceNumber=second["InvoiceNumber"]))
    assert reused.status_code == 200
    part_paid = next(
        i
        for i in book().xero_invoices
        if i["Type"] == "ACCREC" and i["Status"] == "AUTHORISED" and i["AmountPaid"] > 0
    )
    assert refusal(
        xero.post(f"/Invoices/{part_paid['InvoiceID']}", json={"Invoices": [{"Reference": "changed"}]})
    ) == ["This document cannot be edited as it has a payment or credit note allocated to it."]
    assert refusal(status_change(xero, "/Invoices", part_paid["InvoiceID"], "VOIDED")) == [
        "This document cannot be edited as it has a payment or credit note allocated to it."
    ]
    paid = next(i for i in book().xero_invoices if i["Status"] == "PAID")
    assert refusal(status_change(xero, "/Invoices", paid["InvoiceID"], "AUTHORISED")) == [
        "Invoice not of valid status for modification"
    ]
    unknown = "6f0b9a4e-0000-4000-8000-000000000000"
    assert status_change(xero, "/Invoices", unknown, "DELETED").status_code == 404


def test_quote_status_changes_refuse_what_xero_refuses(xero: XeroApi) -> None:
    quote = put(xero, "/Quotes", draft_quote()).json()["Quotes"][0]["QuoteID"]
    assert refusal(status_change(xero, "/Quotes", quote, "DECLINED")) == [
        "Quote not of valid status for modification"
    ]
    assert status_change(xero, "/Quotes", quote, "SENT").json()["Quotes"][0]["Status"] == "SENT"
    accepted = status_change(xero, "/Quotes", quote, "ACCEPTED")
    conforms(accepted.json(), "Quotes")
    assert accepted.json()["Quotes"][0]["Status"] == "ACCEPTED"
    assert refusal(status_change(xero, "/Quotes", quote, "DECLINED")) == [
        "Quote not of valid status for modification"
    ]
    updated = xero.post(f"/Quotes/{quote}", json={"Quotes": [{"Title": "Renamed"}]}).json()["Quotes"][0]
    assert updated["Title"] == "Renamed" and updated["Status"] == "ACCEPTED"
    assert status_change(xero, "/Quotes", quote, "DELETED").json()["Quotes"][0]["Status"] == "DELETED"
    assert refusal(status_change(xero, "/Quotes", quote, "DRAFT")) == [
        "Quote not of valid status for modification"
    ]


# ---- slice 3: payments ----------------------------------------------------------------------------


def approved_invoice(api: XeroApi, unit: str = "1000.00") -> dict[str, Any]:
    element = draft_invoice(Status="AUTHORISED")
    element["LineItems"][0]["UnitAmount"] = Decimal(unit)
    response = put(api, "/Invoices", element)
    assert response.status_code == 200, response.text
    return decimal_json(response)["Invoices"][0]


def payment(invoice: dict[str, Any], amount: str, **extra: Any) -> dict[str, Any]:
    return {
        "Invoice": {"InvoiceID": invoice["InvoiceID"]},
        "Account": {"Code": "090"},
        "Date": "2026-12-06",
        "Amount": Decimal(amount),
        **extra,
    }


def test_a_payment_through_the_api_lowers_amount_due_and_the_last_one_makes_the_invoice_paid(
    xero: XeroApi, sandbox: Sandbox, server: SandboxServer
) -> None:
    invoice = approved_invoice(xero)
    assert invoice["Total"] == Decimal("1100.00") and invoice["Status"] == "AUTHORISED"
    server.call(lambda: sandbox.clock.advance(5))
    first = xero.put("/Payments", content=json.dumps({"Payments": [payment(invoice, "400.10")]}, default=str))
    assert first.status_code == 200, first.text
    conforms(first.json(), "Payments")
    made = decimal_json(first)["Payments"][0]
    assert (made["Amount"], made["Status"], made["PaymentType"]) == (
        Decimal("400.10"),
        "AUTHORISED",
        "ACCRECPAYMENT",
    )
    after = decimal_json(xero.get(f"/Invoices/{invoice['InvoiceID']}"))["Invoices"][0]
    assert (after["AmountPaid"], after["AmountDue"], after["Status"]) == (
        Decimal("400.10"),
        Decimal("699.90"),
        "AUTHORISED",
    )
    assert ms(after["UpdatedDateUTC"]) == ms(made["UpdatedDateUTC"]) > ms(invoice["UpdatedDateUTC"])
    changed = xero.get(
        "/Payments", params={"page": 1}, headers={"If-Modified-Since": made["UpdatedDateUTCString"]}
    )
    assert [p["PaymentID"] for p in changed.json()["Payments"]] == [made["PaymentID"]]

    too_much = xero.post("/Payments", content=json.dumps(payment(invoice, "699.91"), default=str))
    assert too_much.status_code == 400
    conforms(too_much.json(), "Error")
    assert [e["Message"] for e in too_much.json()["Elements"][0]["ValidationErrors"]] == [
        "Payment amount exceeds the amount outstanding on this document"
    ]
    # POST /Payments takes one bare payment.
    rest = xero.post("/Payments", content=json.dumps(payment(invoice, "699.90"), default=str))
    assert rest.status_code == 200, rest.text
    paid = decimal_json(xero.get(f"/Invoices/{invoice['InvoiceID']}"))["Invoices"][0]
    assert (paid["Status"], paid["AmountDue"], paid["AmountPaid"]) == ("PAID", 0, Decimal("1100.00"))
    assert ms(paid["FullyPaidOnDate"]) == int(datetime(2026, 12, 6, tzinfo=UTC).timestamp() * 1000)
    assert [p["Amount"] for p in paid["Payments"]] == [Decimal("400.10"), Decimal("699.90")]
    conforms(xero.get(f"/Invoices/{invoice['InvoiceID']}").json(), "Invoices")
    assert refusal(status_change(xero, "/Invoices", invoice["InvoiceID"], "VOIDED")) == [
        "Invoice not of valid status for modification"
    ]

    # Deleting a payment: it stays, DELETED, and the invoice owes that amount again.
    deleted = xero.post(f"/Payments/{made['PaymentID']}", json={"Status": "DELETED"})
    assert deleted.status_code == 200 and deleted.json()["Payments"][0]["Status"] == "DELETED"
    owing = decimal_json(xero.get(f"/Invoices/{invoice['InvoiceID']}"))["Invoices"][0]
    assert (owing["Status"], owing["AmountDue"]) == ("AUTHORISED", Decimal("400.10"))


def test_a_draft_or_unknown_invoice_or_a_non_bank_account_cannot_be_paid(xero: XeroApi) -> None:
    draft = put(xero, "/Invoices", draft_invoice()).json()["Invoices"][0]
    approved = approved_invoice(xero)
    cases = [
        (payment(draft, "10"), "Payments can only be made against AUTHORISED invoices, not DRAFT ones."),
        (
            payment(approved, "10", Account={"Code": "200"}),
            "Account '200' cannot take payments: use a bank account (or one with payments enabled).",
        ),
        (
            payment({"InvoiceID": "6f0b9a4e-0000-4000-8000-000000000000"}, "10"),
            "The invoice '6f0b9a4e-0000-4000-8000-000000000000' does not exist in this organisation.",
        ),
        (payment(approved, "0"), "Amount must be more than 0."),
    ]
    body = {"Payments": [case for case, _ in cases]}
    response = xero.put(
        "/Payments", params={"summarizeErrors": "false"}, content=json.dumps(body, default=str)
    )
    assert response.status_code == 200
    conforms(response.json(), "Payments")
    answers = response.json()["Payments"]
    assert [a["StatusAttributeString"] for a in answers] == ["ERROR"] * 4
    assert [[e["Message"] for e in a["ValidationErrors"]] for a in answers] == [[m] for _, m in cases]


def test_paying_needs_the_payments_write_scope_and_says_authorization_unsuccessful(
    xero: XeroApi, issue
) -> None:
    invoice = approved_invoice(xero)
    client = XeroApi(
        xero.server, issue(scopes={"accounting.invoices", "accounting.payments.read"}), xero.tenant_id
    )
    try:
        refused = client.put("/Payments", content=json.dumps(payment(invoice, "1"), default=str))
        assert refused.status_code == 401
        assert refused.headers["WWW-Authenticate"] == "insufficient_scope"
        assert refused.json()["Detail"] == "AuthorizationUnsuccessful"
    finally:
        client.close()
    broad = XeroApi(xero.server, issue(scopes={"accounting.transactions"}), xero.tenant_id)
    try:
        assert (
            broad.put("/Payments", content=json.dumps(payment(invoice, "1"), default=str)).status_code == 200
        )
    finally:
        broad.close()


def test_an_automatic_number_skips_one_a_client_already_chose(xero: XeroApi) -> None:
    top = highest([i["InvoiceNumber"] for i in book().xero_invoices if i["Type"] == "ACCREC"], "INV-")
    first = put(xero, "/Invoices", draft_invoice()).json()["Invoices"][0]
    assert first["InvoiceNumber"] == f"INV-{top + 1:05d}"
    chosen = put(xero, "/Invoices", draft_invoice(InvoiceNumber=f"INV-{top + 2:05d}"))
    assert chosen.json()["Invoices"][0]["InvoiceNumber"] == f"INV-{top + 2:05d}"
    automatic = put(xero, "/Invoices", draft_invoice()).json()["Invoices"][0]
    assert automatic["InvoiceNumber"] == f"INV-{top + 3:05d}"


def test_a_discounted_line_is_taxed_after_its_discount_and_a_discount_over_100_is_refused(
    xero: XeroApi,
) -> None:
    element = draft_invoice(
        LineItems=[
            {
                "Description": "Licences",
                "ItemCode": "LICENCE",
                "Quantity": 7,
                "DiscountRate": Decimal("12.5"),
            }
        ]
    )
    invoice = decimal_json(put(xero, "/Invoices", element))["Invoices"][0]
    line = invoice["LineItems"][0]
    # The item supplies price 39.95, account 200 and OUTPUT (10 %).
    amount = cents(Decimal(7) * Decimal("39.95") * (100 - Decimal("12.5")) / 100)
    assert (line["UnitAmount"], line["AccountCode"], line["TaxType"]) == (Decimal("39.95"), "200", "OUTPUT")
    assert (line["LineAmount"], line["TaxAmount"]) == (amount, cents(amount / 10))
    assert invoice["TotalDiscount"] == cents(Decimal(7) * Decimal("39.95")) - amount
    assert invoice["Total"] == amount + cents(amount / 10)
    element["LineItems"][0]["DiscountRate"] = 101
    refused = put(xero, "/Invoices", element)
    assert [e["Message"] for e in refused.json()["Elements"][0]["ValidationErrors"]] == [
        "The discount rate '101' is invalid. Discount must not be greater than the line total."
    ]
