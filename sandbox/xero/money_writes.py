"""Xero's money objects, write side: Invoices and Quotes (create, update, status changes), their
History, and Payments (docs/api-facts.md#xero-money-writing).

Calls run through accounting.endpoint like the contacts' writes: scopes, rate limits,
Idempotency-Key replays and the injected faults (a ``drop`` commits the document, then loses the
answer). Amounts are exact: the body is parsed with ``Decimal`` and GST is the generator's
per-line computation (sandbox/generator/money.py ``line_amounts``/``totals``).

Deliberate differences from Xero (stricter, so a client that passes here is safe there):
- an unknown or archived tracking category or option is a validation error (Xero is reported to
  drop unknown tracking names silently and save the document without them);
- a contact named only by ``Name`` must match an active contact (Xero may create one);
- an archived contact is refused on drafts too (Xero's wording for it is weakly sourced);
- a Quote needs its ``Date`` (the docs say required, the spec says it defaults to today);
- ``LineAmount`` sent with Quantity and UnitAmount that disagree is an error, ``TaxAmount`` and
  every total sent are ignored (read-only or discouraged), ``DiscountAmount`` is refused;
- SUBMITTED→DRAFT and any quote change not listed in QUOTE_MOVES is refused.
Messages that §13 of the facts gives verbatim are Xero's; the others are the stand-in's own,
one line naming the field and the rule.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from starlette.responses import Response
from starlette.routing import BaseRoute

from sandbox.generator.money import FX_RATES, line_amounts, totals
from sandbox.xero import wire
from sandbox.xero.accounting import BadRequest, Call, _elements, parse_bool
from sandbox.xero.money import Book, Kind, book_of, invoice_view, quote_view
from sandbox.xero.organisation import SYSTEM_USER, ZERO_GUID, Organisation, PostDataInvalid, fold, is_guid
from sandbox.xero.wire import WireDate, iso_seconds

# Writing documents needs the write scope itself, not its .read twin
# (docs/api-facts.md#xero-money-scopes): granular for new apps, broad for older ones.
INVOICE_WRITE_SCOPES = frozenset({"accounting.invoices", "accounting.transactions"})
PAYMENT_WRITE_SCOPES = frozenset({"accounting.payments", "accounting.transactions"})
INVOICE_READ_SCOPES = frozenset(
    {*INVOICE_WRITE_SCOPES, "accounting.invoices.read", "accounting.transactions.read"}
)
PAYMENT_READ_SCOPES = frozenset(
    {*PAYMENT_WRITE_SCOPES, "accounting.payments.read", "accounting.transactions.read"}
)

CENT = Decimal("0.01")
QUANTITY = Decimal("0.0001")
# The organisation's day for a default Date: AEST, the generated organisation's timezone.
ORG_UTC_OFFSET = timedelta(hours=10)
PAYMENT_TERMS_DAYS = 30

# Xero's words (docs/api-facts.md#xero-money-errors).
MSG_ACCOUNT_UNKNOWN = "Account code '{code}' is not a valid code for this document."
MSG_ACCOUNT_ARCHIVED = "Account code '{code}' has been archived, or has been deleted. Each line item must reference a valid account."
MSG_TAX_UNKNOWN = "The TaxType code '{code}' does not exist or cannot be used for this type of transaction"
MSG_TAX_ACCOUNT = "The TaxType code '{code}' cannot be used with account code '{account}'."
MSG_CURRENCY = "Organisation is not subscribed to currency {code}"
MSG_CONTACT_MISSING = (
    "The Contact must contain at least 1 of the following elements to identify the contact: "
    "Name, ContactID, ContactNumber"
)
MSG_CONTACT_ARCHIVED = "The contact is archived and cannot be used."
MSG_INVOICE_STATUS = "Invoice not of valid status for modification"
MSG_ALLOCATED = "This document cannot be edited as it has a payment or credit note allocated to it."
MSG_INVOICE_NUMBER = "Invoice # must be unique."
MSG_DISCOUNT = "The discount rate '{rate}' is invalid. Discount must not be greater than the line total."
MSG_PAYMENT_EXCEEDS = "Payment amount exceeds the amount outstanding on this document"
MSG_DOCUMENT_NOT_FOUND = "The document with the supplied id was not found for this endpoint."
# The stand-in's own words where the facts give none.
MSG_CONTACT_UNKNOWN = "The contact '{key}' does not exist in this organisation."
MSG_ITEM_UNKNOWN = "Item code '{code}' is not a valid item code."
MSG_TRACKING_CATEGORY = "Tracking category '{name}' does not exist or is archived."
MSG_TRACKING_OPTION = (
    "Tracking option '{option}' does not exist or is archived in tracking category '{name}'."
)
MSG_TRACKING_MAX = "A line item can have at most 2 tracking categories."
MSG_QUOTE_STATUS = "Quote not of valid status for modification"
MSG_QUOTE_NUMBER = "Quote # must be unique."


@dataclass(frozen=True)
class DocKind:
    """What differs between invoices and quotes."""

    name: str  # "Invoice" | "Quote"
    key: str  # "Invoices" | "Quotes"
    id_field: str
    number_field: str
    prefix: str
    unit_dp: int | None  # None: 2 dp unless the request says unitdp=4
    line_amount_types: dict[str, str]  # folded → canonical spelling
    create_statuses: frozenset[str]
    moves: dict[str, frozenset[str]]  # status → statuses an update may set
    status_message: str
    view: Callable[[dict[str, Any]], dict[str, Any]]

    def book_kind(self, book: Book) -> Kind:
        return book.invoices if self.name == "Invoice" else book.quotes


# Xero's API status changes (docs/api-facts.md#xero-money-statuses). Staying in the same status is
# an edit, allowed where the status is editable. PAID is reached by payments, never set.
INVOICE_MOVES = {
    "DRAFT": frozenset({"DRAFT", "SUBMITTED", "AUTHORISED", "DELETED"}),
    # SUBMITTED→DRAFT is undocumented [?]: refused, the stricter reading.
    "SUBMITTED": frozenset({"SUBMITTED", "AUTHORISED", "DELETED"}),
    "AUTHORISED": frozenset({"AUTHORISED", "VOIDED"}),
    "PAID": frozenset(),
    "VOIDED": frozenset(),
    "DELETED": frozenset(),
}
# Only DRAFT→DECLINED and ACCEPTED→DECLINED are observed refused; the rest is the facts'
# assumption (DRAFT→SENT→ACCEPTED|DECLINED, any→DELETED) and anything else is refused.
QUOTE_MOVES = {
    "DRAFT": frozenset({"DRAFT", "SENT", "DELETED"}),
    "SENT": frozenset({"SENT", "ACCEPTED", "DECLINED", "DELETED"}),
    "ACCEPTED": frozenset({"ACCEPTED", "INVOICED", "DELETED"}),
    "DECLINED": frozenset({"DECLINED", "DELETED"}),
    "INVOICED": frozenset({"INVOICED", "DELETED"}),
    "DELETED": frozenset(),
}

INVOICE = DocKind(
    name="Invoice",
    key="Invoices",
    id_field="InvoiceID",
    number_field="InvoiceNumber",
    prefix="INV-",
    unit_dp=None,
    line_amount_types={"exclusive": "Exclusive", "inclusive": "Inclusive", "notax": "NoTax"},
    create_statuses=frozenset({"DRAFT", "SUBMITTED", "AUTHORISED"}),
    moves=INVOICE_MOVES,
    status_message=MSG_INVOICE_STATUS,
    view=lambda r: invoice_view(r, True),
)
QUOTE = DocKind(
    name="Quote",
    key="Quotes",
    id_field="QuoteID",
    number_field="QuoteNumber",
    prefix="QU-",
    unit_dp=4,  # quotes keep 4 dp unit amounts, no unitdp parameter (docs/api-facts.md#xero-money-gst-and-rounding)
    line_amount_types={"exclusive": "EXCLUSIVE", "inclusive": "INCLUSIVE", "notax": "NOTAX"},
    create_statuses=frozenset({"DRAFT", "SENT"}),
    moves=QUOTE_MOVES,
    status_message=MSG_QUOTE_STATUS,
    view=quote_view,
)
QUOTE_LIMITS = {"Title": 100, "Summary": 3000, "Terms": 4000, "Reference": 4000}


# ---- value parsing ------------------------------------------------------------------------------


def _number(raw: dict[str, Any], name: str) -> Decimal | None:
    value = raw.get(name)
    if value is None:
        return None
    if isinstance(value, bool):
        raise PostDataInvalid(f"{name} must be a number, not {value!r}")
    if isinstance(value, int | Decimal):
        return Decimal(value)
    if isinstance(value, float):  # only when a caller bypassed the exact parse
        return Decimal(str(value))
    if isinstance(value, str):
        try:
            return Decimal(value.strip())
        except InvalidOperation:
            raise PostDataInvalid(f"{name} must be a number, not {value!r}") from None
    raise PostDataInvalid(f"{name} must be a number, not {type(value).__name__}")


def _text(raw: dict[str, Any], name: str) -> str | None:
    value = raw.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise PostDataInvalid(f"{name} must be a string, not {type(value).__name__}")
    return value


_MS_DATE = re.compile(r"^/Date\((-?\d+)([+-]\d{4})?\)/$")


def _day(raw: dict[str, Any], name: str, errors: list[str]) -> date | None:
    """``YYYY-MM-DD`` (a time part is ignored) or Xero's ``/Date(ms+0000)/``."""
    value = raw.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, str):
        match = _MS_DATE.match(value.strip())
        if match:
            return datetime.fromtimestamp(int(match[1]) / 1000, UTC).date()
        try:
            return date.fromisoformat(value.strip()[:10])
        except ValueError:
            pass
    errors.append(f"{name} '{value}' is not a valid date (YYYY-MM-DD).")
    return None


