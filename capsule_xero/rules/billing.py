"""Won Capsule opportunities as DRAFT quotes or invoices in Xero (``billing:``), off by default.

Amounts are ``Decimal`` read from the text the file holds (``loading.py`` hands an unquoted YAML
number over as written), never through a float.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, BeforeValidator, Field, model_validator

from capsule_xero.rules.echo import show
from capsule_xero.rules.section import Section
from capsule_xero.rules.values import Name

# Codes and amounts: loading.py passes them on as the text written in the file (never a float, nor
# an account code YAML read as an octal number).
AS_WRITTEN_KEYS = frozenset(
    {
        ("billing", "auto_approve_under"),
        ("billing", "account_code"),
        ("billing", "item_code"),
        ("billing", "tax_type"),
    }
)

# Lengths from xero_accounting.yaml (Account.Code "max length = 10", Item.Code maxLength 30,
# TrackingCategory.Name maxLength 100): a longer value could never match the organisation's.
ACCOUNT_CODE_LENGTH = 10
ITEM_CODE_LENGTH = 30
TRACKING_NAME_LENGTH = 100
TAX_TYPE = re.compile(r"[A-Z][A-Z0-9]*")


def _an_amount(value: Any) -> Any:
    """An exact amount of money, at most 2 decimal places (Xero's totals are 2 dp), above 0."""
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise ValueError(f"{show(value)} is not an amount such as 5000 or 4999.95")
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"{show(value)} is not an amount such as 5000 or 4999.95") from None
    if not amount.is_finite() or amount <= 0:
        raise ValueError(
            f"{show(value)} is not an amount above 0 (leave it out, null, for every document to wait)"
        )
    if amount.as_tuple().exponent < -2:  # type: ignore[operator]
        raise ValueError(f"{show(value)} has more than 2 decimal places (Xero's amounts have 2)")
    return amount


def _a_tax_type(value: str) -> str:
    # TaxRates are keyed by TaxType, upper-case codes such as OUTPUT, EXEMPTOUTPUT or TAX001.
    if not TAX_TYPE.fullmatch(value):
        raise ValueError(f"{show(value)} is not a Xero tax type (upper-case, such as OUTPUT or EXEMPTOUTPUT)")
    return value


def _off_is_off(value: Any) -> Any:
    # YAML 1.1 reads an unquoted `off` as false: `won_opportunities: off` means "off".
    return "off" if value is False else value


Amount = Annotated[Decimal, BeforeValidator(_an_amount)]
AccountCode = Annotated[Name, Field(max_length=ACCOUNT_CODE_LENGTH)]
ItemCode = Annotated[Name, Field(max_length=ITEM_CODE_LENGTH)]
TaxType = Annotated[Name, AfterValidator(_a_tax_type)]
TrackingName = Annotated[Name, Field(max_length=TRACKING_NAME_LENGTH)]


class TrackingRule(Section):
    """The tracking category of each line, its option taken from the party's tag with this prefix."""

    _example: ClassVar[str] = 'a tracking rule such as {category: Region, from_tag_prefix: "Region:"}'

    category: TrackingName
    from_tag_prefix: Name


class BillingRules(Section):
    won_opportunities: Annotated[Literal["off", "quote", "invoice"], BeforeValidator(_off_is_off)] = "off"
    line_amount_types: Literal["Exclusive", "Inclusive", "NoTax"] = "Exclusive"
    account_code: AccountCode | None = None
    tax_type: TaxType | None = None
    item_code: ItemCode | None = None
    tracking: TrackingRule | None = None
    opportunity_field: Name = "Xero document"
    # Documents under this amount (in the organisation's base currency) are created without
    # `capsule-xero approve`; a document in another currency always waits. null: every one waits.
    auto_approve_under: Amount | None = None

    @model_validator(mode="after")
    def _a_line_needs_an_account(self) -> BillingRules:
        # A draft without an account is accepted by Xero but can never be approved as it is; the
        # stricter choice is to ask for the account (or an item that supplies one) up front.
        if self.won_opportunities != "off" and self.account_code is None and self.item_code is None:
            raise ValueError(
                f'won_opportunities: {self.won_opportunities} needs account_code (such as "200", sales)'
                " or item_code for the document's line"
            )
        return self
