"""Contact groups: the managed groups Xero has, creating the missing ones, and setting their members
(facts: docs/api-facts.md#xero-contact-groups)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import httpx
import stamina

from capsule_xero.xero.pacing import XeroUnavailable
from reverse_etl.writers.payloads import encoded
from reverse_etl.writers.xero_results import GroupsEnsured, MembershipResult
from reverse_etl.writers.xero_session import (
    TRANSIENT_STATUSES,
    XeroSession,
    fold,
    json_body,
    messages,
    problem,
)

GROUPS_PER_CALL = 50  # groups created, or contacts added to a group, per call


class _RetryStatus(Exception):
    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"HTTP {response.status_code}")
        self.response = response


class ContactGroups:
    def __init__(self, session: XeroSession) -> None:
        self.session = session

    def active(self) -> list[dict[str, Any]]:
        """Xero's active contact groups (``ContactGroupID``, ``Name``, ``Status``)."""
        return list((json_body(self.session.get("/ContactGroups", None)) or {}).get("ContactGroups") or ())

    def ensure(self, names: Iterable[str]) -> GroupsEnsured:
        """Every named group's ContactGroupID, creating the missing ones in one call.

        Names compare without regard to case or surrounding spaces (Xero's group names are unique
        that way); a group Xero refuses (e.g. the limit of 100 groups) is in ``failed``.
        """
        wanted = [n for n in dict.fromkeys(names) if n and n.strip()]
        existing = {fold(g.get("Name", "")): g for g in self.active()}
        result = GroupsEnsured(ids={})
        missing: list[str] = []
        for name in wanted:
            group = existing.get(fold(name))
            if group is not None:
                result.ids[name] = str(group["ContactGroupID"]).lower()
            elif fold(name) not in {fold(m) for m in missing}:
                missing.append(name)
        for start in range(0, len(missing), GROUPS_PER_CALL):
            self._create(missing[start : start + GROUPS_PER_CALL], result)
        for name in wanted:  # a name differing only in case from a created one
            if name not in result.ids and name not in result.failed:
                twin = next((n for n in result.ids if fold(n) == fold(name)), None)
                if twin is not None:
                    result.ids[name] = result.ids[twin]
        return result

    def _create(self, chunk: list[str], result: GroupsEnsured) -> None:
        response = self.session.http.put(
            "/ContactGroups",
            params={"summarizeErrors": "false"},
            content=encoded({"ContactGroups": [{"Name": name.strip()} for name in chunk]}),
            headers={"Idempotency-Key": self.session.new_key(), "Content-Type": "application/json"},
        )
        if response.status_code in TRANSIENT_STATUSES:
            raise XeroUnavailable(f"creating contact groups kept failing ({problem(response)})")
        body = json_body(response)
        answers = (body or {}).get("ContactGroups") if isinstance(body, Mapping) else None
        if response.status_code != 200 or not isinstance(answers, list):
            for name in chunk:
                result.failed[name] = problem(response)
            return
        for name, answer in zip(chunk, answers, strict=False):
            errors = messages(answer)
            if errors or str(answer.get("StatusAttributeString", "")).upper() == "ERROR":
                result.failed[name] = "; ".join(errors) or "Xero marked the group ERROR"
            else:
                result.ids[name] = str(answer["ContactGroupID"]).lower()
                result.created.append(name)

    def set_members(
        self, group_id: str, *, add: Iterable[str] = (), remove: Iterable[str] = ()
    ) -> MembershipResult:
        """Add contacts to a group (``PUT``, 50 per call) and take others out (``DELETE``, one each:
        Xero has no bulk removal of chosen contacts). Archived contacts cannot be added."""
        result = MembershipResult()
        to_add = list(dict.fromkeys(str(c).lower() for c in add))
        for start in range(0, len(to_add), GROUPS_PER_CALL):
            self._add(group_id, to_add[start : start + GROUPS_PER_CALL], result)
        for cid in dict.fromkeys(str(c).lower() for c in remove):
            message = self._remove_member(group_id, cid)
            if message is None:
                result.removed.append(cid)
            else:
                result.failed[cid] = message
        return result

    def _add(self, group_id: str, chunk: list[str], result: MembershipResult) -> None:
        response = self.session.http.put(
            f"/ContactGroups/{group_id}/Contacts",
            content=encoded({"Contacts": [{"ContactID": cid} for cid in chunk]}),
            headers={"Idempotency-Key": self.session.new_key(), "Content-Type": "application/json"},
        )
        if response.status_code in TRANSIENT_STATUSES:
            raise XeroUnavailable(f"adding contacts to a group kept failing ({problem(response)})")
        body = json_body(response) or {}
        failures: dict[str, str] = {}
        if response.status_code == 400 and isinstance(body.get("Elements"), list):
            # Like contacts: the valid ones are added even though the answer is a 400.
            for element in body["Elements"]:
                cid = str(element.get("ContactID") or "").lower()
                failures[cid] = "; ".join(messages(element)) or "refused"
        elif response.status_code != 200:
            failures = dict.fromkeys(chunk, problem(response))
        result.failed.update({cid: msg for cid, msg in failures.items() if cid in chunk})
        result.added += [cid for cid in chunk if cid not in failures]

    def _remove_member(self, group_id: str, contact_id: str) -> str | None:
        """None when the contact is out of the group (removed now, or already out); else why not.

        A DELETE takes no Idempotency-Key (docs/api-facts.md#xero-idempotency-keys), so the shared
        transport does not resend it after a 5xx or a lost answer; removal is idempotent in effect, so
        it is retried here, and "not a member" after a retry means the first try landed.
        """
        policy = self.session.policy
        response: httpx.Response | None = None
        try:
            for attempt in stamina.retry_context(
                on=lambda exc: isinstance(exc, (httpx.TransportError, _RetryStatus)),
                attempts=3,
                wait_initial=policy.backoff_initial,
                wait_max=policy.backoff_max,
                wait_jitter=policy.backoff_jitter,
            ):
                with attempt:
                    response = self.session.http.delete(f"/ContactGroups/{group_id}/Contacts/{contact_id}")
                    if response.status_code in TRANSIENT_STATUSES:
                        raise _RetryStatus(response)
        except _RetryStatus as exc:
            return problem(exc.response)
        except httpx.TransportError as exc:
            raise XeroUnavailable(
                f"removing a contact from a group kept failing ({type(exc).__name__})"
            ) from exc
        assert response is not None
        if response.status_code in (200, 204):
            return None
        if response.status_code == 400 and "not a member" in response.text.lower():
            return None
        return problem(response)
