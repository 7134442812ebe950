"""Constants and run options of the Xero source (dlt verified-source layout: settings live here).

Facts: docs/api-facts.md#xero-requests-and-responses, docs/api-facts.md#xero-reading-contacts,
docs/api-facts.md#xero-users and docs/api-facts.md#xero-rate-limits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from capsule_xero.settings import Settings
from capsule_xero.xero.pacing import PacingPolicy

PIPELINE_NAME = "xero"
SOURCE_NAME = "xero"
DATASET_NAME = "raw"
# jsonl, not dlt's default INSERT statements: DuckDB parsing one huge INSERT per table held ~8 GB
# for 100k contacts (bench/extract.py); jsonl loads through DuckDB's reader in a fraction of that.
LOADER_FILE_FORMAT = "jsonl"

CONTACTS_TABLE = "xero_contacts"
GROUPS_TABLE = "xero_contact_groups"
USERS_TABLE = "xero_users"
DRIFT_TABLE = "xero_schema_drift"

CONTACTS_PATH = "Contacts"
GROUPS_PATH = "ContactGroups"
USERS_PATH = "Users"

PAGE_SIZE = (
    1000  # Xero's largest page (docs/api-facts.md#xero-reading-contacts); larger values are clamped to it
)
FULL_READ_EVERY = timedelta(days=7)
# If-Modified-Since has 1 s resolution and an undocumented boundary (docs/api-facts.md#xero-reading-contacts): the header is the
# cursor's second minus this, so neither an inclusive nor an exclusive boundary can lose a record.
MODIFIED_SINCE_OVERLAP = timedelta(seconds=1)

# ---- the fields Xero documents (xero_accounting.yaml, components/schemas) --------------------
# Anything else a response carries, or a documented field arriving with another JSON type, is
# schema drift: loaded anyway (dlt adds a column, or a variant column for a new type), recorded in
# xero_schema_drift and logged as a warning.
STRING, BOOLEAN, NUMBER, ARRAY, OBJECT, DATE = "string", "boolean", "number", "array", "object", "date"

CONTACT_FIELDS: dict[str, str] = {
    "ContactID": STRING,
    "MergedToContactID": STRING,
    "ContactNumber": STRING,
    "AccountNumber": STRING,
    "ContactStatus": STRING,
    "Name": STRING,
    "FirstName": STRING,
    "LastName": STRING,
    "CompanyNumber": STRING,
    "EmailAddress": STRING,
    "ContactPersons": ARRAY,
    "BankAccountDetails": STRING,
    "TaxNumber": STRING,
    "TaxNumberType": STRING,
    "AccountsReceivableTaxType": STRING,
    "AccountsPayableTaxType": STRING,
    "Addresses": ARRAY,
    "Phones": ARRAY,
    "IsSupplier": BOOLEAN,
    "IsCustomer": BOOLEAN,
    "SalesDefaultLineAmountType": STRING,
    "PurchasesDefaultLineAmountType": STRING,
    "DefaultCurrency": STRING,
    "XeroNetworkKey": STRING,
    "SalesDefaultAccountCode": STRING,
    "PurchasesDefaultAccountCode": STRING,
    "SalesTrackingCategories": ARRAY,
    "PurchasesTrackingCategories": ARRAY,
    "TrackingCategoryName": STRING,
    "TrackingCategoryOption": STRING,
    "PaymentTerms": OBJECT,
    "UpdatedDateUTC": DATE,
    "ContactGroups": ARRAY,
    "Website": STRING,
    "BrandingTheme": OBJECT,
    "BatchPayments": OBJECT,
    "Discount": NUMBER,
    "Balances": OBJECT,
    "Attachments": ARRAY,
    "HasAttachments": BOOLEAN,
    "ValidationErrors": ARRAY,
    "HasValidationErrors": BOOLEAN,
    "StatusAttributeString": STRING,
}
CONTACT_PERSON_FIELDS = {
    "FirstName": STRING,
    "LastName": STRING,
    "EmailAddress": STRING,
    "IncludeInEmails": BOOLEAN,
}
ADDRESS_FIELDS = {
    "AddressType": STRING,
    "AddressLine1": STRING,
    "AddressLine2": STRING,
    "AddressLine3": STRING,
    "AddressLine4": STRING,
    "City": STRING,
    "Region": STRING,
    "PostalCode": STRING,
    "Country": STRING,
    "AttentionTo": STRING,
    "ValidationErrors": ARRAY,
}
PHONE_FIELDS = {
    "PhoneType": STRING,
    "PhoneNumber": STRING,
    "PhoneAreaCode": STRING,
    "PhoneCountryCode": STRING,
    "ValidationErrors": ARRAY,
}
GROUP_REF_FIELDS = {
    "ContactGroupID": STRING,
    "Name": STRING,
    "Status": STRING,
    "HasValidationErrors": BOOLEAN,
}
GROUP_FIELDS = {
    "ContactGroupID": STRING,
    "Name": STRING,
    "Status": STRING,
    "Contacts": ARRAY,
    "HasValidationErrors": BOOLEAN,
    "ValidationErrors": ARRAY,
}
USER_FIELDS = {
    "UserID": STRING,
    "EmailAddress": STRING,
    "FirstName": STRING,
    "LastName": STRING,
    "UpdatedDateUTC": DATE,
    "IsSubscriber": BOOLEAN,
    "OrganisationRole": STRING,
}
# Which nested lists are checked field by field, with their element's documented fields.
CONTACT_NESTED = {
    "ContactPersons": CONTACT_PERSON_FIELDS,
    "Addresses": ADDRESS_FIELDS,
    "Phones": PHONE_FIELDS,
    "ContactGroups": GROUP_REF_FIELDS,
}

# Column types declared up front, so the tables have a stable shape from the first load (a money
# amount first seen as 0 would otherwise become a bigint and the next 12.5 a variant column), and
# every column the staging SQL reads exists even when no record so far had a value for it. The same
# columns are what an organisation with nothing for a table gets as an empty table
# (``DECLARED_TABLES``): a new Xero organisation has no contacts, groups or contact persons yet.
Columns = dict[str, dict[str, Any]]


def _text(*names: str) -> Columns:
    return {name: {"data_type": "text"} for name in names}


CONTACT_COLUMNS: Columns = {
    "ContactID": {"data_type": "text", "nullable": False},
    "UpdatedDateUTC": {"data_type": "timestamp", "dedup_sort": "desc"},
    **_text(
        "ContactNumber",
        "AccountNumber",
        "ContactStatus",
        "Name",
        "FirstName",
        "LastName",
        "CompanyNumber",
        "EmailAddress",
        "TaxNumber",
        "Website",
        "MergedToContactID",
    ),
    "IsSupplier": {"data_type": "bool"},
    "IsCustomer": {"data_type": "bool"},
    "HasAttachments": {"data_type": "bool"},
    "Discount": {"data_type": "decimal"},
    "balances__accounts_receivable__outstanding": {"data_type": "decimal"},
    "balances__accounts_receivable__overdue": {"data_type": "decimal"},
    "balances__accounts_payable__outstanding": {"data_type": "decimal"},
    "balances__accounts_payable__overdue": {"data_type": "decimal"},
}
# The nested lists of a contact, each a child table xero_contacts__<list> (dlt's nested tables),
# with the element's documented scalar fields (ValidationErrors would be a table of its own).
CONTACT_NESTED_COLUMNS: dict[str, Columns] = {
    "Phones": _text("PhoneType", "PhoneNumber", "PhoneAreaCode", "PhoneCountryCode"),
    "Addresses": _text(
        "AddressType",
        "AddressLine1",
        "AddressLine2",
        "AddressLine3",
        "AddressLine4",
        "City",
        "Region",
        "PostalCode",
        "Country",
        "AttentionTo",
    ),
    "ContactPersons": {
        **_text("FirstName", "LastName", "EmailAddress"),
        "IncludeInEmails": {"data_type": "bool"},
    },
    "ContactGroups": _text("ContactGroupID", "Name", "Status"),
}
USER_COLUMNS: Columns = {
    "UserID": {"data_type": "text", "nullable": False},
    "UpdatedDateUTC": {"data_type": "timestamp", "dedup_sort": "desc"},
    **_text("EmailAddress", "FirstName", "LastName"),
    "IsSubscriber": {"data_type": "bool"},
    "OrganisationRole": {"data_type": "text"},
}
GROUP_COLUMNS: Columns = {
    "ContactGroupID": {"data_type": "text", "nullable": False},
    **_text("Name", "Status"),
}
# Every table the source promises after a load, empty if Xero had nothing for it (children: the
# nested lists of a root table). xero_schema_drift is not here: nothing downstream reads it.
DECLARED_TABLES: dict[str, Columns] = {
    CONTACTS_TABLE: CONTACT_COLUMNS,
    GROUPS_TABLE: GROUP_COLUMNS,
    USERS_TABLE: USER_COLUMNS,
}
DECLARED_CHILDREN: dict[str, dict[str, Columns]] = {CONTACTS_TABLE: CONTACT_NESTED_COLUMNS}


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class XeroExtractConfig:
    """How one extract behaves. Defaults suit production; tests shorten the waits."""

    page_size: int = PAGE_SIZE
    # The periodic full read: Balances / IsCustomer / IsSupplier changes do not move UpdatedDateUTC
    # (docs/api-facts.md#xero-reading-contacts), so the cursor alone never sees them. None: only on demand (full_refresh).
    full_read_every: timedelta | None = FULL_READ_EVERY
    force_full_read: bool = False
    pacing: PacingPolicy = field(default_factory=PacingPolicy)
    now: Callable[[], datetime] = _utc_now  # decides when the full read is due
    # Called after every page is read: (table, page number in this run, records on the page).
    on_page: Callable[[str, int, int], None] | None = None

    @classmethod
    def of(cls, settings: Settings) -> XeroExtractConfig:
        """``XERO_FULL_READ_DAYS`` (0 = only on demand) and ``XERO_DAILY_RESERVE`` (calls kept for writes),
        as the settings contract checked them."""
        days = settings.xero_full_read_days
        return cls(
            full_read_every=timedelta(days=days) if days > 0 else None,
            pacing=PacingPolicy(daily_reserve=settings.xero_daily_reserve),
        )


# ---- money (issue 14): documents and settings, docs/api-facts.md#xero-money-reading -------------

INVOICES_TABLE = "xero_invoices"
CREDIT_NOTES_TABLE = "xero_credit_notes"
PAYMENTS_TABLE = "xero_payments"
QUOTES_TABLE = "xero_quotes"
ITEMS_TABLE = "xero_items"
ACCOUNTS_TABLE = "xero_accounts"
TAX_RATES_TABLE = "xero_tax_rates"
TRACKING_TABLE = "xero_tracking_categories"
CURRENCIES_TABLE = "xero_currencies"
ORGANISATION_TABLE = "xero_organisation"
# Quotes take no pageSize and answer without pagination: Xero's fixed 100 a page, read until a short
# page (docs/api-facts.md#xero-money-reading).
QUOTES_PAGE_SIZE = 100

INVOICE_FIELDS: dict[str, str] = {
    **dict.fromkeys(
        (
            "Type", "LineAmountTypes", "InvoiceNumber", "Reference", "BrandingThemeID", "Url",
            "CurrencyCode", "Status", "InvoiceID", "RepeatingInvoiceID", "UpdatedDateUTCString",
            "StatusAttributeString",
        ),
        STRING,
    ),
    **dict.fromkeys(
        (
            "CurrencyRate", "CISDeduction", "CISRate", "SubTotal", "TotalTax", "Total", "TotalDiscount",
            "AmountDue", "AmountPaid", "AmountCredited",
        ),
        NUMBER,
    ),
    **dict.fromkeys(
        ("Date", "DueDate", "ExpectedPaymentDate", "PlannedPaymentDate", "FullyPaidOnDate", "UpdatedDateUTC"),
        DATE,
    ),
    **dict.fromkeys(("SentToContact", "HasAttachments", "IsDiscounted", "HasErrors"), BOOLEAN),
    **dict.fromkeys(
        (
            "LineItems", "Payments", "Prepayments", "Overpayments", "CreditNotes", "Attachments",
            "ValidationErrors", "Warnings", "InvoiceAddresses",
        ),
        ARRAY,
    ),
    "Contact": OBJECT,
}  # fmt: skip
CREDIT_NOTE_FIELDS: dict[str, str] = {
    **{k: v for k, v in INVOICE_FIELDS.items() if k not in ("InvoiceNumber", "InvoiceID", "AmountDue")},
    **dict.fromkeys(("CreditNoteID", "CreditNoteNumber"), STRING),
    **dict.fromkeys(("RemainingCredit", "AppliedAmount"), NUMBER),
    "Allocations": ARRAY,
}
PAYMENT_FIELDS: dict[str, str] = {
    **dict.fromkeys(("Invoice", "CreditNote", "Prepayment", "Overpayment", "BatchPayment", "Account"), OBJECT),
    **dict.fromkeys(
        (
            "InvoiceNumber", "CreditNoteNumber", "Code", "Reference", "Status", "PaymentType",
            "UpdatedDateUTCString", "PaymentID", "BatchPaymentID", "BankAccountNumber", "Particulars",
            "Details", "StatusAttributeString",
        ),
        STRING,
    ),
    **dict.fromkeys(("CurrencyRate", "Amount", "BankAmount"), NUMBER),
    **dict.fromkeys(("Date", "UpdatedDateUTC"), DATE),
    **dict.fromkeys(("IsReconciled", "HasAccount", "HasValidationErrors"), BOOLEAN),
    **dict.fromkeys(("ValidationErrors", "Warnings"), ARRAY),
}  # fmt: skip
QUOTE_FIELDS: dict[str, str] = {
    **dict.fromkeys(
        (
            "QuoteID", "QuoteNumber", "Reference", "Terms", "DateString", "ExpiryDateString", "Status",
            "CurrencyCode", "Title", "Summary", "BrandingThemeID", "LineAmountTypes", "StatusAttributeString",
        ),
        STRING,
    ),
    **dict.fromkeys(("CurrencyRate", "SubTotal", "TotalTax", "Total", "TotalDiscount"), NUMBER),
    **dict.fromkeys(("Date", "ExpiryDate", "UpdatedDateUTC"), DATE),
    **dict.fromkeys(("LineItems", "ValidationErrors"), ARRAY),
    "Contact": OBJECT,
}  # fmt: skip
LINE_ITEM_FIELDS: dict[str, str] = {
    **dict.fromkeys(
        ("LineItemID", "Description", "ItemCode", "AccountCode", "AccountID", "TaxType", "RepeatingInvoiceID",
         "Taxability"),
        STRING,
    ),
    **dict.fromkeys(
        ("Quantity", "UnitAmount", "TaxAmount", "LineAmount", "DiscountRate", "DiscountAmount", "SalesTaxCodeId"),
        NUMBER,
    ),
    **dict.fromkeys(("Tracking", "TaxBreakdown"), ARRAY),
    "Item": OBJECT,
}  # fmt: skip
ALLOCATION_FIELDS: dict[str, str] = {
    **dict.fromkeys(("AllocationID", "StatusAttributeString"), STRING),
    **dict.fromkeys(("Invoice", "Overpayment", "Prepayment", "CreditNote"), OBJECT),
    "Amount": NUMBER,
    "Date": DATE,
    "IsDeleted": BOOLEAN,
    "ValidationErrors": ARRAY,
}
ITEM_FIELDS: dict[str, str] = {
    **dict.fromkeys(
        ("Code", "InventoryAssetAccountCode", "Name", "Description", "PurchaseDescription", "ItemID",
         "StatusAttributeString"),
        STRING,
    ),
    **dict.fromkeys(("IsSold", "IsPurchased", "IsTrackedAsInventory"), BOOLEAN),
    **dict.fromkeys(("PurchaseDetails", "SalesDetails"), OBJECT),
    **dict.fromkeys(("TotalCostPool", "QuantityOnHand"), NUMBER),
    "UpdatedDateUTC": DATE,
    "ValidationErrors": ARRAY,
}  # fmt: skip
ACCOUNT_FIELDS: dict[str, str] = {
    **dict.fromkeys(
        ("Code", "Name", "AccountID", "Type", "BankAccountNumber", "Status", "Description", "BankAccountType",
         "CurrencyCode", "TaxType", "Class", "SystemAccount", "ReportingCode", "ReportingCodeName"),
        STRING,
    ),
    **dict.fromkeys(("EnablePaymentsToAccount", "ShowInExpenseClaims", "HasAttachments", "AddToWatchlist"), BOOLEAN),
    "UpdatedDateUTC": DATE,
    "ValidationErrors": ARRAY,
}  # fmt: skip
TAX_RATE_FIELDS: dict[str, str] = {
    **dict.fromkeys(("Name", "TaxType", "Status", "ReportTaxType"), STRING),
    **dict.fromkeys(
        ("CanApplyToAssets", "CanApplyToEquity", "CanApplyToExpenses", "CanApplyToLiabilities", "CanApplyToRevenue"),
        BOOLEAN,
    ),
    **dict.fromkeys(("DisplayTaxRate", "EffectiveRate"), NUMBER),
    "TaxComponents": ARRAY,
}  # fmt: skip
TRACKING_FIELDS: dict[str, str] = {
    **dict.fromkeys(("TrackingCategoryID", "TrackingOptionID", "Name", "Option", "Status"), STRING),
    "Options": ARRAY,
}
TRACKING_OPTION_FIELDS: dict[str, str] = dict.fromkeys(
    ("TrackingOptionID", "Name", "Status", "TrackingCategoryID"), STRING
)
CURRENCY_FIELDS: dict[str, str] = {"Code": STRING, "Description": STRING}
ORGANISATION_FIELDS: dict[str, str] = {
    **dict.fromkeys(
        ("OrganisationID", "APIKey", "Name", "LegalName", "Version", "OrganisationType", "BaseCurrency",
         "CountryCode", "OrganisationStatus", "RegistrationNumber", "EmployerIdentificationNumber", "TaxNumber",
         "SalesTaxBasis", "SalesTaxPeriod", "DefaultSalesTax", "DefaultPurchasesTax", "Timezone",
         "OrganisationEntityType", "ShortCode", "Class", "Edition", "LineOfBusiness"),
        STRING,
    ),
    **dict.fromkeys(("PaysTax", "IsDemoCompany"), BOOLEAN),
    **dict.fromkeys(("FinancialYearEndDay", "FinancialYearEndMonth"), NUMBER),
    **dict.fromkeys(("PeriodLockDate", "EndOfYearLockDate", "CreatedDateUTC"), DATE),
    **dict.fromkeys(("Addresses", "Phones", "ExternalLinks"), ARRAY),
    "PaymentTerms": OBJECT,
}  # fmt: skip

# Money is exact: every amount a DECIMAL, never a double. Totals and amounts are cents (18,2); unit
# amounts and quantities take Xero's 4 decimal places (unitdp=4); rates up to 6.
_MONEY = {"data_type": "decimal", "precision": 18, "scale": 2}
_UNIT = {"data_type": "decimal", "precision": 18, "scale": 4}
_RATE = {"data_type": "decimal", "precision": 18, "scale": 6}
_DAY = {"data_type": "date"}
_STAMP = {"data_type": "timestamp", "dedup_sort": "desc"}


def _money(*names: str) -> Columns:
    return {name: dict(_MONEY) for name in names}


def _days(*names: str) -> Columns:
    return {name: dict(_DAY) for name in names}


def _key(name: str) -> Columns:
    return {name: {"data_type": "text", "nullable": False}}


_DOCUMENT_COLUMNS: Columns = {
    "UpdatedDateUTC": dict(_STAMP),
    **_text("Type", "Status", "Reference", "CurrencyCode", "LineAmountTypes", "Contact__ContactID", "Contact__Name"),
    "CurrencyRate": dict(_RATE),
    **_money("SubTotal", "TotalTax", "Total"),
    **_days("Date", "DueDate", "FullyPaidOnDate"),
}  # fmt: skip
LINE_ITEM_COLUMNS: Columns = {
    **_text("LineItemID", "Description", "ItemCode", "AccountCode", "TaxType"),
    "Quantity": dict(_UNIT),
    "UnitAmount": dict(_UNIT),
    "DiscountRate": dict(_UNIT),
    **_money("TaxAmount", "LineAmount", "DiscountAmount"),
}
INVOICE_COLUMNS: Columns = {
    **_key("InvoiceID"),
    **_DOCUMENT_COLUMNS,
    **_text("InvoiceNumber"),
    **_money("TotalDiscount", "AmountDue", "AmountPaid", "AmountCredited"),
    **_days("ExpectedPaymentDate", "PlannedPaymentDate"),
}
# An invoice's own lists of what was applied to it: one amount each.
_APPLIED: Columns = {
    **_text("PaymentID", "CreditNoteID", "OverpaymentID", "PrepaymentID"),
    **_money("Amount"),
}
INVOICE_NESTED_COLUMNS: dict[str, Columns] = {
    "LineItems": LINE_ITEM_COLUMNS,
    "Payments": {**_text("PaymentID", "Reference"), **_money("Amount"), **_days("Date")},
    "CreditNotes": {**_text("CreditNoteID", "CreditNoteNumber"), **_money("AppliedAmount", "Total")},
}
CREDIT_NOTE_COLUMNS: Columns = {
    **_key("CreditNoteID"),
    **_DOCUMENT_COLUMNS,
    **_text("CreditNoteNumber"),
    **_money("RemainingCredit", "AppliedAmount"),
}
CREDIT_NOTE_NESTED_COLUMNS: dict[str, Columns] = {
    "LineItems": LINE_ITEM_COLUMNS,
    "Allocations": {
        **_text("AllocationID", "Invoice__InvoiceID", "Invoice__InvoiceNumber"),
        **_money("Amount"),
        **_days("Date"),
        "IsDeleted": {"data_type": "bool"},
    },
}
PAYMENT_COLUMNS: Columns = {
    **_key("PaymentID"),
    "UpdatedDateUTC": dict(_STAMP),
    **_text(
        "Status", "PaymentType", "Reference", "Invoice__InvoiceID", "Invoice__InvoiceNumber", "Invoice__Type",
        "Invoice__CurrencyCode", "Invoice__Contact__ContactID", "CreditNote__CreditNoteID", "Account__AccountID",
        "Account__Code",
    ),
    "CurrencyRate": dict(_RATE),
    **_money("Amount", "BankAmount"),
    **_days("Date"),
    "IsReconciled": {"data_type": "bool"},
}  # fmt: skip
QUOTE_COLUMNS: Columns = {
    **_key("QuoteID"),
    **{name: spec for name, spec in _DOCUMENT_COLUMNS.items() if name not in ("DueDate", "FullyPaidOnDate")},
    **_text("QuoteNumber", "Title", "Summary", "Terms"),
    **_money("TotalDiscount"),
    **_days("ExpiryDate"),
}
QUOTE_NESTED_COLUMNS: dict[str, Columns] = {"LineItems": LINE_ITEM_COLUMNS}
ITEM_COLUMNS: Columns = {
    **_key("ItemID"),
    "UpdatedDateUTC": dict(_STAMP),
    **_text("Code", "Name", "Description", "SalesDetails__AccountCode", "SalesDetails__TaxType"),
    **{"SalesDetails__UnitPrice": dict(_UNIT), "PurchaseDetails__UnitPrice": dict(_UNIT)},
    **{key: {"data_type": "bool"} for key in ("IsSold", "IsPurchased", "IsTrackedAsInventory")},
    "QuantityOnHand": dict(_UNIT),
    "TotalCostPool": dict(_MONEY),
}
ACCOUNT_COLUMNS: Columns = {
    **_key("AccountID"),
    "UpdatedDateUTC": dict(_STAMP),
    **_text("Code", "Name", "Type", "Class", "Status", "TaxType", "CurrencyCode", "SystemAccount"),
    "EnablePaymentsToAccount": {"data_type": "bool"},
}
TAX_RATE_COLUMNS: Columns = {
    **_key("TaxType"),
    **_text("Name", "Status", "ReportTaxType"),
    "DisplayTaxRate": dict(_UNIT),
    "EffectiveRate": dict(_UNIT),
    **{key: {"data_type": "bool"} for key in ("CanApplyToRevenue", "CanApplyToExpenses")},
}
TAX_RATE_NESTED_COLUMNS: dict[str, Columns] = {
    "TaxComponents": {**_text("Name"), "Rate": dict(_UNIT), "IsCompound": {"data_type": "bool"}}
}
TRACKING_COLUMNS: Columns = {**_key("TrackingCategoryID"), **_text("Name", "Status")}
TRACKING_NESTED_COLUMNS: dict[str, Columns] = {"Options": _text("TrackingOptionID", "Name", "Status")}
CURRENCY_COLUMNS: Columns = {**_key("Code"), **_text("Description")}
ORGANISATION_COLUMNS: Columns = {
    **_key("OrganisationID"),
    **_text("Name", "LegalName", "Version", "BaseCurrency", "CountryCode", "TaxNumber", "SalesTaxBasis"),
    "PaysTax": {"data_type": "bool"},
    "CreatedDateUTC": {"data_type": "timestamp"},
    **_days("PeriodLockDate", "EndOfYearLockDate"),
}
