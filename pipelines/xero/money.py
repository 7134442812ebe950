"""Xero's money into DuckDB ``raw``: documents, items, accounts and the settings they use (issue 14).

Only what the rules file's ``money.read`` turns on is read; with nothing on, the extract makes not
one call more than the contact sync. Facts: docs/api-facts.md#xero-money-reading (paging, lines,
If-Modified-Since), #xero-money-settings and #xero-money-scopes.

| rules ``money.read`` | tables | read |
|---|---|---|
| ``invoices`` | ``xero_invoices`` (sales and bills, + ``__line_items``, ``__payments``, ``__credit_notes``), ``xero_credit_notes`` (+ ``__line_items``, ``__allocations``), ``xero_items`` | paged 1,000 at a time; items in one call |
| ``payments`` | ``xero_payments`` | paged 1,000 at a time |
| ``quotes`` | ``xero_quotes`` (+ ``__line_items``) | paged 100 at a time (Quotes take no pageSize) |
| any of them | ``xero_accounts``, ``xero_tax_rates``, ``xero_tracking_categories`` (+ ``__options``), ``xero_currencies``, ``xero_organisation`` | one call each |

Documents, items and accounts are merged on their ids and read incrementally from their
``UpdatedDateUTC`` cursor with ``If-Modified-Since``, ordered ``UpdatedDateUTC ASC``, paged as
contacts are (pipelines/xero/paging.py: pages 1 … ``pageCount``, checked against ``itemCount``); paying or crediting an invoice moves its
UpdatedDateUTC, so the cursor sees it. Voided and deleted documents stay in Xero's lists and are
loaded with their status. Tax rates, tracking categories, currencies and the organisation have no
timestamp: each is one call, replaced whole every run. Every amount is a DECIMAL column, never a
double; calendar dates are DATE columns.

What it costs (the Starter tier allows 1,000 calls a day per organisation, docs/api-facts.md#xero-rate-limits):
with everything on, an unchanged run makes 10 calls more than the contact sync (one per document
kind, items and accounts, and the 4 settings lists); with only payments on, 6. A first or lost-file
run makes ``ceil(n / 1000)`` calls per document kind (at least one) plus those 6; quotes, whose
answer has no ``pagination``, are walked (each page reads the last second of the one before again)
and end on a short page: a little over ``n / 100``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import dlt

from capsule_xero.xero.errors import DailyLimitReached
from pipelines.xero.drift import DriftDetector
from pipelines.xero.helpers import XeroApi, XeroRun
from pipelines.xero.paging import ModifiedSinceWalk
from pipelines.xero.records import modified_since_header, tidy_document
from pipelines.xero.resources import drift_transformer
from pipelines.xero.settings import (
    ACCOUNT_COLUMNS,
    ACCOUNT_FIELDS,
    ACCOUNTS_TABLE,
    ALLOCATION_FIELDS,
    CREDIT_NOTE_COLUMNS,
    CREDIT_NOTE_FIELDS,
    CREDIT_NOTE_NESTED_COLUMNS,
    CREDIT_NOTES_TABLE,
    CURRENCIES_TABLE,
    CURRENCY_COLUMNS,
    CURRENCY_FIELDS,
    INVOICE_COLUMNS,
    INVOICE_FIELDS,
    INVOICE_NESTED_COLUMNS,
    INVOICES_TABLE,
    ITEM_COLUMNS,
    ITEM_FIELDS,
    ITEMS_TABLE,
    LINE_ITEM_FIELDS,
    LOADER_FILE_FORMAT,
    ORGANISATION_COLUMNS,
    ORGANISATION_FIELDS,
    ORGANISATION_TABLE,
    PAGE_SIZE,
    PAYMENT_COLUMNS,
    PAYMENT_FIELDS,
    PAYMENTS_TABLE,
    QUOTE_COLUMNS,
    QUOTE_FIELDS,
    QUOTE_NESTED_COLUMNS,
    QUOTES_PAGE_SIZE,
    QUOTES_TABLE,
    TAX_RATE_COLUMNS,
    TAX_RATE_FIELDS,
    TAX_RATE_NESTED_COLUMNS,
    TAX_RATES_TABLE,
    TRACKING_COLUMNS,
    TRACKING_FIELDS,
    TRACKING_NESTED_COLUMNS,
    TRACKING_OPTION_FIELDS,
    TRACKING_TABLE,
    Columns,
)

Paging = Literal["sized", "fixed", "none"]
_SINGULAR = {"TrackingCategories": "TrackingCategory", "Currencies": "Currency"}


@dataclass(frozen=True)
class MoneyObject:
    """One Xero list and the table it lands in."""

    table: str
    path: str
    selector: str  # the answer's list element
    key: str
    needs: str | None  # the money.read entry that turns it on; None: any entry does (settings)
    columns: Columns
    fields: dict[str, str]  # documented fields, for drift
    nested: dict[str, Columns] = field(default_factory=dict)
    nested_fields: dict[str, dict[str, str]] = field(default_factory=dict)
    # sized: page + pageSize=1000; fixed: page only (Xero's 100); none: one call
    paging: Paging = "none"
    incremental: bool = False  # UpdatedDateUTC + If-Modified-Since; else replaced whole every run
    params: dict[str, str] = field(default_factory=dict)

    @property
    def page_size(self) -> int:
        return QUOTES_PAGE_SIZE if self.paging == "fixed" else PAGE_SIZE

    @property
    def object_name(self) -> str:
        return _SINGULAR.get(self.selector, self.selector.removesuffix("s"))


_DOCUMENT_NESTED = {"LineItems": LINE_ITEM_FIELDS}
MONEY_OBJECTS: tuple[MoneyObject, ...] = (
    MoneyObject(
        INVOICES_TABLE,
        "Invoices",
        "Invoices",
        "InvoiceID",
        "invoices",
        INVOICE_COLUMNS,
        INVOICE_FIELDS,
        INVOICE_NESTED_COLUMNS,
        _DOCUMENT_NESTED,
        "sized",
        True,
    ),
    MoneyObject(
        CREDIT_NOTES_TABLE,
        "CreditNotes",
        "CreditNotes",
        "CreditNoteID",
        "invoices",
        CREDIT_NOTE_COLUMNS,
        CREDIT_NOTE_FIELDS,
        CREDIT_NOTE_NESTED_COLUMNS,
        {**_DOCUMENT_NESTED, "Allocations": ALLOCATION_FIELDS},
        "sized",
        True,
    ),
    MoneyObject(
        PAYMENTS_TABLE, "Payments", "Payments", "PaymentID", "payments", PAYMENT_COLUMNS, PAYMENT_FIELDS,
        paging="sized", incremental=True,
    ),
    MoneyObject(
        QUOTES_TABLE, "Quotes", "Quotes", "QuoteID", "quotes", QUOTE_COLUMNS, QUOTE_FIELDS,
        QUOTE_NESTED_COLUMNS, _DOCUMENT_NESTED, "fixed", True,
    ),
    # Items and Accounts: lists without paging, but with If-Modified-Since.
    MoneyObject(
        ITEMS_TABLE, "Items", "Items", "ItemID", "invoices", ITEM_COLUMNS, ITEM_FIELDS, incremental=True
    ),
    MoneyObject(
        ACCOUNTS_TABLE, "Accounts", "Accounts", "AccountID", None, ACCOUNT_COLUMNS, ACCOUNT_FIELDS,
        incremental=True,
    ),
    MoneyObject(
        TAX_RATES_TABLE, "TaxRates", "TaxRates", "TaxType", None, TAX_RATE_COLUMNS, TAX_RATE_FIELDS,
        TAX_RATE_NESTED_COLUMNS,
    ),
    # Archived options are listed only with includeArchived (docs/api-facts.md#xero-money-settings):
    # old documents still name them.
    MoneyObject(
        TRACKING_TABLE, "TrackingCategories", "TrackingCategories", "TrackingCategoryID", None,
        TRACKING_COLUMNS, TRACKING_FIELDS, TRACKING_NESTED_COLUMNS, {"Options": TRACKING_OPTION_FIELDS},
        params={"includeArchived": "true"},
    ),
    MoneyObject(
        CURRENCIES_TABLE, "Currencies", "Currencies", "Code", None, CURRENCY_COLUMNS, CURRENCY_FIELDS
    ),
    MoneyObject(
        ORGANISATION_TABLE, "Organisation", "Organisations", "OrganisationID", None, ORGANISATION_COLUMNS,
        ORGANISATION_FIELDS,
    ),
)  # fmt: skip
# Resources with a cursor, and the table it describes (pipelines/cursors.py resets a lost one).
MONEY_CURSOR_TABLES = {o.table: o.table for o in MONEY_OBJECTS if o.incremental}


# Not a money.read entry: billing (won opportunities as draft documents) reads the settings and the
# items its preflight checks each document against, and none of the documents.
BILLING = "billing"


def money_read(rules: Any) -> list[str]:
    """What the extract reads for ``rules``: ``money.read``, and ``BILLING`` when billing is on."""
    if rules is None:
        return []
    return [*rules.money.read, *([BILLING] if rules.billing.won_opportunities != "off" else [])]


def money_objects(read: Iterable[str]) -> list[MoneyObject]:
    """The lists ``money.read`` turns on: its documents, and the settings when anything is on."""
    wanted = set(read)
    if not wanted:
        return []
    items = BILLING in wanted
    return [
        o for o in MONEY_OBJECTS if o.needs is None or o.needs in wanted or (items and o.table == ITEMS_TABLE)
    ]


def _hints(obj: MoneyObject) -> dict[str, Any]:
    return {
        "name": obj.table,
        "primary_key": obj.key,
        "columns": obj.columns,
        "file_format": LOADER_FILE_FORMAT,
        "nested_hints": {
            name: dlt.mark.make_nested_hints(columns=columns) for name, columns in obj.nested.items()
        },
    }


def _incremental(api: XeroApi, run: XeroRun, obj: MoneyObject) -> Any:
    config = api.config

    @dlt.resource(write_disposition="merge", **_hints(obj))
    def read(
        # dlt's own idiom: the incremental is declared as the argument default.
        updated: dlt.sources.incremental[datetime] = dlt.sources.incremental(  # noqa: B008
            "UpdatedDateUTC", initial_value=None
        ),
    ) -> Iterator[list[dict[str, Any]]]:
        state = dlt.current.resource_state()
        since = updated.start_value
        run.modes[obj.table] = "incremental" if since else "full read"
        params = {**obj.params, "order": "UpdatedDateUTC ASC"}
        if obj.paging == "none":
            headers = {"If-Modified-Since": modified_since_header(since)} if since else {}
            records = _one_call(api, run, obj, params, headers)
            if records:
                yield records
            return
        # Always `page`: a list without it drops every document's LineItems
        # (docs/api-facts.md#xero-money-reading).
        walk = ModifiedSinceWalk(
            since,
            obj.page_size if obj.paging == "fixed" else config.page_size,
            seen=state.get("tail") if since else None,
            key=obj.key,
            sized=obj.paging == "sized",
        )
        number = 0
        try:
            for records, _ in api.pages(obj.path, obj.selector, walk, params=params):
                number += 1
                fresh = [tidy_document(r) for r in walk.fresh]
                run.count(obj.table, 1, len(fresh))
                if config.on_page is not None:
                    config.on_page(obj.table, number, len(records))
                if fresh:
                    yield fresh
        except DailyLimitReached as exc:
            run.stop(exc, obj.table)
            return
        finally:
            # The records the next run's one-second overlap reads again (as for contacts).
            state["tail"] = walk.tail()

    return read


def _one_call(
    api: XeroApi,
    run: XeroRun,
    obj: MoneyObject,
    params: dict[str, str],
    headers: dict[str, str] | None = None,
) -> list[dict[str, Any]] | None:
    """An unpaged list in one call; None when the daily limit stopped it (the run says so)."""
    try:
        pages = list(api.pages(obj.path, obj.selector, params=params, headers=headers))
    except DailyLimitReached as exc:
        run.stop(exc, obj.table)
        return None
    records = [tidy_document(r) for page, _ in pages for r in page if isinstance(r, dict)]
    run.count(obj.table, len(pages), len(records))
    if api.config.on_page is not None:
        api.config.on_page(obj.table, 1, len(records))
    return records


def _replace(_record: Any) -> str:
    return "replace"


def _whole(api: XeroApi, run: XeroRun, obj: MoneyObject) -> Any:
    # No cursor: these lists carry no UpdatedDateUTC and take no If-Modified-Since
    # (docs/api-facts.md#xero-money-reading); one small call, the table replaced with it. The
    # disposition is given as a function of the record so that dlt, which truncates a "replace"
    # table whose resource yielded nothing, leaves the table whole when the daily limit stopped
    # the call (dlt's extract skips resources with a dynamic disposition there; dlt wants the table
    # name dynamic too, then).
    @dlt.resource(write_disposition=_replace, table_name=lambda _record: obj.table, **_hints(obj))
    def read() -> Iterator[list[dict[str, Any]]]:
        records = _one_call(api, run, obj, dict(obj.params))
        if records is not None:
            yield records

    return read


def money_resources(api: XeroApi, run: XeroRun, read: Iterable[str]) -> list[Any]:
    """The resources (and their drift transformers) for what ``money.read`` turns on."""
    out: list[Any] = []
    for obj in money_objects(read):
        resource = _incremental(api, run, obj) if obj.incremental else _whole(api, run, obj)
        detector = DriftDetector(obj.object_name, obj.fields, obj.nested_fields, obj.key)
        out += [resource, drift_transformer(resource, detector, run)]
    return out


def money_declared(read: Iterable[str]) -> tuple[dict[str, Columns], dict[str, dict[str, Columns]]]:
    """The money tables promised after a load (``create_missing_tables``), and their children."""
    objects = money_objects(read)
    return {o.table: o.columns for o in objects}, {o.table: o.nested for o in objects if o.nested}
