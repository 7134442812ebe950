"""Xero's money objects, read side: Invoices, CreditNotes, Payments, Quotes, Items, Accounts,
TaxRates, TrackingCategories, Currencies and the Organisation (docs/api-facts.md#xero-money-reading).

The book comes from the generator (sandbox/generator/money.py) through ``load_book``; an
organisation that was never loaded serves the default settings and no documents. Calls run through
the same pipeline as contacts (accounting.endpoint: scopes, rate limits, faults).

Deliberate differences from Xero (stricter, so a client that passes here is safe there):
- ``pageSize`` outside 1..1000 is a 400 (Xero's clamping is known for Contacts only);
- ``pageSize`` on Quotes is ignored (Xero declares none): Quotes always page by 100, and answer
  without a ``pagination`` element (the Quotes schema has none), so a client must page until a
  short page;
- ``where`` takes only AND-joined equality on a few fields per object, anything else a 400;
- a DELETED invoice owes nothing (AmountDue 0), like a VOIDED one.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from starlette.responses import Response
from starlette.routing import BaseRoute

from sandbox.xero import wire
from sandbox.xero.accounting import (
    MAX_IDS,
    PAGE_SIZE_DEFAULT,
    PAGE_SIZE_MAX,
    SETTINGS_SCOPES,
    BadRequest,
    Call,
    parse_bool,
    parse_if_modified_since,
    parse_int,
    parse_order,
    parse_where,
    query_parse_error,
)
from sandbox.xero.organisation import fold, is_guid
from sandbox.xero.wire import WireDate, iso_seconds, ms_date

if TYPE_CHECKING:
    from sandbox.generator.dataset import Dataset
    from sandbox.xero.organisation import Organisation

# Granular scopes for apps created on or after 2 March 2026, the broad transactions scopes for
# older ones (docs/api-facts.md#xero-money-scopes).
INVOICE_SCOPES = frozenset(
    {
        "accounting.invoices",
        "accounting.invoices.read",
        "accounting.transactions",
        "accounting.transactions.read",
    }
)
PAYMENT_SCOPES = frozenset(
    {
        "accounting.payments",
        "accounting.payments.read",
        "accounting.transactions",
        "accounting.transactions.read",
    }
)
# Items are listed under both the invoices and the settings scopes.
ITEM_SCOPES = INVOICE_SCOPES | SETTINGS_SCOPES

INVOICE_STATUSES = frozenset({"DRAFT", "SUBMITTED", "DELETED", "AUTHORISED", "PAID", "VOIDED"})
QUOTE_STATUSES = frozenset({"DRAFT", "SENT", "DECLINED", "ACCEPTED", "INVOICED", "DELETED"})


# ---- the book -----------------------------------------------------------------------------------


@dataclass
class Kind:
    """One document or settings list: records by id, and their ids in Xero's default order."""

    id_field: str
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    ordered: list[str] = field(default_factory=list)  # by (UpdatedDateUTC, id)
    seconds: list[int] = field(default_factory=list)  # UpdatedDateUTC of ``ordered``, whole seconds

    def fill(self, raws: Iterable[dict[str, Any]]) -> None:
        self.records = {str(r[self.id_field]).lower(): r for r in raws}
        if self.records and all("UpdatedDateUTC" in r for r in self.records.values()):
            pairs = sorted((r["UpdatedDateUTC"].timestamp(), key) for key, r in self.records.items())
            self.ordered = [key for _, key in pairs]
            self.seconds = [int(at) for at, _ in pairs]
        else:
            self.ordered = list(self.records)
            self.seconds = []

    def put(self, record: dict[str, Any]) -> None:
        """Add or replace a record written through the API, keeping the UpdatedDateUTC order."""
        key = str(record[self.id_field]).lower()
        if key in self.records and key in self.ordered:
            at = self.ordered.index(key)
            del self.ordered[at]
            if self.seconds:
                del self.seconds[at]
        self.records[key] = record
        if self.records and not self.seconds and len(self.ordered) == len(self.records) - 1:
            # every record so far carries UpdatedDateUTC (documents always do)
            self.seconds = [int(self.records[k]["UpdatedDateUTC"].timestamp()) for k in self.ordered]
        second = int(record["UpdatedDateUTC"].timestamp())
        at = bisect.bisect_right(self.seconds, second)
        self.ordered.insert(at, key)
        self.seconds.insert(at, second)

    def since(self, epoch_seconds: int | None) -> list[str]:
        """Ids in default order; with If-Modified-Since only those changed in or after that second
        (inclusive, the boundary the contacts endpoint uses)."""
        if epoch_seconds is None or not self.seconds:
            return self.ordered
        return self.ordered[bisect.bisect_left(self.seconds, epoch_seconds) :]