def _round(value: Decimal, step: Decimal) -> Decimal:
    return value.quantize(step, rounding=ROUND_HALF_UP)


def org_today(call: Call) -> date:
    return (call.sandbox.clock.now() + ORG_UTC_OFFSET).date()


# ---- lookups ------------------------------------------------------------------------------------


def _contact(org: Organisation, raw: Any, errors: list[str]) -> dict[str, Any] | None:
    if not isinstance(raw, dict):
        errors.append(MSG_CONTACT_MISSING)
        return None
    cid = raw.get("ContactID")
    number = raw.get("ContactNumber")
    name = raw.get("Name")
    record = None
    key = None
    if isinstance(cid, str) and cid.strip() and cid != ZERO_GUID:
        key = cid
        record = org.contacts.get(cid.lower()) if is_guid(cid) else None
    elif isinstance(number, str) and number.strip():
        key = number
        found = org.by_number(number)
        record = org.contacts.get(found) if found else None
    elif isinstance(name, str) and name.strip():
        key = name
        found = org.active_by_name(name)
        record = org.contacts.get(found) if found else None
    else:
        errors.append(MSG_CONTACT_MISSING)
        return None
    if record is None:
        errors.append(MSG_CONTACT_UNKNOWN.format(key=key))
        return None
    if record.get("ContactStatus") == "ARCHIVED":
        errors.append(MSG_CONTACT_ARCHIVED)
        return None
    return {"ContactID": record["ContactID"], "Name": record.get("Name", "")}


def _account(
    book: Book, code: str | None, account_id: str | None, errors: list[str]
) -> dict[str, Any] | None:
    accounts = book.accounts.records.values()
    if account_id and not code:
        found = book.accounts.records.get(account_id.lower()) if is_guid(account_id) else None
        if found is None:
            errors.append(MSG_ACCOUNT_UNKNOWN.format(code=account_id))
            return None
        code = found["Code"]
    if not code:
        return None
    account = next((a for a in accounts if fold(a["Code"]) == fold(code)), None)
    # System and bank accounts cannot take a sales line; Xero says the code is not valid here.
    if account is None or account.get("SystemAccount") or account.get("Type") == "BANK":
        errors.append(MSG_ACCOUNT_UNKNOWN.format(code=code))
        return None
    if account.get("Status") != "ACTIVE":
        errors.append(MSG_ACCOUNT_ARCHIVED.format(code=code))
        return None
    return account


