"""The money extract's costs and limits against the stand-in: exactly ceil(n / pageSize) calls per
paged list, a document edited mid-read not lost, the daily limit met while a settings list is read,
and a lost DuckDB file read again in full."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import httpx
import pytest

from capsule_xero.rules.model import Rules
from capsule_xero.settings import Settings
from pipelines.xero import XeroRun, run_xero_extract
from sandbox.app import Sandbox
from sandbox.control import SandboxControl
from sandbox.generator import Dataset, generate
from sandbox.server import SandboxServer
from tests.pipelines.xero.conftest import API, api_calls, options, query
from tests.pipelines.xero.test_money_extract import MONEY_ON, Extract, _signed_in

PAGED = {"Invoices": "xero_invoices", "CreditNotes": "xero_credit_notes", "Payments": "xero_payments"}


@pytest.fixture
def even_book(server: SandboxServer, sandbox: Sandbox) -> Dataset:
    """A small book (~60 invoices, ~40 payments) with an even number of invoices: one DRAFT left out if odd."""
    data = generate(100, seed=3)
    invoices = list(data.xero_invoices)
    if len(invoices) % 2:
        invoices.remove(next(i for i in invoices if i["Status"] == "DRAFT"))
    data = replace(data, xero_invoices=invoices)
    server.call(lambda: sandbox.load(data))
    return data


@pytest.fixture
def money_extract(settings: Settings) -> Extract:
    """``money_extract(rules, **options)``: one extract with those rules, signed in for MONEY_ON."""
    _signed_in(settings, MONEY_ON)

    def run(rules: Rules = MONEY_ON, **changes: Any) -> XeroRun:
        report = XeroRun()
        run_xero_extract(settings, options=options(**changes), run=report, rules=rules)
        return report

    return run


def _calls_per_list(control: SandboxControl, since: int) -> dict[str, int]:
    calls = api_calls(control, since)
    return {name: sum(1 for c in calls if c["path"] == f"{API}/{name}") for name in PAGED}


@pytest.mark.parametrize("exactly_full", ["xero_invoices", "xero_payments"])
def test_a_full_read_of_every_paged_money_list_costs_exactly_one_call_per_page(
    money_extract: Extract, settings: Settings, even_book: Dataset, control: SandboxControl, exactly_full: str
) -> None:
    # The last page of `exactly_full` holds exactly pageSize documents: no closing call may follow it.
    size = len(getattr(even_book, exactly_full)) // 2
    assert len(getattr(even_book, exactly_full)) == 2 * size
    money_extract(page_size=size)
    counts = {name: len(getattr(even_book, table)) for name, table in PAGED.items()}
    assert _calls_per_list(control, 0) == {name: max(1, math.ceil(n / size)) for name, n in counts.items()}
    for name, table in PAGED.items():
        assert query(settings, f"select count(*) from raw.{table}")[0][0] == counts[name]  # noqa: S608


def test_an_invoice_paid_while_the_read_pages_through_is_not_lost(
    money_extract: Extract,
    settings: Settings,
    even_book: Dataset,
    control: SandboxControl,
    server: SandboxServer,
    sandbox: Sandbox,
) -> None:
    org = sandbox.xero.primary
    token = server.call(
        lambda: sandbox.xero.identity.issue_access_token(scopes=frozenset({"accounting.payments"}))
    ).token
    headers = {
        "Authorization": f"Bearer {token}",
        "xero-tenant-id": org.tenant_id,
        "Accept": "application/json",
    }
    size = 10
    oldest_first = sorted(even_book.xero_invoices, key=lambda i: (i["UpdatedDateUTC"], i["InvoiceID"]))
    owing = [i for i in oldest_first[: 2 * size] if i["Status"] == "AUTHORISED" and i["AmountDue"] > 0]
    assert owing  # an unpaid invoice on the first two pages
    paid: list[str] = []

    def pay_during_read(table: str, page: int, records: int) -> None:
        # Paying moves the invoice from a page read already to the end: with plain page numbers
        # alone the first invoice of page 3 would slip onto page 2, read already.
        if table == "xero_invoices" and page == 2 and not paid:
            control.set_clock(advance_seconds=2)
            invoice = owing[0]
            payment = {"Invoice": {"InvoiceID": invoice["InvoiceID"]}, "Account": {"Code": "090"}}
            payment["Amount"] = str(invoice["AmountDue"])
            answer = httpx.put(
                f"{server.xero_url}{API}/Payments",
                json={"Payments": [payment]},
                headers=headers,
                trust_env=False,
            )
            assert answer.status_code == 200, answer.text
            paid.append(invoice["InvoiceID"])

    money_extract(page_size=size, on_page=pay_during_read)
    assert paid
    ids = {row[0] for row in query(settings, "select invoice_id from raw.xero_invoices")}
    assert ids == {i["InvoiceID"] for i in even_book.xero_invoices}
    assert query(settings, "select status from raw.xero_invoices where invoice_id = ?", paid[0]) == [
        ("PAID",)
    ]
