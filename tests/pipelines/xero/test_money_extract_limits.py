"""The money extract's costs and limits against the stand-in: exactly ceil(n / pageSize) calls per
paged list, a document edited mid-read not lost, the daily limit met while a settings list is read,
and a lost DuckDB file read again in full."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import duckdb
import httpx
import pytest

from capsule_xero.rules.model import Rules
from capsule_xero.settings import Settings
from pipelines.capsule import extract_capsule
from pipelines.xero import DailyLimitReached, XeroRun, reset_pacers, run_xero_extract
from sandbox.app import Sandbox
from sandbox.control import SandboxControl
from sandbox.generator import Dataset, generate
from sandbox.server import SandboxServer
from sandbox.xero.control import XeroControl
from tests.pipelines.xero.conftest import API, QUICK, api_calls, options, query
from tests.pipelines.xero.test_money_extract import DOCUMENTS, MONEY_ON, Extract, _signed_in

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


SETTINGS_TABLES = ("xero_accounts", "xero_tax_rates", "xero_tracking_categories", "xero_currencies")


def _snapshot(settings: Settings) -> dict[str, list[tuple[object, ...]]]:
    tables = (*SETTINGS_TABLES, "xero_organisation", "xero_items", *PAGED.values(), "xero_quotes")
    sql = "select * exclude (_dlt_load_id, _dlt_id) from raw.{}"
    return {t: sorted(map(repr, query(settings, sql.format(t)))) for t in tables}


def test_the_daily_limit_met_while_the_settings_lists_are_read_stops_cleanly_and_keeps_every_table_whole(
    money_extract: Extract,
    settings: Settings,
    even_book: Dataset,
    control: SandboxControl,
    xero: XeroControl,
    tenant: str,
    server: SandboxServer,
    sandbox: Sandbox,
) -> None:
    stopped_at = "Accounts"  # the first settings list; tax rates, tracking and currencies are not read
    money_extract()
    before = _snapshot(settings)
    since = control.last_seq()
    money_extract()  # nothing changed: the same calls as the stopped run below, in the same order
    sequence = [c["path"].removeprefix(f"{API}/") for c in api_calls(control, since)]
    position = sequence.index(stopped_at)

    reset_pacers()
    xero.reset_limits(tenant)
    xero.set_limits(tenant, day=position + 2)  # every call before `stopped_at`, and two kept for writes
    pacing = replace(QUICK, daily_reserve=2)
    since = control.last_seq()
    with pytest.raises(DailyLimitReached) as stopped:
        money_extract(pacing=pacing)
    message = str(stopped.value)
    assert "\n" not in message and "Run again after" in message
    assert [c["path"].removeprefix(f"{API}/") for c in api_calls(control, since)] == sequence[:position]
    assert _snapshot(settings) == before  # no list emptied or half-replaced by the stop

    xero.reset_limits(tenant)
    xero.set_limits(tenant, day=5000)
    reset_pacers()
    control.set_clock(advance_seconds=5)
    book = sandbox.xero.primary.money_book  # type: ignore[attr-defined]
    dropped = book.currencies[-1]["Code"]
    server.call(lambda: setattr(book, "currencies", book.currencies[:-1]))
    run = money_extract()
    assert run.stopped is None
    after = _snapshot(settings)
    assert len(after.pop("xero_currencies")) == len(before.pop("xero_currencies")) - 1  # still replaced whole
    assert after == before
    assert not query(settings, "select 1 from raw.xero_currencies where code = ?", dropped)


def test_a_lost_duckdb_file_or_an_emptied_money_table_reads_every_document_again_once(
    money_extract: Extract, settings: Settings, even_book: Dataset
) -> None:
    money_extract()
    settings.duckdb_path.unlink()
    extract_capsule(settings)  # `sync` reads Capsule first: the file and its dataset exist again

    run = money_extract()

    for table, (_, field) in DOCUMENTS.items():
        assert run.modes[table] == "full read", table
        key = query(settings, f"select count(*), count(distinct _dlt_id) from raw.{table}")[0]  # noqa: S608
        assert key == (len(getattr(even_book, field)), len(getattr(even_book, field))), table
    ids = query(settings, "select count(distinct invoice_id) from raw.xero_invoices")[0][0]
    assert ids == len(even_book.xero_invoices)
    assert query(settings, "select count(*) from raw.xero_accounts")[0][0] == len(even_book.xero_accounts)
    again = money_extract()
    assert all(again.modes[table] == "incremental" for table in DOCUMENTS)

    with duckdb.connect(str(settings.duckdb_path)) as con:  # one table emptied (a bad hand edit)
        con.execute("delete from raw.xero_payments")
    emptied = money_extract()
    assert emptied.modes["xero_payments"] == "full read" and emptied.modes["xero_invoices"] == "incremental"
    assert query(settings, "select count(*) from raw.xero_payments")[0][0] == len(even_book.xero_payments)


def test_payments_imported_in_bulk_sharing_their_seconds_cost_no_extra_call(
    money_extract: Extract,
    settings: Settings,
    server: SandboxServer,
    sandbox: Sandbox,
    control: SandboxControl,
) -> None:
    # A bank-feed import: every payment copied 8 times with the same UpdatedDateUTC second.
    data = generate(60, seed=3)
    copies = [
        {**p, "PaymentID": f"{n:08x}{p['PaymentID'][8:]}"} for n in range(8) for p in data.xero_payments
    ]
    server.call(lambda: sandbox.load(replace(data, xero_payments=copies)))
    size = 40
    money_extract(page_size=size)
    assert _calls_per_list(control, 0)["Payments"] == math.ceil(len(copies) / size)
    assert query(settings, "select count(*) from raw.xero_payments")[0][0] == len(copies)