APPLIES_TO = {
    "REVENUE": "CanApplyToRevenue",
    "EXPENSE": "CanApplyToExpenses",
    "ASSET": "CanApplyToAssets",
    "LIABILITY": "CanApplyToLiabilities",
    "EQUITY": "CanApplyToEquity",
}


def _tax_type(book: Book, code: str, account: dict[str, Any] | None, errors: list[str]) -> str | None:
    rate = next((t for t in book.tax_rates if t["TaxType"] == code.upper()), None)
    if rate is None or rate.get("Status") != "ACTIVE":
        errors.append(MSG_TAX_UNKNOWN.format(code=code))
        return None
    # A tax rate's CanApplyTo<Class> says whether it is legal on an account of that class
    # (docs/api-facts.md#xero-money-settings), e.g. INPUT on the Sales account 200 is refused.
    if account is not None and not rate.get(APPLIES_TO.get(account.get("Class", ""), ""), False):
        errors.append(MSG_TAX_ACCOUNT.format(code=code, account=account["Code"]))
        return None
    return rate["TaxType"]


def _tracking(book: Book, raw: Any, errors: list[str]) -> list[dict[str, Any]]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise PostDataInvalid("Tracking must be an array of {Name, Option} objects")
    if len(raw) > 2:
        errors.append(MSG_TRACKING_MAX)
        return []
    out = []
    for entry in raw:
        if not isinstance(entry, dict):
            raise PostDataInvalid("Each Tracking entry must be a JSON object")
        cat_id, name = entry.get("TrackingCategoryID"), entry.get("Name")
        category = next(
            (
                c
                for c in book.tracking_categories
                if (isinstance(cat_id, str) and c["TrackingCategoryID"] == cat_id.lower())
                or (not cat_id and isinstance(name, str) and fold(c["Name"]) == fold(name))
            ),
            None,
        )
        # Stricter than Xero, which is reported to drop unknown names silently
        # (docs/api-facts.md#xero-money-settings): an error says what would have been lost.
        if category is None or category["Status"] != "ACTIVE":
            errors.append(MSG_TRACKING_CATEGORY.format(name=name or cat_id))
            continue
        opt_id, option_name = entry.get("TrackingOptionID"), entry.get("Option")
        option = next(
            (
                o
                for o in category["Options"]
                if (isinstance(opt_id, str) and o["TrackingOptionID"] == opt_id.lower())
                or (not opt_id and isinstance(option_name, str) and fold(o["Name"]) == fold(option_name))
            ),
            None,
        )
        if option is None or option["Status"] != "ACTIVE":
            errors.append(MSG_TRACKING_OPTION.format(option=option_name or opt_id, name=category["Name"]))
            continue
        out.append(
            {
                "TrackingCategoryID": category["TrackingCategoryID"],
                "TrackingOptionID": option["TrackingOptionID"],
                "Name": category["Name"],
                "Option": option["Name"],
            }
        )
    return out


# ---- lines --------------------------------------------------------------------------------------


def _line(
    book: Book,
    kind: DocKind,
    raw: Any,
    line_amount_types: str,
    unit_dp: int,
    old_ids: set[str],
    errors: list[str],
) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise PostDataInvalid("Each line item must be a JSON object")
    line: dict[str, Any] = {}
    sent_id = raw.get("LineItemID")
    # A line sent with the LineItemID of one of the document's lines keeps it; every other line is
    # new (docs/api-facts.md#xero-money-writing: sending LineItems replaces the whole set).
    if isinstance(sent_id, str) and sent_id.lower() in old_ids:
        line["LineItemID"] = sent_id.lower()
    else:
        line["LineItemID"] = str(uuid.uuid4())
    item = None
    item_code = _text(raw, "ItemCode")
    if item_code is None and isinstance(raw.get("Item"), dict):
        item_code = raw["Item"].get("Code")
    if item_code:
        item = next((i for i in book.items.records.values() if fold(i["Code"]) == fold(item_code)), None)
        if item is None:
            errors.append(MSG_ITEM_UNKNOWN.format(code=item_code))
    sales = (item or {}).get("SalesDetails") or {}
    description = _text(raw, "Description") or (item or {}).get("Description")
    if description:
        line["Description"] = description
    quantity = _number(raw, "Quantity")
    unit = _number(raw, "UnitAmount")
    sent_amount = _number(raw, "LineAmount")
    discount = _number(raw, "DiscountRate")
    if raw.get("DiscountAmount") is not None:
        errors.append("DiscountAmount is not supported by the sandbox; send DiscountRate (a percentage).")
    if unit is None and item is not None and sales.get("UnitPrice") is not None:
        unit = Decimal(sales["UnitPrice"])
    if unit is None and sent_amount is not None:
        # LineAmount alone: Xero derives the unit amount (docs/api-facts.md#xero-money-writing).
        quantity = quantity if quantity not in (None, 0) else Decimal(1)
        unit = sent_amount / quantity
    if unit is not None and quantity is None:
        # A priced line without a quantity counts once [?] (Xero's default is undocumented).
        quantity = Decimal(1)
    if not description and item is None:
        errors.append("Description is required for each line item.")
    if item is not None:
        line["ItemCode"] = item["Code"]
        if kind is INVOICE:
            line["Item"] = {"ItemID": item["ItemID"], "Code": item["Code"], "Name": item["Name"]}
    if quantity is not None:
        line["Quantity"] = _round(quantity, QUANTITY)
    if unit is not None:
        line["UnitAmount"] = _round(unit, Decimal(1).scaleb(-unit_dp))
    if discount is not None:
        if discount < 0 or discount > 100:
            errors.append(MSG_DISCOUNT.format(rate=discount))
        else:
            line["DiscountRate"] = _round(discount, CENT)
    account = _account(
        book, _text(raw, "AccountCode") or sales.get("AccountCode"), _text(raw, "AccountID"), errors
    )
    if account is not None:
        line["AccountCode"] = account["Code"]
        line["AccountID"] = account["AccountID"]
    tax_code = _text(raw, "TaxType") or sales.get("TaxType") or (account or {}).get("TaxType")
    tax_type = _tax_type(book, tax_code, account, errors) if tax_code else None
    line["Tracking"] = _tracking(book, raw.get("Tracking"), errors)
    # GST as Xero computes it: per line, 2 dp (the generator's function, one definition of it).
    sums = {
        "Quantity": line.get("Quantity", Decimal(0)),
        "UnitAmount": line.get("UnitAmount", Decimal(0)),
        "TaxType": tax_type or "BASEXCLUDED",
    }
    if "DiscountRate" in line:
        sums["DiscountRate"] = line["DiscountRate"]
    line_amounts(sums, line_amount_types)
    if sent_amount is not None and "UnitAmount" in line and _round(sent_amount, CENT) != sums["LineAmount"]:
        errors.append(
            f"LineAmount {sent_amount} does not equal Quantity × UnitAmount less discount ({sums['LineAmount']})."
        )
    if tax_type is not None:
        line["TaxType"] = tax_type
    line["TaxAmount"] = sums["TaxAmount"]
    line["LineAmount"] = sums["LineAmount"]
    return line


