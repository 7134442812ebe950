"""Builds one consistent Capsule + Xero world, block by block.

Parties are made in blocks of at most ``BLOCK`` (sizes as equal as possible). Each block has its own
random stream (derived from the seed and the block number), its own quota of every case
(``cases.ROLE_RATES``) and exact label shares for its background parties (``cases.FILLER_*``). What
must hold across blocks — unique organisation names, unique Xero names, unique domains, e-mails and
ABNs, global id counters, the users — lives on ``World``; so generation is sequential and deterministic,
and a block can be handed out (``iter_blocks``) before the next one is made.

Time: ``now`` is fixed (default ``DEFAULT_NOW``), so a seed always gives the same bytes. Party ids grow
with ``createdAt`` over the three years before ``now``; a tool run wrote to Xero at ``previous_sync_at``
(ten days before ``now``), which is what the ``synced_*`` and ``deleted_party_synced*`` cases refer to.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

from sandbox.generator import capsule, words
from sandbox.generator.activity import Activity
from sandbox.generator.base import (
    DAY,
    DEFAULT_NOW,
    HISTORY_SECONDS,
    HOUR,
    PARTY_ID_BASE,
    PARTY_ID_STRIDE,
    PREVIOUS_SYNC_BEFORE_NOW,
    SYNC_RUN_SECONDS,
    USER_ID_BASE,
    Record,
    block_sizes,
    copy_tree,
    derive,
    role_counts,
)
from sandbox.generator.cases import DELETED_ROLES
from sandbox.generator.dataset import Dataset
from sandbox.generator.money import MoneyBook
from sandbox.generator.roles import Roles


class World:
    """State shared by all blocks of one generated dataset."""

    def __init__(self, parties: int, seed: int, now: datetime | None = None) -> None:
        if parties < 1:
            raise ValueError("parties must be at least 1")
        self.parties = parties
        self.seed = seed
        now = now or DEFAULT_NOW
        self.now = int(now.timestamp())
        self.t0 = self.now - HISTORY_SECONDS
        self.prev_sync = self.now - PREVIOUS_SYNC_BEFORE_NOW
        self.prev_sync_end = self.prev_sync + SYNC_RUN_SECONDS
        self.old_limit = self.prev_sync - DAY  # created before this: may have been synced
        self.new_limit = self.prev_sync_end + HOUR  # created after this: the earlier sync never saw it
        self.sizes = block_sizes(parties)
        self.counts = [role_counts(m) for m in self.sizes]
        self.deleted = [sum(c[r] for r in DELETED_ROLES) for c in self.counts]
        self.total_slots = sum(self.sizes) + sum(self.deleted)
        self.bucket = max(1, HISTORY_SECONDS // self.total_slots)
        # uniqueness across the whole world
        self.folds: set[str] = set()  # Capsule organisations and people without organisation
        self.xfolds: set[str] = set()  # every Xero contact name
        self.domains: set[str] = set(words.FREE_MAIL_DOMAINS) | {capsule.BUSINESS_DOMAIN}
        self.emails: set[str] = set()
        self.abns: set[str] = set()
        # counters
        self.next_row = 568_000_000
        self.next_value = 30_500_000
        self.next_opportunity = 8_840_000
        self.next_kase = 5_590_000
        self.next_task = 147_300_000
        self.next_account_number = 1
        self.next_foreign_number = 1
        self.next_orphan = 1
        self.next_fallback = 0
        self.next_user_id = USER_ID_BASE + 44
        # Nested reference objects shared by this world's records (never by two worlds).
        self.tag_refs = {name: dict(ref) for name, ref in capsule.TAG_REFS.items()}
        self.def_refs = {key: dict(ref) for key, ref in capsule.DEF_REFS.items()}
        self.teams = [dict(team) for team in capsule.TEAMS]
        self.quote_ref = dict(capsule.QUOTE_REF)
        self.site_contact_ref = dict(capsule.SITE_CONTACT_REF)
        # filled by block 0
        self.users: list[Record] = []
        self.user_refs: list[Record] = []
        self.user_teams: list[Record | None] = []
        self.user_weights: list[int] = []
        self.user_cum_weights: list[int] = []
        self.xero_users: list[Record] = []
        self.groups: dict[str, Record] = {}
        self.group_rng = random.Random(derive(seed, "groups"))
        self.snapshots: dict[str, Record] = {}

    # -- time ----------------------------------------------------------------------------------------
    def slot_time(self, slot: int) -> int:
        jitter = (slot * 2654435761 + self.seed) % self.bucket
        return self.t0 + (slot * HISTORY_SECONDS) // self.total_slots + jitter

    def block_slots(self, index: int) -> list[int]:
        """The id slots of one block, interleaved with the other blocks' so every block spans the whole
        history (and so has parties made before, during and after the earlier sync)."""
        blocks = len(self.sizes)
        counts = [m + d for m, d in zip(self.sizes, self.deleted, strict=True)]
        common = min(counts)
        extra_before = sum(c - common for c in counts[:index])
        tail = common * blocks + extra_before
        return [k * blocks + index for k in range(common)] + list(range(tail, tail + counts[index] - common))

    def party_id(self, slot: int) -> int:
        return PARTY_ID_BASE + slot * PARTY_ID_STRIDE

    # -- global objects ----------------------------------------------------------------------------
    def make_groups(self) -> None:
        def group(name: str, status: str = "ACTIVE") -> Record:
            gid = str(
                uuid.UUID(int=derive(self.seed, "group", name) << 64 | derive(self.seed, name), version=4)
            )
            return {"ContactGroupID": gid, "Name": name, "Status": status, "ContactIDs": []}

        for tag in capsule.GROUP_TAGS:
            self.groups[tag] = group(tag)
        for user in self.users:
            name = f"Owner: {user['name']}"
            self.groups[name] = group(name)
        for name in ("Christmas Card List", "Trade Suppliers"):
            self.groups[name] = group(name)
        self.groups["Old Promo 2023"] = group("Old Promo 2023", "DELETED")

    def blocks(self) -> Iterator[Dataset]:
        book = MoneyBook(self.seed, datetime.fromtimestamp(self.now, UTC))
        for index, size in enumerate(self.sizes):
            block = Block(self, index, size, self.block_slots(index), self.counts[index])
            fragment = block.build()
            book.add_block(fragment, index)
            if index == 0:
                self.add_globals(fragment)
                fragment.extend(book.settings)
                fragment.xero_organisation = book.settings.xero_organisation
            if index == len(self.sizes) - 1:
                fragment.xero_contact_groups = list(self.groups.values())
            yield fragment

    def add_globals(self, fragment: Dataset) -> None:
        """Account-level records, carried by the first fragment."""
        fragment.capsule_site = dict(capsule.SITE)
        fragment.capsule_users = self.users
        fragment.capsule_teams = [dict(t) for t in self.teams]
        fragment.capsule_tags = [dict(t) for t in capsule.TAGS]
        fragment.capsule_field_definitions = capsule.party_field_definitions(words.INDUSTRIES)
        fragment.capsule_opportunity_field_definitions = copy_tree(capsule.OPPORTUNITY_FIELD_DEFINITIONS)
        fragment.capsule_kase_field_definitions = copy_tree(capsule.KASE_FIELD_DEFINITIONS)
        fragment.capsule_milestones = copy_tree(list(capsule.MILESTONES))
        fragment.xero_users = self.xero_users


class Block(Roles, Activity):
    """One block of up to ``BLOCK`` parties with its share of every case."""

    # -- the block ---------------------------------------------------------------------------------------
    def build(self) -> Dataset:
        w = self.w
        if self.index == 0:
            self.build_users()
        builders = {
            "deleted_party_synced": lambda: self.role_deleted_synced("deleted_party_synced"),
            "deleted_party_synced_already_archived": lambda: self.role_deleted_synced(
                "deleted_party_synced_already_archived"
            ),
            "deleted_party_synced_with_repeating_invoice": lambda: self.role_deleted_synced(
                "deleted_party_synced_with_repeating_invoice"
            ),
            "deleted_party": self.role_deleted_party,
            "stale_xero_contact_id": self.role_stale_xero_contact_id,
            "xero_match_abn": lambda: self.role_match_abn("xero_match_abn"),
            "xero_match_abn_formatted_differently": lambda: self.role_match_abn(
                "xero_match_abn_formatted_differently"
            ),
            "xero_match_email_domain": self.role_match_email_domain,
            "xero_match_email_person": lambda: self.role_person_match("xero_match_email_person"),
            "xero_match_name_person": lambda: self.role_person_match("xero_match_name_person"),
            "xero_same_name_different_company": self.role_same_name_xero,
            "xero_archived_name_collision": self.role_archived_collision,
            "xero_duplicate_abn": self.role_duplicate_abn,
            "free_mail_domain_trap": self.role_free_mail_trap,
            "same_company_twice": self.role_same_company_twice,
            "same_name_different_company": self.role_same_name_different_company,
            "org_more_than_five_people": self.role_big_org,
        }
        for role in (
            "xero_match_name_exact",
            "name_variant_case",
            "name_variant_legal_suffix",
            "name_variant_ampersand",
            "name_variant_accents",
        ):
            builders[role] = lambda role=role: self.role_match_name(role)
        for role in (
            "xero_only",
            "xero_only_archived",
            "xero_foreign_contact_number",
            "xero_orphan_contact_number",
        ):
            builders[role] = lambda role=role: self.role_xero_only(role)
        for role, count in self.counts.items():
            build = builders.get(role) or (lambda role=role: self.role_synced(role))
            for _ in range(count):
                if not build():
                    break
        # Deleted slots that were not used by a synced deletion become plain tombstones.
        expected_deleted = w.deleted[self.index]
        while len(self.deleted) < expected_deleted:
            self.role_deleted_party()
        self.fill()
        return self.fragment()

    def fragment(self) -> Dataset:
        w = self.w
        parties = sorted(self.parties, key=lambda p: p["id"])
        self.cases["capsule_only"] = [
            p["id"]
            for p in parties
            if p["id"] not in self.linked and (p["type"] == "organisation" or p["organisation"] is None)
        ]
        for party in parties:
            party.pop("_domain", None)
            party.pop("_state", None)
            party.pop("_ascii", None)
            party.pop("_people", None)
        opportunities, kases, tasks, deleted_opps, deleted_kases = self.activity(parties)
        fragment = Dataset(seed=w.seed, size=len(parties))
        fragment.capsule_parties = parties
        fragment.capsule_deleted_parties = sorted(self.deleted, key=lambda d: d["id"])
        fragment.capsule_opportunities = opportunities
        fragment.capsule_deleted_opportunities = deleted_opps
        fragment.capsule_kases = kases
        fragment.capsule_deleted_kases = deleted_kases
        fragment.capsule_tasks = tasks
        fragment.xero_contacts = self.contacts
        fragment.xero_repeating_invoices = self.repeating_invoices
        fragment.cases = self.cases
        fragment.xero_written_by_previous_sync = {
            c["ContactID"]: w.snapshots.pop(c["ContactID"])
            for c in self.contacts
            if c["ContactID"] in w.snapshots
        }
        return fragment
