"""Each injected fault kind, as a Capsule client meets it."""

from __future__ import annotations

import time

import httpx
import pytest

from sandbox.capsule.control import CapsuleControl
from sandbox.server import SandboxServer
from tests.sandbox.capsule.world import api_client, example


def _search(client: httpx.Client, name: str) -> list[int]:
    return [p["id"] for p in client.get("/parties/search", params={"q": name}).json()["parties"]]


def test_an_injected_429_looks_exactly_like_the_real_limit(
    capsule: httpx.Client, ctl: CapsuleControl
) -> None:
    ctl.add_fault("capsule", "GET", "/api/v2/parties", times=1, **{"429": 1.0})
    response = capsule.get("/parties")
    assert response.status_code == 429
    assert response.json() == example("error-429.json")
    assert response.headers["x-ratelimit-remaining"] == "0"
    assert response.headers["x-ratelimit-limit"] == "4000"
    assert "x-ratelimit-reset" in response.headers
    assert "retry-after" not in response.headers
    assert capsule.get("/parties").status_code == 200  # `times=1`: only once


@pytest.mark.parametrize("kind", ["500", "503"])
def test_injected_server_errors_answer_with_a_message_body(
    capsule: httpx.Client, ctl: CapsuleControl, kind: str
) -> None:
    ctl.add_fault("capsule", "*", "/api/v2/parties*", times=1, **{kind: 1.0})
    response = capsule.get("/parties/254700101")
    assert response.status_code == int(kind)
    assert set(response.json()) == {"message"}
    assert ctl.calls(api="capsule")[-1]["fault"] == kind


def test_a_hang_outlasts_the_client_timeout_and_the_write_still_lands(
    capsule: httpx.Client, ctl: CapsuleControl, server: SandboxServer, token: str
) -> None:
    ctl.add_fault("capsule", "POST", "/api/v2/parties", times=1, hang_seconds=1.0, hang=1.0)
    body = {"party": {"type": "organisation", "name": "Slow Networks Pty Ltd"}}
    with api_client(server, token, timeout=0.2) as impatient, pytest.raises(httpx.ReadTimeout):
        impatient.post("/parties", json=body)
    assert _search(capsule, "Slow Networks") == []  # still hanging
    deadline = time.monotonic() + 5
    while not _search(capsule, "Slow Networks") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(_search(capsule, "Slow Networks")) == 1  # the client gave up, the write did not


def test_a_drop_after_commit_loses_the_answer_but_not_the_party(
    capsule: httpx.Client, ctl: CapsuleControl
) -> None:
    ctl.add_fault("capsule", "POST", "/api/v2/parties", times=1, drop=1.0)
    body = {"party": {"type": "organisation", "name": "Dropped Line Pty Ltd"}}
    with pytest.raises(httpx.HTTPError):
        capsule.post("/parties", json=body)
    assert len(_search(capsule, "Dropped Line")) == 1
    # a blind retry duplicates nothing only because organisation names are unique
    retry = capsule.post("/parties", json=body)
    assert retry.status_code == 422
    assert retry.json()["errors"][0]["message"] == "name must be unique"
