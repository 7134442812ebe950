"""One Xero organisation (tenant): contacts, contact groups, users, history, and their rules.

Everything here runs on the server's event-loop thread (sandbox/server.py), so nothing locks.
Records are kept in Xero's JSON field names; ``UpdatedDateUTC`` is an aware ``datetime``; the
wire layer (wire.py) renders ``/Date(ms+0000)/`` or XML.

Rules follow docs/api-facts.md#xero (reading contacts through users); where Xero's behaviour is uncertain
([?]; docs/api-facts.md#where-the-facts-are-uncertain) the choice made here is commented where it is made.

Indexes keep 100k contacts quick: by ContactID, by folded ContactNumber (all contacts), by folded
Name (ACTIVE contacts only), by folded AccountNumber; list queries sort once per (order,
includeArchived) and cache the result until the next contact write, so paging is a slice.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sandbox.xero.wire import WireDate, iso_seconds

if TYPE_CHECKING:
    from sandbox.app import Sandbox
    from sandbox.generator import Dataset

ZERO_GUID = "00000000-0000-0000-0000-000000000000"
GUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
# >100k contacts returned or touched unoptimised → 400 (docs/api-facts.md#xero-reading-contacts)
HIGH_VOLUME_THRESHOLD = 100_000
MAX_CONTACT_PERSONS = 5
MAX_CONTACT_GROUPS = 100
HISTORY_DETAILS_MAX = 2_500
SYSTEM_USER = "System Generated"

# ---- messages (verbatim where docs/api-facts.md#xero-errors gives Xero's wording; the others are the
# stand-in's) ----
MSG_NAME_EMPTY = "Contact Name cannot be empty"
MSG_NAME_TAKEN = (
    "The contact name {name} is already assigned to another contact. "
    "The contact name must be unique across all active contacts."
)
MSG_NUMBER_TAKEN = (
    "The contact number {number} is already assigned to another contact. "
    "The contact number must be unique across all contacts."
)
MSG_ACCOUNT_TAKEN = "The Account Number already exists. Please enter a different Account Number."
MSG_EMAIL_INVALID = "Email address must be valid."
MSG_ARCHIVED = (
    "The specified contact details matched an archived contact. "
    "Archived contacts cannot currently be edited via the API."
)
MSG_ARCHIVED_IN_GROUP = "Unable to assign an Archived contact."
# Stand-in wording. docs/api-facts.md#xero-archiving-and-restoring: an outstanding balance does NOT block
# archiving (Xero help: the invoices and bills stay with the archived contact), so the stand-in
# archives such a contact. A contact used on a repeating invoice reportedly cannot be archived (a
# third-party knowledge base, not Xero's own documentation): uncertain, so the stand-in takes the
# stricter reading and refuses, which is the refusal a client must survive (its error queue).
MSG_ARCHIVE_REPEATING = "This contact cannot be archived because it is used on a repeating invoice."
MSG_GROUP_LIMIT = "You’ve reached the limit of 100 contact groups."
# Stand-in wording (Xero's own text for these is not on record):
MSG_TOO_LONG = "{field} must not be more than {limit} characters long."
MSG_PERSONS = "A contact can have a maximum of 5 contact persons."
MSG_NAME_CHARS = "The contact name must not contain the characters < or >."
MSG_NAME_SPACES = "The contact name must not have leading, trailing or repeated spaces."
MSG_COUNTRY = "Country must contain letters only."
MSG_CONTROL_CHARS = "{field} must not contain control characters."
MSG_ADDRESS_TYPE = "AddressType must be POBOX or STREET for a contact."
MSG_CONTACT_ID_UNKNOWN = "The contact with ContactID {id} could not be found."
MSG_CONTACT_ID_EXISTS = "A contact with ContactID {id} already exists. Use POST to update it."
MSG_GDPR = "ContactStatus GDPRREQUEST cannot be set through the API."
MSG_GROUP_NAME_EMPTY = "The contact group name must be specified."
MSG_GROUP_NAME_TAKEN = "A contact group with the name {name} already exists."
MSG_GROUP_DELETED = "The contact group has been deleted."
MSG_GROUP_CONTACT_UNKNOWN = "The contact with ContactID {id} could not be found."
MSG_HISTORY_EMPTY = "The Details of a history note must be specified."
MSG_HISTORY_TOO_LONG = "The Details of a history note must not be more than 2500 characters long."

# ---- field specs (docs/api-facts.md#xero-contact-fields-and-limits, schema components/schemas/Contact) ----
STRING_FIELDS: dict[str, int | None] = {
    "ContactNumber": 50,
    "AccountNumber": 50,
    "Name": 255,
    "FirstName": 255,
    "LastName": 255,
    "CompanyNumber": 50,
    "EmailAddress": 255,
    "TaxNumber": 50,
    "BankAccountDetails": None,
    "AccountsReceivableTaxType": None,
    "AccountsPayableTaxType": None,
    "DefaultCurrency": None,
    "XeroNetworkKey": None,
    "SalesDefaultAccountCode": None,
    "PurchasesDefaultAccountCode": None,
    "TrackingCategoryName": None,
    "TrackingCategoryOption": None,
}
ENUM_FIELDS: dict[str, tuple[str, ...]] = {
    "ContactStatus": ("ACTIVE", "ARCHIVED", "GDPRREQUEST"),
    "TaxNumberType": ("SSN", "EIN", "ITIN", "ATIN"),
    "SalesDefaultLineAmountType": ("INCLUSIVE", "EXCLUSIVE", "NONE"),
    "PurchasesDefaultLineAmountType": ("INCLUSIVE", "EXCLUSIVE", "NONE"),
}
OBJECT_FIELDS = ("PaymentTerms", "BrandingTheme", "BatchPayments")
OBJECT_LIST_FIELDS = ("SalesTrackingCategories", "PurchasesTrackingCategories")
# Read-only on the API. Xero ignores them on writes (its own request examples and SDK round trips
# of a fetched contact send IsSupplier/IsCustomer/UpdatedDateUTC/ContactGroups). The stand-in is
# stricter but stays compatible with round trips: the four below may be sent with their current
# value (what a round trip does) and are refused when a write tries to *change* them, so a sync
# that maps something onto them fails loudly here instead of never converging against Xero, which
# would drop the value silently on every run [?] (docs/api-facts.md#xero-writing-contacts,
# #xero-contact-fields-and-limits, #where-the-facts-are-uncertain).
READ_ONLY_CHECKED: dict[str, type | tuple[type, ...]] = {
    "IsSupplier": bool,
    "IsCustomer": bool,
    "Website": str,
    "Discount": (int, float),
}
MSG_READ_ONLY = "{field} is read-only through the API (Xero would ignore the value sent)."
# The rest are ignored outright.
READ_ONLY_FIELDS = (
    "Balances",
    "UpdatedDateUTC",
    "ContactGroups",
    "HasAttachments",
    "Attachments",
    "HasValidationErrors",
    "ValidationErrors",
    "StatusAttributeString",
    "MergedToContactID",
    "Warnings",
)
# A person using the Xero UI (the admin routes) may also set these; Balances/IsCustomer/IsSupplier/
# Discount changes do not bump UpdatedDateUTC (docs/api-facts.md#xero-reading-contacts), Website and
# MergedToContactID do.
UI_FIELDS_NO_BUMP = ("IsSupplier", "IsCustomer", "Balances", "Discount")
UI_FIELDS_BUMP = ("Website", "MergedToContactID")

ADDRESS_TYPES = ("POBOX", "STREET")
ADDRESS_LIMITS: dict[str, int] = {
    "AddressLine1": 500,
    "AddressLine2": 500,
    "AddressLine3": 500,
    "AddressLine4": 500,
    "City": 255,
    "Region": 255,
    "PostalCode": 50,
    "Country": 50,
    "AttentionTo": 255,
}
PHONE_TYPES = ("DEFAULT", "DDI", "MOBILE", "FAX", "OFFICE")
STANDARD_PHONE_TYPES = ("DDI", "DEFAULT", "FAX", "MOBILE")  # the order the spec's examples use
PHONE_LIMITS: dict[str, int] = {"PhoneNumber": 50, "PhoneAreaCode": 10, "PhoneCountryCode": 20}
PERSON_STRINGS = ("FirstName", "LastName", "EmailAddress")

# Order in which a contact's fields are emitted (the spec examples' order).
VIEW_ORDER = (
    "ContactID",
    "ContactNumber",
    "AccountNumber",
    "ContactStatus",
    "Name",
    "FirstName",
    "LastName",
    "CompanyNumber",
    "EmailAddress",
    "BankAccountDetails",
    "TaxNumber",
    "TaxNumberType",
    "AccountsReceivableTaxType",
    "AccountsPayableTaxType",
    "Addresses",
    "Phones",
    "UpdatedDateUTC",
    "ContactGroups",
    "IsSupplier",
    "IsCustomer",
    "SalesDefaultLineAmountType",
    "PurchasesDefaultLineAmountType",
    "DefaultCurrency",
    "XeroNetworkKey",
    "Discount",
    "Website",
    "BrandingTheme",
    "PurchasesDefaultAccountCode",
    "SalesDefaultAccountCode",
    "SalesTrackingCategories",
    "PurchasesTrackingCategories",
    "TrackingCategoryName",
    "TrackingCategoryOption",
    "BatchPayments",
    "Balances",
    "PaymentTerms",
    "MergedToContactID",
    "ContactPersons",
    "HasAttachments",
)
# Without ``page``: a reduced field set (docs/api-facts.md#xero-reading-contacts).
UNPAGED_DROPS = frozenset(
    {
        "ContactPersons",
        "PaymentTerms",
        "ContactGroups",
        "Website",
        "Balances",
        "XeroNetworkKey",
        "MergedToContactID",
    }
)
# ``summaryOnly=true`` (docs/api-facts.md#xero-reading-contacts).
SUMMARY_DROPS = frozenset(
    {
        "Addresses",
        "Balances",
        "ContactGroups",
        "ContactPersons",
        "IsCustomer",
        "IsSupplier",
        "SalesDefaultAccountCode",
        "PurchasesDefaultAccountCode",
        "SalesTrackingCategories",
        "PurchasesTrackingCategories",
    }
)

EMAIL_RE = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$"
)
# Address.Country is "[A-Z], [a-z] only" (the spec's own words): ASCII letters, so "Réunion" is refused
# too. Single spaces between words are allowed, the lenient side of an uncertain fact: Xero's own
# country names have them ("New Zealand") and nothing says it refuses them.
COUNTRY_RE = re.compile(r"^[A-Za-z]+(?: [A-Za-z]+)*$")
# C0 and C1 controls (NUL, ESC, DEL ...). Xero states no rule on them; the stricter reading refuses
# them in every string field rather than storing and showing them (stand-in wording).
CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# Characters nobody sees: a Name made only of them is an empty Name here. Not on record for Xero
# (.NET's whitespace test does not count a zero-width space), so this is the stricter reading too.
INVISIBLE_RE = re.compile(
    r"^[\s\x00-\x1f\x7f-\x9f\u00ad\u115f\u1160\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\u2800\u3164\ufeff\uffa0]*$"
)


class PostDataInvalid(Exception):
    """The body cannot be read as contacts at all (wrong JSON types): the whole request is a 400."""


def fold(text: str) -> str:
    """Case- and accent-insensitive form, as Xero's optimised ``where`` compares
    (docs/api-facts.md#xero-reading-contacts)."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def unique_key(text: str) -> str:
    """How uniqueness is compared: case-insensitive (Xero's database collation), accents kept.

    Composed and decomposed spellings ("Café" as one character or as e + U+0301) are one name here:
    whether Xero's collation equates them is not on record, and refusing the look-alike is the
    stricter reading.
    """
    return unicodedata.normalize("NFC", text).strip().casefold()


def is_guid(text: str) -> bool:
    return bool(GUID_RE.match(text))


def as_utc(value: Any, default: datetime) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return default
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return default


class MultiIndex:
    """key → ids (insertion-ordered), tolerant of seeded duplicates."""

    def __init__(self) -> None:
        self._map: dict[str, dict[str, None]] = {}

    def add(self, key: str, cid: str) -> None:
        if key:
            self._map.setdefault(key, {})[cid] = None

    def remove(self, key: str, cid: str) -> None:
        ids = self._map.get(key)
        if ids is not None:
            ids.pop(cid, None)
            if not ids:
                del self._map[key]

    def first(self, key: str) -> str | None:
        ids = self._map.get(key)
        return next(iter(ids)) if ids else None

    def other_than(self, key: str, cid: str | None) -> str | None:
        for other in self._map.get(key, ()):
            if other != cid:
                return other
        return None

    def clear(self) -> None:
        self._map.clear()


@dataclass
class ContactGroup:
    group_id: str
    name: str
    status: str = "ACTIVE"
    members: dict[str, None] = field(default_factory=dict)  # insertion-ordered set of ContactIDs


@dataclass
class WriteOutcome:
    ok: bool
    contact_id: str | None = None
    created: bool = False
    errors: list[str] = field(default_factory=list)
    echo: dict[str, Any] = field(default_factory=dict)  # the submitted element, for error answers


@dataclass(frozen=True)
class ContactQuery:
    include_archived: bool = False
    where: tuple[tuple[str, str], ...] = ()  # (field, folded value)
    ids: frozenset[str] | None = None
    search: str | None = None  # folded
    since: int | None = None  # epoch seconds (If-Modified-Since, 1 s resolution)
    order: tuple[tuple[str, bool], ...] = ()  # (field, descending)


DEFAULT_ORDER: tuple[tuple[str, bool], ...] = (("UpdatedDateUTC", False), ("ContactID", False))
OPTIMISED_ORDER_FIELDS = frozenset({"ContactID", "UpdatedDateUTC", "Name"})
ORDER_FIELDS = frozenset(
    {
        "ContactID",
        "UpdatedDateUTC",
        "Name",
        "EmailAddress",
        "ContactNumber",
        "AccountNumber",
        "FirstName",
        "LastName",
        "CompanyNumber",
        "ContactStatus",
    }
)
WHERE_FIELDS = ("Name", "EmailAddress", "ContactNumber", "AccountNumber", "ContactStatus")
SEARCH_FIELDS = ("Name", "FirstName", "LastName", "ContactNumber", "EmailAddress", "CompanyNumber")


# ---- parsing a submitted contact ----------------------------------------------------------------


def _expect_string(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise PostDataInvalid(f"{name} must be a string, not {type(value).__name__}")
    return value


def parse_contact(raw: Any) -> dict[str, Any]:
    """The writable part of one submitted contact, in Xero's field names, or ``PostDataInvalid``.

    JSON ``null`` means "not supplied". Wrong JSON types are a whole-request 400 (Xero's .NET model
    binding fails the same way); unknown and read-only fields are dropped.
    """
    if not isinstance(raw, dict):
        raise PostDataInvalid("Each contact must be a JSON object")
    parsed: dict[str, Any] = {}
    contact_id = raw.get("ContactID")
    if contact_id is not None:
        contact_id = _expect_string("ContactID", contact_id).strip()
        if contact_id and not is_guid(contact_id):
            raise PostDataInvalid(f"ContactID {contact_id!r} is not a GUID")
        if contact_id and contact_id != ZERO_GUID:
            parsed["ContactID"] = contact_id.lower()
    for name in STRING_FIELDS:
        if raw.get(name) is not None:
            parsed[name] = _expect_string(name, raw[name])
    for name, allowed in ENUM_FIELDS.items():
        if raw.get(name) is not None:
            value = _expect_string(name, raw[name]).strip().upper()
            if value not in allowed:
                raise PostDataInvalid(f"{name} {raw[name]!r} is not one of {', '.join(allowed)}")
            parsed[name] = value
    for name, kind in READ_ONLY_CHECKED.items():
        value = raw.get(name)
        if value is not None:
            if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
                raise PostDataInvalid(f"{name} has the wrong type")
            parsed[name] = value
    for name in OBJECT_FIELDS:
        if raw.get(name) is not None:
            if not isinstance(raw[name], dict):
                raise PostDataInvalid(f"{name} must be an object")
            parsed[name] = raw[name]
    for name in OBJECT_LIST_FIELDS:
        if raw.get(name) is not None:
            if not isinstance(raw[name], list) or not all(isinstance(x, dict) for x in raw[name]):
                raise PostDataInvalid(f"{name} must be an array of objects")
            parsed[name] = raw[name]
    if raw.get("Addresses") is not None:
        parsed["Addresses"] = [
            _parse_typed(item, "Address", "AddressType", ADDRESS_LIMITS, (*ADDRESS_TYPES, "DELIVERY"))
            for item in _expect_list("Addresses", raw["Addresses"])
        ]
    if raw.get("Phones") is not None:
        parsed["Phones"] = [
            _parse_typed(item, "Phone", "PhoneType", PHONE_LIMITS, PHONE_TYPES)
            for item in _expect_list("Phones", raw["Phones"])
        ]
    if raw.get("ContactPersons") is not None:
        persons = []
        for item in _expect_list("ContactPersons", raw["ContactPersons"]):
            if not isinstance(item, dict):
                raise PostDataInvalid("Each ContactPerson must be an object")
            person: dict[str, Any] = {}
            for name in PERSON_STRINGS:
                if item.get(name) is not None:
                    person[name] = _expect_string(f"ContactPerson.{name}", item[name])
            if item.get("IncludeInEmails") is not None:
                if not isinstance(item["IncludeInEmails"], bool):
                    raise PostDataInvalid("ContactPerson.IncludeInEmails must be true or false")
                person["IncludeInEmails"] = item["IncludeInEmails"]
            persons.append(person)
        parsed["ContactPersons"] = persons
    return parsed


def _expect_list(name: str, value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise PostDataInvalid(f"{name} must be an array")
    return value


def _parse_typed(
    item: Any, what: str, type_field: str, limits: dict[str, int], types: tuple[str, ...]
) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise PostDataInvalid(f"Each {what} must be an object")
    out: dict[str, Any] = {}
    if item.get(type_field) is not None:
        kind = _expect_string(type_field, item[type_field]).strip().upper()
        if kind not in types:
            raise PostDataInvalid(f"{type_field} {item[type_field]!r} is not one of {', '.join(types)}")
        out[type_field] = kind
    for name in limits:
        if item.get(name) is not None:
            out[name] = _expect_string(f"{what}.{name}", item[name])
    return out


def _length_errors(values: dict[str, Any], limits: dict[str, int | None] | dict[str, int]) -> list[str]:
    errors = []
    for name, limit in limits.items():
        value = values.get(name)
        if limit is not None and isinstance(value, str) and len(value) > limit:
            errors.append(MSG_TOO_LONG.format(field=name, limit=limit))
    return errors


def persons_of(element: dict[str, Any]) -> list[dict[str, Any]]:
    return list(element.get("ContactPersons") or ())


def _control_errors(*parts: Any) -> list[str]:
    """One error per field name holding a control character, in the contact or any nested element."""
    fields: list[str] = []
    for part in parts:
        for values in [part] if isinstance(part, dict) else part:
            for name, value in values.items():
                if isinstance(value, str) and CONTROL_RE.search(value) and name not in fields:
                    fields.append(name)
    return [MSG_CONTROL_CHARS.format(field=name) for name in fields]


def _same_read_only(name: str, sent: Any, target: dict[str, Any] | None) -> bool:
    """Whether a read-only value sent on a write equals what the contact has (or would get)."""
    current = target.get(name) if target is not None else None
    if name in ("IsSupplier", "IsCustomer"):
        return bool(sent) == bool(current)
    if name == "Website":
        return (sent or "") == (current or "")
    return float(sent) == float(current or 0)


def _email_ok(value: str) -> bool:
    # ASCII only: Xero does not support umlauts in e-mail addresses
    # (docs/api-facts.md#xero-contact-fields-and-limits; older docs say a 500, the stand-in answers with the
    # validation error instead).
    return value == "" or bool(EMAIL_RE.match(value))


# ---- the organisation ---------------------------------------------------------------------------


class Organisation:
    def __init__(self, sandbox: Sandbox, tenant_id: str, name: str) -> None:
        self.sandbox = sandbox
        self.tenant_id = tenant_id
        self.name = name
        self.high_volume_threshold = HIGH_VOLUME_THRESHOLD
        self.contacts: dict[str, dict[str, Any]] = {}
        # RepeatingInvoiceID -> {RepeatingInvoiceID, Type, Status, Contact: {ContactID, Name}}: only
        # what archiving needs (docs/api-facts.md#xero-archiving-and-restoring); /RepeatingInvoices is not
        # served.
        self.repeating_invoices: dict[str, dict[str, Any]] = {}
        self.groups: dict[str, ContactGroup] = {}
        self.users: dict[str, dict[str, Any]] = {}
        self.history: dict[str, list[dict[str, Any]]] = {}
        self._by_number = MultiIndex()
        self._by_account = MultiIndex()
        self._active_names = MultiIndex()
        self._groups_of: dict[str, dict[str, None]] = {}
        self.version = 0
        self._base_cache: dict[tuple[Any, ...], tuple[list[str], list[int] | None]] = {}
        self._query_cache: dict[ContactQuery, list[str]] = {}
        self._cache_version = -1
        self._add_default_user()

    # ---- seeding ------------------------------------------------------------------------------
    def _add_default_user(self) -> None:
        user_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"capsule-xero-sandbox/{self.tenant_id}/subscriber"))
        self.users = {
            user_id: {
                "UserID": user_id,
                "EmailAddress": "subscriber@example.com.au",
                "FirstName": "Sandbox",
                "LastName": "Subscriber",
                "UpdatedDateUTC": self.sandbox.clock.now(),
                "IsSubscriber": True,
                "OrganisationRole": "STANDARD",
            }
        }

    def load(self, dataset: Dataset) -> None:
        """Replace everything with the dataset's Xero side (ContactIDs kept, ARCHIVED allowed)."""
        now = self.sandbox.clock.now()
        self.contacts.clear()
        self.groups.clear()
        self.history.clear()
        self.repeating_invoices.clear()
        self._groups_of.clear()
        for index in (self._by_number, self._by_account, self._active_names):
            index.clear()
        for raw in dataset.xero_contacts:
            record = self._seed_record(raw, now)
            self.contacts[record["ContactID"]] = record
            self._index(record)
        if dataset.xero_users:
            self.users = {}
            for raw in dataset.xero_users:
                user = dict(raw)
                user["UserID"] = str(user.get("UserID") or uuid.uuid4()).lower()
                user["UpdatedDateUTC"] = as_utc(user.get("UpdatedDateUTC"), now)
                self.users[user["UserID"]] = user
        else:
            self._add_default_user()
        for raw in dataset.xero_repeating_invoices:
            cid = str(raw["Contact"]["ContactID"]).lower()
            if cid in self.contacts:
                self.add_repeating_invoice(
                    cid, raw.get("RepeatingInvoiceID"), raw.get("Status", "AUTHORISED")
                )
        for raw in dataset.xero_contact_groups:
            group = ContactGroup(
                str(raw.get("ContactGroupID") or uuid.uuid4()).lower(),
                str(raw.get("Name", "")),
                str(raw.get("Status", "ACTIVE")).upper(),
            )
            self.groups[group.group_id] = group
            for cid in raw.get("ContactIDs", ()):
                cid = str(cid).lower()
                if cid in self.contacts:
                    group.members[cid] = None
                    self._groups_of.setdefault(cid, {})[group.group_id] = None
        self._changed()

    def _seed_record(self, raw: dict[str, Any], now: datetime) -> dict[str, Any]:
        record: dict[str, Any] = {}
        for key, value in raw.items():
            if value is None or key in ("ContactGroups", "HasValidationErrors", "ValidationErrors"):
                continue
            record[key] = value
        record["ContactID"] = str(raw.get("ContactID") or uuid.uuid4()).lower()
        record["ContactStatus"] = str(raw.get("ContactStatus") or "ACTIVE").upper()
        record["UpdatedDateUTC"] = as_utc(raw.get("UpdatedDateUTC"), now)
        record["Addresses"] = {
            a["AddressType"]: {k: v for k, v in a.items() if v is not None}
            for a in raw.get("Addresses") or ()
            if isinstance(a, dict) and a.get("AddressType")
        }
        record["Phones"] = {
            p["PhoneType"]: {k: v for k, v in p.items() if v is not None}
            for p in raw.get("Phones") or ()
            if isinstance(p, dict) and p.get("PhoneType")
        }
        record["ContactPersons"] = [dict(p) for p in raw.get("ContactPersons") or ()]
        record.setdefault("IsSupplier", False)
        record.setdefault("IsCustomer", False)
        return record

    # ---- indexes ------------------------------------------------------------------------------
    def _index(self, record: dict[str, Any]) -> None:
        cid = record["ContactID"]
        if record.get("ContactNumber"):
            self._by_number.add(unique_key(record["ContactNumber"]), cid)
        if record.get("AccountNumber"):
            self._by_account.add(unique_key(record["AccountNumber"]), cid)
        if record.get("ContactStatus") == "ACTIVE" and record.get("Name"):
            self._active_names.add(unique_key(record["Name"]), cid)

    def _unindex(self, record: dict[str, Any]) -> None:
        cid = record["ContactID"]
        if record.get("ContactNumber"):
            self._by_number.remove(unique_key(record["ContactNumber"]), cid)
        if record.get("AccountNumber"):
            self._by_account.remove(unique_key(record["AccountNumber"]), cid)
        if record.get("Name"):
            self._active_names.remove(unique_key(record["Name"]), cid)

    def _changed(self) -> None:
        self.version += 1

    def by_number(self, number: str) -> str | None:
        return self._by_number.first(unique_key(number))

    def active_by_name(self, name: str) -> str | None:
        return self._active_names.first(unique_key(name))

    def find(self, id_or_number: str) -> dict[str, Any] | None:
        """``/Contacts/{ContactID or ContactNumber}``: a GUID is a ContactID
        (docs/api-facts.md#xero-reading-contacts)."""
        if is_guid(id_or_number):
            return self.contacts.get(id_or_number.lower())
        cid = self.by_number(id_or_number)
        return self.contacts.get(cid) if cid else None

    # ---- views --------------------------------------------------------------------------------
    def contact_groups_of(self, cid: str) -> list[dict[str, Any]]:
        out = []
        for gid in self._groups_of.get(cid, ()):
            group = self.groups.get(gid)
            if group is not None and group.status == "ACTIVE":
                out.append({"ContactGroupID": group.group_id, "Name": group.name, "Status": group.status})
        return out

    def view(self, record: dict[str, Any], mode: str = "full") -> dict[str, Any]:
        """A contact as the API answers it. ``mode``: ``full`` (paged or single GET, writes),
        ``unpaged`` (GET without ``page``) or ``summary`` (``summaryOnly=true``)."""
        drops = UNPAGED_DROPS if mode == "unpaged" else SUMMARY_DROPS if mode == "summary" else frozenset()
        out: dict[str, Any] = {}
        for name in VIEW_ORDER:
            if name in drops:
                continue
            if name == "Addresses":
                out[name] = self._address_view(record)
            elif name == "Phones":
                out[name] = self._phone_view(record)
            elif name == "UpdatedDateUTC":
                out[name] = WireDate(record["UpdatedDateUTC"])
            elif name == "ContactGroups":
                out[name] = self.contact_groups_of(record["ContactID"])
            elif name == "ContactPersons":
                out[name] = [dict(p) for p in record.get("ContactPersons", ())]
            elif name == "HasAttachments":
                out[name] = bool(record.get("HasAttachments", False))
            else:
                value = record.get(name)
                if value is not None and value != "":
                    out[name] = value
        out["HasValidationErrors"] = False
        return out

    @staticmethod
    def _address_view(record: dict[str, Any]) -> list[dict[str, Any]]:
        # Responses always list both types, with empty strings when unset
        # (docs/api-facts.md#xero-contact-fields-and-limits).
        addresses = record.get("Addresses", {})
        out = []
        for kind in ("STREET", "POBOX"):
            stored = addresses.get(kind, {})
            item: dict[str, Any] = {"AddressType": kind}
            for name in ADDRESS_LIMITS:
                if name == "AttentionTo" and not stored.get(name):
                    continue
                item[name] = stored.get(name, "")
            out.append(item)
        return out

    @staticmethod
    def _phone_view(record: dict[str, Any]) -> list[dict[str, Any]]:
        # All four standard types, empty when unset (docs/api-facts.md#xero-contact-fields-and-limits);
        # OFFICE only when set.
        phones = record.get("Phones", {})
        kinds = list(STANDARD_PHONE_TYPES) + (["OFFICE"] if "OFFICE" in phones else [])
        out = []
        for kind in kinds:
            stored = phones.get(kind, {})
            item: dict[str, Any] = {"PhoneType": kind}
            for name in PHONE_LIMITS:
                item[name] = stored.get(name, "")
            out.append(item)
        return out

    # ---- list queries -------------------------------------------------------------------------
    def _sort_value(self, record: dict[str, Any], name: str) -> Any:
        if name == "UpdatedDateUTC":
            return record["UpdatedDateUTC"].timestamp()
        if name == "ContactID":
            return record["ContactID"]
        value = record.get(name)
        return fold(value) if isinstance(value, str) else ""

    def _base(
        self, order: tuple[tuple[str, bool], ...], include_archived: bool
    ) -> tuple[list[str], list[int] | None]:
        key = (order, include_archived)
        cached = self._base_cache.get(key)
        if cached is not None:
            return cached
        records = [
            r for r in self.contacts.values() if include_archived or r.get("ContactStatus") != "ARCHIVED"
        ]
        full_order = order if order and order[-1][0] == "ContactID" else (*order, ("ContactID", False))
        # Stable multi-key sort: least significant key first; reverse=True keeps stability.
        for name, descending in reversed(full_order):
            records.sort(key=lambda r, n=name: self._sort_value(r, n), reverse=descending)
        ids = [r["ContactID"] for r in records]
        seconds = None
        if order == DEFAULT_ORDER:
            seconds = [int(r["UpdatedDateUTC"].timestamp()) for r in records]
        self._base_cache[key] = (ids, seconds)
        return ids, seconds

    def query(self, q: ContactQuery) -> list[str]:
        """ContactIDs matching ``q`` in its order; cached until the next contact write."""
        if self._cache_version != self.version:
            self._base_cache.clear()
            self._query_cache.clear()
            self._cache_version = self.version
        cached = self._query_cache.get(q)
        if cached is not None:
            return cached
        order = q.order or DEFAULT_ORDER
        ids, seconds = self._base(order, q.include_archived)
        result = ids
        if q.since is not None and seconds is not None:
            # Default order is by UpdatedDateUTC: the modified-since records are a suffix.
            result = ids[bisect.bisect_left(seconds, q.since) :]
            since = None
        else:
            since = q.since
        if since is not None or q.where or q.ids is not None or q.search:
            result = [cid for cid in result if self._matches(self.contacts[cid], q, since)]
        if len(self._query_cache) > 64:
            self._query_cache.clear()
        self._query_cache[q] = result
        return result

    def _matches(self, record: dict[str, Any], q: ContactQuery, since: int | None) -> bool:
        if q.ids is not None and record["ContactID"] not in q.ids:
            return False
        if since is not None and int(record["UpdatedDateUTC"].timestamp()) < since:
            return False
        for name, value in q.where:
            stored = record.get(name)
            if not isinstance(stored, str) or fold(stored) != value:
                return False
        if q.search:
            return any(
                isinstance(record.get(name), str) and q.search in fold(record[name]) for name in SEARCH_FIELDS
            )
        return True

    # ---- writes: contacts ---------------------------------------------------------------------
    def write_contact(
        self,
        element: dict[str, Any],
        *,
        method: str,
        target_id: str | None = None,
        ui: bool = False,
        ui_extra: dict[str, Any] | None = None,
    ) -> WriteOutcome:
        """Create or update one contact (already parsed by ``parse_contact``).

        ``method`` is ``PUT`` (create only) or ``POST`` (create or update). ``target_id`` is the
        ContactID in the URL of ``POST /Contacts/{ContactID}``. ``ui`` marks an edit made by a person
        in Xero's UI (the admin routes): ContactNumber rules are the same, read-only fields in
        ``ui_extra`` may be set.
        """
        echo = dict(element)
        errors: list[str] = []
        target: dict[str, Any] | None = None
        if target_id is not None:
            target = self.contacts.get(target_id)
            if target is None:
                return WriteOutcome(False, errors=[MSG_CONTACT_ID_UNKNOWN.format(id=target_id)], echo=echo)
        elif method == "PUT":
            if "ContactID" in element and element["ContactID"] in self.contacts:
                # Stricter than guessing: PUT never updates; an existing ContactID is refused.
                errors.append(MSG_CONTACT_ID_EXISTS.format(id=element["ContactID"]))
            # Otherwise a supplied ContactID is ignored and a new one assigned, as on any create.
        else:
            target, error = self._match_for_post(element)
            if error:
                errors.append(error)
        if errors:
            return WriteOutcome(False, errors=errors, echo=echo)

        status = element.get("ContactStatus")
        if status == "GDPRREQUEST":
            return WriteOutcome(False, errors=[MSG_GDPR], echo=echo)
        restoring = target is not None and target.get("ContactStatus") == "ARCHIVED" and status == "ACTIVE"
        only_ui_extras = ui and not element
        if (
            target is not None
            and target.get("ContactStatus") == "ARCHIVED"
            and not restoring
            and not only_ui_extras
        ):
            # Archived contacts only accept a restore (ContactStatus ACTIVE, other edits allowed with
            # it); anything else, re-archiving included, is refused
            # (docs/api-facts.md#xero-errors, #xero-archiving-and-restoring).
            return WriteOutcome(False, errors=[MSG_ARCHIVED], echo=echo)

        if (
            target is not None
            and status == "ARCHIVED"
            and target.get("ContactStatus") == "ACTIVE"
            and self.on_repeating_invoice(target["ContactID"])
        ):
            return WriteOutcome(False, errors=[MSG_ARCHIVE_REPEATING], echo=echo)

        new = self._merged(target, element, ui_extra if ui else None)
        errors = self._validate(new, target, element, restoring)
        if errors:
            return WriteOutcome(False, errors=errors, echo=echo)
        bump = True
        if target is not None and only_ui_extras and ui_extra is not None:
            # A person changing only balances / customer-supplier flags: UpdatedDateUTC stays
            # (docs/api-facts.md#xero-reading-contacts: those changes are invisible to If-Modified-Since).
            bump = any(k in UI_FIELDS_BUMP for k in ui_extra)
        created = target is None
        cid = self._store(new, target, bump=bump)
        if bump:
            self._history_for_write(cid, target, new, element, ui)
            self.sandbox.xero.emit_contact_event(self.tenant_id, cid, "CREATE" if created else "UPDATE")
        return WriteOutcome(True, contact_id=cid, created=created, echo=echo)

    # ---- repeating invoices (only as far as archiving goes) -------------------------------------
    def add_repeating_invoice(
        self, cid: str, invoice_id: str | None = None, status: str = "AUTHORISED"
    ) -> dict[str, Any]:
        """A repeating invoice template for contact ``cid``, as a person sets one up in Xero."""
        record = self.contacts[cid]
        invoice = {
            "RepeatingInvoiceID": str(invoice_id or uuid.uuid4()).lower(),
            "Type": "ACCREC",
            "Status": str(status).upper(),
            "Contact": {"ContactID": cid, "Name": record.get("Name")},
        }
        self.repeating_invoices[invoice["RepeatingInvoiceID"]] = invoice
        return invoice

    def delete_repeating_invoice(self, invoice_id: str) -> bool:
        """Deleted templates stay listed with Status DELETED and no longer hold their contact."""
        invoice = self.repeating_invoices.get(invoice_id.lower())
        if invoice is None:
            return False
        invoice["Status"] = "DELETED"
        return True

    def on_repeating_invoice(self, cid: str) -> bool:
        return any(
            invoice["Contact"]["ContactID"] == cid and invoice["Status"] != "DELETED"
            for invoice in self.repeating_invoices.values()
        )

    def _match_for_post(self, element: dict[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
        """Which contact a POST without a URL id updates
        (docs/api-facts.md#xero-writing-contacts, #where-the-facts-are-uncertain).

        ContactID first; then ContactNumber (among all contacts, archived too); then — as reported
        for Xero and kept here on purpose because it is the dangerous case — Name among ACTIVE
        contacts: a POST with a colliding Name silently updates that other contact.
        """
        if "ContactID" in element:
            target = self.contacts.get(element["ContactID"])
            if target is None:
                return None, MSG_CONTACT_ID_UNKNOWN.format(id=element["ContactID"])
            return target, None
        if element.get("ContactNumber"):
            cid = self.by_number(element["ContactNumber"])
            if cid is not None:
                return self.contacts[cid], None
        if element.get("Name"):
            cid = self.active_by_name(element["Name"])
            if cid is not None:
                return self.contacts[cid], None
        return None, None

    def _merged(
        self, target: dict[str, Any] | None, element: dict[str, Any], ui_extra: dict[str, Any] | None
    ) -> dict[str, Any]:
        """Partial update: omitted fields keep their values; ContactPersons is replaced whole;
        Addresses and Phones are keyed by type (a supplied type replaces that type only)."""
        if target is None:
            new: dict[str, Any] = {
                "ContactStatus": "ACTIVE",
                "Addresses": {},
                "Phones": {},
                "ContactPersons": [],
                "IsSupplier": False,
                "IsCustomer": False,
            }
        else:
            new = dict(target)
            new["Addresses"] = dict(target.get("Addresses", {}))
            new["Phones"] = dict(target.get("Phones", {}))
        for name, value in element.items():
            if name in ("ContactID", "Addresses", "Phones") or name in READ_ONLY_CHECKED:
                continue
            if name == "ContactPersons":
                new[name] = [dict(p) for p in value]
            elif isinstance(value, str) and value == "" and name != "Name":
                new.pop(name, None)
            else:
                new[name] = value
        for address in element.get("Addresses", ()):
            new["Addresses"][address.get("AddressType", "")] = address
        for phone in element.get("Phones", ()):
            new["Phones"][phone.get("PhoneType", "")] = phone
        if ui_extra:
            for name, value in ui_extra.items():
                if value is None:
                    new.pop(name, None)
                else:
                    new[name] = value
        return new

    def _validate(
        self, new: dict[str, Any], target: dict[str, Any] | None, element: dict[str, Any], restoring: bool
    ) -> list[str]:
        errors: list[str] = []
        cid = target["ContactID"] if target else None
        name = new.get("Name")
        if not isinstance(name, str) or INVISIBLE_RE.match(name):
            errors.append(MSG_NAME_EMPTY)
        elif "Name" in element:
            # Reported invalid forms [?] (docs/api-facts.md#xero-contact-fields-and-limits); stricter here
            # so a sync normalises names first.
            if "<" in name or ">" in name:
                errors.append(MSG_NAME_CHARS)
            if name != name.strip() or "  " in name:
                errors.append(MSG_NAME_SPACES)
        for field_name in READ_ONLY_CHECKED:
            if field_name in element and not _same_read_only(field_name, element[field_name], target):
                errors.append(MSG_READ_ONLY.format(field=field_name))
        errors += _length_errors(element, STRING_FIELDS)
        errors += _control_errors(
            element, element.get("Addresses", ()), element.get("Phones", ()), persons_of(element)
        )
        email = element.get("EmailAddress")
        if isinstance(email, str) and not _email_ok(email):
            errors.append(MSG_EMAIL_INVALID)
        for address in element.get("Addresses", ()):
            if address.get("AddressType") not in ADDRESS_TYPES:
                errors.append(MSG_ADDRESS_TYPE)
            errors += [f"Address: {e}" for e in _length_errors(address, ADDRESS_LIMITS)]
            country = address.get("Country")
            if country and not COUNTRY_RE.match(country):
                errors.append(MSG_COUNTRY)
        for phone in element.get("Phones", ()):
            if phone.get("PhoneType") not in PHONE_TYPES:
                errors.append("PhoneType must be one of DEFAULT, DDI, MOBILE, FAX, OFFICE.")
            errors += [f"Phone: {e}" for e in _length_errors(phone, PHONE_LIMITS)]
        persons = element.get("ContactPersons")
        if persons is not None:
            if len(persons) > MAX_CONTACT_PERSONS:
                errors.append(MSG_PERSONS)
            for person in persons:
                person_email = person.get("EmailAddress")
                if isinstance(person_email, str) and not _email_ok(person_email):
                    errors.append(MSG_EMAIL_INVALID)
                    break
        # Uniqueness is checked for values that change (or on create/restore), so seeded data that
        # already collides can still be edited in other fields.
        if isinstance(name, str) and name.strip() and new.get("ContactStatus") == "ACTIVE":
            changed = target is None or restoring or unique_key(target.get("Name", "")) != unique_key(name)
            if changed and self._active_names.other_than(unique_key(name), cid):
                errors.append(MSG_NAME_TAKEN.format(name=name))
        number = new.get("ContactNumber")
        if self._collides(self._by_number, "ContactNumber", number, target):
            errors.append(MSG_NUMBER_TAKEN.format(number=number))
        # AccountNumber: unique across all contacts, archived too (reported unique,
        # docs/api-facts.md#xero-contact-fields-and-limits; the wider scope is the stricter reading).
        if self._collides(self._by_account, "AccountNumber", new.get("AccountNumber"), target):
            errors.append(MSG_ACCOUNT_TAKEN)
        return errors

    @staticmethod
    def _collides(index: MultiIndex, name: str, value: Any, target: dict[str, Any] | None) -> bool:
        """Another contact holds ``value`` (checked only when the value is new for this contact)."""
        if not value:
            return False
        if target is not None and unique_key(target.get(name, "")) == unique_key(value):
            return False
        return index.other_than(unique_key(value), target["ContactID"] if target else None) is not None

    def _store(self, new: dict[str, Any], target: dict[str, Any] | None, *, bump: bool = True) -> str:
        if target is not None:
            self._unindex(target)
            cid = target["ContactID"]
        else:
            cid = str(uuid.uuid4())
        new["ContactID"] = cid
        if bump or target is None:
            new["UpdatedDateUTC"] = self.sandbox.clock.now()
        self.contacts[cid] = new
        self._index(new)
        self._changed()
        return cid

    def _history_for_write(
        self,
        cid: str,
        old: dict[str, Any] | None,
        new: dict[str, Any],
        element: dict[str, Any],
        ui: bool,
    ) -> None:
        who = SYSTEM_USER if not ui else self.ui_user_name()
        via = "by the API" if not ui else "in Xero"
        if old is None:
            self._add_history(cid, "Created", f"Contact {new.get('Name', '')} created {via}.", who)
            return
        if old.get("ContactStatus") != new.get("ContactStatus"):
            change = "Archived" if new.get("ContactStatus") == "ARCHIVED" else "Restored"
            self._add_history(cid, change, f"Contact {change.lower()} {via}.", who)
        changed = sorted(
            k
            for k in set(old) | set(new)
            if k not in ("UpdatedDateUTC", "ContactStatus") and old.get(k) != new.get(k)
        )
        if changed:
            self._add_history(cid, "Edited", f"Changed {', '.join(changed)} {via}.", who)

    def ui_user_name(self) -> str:
        for user in self.users.values():
            return f"{user.get('FirstName', '')} {user.get('LastName', '')}".strip()
        return "Xero User"

    # ---- history --------------------------------------------------------------------------------
    def _add_history(self, cid: str, changes: str, details: str, user: str) -> dict[str, Any]:
        entry = {
            "Changes": changes,
            "DateUTC": self.sandbox.clock.now(),
            "User": user,
            "Details": details,
        }
        self.history.setdefault(cid, []).append(entry)
        return entry

    def history_view(self, cid: str) -> list[dict[str, Any]]:
        return [
            {
                "Changes": e["Changes"],
                "DateUTCString": iso_seconds(e["DateUTC"]),
                "DateUTC": WireDate(e["DateUTC"]),
                "User": e["User"],
                "Details": e["Details"],
            }
            for e in self.history.get(cid, ())
        ]

    @staticmethod
    def history_errors(details: Any) -> list[str]:
        if not isinstance(details, str) or not details.strip():
            return [MSG_HISTORY_EMPTY]
        if len(details) > HISTORY_DETAILS_MAX:
            return [MSG_HISTORY_TOO_LONG]
        return []

    def add_notes(self, cid: str, notes: Iterable[str]) -> list[dict[str, Any]]:
        """Notes are the only history a client can add: time now, user "System Generated"
        (docs/api-facts.md#xero-history-notes)."""
        out = []
        for details in notes:
            entry = self._add_history(cid, "Note", details, SYSTEM_USER)
            out.append(
                {
                    "DateUTCString": iso_seconds(entry["DateUTC"]),
                    "DateUTC": WireDate(entry["DateUTC"]),
                    "Details": details,
                    "ValidationErrors": [],
                }
            )
        return out

    # ---- contact groups -------------------------------------------------------------------------
    def active_groups(self) -> list[ContactGroup]:
        return [g for g in self.groups.values() if g.status == "ACTIVE"]

    def group_view(self, group: ContactGroup, with_contacts: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "ContactGroupID": group.group_id,
            "Name": group.name,
            "Status": group.status,
            "Contacts": [],
            "HasValidationErrors": False,
        }
        if with_contacts:
            out["Contacts"] = [
                {"ContactID": cid, "Name": self.contacts[cid].get("Name", "")}
                for cid in group.members
                if cid in self.contacts
            ]
        return out

    def _group_name_errors(self, name: Any, group_id: str | None) -> list[str]:
        if not isinstance(name, str) or not name.strip():
            return [MSG_GROUP_NAME_EMPTY]
        if len(name) > 255:
            return [MSG_TOO_LONG.format(field="Name", limit=255)]
        key = unique_key(name)
        for other in self.active_groups():
            if other.group_id != group_id and unique_key(other.name) == key:
                return [MSG_GROUP_NAME_TAKEN.format(name=name)]
        return []

    def create_group(self, name: Any) -> tuple[ContactGroup | None, list[str]]:
        errors = self._group_name_errors(name, None)
        if not errors and len(self.active_groups()) >= MAX_CONTACT_GROUPS:
            errors = [MSG_GROUP_LIMIT]
        if errors:
            return None, errors
        group = ContactGroup(str(uuid.uuid4()), name)
        self.groups[group.group_id] = group
        return group, []

    def update_group(self, group: ContactGroup, name: Any = None, status: Any = None) -> list[str]:
        if group.status == "DELETED":
            return [MSG_GROUP_DELETED]
        errors: list[str] = []
        if name is not None:
            errors += self._group_name_errors(name, group.group_id)
        if status is not None and status not in ("ACTIVE", "DELETED"):
            errors.append("Status must be ACTIVE or DELETED.")
        if errors:
            return errors
        if name is not None:
            group.name = name
        if status == "DELETED":
            group.status = "DELETED"
        return []

    def add_to_group(self, group: ContactGroup, cid: str) -> list[str]:
        if group.status == "DELETED":
            return [MSG_GROUP_DELETED]
        record = self.contacts.get(cid)
        if record is None:
            return [MSG_GROUP_CONTACT_UNKNOWN.format(id=cid)]
        if record.get("ContactStatus") == "ARCHIVED":
            return [MSG_ARCHIVED_IN_GROUP]
        # Membership lives on the group; it does not bump the contact's UpdatedDateUTC here (Xero
        # does not document that it does), so a sync must read groups to see membership changes.
        group.members[cid] = None
        self._groups_of.setdefault(cid, {})[group.group_id] = None
        return []

    def remove_from_group(self, group: ContactGroup, cid: str) -> bool:
        if cid not in group.members:
            return False
        del group.members[cid]
        self._groups_of.get(cid, {}).pop(group.group_id, None)
        return True

    def clear_group(self, group: ContactGroup) -> None:
        for cid in list(group.members):
            self.remove_from_group(group, cid)

    # ---- users ----------------------------------------------------------------------------------
    @staticmethod
    def user_view(user: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in ("UserID", "EmailAddress", "FirstName", "LastName"):
            if user.get(name) is not None:
                out[name] = user[name]
        out["UpdatedDateUTC"] = WireDate(user["UpdatedDateUTC"])
        out["IsSubscriber"] = bool(user.get("IsSubscriber", False))
        out["OrganisationRole"] = user.get("OrganisationRole", "STANDARD")
        return out
