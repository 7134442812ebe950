"""Write what changed in Xero to Capsule parties (issue 13, pull), and read back whether a write landed.

Facts: docs/api-facts.md#capsule-writing, #capsule-custom-fields-and-tags, #capsule-errors. The bodies:
reverse_etl/writers/capsule_party_payloads.py. The apply stage that records every attempt first:
reverse_etl/apply/capsule_changes.py.

- Field definitions (the ABN and the "Xero Contact ID" fields) are read once per writer with the same
  lookup as the ContactID write-back (``read_field_definitions``).
- Every call goes through the shared ``CapsuleClient`` and so the one hourly budget of the Capsule
  user (4,000 calls an hour, shared with the write-back and the extractor). Only a call that leaves
  the same state however often it lands (``PartyRequest.idempotent``) is sent again by the pacer after
  a lost answer; a PUT that adds or removes a row, an untag and a POST are not: Capsule takes no
  idempotency key, so a repeated add is a second row (or party). After such a loss the caller reads
  the party back (``read_back``) before anything is sent again.
- A 4xx other than 429 raises ``CapsuleRequestRejected`` (Capsule's words in ``detail``); the hourly
  limit ``CapsuleRateLimitReached``; a lost answer ``CapsuleUnavailable`` or an httpx error.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from capsule_xero.capsule.client import CapsuleClient
from capsule_xero.capsule.errors import CapsuleRequestRejected
from reverse_etl.writers.capsule import DEFAULT_FIELD_NAME, PER_PAGE, FieldDefinition, read_field_definitions
from reverse_etl.writers.capsule_party_payloads import (
    CapsuleChange,
    PartyRequest,
    PayloadError,
    create_request,
    field_value,
    money_request,
    shows_change,
    tag_request,
    update_request,
)

__all__ = ["CapsuleChange", "CapsulePartyWriter", "PayloadError", "ReadBack", "Written"]

DEFAULT_ABN_FIELD = "ABN"
DEFAULT_ARCHIVED_TAG = "Archived in Xero"
# Whether Capsule's `since` is strict is not documented (docs/api-facts.md#capsule-incremental-reads-and-deletions):
# a created party is looked for among those changed from this long before the attempt.
SINCE_OVERLAP = timedelta(minutes=5)
EMBED = "tags,fields"


@dataclass(frozen=True)
class Written:
    """Capsule's answer to a write: the party (the new one for a create) and its ``updatedAt``."""

    party_id: int
    updated_at: datetime | None


@dataclass(frozen=True)
class ReadBack:
    """A party read back after a lost answer: whether it holds what the change wrote, which party it is
    (for a create, the one linked to the contact; None when none is), and its ``updatedAt``."""

    landed: bool
    party_id: int | None
    updated_at: datetime | None


