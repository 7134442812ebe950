"""Xero's money into DuckDB against the stand-in: every document once, exact amounts, incremental
reruns, an invoice paid later, nothing read with money off, and a missing scope in one line."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest

from capsule_xero.rules.model import Rules
from capsule_xero.settings import Settings
from capsule_xero.xero.auth import XeroAuth, login
from pipelines.xero import XeroRun, run_xero_extract
from pipelines.xero.helpers import XeroMissingScope
from sandbox.app import Sandbox
from sandbox.control import SandboxControl
from sandbox.generator import Dataset, generate
from sandbox.server import SandboxServer
from tests.pipelines.xero.conftest import API, api_calls, browser, options, query

MONEY_ON = Rules.model_validate({"money": {"read": ["invoices", "quotes", "payments"]}})
MONEY_OFF = Rules()
DOCUMENTS = {
    "xero_invoices": ("Invoices", "xero_invoices"),
    "xero_credit_notes": ("CreditNotes", "xero_credit_notes"),
    "xero_payments": ("Payments", "xero_payments"),
    "xero_quotes": ("Quotes", "xero_quotes"),
}
MONEY_PATHS = {
    f"{API}/{name}"
    for name in (
        "Invoices",
        "CreditNotes",
        "Payments",
        "Quotes",
        "Items",
        "Accounts",
        "TaxRates",
        "TrackingCategories",
        "Currencies",
        "Organisation",
    )
}

Extract = Callable[..., XeroRun]


@pytest.fixture
def book(server: SandboxServer, sandbox: Sandbox) -> Dataset:
    """A generated world with its AU book (~790 invoices and bills, 115 quotes) in the stand-in."""
    data = generate(1100, seed=3)
    server.call(lambda: sandbox.load(data))
    return data


@pytest.fixture
def small_book(server: SandboxServer, sandbox: Sandbox) -> Dataset:
    """A smaller world (a few hundred documents, one page of quotes): enough where paging is not the point."""
    data = generate(250, seed=3)
    server.call(lambda: sandbox.load(data))
    return data


def _signed_in(settings: Settings, rules: Rules) -> XeroAuth:
    auth = XeroAuth(settings, rules=rules)
    login(auth, choose_tenant=lambda connections: connections[0], open_url=browser)
    return auth


@pytest.fixture
def money_extract(settings: Settings) -> Extract:
    """``money_extract(rules, **options)``: one extract with those rules, signed in for MONEY_ON."""
    _signed_in(settings, MONEY_ON)

    def run(rules: Rules = MONEY_ON, **changes: Any) -> XeroRun:
        report = XeroRun()
        run_xero_extract(settings, options=options(**changes), run=report, rules=rules)
        return report

    return run


def _count(settings: Settings, table: str) -> int:
    return query(settings, f"select count(*) from raw.{table}")[0][0]  # noqa: S608 (test constants)


def test_every_document_of_the_book_lands_once_with_exact_decimal_amounts(
    money_extract: Extract, settings: Settings, book: Dataset, control: SandboxControl, sandbox: Sandbox
) -> None:
    assert len(book.xero_quotes) > 100  # Quotes page by a fixed 100: more than one page
    run = money_extract(page_size=100)

    for table, (_, field) in DOCUMENTS.items():
        truth = getattr(book, field)
        key = {"xero_invoices": "invoice_id", "xero_credit_notes": "credit_note_id"}.get(
            table, table.removeprefix("xero_")[:-1] + "_id"
        )
        assert _count(settings, table) == len(truth), table
        distinct = query(settings, f"select count(distinct {key}) from raw.{table}")[0][0]  # noqa: S608
        assert distinct == len(truth), table
        assert run.modes[table] == "full read"
    statuses = {row[0] for row in query(settings, "select distinct status from raw.xero_invoices")}
    assert {"VOIDED", "DELETED", "PAID", "AUTHORISED", "DRAFT"} <= statuses  # voided and deleted kept
    assert {row[0] for row in query(settings, "select distinct type from raw.xero_invoices")} == {
        "ACCREC",
        "ACCPAY",
    }

    lines = query(
        settings,
        "select count(*), sum(l.line_amount) from raw.xero_invoices__line_items l"
        " join raw.xero_invoices i on l._dlt_parent_id = i._dlt_id",
    )[0]
    assert lines[0] == sum(len(i["LineItems"]) for i in book.xero_invoices) > 0
    assert lines[1] == sum(line["LineAmount"] for i in book.xero_invoices for line in i["LineItems"])

    total = query(settings, "select sum(total) from raw.xero_invoices")[0][0]
    assert isinstance(total, Decimal)
    assert total == sum((i["Total"] for i in book.xero_invoices), Decimal(0))
    due = query(settings, "select sum(amount_due) from raw.xero_invoices where status = 'AUTHORISED'")[0][0]
    assert due == sum((i["AmountDue"] for i in book.xero_invoices if i["Status"] == "AUTHORISED"), Decimal(0))
    paid = query(settings, "select sum(amount) from raw.xero_payments")[0][0]
    assert paid == sum((p["Amount"] for p in book.xero_payments), Decimal(0))

    inexact = query(
        settings,
        "select table_name, column_name, data_type from information_schema.columns"
        " where table_schema = 'raw' and (table_name like 'xero_invoices%' or table_name like 'xero_credit_notes%'"
        " or table_name like 'xero_payments%' or table_name like 'xero_quotes%' or table_name like 'xero_items%'"
        " or table_name like 'xero_tax_rates%') and (data_type like '%DOUBLE%' or data_type like '%FLOAT%'"
        " or data_type = 'REAL')",
    )
    assert inexact == []
    types = dict(
        query(
            settings,
            "select column_name, data_type from information_schema.columns"
            " where table_schema = 'raw' and table_name = 'xero_invoices'",
        )
    )
    assert types["total"] == "DECIMAL(18,2)" and types["date"] == "DATE" and types["due_date"] == "DATE"
    line_types = dict(
        query(
            settings,
            "select column_name, data_type from information_schema.columns"
            " where table_schema = 'raw' and table_name = 'xero_invoices__line_items'",
        )
    )
    assert line_types["unit_amount"] == "DECIMAL(18,4)" and line_types["line_amount"] == "DECIMAL(18,2)"

    # Settings: whole lists, one call each.
    assert (
        _count(settings, "xero_tax_rates") == len(book.xero_tax_rates or [])
        or _count(settings, "xero_tax_rates") > 5
    )
    assert query(settings, "select base_currency, version from raw.xero_organisation") == [("AUD", "AU")]
    # Every paged document call sent `page` (unpaged lists drop LineItems) and the largest page.
    calls = [c for c in api_calls(control) if c["path"] in (f"{API}/Invoices", f"{API}/Payments")]
    assert calls and all("page=" in c["query"] and "pageSize=100" in c["query"] for c in calls)
    quote_calls = [c for c in api_calls(control) if c["path"] == f"{API}/Quotes"]
    assert len(quote_calls) >= 2 and all("pageSize" not in c["query"] for c in quote_calls)


def test_a_rerun_with_nothing_changed_makes_one_call_per_list_and_rewrites_nothing(
    money_extract: Extract, settings: Settings, small_book: Dataset, control: SandboxControl
) -> None:
    money_extract()
    loads = {t: query(settings, f"select max(_dlt_load_id) from raw.{t}")[0][0] for t in DOCUMENTS}  # noqa: S608
    since = control.last_seq()
    run = money_extract()
    calls = api_calls(control, since)
    money = [c["path"] for c in calls if c["path"] in MONEY_PATHS]
    assert sorted(money) == sorted(MONEY_PATHS)  # one call each, no second page
    for table in DOCUMENTS:
        assert run.modes[table] == "incremental"
        assert run.records.get(table, 0) == 0
        assert query(settings, f"select max(_dlt_load_id) from raw.{table}")[0][0] == loads[table]  # noqa: S608
        assert _count(settings, table) == len(getattr(small_book, DOCUMENTS[table][1]))


def test_an_invoice_paid_after_the_first_run_is_read_again_and_merged(
    money_extract: Extract,
    settings: Settings,
    small_book: Dataset,
    control: SandboxControl,
    server: SandboxServer,
    sandbox: Sandbox,
) -> None:
    money_extract()
    org = sandbox.xero.primary
    invoices = org.money_book.invoices  # type: ignore[attr-defined]
    owing = next(r for r in invoices.records.values() if r["Status"] == "AUTHORISED" and r["AmountDue"] > 0)
    invoice_id = owing["InvoiceID"]
    control.set_clock(advance_seconds=5)
    # Paid through the API as a bookkeeper's bank feed would: AmountDue to 0, PAID, UpdatedDateUTC moves.
    token = server.call(
        lambda: sandbox.xero.identity.issue_access_token(scopes=frozenset({"accounting.payments"}))
    ).token
    headers = {
        "Authorization": f"Bearer {token}",
        "xero-tenant-id": org.tenant_id,
        "Accept": "application/json",
    }
    payment = {
        "Invoice": {"InvoiceID": invoice_id},
        "Account": {"Code": "090"},
        "Amount": str(owing["AmountDue"]),
    }
    paid = httpx.put(
        f"{server.xero_url}{API}/Payments", json={"Payments": [payment]}, headers=headers, trust_env=False
    )
    assert paid.status_code == 200, paid.text
    run = money_extract()
    assert run.modes["xero_invoices"] == "incremental"
    assert run.records["xero_invoices"] == 1
    rows = query(
        settings,
        "select status, amount_due, amount_paid from raw.xero_invoices where invoice_id = ?",
        invoice_id,
    )
    assert rows == [("PAID", Decimal("0.00"), owing["AmountPaid"] + owing["AmountDue"])]
    assert _count(settings, "xero_invoices") == len(small_book.xero_invoices)
    lines = query(
        settings,
        "select count(*) from raw.xero_invoices__line_items l join raw.xero_invoices i"
        " on l._dlt_parent_id = i._dlt_id where i.invoice_id = ?",
        invoice_id,
    )[0][0]
    assert lines == len(owing["LineItems"])


def test_with_money_off_no_money_endpoint_is_called(
    money_extract: Extract, settings: Settings, small_book: Dataset, control: SandboxControl
) -> None:
    money_extract(rules=MONEY_OFF)
    assert not [c for c in api_calls(control) if c["path"] in MONEY_PATHS]
    tables = {r[0] for r in query(settings, "select table_name from information_schema.tables")}
    assert not {t for t in tables if t.startswith(("xero_invoices", "xero_payments", "xero_quotes"))}


def test_only_payments_on_reads_payments_and_settings_but_no_invoices(
    money_extract: Extract, settings: Settings, small_book: Dataset, control: SandboxControl
) -> None:
    money_extract(rules=Rules.model_validate({"money": {"read": ["payments"]}}))
    paths = {c["path"] for c in api_calls(control)}
    assert f"{API}/Payments" in paths and f"{API}/TaxRates" in paths
    assert not paths & {f"{API}/Invoices", f"{API}/Quotes", f"{API}/CreditNotes", f"{API}/Items"}
    assert _count(settings, "xero_payments") == len(small_book.xero_payments)


def test_a_sign_in_without_the_invoices_scope_gets_one_line_naming_it_and_the_command(
    settings: Settings, small_book: Dataset
) -> None:
    _signed_in(settings, MONEY_OFF)  # consented before money was turned on
    with pytest.raises(XeroMissingScope) as refused:
        run_xero_extract(settings, options=options(), run=XeroRun(), rules=MONEY_ON)
    message = str(refused.value)
    assert "\n" not in message
    assert "accounting.invoices.read" in message and "capsule-xero auth login" in message
