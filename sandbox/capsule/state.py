"""Everything the Capsule stand-in knows: the account's records, tokens, rate limit and REST hooks.

Touched only on the server's event-loop thread (see sandbox/server.py). Parts:
- ``parties``, ``opportunities``, ``kases``, ``tasks``: indexed ``Collection``s (store.py);
- ``users``, field ``definitions``, account ``tags``, ``teams`` (derived from the records);
- ``tokens`` / ``limiter`` (auth.py) and ``hooks`` (hooks.py).

Writes go through ``create_party`` / ``update_party`` / ``delete_party`` (and the generic
``upsert_record`` / ``delete_record`` for opportunities, kases and tasks, used by the admin
routes), which keep indexes, tombstones and REST-hook notifications in step, whether the change
came from the API or from "a user in the Capsule UI" (the admin routes).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sandbox.capsule.auth import ALL_SCOPES, RateLimiter, Token, Tokens, personal_token_for
from sandbox.capsule.errors import not_found
from sandbox.capsule.hooks import Hooks
from sandbox.capsule.parties import PartyWriter
from sandbox.capsule.store import SINGULAR, Collection, Record, iso, nested_id

if TYPE_CHECKING:
    from sandbox.app import Sandbox
    from sandbox.generator import Dataset

DEFAULT_USER: Record = {
    "id": 1,
    "locale": "en_AU",
    "currency": "AUD",
    "status": "ACTIVE",
    "party": None,
    "username": "sandbox.admin",
    "timezone": "Australia/Sydney",
    "lastLoginAt": None,
    "name": "Sandbox Admin",
    "taskReminder": False,
}

ENTITY_KINDS = ("parties", "opportunities", "kases")
_ORG_REF = nested_id("organisation")
_PARTY_REF = nested_id("party")
_OPPORTUNITY_REF = nested_id("opportunity")
_KASE_REF = nested_id("kase")


class CapsuleState:
    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.parties = Collection("party")
        self.opportunities = Collection("opportunity")
        self.kases = Collection("kase")
        self.tasks = Collection("task")
        self.users: list[Record] = []
        self.users_by_id: dict[int, Record] = {}
        self.definitions: dict[str, list[Record]] = {kind: [] for kind in ENTITY_KINDS}
        self.tags: dict[str, list[Record]] = {kind: [] for kind in ENTITY_KINDS}
        self.site = {
            "url": "https://sandbox.capsulecrm.com",
            "subdomain": "sandbox",
            "name": "Capsule Sandbox",
        }
        self.dataset_teams: list[Record] = []
        self.milestones: dict[int, Record] = {}
        self.tokens = Tokens()
        self.limiter = RateLimiter(sandbox.clock)
        self.hooks = Hooks(self)
        self.personal_token = personal_token_for(sandbox.seed)
        self.demo_user_id = DEFAULT_USER["id"]
        self._reset_indexes()
        self._install_users([])

    # ---- loading ---------------------------------------------------------------------------
    def _reset_indexes(self) -> None:
        self._org_names: dict[str, set[int]] | None = None
        self._teams: dict[int, Record] | None = None
        self._tag_by_name: dict[str, Record] | None = None
        self._next_row_id: int | None = None
        self._next_value_id: int | None = None
        self._important: dict[str, list[Record]] | None = None

    def _install_users(self, users: list[Record]) -> None:
        self.users = list(users) or [dict(DEFAULT_USER)]
        self.users_by_id = {u["id"]: u for u in self.users}
        active = [u for u in self.users if u.get("status", "ACTIVE") == "ACTIVE"] or self.users
        self.demo_user_id = active[0]["id"]
        self.tokens.add(Token(self.personal_token, "personal", self.demo_user_id, None, ALL_SCOPES))
        for token in list(self.tokens.by_token.values()):
            if token.user_id not in self.users_by_id:  # an app token whose user left with the old data
                self.tokens.add(
                    Token(token.token, token.kind, self.demo_user_id, token.client_id, token.scopes)
                )

    def load(self, dataset: Dataset) -> None:
        """Replace every record (not tokens, rate-limit counters or hooks) with ``dataset``'s."""
        deleted = dataset.capsule_deleted_parties
        self.parties.load(
            dataset.capsule_parties,
            tombstones=[t for t in deleted if not t.get("isRestricted")],
            restricted=[t for t in deleted if t.get("isRestricted")],
        )
        self.opportunities.load(
            dataset.capsule_opportunities,
            tombstones=[t for t in dataset.capsule_deleted_opportunities if not t.get("isRestricted")],
            restricted=[t for t in dataset.capsule_deleted_opportunities if t.get("isRestricted")],
        )
        self.kases.load(
            dataset.capsule_kases,
            tombstones=[t for t in dataset.capsule_deleted_kases if not t.get("isRestricted")],
            restricted=[t for t in dataset.capsule_deleted_kases if t.get("isRestricted")],
        )
        self.tasks.load(dataset.capsule_tasks)
        self.definitions = {
            "parties": list(dataset.capsule_field_definitions),
            "opportunities": list(getattr(dataset, "capsule_opportunity_field_definitions", ())),
            "kases": list(getattr(dataset, "capsule_kase_field_definitions", ())),
        }
        self.tags = {kind: [] for kind in ENTITY_KINDS}
        self.tags["parties"] = list(dataset.capsule_tags)
        site = getattr(dataset, "capsule_site", None) or {}
        site = site.get("site", site)
        if site:
            self.site = dict(site)
        self.dataset_teams = list(getattr(dataset, "capsule_teams", ()))
        self.milestones = {m["id"]: m for m in getattr(dataset, "capsule_milestones", ())}
        self._reset_indexes()
        self._install_users(dataset.capsule_users)

    def demo_env(self) -> dict[str, str]:
        return {"CAPSULE_API_TOKEN": self.personal_token}

    def summary(self) -> dict[str, Any]:
        return {
            "parties": len(self.parties),
            "deleted_parties": len(self.parties.tombstones),
            "opportunities": len(self.opportunities),
            "kases": len(self.kases),
            "tasks": len(self.tasks),
            "users": len(self.users),
            "definitions": len(self.definitions["parties"]),
            "tags": len(self.tags["parties"]),
            "hooks": len(self.hooks.hooks),
            "demo_user_id": self.demo_user_id,
        }

    # ---- small lookups ---------------------------------------------------------------------
    def now_iso(self) -> str:
        return iso(self.sandbox.clock.now())

    def user_of(self, token: Token) -> Record:
        return self.users_by_id.get(token.user_id) or self.users_by_id[self.demo_user_id]

    def nested_user(self, user_id: int) -> Record | None:
        user = self.users_by_id.get(user_id)
        if user is None:
            return None
        return {
            "id": user["id"],
            "deleted": bool(user.get("deleted", False)),
            "username": user.get("username"),
            "pictureURL": user.get("pictureURL")
            or "https://facehub.appspot.com/default/person?text="
            + "".join(w[:1].upper() for w in (user.get("name") or "?").split()[:2])
            + "&size=100",
            "name": user.get("name"),
        }

    @property
    def teams(self) -> dict[int, Record]:
        """The dataset's teams, plus any team a record refers to that the list lacks."""
        if self._teams is None:
            teams: dict[int, Record] = {
                t["id"]: {"id": t["id"], "name": t.get("name")} for t in self.dataset_teams
            }
            for collection in (self.parties, self.opportunities, self.kases):
                for record in collection.by_id.values():
                    team = record.get("team")
                    if isinstance(team, dict) and team.get("id") is not None:
                        teams.setdefault(team["id"], {"id": team["id"], "name": team.get("name")})
            self._teams = teams
        return self._teams

    def field_definition(self, definition_id: int) -> Record | None:
        return next((d for d in self.definitions["parties"] if d["id"] == definition_id), None)

    def field_definition_by_name(self, name: str) -> Record | None:
        key = name.strip().lower()
        return next((d for d in self.definitions["parties"] if d["name"].lower() == key), None)

    def missing_important(self, party: Record) -> bool:
        """True when an important definition that applies to this party has no value."""
        if self._important is None:
            self._important = {
                kind: [
                    d
                    for d in self.definitions["parties"]
                    if d.get("important") and d.get("captureRule") in (None, kind)
                ]
                for kind in ("person", "organisation")
            }
        important = self._important.get(party.get("type", ""), [])
        if not important:
            return False
        filled = {f["definition"]["id"] for f in party.get("fields") or []}
        tag_ids = {t["id"] for t in party.get("tags") or []}
        for definition in important:
            tag = definition.get("tag")
            if isinstance(tag, dict) and tag.get("id") not in tag_ids:
                continue  # a DataTag field matters only on parties carrying that tag
            if definition["id"] not in filled:
                return True
        return False

    # ---- tags ------------------------------------------------------------------------------
    def tag_by_id(self, tag_id: int) -> Record | None:
        return next((t for t in self.tags["parties"] if t["id"] == tag_id), None)

    def tag_by_name(self, name: str) -> Record | None:
        if self._tag_by_name is None:
            self._tag_by_name = {t["name"].lower(): t for t in self.tags["parties"]}
        return self._tag_by_name.get(name.strip().lower())

    def create_tag(self, name: str) -> Record:
        existing = self.tag_by_name(name)
        if existing is not None:
            return existing
        all_ids = [t["id"] for kind in ENTITY_KINDS for t in self.tags[kind]]
        tag = {"id": max(all_ids, default=98000) + 1, "name": name.strip(), "dataTag": False}
        self.tags["parties"] = [*self.tags["parties"], tag]
        assert self._tag_by_name is not None
        self._tag_by_name[tag["name"].lower()] = tag
        return tag

    # ---- id allocation for nested rows -----------------------------------------------------
    def next_row_id(self) -> int:
        """Ids for addresses, phone numbers, e-mail addresses and websites (one id space)."""
        if self._next_row_id is None:
            top = 0
            for party in self.parties.by_id.values():
                for key in ("addresses", "phoneNumbers", "emailAddresses", "websites"):
                    for row in party.get(key) or ():
                        top = max(top, row.get("id") or 0)
            self._next_row_id = top
        self._next_row_id += 1
        return self._next_row_id

    def next_value_id(self) -> int:
        if self._next_value_id is None:
            top = 0
            for collection in (self.parties, self.opportunities, self.kases):
                for record in collection.by_id.values():
                    for row in record.get("fields") or ():
                        top = max(top, row.get("id") or 0)
            self._next_value_id = top
        self._next_value_id += 1
        return self._next_value_id

    # ---- organisation names (unique per account) -------------------------------------------
    def _org_name_index(self) -> dict[str, set[int]]:
        if self._org_names is None:
            names: dict[str, set[int]] = {}
            for party in self.parties.by_id.values():
                if party.get("type") == "organisation" and party.get("name"):
                    names.setdefault(party["name"].strip().lower(), set()).add(party["id"])
            self._org_names = names
        return self._org_names

    def org_name_taken(self, name: str, exclude_id: int | None) -> bool:
        holders = self._org_name_index().get(name.strip().lower(), set())
        return bool(holders - {exclude_id})

    def _store_party(self, old: Record | None, new: Record | None) -> None:
        if self._org_names is not None:
            for record, add in ((old, False), (new, True)):
                if record is None or record.get("type") != "organisation" or not record.get("name"):
                    continue
                key = record["name"].strip().lower()
                if add:
                    self._org_names.setdefault(key, set()).add(record["id"])
                else:
                    self._org_names.get(key, set()).discard(record["id"])
        if new is not None:
            self.parties.put(new)
            team = new.get("team")
            if self._teams is not None and isinstance(team, dict) and team.get("id") is not None:
                self._teams.setdefault(team["id"], {"id": team["id"], "name": team.get("name")})

    # ---- party writes ----------------------------------------------------------------------
    def people_of(self, org_id: int) -> list[int]:
        return sorted(self.parties.referencing("organisation", _ORG_REF, org_id))

    def create_party(self, body: Any, user_id: int | None = None) -> Record:
        record = PartyWriter(self).create(body, self.demo_user_id if user_id is None else user_id)
        self._store_party(None, record)
        self.hooks.notify("party/created", record["id"])
        return record

    def update_party(self, party_id: int, body: Any) -> Record:
        old = self.parties.get(party_id)
        if old is None:
            raise not_found()
        record = PartyWriter(self).update(old, body)
        self._store_party(old, record)
        self.hooks.notify("party/updated", party_id)
        return record

    def delete_party(self, party_id: int) -> None:
        """Delete with a tombstone; cascade to opportunities, kases and tasks
        (docs/api-facts.md#capsule-incremental-reads-and-deletions).

        [INF] People of a deleted organisation stay, unlinked (``organisation: null``), with
        ``updatedAt`` bumped so incremental readers see the change.
        """
        old = self.parties.get(party_id)
        if old is None:
            raise not_found()
        now = self.now_iso()
        people = self.people_of(party_id) if old.get("type") == "organisation" else []
        self._store_party(old, None)
        self.parties.remove(party_id, now)
        self.hooks.notify("party/deleted", party_id, snapshot=old)
        for person_id in people:
            person = self.parties.get(person_id)
            if person is not None:
                self._store_party(person, {**person, "organisation": None, "updatedAt": now})
                self.hooks.notify("party/updated", person_id)
        doomed_tasks = set(self.tasks.referencing("party", _PARTY_REF, party_id))
        for opportunity_id in sorted(self.opportunities.referencing("party", _PARTY_REF, party_id)):
            doomed_tasks |= self.tasks.referencing("opportunity", _OPPORTUNITY_REF, opportunity_id)
            self.delete_record("opportunities", opportunity_id, now)
        for kase_id in sorted(self.kases.referencing("party", _PARTY_REF, party_id)):
            doomed_tasks |= self.tasks.referencing("kase", _KASE_REF, kase_id)
            self.delete_record("kases", kase_id, now)
        for task_id in sorted(doomed_tasks):
            self.delete_record("tasks", task_id, now)

    def restrict_party(self, party_id: int) -> None:
        """The caller loses sight of a party (e.g. made private): it leaves the lists and shows
        up under ``restrictedParties`` in the deleted feed
        (docs/api-facts.md#capsule-incremental-reads-and-deletions)."""
        old = self.parties.get(party_id)
        if old is None:
            raise not_found()
        self._store_party(old, None)
        self.parties.remove(party_id, None)
        entry: Record = {"id": party_id, "type": old["type"]}
        if old["type"] == "organisation":
            entry["name"] = "Private"
        else:
            entry.update(firstName="Private", lastName=None)
        entry.update(pictureURL=old.get("pictureURL"), isRestricted=True)
        self.parties.restricted.append(entry)

    # ---- opportunities, kases, tasks (admin edits "as a user would") -----------------------
    def collection(self, kind: str) -> Collection:
        return {
            "parties": self.parties,
            "opportunities": self.opportunities,
            "kases": self.kases,
            "tasks": self.tasks,
        }[kind]

    def upsert_record(self, kind: str, record_id: int | None, changes: Record) -> Record:
        """Create or shallow-update an opportunity, kase or task; bumps ``updatedAt``."""
        collection = self.collection(kind)
        entity = SINGULAR[kind]
        now = self.now_iso()
        changes = {k: v for k, v in changes.items() if k not in {"id", "createdAt", "updatedAt"}}
        if record_id is None:
            record = {"id": collection.next_id(), **changes, "createdAt": now, "updatedAt": now}
            collection.put(record)
            self.hooks.notify(f"{entity}/created", record["id"])
            return record
        old = collection.get(record_id)
        if old is None:
            raise not_found()
        record = {**old, **changes, "updatedAt": now}
        collection.put(record)
        self.hooks.notify(f"{entity}/updated", record_id)
        if entity == "task" and old.get("status") != "COMPLETED" and record.get("status") == "COMPLETED":
            self.hooks.notify("task/completed", record_id)
        if entity in {"opportunity", "kase"}:
            if not old.get("closedOn") and record.get("closedOn"):
                self.hooks.notify(f"{entity}/closed", record_id)
            stage = "milestone" if entity == "opportunity" else "stage"
            if old.get(stage) != record.get(stage):
                self.hooks.notify(f"{entity}/moved", record_id)
        return record

    def update_opportunity(self, opportunity_id: int, body: Any) -> Record:
        """``PUT /opportunities/{id}``: validated like a party update, stored as any edit."""
        from sandbox.capsule.opportunities import OpportunityWriter

        existing = self.opportunities.get(opportunity_id)
        if existing is None:
            raise not_found()
        changes = OpportunityWriter(self).changes(existing, body)
        return self.upsert_record("opportunities", opportunity_id, changes)

    def win_opportunity(self, opportunity_id: int, closed_on: str | None = None) -> Record:
        """What a person does in Capsule's UI to win an opportunity: the won milestone and today
        (or ``closed_on``) as ``closedOn``; fires ``opportunity/closed`` like any such edit."""
        from sandbox.capsule.opportunities import won_milestone

        won = won_milestone(self)
        body: Record = {"milestone": {"id": won["id"]}}
        if closed_on is not None:
            body["closedOn"] = closed_on
        return self.update_opportunity(opportunity_id, {"opportunity": body})

    def delete_record(self, kind: str, record_id: int, now: str | None = None) -> None:
        if kind == "parties":
            self.delete_party(record_id)
            return
        collection = self.collection(kind)
        # Tasks have no deleted feed (docs/api-facts.md#capsule-incremental-reads-and-deletions), so no
        # tombstone and no hook event.
        old = collection.remove(record_id, None if kind == "tasks" else (now or self.now_iso()))
        if old is None:
            raise not_found()
        if kind != "tasks":
            self.hooks.notify(f"{SINGULAR[kind]}/deleted", record_id, snapshot=old)
