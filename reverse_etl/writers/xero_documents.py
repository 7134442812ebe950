"""DRAFT quotes and invoices in Xero for won Capsule opportunities, and the note and link around them
(docs/billing.md; facts: docs/api-facts.md#xero-money-writing).

- ``create``: one ``PUT /Invoices`` (``unitdp=4``) or ``PUT /Quotes`` with one document and the
  Idempotency-Key the caller derived; Status is always DRAFT. Amounts go as exact JSON numbers
  (``exact_json``), never through a float.
- ``find``: the document Xero holds with a Reference, before any (re)send: sales invoices by
  ``where=Type=="ACCREC" AND Reference=="…"``, quotes (no ``where``) by listing the contact's quotes
  and reading their Reference. Any status counts, deleted and voided too: a person who removed the
  draft decided, and the tool does not make it again.
- ``add_history``: the note on the document naming the Capsule opportunity.
- ``OpportunityField``: the document's number and Xero link into the Capsule opportunity's custom
  field, its definition found by name in ``GET /opportunities/fields/definitions``.

The tool never approves, sends, voids or deletes a document: nothing here can.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Literal

import httpx

from capsule_xero.capsule.client import CapsuleClient
from reverse_etl.writers.xero_session import XeroSession, XeroWriteError, json_body, messages, problem

Kind = Literal["quote", "invoice"]
COLLECTION = {"quote": "Quotes", "invoice": "Invoices"}
ID_KEY = {"quote": "QuoteID", "invoice": "InvoiceID"}
NUMBER_KEY = {"quote": "QuoteNumber", "invoice": "InvoiceNumber"}
QUOTES_PAGE = 100  # Xero's fixed page of quotes (docs/api-facts.md#xero-money-reading)
# Xero's screens for one document. Xero documents no deep link for a quote: the stricter choice is a
# link that opens the organisation's quote screen by the QuoteID.
LINKS = {
    "invoice": "https://go.xero.com/AccountsReceivable/Edit.aspx?InvoiceID={id}",
    "quote": "https://go.xero.com/app/quotes/edit/{id}",
}
PER_PAGE = 100  # Capsule's largest page


class DocumentRefused(Exception):
    """Xero refused the document (a validation error): its message, in one line."""


def exact_json(value: Any) -> bytes:
    """``value`` as compact UTF-8 JSON with every ``Decimal`` written as the exact number it is."""
    marker = f"@{uuid.uuid4().hex}@"

    def number(item: Any) -> str:
        if isinstance(item, Decimal):
            return f"{marker}{item}{marker}"
        raise TypeError(f"{type(item).__name__} is not JSON")

    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=number)
    return text.replace(f'"{marker}', "").replace(f'{marker}"', "").encode("utf-8")


@dataclass(frozen=True)
class DraftDocument:
    """What one DRAFT quote or invoice asks of Xero: one line, for one contact."""

    kind: Kind
    reference: str
    contact_id: str
    title: str
    description: str
    quantity: Decimal
    unit_amount: Decimal
    currency: str | None
    line_amount_types: str  # Exclusive | Inclusive | NoTax
    account_code: str | None
    tax_type: str | None
    item_code: str | None
    tracking: tuple[Mapping[str, str], ...]  # {TrackingCategoryID, Name, TrackingOptionID, Option}
    date: date

    def element(self) -> dict[str, Any]:
        line: dict[str, Any] = {
            "Description": self.description,
            "Quantity": self.quantity,
            "UnitAmount": self.unit_amount,
        }
        for key, value in (
            ("AccountCode", self.account_code),
            ("TaxType", self.tax_type),
            ("ItemCode", self.item_code),
        ):
            if value is not None:
                line[key] = value
        if self.tracking:
            line["Tracking"] = [dict(t) for t in self.tracking]
        document: dict[str, Any] = {
            "Contact": {"ContactID": self.contact_id},
            "Date": self.date.isoformat(),
            "Status": "DRAFT",
            "Reference": self.reference,
            "LineItems": [line],
        }
        if self.currency:
            document["CurrencyCode"] = self.currency
        if self.kind == "invoice":
            document["Type"] = "ACCREC"
            document["LineAmountTypes"] = self.line_amount_types
        else:
            # Quotes spell the line amount types in capitals (docs/api-facts.md#xero-money-writing).
            document["LineAmountTypes"] = self.line_amount_types.upper()
            document["Title"] = self.title[:100]
        return document

    def body(self) -> bytes:
        return exact_json({COLLECTION[self.kind]: [self.element()]})


@dataclass(frozen=True)
class XeroDocument:
    """A document Xero holds: its id, number, status and the link to it."""

    kind: Kind
    document_id: str
    number: str | None
    reference: str | None
    status: str | None

    @property
    def url(self) -> str:
        return LINKS[self.kind].format(id=self.document_id)

    @classmethod
    def of(cls, kind: Kind, item: Mapping[str, Any]) -> XeroDocument:
        return cls(
            kind,
            str(item[ID_KEY[kind]]).lower(),
            item.get(NUMBER_KEY[kind]),
            item.get("Reference"),
            item.get("Status"),
        )


class XeroDocumentWriter:
    """Creates and finds DRAFT documents through the run's Xero session (its pacing and budget)."""

    def __init__(self, session: XeroSession) -> None:
        self.session = session

    def create(self, document: DraftDocument, key: str) -> XeroDocument:
        """``PUT`` the document with ``key``. Raises ``DocumentRefused`` when Xero refused it,
        ``XeroWriteError`` when the request was refused whole (a scope, a token), and lets
        ``httpx.TransportError`` / ``XeroUnavailable`` through when the answer was lost."""
        params = {"unitdp": "4"} if document.kind == "invoice" else None
        response = self.session.http.put(
            f"/{COLLECTION[document.kind]}",
            params=params,
            content=document.body(),
            headers={"Idempotency-Key": key, "Content-Type": "application/json"},
        )
        body = json_body(response) if response.status_code in (200, 400) else None
        items = (body or {}).get(COLLECTION[document.kind]) if isinstance(body, Mapping) else None
        if response.status_code == 200 and items:
            item = items[0]
            errors = messages(item)
            if item.get("HasErrors") or errors:
                raise DocumentRefused("; ".join(errors) or "Xero refused the document")
            return XeroDocument.of(document.kind, item)
        if response.status_code == 400 and isinstance(body, Mapping):
            errors = [m for element in body.get("Elements") or () for m in messages(element)]
            raise DocumentRefused("; ".join(errors) or problem(response))
        if response.status_code in (401, 403, 404):
            raise XeroWriteError(f"PUT /{COLLECTION[document.kind]} was refused ({problem(response)})")
        # A 5xx after the transport's retries, or a 200 without the document: not known whether it landed.
        raise httpx.TransportError(f"PUT /{COLLECTION[document.kind]}: {problem(response)}")

    def find(self, kind: Kind, reference: str, contact_id: str | None) -> XeroDocument | None:
        """The document Xero holds with ``reference`` (any status), or None."""
        if kind == "invoice":
            where = f'Type=="ACCREC" AND Reference=="{_quoted(reference)}"'
            response = self.session.get("/Invoices", {"where": where, "page": "1"})
            for item in (json_body(response) or {}).get("Invoices") or ():
                if item.get("Reference") == reference:
                    return XeroDocument.of(kind, item)
            return None
        if contact_id is None:
            return None
        page = 1
        while True:
            response = self.session.get("/Quotes", {"ContactID": contact_id, "page": str(page)})
            quotes = (json_body(response) or {}).get("Quotes") or ()
            for item in quotes:
                if item.get("Reference") == reference:
                    return XeroDocument.of(kind, item)
            if len(quotes) < QUOTES_PAGE:
                return None
            page += 1

    def history_details(self, kind: Kind, document_id: str) -> list[str]:
        response = self.session.get(f"/{COLLECTION[kind]}/{document_id}/History", None)
        return [str(r.get("Details")) for r in (json_body(response) or {}).get("HistoryRecords") or ()]

    def add_history(self, kind: Kind, document_id: str, details: str, key: str) -> None:
        """The note on the document (one call; a lost answer is settled by reading the History back)."""
        try:
            response: httpx.Response | None = self.session.http.put(
                f"/{COLLECTION[kind]}/{document_id}/History",
                content=exact_json({"HistoryRecords": [{"Details": details}]}),
                headers={"Idempotency-Key": key, "Content-Type": "application/json"},
            )
        except httpx.TransportError:
            response = None
        if response is not None and response.status_code == 200:
            return
        if details in self.history_details(kind, document_id):
            return
        raise DocumentRefused(
            f"the History note was not added ({'no answer' if response is None else problem(response)})"
        )


