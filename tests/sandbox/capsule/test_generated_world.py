"""The generator's world loads into the stand-in and every list pages through completely."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx

from sandbox.generator import Dataset, generate

NEXT = re.compile(r'<([^>]*)>\s*;\s*rel="next"')


def _all(client: httpx.Client, path: str, key: str, **params: str) -> list[dict]:
    rows: list[dict] = []
    response = client.get(path, params={"perPage": "100", **params})
    while True:
        assert response.status_code == 200, response.text
        rows += response.json()[key]
        match = NEXT.search(response.headers.get("link", ""))
        if match is None:
            return rows
        response = client.get(match.group(1))


def test_a_generated_world_is_served_whole(api: httpx.Client, load: Callable[[Dataset], None]) -> None:
    world = generate(parties=400, seed=2)
    load(world)
    parties = _all(api, "/parties", "parties", embed="tags,fields,missingImportantFields")
    assert sorted(p["id"] for p in parties) == sorted(p["id"] for p in world.capsule_parties)
    assert len(_all(api, "/opportunities", "opportunities")) == len(world.capsule_opportunities)
    assert len(_all(api, "/kases", "kases")) == len(world.capsule_kases)
    tasks = _all(api, "/tasks", "tasks", status="open,completed,pending")
    assert len(tasks) == len(world.capsule_tasks)
    deleted = _all(api, "/parties/deleted", "parties", since="1970-01-01T00:00:00Z")
    assert len(deleted) == len([t for t in world.capsule_deleted_parties if not t.get("isRestricted")])
    if world.capsule_site:
        assert api.get("/site").json()["site"]["subdomain"] == world.capsule_site.get("subdomain")


def test_every_generated_party_can_be_written_back_unchanged(
    api: httpx.Client, load: Callable[[Dataset], None]
) -> None:
    """A no-op PUT on each kind of generated record validates (the generator's data is Capsule-valid)."""
    world = generate(parties=200, seed=4)
    load(world)
    for party in world.capsule_parties[:50]:
        response = api.put(f"/parties/{party['id']}", json={"party": {}})
        assert response.status_code == 200, (party["id"], response.text)