class Book:
    def __init__(self) -> None:
        self.invoices = Kind("InvoiceID")
        self.credit_notes = Kind("CreditNoteID")
        self.payments = Kind("PaymentID")
        self.quotes = Kind("QuoteID")
        self.items = Kind("ItemID")
        self.accounts = Kind("AccountID")
        self.tax_rates: list[dict[str, Any]] = []
        self.tracking_categories: list[dict[str, Any]] = []
        self.currencies: list[dict[str, Any]] = []
        self.organisation: dict[str, Any] = {}
        self.invoice_numbers: dict[str, list[str]] = {}
        # Written through the API: document id → the app (client id) that created it, for
        # createdByMyApp; and History per document id (the generated book has none).
        self.created_by: dict[str, str] = {}
        self.history: dict[str, list[dict[str, Any]]] = {}
        # Next automatic document number per prefix (INV-, QU-): (number, digits), found on first use.
        self.next_numbers: dict[str, tuple[int, int]] = {}

    def load(self, dataset: Dataset) -> None:
        self.invoices.fill(dataset.xero_invoices)
        self.credit_notes.fill(dataset.xero_credit_notes)
        self.payments.fill(dataset.xero_payments)
        self.quotes.fill(dataset.xero_quotes)
        self.items.fill(dataset.xero_items)
        self.accounts.fill(dataset.xero_accounts)
        self.tax_rates = list(dataset.xero_tax_rates)
        self.tracking_categories = list(dataset.xero_tracking_categories)
        self.currencies = list(dataset.xero_currencies)
        self.organisation = dict(dataset.xero_organisation)
        self.invoice_numbers = {}
        self.created_by = {}
        self.history = {}
        self.next_numbers = {}
        for key in self.invoices.ordered:
            number = self.invoices.records[key].get("InvoiceNumber")
            if number:
                self.invoice_numbers.setdefault(fold(number), []).append(key)


def load_book(org: Organisation, dataset: Dataset) -> None:
    """Give ``org`` the dataset's book; settings the dataset lacks come from the generator's defaults."""
    source = dataset
    if not dataset.xero_accounts:
        from dataclasses import replace

        from sandbox.generator.money import settings

        defaults = settings(dataset.seed, org.sandbox.clock.now())
        names = (
            "xero_items",
            "xero_accounts",
            "xero_tax_rates",
            "xero_tracking_categories",
            "xero_currencies",
        )
        source = replace(
            dataset,
            **{name: getattr(dataset, name) or getattr(defaults, name) for name in names},
            xero_organisation=dataset.xero_organisation or defaults.xero_organisation,
        )
    book = Book()
    book.load(source)
    org.money_book = book  # type: ignore[attr-defined]


def book_of(org: Organisation) -> Book:
    book = getattr(org, "money_book", None)
    if book is None:
        from sandbox.generator.dataset import Dataset

        load_book(org, Dataset(seed=org.sandbox.seed, size=0))
        book = org.money_book  # type: ignore[attr-defined]
    return book


# ---- rendering ----------------------------------------------------------------------------------


def _wire(value: Any, offset: bool = True) -> Any:
    """Calendar dates as midnight-UTC ``/Date(ms+0000)/`` strings, timestamps as WireDate."""
    if isinstance(value, datetime):
        return WireDate(value, offset)
    if isinstance(value, date):
        return ms_date(datetime(value.year, value.month, value.day), offset)
    if isinstance(value, dict):
        return {k: _wire(v, offset) for k, v in value.items()}
    if isinstance(value, list):
        return [_wire(v, offset) for v in value]
    return value


def _day_string(value: date) -> str:
    return f"{value.isoformat()}T00:00:00"


