"""Who wins when both systems changed a contact: field ownership and the conflict policy."""

from __future__ import annotations

from typing import Literal

from capsule_xero.rules.fields import COMPARED_FIELDS, FIELD_GROUPS
from capsule_xero.rules.section import Section

Side = Literal["capsule", "xero"]


class OwnershipRules(Section):
    """Which system owns each field once the contact exists: Capsule (default) or Xero."""

    contact_number: Literal["capsule"] | None = None
    name: Side | None = None
    first_name: Side | None = None
    last_name: Side | None = None
    email_address: Side | None = None
    tax_number: Side | None = None
    website: Side | None = None
    phone_default: Side | None = None
    phone_mobile: Side | None = None
    phone_fax: Side | None = None
    street_address: Side | None = None
    postal_address: Side | None = None
    contact_persons: Side | None = None
    contact_groups: Side | None = None
    phones: Side | None = None
    addresses: Side | None = None

    def owner_of(self, field: str) -> str:
        """The owning side of one compared field; a field named on its own beats its group."""
        own = getattr(self, field)
        if own is not None:
            return own
        group = next((g for g, fields in FIELD_GROUPS.items() if field in fields), None)
        return (getattr(self, group) if group else None) or "capsule"

    def xero_owned(self) -> list[str]:
        return [f for f in COMPARED_FIELDS if self.owner_of(f) == "xero"]


class ConflictRules(Section):
    policy: Literal["newest_wins", "capsule_wins", "xero_wins", "manual"] = "newest_wins"
    name_collision: Literal["suffix", "link", "review"] = "review"
    archived_in_xero: Literal["leave", "restore"] = "leave"
