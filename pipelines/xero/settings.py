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