# ---- composing a document -----------------------------------------------------------------------


@dataclass
class Outcome:
    record: dict[str, Any] | None = None  # what was saved
    errors: list[str] = field(default_factory=list)
    echo: dict[str, Any] = field(default_factory=dict)  # the element as understood, for errors


def _next_number(kind: DocKind, book: Book) -> str:
    counters = book.next_numbers
    if kind.prefix not in counters:
        pattern = re.compile(re.escape(kind.prefix) + r"(\d+)$")
        top, width = 0, 4
        for record in kind.book_kind(book).records.values():
            if kind is INVOICE and record.get("Type") != "ACCREC":
                continue
            match = pattern.match(record.get(kind.number_field) or "")
            if match and int(match[1]) >= top:
                top, width = int(match[1]), max(4, len(match[1]))
        counters[kind.prefix] = (top + 1, width)
    number, width = counters[kind.prefix]
    # A number a client chose for itself is skipped, never given twice.
    while _number_taken(kind, book, f"{kind.prefix}{number:0{width}d}", None):
        number += 1
    counters[kind.prefix] = (number + 1, width)
    return f"{kind.prefix}{number:0{width}d}"


def _number_taken(kind: DocKind, book: Book, number: str, own_id: str | None) -> bool:
    for record in kind.book_kind(book).records.values():
        if record[kind.id_field] == own_id or fold(record.get(kind.number_field) or "") != fold(number):
            continue
        if kind is INVOICE and record.get("Type") != "ACCREC":
            continue
        # A deleted document's number can be used again (docs/api-facts.md#xero-money-statuses).
        if record.get("Status") != "DELETED":
            return True
    return False


def compose(call: Call, kind: DocKind, element: Any, existing: dict[str, Any] | None) -> Outcome:
    """Validate ``element`` (over ``existing`` for an update) and save it unless it has errors."""
    if not isinstance(element, dict):
        raise PostDataInvalid(f"Each {kind.name} must be a JSON object")
    book = book_of(call.org)
    errors: list[str] = []
    old = existing or {}
    record: dict[str, Any] = {}
    out = Outcome(errors=errors, echo=record)
    if kind is INVOICE:
        doc_type = old.get("Type") or (_text(element, "Type") or "").upper()
        if doc_type not in ("ACCREC", "ACCPAY"):
            errors.append("Invoice Type must be ACCREC or ACCPAY.")
            doc_type = "ACCREC"
        record["Type"] = doc_type
    record[kind.id_field] = old.get(kind.id_field, ZERO_GUID)

    status = (_text(element, "Status") or old.get("Status") or "DRAFT").upper()
    if existing is None and status not in kind.create_statuses:
        errors.append(kind.status_message)
    if existing is not None:
        if status not in kind.moves.get(old["Status"], frozenset()):
            out.errors.append(kind.status_message)
            record.update({k: v for k, v in old.items() if k not in record})
            return out
        if (
            kind is INVOICE
            and (old.get("AmountPaid") or old.get("AmountCredited"))
            and status in ("AUTHORISED", "VOIDED")
        ):
            # Payments must be removed before an edit or a void (docs/api-facts.md#xero-money-statuses).
            errors.append(MSG_ALLOCATED)
            record.update({k: v for k, v in old.items() if k not in record})
            return out
        if status in ("DELETED", "VOIDED") and set(element) <= {kind.id_field, "Status", kind.number_field}:
            # A status-only change keeps everything else.
            return _save(call, kind, book, {**old, "Status": status}, existing, out)

    if "Contact" in element or existing is None:
        contact = _contact(call.org, element.get("Contact"), errors)
        if contact is not None:
            record["Contact"] = contact
    else:
        record["Contact"] = old["Contact"]

    number = _text(element, kind.number_field)
    if number is not None and number.strip():
        if (kind is QUOTE or record.get("Type") == "ACCREC") and _number_taken(
            kind, book, number, old.get(kind.id_field)
        ):
            errors.append(MSG_INVOICE_NUMBER if kind is INVOICE else MSG_QUOTE_NUMBER)
        record[kind.number_field] = number.strip()
    elif old.get(kind.number_field):
        record[kind.number_field] = old[kind.number_field]

    for name in (
        "Reference",
        "Url",
        "BrandingThemeID",
        *(("Title", "Summary", "Terms") if kind is QUOTE else ()),
    ):
        value = _text(element, name)
        if value is None:
            value = old.get(name)
        if value is None:
            continue
        limit = QUOTE_LIMITS.get(name) if kind is QUOTE else None
        if limit is not None and len(value) > limit:
            errors.append(f"{name} must not be more than {limit} characters long.")
            value = value[:limit]
        if name == "BrandingThemeID" and not is_guid(value):
            errors.append(f"BrandingThemeID '{value}' is not a GUID.")
            continue
        record[name] = value

    day = _day(element, "Date", errors) or old.get("Date")
    if day is None:
        if kind is QUOTE:
            errors.append("Date is required for a quote.")
        day = org_today(call)
    record["Date"] = day
    if kind is INVOICE:
        due = _day(element, "DueDate", errors) or old.get("DueDate")
        # Without a DueDate the organisation's sales terms apply [?] (30 days after the date here).
        record["DueDate"] = due or day + timedelta(days=PAYMENT_TERMS_DAYS)
    else:
        expiry = _day(element, "ExpiryDate", errors) or old.get("ExpiryDate")
        if expiry is not None:
            record["ExpiryDate"] = expiry

    record["Status"] = status
    sent_types = _text(element, "LineAmountTypes")
    if sent_types is not None:
        canonical = kind.line_amount_types.get(sent_types.lower())
        if canonical is None:
            errors.append(
                f"LineAmountTypes '{sent_types}' is not one of {', '.join(kind.line_amount_types.values())}."
            )
            canonical = next(iter(kind.line_amount_types.values()))
    else:
        canonical = old.get("LineAmountTypes") or next(iter(kind.line_amount_types.values()))
    record["LineAmountTypes"] = canonical

    base = book.organisation.get("BaseCurrency", "AUD")
    currency = (_text(element, "CurrencyCode") or old.get("CurrencyCode") or base).upper()
    if currency not in {c["Code"] for c in book.currencies}:
        errors.append(MSG_CURRENCY.format(code=currency))
    record["CurrencyCode"] = currency
    rate = _number(element, "CurrencyRate")
    if rate is None:
        rate = old.get("CurrencyRate") if old.get("CurrencyCode") == currency else None
    if rate is None:
        rate = Decimal(1) if currency == base else FX_RATES.get(currency, Decimal(1))
    record["CurrencyRate"] = rate

    lines_raw = element.get("LineItems")
    if lines_raw is not None and not isinstance(lines_raw, list):
        raise PostDataInvalid("LineItems must be an array")
    unit_dp = kind.unit_dp or (4 if call.params.get("unitdp") == "4" else 2)
    if lines_raw is None and existing is not None and "LineAmountTypes" not in element:
        lines = old["LineItems"]
    else:
        source = lines_raw if lines_raw is not None else old.get("LineItems", [])
        old_ids = {str(line.get("LineItemID", "")).lower() for line in old.get("LineItems", [])}
        lines = [_line(book, kind, raw, canonical, unit_dp, old_ids, errors) for raw in source]
    if not lines:
        errors.append(f"A {kind.name.lower()} must have at least one line item.")
    record["LineItems"] = lines
    if status == "AUTHORISED" and any(
        "AccountCode" not in line or "UnitAmount" not in line for line in lines
    ):
        errors.append("Each line of an approved invoice needs an AccountCode, a Quantity and a UnitAmount.")
    sums = totals(lines, canonical)
    if kind is QUOTE:
        record.update(sums)
    else:
        record.update(sums)
        paid = old.get("AmountPaid", Decimal("0.00"))
        credited = old.get("AmountCredited", Decimal("0.00"))
        record.update(
            AmountPaid=paid,
            AmountCredited=credited,
            AmountDue=Decimal("0.00") if status in ("VOIDED", "DELETED") else sums["Total"] - paid - credited,
            IsDiscounted=False,
            HasAttachments=old.get("HasAttachments", False),
            SentToContact=old.get("SentToContact", False),
            Payments=old.get("Payments", []),
            CreditNotes=old.get("CreditNotes", []),
            Prepayments=old.get("Prepayments", []),
            Overpayments=old.get("Overpayments", []),
        )
    if errors:
        return out
    return _save(call, kind, book, record, existing, out)


