"""Records as a request asked for them: ``embed`` gating and nested references
(docs/api-facts.md#capsule-embed).

Stored records carry every embed (``tags``, ``fields``, ``missingImportantFields``); a response
drops what was not embedded: the keys are then **absent**, not empty. Nested party references
(a person's ``organisation``, an opportunity's ``party`` ...) are rendered from the current
referenced record, so renaming an organisation shows on its people at once (without touching
their ``updatedAt``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sandbox.capsule.state import CapsuleState

Record = dict[str, Any]

EMBED_ONLY = frozenset({"tags", "fields", "missingImportantFields"})
NO_EMBEDS: frozenset[str] = frozenset()

ORG_PICTURE = "https://capsulecrm.com/theme/default/images/org_avatar_70.png"


def parse_embed(raw: str | None) -> frozenset[str]:
    """``embed=tags,fields`` -> {"tags", "fields"}. Unknown values are ignored [INF]."""
    if not raw:
        return NO_EMBEDS
    return frozenset(part.strip() for part in raw.split(",") if part.strip())


def person_picture(first: str | None, last: str | None) -> str:
    initials = "".join((name or "").strip()[:1].upper() for name in (first, last)) or "?"
    return f"https://facehub.appspot.com/default/person?text={initials}&size=100"


def nested_party(party: Record) -> Record:
    """The small reference used inside other records: ``{id,type,name|firstName,lastName,pictureURL}``."""
    if party.get("type") == "organisation":
        return {
            "id": party["id"],
            "type": "organisation",
            "name": party.get("name"),
            "pictureURL": party.get("pictureURL"),
        }
    return {
        "id": party["id"],
        "type": "person",
        "firstName": party.get("firstName"),
        "lastName": party.get("lastName"),
        "pictureURL": party.get("pictureURL"),
    }


def _gated(record: Record, embeds: frozenset[str]) -> Record:
    out = {k: v for k, v in record.items() if k not in EMBED_ONLY or k in embeds}
    for key in ("tags", "fields"):
        if key in embeds and key not in record:
            out[key] = []
    if "missingImportantFields" in embeds and "missingImportantFields" not in record:
        out["missingImportantFields"] = False
    return out


def party(state: CapsuleState, record: Record, embeds: frozenset[str]) -> Record:
    out = _gated(record, embeds)
    if "missingImportantFields" in embeds and "missingImportantFields" not in record:
        out["missingImportantFields"] = state.missing_important(record)
    ref = record.get("organisation")
    if isinstance(ref, dict):
        org = state.parties.get(ref.get("id"))
        if org is not None:
            if "organisation" in embeds:
                out["organisation"] = party(state, org, embeds - {"organisation"})
            else:
                out["organisation"] = nested_party(org)
    return out


def _party_ref(state: CapsuleState, ref: Any, full: bool) -> Any:
    if not isinstance(ref, dict):
        return ref
    current = state.parties.get(ref.get("id"))
    if current is None:
        return ref
    return party(state, current, NO_EMBEDS) if full else nested_party(current)


def opportunity(state: CapsuleState, record: Record, embeds: frozenset[str]) -> Record:
    out = _gated(record, embeds)
    if "party" in record:
        out["party"] = _party_ref(state, record["party"], "party" in embeds)
    ref = record.get("milestone")
    if "milestone" in embeds and isinstance(ref, dict) and (milestone := state.milestones.get(ref.get("id"))):
        out["milestone"] = milestone
    return out


def kase(state: CapsuleState, record: Record, embeds: frozenset[str]) -> Record:
    out = _gated(record, embeds)
    if "party" in record:
        out["party"] = _party_ref(state, record["party"], "party" in embeds)
    ref = record.get("opportunity")
    if isinstance(ref, dict):
        current = state.opportunities.get(ref.get("id"))
        if current is not None:
            out["opportunity"] = (
                opportunity(state, current, NO_EMBEDS)
                if "opportunity" in embeds
                else {"id": current["id"], "name": current.get("name")}
            )
    return out


def task(state: CapsuleState, record: Record, embeds: frozenset[str]) -> Record:
    out = dict(record)
    if "party" in record:
        out["party"] = _party_ref(state, record["party"], "party" in embeds)
    for key, collection, render in (
        ("opportunity", state.opportunities, opportunity),
        ("kase", state.kases, kase),
    ):
        ref = record.get(key)
        if key in embeds and isinstance(ref, dict) and (current := collection.get(ref.get("id"))):
            out[key] = render(state, current, NO_EMBEDS)
    owner = record.get("owner")
    if "owner" in embeds and isinstance(owner, dict) and (user := state.users_by_id.get(owner.get("id"))):
        out["owner"] = user
    ref = record.get("nextTask")
    if "nextTask" in embeds and isinstance(ref, dict) and (current := state.tasks.get(ref.get("id"))):
        out["nextTask"] = task(state, current, NO_EMBEDS)
    return out
