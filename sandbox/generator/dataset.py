"""The shape of a generated dataset: records exactly as each API would serve them."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from decimal import Decimal
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

    To keep a million parties in memory, nested *reference* objects are shared between records: the
    owner (nested user), team, tag and field-definition refs on parties, opportunities, kases and
    tasks. Treat them as read-only; replace them rather than editing them in place (or deep-copy a
    record before mutating it, e.g. ``copy.deepcopy`` or a JSON round trip).
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
    # {"RepeatingInvoiceID", "Type", "Status", "Contact": {"ContactID", "Name"}}: a contact on one
    # cannot be archived (the Xero stand-in's stricter reading of
    # docs/api-facts.md#xero-archiving-and-restoring).
    xero_repeating_invoices: list[Record] = field(default_factory=list)
    cases: dict[str, list[Any]] = field(default_factory=dict)
    # --- added with the generator -------------------------------------------------------------------
    # The instant the world was generated "as of": every timestamp is at or before it.
    now: datetime | None = None
    # When the earlier run of this tool wrote to Xero (the ``synced_*`` cases refer to it).
    previous_sync_at: datetime | None = None
    capsule_site: Record = field(default_factory=dict)  # GET /site -> {"site": {...}}
    capsule_teams: list[Record] = field(default_factory=list)  # GET /teams
    capsule_milestones: list[Record] = field(default_factory=list)  # GET /milestones
    capsule_opportunity_field_definitions: list[Record] = field(default_factory=list)
    capsule_kase_field_definitions: list[Record] = field(default_factory=list)
    # ContactID -> the contact exactly as the earlier sync wrote it (before later edits on either
    # side): the "last state this tool wrote" of a three-way diff, for tests that seed a ledger.
    xero_written_by_previous_sync: dict[str, Record] = field(default_factory=dict)
    # --- the Xero book (sandbox/generator/money.py): money as Decimal, calendar dates as date --------
    xero_invoices: list[Record] = field(default_factory=list)  # ACCREC invoices and ACCPAY bills
    xero_credit_notes: list[Record] = field(default_factory=list)
    xero_payments: list[Record] = field(default_factory=list)
    xero_quotes: list[Record] = field(default_factory=list)
    xero_items: list[Record] = field(default_factory=list)
    xero_accounts: list[Record] = field(default_factory=list)
    xero_tax_rates: list[Record] = field(default_factory=list)
    xero_tracking_categories: list[Record] = field(default_factory=list)
    xero_currencies: list[Record] = field(default_factory=list)
    xero_organisation: Record = field(default_factory=dict)

    def extend(self, other: Dataset) -> None:
        """Append a fragment (see ``sandbox.generator.iter_blocks``) to this dataset."""
        for name in (
            "capsule_parties",
            "capsule_deleted_parties",
            "capsule_users",
            "capsule_field_definitions",
            "capsule_tags",
            "capsule_opportunities",
            "capsule_deleted_opportunities",
            "capsule_kases",
            "capsule_deleted_kases",
            "capsule_tasks",
            "xero_contacts",
            "xero_users",
            "xero_contact_groups",
            "xero_repeating_invoices",
            "capsule_teams",
            "capsule_milestones",
            "capsule_opportunity_field_definitions",
            "capsule_kase_field_definitions",
            *MONEY_LISTS,
        ):
            getattr(self, name).extend(getattr(other, name))
        for name, ids in other.cases.items():
            self.cases.setdefault(name, []).extend(ids)
        self.capsule_site = self.capsule_site or other.capsule_site
        self.xero_organisation = self.xero_organisation or other.xero_organisation
        self.xero_written_by_previous_sync.update(other.xero_written_by_previous_sync)

    def finish(self) -> None:
        """Order what fragments interleave: parties and party tombstones by id (as Capsule lists them)."""
        self.capsule_parties.sort(key=_by_id)
        self.capsule_deleted_parties.sort(key=_by_id)

    def to_json(self) -> str:
        """The whole dataset as JSON (datetimes as ISO strings); identical seeds give identical text."""
        return json.dumps(asdict(self), default=_json_default, ensure_ascii=False, separators=(",", ":"))

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
                **{name.removeprefix("xero_"): len(getattr(self, name)) for name in MONEY_LISTS},
            },
            "cases": {name: len(ids) for name, ids in sorted(self.cases.items())},
        }


MONEY_LISTS = (
    "xero_invoices",
    "xero_credit_notes",
    "xero_payments",
    "xero_quotes",
    "xero_items",
    "xero_accounts",
    "xero_tax_rates",
    "xero_tracking_categories",
    "xero_currencies",
)


def _by_id(record: Record) -> int:
    return record["id"]


def _json_default(value: Any) -> Any:
    if isinstance(value, date):  # datetimes too
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, tuple | set | frozenset):
        return list(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
