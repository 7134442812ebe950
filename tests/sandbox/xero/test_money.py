"""Xero's money, read side: the generated AU book and the stand-in's Invoices, CreditNotes, Payments,
Quotes and settings endpoints (paging, If-Modified-Since, filters, scopes, schemas)."""

from __future__ import annotations

import functools
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest

from sandbox.app import Sandbox
from sandbox.control import SandboxControl
from sandbox.generator import Dataset, generate
from sandbox.server import SandboxServer
from tests.sandbox.xero.conftest import XeroApi, ms
from tests.support.xero_schemas import errors

MONEY_SCOPES = {"accounting.invoices.read", "accounting.payments.read", "accounting.settings.read"}
PARTIES = 150


@functools.cache
def book(parties: int = PARTIES, seed: int = 11) -> Dataset:
    return generate(parties, seed=seed)


@pytest.fixture
def money(server: SandboxServer, sandbox: Sandbox, issue) -> XeroApi:
    dataset = book()
    server.call(lambda: sandbox.load(dataset))
    client = XeroApi(server, issue(scopes=MONEY_SCOPES), sandbox.xero.primary_tenant_id)
    yield client
    client.close()


def conforms(body: object, schema: str) -> None:
    problems = errors(body, schema)
    assert problems == [], problems[:5]


