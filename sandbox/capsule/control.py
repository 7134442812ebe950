"""``CapsuleControl``: Python helpers for ``/_sandbox/capsule/...`` (tests, benchmarks, a REPL).

control = CapsuleControl(server.capsule_url)
org = control.create_party({"type": "organisation", "name": "Acme Pty Ltd"})
control.update_party(org["id"], {"about": "edited in the UI"})
token = control.mint_app_token(client_id="my-app")["access_token"]
"""

from __future__ import annotations

from typing import Any

from sandbox.control import SandboxControl

ADMIN = "/_sandbox/capsule"
SINGULAR = {"parties": "party", "opportunities": "opportunity", "kases": "kase", "tasks": "task"}


class CapsuleControl(SandboxControl):
    """The common control routes (calls, faults, clock ...) plus the Capsule-specific ones."""

    def summary(self) -> dict[str, Any]:
        return self._json(self.http.get(f"{ADMIN}/summary"))

    # ---- records, edited as a user would in the Capsule UI ---------------------------------
    def create_party(self, party: dict[str, Any], user_id: int | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"party": party}
        if user_id is not None:
            body["user_id"] = user_id
        return self._json(self.http.post(f"{ADMIN}/parties", json=body))["party"]

    def get_party(self, party_id: int) -> dict[str, Any] | None:
        response = self.http.get(f"{ADMIN}/parties/{party_id}")
        if response.status_code == 404:
            return None
        return self._json(response)["party"]

    def update_party(self, party_id: int, changes: dict[str, Any]) -> dict[str, Any]:
        return self._json(self.http.put(f"{ADMIN}/parties/{party_id}", json={"party": changes}))["party"]

    def delete_party(self, party_id: int) -> None:
        self._json(self.http.delete(f"{ADMIN}/parties/{party_id}"))

    def restrict_party(self, party_id: int) -> None:
        self._json(self.http.post(f"{ADMIN}/parties/{party_id}/restrict"))

    def create_record(self, kind: str, record: dict[str, Any]) -> dict[str, Any]:
        """``kind``: opportunities | kases | tasks."""
        return self._json(self.http.post(f"{ADMIN}/{kind}", json={SINGULAR[kind]: record}))[SINGULAR[kind]]

    def update_record(self, kind: str, record_id: int, changes: dict[str, Any]) -> dict[str, Any]:
        response = self.http.put(f"{ADMIN}/{kind}/{record_id}", json={SINGULAR[kind]: changes})
        return self._json(response)[SINGULAR[kind]]

    def delete_record(self, kind: str, record_id: int) -> None:
        self._json(self.http.delete(f"{ADMIN}/{kind}/{record_id}"))

    def win_opportunity(self, opportunity_id: int, closed_on: str | None = None) -> dict[str, Any]:
        """Move an opportunity to the won milestone as a person would (fires ``opportunity/closed``)."""
        body = {"closed_on": closed_on} if closed_on else {}
        response = self.http.post(f"{ADMIN}/opportunities/{opportunity_id}/win", json=body)
        return self._json(response)["opportunity"]

    # ---- tokens and limits -----------------------------------------------------------------
    def mint_app_token(
        self, client_id: str = "sandbox-app", user_id: int | None = None, scope: str = "read write"
    ) -> dict[str, Any]:
        """An OAuth-app access token (``access_token``, ``client_id``, ``scope`` ...)."""
        body: dict[str, Any] = {"client_id": client_id, "scope": scope}
        if user_id is not None:
            body["user_id"] = user_id
        return self._json(self.http.post(f"{ADMIN}/tokens", json=body))

    def set_rate_limit(self, limit: int | None = None, window_seconds: int | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if limit is not None:
            body["limit"] = limit
        if window_seconds is not None:
            body["window_seconds"] = window_seconds
        return self._json(self.http.post(f"{ADMIN}/rate-limit", json=body))

    def rate_limit(self) -> dict[str, Any]:
        return self._json(self.http.get(f"{ADMIN}/rate-limit"))

    # ---- REST hooks ------------------------------------------------------------------------
    def hooks(self) -> list[dict[str, Any]]:
        return self._json(self.http.get(f"{ADMIN}/hooks"))["hooks"]

    def deliveries(self) -> list[dict[str, Any]]:
        return self._json(self.http.get(f"{ADMIN}/hooks/deliveries"))["deliveries"]

    def set_hook_batch_window(self, seconds: float) -> dict[str, Any]:
        return self._json(self.http.post(f"{ADMIN}/hooks/settings", json={"batch_window_seconds": seconds}))
