"""The fields of the contact shape: which are compared, which a transform may change, which Xero never takes."""

from __future__ import annotations

# The compared fields of the contact shape (transform/sql/reconcile/README.md), in its order.
COMPARED_FIELDS = (
    "contact_number",
    "name",
    "first_name",
    "last_name",
    "email_address",
    "tax_number",
    "website",
    "phone_default",
    "phone_mobile",
    "phone_fax",
    "street_address",
    "postal_address",
    "contact_persons",
    "contact_groups",
)
# Fields the tool compares but can never write (the API marks them read-only,
# docs/api-facts.md#xero-contact-fields-and-limits).
READ_ONLY_IN_XERO = ("website",)
# Plain text fields a transform may change; the others have a canonical structure (E.164, JSON, ABN).
TEXT_FIELDS = ("name", "first_name", "last_name", "email_address", "website")
# Ownership may name a group of fields at once.
FIELD_GROUPS = {
    "phones": ("phone_default", "phone_mobile", "phone_fax"),
    "addresses": ("street_address", "postal_address"),
}
# The compared fields that may flow Xero → Capsule with ``sync.direction: both`` (docs/mapping.md). A
# person's Name in Xero is derived from its first and last names, so a person pulls only those and an
# organisation only its name. ContactPersons stay Capsule → Xero; the ContactNumber and the groups are
# this tool's own.
PULLABLE_FIELDS = tuple(
    field for field in COMPARED_FIELDS if field not in ("contact_number", "contact_persons", "contact_groups")
)