class CapsulePartyWriter:
    """Sends ``CapsuleChange``s to one Capsule account. Make one per run: definitions are read once."""

    def __init__(
        self,
        client: CapsuleClient,
        *,
        abn_field: str = DEFAULT_ABN_FIELD,
        xero_id_field: str = DEFAULT_FIELD_NAME,
        archived_tag: str = DEFAULT_ARCHIVED_TAG,
    ) -> None:
        self.client = client
        self.abn_field = abn_field
        self.xero_id_field = xero_id_field
        self.archived_tag = archived_tag
        self._definitions: dict[str, FieldDefinition] | None = None

    # ---- field definitions ------------------------------------------------------------------
    def definition_id(self, name: str) -> int | None:
        if self._definitions is None:
            self._definitions = read_field_definitions(self.client)
        found = self._definitions.get(name.strip().casefold())
        return found.id if found is not None else None

    def _link_definition(self) -> int:
        found = self.definition_id(self.xero_id_field)
        if found is None:
            # Without the link a created party could not be found again after a lost answer, and the
            # next run would not know it is the contact's: no party is created rather than a duplicate.
            raise PayloadError(
                f"Capsule has no custom party field named {self.xero_id_field!r}, so no party is created "
                "for a Xero contact. Add a text field with that name under Capsule Settings > Custom "
                "Fields > People & Organisations, or name an existing one in the rules file."
            )
        return found

    # ---- writing ------------------------------------------------------------------------------
    def request(self, change: CapsuleChange) -> PartyRequest:
        """The call ``change`` makes; ``PayloadError`` when it cannot be written as asked."""
        if change.operation == "create":
            return create_request(change, self.definition_id(self.abn_field), self._link_definition())
        if change.party_id is None:
            raise PayloadError(f"{change.operation} of contact {change.contact_id} names no Capsule party")
        if change.operation in ("tag", "untag"):
            return tag_request(change, change.tag_name or self.archived_tag)
        if change.operation == "update":
            abn = self.definition_id(self.abn_field) if "tax_number" in change.changed_fields else None
            return update_request(change, abn)
        if change.operation == "money":
            return money_request(change)
        raise PayloadError(f"unknown Capsule operation {change.operation!r}")

    def send(self, change: CapsuleChange, request: PartyRequest | None = None) -> Written:
        """Send ``change`` (its ``request`` when already built). Raises a ``CapsuleError`` (or an httpx
        error) when Capsule refused it or its answer was lost."""
        call = request or self.request(change)
        response = self.client.request(
            call.method, call.path, idempotent=call.idempotent, json=call.body, params={"embed": EMBED}
        )
        party = _party(response)
        party_id = party.get("id") if party is not None else None
        if not isinstance(party_id, int):
            party_id = change.party_id
        if party_id is None:
            raise PayloadError(f"Capsule's answer to {call.method} {call.path} names no party")
        return Written(int(party_id), _stamp(party))

    # ---- reading back -------------------------------------------------------------------------
    def read_back(self, change: CapsuleChange, since: datetime) -> ReadBack:
        """Whether ``change``, attempted at ``since``, is in Capsule: an update, tag or untag by reading
        its party (``GET /parties/{id}``); a create by the party changed since the attempt whose
        "Xero Contact ID" field holds the contact."""
        if change.operation == "create":
            return self._find_created(change, since)
        party = self.read_party(change.party_id) if change.party_id is not None else None
        if party is None:  # deleted meanwhile: the write cannot be there; sending says so
            return ReadBack(False, change.party_id, None)
        abn = self.definition_id(self.abn_field) if "tax_number" in change.changed_fields else None
        landed = shows_change(party, change, abn, change.tag_name or self.archived_tag)
        return ReadBack(landed, change.party_id, _stamp(party))

    def read_party(self, party_id: int) -> Mapping[str, Any] | None:
        """The party as Capsule holds it now, with its tags and fields; None when it is deleted."""
        try:
            response = self.client.get(f"/parties/{party_id}", params={"embed": EMBED})
        except CapsuleRequestRejected as refused:
            if refused.status == 404:
                return None
            raise
        return _party(response) or {}

    @staticmethod
    def stamp(party: Mapping[str, Any] | None) -> datetime | None:
        """The party's ``updatedAt``."""
        return _stamp(party)

    def landed(self, change: CapsuleChange, since: datetime) -> bool:
        return self.read_back(change, since).landed

    def _find_created(self, change: CapsuleChange, since: datetime) -> ReadBack:
        link = self.definition_id(self.xero_id_field)
        wanted = change.contact_id.strip().casefold()
        for party in self._changed_since(since - SINCE_OVERLAP):
            value = field_value(party, link)
            if value is not None and value.strip().casefold() == wanted:
                return ReadBack(True, int(party["id"]), _stamp(party))
        return ReadBack(False, None, None)

    def _changed_since(self, since: datetime) -> Iterator[Mapping[str, Any]]:
        stamp = since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        page = 1
        while True:
            params = {"since": stamp, "embed": "fields", "page": page, "perPage": PER_PAGE}
            response = self.client.get("/parties", params=params)
            for party in (response.json() or {}).get("parties") or ():
                if isinstance(party, Mapping):
                    yield party
            if "next" not in response.links:
                return
            page += 1


def _party(response: httpx.Response) -> Mapping[str, Any] | None:
    try:
        party = response.json().get("party")
    except (ValueError, AttributeError):
        return None
    return party if isinstance(party, Mapping) else None


def _stamp(party: Mapping[str, Any] | None) -> datetime | None:
    raw = party.get("updatedAt") if party is not None else None
    if not isinstance(raw, str):
        return None
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
