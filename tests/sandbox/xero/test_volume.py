"""A large organisation: seeding and paging stay quick (the 100k figures are in the report)."""

from __future__ import annotations

import random
import time
import uuid
from datetime import UTC, datetime, timedelta

from sandbox.app import Sandbox
from sandbox.server import SandboxServer
from tests.sandbox.xero.conftest import XeroApi, seed

N = 20_000


def test_paging_a_large_organisation_returns_every_contact_once_in_order(
    server: SandboxServer, sandbox: Sandbox, api: XeroApi
) -> None:
    rng = random.Random(5)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    contacts = [
        {
            "ContactID": str(uuid.UUID(int=rng.getrandbits(128))),
            "Name": f"Contact {i}",
            "ContactNumber": f"CAP-{i}",
            "ContactStatus": "ARCHIVED" if i % 10 == 0 else "ACTIVE",
            # Many share a second, so the ContactID tie-break matters.
            "UpdatedDateUTC": start + timedelta(seconds=rng.randrange(0, 5_000)),
        }
        for i in range(N)
    ]
    began = time.perf_counter()
    seed(server, sandbox, contacts)
    seen: list[str] = []
    page = 1
    while True:
        body = api.get("/Contacts", params={"page": page, "pageSize": 1000, "includeArchived": "true"}).json()
        seen += [c["ContactID"] for c in body["Contacts"]]
        if page >= body["pagination"]["pageCount"]:
            break
        page += 1
    elapsed = time.perf_counter() - began
    expected = sorted(contacts, key=lambda c: (c["UpdatedDateUTC"], c["ContactID"]))
    assert seen == [c["ContactID"] for c in expected]
    assert elapsed < 15, f"seeding and paging {N} contacts took {elapsed:.1f} s"
    # Active only, and an incremental read from a cursor, are consistent with the full walk.
    active = api.get("/Contacts", params={"page": 1, "pageSize": 1}).json()["pagination"]["itemCount"]
    assert active == N - N // 10
    cursor = expected[N // 2]["UpdatedDateUTC"]
    since = api.get(
        "/Contacts",
        params={"page": 1, "includeArchived": "true"},
        headers={"If-Modified-Since": cursor.strftime("%Y-%m-%dT%H:%M:%S")},
    ).json()["pagination"]["itemCount"]
    assert since == sum(1 for c in contacts if c["UpdatedDateUTC"] >= cursor)
