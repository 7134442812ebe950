"""Who wins when both systems changed a contact: field ownership and the conflict policy."""

from __future__ import annotations

from typing import Literal

from capsule_xero.rules.fields import COMPARED_FIELDS, FIELD_GROUPS
from capsule_xero.rules.section import Section

Side = Literal["capsule", "xero"]
# ``both``: the field flows from whichever side changed it since the last sync (``sync.direction:
# both``); with ``direction: capsule_to_xero`` it is Capsule's, as ``capsule`` is.
Owner = Literal["capsule", "xero", "both"]


class OwnershipRules(Section):
    """Which system owns each field once the contact exists: Capsule (default), Xero, or both.

    ContactPersons and the groups flow Capsule → Xero only, so they are never ``both``.
    """

    contact_number: Literal["capsule"] | None = None
    name: Owner | None = None
    first_name: Owner | None = None
    last_name: Owner | None = None
    email_address: Owner | None = None
    tax_number: Owner | None = None
    website: Owner | None = None
    phone_default: Owner | None = None
    phone_mobile: Owner | None = None
    phone_fax: Owner | None = None
    street_address: Owner | None = None
    postal_address: Owner | None = None
    contact_persons: Side | None = None
    contact_groups: Side | None = None
    phones: Owner | None = None
    addresses: Owner | None = None

    def owner_of(self, field: str) -> str:
        """The owning side of one compared field; a field named on its own beats its group."""
        own = getattr(self, field)
        if own is not None:
            return own
        group = next((g for g, fields in FIELD_GROUPS.items() if field in fields), None)
        return (getattr(self, group) if group else None) or "capsule"

    def xero_owned(self) -> list[str]:
        return [f for f in COMPARED_FIELDS if self.owner_of(f) == "xero"]

    def both_owned(self) -> list[str]:
        return [f for f in COMPARED_FIELDS if self.owner_of(f) == "both"]


class ConflictRules(Section):
    policy: Literal["newest_wins", "capsule_wins", "xero_wins", "manual"] = "newest_wins"
    name_collision: Literal["suffix", "link", "review"] = "review"
    archived_in_xero: Literal["leave", "restore"] = "leave"
