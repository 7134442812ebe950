"""Updating opportunities: ``PUT /opportunities/{id}`` and the stand-in's "win" button
(docs/api-facts.md#capsule-writing, #capsule-opportunities-kases-and-tasks).

Like parties: only the keys sent change, ``fields`` are merged by definition id (the opportunity
definitions, ``GET /opportunities/fields/definitions``), every problem is collected into one 422
and nothing is stored unless the whole request is valid. The change is stored through
``CapsuleState.upsert_record``, so ``updatedAt`` moves and the REST hooks fire as for any edit:
``opportunity/updated``, ``opportunity/moved`` on a milestone change and ``opportunity/closed``
when ``closedOn`` becomes set.

Choices where the facts are silent [INF]:
- moving to a closed milestone (``complete``) sets ``closedOn`` to today unless it is sent, and the
  probability to the milestone's unless it is sent; moving to an open milestone clears
  ``closedOn`` and ``lostReason``;
- ``tags`` are refused with a 422 (opportunity tags are not written by this project and the
  stand-in does not model them on writes), and so are unknown milestones.
"""

from __future__ import annotations

import copy
import re
from datetime import date
from typing import TYPE_CHECKING, Any

from sandbox.capsule.errors import error_item, validation
from sandbox.capsule.parties import PartyWriter

if TYPE_CHECKING:
    from sandbox.capsule.state import CapsuleState

Record = dict[str, Any]
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
CURRENCY = re.compile(r"^[A-Z]{3}$")
DURATION_BASES = ("FIXED", "HOUR", "DAY", "WEEK", "MONTH", "QUARTER", "YEAR")


class OpportunityWriter(PartyWriter):
    def __init__(self, state: CapsuleState) -> None:
        super().__init__(state)

    def definition(self, definition_id: int) -> Record | None:
        return next((d for d in self.state.definitions["opportunities"] if d["id"] == definition_id), None)

    def definition_by_name(self, name: str) -> Record | None:
        key = name.strip().lower()
        return next((d for d in self.state.definitions["opportunities"] if d["name"].lower() == key), None)

    def changes(self, existing: Record, body: Any) -> Record:
        """The keys to store on ``existing`` for this request body, or a 422."""
        opportunity = body.get("opportunity") if isinstance(body, dict) else None
        if not isinstance(opportunity, dict):
            raise validation([error_item("opportunity is required", "opportunity", None)])
        draft = copy.deepcopy(existing)
        draft.setdefault("fields", [])
        out: Record = {}
        if "name" in opportunity:
            name = opportunity["name"]
            if not isinstance(name, str) or not name.strip():
                self.fail("name is required", "opportunity", "name")
            else:
                out["name"] = name
        if "description" in opportunity:
            text = opportunity["description"]
            if text is not None and not isinstance(text, str):
                self.fail("description must be a string", "opportunity", "description")
            else:
                out["description"] = text
        for key in ("expectedCloseOn", "closedOn"):
            if key in opportunity:
                value = opportunity[key]
                if value is not None and not _is_date(value):
                    self.fail(f"{key} must be a date (YYYY-MM-DD)", "opportunity", key)
                else:
                    out[key] = value
        if "value" in opportunity:
            out["value"] = self._value(opportunity["value"])
        if "probability" in opportunity:
            probability = opportunity["probability"]
            if (
                isinstance(probability, bool)
                or not isinstance(probability, int)
                or not 0 <= probability <= 100
            ):
                self.fail("probability must be a whole number from 0 to 100", "opportunity", "probability")
            else:
                out["probability"] = probability
        if "durationBasis" in opportunity:
            basis = opportunity["durationBasis"]
            if basis not in DURATION_BASES:
                self.fail(
                    f"durationBasis must be one of {', '.join(DURATION_BASES)}",
                    "opportunity",
                    "durationBasis",
                )
            else:
                out["durationBasis"] = basis
        if "milestone" in opportunity:
            self._milestone(existing, opportunity, out)
        if "fields" in opportunity:
            out["fields"] = self._merge_fields(draft, opportunity["fields"])
        if "tags" in opportunity:
            self.fail("the sandbox does not write tags on opportunities", "opportunity", "tags")
        if self.errors:
            raise validation(self.errors)
        return out

    def _value(self, value: Any) -> Record | None:
        if value is None:
            return None
        if not isinstance(value, dict):
            self.fail("value must be an object with amount and currency", "opportunity", "value")
            return None
        amount = value.get("amount")
        if isinstance(amount, bool) or not isinstance(amount, int | float) or amount < 0:
            self.fail("value.amount must be a number of at least 0", "opportunity", "value")
        currency = value.get("currency")
        if not isinstance(currency, str) or not CURRENCY.match(currency):
            self.fail("value.currency must be an ISO 4217 code such as AUD", "opportunity", "value")
        return {"amount": amount, "currency": currency}

    def _milestone(self, existing: Record, opportunity: Record, out: Record) -> None:
        ref = opportunity["milestone"]
        milestone = None
        if isinstance(ref, dict) and isinstance(ref.get("id"), int):
            milestone = self.state.milestones.get(ref["id"])
        elif isinstance(ref, dict) and isinstance(ref.get("name"), str):
            key = ref["name"].strip().lower()
            milestone = next((m for m in self.state.milestones.values() if m["name"].lower() == key), None)
        if milestone is None:
            self.fail("milestone not found", "opportunity", "milestone")
            return
        out["milestone"] = {"id": milestone["id"], "name": milestone["name"]}
        if (existing.get("milestone") or {}).get("id") != milestone["id"]:
            out["lastStageChangedAt"] = self.state.now_iso()
        out.setdefault("probability", milestone["probability"])
        if milestone.get("complete"):
            if not out.get("closedOn"):
                out["closedOn"] = existing.get("closedOn") or self.state.now_iso()[:10]
            if milestone["probability"] == 100:
                out["lostReason"] = None
        else:
            out["closedOn"] = None
            out["lostReason"] = None
            out["lastOpenMilestone"] = {"id": milestone["id"], "name": milestone["name"]}


def _is_date(value: Any) -> bool:
    if not isinstance(value, str) or not _DATE.match(value):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def won_milestone(state: CapsuleState) -> Record:
    """The account's won milestone: closed with probability 100."""
    for milestone in state.milestones.values():
        if milestone.get("complete") and milestone.get("probability") == 100:
            return milestone
    raise validation([error_item("the account has no won milestone", "opportunity", "milestone")])