def _quoted(text: str) -> str:
    # Inside a `where` string literal a double quote is escaped by doubling it (OData style, as Xero's
    # filters are); the stricter choice, since CAP-OPP-<id> never holds one.
    return text.replace('"', '""')


@dataclass(frozen=True)
class OpportunityFieldDefinition:
    id: int
    name: str


class OpportunityField:
    """The Capsule opportunity field that receives each document's number and link."""

    def __init__(self, client: CapsuleClient, name: str) -> None:
        self.client = client
        self.name = name
        self._definition: OpportunityFieldDefinition | bool | None = False

    def definition(self) -> OpportunityFieldDefinition | None:
        """Found by name (any case) among ``GET /opportunities/fields/definitions``, once."""
        if self._definition is False:
            self._definition = None
            page = 1
            while self._definition is None:
                response = self.client.get(
                    "/opportunities/fields/definitions", params={"page": page, "perPage": PER_PAGE}
                )
                for item in (response.json() or {}).get("definitions") or ():
                    if str(item.get("name") or "").strip().casefold() == self.name.strip().casefold():
                        self._definition = OpportunityFieldDefinition(int(item["id"]), str(item["name"]))
                        break
                if "next" not in response.links:
                    break
                page += 1
        return self._definition  # type: ignore[return-value]

    def missing(self) -> str:
        """What to create in Capsule when the definition is missing, exactly."""
        return (
            f'Capsule has no opportunity field named "{self.name}" (billing.opportunity_field): create it in'
            f' Capsule under Settings › Custom Fields › Opportunities as a Text field named "{self.name}",'
            " then run `capsule-xero sync --apply` again"
        )

    def write(self, opportunity_id: int, value: str) -> None:
        """Set the field on the opportunity (Capsule updates or adds the value for the definition)."""
        definition = self.definition()
        assert definition is not None
        body = {"opportunity": {"fields": [{"definition": {"id": definition.id}, "value": value}]}}
        # Setting a field to a value is the same state however often it is sent: safe to repeat.
        self.client.request("PUT", f"/opportunities/{opportunity_id}", idempotent=True, json=body)