def _save(
    call: Call,
    kind: DocKind,
    book: Book,
    record: dict[str, Any],
    existing: dict[str, Any] | None,
    out: Outcome,
) -> Outcome:
    now = call.sandbox.clock.now()
    created = existing is None
    if created:
        record[kind.id_field] = str(uuid.uuid4())
        if not record.get(kind.number_field) and (kind is QUOTE or record.get("Type") == "ACCREC"):
            record[kind.number_field] = _next_number(kind, book)
        book.created_by[record[kind.id_field]] = call.auth.client_id
    elif kind is INVOICE and record["Status"] in ("VOIDED", "DELETED"):
        record["AmountDue"] = Decimal("0.00")
    record["UpdatedDateUTC"] = now
    old_number = (existing or {}).get(kind.number_field)
    kind.book_kind(book).put(record)
    key = record[kind.id_field].lower()
    if kind is INVOICE:
        if old_number and old_number != record.get(kind.number_field):
            book.invoice_numbers[fold(old_number)] = [
                k for k in book.invoice_numbers.get(fold(old_number), []) if k != key
            ]
        number = record.get(kind.number_field)
        if number and key not in book.invoice_numbers.get(fold(number), []):
            book.invoice_numbers.setdefault(fold(number), []).append(key)
    what = "Created" if created else ("Voided" if record["Status"] == "VOIDED" else "Edited")
    if record["Status"] == "DELETED":
        what = "Deleted"
    add_history(
        book,
        key,
        what,
        f"{kind.name} {record.get(kind.number_field, '')} {what.lower()} through the API.".replace("  ", " "),
        now,
    )
    if kind is INVOICE:  # Xero has no webhook for quotes (docs/api-facts.md#xero-webhooks)
        announce(call, "INVOICE", record, "CREATE" if created else "UPDATE")
    out.record = record
    return out


def announce(call: Call, category: str, record: dict[str, Any], event_type: str) -> None:
    """A webhook event for an invoice or credit note that changed (a CREDITNOTE event carries its
    Type and Status; docs/api-facts.md#xero-webhooks)."""
    if category == "CREDITNOTE":
        data = {"Type": record["Type"], "Status": record["Status"]}
        call.sandbox.xero.emit_event(call.org.tenant_id, category, record["CreditNoteID"], event_type, data)
    else:
        call.sandbox.xero.emit_event(call.org.tenant_id, category, record["InvoiceID"], event_type)


# ---- history ------------------------------------------------------------------------------------


def add_history(
    book: Book, key: str, changes: str, details: str, at: datetime, user: str = SYSTEM_USER
) -> None:
    book.history.setdefault(key, []).append(
        {"Changes": changes, "DateUTC": at, "User": user, "Details": details}
    )


