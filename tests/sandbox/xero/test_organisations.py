"""More Xero organisations on demand (a consultant's clients): stable ids, separate books and limits,
and a sign-in that grants every tenant covers them."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from capsule_xero.settings import Settings
from capsule_xero.xero.auth import XeroAuth, login
from sandbox.app import Sandbox
from sandbox.server import SandboxServer
from sandbox.xero.control import XeroControl
from tests.sandbox.xero.conftest import XeroApi


def test_added_organisations_have_the_same_ids_for_the_same_seed_and_others_for_another() -> None:
    first, again, other = Sandbox(seed=5), Sandbox(seed=5), Sandbox(seed=6)
    ids = [[t.tenant_id for t in s.xero.add_organisations(3)] for s in (first, again, other)]
    assert ids[0] == ids[1] and len(set(ids[0])) == 3
    assert not set(ids[0]) & set(ids[2])
    assert len(first.xero.tenants) == 5 and first.xero.primary_tenant_id == next(iter(first.xero.tenants))
    assert [t.name for t in first.xero.tenants.values()][2:] == [
        "Client Organisation 003 (AU)",
        "Client Organisation 004 (AU)",
        "Client Organisation 005 (AU)",
    ]


def test_an_added_organisation_can_be_seeded_with_a_generated_book() -> None:
    sandbox = Sandbox(seed=5)
    empty, seeded = (sandbox.xero.add_organisations(1, parties=p)[0] for p in (0, 40))
    assert not sandbox.xero.orgs[empty.tenant_id].contacts
    assert sandbox.xero.orgs[seeded.tenant_id].contacts


def test_organisations_added_through_the_control_api_are_listed_and_a_bad_count_is_refused(
    xero_control: XeroControl,
) -> None:
    tenants = xero_control.add_organisations(4)
    assert len(tenants) == 6 and [t["contacts"] for t in tenants[2:]] == [0, 0, 0, 0]
    assert all(t["limits"] == {"minute": 60, "day": 5000, "concurrent": 5} for t in tenants)
    with pytest.raises(RuntimeError, match="count must be >= 0"):
        xero_control.add_organisations(-1)


def test_a_sign_in_granting_every_tenant_covers_the_added_ones_each_with_its_own_contacts_and_limits(
    server: SandboxServer, xero_control: XeroControl, tmp_path: Path
) -> None:
    added = [t["tenant_id"] for t in xero_control.add_organisations(3)[2:]]
    settings = Settings.from_env(server.env() | {"CAPSULE_XERO_HOME": str(tmp_path)})
    auth = XeroAuth(settings)
    login(auth, choose_tenant=lambda c: c[0], open_url=lambda u: httpx.get(u, follow_redirects=True))
    token = auth.current().access_token
    connected = httpx.get(
        f"{server.xero_url}/connections", headers={"Authorization": f"Bearer {token}"}
    ).json()
    assert set(added) <= {c["tenantId"] for c in connected}
    xero_control.set_limits(added[1], minute=1)
    clients = [XeroApi(server, token, tenant) for tenant in added]
    try:
        made = clients[0].create(Name="Only In The First Added")
        assert [c["ContactID"] for c in xero_control.contacts(added[0])] == [made["ContactID"]]
        assert xero_control.contacts(added[1]) == [] and xero_control.contacts(added[2]) == []
        assert clients[1].get("/Contacts").status_code == 200
        assert clients[1].get("/Contacts").status_code == 429  # its own minute is used up...
        assert clients[2].get("/Contacts").status_code == 200  # ...not its neighbour's
    finally:
        for client in clients:
            client.close()


def test_a_grant_made_before_an_organisation_was_added_does_not_reach_it(
    server: SandboxServer, xero_control: XeroControl
) -> None:
    token = xero_control.issue_token()["access_token"]
    added = xero_control.add_organisations(1)[-1]["tenant_id"]
    client = XeroApi(server, token, added)
    try:
        assert client.get("/Contacts").status_code == 403
    finally:
        client.close()
