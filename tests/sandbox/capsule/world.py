"""A small Capsule world built from the spec's example payloads, and record builders for tests."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

import httpx

from sandbox.generator import Dataset
from sandbox.server import SandboxServer

REPO = Path(__file__).resolve().parents[3]

Record = dict[str, Any]


def examples_dir() -> Path:
    """``$CAPSULE_XERO_SPECS/capsule/examples``, else ``../shared/specs/capsule/examples``."""
    root = os.environ.get("CAPSULE_XERO_SPECS")
    base = Path(root) if root else REPO.parent / "shared" / "specs"
    return base / "capsule" / "examples"


def example(name: str) -> Any:
    path = examples_dir() / name
    # A missing folder is a failure, never a skip: these payloads are the contract.
    assert path.is_file(), f"Capsule example payload missing: {path}"
    return json.loads(path.read_text())


MIA_OWNER = {  # the owner as examples/party-*.json nest it (user 612044, first in users.json)
    "id": 612044,
    "deleted": False,
    "username": "mia.nguyen",
    "pictureURL": "https://facehub.appspot.com/default/person?text=MN&size=100",
    "name": "Mia Nguyen",
}
TEAM = {"id": 5521, "name": "NSW Sales"}


def make_org(party_id: int, name: str, updated: str = "2025-07-01T00:00:00Z", **extra: Any) -> Record:
    """An organisation shaped like examples/party-organisation.json (every embed on)."""
    record: Record = {
        "id": party_id,
        "owner": copy.deepcopy(MIA_OWNER),
        "team": dict(TEAM),
        "type": "organisation",
        "about": None,
        "name": name,
        "createdAt": "2024-01-01T00:00:00Z",
        "updatedAt": updated,
        "lastContactedAt": None,
        "pictureURL": "https://capsulecrm.com/theme/default/images/org_avatar_70.png",
        "enrichment": None,
        "phoneNumbers": [],
        "addresses": [],
        "emailAddresses": [],
        "websites": [],
        "tags": [],
        "fields": [],
        "missingImportantFields": True,
    }
    record.update(extra)
    return record


def make_person(
    party_id: int, first: str, last: str, org: Record | None = None, updated: str = "2025-07-01T00:00:00Z"
) -> Record:
    return {
        "id": party_id,
        "owner": copy.deepcopy(MIA_OWNER),
        "team": dict(TEAM),
        "type": "person",
        "about": None,
        "title": None,
        "firstName": first,
        "lastName": last,
        "jobTitle": None,
        "createdAt": "2024-01-01T00:00:00Z",
        "updatedAt": updated,
        "organisation": (
            {"id": org["id"], "type": "organisation", "name": org["name"], "pictureURL": org["pictureURL"]}
            if org
            else None
        ),
        "lastContactedAt": None,
        "pictureURL": "https://facehub.appspot.com/default/person?text=XX&size=100",
        "enrichment": None,
        "phoneNumbers": [],
        "addresses": [],
        "emailAddresses": [],
        "websites": [],
        "tags": [],
        "fields": [],
        "missingImportantFields": False,
    }


def example_world() -> Dataset:
    """The example payloads as one consistent account, plus the party the example PUT targets."""
    org = example("party-organisation.json")["party"]
    person = example("party-person.json")["party"]
    coral = next(p for p in example("parties-page.json")["parties"] if p["id"] == 254700103)
    # examples/update-party-request.json edits party 254700102: phone row 568902201 and value row
    # 30500202 (Payment Terms) must exist on it.
    mildura = make_org(
        254700102,
        "Mildura Dried Fruits Co-op",
        updated="2025-07-02T03:04:05Z",
        phoneNumbers=[{"id": 568902201, "type": "Work", "number": "(03) 5021 0000"}],
        fields=[
            {"id": 30500202, "definition": {"id": 812303, "name": "Payment Terms (days)"}, "value": "14"}
        ],
    )
    deleted = example("parties-deleted.json")
    kase = example("kase.json")["kase"]
    task = example("task.json")["task"]
    done = {**copy.deepcopy(task), "id": 147300102, "status": "COMPLETED", "description": "Done already"}
    pending = {**copy.deepcopy(task), "id": 147300103, "status": "PENDING", "description": "No longer needed"}
    on_kase = {
        **copy.deepcopy(task),
        "id": 147300104,
        "party": None,
        "kase": {"id": kase["id"], "name": kase["name"]},
    }
    return Dataset(
        seed=11,
        size=4,
        capsule_parties=[org, mildura, coral, person],
        capsule_deleted_parties=[*deleted["parties"], *deleted["restrictedParties"]],
        capsule_users=example("users.json")["users"],
        capsule_field_definitions=example("party-field-definitions.json")["definitions"],
        capsule_tags=example("party-tags.json")["tags"],
        capsule_opportunities=[example("opportunity.json")["opportunity"]],
        capsule_deleted_opportunities=[{"id": 8840001, "deletedAt": "2025-07-05T01:00:00Z"}],
        capsule_kases=[kase],
        capsule_deleted_kases=[{"id": 5590001, "deletedAt": "2025-07-06T01:00:00Z"}],
        capsule_tasks=[task, done, pending, on_kase],
    )


def api_client(server: SandboxServer, token: str | None, timeout: float = 10.0) -> httpx.Client:
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.Client(base_url=f"{server.capsule_url}/api/v2", headers=headers, timeout=timeout)


def ids_of(response: httpx.Response, key: str = "parties") -> list[int]:
    return [r["id"] for r in response.json()[key]]


def numbered_world(count: int, first_id: int = 1000, updated: str = "2025-07-01T00:00:00Z") -> Dataset:
    """``count`` organisations with ids ``first_id...``, names "Org 00001"..., plus the example users."""
    parties = [make_org(first_id + n, f"Org {n:05d}", updated=updated) for n in range(count)]
    return Dataset(
        seed=5,
        size=count,
        capsule_parties=parties,
        capsule_users=example("users.json")["users"],
        capsule_field_definitions=example("party-field-definitions.json")["definitions"],
        capsule_tags=example("party-tags.json")["tags"],
    )
