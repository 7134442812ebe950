"""What of Xero's money the tool reads (``money:``), and the Capsule custom fields that show it.

``read`` lists the kinds of Xero documents the extract reads; each kind costs a Xero scope, so
sign-in asks only for the kinds listed here (docs/api-facts.md#xero-scopes-for-money):

- ``invoices``: sales invoices and bills, with their credit notes and the items they use;
- ``quotes``: quotes (Xero files them under the same scope as invoices);
- ``payments``: payments, overpayments and prepayments.

Xero's settings (accounts, tax rates, tracking, currencies, the organisation) need no entry: their
scope is asked for in any case. ``capsule_fields`` names the Capsule custom fields that receive each
linked party's totals; a field left out (null) is not written. ``won_not_invoiced_days`` is how long
after a win the ``won_not_invoiced`` report waits for a sales invoice before it lists the opportunity.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BeforeValidator, Field, model_validator

from capsule_xero.rules.section import Section
from capsule_xero.rules.values import Name, no_repeats, one_or_many

MoneyData = Literal["invoices", "quotes", "payments"]

# The documents each Capsule field is computed from: a field whose documents are not read could
# only ever show nothing, so the rules file says so instead of writing empty totals.
FIELD_NEEDS: dict[str, MoneyData] = {
    "invoiced_12_months": "invoices",
    "outstanding": "invoices",
    "overdue": "invoices",
    "last_invoice": "invoices",
    "last_payment_date": "payments",
}


class CapsuleMoneyFields(Section):
    """Names of Capsule custom fields (on People & Organisations); null: not written."""

    invoiced_12_months: Name | None = None
    outstanding: Name | None = None
    overdue: Name | None = None
    last_invoice: Name | None = None  # number and date of the latest sales invoice
    last_payment_date: Name | None = None

    @model_validator(mode="after")
    def _each_field_once(self) -> CapsuleMoneyFields:
        no_repeats([name for name in self.named().values()])
        return self

    def named(self) -> dict[str, str]:
        """The fields turned on: key → Capsule field name."""
        return {key: name for key in FIELD_NEEDS if (name := getattr(self, key)) is not None}


class MoneyRules(Section):
    read: Annotated[list[MoneyData], BeforeValidator(one_or_many), AfterValidator(no_repeats)] = []
    capsule_fields: CapsuleMoneyFields = CapsuleMoneyFields()
    # Two weeks: a common invoicing cycle; a consultant whose clients bill monthly sets 31.
    won_not_invoiced_days: int = Field(default=14, ge=0, le=3650)

    @model_validator(mode="after")
    def _fields_have_their_documents(self) -> MoneyRules:
        for key in self.capsule_fields.named():
            needed = FIELD_NEEDS[key]
            if needed not in self.read:
                raise ValueError(
                    f"capsule_fields.{key} is computed from Xero's {needed}: add {needed} to money.read"
                )
        return self
