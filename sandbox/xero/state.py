"""Everything the Xero stand-in knows, composed from the parts that own it.

- ``identity`` (identity.py): OAuth clients, grants, access/refresh tokens, connections.
- ``orgs`` (organisation.py): one ``Organisation`` per tenant: contacts, groups, users, history.
- ``webhooks`` (webhooks.py): the app's webhook subscription, signing and delivery.
- ``limiter`` (ratelimit.py) and ``idempotency`` (idempotency.py): the Accounting API's counters.
Contact, invoice and credit-note changes are announced through ``emit_event`` (``emit_contact_event``)
so webhooks can deliver them.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sandbox.xero.idempotency import IdempotencyStore
from sandbox.xero.identity import IdentityState
from sandbox.xero.organisation import Organisation
from sandbox.xero.ratelimit import RateLimiter
from sandbox.xero.webhooks import WebhookState

if TYPE_CHECKING:
    from sandbox.app import Sandbox
    from sandbox.generator import Dataset


@dataclass(frozen=True)
class Tenant:
    tenant_id: str
    name: str
    created: datetime
    tenant_type: str = "ORGANISATION"


# The webhook categories the stand-in announces, and the Accounting list their resourceUrl points into
# (docs/api-facts.md#xero-webhooks). Quotes, payments, items and settings have none.
EVENT_RESOURCES = {"CONTACT": "Contacts", "INVOICE": "Invoices", "CREDITNOTE": "CreditNotes"}


@dataclass(frozen=True)
class XeroEvent:
    tenant_id: str
    resource_id: str
    event_type: str  # "CREATE" | "UPDATE" (archive, restore, void and payment are UPDATEs, as in Xero)
    at: datetime
    category: str = "CONTACT"  # a key of EVENT_RESOURCES
    data: dict[str, str] | None = None  # CREDITNOTE events only: {"Type", "Status"}

    @property
    def contact_id(self) -> str:
        return self.resource_id


ContactEvent = XeroEvent


def _stable_uuid(seed: int, name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"capsule-xero-sandbox/{seed}/{name}"))


# The organisations added on demand (``XeroState.add_organisations``) are named this, then a number.
ADDED_TENANT_NAME = "Client Organisation"


class XeroState:
    PRIMARY_TENANT_NAME = "Demo Company (AU)"
    SECOND_TENANT_NAME = "Harbourside Holdings (AU)"

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        now = sandbox.clock.now()
        self.tenants: dict[str, Tenant] = {}
        self.orgs: dict[str, Organisation] = {}
        for name in (self.PRIMARY_TENANT_NAME, self.SECOND_TENANT_NAME):
            tenant = Tenant(_stable_uuid(sandbox.seed, name), name, now)
            self.tenants[tenant.tenant_id] = tenant
            self.orgs[tenant.tenant_id] = Organisation(sandbox, tenant.tenant_id, name)
        self.listeners: list[Callable[[XeroEvent], None]] = []
        self.limiter = RateLimiter(sandbox.clock)  # per-tenant and app-wide call counters
        self.idempotency = IdempotencyStore(sandbox.clock)  # Idempotency-Key replays
        self.identity = IdentityState(sandbox, self)
        self.webhooks = WebhookState(sandbox, self)

    @property
    def primary_tenant_id(self) -> str:
        return next(iter(self.tenants))

    @property
    def primary(self) -> Organisation:
        return self.orgs[self.primary_tenant_id]

    def add_organisations(self, count: int, parties: int = 0) -> list[Tenant]:
        """``count`` more organisations, as a consultant's practice has (the benchmark uses 50).

        Each gets a stable name and id from the sandbox seed and its place in line (the third
        organisation ever added is the same on every run with the same seed), no contacts unless
        ``parties`` is given (then the Xero side of a generated world of that many parties, seeded
        from its name), and the default limits. A sign-in afterwards that grants every tenant (the
        authorize page's default) covers them; a grant made earlier does not, as in Xero, where a
        user adds a new organisation to an app by signing in again.
        """
        if count < 0:
            raise ValueError("count must be >= 0")
        now = self.sandbox.clock.now()
        added: list[Tenant] = []
        for _ in range(count):
            number = len(self.tenants) + 1
            name = f"{ADDED_TENANT_NAME} {number:03d} (AU)"
            tenant = Tenant(_stable_uuid(self.sandbox.seed, name), name, now)
            org = Organisation(self.sandbox, tenant.tenant_id, name)
            if parties > 0:
                from sandbox.generator import generate

                org.load(generate(parties=parties, seed=self.sandbox.seed * 1_000 + number))
            self.tenants[tenant.tenant_id] = tenant
            self.orgs[tenant.tenant_id] = org
            added.append(tenant)
        return added

    def emit_contact_event(self, tenant_id: str, contact_id: str, event_type: str) -> None:
        self.emit_event(tenant_id, "CONTACT", contact_id, event_type)

    def emit_event(
        self,
        tenant_id: str,
        category: str,
        resource_id: str,
        event_type: str,
        data: dict[str, str] | None = None,
    ) -> None:
        event = XeroEvent(tenant_id, resource_id, event_type, self.sandbox.clock.now(), category, data)
        for listener in list(self.listeners):
            listener(event)

    def load(self, dataset: Dataset) -> None:
        """Seed the primary organisation; the second one stays empty (a tenant to choose from)."""
        from sandbox.xero.money import load_book

        self.primary.load(dataset)
        load_book(self.primary, dataset)

    def demo_env(self) -> dict[str, str]:
        return self.identity.demo_env()
