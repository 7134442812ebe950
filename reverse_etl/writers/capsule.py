"""Write Xero's ContactID back to a Capsule custom field, paced within Capsule's hourly limit.

Facts: docs/api-facts.md#capsule-custom-fields-and-tags, #capsule-writing, #capsule-rate-limits.

- The field is found by name (configurable, default "Xero Contact ID") among
  ``GET /parties/fields/definitions``, once per ``CapsuleWriteBack`` (one per run). When no
  definition has that name, the run logs one warning saying how to add it and writes nothing;
  it does not fail: the contacts are in Xero and the cross-reference table holds the link.
- One ``PUT /parties/{id}`` per party with
  ``{"party": {"fields": [{"definition": {"id": D}, "value": "<ContactID>"}]}}``: Capsule updates
  the party's value for that definition or creates it (§9), so no value-row id needs reading first.
- Every call goes through the Capsule client (capsule_xero/capsule/client.py) and its shared
  ``CapsulePacer`` (4,000 calls an hour per user, §10) as
  ``idempotent=True``: setting a field to a value leaves the same state however often it is sent,
  so a PUT whose answer was lost, or that met a 5xx, is safely sent again.
- A party deleted in Capsule meanwhile (404) or a definition that does not apply to the party
  (422, e.g. a ``captureRule`` for organisations only) is reported per party with Capsule's message.
- When Capsule's hourly budget is gone (and the reset is too far to wait for) or Capsule stays
  down, the write-back stops; what is left is in ``pending`` for the next run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import httpx

from capsule_xero.capsule.client import CapsuleClient
from capsule_xero.capsule.errors import CapsuleError, CapsuleRequestRejected, error_detail
from capsule_xero.capsule.pacing import CapsulePacer
from capsule_xero.settings import Settings

log = logging.getLogger(__name__)

DEFAULT_FIELD_NAME = "Xero Contact ID"
PER_PAGE = 100  # Capsule's largest page (§3)
TIMEOUT = httpx.Timeout(30.0, connect=10.0)


@dataclass
class WriteBackResult:
    written: dict[int, str] = field(default_factory=dict)  # party id -> ContactID now in Capsule
    failed: dict[int, str] = field(default_factory=dict)  # party id -> Capsule's reason
    pending: list[int] = field(default_factory=list)  # not attempted (missing field, or stopped)
    warning: str | None = None  # the missing-definition warning (also logged once per run)
    stopped: str | None = None  # why the write-back stopped early (rate limit, Capsule down)

    @property
    def complete(self) -> bool:
        return not self.pending and self.stopped is None


@dataclass(frozen=True)
class FieldDefinition:
    id: int
    name: str
    capture_rule: str | None


def read_field_definitions(client: CapsuleClient) -> dict[str, FieldDefinition]:
    """Every party field definition of the account by case-folded name, all pages
    (``GET /parties/fields/definitions``); a name defined twice keeps its first definition."""
    found: dict[str, FieldDefinition] = {}
    page = 1
    while True:
        response = client.get("/parties/fields/definitions", params={"page": page, "perPage": PER_PAGE})
        for item in (response.json() or {}).get("definitions") or ():
            name = str(item.get("name") or "")
            found.setdefault(
                name.strip().casefold(), FieldDefinition(int(item["id"]), name, item.get("captureRule"))
            )
        if "next" not in response.links:  # no rel="next": the last page (§3)
            break
        page += 1
    return found


class CapsuleWriteBack:
    """Writes ContactIDs into one Capsule account. Make one per run: the definition is looked up
    once and the missing-field warning given once."""

    def __init__(
        self,
        settings: Settings,
        *,
        pacer: CapsulePacer | None = None,
        transport: httpx.BaseTransport | None = None,
        field_name: str = DEFAULT_FIELD_NAME,
    ) -> None:
        self.settings = settings
        self.field_name = field_name
        self.client = CapsuleClient.of(
            settings,
            pacer=pacer,
            transport=transport,
            timeout=TIMEOUT,
            user_agent="capsule-xero (reverse-etl)",
        )
        self.pacer = self.client.pacer
        self._definitions: dict[str, FieldDefinition] | None = None
        self._warned: set[str] = set()

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> CapsuleWriteBack:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- the field definition ---------------------------------------------------------------
    def definitions(self) -> dict[str, FieldDefinition]:
        """Party field definitions by case-folded name (read once per instance)."""
        if self._definitions is None:
            self._definitions = read_field_definitions(self.client)
        return self._definitions

    def definition(self, field_name: str | None = None) -> FieldDefinition | None:
        """The named definition, or None after one warning per name per run."""
        name = field_name or self.field_name
        found = self.definitions().get(name.strip().casefold())
        if found is None and name not in self._warned:
            self._warned.add(name)
            log.warning(
                "Capsule has no custom party field named %r, so Xero ContactIDs are not written back "
                "to Capsule this run (the link is kept in the cross-reference table). Add a text field "
                "with that name under Capsule Settings > Custom Fields > People & Organisations, or "
                "name an existing one in the rules file.",
                name,
            )
        return found

    # ---- the write-back ---------------------------------------------------------------------
    def write_contact_ids(
        self,
        contact_ids: Mapping[int, str],
        field_name: str | None = None,
        *,
        on_written: Callable[[int, str, str | None], None] | None = None,
    ) -> WriteBackResult:
        """Set the field to the ContactID on every party in ``contact_ids`` ({party id: ContactID}).

        ``on_written(party, ContactID, updatedAt)`` follows each write, with the party's ``updatedAt``
        from Capsule's answer (None when it has none): the stamp this tool's own write gave the party,
        which the reconcile must not read as somebody's edit."""
        name = field_name or self.field_name
        result = WriteBackResult()
        if not contact_ids:
            return result
        try:
            definition = self.definition(name)
        except CapsuleError as exc:
            result.pending = list(contact_ids)
            result.stopped = str(exc)
            return result
        if definition is None:
            result.pending = list(contact_ids)
            result.warning = f"Capsule has no custom party field named {name!r}: ContactIDs not written back"
            return result
        parties = list(contact_ids.items())
        for position, (party_id, contact_id) in enumerate(parties):
            body = {"party": {"fields": [{"definition": {"id": definition.id}, "value": contact_id}]}}
            try:
                response = self.client.request("PUT", f"/parties/{party_id}", idempotent=True, json=body)
            except CapsuleRequestRejected as refused:
                if refused.status in (401, 403):
                    # A refused token refuses every party alike: stop instead of failing each one.
                    result.pending = [p for p, _ in parties[position:]]
                    result.stopped = f"Capsule refused the token (HTTP {refused.status}: {refused.detail})"
                    return result
                result.failed[party_id] = (
                    f"party {party_id} no longer exists in Capsule"
                    if refused.status == 404
                    else f"HTTP {refused.status}: {refused.detail or 'refused'}"
                )
                continue
            except CapsuleError as exc:  # the hourly limit, or Capsule down after every retry
                result.pending = [p for p, _ in parties[position:]]
                result.stopped = str(exc)
                log.warning("Capsule write-back stopped: %s", exc)
                return result
            if response.status_code not in (200, 201):
                result.failed[party_id] = f"HTTP {response.status_code}: {error_detail(response.text)}"
                continue
            result.written[party_id] = contact_id
            if on_written is not None:
                on_written(party_id, contact_id, _updated_at(response))
        return result


def _updated_at(response: httpx.Response) -> str | None:
    """The ``updatedAt`` of the party Capsule answered a PUT with (``{"party": {...}}``, §7), if any."""
    try:
        party = response.json().get("party")
    except (ValueError, AttributeError):
        return None
    stamp = party.get("updatedAt") if isinstance(party, Mapping) else None
    return stamp if isinstance(stamp, str) else None
