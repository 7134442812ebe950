"""Fixtures for the Xero Accounting API stand-in: a ready token, tenant headers, httpx clients."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from sandbox.app import Sandbox
from sandbox.server import SandboxServer
from sandbox.xero.control import XeroControl
from sandbox.xero.state import ContactEvent
from tests.support.waiting import wait_for  # noqa: F401 - re-exported for the tests here

API = "/api.xro/2.0"


class XeroApi:
    """A thin httpx client for /api.xro/2.0 with the bearer token and tenant header set."""

    def __init__(self, server: SandboxServer, token: str, tenant_id: str, accept_json: bool = True) -> None:
        headers = {"Authorization": f"Bearer {token}", "xero-tenant-id": tenant_id}
        if accept_json:
            headers["Accept"] = "application/json"
        self.server = server
        self.token = token
        self.tenant_id = tenant_id
        self.http = httpx.Client(base_url=server.xero_url + API, headers=headers, timeout=30, trust_env=False)

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return self.http.get(path, **kw)

    def put(self, path: str, **kw: Any) -> httpx.Response:
        return self.http.put(path, **kw)

    def post(self, path: str, **kw: Any) -> httpx.Response:
        return self.http.post(path, **kw)

    def delete(self, path: str, **kw: Any) -> httpx.Response:
        return self.http.delete(path, **kw)

    def create(self, **fields: Any) -> dict[str, Any]:
        """PUT one contact and return it (fails the test on anything but a 200)."""
        response = self.put("/Contacts", json={"Contacts": [fields]})
        assert response.status_code == 200, response.text
        return response.json()["Contacts"][0]

    def contact(self, key: str) -> dict[str, Any]:
        response = self.get(f"/Contacts/{key}")
        assert response.status_code == 200, response.text
        return response.json()["Contacts"][0]

    def close(self) -> None:
        self.http.close()


@pytest.fixture
def tenant_id(sandbox: Sandbox) -> str:
    return sandbox.xero.primary_tenant_id


@pytest.fixture
def second_tenant_id(sandbox: Sandbox) -> str:
    return next(t for t in sandbox.xero.tenants if t != sandbox.xero.primary_tenant_id)


@pytest.fixture
def issue(server: SandboxServer, sandbox: Sandbox) -> Callable[..., str]:
    """``issue(scopes=..., client_id=...)`` → a fresh access token, issued on the server's thread."""

    def make(**kwargs: Any) -> str:
        if "scopes" in kwargs:
            kwargs["scopes"] = frozenset(kwargs["scopes"])
        return server.call(lambda: sandbox.xero.identity.issue_access_token(**kwargs)).token

    return make


@pytest.fixture
def token(issue: Callable[..., str]) -> str:
    return issue()


@pytest.fixture
def api(server: SandboxServer, token: str, tenant_id: str) -> Iterator[XeroApi]:
    client = XeroApi(server, token, tenant_id)
    yield client
    client.close()


@pytest.fixture
def xml_api(server: SandboxServer, token: str, tenant_id: str) -> Iterator[XeroApi]:
    client = XeroApi(server, token, tenant_id, accept_json=False)
    yield client
    client.close()


@pytest.fixture
def xero_control(server: SandboxServer) -> Iterator[XeroControl]:
    client = XeroControl(server.xero_url)
    yield client
    client.close()


@pytest.fixture
def events(sandbox: Sandbox) -> list[ContactEvent]:
    """Contact events the stand-in announces (what webhooks would deliver)."""
    seen: list[ContactEvent] = []
    sandbox.xero.listeners.append(seen.append)
    return seen


def ms(value: str) -> int:
    """Epoch milliseconds of a ``/Date(ms+0000)/`` string."""
    inner = value[value.index("(") + 1 : value.index(")")]
    for sign in ("+", "-"):
        if sign in inner[1:]:
            inner = inner[: inner.index(sign, 1)]
    return int(inner)


def seed(server: SandboxServer, sandbox: Sandbox, contacts: list[dict[str, Any]], **extra: Any) -> None:
    """Load contacts (Xero field names, ``UpdatedDateUTC`` a datetime) into the primary organisation."""
    from sandbox.generator.dataset import Dataset

    dataset = Dataset(seed=0, size=len(contacts), xero_contacts=contacts, **extra)
    server.call(lambda: sandbox.xero.primary.load(dataset))
