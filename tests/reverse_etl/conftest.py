"""Fixtures for the reverse-ETL writers: a signed-in Xero home, quick pacing, Capsule with definitions."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from capsule_xero.capsule.pacing import CapsulePacer
from capsule_xero.settings import Settings
from capsule_xero.xero.auth import XeroAuth
from capsule_xero.xero.pacing import PacingPolicy
from capsule_xero.xero.token_store import TokenSet
from capsule_xero.xero.transports import reset_pacers
from reverse_etl.writers.payloads import ContactOperation
from reverse_etl.writers.xero import XeroContactWriter
from sandbox.app import Sandbox
from sandbox.capsule.control import CapsuleControl
from sandbox.generator import Dataset, generate
from sandbox.server import SandboxServer
from sandbox.xero.control import XeroControl

API = "/api.xro/2.0"
CONTACTS = f"{API}/Contacts"

# Production limits, test-sized waits: a hang is given up after 1 s, backoff starts at 20 ms.
QUICK = PacingPolicy(
    read_timeout=1.0,
    connect_timeout=1.0,
    backoff_initial=0.02,
    backoff_max=0.2,
    backoff_jitter=0.0,
)


@pytest.fixture(autouse=True)
def _fresh_pacers() -> Iterator[None]:
    reset_pacers()
    yield
    reset_pacers()


@pytest.fixture
def tenant(sandbox: Sandbox) -> str:
    return sandbox.xero.primary_tenant_id


@pytest.fixture
def settings(server: SandboxServer, tmp_path: Path, tenant: str) -> Settings:
    env = server.env() | {"CAPSULE_XERO_HOME": str(tmp_path / "home"), "XERO_TENANT_ID": tenant}
    return Settings.from_env(env)


@pytest.fixture
def auth(settings: Settings, xero: XeroControl, tenant: str) -> XeroAuth:
    """Signed in without the browser dance (tests/capsule_xero covers that): a token the stand-in
    issued for the organisation, in the token store where ``auth login`` would have put it."""
    auth = XeroAuth(settings)
    issued = xero.issue_token(tenant_ids=[tenant])
    auth.store.save(
        TokenSet(
            access_token=issued["access_token"],
            expires_at=datetime.now(UTC) + timedelta(minutes=20),
            scopes=list(issued["scopes"]),
            tenant_id=tenant,
        )
    )
    return auth


@pytest.fixture
def xero(server: SandboxServer) -> Iterator[XeroControl]:
    client = XeroControl(server.xero_url)
    yield client
    client.close()


@pytest.fixture
def ctl(server: SandboxServer) -> Iterator[CapsuleControl]:
    client = CapsuleControl(server.capsule_url)
    yield client
    client.close()


@pytest.fixture
def writer(settings: Settings, auth: XeroAuth) -> Iterator[XeroContactWriter]:
    with XeroContactWriter(settings, auth, policy=QUICK) as out:
        yield out


@pytest.fixture
def capsule_world(server: SandboxServer, sandbox: Sandbox) -> Dataset:
    """A small generated Capsule account (its field definitions include "Xero Contact ID")."""
    data = generate(30, seed=11)
    server.call(sandbox.capsule.load, data)
    return data


def fast_capsule_pacer(**options: Any) -> CapsulePacer:
    defaults: dict[str, Any] = {
        "backoff_initial": 0.02,
        "backoff_max": 0.2,
        "backoff_jitter": 0.0,
        "max_wait": 10.0,
        "reset_margin": 0.05,
    }
    return CapsulePacer(**{**defaults, **options})


def new_org(party_id: int, **fields: str | None) -> ContactOperation:
    """A create of an organisation named after its party id unless ``name`` is given."""
    values: dict[str, str | None] = {"name": f"Organisation {party_id} Pty Ltd", **fields}
    return ContactOperation("create", party_id, f"CAP-{party_id}", values)


def xero_calls(
    control: Any, since: int, method: str | None = None, path: str = CONTACTS
) -> list[dict[str, Any]]:
    return [
        c
        for c in control.calls("xero", since)
        if c["path"] == path and (method is None or c["method"] == method)
    ]


def by_number(xero: XeroControl) -> dict[str, list[dict[str, Any]]]:
    """Every Xero contact (archived too) by ContactNumber: a list, so duplicates show."""
    out: dict[str, list[dict[str, Any]]] = {}
    for contact in xero.contacts():
        if contact.get("ContactNumber"):
            out.setdefault(contact["ContactNumber"], []).append(contact)
    return out
