"""Bearer auth and the hourly per-user rate limit."""

from __future__ import annotations

import httpx

from sandbox.app import Sandbox
from sandbox.capsule.control import CapsuleControl
from sandbox.server import SandboxServer
from tests.sandbox.capsule.world import api_client, example


def test_a_missing_or_unknown_token_gets_401_with_www_authenticate(server: SandboxServer) -> None:
    for token in (None, "not-a-real-token"):
        with api_client(server, token) as client:
            response = client.get("/parties")
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'
        assert set(response.json()) == {"message"}
        assert "x-ratelimit-limit" not in response.headers


def test_the_personal_token_is_stable_for_a_seed_and_differs_between_seeds() -> None:
    first, again, other = Sandbox(seed=3), Sandbox(seed=3), Sandbox(seed=4)
    token = first.capsule.demo_env()["CAPSULE_API_TOKEN"]
    assert token == again.capsule.demo_env()["CAPSULE_API_TOKEN"]
    assert token != other.capsule.demo_env()["CAPSULE_API_TOKEN"]


def test_rate_limit_headers_are_on_every_authenticated_answer(capsule: httpx.Client) -> None:
    ok = capsule.get("/parties")
    missing = capsule.get("/parties/1")
    assert missing.status_code == 404
    for response in (ok, missing):
        assert response.headers["x-ratelimit-limit"] == "4000"
        assert int(response.headers["x-ratelimit-reset"]) % 3600 == 0
    assert int(ok.headers["x-ratelimit-remaining"]) - 1 == int(missing.headers["x-ratelimit-remaining"])


def test_after_the_hourly_limit_comes_a_429_until_the_window_passes(
    capsule: httpx.Client, ctl: CapsuleControl, sandbox: Sandbox
) -> None:
    ctl.set_rate_limit(limit=3)
    remaining = [capsule.get("/site").headers["x-ratelimit-remaining"] for _ in range(3)]
    assert remaining == ["2", "1", "0"]
    refused = capsule.get("/site")
    assert refused.status_code == 429
    assert refused.json() == example("error-429.json")
    assert "retry-after" not in refused.headers
    assert refused.headers["x-ratelimit-remaining"] == "0"
    assert refused.headers["x-ratelimit-limit"] == "3"
    reset = int(refused.headers["x-ratelimit-reset"])
    assert capsule.get("/site").status_code == 429  # refused calls do not restart the window
    sandbox.clock.advance(reset - sandbox.clock.timestamp() + 1)
    recovered = capsule.get("/site")
    assert recovered.status_code == 200
    assert recovered.headers["x-ratelimit-remaining"] == "2"
    assert int(recovered.headers["x-ratelimit-reset"]) == reset + 3600
    assert any(c["rate_limit_problem"] == "hourly" for c in ctl.calls(api="capsule"))


def test_the_limit_is_per_user_not_per_token(
    capsule: httpx.Client, ctl: CapsuleControl, server: SandboxServer
) -> None:
    ctl.set_rate_limit(limit=2)
    mia_app = ctl.mint_app_token(client_id="app-a")["access_token"]
    tom_app = ctl.mint_app_token(client_id="app-b", user_id=612051)["access_token"]
    capsule.get("/site")
    with api_client(server, mia_app) as mia, api_client(server, tom_app) as tom:
        assert mia.get("/site").status_code == 200
        assert mia.get("/site").status_code == 429
        assert tom.get("/site").status_code == 200
        assert tom.get("/users/current").json()["user"]["username"] == "tom.fraser"


def test_a_read_only_app_token_cannot_write(
    capsule: httpx.Client, ctl: CapsuleControl, server: SandboxServer
) -> None:
    token = ctl.mint_app_token(scope="read")["access_token"]
    with api_client(server, token) as client:
        assert client.get("/parties").status_code == 200
        response = client.post("/parties", json={"party": {"type": "person", "firstName": "A"}})
    assert response.status_code == 403
    assert "write" in response.json()["message"]