def history_view(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "Changes": e["Changes"],
            "DateUTCString": iso_seconds(e["DateUTC"]),
            "DateUTC": WireDate(e["DateUTC"]),
            "User": e["User"],
            "Details": e["Details"],
        }
        for e in entries
    ]


# ---- rendering ----------------------------------------------------------------------------------


def _echo(kind: DocKind, outcome: Outcome) -> dict[str, Any]:
    """A failed element as Xero echoes it: what it understood, plus the validation errors."""
    view = kind.view(
        {**outcome.echo, "UpdatedDateUTC": outcome.echo.get("UpdatedDateUTC") or datetime.now(UTC)}
    )
    view.pop("UpdatedDateUTC", None)
    view.pop("UpdatedDateUTCString", None)
    if kind is INVOICE:
        view["HasErrors"] = True
    view["ValidationErrors"] = [{"Message": m} for m in outcome.errors]
    return view


def _answer(call: Call, kind: DocKind, outcomes: list[Outcome]) -> Response:
    if not parse_bool(call.params, "summarizeErrors", default=True):
        # summarizeErrors=false: 200, every element with its own status
        # (docs/api-facts.md#xero-money-errors).
        items = []
        for outcome in outcomes:
            if outcome.record is not None:
                item = kind.view(outcome.record)
                item["StatusAttributeString"] = "OK"
                if kind is INVOICE:
                    item["HasErrors"] = False
                item["ValidationErrors"] = []
            else:
                item = _echo(kind, outcome)
                item["StatusAttributeString"] = "ERROR"
            items.append(item)
        return call.ok(kind.key, items)
    failed = [o for o in outcomes if o.record is None]
    if failed:
        # Not transactional, like contacts: the valid elements are saved even though the answer is
        # a 400 (docs/api-facts.md#xero-writing-contacts).
        return call.error(
            400,
            "ValidationException",
            "A validation exception occurred",
            number=10,
            elements=[_echo(kind, o) for o in failed],
        )
    return call.ok(kind.key, [kind.view(o.record) for o in outcomes if o.record is not None])


def _find(kind: DocKind, book: Book, key: str) -> dict[str, Any] | None:
    records = kind.book_kind(book).records
    if is_guid(key):
        return records.get(key.lower())
    if kind is INVOICE:
        found = book.invoice_numbers.get(fold(key))
        return records.get(found[0]) if found else None
    return next((r for r in records.values() if fold(r.get(kind.number_field) or "") == fold(key)), None)


def write(call: Call, kind: DocKind, method: str, target: str | None = None) -> Response:
    items = _elements(call.json_body(exact=True), kind.key, kind.name)
    call.note_batch(len(items))
    book = book_of(call.org)
    existing_target = None
    if target is not None:
        existing_target = _find(kind, book, target)
        if existing_target is None:
            return wire.not_found()
        if len(items) != 1:
            raise PostDataInvalid(f"POST /{kind.key}/{{{kind.id_field}}} updates exactly one {kind.name}")
    outcomes = []
    for element in items:
        existing = existing_target
        if existing is None and method == "POST" and isinstance(element, dict):
            # POST is update-or-create: by id, or (ACCREC invoices) by an existing number
            # (docs/api-facts.md#xero-money-writing).
            sent_id = element.get(kind.id_field)
            sent_number = element.get(kind.number_field)
            if isinstance(sent_id, str) and sent_id.strip():
                existing = _find(kind, book, sent_id) if is_guid(sent_id) else None
                if existing is None:
                    outcomes.append(Outcome(errors=[MSG_DOCUMENT_NOT_FOUND], echo={}))
                    continue
            elif isinstance(sent_number, str) and sent_number.strip():
                found = _find(kind, book, sent_number)
                if found is not None and (kind is QUOTE or found.get("Type") == "ACCREC"):
                    existing = found
        elif method == "PUT" and isinstance(element, dict) and isinstance(element.get(kind.id_field), str):
            # PUT creates only; an id of an existing document is ignored like any read-only field.
            element = {k: v for k, v in element.items() if k != kind.id_field}
        outcomes.append(compose(call, kind, element, existing))
    return _answer(call, kind, outcomes)


def put_invoices(call: Call) -> Response:
    return write(call, INVOICE, "PUT")


def post_invoices(call: Call) -> Response:
    return write(call, INVOICE, "POST")


def post_invoice(call: Call) -> Response:
    return write(call, INVOICE, "POST", call.request.path_params["key"])


def put_quotes(call: Call) -> Response:
    return write(call, QUOTE, "PUT")


def post_quotes(call: Call) -> Response:
    return write(call, QUOTE, "POST")


def post_quote(call: Call) -> Response:
    return write(call, QUOTE, "POST", call.request.path_params["key"])


# ---- payments -----------------------------------------------------------------------------------

MSG_PAYMENT_INVOICE_UNKNOWN = "The invoice '{key}' does not exist in this organisation."
MSG_PAYMENT_STATUS = "Payments can only be made against AUTHORISED invoices, not {status} ones."
MSG_PAYMENT_ACCOUNT = (
    "Account '{key}' cannot take payments: use a bank account (or one with payments enabled)."
)
MSG_PAYMENT_AMOUNT = "Amount must be more than 0."


def _payment_account(book: Book, raw: Any, errors: list[str]) -> dict[str, Any] | None:
    if not isinstance(raw, dict):
        errors.append("Account must be given by Code or AccountID.")
        return None
    code, account_id = raw.get("Code"), raw.get("AccountID")
    account = None
    if isinstance(account_id, str) and is_guid(account_id):
        account = book.accounts.records.get(account_id.lower())
    elif isinstance(code, str):
        account = next((a for a in book.accounts.records.values() if fold(a["Code"]) == fold(code)), None)
    if (
        account is None
        or account.get("Status") != "ACTIVE"
        or not (account.get("Type") == "BANK" or account.get("EnablePaymentsToAccount"))
    ):
        errors.append(MSG_PAYMENT_ACCOUNT.format(key=code or account_id))
        return None
    return account


