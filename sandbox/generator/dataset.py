"""The shape of a generated dataset: records exactly as each API would serve them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Record = dict[str, Any]


@dataclass
class Dataset:
    """One consistent world: a Capsule account and a Xero organisation that partly overlap.

    Capsule records are plain JSON-ready dicts shaped exactly as Capsule API v2 returns them with
    every embed on (``GET /parties/{id}?embed=tags,fields,missingImportantFields``): ids are ints,
    timestamps ``YYYY-MM-DDTHH:MM:SSZ`` strings. The Capsule stand-in strips what a request did not
    embed.

    Xero records use Xero's JSON field names (``ContactID``, ``Name``, ``ContactPersons`` ...) with
    ``UpdatedDateUTC`` as an aware ``datetime``; the Xero stand-in renders ``/Date(ms+0000)/``.

    ``cases`` maps each documented messy-data case (see ``sandbox/generator/CASES.md``) to the ids
    it produced: Capsule party ids (int) or Xero ContactIDs (str), so tests can compute what a
    correct sync must do.
    """

    seed: int
    size: int
    capsule_parties: list[Record] = field(default_factory=list)
    capsule_deleted_parties: list[Record] = field(default_factory=list)  # {"id", "deletedAt"}
    capsule_users: list[Record] = field(default_factory=list)
    capsule_field_definitions: list[Record] = field(default_factory=list)
    capsule_tags: list[Record] = field(default_factory=list)
    capsule_opportunities: list[Record] = field(default_factory=list)
    capsule_deleted_opportunities: list[Record] = field(default_factory=list)
    capsule_kases: list[Record] = field(default_factory=list)
    capsule_deleted_kases: list[Record] = field(default_factory=list)
    capsule_tasks: list[Record] = field(default_factory=list)
    xero_contacts: list[Record] = field(default_factory=list)
    xero_users: list[Record] = field(default_factory=list)
    # {"ContactGroupID", "Name", "Status", "ContactIDs": [ContactID, ...]}
    xero_contact_groups: list[Record] = field(default_factory=list)
    cases: dict[str, list[Any]] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "size": self.size,
            "capsule": {
                "parties": len(self.capsule_parties),
                "deleted_parties": len(self.capsule_deleted_parties),
                "users": len(self.capsule_users),
                "opportunities": len(self.capsule_opportunities),
                "kases": len(self.capsule_kases),
                "tasks": len(self.capsule_tasks),
            },
            "xero": {
                "contacts": len(self.xero_contacts),
                "archived": sum(1 for c in self.xero_contacts if c.get("ContactStatus") == "ARCHIVED"),
                "users": len(self.xero_users),
                "contact_groups": len(self.xero_contact_groups),
            },
            "cases": {name: len(ids) for name, ids in sorted(self.cases.items())},
        }