def document_view(record: dict[str, Any], with_lines: bool, date_offset: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in record.items():
        if name == "LineItems" and not with_lines:
            continue
        if name == "UpdatedDateUTC":
            out[name] = WireDate(value)
        else:
            out[name] = _wire(value, date_offset)
        if name in ("Date", "DueDate", "ExpiryDate") and isinstance(value, date):
            out[f"{name}String"] = _day_string(value)
    return out


def invoice_view(record: dict[str, Any], with_lines: bool) -> dict[str, Any]:
    out = document_view(record, with_lines)
    out["UpdatedDateUTCString"] = iso_seconds(record["UpdatedDateUTC"])
    return out


def quote_view(record: dict[str, Any]) -> dict[str, Any]:
    # Quote dates come without the +0000 offset in Xero's examples
    # (docs/api-facts.md#xero-money-reading).
    return document_view(record, with_lines=True, date_offset=False)


# ---- list helpers -------------------------------------------------------------------------------


def _paging(params: dict[str, str], sizable: bool) -> tuple[int | None, int]:
    page = parse_int(params, "page")
    if page is not None and page < 1:
        page = 1
    size = parse_int(params, "pageSize") if sizable else None
    if size is None:
        return page, PAGE_SIZE_DEFAULT
    if not 1 <= size <= PAGE_SIZE_MAX:
        raise BadRequest(
            "ValidationException", f"pageSize must be between 1 and {PAGE_SIZE_MAX}, not {size}.", 10
        )
    return page, size


def _csv(params: dict[str, str], name: str) -> list[str] | None:
    raw = params.get(name.lower())
    if raw is None or not raw.strip():
        return None
    return [part.strip().strip('"') for part in raw.split(",") if part.strip()]


def _guids(params: dict[str, str], name: str) -> frozenset[str] | None:
    parts = _csv(params, name)
    if parts is None:
        return None
    bad = [p for p in parts if not is_guid(p)]
    if bad:
        raise query_parse_error(f"{name} must be GUIDs; {bad[0]!r} is not.")
    return frozenset(p.lower() for p in parts)


def _sort_value(record: dict[str, Any], name: str) -> Any:
    value = record.get(name)
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, date):
        return value.toordinal()
    if isinstance(value, str):
        return fold(value)
    return value if value is not None else ""


def _select(
    call: Call,
    kind: Kind,
    where_fields: dict[str, str],
    order_fields: frozenset[str],
    keep: Callable[[dict[str, Any]], bool] | None = None,
) -> list[dict[str, Any]]:
    """Records after If-Modified-Since, ``where``, ``keep`` and ``order`` (default UpdatedDateUTC ASC)."""
    params = call.params
    since = parse_if_modified_since(call.request.headers.get("if-modified-since"))
    where = parse_where(params["where"], where_fields) if params.get("where", "").strip() else ()
    order = parse_order(params.get("order"), order_fields)
    records = [kind.records[key] for key in kind.since(since)]
    if where:
        records = [r for r in records if all(fold(str(r.get(name, ""))) == value for name, value in where)]
    if keep is not None:
        records = [r for r in records if keep(r)]
    for name, descending in reversed(order):
        records.sort(key=lambda r, n=name: _sort_value(r, n), reverse=descending)
    return records