def make_payment(call: Call, element: Any) -> Outcome:
    """Apply one payment to an AUTHORISED invoice: AmountPaid and AmountDue move, the invoice is
    PAID once nothing is due, and both carry the payment's UpdatedDateUTC
    (docs/api-facts.md#xero-money-writing)."""
    if not isinstance(element, dict):
        raise PostDataInvalid("Each Payment must be a JSON object")
    book = book_of(call.org)
    errors: list[str] = []
    echo: dict[str, Any] = {}
    out = Outcome(errors=errors, echo=echo)
    raw_invoice = element.get("Invoice")
    invoice = None
    if isinstance(raw_invoice, dict):
        key = raw_invoice.get("InvoiceID") or raw_invoice.get("InvoiceNumber")
        invoice = _find(INVOICE, book, key) if isinstance(key, str) and key.strip() else None
        if invoice is None:
            errors.append(MSG_PAYMENT_INVOICE_UNKNOWN.format(key=key))
    else:
        errors.append("Invoice must be given by InvoiceID or InvoiceNumber.")
    account = _payment_account(book, element.get("Account"), errors)
    amount = _number(element, "Amount")
    if amount is None or amount <= 0:
        errors.append(MSG_PAYMENT_AMOUNT)
    else:
        amount = _round(amount, CENT)
        echo["Amount"] = amount
    day = _day(element, "Date", errors) or org_today(call)
    echo["Date"] = day
    reference = _text(element, "Reference")
    if reference:
        echo["Reference"] = reference
    if invoice is not None:
        echo["Invoice"] = {
            "InvoiceID": invoice["InvoiceID"],
            "InvoiceNumber": invoice.get("InvoiceNumber", ""),
        }
        if invoice["Status"] != "AUTHORISED":
            errors.append(MSG_PAYMENT_STATUS.format(status=invoice["Status"]))
        elif amount is not None and amount > invoice["AmountDue"]:
            errors.append(MSG_PAYMENT_EXCEEDS)
    if errors or invoice is None or account is None or amount is None:
        return out
    now = call.sandbox.clock.now()
    rate = _number(element, "CurrencyRate") or invoice.get("CurrencyRate") or Decimal(1)
    payment: dict[str, Any] = {
        "PaymentID": str(uuid.uuid4()),
        "Date": day,
        "Amount": amount,
        "BankAmount": _round(amount / rate, CENT),
        "CurrencyRate": rate,
        "Reference": reference,
        "IsReconciled": False,
        "Status": "AUTHORISED",
        "PaymentType": "ACCRECPAYMENT" if invoice["Type"] == "ACCREC" else "ACCPAYPAYMENT",
        "UpdatedDateUTC": now,
        "HasAccount": True,
        "HasValidationErrors": False,
        "Account": {"AccountID": account["AccountID"], "Code": account["Code"]},
        "Invoice": {
            "InvoiceID": invoice["InvoiceID"],
            "InvoiceNumber": invoice.get("InvoiceNumber", ""),
            "Type": invoice["Type"],
            "Contact": dict(invoice["Contact"]),
            "CurrencyCode": invoice["CurrencyCode"],
        },
    }
    if not reference:
        del payment["Reference"]
    book.payments.put(payment)
    summary: dict[str, Any] = {"PaymentID": payment["PaymentID"], "Date": day, "Amount": amount}
    if reference:
        summary["Reference"] = reference
    updated = {**invoice, "Payments": [*invoice.get("Payments", []), summary]}
    updated["AmountPaid"] = invoice["AmountPaid"] + amount
    updated["AmountDue"] = invoice["Total"] - updated["AmountPaid"] - invoice["AmountCredited"]
    updated["UpdatedDateUTC"] = now
    if updated["AmountDue"] == 0:
        updated["Status"] = "PAID"
        updated["FullyPaidOnDate"] = day
    book.invoices.put(updated)
    announce(call, "INVOICE", updated, "UPDATE")  # a payment is an invoice UPDATE; payments have no webhook
    add_history(book, payment["PaymentID"], "Created", f"Payment of {amount} received.", now)
    add_history(
        book,
        updated["InvoiceID"].lower(),
        "Paid" if updated["Status"] == "PAID" else "Payment",
        f"Payment received of {amount} on {day.isoformat()}.",
        now,
    )
    out.record = payment
    return out


def delete_payment(call: Call, payment: dict[str, Any]) -> dict[str, Any]:
    """``POST /Payments/{id}`` with Status DELETED: the payment stays, DELETED, and its invoice owes
    the amount again (AUTHORISED once more if it was PAID)."""
    book = book_of(call.org)
    now = call.sandbox.clock.now()
    deleted = {**payment, "Status": "DELETED", "UpdatedDateUTC": now}
    book.payments.put(deleted)
    invoice = book.invoices.records.get(payment["Invoice"]["InvoiceID"].lower())
    if invoice is not None:
        updated = {
            **invoice,
            "Payments": [p for p in invoice.get("Payments", []) if p["PaymentID"] != payment["PaymentID"]],
            "AmountPaid": invoice["AmountPaid"] - payment["Amount"],
            "UpdatedDateUTC": now,
        }
        updated["AmountDue"] = updated["Total"] - updated["AmountPaid"] - updated["AmountCredited"]
        if updated["Status"] == "PAID" and updated["AmountDue"] > 0:
            updated["Status"] = "AUTHORISED"
            updated.pop("FullyPaidOnDate", None)
        book.invoices.put(updated)
        announce(call, "INVOICE", updated, "UPDATE")
    return deleted


def _payment_answer(call: Call, outcomes: list[Outcome]) -> Response:
    def echo(outcome: Outcome) -> dict[str, Any]:
        view = payment_view_of({**outcome.echo, "UpdatedDateUTC": datetime.now(UTC)})
        view.pop("UpdatedDateUTC", None)
        view.pop("UpdatedDateUTCString", None)
        view["HasValidationErrors"] = True
        view["ValidationErrors"] = [{"Message": m} for m in outcome.errors]
        return view

    if not parse_bool(call.params, "summarizeErrors", default=True):
        items = []
        for outcome in outcomes:
            if outcome.record is not None:
                item = payment_view_of(outcome.record)
                item["StatusAttributeString"] = "OK"
            else:
                item = echo(outcome)
                item["StatusAttributeString"] = "ERROR"
            items.append(item)
        return call.ok("Payments", items)
    failed = [o for o in outcomes if o.record is None]
    if failed:
        return call.error(
            400,
            "ValidationException",
            "A validation exception occurred",
            number=10,
            elements=[echo(o) for o in failed],
        )
    return call.ok("Payments", [payment_view_of(o.record) for o in outcomes if o.record is not None])