def cents(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


# ---- the generated book -------------------------------------------------------------------------


def test_a_generated_book_has_every_document_status_a_bookkeeper_meets() -> None:
    ds = book()
    sales = [i for i in ds.xero_invoices if i["Type"] == "ACCREC"]
    assert {i["Status"] for i in sales} == {"DRAFT", "SUBMITTED", "AUTHORISED", "PAID", "VOIDED", "DELETED"}
    today = ds.now.date()
    open_ = [i for i in sales if i["Status"] == "AUTHORISED"]
    assert any(i["DueDate"] < today for i in open_), "overdue invoices"
    assert any(i["DueDate"] >= today for i in open_), "invoices not yet due"
    assert any(i["AmountPaid"] > 0 for i in open_), "part-paid invoices"
    assert any(i["AmountCredited"] > 0 for i in sales), "credited invoices"
    assert {i["CurrencyCode"] for i in ds.xero_invoices} == {"AUD", "USD", "NZD"}
    assert all(i["CurrencyRate"] != 1 for i in ds.xero_invoices if i["CurrencyCode"] != "AUD")
    assert {i["Type"] for i in ds.xero_invoices} == {"ACCREC", "ACCPAY"}
    assert {q["Status"] for q in ds.xero_quotes} == {
        "DRAFT",
        "SENT",
        "ACCEPTED",
        "DECLINED",
        "INVOICED",
        "DELETED",
    }
    assert {c["Status"] for c in ds.xero_credit_notes} >= {"PAID", "AUTHORISED"}
    assert any(c["Allocations"] for c in ds.xero_credit_notes)
    assert {p["PaymentType"] for p in ds.xero_payments} == {"ACCRECPAYMENT", "ACCPAYPAYMENT"}
    assert len(ds.xero_tracking_categories) == 2 and all(c["Options"] for c in ds.xero_tracking_categories)
    assert {c["Code"] for c in ds.xero_currencies} == {"AUD", "USD", "NZD"}
    assert {a["Code"] for a in ds.xero_accounts} >= {"090", "200", "400", "820", "860"}
    rates = {t["TaxType"]: t for t in ds.xero_tax_rates}
    assert rates["OUTPUT"]["EffectiveRate"] == 10 and rates["INPUT"]["EffectiveRate"] == 10
    assert rates["EXEMPTOUTPUT"]["EffectiveRate"] == 0 and "BASEXCLUDED" in rates
    assert ds.xero_organisation["Version"] == "AU" and ds.xero_organisation["BaseCurrency"] == "AUD"
    customers = {c["ContactID"] for c in ds.xero_contacts}
    assert {i["Contact"]["ContactID"] for i in ds.xero_invoices} <= customers


def _expected_line(
    line: dict[str, Any], line_amount_types: str, rates: dict[str, Decimal]
) -> tuple[Decimal, Decimal]:
    gross = line["Quantity"] * line["UnitAmount"] * (100 - line.get("DiscountRate", 0)) / 100
    amount = cents(gross)
    rate = rates[line["TaxType"]] / 100
    kind = line_amount_types.upper()
    if kind == "EXCLUSIVE":
        return amount, cents(amount * rate)
    if kind == "INCLUSIVE":
        return amount, cents(amount * rate / (1 + rate))
    return amount, Decimal(0)


def test_every_document_total_is_the_sum_of_its_lines_with_gst_rounded_per_line() -> None:
    ds = book()
    rates = {t["TaxType"]: Decimal(t["EffectiveRate"]) for t in ds.xero_tax_rates}
    documents = [*ds.xero_invoices, *ds.xero_credit_notes, *ds.xero_quotes]
    kinds = set()
    for doc in documents:
        kinds.add(doc["LineAmountTypes"].upper())
        line_sum = tax = Decimal(0)
        for line in doc["LineItems"]:
            amount, line_tax = _expected_line(line, doc["LineAmountTypes"], rates)
            assert (line["LineAmount"], line["TaxAmount"]) == (amount, line_tax), doc.get("InvoiceNumber")
            line_sum, tax = line_sum + amount, tax + line_tax
        inclusive = doc["LineAmountTypes"].upper() == "INCLUSIVE"
        assert doc["TotalTax"] == tax
        assert doc["SubTotal"] == (line_sum - tax if inclusive else line_sum)
        assert doc["Total"] == doc["SubTotal"] + doc["TotalTax"]
        for name in ("SubTotal", "TotalTax", "Total"):
            assert isinstance(doc[name], Decimal) and doc[name] == cents(doc[name])
    assert kinds == {"EXCLUSIVE", "INCLUSIVE", "NOTAX"}


def test_amount_due_is_the_total_less_payments_and_allocated_credit() -> None:
    ds = book()
    paid: dict[str, Decimal] = defaultdict(Decimal)
    for payment in ds.xero_payments:
        if payment["Status"] == "AUTHORISED":
            paid[payment["Invoice"]["InvoiceID"]] += payment["Amount"]
    credited: dict[str, Decimal] = defaultdict(Decimal)
    for note in ds.xero_credit_notes:
        allocated = sum((a["Amount"] for a in note["Allocations"]), Decimal(0))
        assert note["RemainingCredit"] == note["Total"] - allocated
        assert (note["Status"] == "PAID") == (note["RemainingCredit"] == 0)
        for allocation in note["Allocations"]:
            credited[allocation["Invoice"]["InvoiceID"]] += allocation["Amount"]
    for invoice in ds.xero_invoices:
        iid = invoice["InvoiceID"]
        assert invoice["AmountPaid"] == paid[iid]
        assert invoice["AmountCredited"] == credited[iid]
        if invoice["Status"] in ("VOIDED", "DELETED"):
            assert invoice["AmountDue"] == 0 and invoice["AmountPaid"] == 0
        else:
            assert (
                invoice["AmountDue"] == invoice["Total"] - invoice["AmountPaid"] - invoice["AmountCredited"]
            )
            assert (invoice["Status"] == "PAID") == (invoice["AmountDue"] == 0)
        assert invoice["UpdatedDateUTC"] <= ds.now


def test_the_book_is_deterministic_by_seed_and_proportional_to_the_contacts() -> None:
    def money_json(ds: Dataset) -> str:
        keep = ("xero_invoices", "xero_credit_notes", "xero_payments", "xero_quotes")
        return Dataset(seed=0, size=0, **{name: getattr(ds, name) for name in keep}).to_json()

    assert money_json(generate(PARTIES, seed=11)) == money_json(book())
    assert money_json(generate(PARTIES, seed=12)) != money_json(book())
    bigger = book(4 * PARTIES, 11)
    ratio = len(bigger.xero_invoices) / len(book().xero_invoices)
    assert 3 < ratio < 5


# ---- the endpoints ------------------------------------------------------------------------------


def _all_pages(api: XeroApi, path: str, page_size: int, **headers: str) -> tuple[list[dict], list[dict]]:
    items, paginations = [], []
    page = 1
    while True:
        body = api.get(path, params={"page": page, "pageSize": page_size}, headers=headers).json()
        paginations.append(body["pagination"])
        key = path.strip("/")
        items.extend(body[key])
        if len(body[key]) < page_size:
            return items, paginations
        page += 1


def test_invoices_page_in_updated_order_and_if_modified_since_returns_only_later_changes(
    money: XeroApi,
) -> None:
    ds = book()
    items, paginations = _all_pages(money, "/Invoices", 40)
    assert [i["InvoiceID"] for i in items] and len(items) == len(ds.xero_invoices)
    assert len({i["InvoiceID"] for i in items}) == len(items)
    assert paginations[0] == {
        "page": 1,
        "pageSize": 40,
        "pageCount": -(-len(ds.xero_invoices) // 40),
        "itemCount": len(ds.xero_invoices),
    }
    stamps = [ms(i["UpdatedDateUTC"]) for i in items]
    assert stamps == sorted(stamps)
    assert all(len(i["LineItems"]) >= 1 for i in items)
    cursor = datetime.fromtimestamp(stamps[len(stamps) // 2] // 1000, UTC)
    since = cursor.strftime("%Y-%m-%dT%H:%M:%S")
    later, _ = _all_pages(money, "/Invoices", 1000, **{"If-Modified-Since": since})
    expected = {
        i["InvoiceID"] for i in ds.xero_invoices if int(i["UpdatedDateUTC"].timestamp()) >= cursor.timestamp()
    }
    assert {i["InvoiceID"] for i in later} == expected and 0 < len(expected) < len(items)
    for path in ("/CreditNotes", "/Payments"):
        changed = money.get(path, params={"page": 1}, headers={"If-Modified-Since": since}).json()[path[1:]]
        assert all(ms(x["UpdatedDateUTC"]) // 1000 >= cursor.timestamp() for x in changed)
    future = (ds.now + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S")
    assert (
        money.get("/Invoices", params={"page": 1}, headers={"If-Modified-Since": future}).json()["Invoices"]
        == []
    )


def test_an_unpaged_invoice_or_credit_note_list_has_no_lines_but_a_page_ids_or_single_get_does(
    money: XeroApi,
) -> None:
    unpaged = money.get("/Invoices").json()["Invoices"]
    assert unpaged and all("LineItems" not in i for i in unpaged)
    assert all("LineItems" not in c for c in money.get("/CreditNotes").json()["CreditNotes"])
    some = [i["InvoiceID"] for i in unpaged[:3]]
    by_ids = money.get("/Invoices", params={"IDs": ",".join(some)}).json()["Invoices"]
    assert sorted(i["InvoiceID"] for i in by_ids) == sorted(some) and all(i["LineItems"] for i in by_ids)
    one = money.get(f"/Invoices/{some[0]}").json()["Invoices"][0]
    assert one["LineItems"]
    number = next(i for i in unpaged if i["Type"] == "ACCREC")["InvoiceNumber"]
    assert money.get(f"/Invoices/{number}").json()["Invoices"][0]["InvoiceNumber"] == number
    assert money.get("/Invoices/INV-NOPE").status_code == 404


def test_invoice_filters_select_by_status_contact_and_number_and_keep_voided_and_deleted(
    money: XeroApi,
) -> None:
    ds = book()
    everything = money.get("/Invoices").json()["Invoices"]
    assert {"VOIDED", "DELETED"} <= {i["Status"] for i in everything}
    gone = money.get("/Invoices", params={"Statuses": "VOIDED,DELETED", "page": 1}).json()["Invoices"]
    assert sorted(i["InvoiceID"] for i in gone) == sorted(
        i["InvoiceID"] for i in ds.xero_invoices if i["Status"] in ("VOIDED", "DELETED")
    )
    voided = next(i for i in gone if i["Status"] == "VOIDED")
    assert voided["AmountDue"] == 0 and voided["Total"] > 0
    contact = ds.xero_invoices[0]["Contact"]["ContactID"]
    theirs = money.get("/Invoices", params={"ContactIDs": contact, "page": 1}).json()["Invoices"]
    assert sorted(i["InvoiceID"] for i in theirs) == sorted(
        i["InvoiceID"] for i in ds.xero_invoices if i["Contact"]["ContactID"] == contact
    )
    numbers = [i["InvoiceNumber"] for i in ds.xero_invoices if i["Type"] == "ACCREC"][:2]
    found = money.get("/Invoices", params={"InvoiceNumbers": ",".join(numbers), "page": 1}).json()["Invoices"]
    assert sorted(i["InvoiceNumber"] for i in found) == sorted(numbers)
    bills = money.get("/Invoices", params={"where": 'Type=="ACCPAY"', "page": 1}).json()["Invoices"]
    assert bills and {i["Type"] for i in bills} == {"ACCPAY"}
    assert money.get("/Invoices", params={"Statuses": "OPEN"}).status_code == 400


def test_page_size_is_capped_at_1000_and_quotes_page_by_100_without_pagination(money: XeroApi) -> None:
    refused = money.get("/Invoices", params={"page": 1, "pageSize": 1001})
    assert refused.status_code == 400 and "pageSize" in refused.json()["Message"]
    assert money.get("/Payments", params={"page": 1, "pageSize": 1000}).status_code == 200
    quotes = money.get("/Quotes", params={"page": 1, "pageSize": 5}).json()
    assert "pagination" not in quotes
    assert (
        len(quotes["Quotes"]) == min(100, len(book().xero_quotes)) > 5
    )  # pageSize is not a Quotes parameter
    assert money.get("/Quotes", params={"page": 2}).json()["Quotes"] == []
    sent = money.get("/Quotes", params={"Status": "SENT"}).json()["Quotes"]
    assert sent and {q["Status"] for q in sent} == {"SENT"}
    assert "+" not in sent[0]["Date"]  # quote dates carry no offset


def test_settings_lists_serve_the_organisations_chart_taxes_tracking_and_currencies(money: XeroApi) -> None:
    org = money.get("/Organisation").json()["Organisations"][0]
    assert (org["Version"], org["BaseCurrency"], org["CountryCode"]) == ("AU", "AUD", "AU")
    output = money.get("/TaxRates/OUTPUT").json()["TaxRates"][0]
    assert output["EffectiveRate"] == 10 and output["CanApplyToRevenue"] is True
    archived = money.get("/TaxRates", params={"where": 'Status=="ARCHIVED"'}).json()["TaxRates"]
    assert "CAPEXINPUT" in {t["TaxType"] for t in archived}
    sales = money.get("/Accounts", params={"where": 'Code=="200"'}).json()["Accounts"]
    assert [(a["Name"], a["TaxType"]) for a in sales] == [("Sales", "OUTPUT")]
    active = money.get("/TrackingCategories").json()["TrackingCategories"]
    everything = money.get("/TrackingCategories", params={"includeArchived": "true"}).json()[
        "TrackingCategories"
    ]
    options = sum(len(c["Options"]) for c in active)
    assert len(active) == 2 and sum(len(c["Options"]) for c in everything) == options + 1
    assert [c["Code"] for c in money.get("/Currencies").json()["Currencies"]] == ["AUD", "USD", "NZD"]
    item = money.get("/Items").json()["Items"][0]
    assert money.get(f"/Items/{item['ItemID']}").json()["Items"][0]["Code"] == item["Code"]


def test_a_token_without_the_needed_scope_gets_401(money: XeroApi, issue) -> None:
    def status(scopes: set[str], path: str) -> int:
        client = XeroApi(money.server, issue(scopes=scopes), money.tenant_id)
        try:
            response = client.get(path)
            if response.status_code == 401:
                assert response.headers["WWW-Authenticate"] == "insufficient_scope"
            return response.status_code
        finally:
            client.close()

    assert status({"accounting.contacts"}, "/Invoices") == 401
    assert status({"accounting.payments.read"}, "/Invoices") == 401
    assert status({"accounting.payments.read"}, "/Payments") == 200
    assert status({"accounting.invoices.read"}, "/Payments") == 401
    assert status({"accounting.invoices.read"}, "/Quotes") == 200
    assert status({"accounting.transactions.read"}, "/CreditNotes") == 200  # apps older than 2 March 2026
    assert status({"accounting.invoices.read"}, "/Accounts") == 401
    assert status({"accounting.settings.read"}, "/Organisation") == 200
    assert status({"accounting.settings.read"}, "/Invoices") == 401


def test_faults_and_rate_limits_reach_the_money_routes(
    money: XeroApi, control: SandboxControl, sandbox: Sandbox
) -> None:
    control.add_fault("xero", "GET", "/api.xro/2.0/Invoices", times=1, **{"503": 1.0})
    assert money.get("/Invoices", params={"page": 1}).status_code == 503
    ok = money.get("/Invoices", params={"page": 1})
    assert ok.status_code == 200 and "x-minlimit-remaining" in ok.headers
    before = int(ok.headers["x-daylimit-remaining"])
    assert int(money.get("/TaxRates").headers["x-daylimit-remaining"]) == before - 1


# ---- conformance ---------------------------------------------------------------------------------


def test_every_money_answer_conforms_to_xeros_schemas(money: XeroApi) -> None:
    lists = {
        "Invoices": "Invoice",
        "CreditNotes": "CreditNote",
        "Payments": "Payment",
        "Quotes": "Quote",
        "Items": "Item",
        "Accounts": "Account",
        "TaxRates": "TaxRate",
        "TrackingCategories": "TrackingCategory",
        "Currencies": "Currency",
    }
    for key, element in lists.items():
        for params in ({}, {"page": 1, "pageSize": 1000}):
            body = money.get(f"/{key}", params=params).json()
            assert body[key], key
            conforms(body, key)
            for item in body[key]:
                conforms(item, element)
    conforms(money.get("/Organisation").json(), "Organisations")
    singles = {
        "Invoices": ("InvoiceID", "Invoice"),
        "CreditNotes": ("CreditNoteID", "CreditNote"),
        "Payments": ("PaymentID", "Payment"),
        "Quotes": ("QuoteID", "Quote"),
        "Items": ("ItemID", "Item"),
        "Accounts": ("AccountID", "Account"),
        "TrackingCategories": ("TrackingCategoryID", "TrackingCategory"),
    }
    for key, (id_field, element) in singles.items():
        first = money.get(f"/{key}").json()[key][0]
        body = money.get(f"/{key}/{first[id_field]}").json()
        conforms(body, key)
        conforms(body[key][0], element)
    conforms(money.get("/TaxRates/INPUT").json(), "TaxRates")
    refused = money.get("/Invoices", params={"page": 1, "pageSize": 0})
    assert refused.status_code == 400
    conforms(refused.json(), "Error")
