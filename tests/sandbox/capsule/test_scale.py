"""Scale: 100k parties load at once and all their pages are served in seconds."""

from __future__ import annotations

import re
import time

import pytest

from sandbox.app import Sandbox
from sandbox.generator import Dataset
from sandbox.server import SandboxServer
from tests.sandbox.capsule.world import api_client, example

NEXT = re.compile(r'<([^>]*)>\s*;\s*rel="next"')
COUNT = 100_000


def big_world(count: int) -> Dataset:
    """``count`` organisations shaped like the example one (fields, tags, rows), with varied updatedAt."""
    template = example("party-organisation.json")["party"]
    parties = [
        {
            **template,  # nested lists are shared: the store never mutates a record in place
            "id": 1_000_000 + n,
            "name": f"Org {n:07d}",
            "updatedAt": f"2025-{1 + n % 12:02d}-{1 + n % 28:02d}T{n % 24:02d}:{n % 60:02d}:00Z",
        }
        for n in range(count)
    ]
    return Dataset(
        seed=1,
        size=count,
        capsule_parties=parties,
        capsule_users=example("users.json")["users"],
        capsule_field_definitions=example("party-field-definitions.json")["definitions"],
        capsule_tags=example("party-tags.json")["tags"],
    )


@pytest.mark.slow
def test_all_pages_of_100k_parties_are_served_in_seconds(
    sandbox: Sandbox, server: SandboxServer, token: str, capsys: pytest.CaptureFixture[str]
) -> None:
    world = big_world(COUNT)
    started = time.perf_counter()
    server.call(sandbox.capsule.load, world)
    load_seconds = time.perf_counter() - started

    seen = 0
    pages = 0
    started = time.perf_counter()
    with api_client(server, token, timeout=30) as client:
        response = client.get("/parties", params={"perPage": 100, "embed": "tags,fields"})
        while True:
            assert response.status_code == 200
            seen += len(response.json()["parties"])
            pages += 1
            match = NEXT.search(response.headers.get("link", ""))
            if match is None:
                break
            response = client.get(match.group(1))
        serve_seconds = time.perf_counter() - started

        # an incremental read after a few edits costs one sort of the few changed ids, not a scan per page
        cutoff = "2025-12-31T23:59:59Z"
        for party_id in range(1_000_000, 1_000_010):
            client.put(f"/parties/{party_id}", json={"party": {"about": "edited"}})
        started = time.perf_counter()
        changed = client.get("/parties", params={"since": cutoff, "perPage": 100}).json()["parties"]
        since_seconds = time.perf_counter() - started

    assert seen == COUNT and pages == COUNT // 100
    assert [p["id"] for p in changed] == list(range(1_000_000, 1_000_010))
    with capsys.disabled():
        print(
            f"\n[capsule scale] load {COUNT:,} parties: {load_seconds:.2f}s; "
            f"all {pages} pages (perPage=100, embed=tags,fields) over HTTP: {serve_seconds:.2f}s; "
            f"since after 10 edits: {since_seconds * 1000:.0f} ms"
        )
    assert load_seconds < 10
    assert serve_seconds < 60  # measured about 4 s on a 2-core CI box
    assert since_seconds < 2


def test_paging_with_since_never_re_sorts_per_page(sandbox: Sandbox) -> None:
    """White-box: one ``since`` value is resolved once and reused for every later page."""
    sandbox.capsule.load(big_world(1000))
    parties = sandbox.capsule.parties
    first = parties.ids("2025-06-01T00:00:00Z")
    assert parties.ids("2025-06-01T00:00:00Z") is first
    assert first == sorted(first)
    assert all(parties.by_id[i]["updatedAt"] > "2025-06-01T00:00:00Z" for i in first)