def payment_view_of(record: dict[str, Any]) -> dict[str, Any]:
    return invoice_view(record, True)


def put_payments(call: Call) -> Response:
    # PUT takes a batch ({"Payments":[…]}); one bare object is accepted too
    # (docs/api-facts.md#xero-money-writing).
    items = _elements(call.json_body(exact=True), "Payments", "Payment")
    call.note_batch(len(items))
    return _payment_answer(call, [make_payment(call, item) for item in items])


def post_payments(call: Call) -> Response:
    items = _elements(call.json_body(exact=True), "Payments", "Payment")
    call.note_batch(len(items))
    if len(items) != 1:
        raise PostDataInvalid("POST /Payments takes one payment; send a batch with PUT /Payments")
    return _payment_answer(call, [make_payment(call, items[0])])


def post_payment(call: Call) -> Response:
    key = call.request.path_params["key"]
    payment = book_of(call.org).payments.records.get(key.lower()) if is_guid(key) else None
    if payment is None:
        return wire.not_found()
    items = _elements(call.json_body(exact=True), "Payments", "Payment")
    element = items[0] if len(items) == 1 and isinstance(items[0], dict) else {}
    # A payment cannot be edited, only deleted (docs/api-facts.md#xero-money-writing).
    if str(element.get("Status", "")).upper() != "DELETED" or payment["Status"] == "DELETED":
        outcome = Outcome(
            errors=[
                "A payment can only be deleted (Status DELETED); delete it and make a new one to change it."
            ],
            echo={k: v for k, v in payment.items() if k != "UpdatedDateUTC"},
        )
        return _payment_answer(call, [outcome])
    return call.ok("Payments", [payment_view_of(delete_payment(call, payment))])


# ---- history endpoints --------------------------------------------------------------------------

HISTORY_KINDS = {
    "Invoices": ("invoices", "InvoiceID"),
    "Quotes": ("quotes", "QuoteID"),
    "CreditNotes": ("credit_notes", "CreditNoteID"),
    "Payments": ("payments", "PaymentID"),
}


def _history_target(call: Call, object_key: str) -> str:
    attribute, _ = HISTORY_KINDS[object_key]
    kind: Kind = getattr(book_of(call.org), attribute)
    key = call.request.path_params["key"]
    if not is_guid(key) or key.lower() not in kind.records:
        # Xero answers an unknown document id with a 400, not a 404 (docs/api-facts.md#xero-money-writing).
        raise BadRequest("ValidationException", MSG_DOCUMENT_NOT_FOUND, 10)
    return key.lower()


def history_handlers(object_key: str) -> tuple[Callable[[Call], Response], Callable[[Call], Response]]:
    def get(call: Call) -> Response:
        key = _history_target(call, object_key)
        return call.ok("HistoryRecords", history_view(book_of(call.org).history.get(key, [])))

    def add(call: Call) -> Response:
        key = _history_target(call, object_key)
        records = _elements(call.json_body(), "HistoryRecords", "HistoryRecord")
        call.note_batch(len(records))
        failed = []
        for record in records:
            if not isinstance(record, dict):
                raise PostDataInvalid("Each HistoryRecord must be a JSON object")
            problems = Organisation.history_errors(record.get("Details"))
            if problems:
                details = record.get("Details")
                failed.append(
                    {
                        "Details": details if isinstance(details, str) else "",
                        "ValidationErrors": [{"Message": m} for m in problems],
                    }
                )
        if failed:
            # All or nothing, as for contacts' notes.
            return call.error(
                400, "ValidationException", "A validation exception occurred", number=10, elements=failed
            )
        book = book_of(call.org)
        now = call.sandbox.clock.now()
        out = []
        for record in records:
            add_history(book, key, "Note", record["Details"], now)
            out.append(
                {
                    "DateUTCString": iso_seconds(now),
                    "DateUTC": WireDate(now),
                    "Details": record["Details"],
                    "ValidationErrors": [],
                }
            )
        return call.ok("HistoryRecords", out)

    return get, add


def routes(route: Callable[[str, Any, frozenset[str], list[str]], BaseRoute]) -> list[BaseRoute]:
    """The write routes, built with accounting.routes' ``r`` (so they share its pipeline)."""
    out = [
        route("/Invoices", put_invoices, INVOICE_WRITE_SCOPES, ["PUT"]),
        route("/Invoices", post_invoices, INVOICE_WRITE_SCOPES, ["POST"]),
        route("/Invoices/{key}", post_invoice, INVOICE_WRITE_SCOPES, ["POST"]),
        route("/Quotes", put_quotes, INVOICE_WRITE_SCOPES, ["PUT"]),
        route("/Quotes", post_quotes, INVOICE_WRITE_SCOPES, ["POST"]),
        route("/Quotes/{key}", post_quote, INVOICE_WRITE_SCOPES, ["POST"]),
    ]
    out += [
        route("/Payments", put_payments, PAYMENT_WRITE_SCOPES, ["PUT"]),
        route("/Payments", post_payments, PAYMENT_WRITE_SCOPES, ["POST"]),
        route("/Payments/{key}", post_payment, PAYMENT_WRITE_SCOPES, ["POST"]),
    ]
    for object_key in HISTORY_KINDS:
        read, write_ = (
            (PAYMENT_READ_SCOPES, PAYMENT_WRITE_SCOPES)
            if object_key == "Payments"
            else (INVOICE_READ_SCOPES, INVOICE_WRITE_SCOPES)
        )
        get, add = history_handlers(object_key)
        out.append(route(f"/{object_key}/{{key}}/History", get, read, ["GET"]))
        # POST behaves as PUT for history, as on contacts (docs/api-facts.md#xero-history-notes).
        out.append(route(f"/{object_key}/{{key}}/History", add, write_, ["PUT", "POST"]))
    return out
