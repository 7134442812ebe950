"""Opportunities, kases (projects) and tasks hanging off a block's parties, and their tombstones."""

from __future__ import annotations

from sandbox.generator import capsule, words
from sandbox.generator.base import (
    DAY,
    HOUR,
    Record,
)
from sandbox.generator.parties import PartyMaker
from sandbox.generator.text import iso, iso_date, parse_iso


class Activity(PartyMaker):
    # -- opportunities, kases, tasks -------------------------------------------------------------------
    def activity(self, parties: list[Record]) -> tuple[list[Record], list[Record], list[Record], list, list]:
        rng, w = self.rng, self.w
        opportunities: list[Record] = []
        kases: list[Record] = []
        tasks: list[Record] = []
        for party in parties:
            is_org = party["type"] == "organisation"
            chance = 0.35 if is_org else (0.03 if party["organisation"] else 0.10)
            if rng.random() < chance:
                for _ in range(rng.choice((1, 1, 1, 2, 3)) if is_org else 1):
                    opportunities.append(self.opportunity(party))
            if rng.random() < (0.10 if is_org else 0.02):
                opp = (
                    opportunities[-1]
                    if opportunities and opportunities[-1]["party"]["id"] == party["id"]
                    else None
                )
                kases.append(self.kase(party, opp))
            if rng.random() < 0.25:
                for _ in range(rng.choice((1, 1, 2))):
                    tasks.append(self.task(party, None, None))
        for opp in opportunities:
            if rng.random() < 0.3:
                tasks.append(self.task(None, opp, None))
        for kase in kases:
            if rng.random() < 0.4:
                tasks.append(self.task(None, None, kase))
        deleted_opps = []
        deleted_kases = []
        for tomb in self.deleted:  # deleting a party cascades to its opportunities and kases
            if rng.random() < 0.3:
                w.next_opportunity += rng.randint(1, 3)
                deleted_opps.append({"id": w.next_opportunity, "deletedAt": tomb["deletedAt"]})
        for _ in range(max(1, round(0.02 * len(opportunities)))):
            w.next_opportunity += rng.randint(1, 3)
            deleted_opps.append(
                {"id": w.next_opportunity, "deletedAt": iso(self.between(w.now - 300 * DAY, w.now))}
            )
        for _ in range(max(1, round(0.03 * len(kases)))):
            w.next_kase += rng.randint(1, 3)
            deleted_kases.append(
                {"id": w.next_kase, "deletedAt": iso(self.between(w.now - 300 * DAY, w.now))}
            )
        return opportunities, kases, tasks, deleted_opps, deleted_kases

    def owner_for(self, party: Record) -> tuple[Record, Record | None]:
        if party["owner"] is not None:
            return party["owner"], party["team"]
        owner, team = None, None
        while owner is None:
            owner, team = self.owner()
        return owner, team

    def opportunity(self, party: Record) -> Record:
        rng, w = self.rng, self.w
        w.next_opportunity += rng.randint(1, 3)
        created = self.between(parse_iso(party["createdAt"]), w.now - HOUR)
        updated = self.between(created, w.now)
        milestone = rng.choices(capsule.MILESTONES, (20, 15, 20, 10, 20, 15))[0]
        closed = milestone["complete"]
        last_open = milestone if not closed else rng.choice(capsule.OPEN_MILESTONES)
        owner, team = self.owner_for(party)
        value = None
        if rng.random() < 0.8:
            value = {
                "amount": round(rng.uniform(500, 250000), 2),
                "currency": "AUD" if rng.random() < 0.95 else "NZD",
            }
        basis = rng.choices(("FIXED", "MONTH", "YEAR"), (80, 15, 5))[0]
        fields = []
        if rng.random() < 0.4:
            fields.append(
                {
                    "id": self.value_id(),
                    "definition": self.w.quote_ref,
                    "value": f"Q-{iso(created)[:4]}-{rng.randrange(1, 9999):04d}",
                }
            )
        suburb = rng.choice(words.SUBURBS)[0]
        lost_reason = None
        if milestone["name"] == "Lost":
            reason = rng.randrange(len(words.LOST_REASONS))
            lost_reason = {"id": 51000 + reason, "name": words.LOST_REASONS[reason]}
        return {
            "id": w.next_opportunity,
            "updatedAt": iso(updated),
            "description": None if rng.random() < 0.5 else "Discussed at the last site visit.",
            "owner": owner,
            "team": team,
            "party": capsule.party_ref(party),
            "lostReason": lost_reason,
            "milestone": {"id": milestone["id"], "name": milestone["name"]},
            "value": value,
            "expectedCloseOn": iso_date(self.between(created, w.now + 120 * DAY)),
            "probability": milestone["probability"],
            "durationBasis": basis,
            "duration": None if basis == "FIXED" else rng.choice((3, 6, 12)),
            "closedOn": iso_date(self.between(created, updated)) if closed else None,
            "createdAt": iso(created),
            "name": rng.choice(words.OPPORTUNITY_NAMES).format(
                fy=int(iso(created)[2:4]) + 1,
                trade=rng.choice(words.TRADES)[0],
                suburb=suburb,
                q=rng.randrange(1, 5),
            ),
            "lastContactedAt": iso(self.between(created, updated)) if rng.random() < 0.5 else None,
            "lastStageChangedAt": iso(self.between(created, updated)),
            "lastOpenMilestone": {"id": last_open["id"], "name": last_open["name"]},
            "tags": [self.w.tag_refs["Wholesale"]] if rng.random() < 0.1 else [],
            "fields": fields,
            "missingImportantFields": False,
        }

    def kase(self, party: Record, opp: Record | None) -> Record:
        rng, w = self.rng, self.w
        w.next_kase += rng.randint(1, 3)
        created = self.between(parse_iso(party["createdAt"]), w.now - HOUR)
        updated = self.between(created, w.now)
        closed = rng.random() < 0.4
        owner, team = self.owner_for(party)
        fields = []
        if rng.random() < 0.3:
            first, last = rng.choice(words.FIRST_NAMES), rng.choice(words.SURNAMES)
            fields.append(
                {"id": self.value_id(), "definition": self.w.site_contact_ref, "value": f"{first} {last}"}
            )
        suburb = rng.choice(words.SUBURBS)[0]
        return {
            "id": w.next_kase,
            "owner": owner,
            "team": team,
            "party": capsule.party_ref(party),
            "status": "CLOSED" if closed else "OPEN",
            "opportunity": {"id": opp["id"], "name": opp["name"]} if opp else None,
            "stage": dict(capsule.KASE_STAGES[3] if closed else rng.choice(capsule.KASE_STAGES[:3])),
            "createdAt": iso(created),
            "updatedAt": iso(updated),
            "description": None if rng.random() < 0.4 else f"Work for {self.display_name(party)}.",
            "name": rng.choice(words.KASE_NAMES).format(
                suburb=suburb, n=rng.randrange(100, 999), fy=f"FY{int(iso(created)[2:4]) + 1}"
            ),
            "closedOn": iso_date(self.between(created, updated)) if closed else None,
            "lastContactedAt": iso(self.between(created, updated)) if rng.random() < 0.4 else None,
            "expectedCloseOn": iso_date(self.between(created, w.now + 90 * DAY))
            if rng.random() < 0.6
            else None,
            "startOn": iso_date(created) if rng.random() < 0.3 else None,
            "tags": [],
            "fields": fields,
            "missingImportantFields": False,
        }

    def task(self, party: Record | None, opp: Record | None, kase: Record | None) -> Record:
        rng, w = self.rng, self.w
        w.next_task += rng.randint(1, 2)
        parent_created = parse_iso((party or opp or kase)["createdAt"])
        created = self.between(parent_created, w.now - HOUR)
        status = rng.choices(("OPEN", "COMPLETED", "PENDING"), (45, 45, 10))[0]
        updated = self.between(created, w.now)
        owner = self.owner_for(party)[0] if party is not None else (opp or kase)["owner"]
        completed = status == "COMPLETED"
        return {
            "id": w.next_task,
            "category": dict(rng.choice(capsule.TASK_CATEGORIES)) if rng.random() < 0.7 else None,
            "description": rng.choice(words.TASK_DESCRIPTIONS),
            "detail": None if rng.random() < 0.6 else "See notes on the party.",
            "dueTime": f"{rng.randrange(8, 18):02d}:{rng.choice((0, 15, 30, 45)):02d}:00"
            if rng.random() < 0.4
            else None,
            "status": status,
            "party": capsule.party_ref(party) if party is not None else None,
            "opportunity": {"id": opp["id"], "name": opp["name"]} if opp is not None else None,
            "owner": owner,
            "daysAfter": None,
            "taskDelayRule": None,
            "nextTask": None,
            "active": status == "OPEN",
            "createdAt": iso(created),
            "updatedAt": iso(updated),
            "dueOn": iso_date(self.between(created, created + 60 * DAY)),
            "completedBy": owner["username"] if completed else None,
            "completedAt": iso(updated) if completed else None,
            "kase": {"id": kase["id"], "name": kase["name"]} if kase is not None else None,
            "taskDayDelayRule": "TRACK_DAYS",
            "overrideToCurrentUser": None,
            "repeat": None,
            "hasTrack": False,
        }