def _answer(
    call: Call,
    key: str,
    records: list[dict[str, Any]],
    page: int | None,
    size: int,
    view: Callable[[dict[str, Any], bool], dict[str, Any]],
    with_pagination: bool = True,
) -> Response:
    if page is None:
        return call.ok(key, [view(r, False) for r in records])
    chunk = records[(page - 1) * size : page * size]
    pagination = None
    if with_pagination:
        pagination = {
            "page": page,
            "pageSize": size,
            "pageCount": -(-len(records) // size),
            "itemCount": len(records),
        }
    return call.ok(key, [view(r, True) for r in chunk], pagination=pagination)


def _one(call: Call, kind: Kind, key: str | None) -> dict[str, Any] | None:
    if key is None or not is_guid(key):
        return None
    return kind.records.get(key.lower())


# ---- documents ----------------------------------------------------------------------------------

INVOICE_WHERE = {"Type": "str", "Status": "str", "Reference": "str", "InvoiceNumber": "str"}
INVOICE_ORDER = frozenset({"UpdatedDateUTC", "Date", "DueDate", "InvoiceID", "InvoiceNumber"})


def get_invoices(call: Call) -> Response:
    params = call.params
    book = book_of(call.org)
    page, size = _paging(params, sizable=True)
    ids = _guids(params, "IDs")
    if ids is not None and len(ids) > MAX_IDS:
        return wire.not_found()
    contact_ids = _guids(params, "ContactIDs")
    statuses = _csv(params, "Statuses")
    if statuses is not None:
        statuses = [s.upper() for s in statuses]
        unknown = [s for s in statuses if s not in INVOICE_STATUSES]
        if unknown:
            raise query_parse_error(
                f"Statuses: {unknown[0]!r} is not an invoice status ({', '.join(sorted(INVOICE_STATUSES))})."
            )
    numbers = _csv(params, "InvoiceNumbers")
    folded_numbers = {fold(n) for n in numbers} if numbers is not None else None
    search = params.get("searchterm", "").strip()
    search = fold(search) if search else ""
    mine = parse_bool(params, "createdByMyApp")

    def keep(r: dict[str, Any]) -> bool:
        if mine and book.created_by.get(r["InvoiceID"].lower()) != call.auth.client_id:
            return False  # the generated book was typed in Xero, not created by any app
        if ids is not None and r["InvoiceID"].lower() not in ids:
            return False
        if contact_ids is not None and r["Contact"]["ContactID"].lower() not in contact_ids:
            return False
        if statuses is not None and r["Status"] not in statuses:
            return False
        if folded_numbers is not None and fold(r.get("InvoiceNumber", "")) not in folded_numbers:
            return False
        if search:
            return any(search in fold(r.get(name) or "") for name in ("InvoiceNumber", "Reference"))
        return True

    records = _select(call, book.invoices, INVOICE_WHERE, INVOICE_ORDER, keep)
    # Lines come with page=, IDs= or a single GET; an unpaged list without IDs drops them
    # (docs/api-facts.md#xero-money-reading).
    with_lines = page is not None or ids is not None
    if page is None:
        return call.ok("Invoices", [invoice_view(r, with_lines) for r in records])
    return _answer(call, "Invoices", records, page, size, invoice_view)


def get_invoice(call: Call) -> Response:
    book = book_of(call.org)
    key = call.request.path_params["key"]
    record = _one(call, book.invoices, key)
    if record is None and not is_guid(key):
        found = book.invoice_numbers.get(fold(key))
        record = book.invoices.records[found[0]] if found else None
    if record is None:
        return wire.not_found()
    return call.ok("Invoices", [invoice_view(record, True)])


CREDIT_NOTE_WHERE = {"Type": "str", "Status": "str", "Reference": "str", "CreditNoteNumber": "str"}
CREDIT_NOTE_ORDER = frozenset({"UpdatedDateUTC", "Date", "CreditNoteID", "CreditNoteNumber"})


def get_credit_notes(call: Call) -> Response:
    page, size = _paging(call.params, sizable=True)
    records = _select(call, book_of(call.org).credit_notes, CREDIT_NOTE_WHERE, CREDIT_NOTE_ORDER)
    return _answer(call, "CreditNotes", records, page, size, invoice_view)


def get_credit_note(call: Call) -> Response:
    record = _one(call, book_of(call.org).credit_notes, call.request.path_params["key"])
    if record is None:
        return wire.not_found()
    return call.ok("CreditNotes", [invoice_view(record, True)])


PAYMENT_WHERE = {"Status": "str", "PaymentType": "str", "Reference": "str"}
PAYMENT_ORDER = frozenset({"UpdatedDateUTC", "Date", "PaymentID", "Amount"})


def payment_view(record: dict[str, Any], with_lines: bool = True) -> dict[str, Any]:
    return invoice_view(record, with_lines)


def get_payments(call: Call) -> Response:
    page, size = _paging(call.params, sizable=True)
    records = _select(call, book_of(call.org).payments, PAYMENT_WHERE, PAYMENT_ORDER)
    return _answer(call, "Payments", records, page, size, payment_view)


def get_payment(call: Call) -> Response:
    record = _one(call, book_of(call.org).payments, call.request.path_params["key"])
    if record is None:
        return wire.not_found()
    return call.ok("Payments", [payment_view(record)])


QUOTE_ORDER = frozenset({"UpdatedDateUTC", "Date", "ExpiryDate", "QuoteID", "QuoteNumber", "Status"})


def _day_param(params: dict[str, str], name: str) -> date | None:
    raw = params.get(name.lower())
    if raw is None or not raw.strip():
        return None
    try:
        return date.fromisoformat(raw.strip()[:10])
    except ValueError:
        raise query_parse_error(f"{name} must be a date (YYYY-MM-DD), not {raw!r}.") from None


def get_quotes(call: Call) -> Response:
    params = call.params
    page, size = _paging(params, sizable=False)
    status = params.get("status", "").strip().upper()
    if status and status not in QUOTE_STATUSES:
        raise query_parse_error(
            f"Status: {status!r} is not a quote status ({', '.join(sorted(QUOTE_STATUSES))})."
        )
    contact = params.get("contactid", "").strip().lower()
    if contact and not is_guid(contact):
        raise query_parse_error(f"ContactID must be a GUID; {contact!r} is not.")
    number = fold(params.get("quotenumber", "").strip())
    bounds = {
        name: _day_param(params, name) for name in ("DateFrom", "DateTo", "ExpiryDateFrom", "ExpiryDateTo")
    }

    def keep(r: dict[str, Any]) -> bool:
        if status and r["Status"] != status:
            return False
        if contact and r["Contact"]["ContactID"].lower() != contact:
            return False
        if number and fold(r["QuoteNumber"]) != number:
            return False
        for field_name, low, high in (
            ("Date", bounds["DateFrom"], bounds["DateTo"]),
            ("ExpiryDate", bounds["ExpiryDateFrom"], bounds["ExpiryDateTo"]),
        ):
            if (low and r[field_name] < low) or (high and r[field_name] > high):
                return False
        return True

    if params.get("where", "").strip():
        raise query_parse_error(
            "Quotes take no where filter; use Status, ContactID, QuoteNumber or the date ranges."
        )
    records = _select(call, book_of(call.org).quotes, {}, QUOTE_ORDER, keep)
    return _answer(
        call, "Quotes", records, page, size, lambda r, _lines: quote_view(r), with_pagination=False
    )


def get_quote(call: Call) -> Response:
    record = _one(call, book_of(call.org).quotes, call.request.path_params["key"])
    if record is None:
        return wire.not_found()
    return call.ok("Quotes", [quote_view(record)])


# ---- settings -----------------------------------------------------------------------------------


def _settings_view(record: dict[str, Any]) -> dict[str, Any]:
    return {k: (WireDate(v) if isinstance(v, datetime) else _wire(v)) for k, v in record.items()}


def get_items(call: Call) -> Response:
    records = _select(
        call,
        book_of(call.org).items,
        {"Code": "str", "Name": "str"},
        frozenset({"UpdatedDateUTC", "Code", "Name", "ItemID"}),
    )
    return call.ok("Items", [_settings_view(r) for r in records])


def get_item(call: Call) -> Response:
    record = _one(call, book_of(call.org).items, call.request.path_params["key"])
    if record is None:
        return wire.not_found()
    return call.ok("Items", [_settings_view(record)])


def get_accounts(call: Call) -> Response:
    records = _select(
        call,
        book_of(call.org).accounts,
        {"Code": "str", "Name": "str", "Status": "str", "Type": "str", "Class": "str", "TaxType": "str"},
        frozenset({"UpdatedDateUTC", "Code", "Name", "AccountID", "Type"}),
    )
    return call.ok("Accounts", [_settings_view(r) for r in records])


def get_account(call: Call) -> Response:
    record = _one(call, book_of(call.org).accounts, call.request.path_params["key"])
    if record is None:
        return wire.not_found()
    return call.ok("Accounts", [_settings_view(record)])


def _filtered(call: Call, rows: list[dict[str, Any]], fields: dict[str, str]) -> list[dict[str, Any]]:
    # No If-Modified-Since here: these objects carry no UpdatedDateUTC (docs/api-facts.md#xero-money-reading).
    params = call.params
    where = parse_where(params["where"], fields) if params.get("where", "").strip() else ()
    return [r for r in rows if all(fold(str(r.get(name, ""))) == value for name, value in where)]


def get_tax_rates(call: Call) -> Response:
    rows = _filtered(call, book_of(call.org).tax_rates, {"TaxType": "str", "Status": "str", "Name": "str"})
    return call.ok("TaxRates", [_settings_view(r) for r in rows])


def get_tax_rate(call: Call) -> Response:
    key = call.request.path_params["key"].upper()
    rows = [r for r in book_of(call.org).tax_rates if r["TaxType"] == key]
    if not rows:
        return wire.not_found()
    return call.ok("TaxRates", [_settings_view(rows[0])])


def _tracking_view(category: dict[str, Any], include_archived: bool) -> dict[str, Any]:
    out = dict(category)
    out["Options"] = [dict(o) for o in category["Options"] if include_archived or o["Status"] == "ACTIVE"]
    return out


def get_tracking_categories(call: Call) -> Response:
    include_archived = parse_bool(call.params, "includeArchived")
    rows = _filtered(call, book_of(call.org).tracking_categories, {"Name": "str", "Status": "str"})
    rows = [r for r in rows if include_archived or r["Status"] == "ACTIVE"]
    return call.ok("TrackingCategories", [_tracking_view(r, include_archived) for r in rows])


def get_tracking_category(call: Call) -> Response:
    key = call.request.path_params["key"].lower()
    rows = [r for r in book_of(call.org).tracking_categories if r["TrackingCategoryID"] == key]
    if not rows:
        return wire.not_found()
    return call.ok("TrackingCategories", [_tracking_view(rows[0], True)])


def get_currencies(call: Call) -> Response:
    rows = _filtered(call, book_of(call.org).currencies, {"Code": "str"})
    return call.ok("Currencies", [dict(r) for r in rows])


def get_organisation(call: Call) -> Response:
    org = call.org
    record = _settings_view(book_of(org).organisation)
    record["Name"] = org.name
    record["LegalName"] = f"{org.name} Pty Ltd"
    return call.ok("Organisations", [record])


def routes(route: Callable[[str, Any, frozenset[str], list[str]], BaseRoute]) -> list[BaseRoute]:
    """The read routes, built with accounting.routes' ``r`` (so they share its pipeline)."""
    return [
        route("/Invoices", get_invoices, INVOICE_SCOPES, ["GET"]),
        route("/Invoices/{key}", get_invoice, INVOICE_SCOPES, ["GET"]),
        route("/CreditNotes", get_credit_notes, INVOICE_SCOPES, ["GET"]),
        route("/CreditNotes/{key}", get_credit_note, INVOICE_SCOPES, ["GET"]),
        route("/Payments", get_payments, PAYMENT_SCOPES, ["GET"]),
        route("/Payments/{key}", get_payment, PAYMENT_SCOPES, ["GET"]),
        route("/Quotes", get_quotes, INVOICE_SCOPES, ["GET"]),
        route("/Quotes/{key}", get_quote, INVOICE_SCOPES, ["GET"]),
        route("/Items", get_items, ITEM_SCOPES, ["GET"]),
        route("/Items/{key}", get_item, ITEM_SCOPES, ["GET"]),
        route("/Accounts", get_accounts, SETTINGS_SCOPES, ["GET"]),
        route("/Accounts/{key}", get_account, SETTINGS_SCOPES, ["GET"]),
        route("/TaxRates", get_tax_rates, SETTINGS_SCOPES, ["GET"]),
        route("/TaxRates/{key}", get_tax_rate, SETTINGS_SCOPES, ["GET"]),
        route("/TrackingCategories", get_tracking_categories, SETTINGS_SCOPES, ["GET"]),
        route("/TrackingCategories/{key}", get_tracking_category, SETTINGS_SCOPES, ["GET"]),
        route("/Currencies", get_currencies, SETTINGS_SCOPES, ["GET"]),
        route("/Organisation", get_organisation, SETTINGS_SCOPES, ["GET"]),
    ]
