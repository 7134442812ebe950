"""Worlds with Xero's money read and Capsule money fields defined (issue 14, part 3), and the five values
computed independently from the generated book in Python ``Decimal`` (the truth the SQL is held to)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from capsule_xero.rules.model import Rules
from capsule_xero.xero.auth import XeroAuth, login
from pipelines.capsule import extract_capsule
from pipelines.xero import run_xero_extract
from pipelines.xero.settings import XeroExtractConfig
from sandbox.generator import Dataset
from tests.support.sync_world import PACING, World

# The Capsule fields the tests name in money.capsule_fields, by rules key, and their types.
FIELD_NAMES = {
    "invoiced_12_months": "Invoiced 12 months (Xero)",
    "outstanding": "Outstanding (Xero)",
    "overdue": "Overdue (Xero)",
    "last_invoice": "Last invoice (Xero)",
    "last_payment_date": "Last payment (Xero)",
}
FIELD_TYPES = {
    "invoiced_12_months": "number",
    "outstanding": "number",
    "overdue": "number",
    "last_invoice": "text",
    "last_payment_date": "date",
}
FIRST_DEFINITION_ID = 812390


def money_rules(keys: tuple[str, ...] = tuple(FIELD_NAMES), **sections: Any) -> Rules:
    """Rules reading invoices and payments, with the money fields ``keys`` turned on."""
    return Rules.model_validate(
        {
            "money": {
                "read": ["invoices", "payments"],
                "capsule_fields": {key: FIELD_NAMES[key] for key in keys},
            },
            **sections,
        }
    )


def with_money_definitions(dataset: Dataset, keys: tuple[str, ...] = tuple(FIELD_NAMES)) -> Dataset:
    """``dataset`` whose Capsule account defines the money fields ``keys`` (People & Organisations)."""
    added = [
        {
            "id": FIRST_DEFINITION_ID + index,
            "type": FIELD_TYPES[key],
            "displayOrder": 20 + index,
            "name": FIELD_NAMES[key],
            "important": False,
        }
        for index, key in enumerate(FIELD_NAMES)
        if key in keys
    ]
    return replace(dataset, capsule_field_definitions=[*dataset.capsule_field_definitions, *added])


class MoneyWorld(World):
    """A ``World`` signed in for the money its rules read, whose extract reads that money too."""

    def __init__(self, dataset: Dataset, home: Path, rules: Rules) -> None:
        super().__init__(dataset, home)
        self.rules = rules
        self.auth = XeroAuth(self.settings, rules=rules)
        login(
            self.auth,
            choose_tenant=lambda c: c[0],
            open_url=lambda u: httpx.get(u, follow_redirects=True, timeout=30),
        )

    def extract(self) -> None:
        extract_capsule(self.settings)
        run_xero_extract(self.settings, options=replace(XeroExtractConfig(), pacing=PACING), rules=self.rules)


# ---- the truth, from the generated book -------------------------------------------------------------


def _year_before(day: date) -> date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


def expected_values(dataset: Dataset, contact_id: str, today: date, base: str = "AUD") -> dict[str, Any]:
    """The five values of one Xero contact, as docs/money-in-capsule.md defines them."""
    contact = contact_id.lower()

    def mine(record: dict[str, Any], key: str = "Contact") -> bool:
        return str(record[key]["ContactID"]).lower() == contact

    issued = [
        i
        for i in dataset.xero_invoices
        if i["Type"] == "ACCREC" and i["Status"] in ("AUTHORISED", "PAID") and mine(i)
    ]
    credits = [
        c
        for c in dataset.xero_credit_notes
        if c["Type"] == "ACCRECCREDIT" and c["Status"] in ("AUTHORISED", "PAID") and mine(c)
    ]
    after = _year_before(today)
    invoiced = sum(
        (i["Total"] for i in issued if i["CurrencyCode"] == base and after < i["Date"] <= today), Decimal(0)
    ) - sum(
        (c["Total"] for c in credits if c["CurrencyCode"] == base and after < c["Date"] <= today), Decimal(0)
    )
    owing = [i for i in issued if i["Status"] == "AUTHORISED" and i["CurrencyCode"] == base]
    latest = max(issued, key=lambda i: (i["Date"], i["InvoiceNumber"]), default=None)
    paid = [
        p["Date"]
        for p in dataset.xero_payments
        if p["Status"] == "AUTHORISED"
        and p["PaymentType"] == "ACCRECPAYMENT"
        and str(p["Invoice"]["Contact"]["ContactID"]).lower() == contact
    ]
    return {
        "invoiced_12_months": invoiced,
        "outstanding": sum((i["AmountDue"] for i in owing), Decimal(0)),
        "overdue": sum((i["AmountDue"] for i in owing if i["DueDate"] < today), Decimal(0)),
        "last_invoice": f"{latest['InvoiceNumber']} {latest['Date']:%Y-%m-%d}" if latest else None,
        "last_payment_date": max(paid, default=None),
    }


def as_capsule_text(key: str, value: Any) -> str | None:
    """A value as the tool writes it to Capsule: amounts with cents, zero as no value, dates ISO."""
    if value is None:
        return None
    if FIELD_TYPES[key] == "number":
        return None if value == 0 else f"{value:.2f}"
    if isinstance(value, date):
        return f"{value:%Y-%m-%d}"
    return str(value)
