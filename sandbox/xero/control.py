"""Python helpers for the Xero stand-in's own control routes (``/_sandbox/xero/...``).

Mirrors ``sandbox.control.SandboxControl``: for tests, benchmarks and people at a REPL. Contact
edits made here are what a person does in Xero's UI: they bump ``UpdatedDateUTC`` and fire
webhook events (except balance / customer-supplier flag changes, which Xero does not date).
"""

from __future__ import annotations

from typing import Any

import httpx


class XeroControl:
    def __init__(self, base_url: str, timeout: float = 60.0) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=timeout)

    def _json(self, response: httpx.Response) -> Any:
        if response.status_code >= 400:
            raise RuntimeError(
                f"xero control {response.request.url.path}: {response.status_code} {response.text}"
            )
        return response.json() if response.content else None

    @staticmethod
    def _tenant(tenant: str | None) -> dict[str, str]:
        return {"tenant": tenant} if tenant else {}

    # ---- tenants and tokens ------------------------------------------------------------------
    def tenants(self) -> list[dict[str, Any]]:
        return self._json(self.http.get("/_sandbox/xero/tenants"))["tenants"]

    def add_organisations(self, count: int, parties: int = 0) -> list[dict[str, Any]]:
        """``count`` more organisations (stable ids from the seed; ``parties`` > 0 seeds each with the
        Xero side of a generated world that size); returns every tenant, the new ones last. Sign in
        (or issue a token) afterwards: an earlier grant does not cover them."""
        spec = {"count": count, "parties": parties}
        return self._json(self.http.post("/_sandbox/xero/tenants", json=spec))["tenants"]

    def primary_tenant_id(self) -> str:
        return self._json(self.http.get("/_sandbox/xero/tenants"))["primary"]

    def issue_token(
        self,
        tenant_ids: list[str] | None = None,
        scopes: list[str] | str | None = None,
        kind: str = "user",
        client_id: str = "sandbox-client",
    ) -> dict[str, Any]:
        """``{access_token, tenant_id, tenant_ids, client_id, scopes, expires_at}``."""
        spec: dict[str, Any] = {"kind": kind, "client_id": client_id}
        if tenant_ids is not None:
            spec["tenant_ids"] = tenant_ids
        if scopes is not None:
            spec["scopes"] = scopes
        return self._json(self.http.post("/_sandbox/xero/tokens", json=spec))

    # ---- contacts as a person edits them -----------------------------------------------------
    def contacts(self, tenant: str | None = None, include_archived: bool = True) -> list[dict[str, Any]]:
        params = {**self._tenant(tenant), "include_archived": str(include_archived).lower()}
        return self._json(self.http.get("/_sandbox/xero/contacts", params=params))["contacts"]

    def contact(self, key: str, tenant: str | None = None) -> dict[str, Any]:
        """By ContactID or ContactNumber."""
        return self._json(self.http.get(f"/_sandbox/xero/contacts/{key}", params=self._tenant(tenant)))

    def create_contact(self, tenant: str | None = None, **fields: Any) -> dict[str, Any]:
        return self._json(self.http.post("/_sandbox/xero/contacts", params=self._tenant(tenant), json=fields))

    def edit_contact(self, key: str, tenant: str | None = None, **fields: Any) -> dict[str, Any]:
        """Any writable field, plus what only Xero itself or a person sets: ``Balances``,
        ``IsCustomer``, ``IsSupplier``, ``Discount`` (no UpdatedDateUTC bump), ``Website``."""
        return self._json(
            self.http.patch(f"/_sandbox/xero/contacts/{key}", params=self._tenant(tenant), json=fields)
        )

    def archive(self, key: str, tenant: str | None = None) -> dict[str, Any]:
        return self._json(
            self.http.post(f"/_sandbox/xero/contacts/{key}/archive", params=self._tenant(tenant))
        )

    def restore(self, key: str, tenant: str | None = None) -> dict[str, Any]:
        return self._json(
            self.http.post(f"/_sandbox/xero/contacts/{key}/restore", params=self._tenant(tenant))
        )

    def merge(self, key: str, into: str, tenant: str | None = None) -> dict[str, Any]:
        return self._json(
            self.http.post(
                f"/_sandbox/xero/contacts/{key}/merge", params=self._tenant(tenant), json={"into": into}
            )
        )

    def history(self, key: str, tenant: str | None = None) -> list[dict[str, Any]]:
        url = f"/_sandbox/xero/contacts/{key}/history"
        return self._json(self.http.get(url, params=self._tenant(tenant)))["history"]

    def add_repeating_invoice(self, key: str, tenant: str | None = None) -> dict[str, Any]:
        """A repeating invoice for the contact (by ContactID or ContactNumber): it cannot be archived."""
        url = f"/_sandbox/xero/contacts/{key}/repeating-invoices"
        return self._json(self.http.post(url, params=self._tenant(tenant)))

    def repeating_invoices(self, tenant: str | None = None) -> list[dict[str, Any]]:
        url = "/_sandbox/xero/repeating-invoices"
        return self._json(self.http.get(url, params=self._tenant(tenant)))["repeating_invoices"]

    def delete_repeating_invoice(self, invoice_id: str, tenant: str | None = None) -> None:
        url = f"/_sandbox/xero/repeating-invoices/{invoice_id}"
        self._json(self.http.delete(url, params=self._tenant(tenant)))

    def groups(self, tenant: str | None = None) -> list[dict[str, Any]]:
        return self._json(self.http.get("/_sandbox/xero/groups", params=self._tenant(tenant)))["groups"]

    # ---- rate limits and idempotency ---------------------------------------------------------
    def limits(self, tenant: str | None = None) -> dict[str, Any]:
        return self._json(self.http.get("/_sandbox/xero/limits", params=self._tenant(tenant)))

    def set_limits(
        self,
        tenant: str | None = None,
        minute: int | None = None,
        day: int | None = None,
        concurrent: int | None = None,
        app_minute: int | None = None,
    ) -> dict[str, Any]:
        """Per tenant (or the default for all tenants when ``tenant`` is None); ``app_minute`` is
        the app-wide limit. E.g. ``set_limits(tenant, day=1000)`` for the Starter tier."""
        spec: dict[str, Any] = {
            k: v
            for k, v in {
                "minute": minute,
                "day": day,
                "concurrent": concurrent,
                "app_minute": app_minute,
            }.items()
            if v is not None
        }
        if tenant:
            spec["tenant"] = tenant
        return self._json(self.http.put("/_sandbox/xero/limits", json=spec))

    def spend_calls(self, calls: int, client_id: str, tenant: str | None = None) -> int:
        """Count ``calls`` of app ``client_id`` against the tenant's day, as its other traffic of the
        day would; the calls left today."""
        spec = {"calls": calls, "client_id": client_id, **self._tenant(tenant)}
        return int(self._json(self.http.post("/_sandbox/xero/limits/spend", json=spec))["day_remaining"])

    def reset_limits(self, tenant: str | None = None) -> None:
        self._json(self.http.post("/_sandbox/xero/limits/reset", params=self._tenant(tenant)))

    def clear_idempotency(self) -> None:
        self._json(self.http.delete("/_sandbox/xero/idempotency"))

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> XeroControl:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
