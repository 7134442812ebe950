"""The sandbox's shared machinery: clock, fault plan, call log, middleware and server."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.app import Sandbox
from sandbox.clock import SandboxClock
from sandbox.control import SandboxControl
from sandbox.faults import FaultPlan, FaultRule
from sandbox.middleware import SandboxMiddleware
from sandbox.server import SandboxServer


class TinyApi:
    """A one-route API behind the real middleware and a real uvicorn, to watch faults land."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.writes: list[dict] = []

        async def things(request: Request) -> Response:
            if request.method == "POST":
                self.writes.append(json.loads(await request.body()))
                request.state.call.batch_size = 1
                return JSONResponse({"saved": len(self.writes)}, status_code=201)
            return JSONResponse({"things": len(self.writes)})

        async def slow(request: Request) -> Response:
            await asyncio.sleep(0.3)
            return JSONResponse({})

        app = Starlette(
            routes=[Route("/api/things", things, methods=["GET", "POST"]), Route("/api/slow", slow)]
        )
        self.app = SandboxMiddleware(
            app,
            sandbox,
            classify=lambda path: "tiny",
            fault_responder=lambda kind, scope: JSONResponse({"fault": kind}, status_code=int(kind)),
        )


@pytest.fixture
def tiny() -> Iterator[tuple[TinyApi, str]]:
    sandbox = Sandbox(seed=1)
    api = TinyApi(sandbox)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(api.app, log_level="critical", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    yield api, f"http://127.0.0.1:{sock.getsockname()[1]}"
    server.should_exit = True
    thread.join(5)


def test_a_sped_up_clock_makes_a_sandbox_minute_pass_in_about_a_real_second() -> None:
    clock = SandboxClock(speed=60)
    start = clock.now()
    time.sleep(0.2)
    elapsed = (clock.now() - start).total_seconds()
    assert 11 <= elapsed <= 20


def test_advancing_the_clock_moves_sandbox_time_without_waiting() -> None:
    clock = SandboxClock()
    start = clock.now()
    clock.advance(60 * 86400)
    assert (clock.now() - start).total_seconds() >= 60 * 86400


def test_retry_after_is_whole_real_seconds_and_never_shorter_than_the_wait() -> None:
    assert SandboxClock(speed=1).retry_after(59.2) == 60
    assert SandboxClock(speed=60).retry_after(59) == 1
    assert SandboxClock(speed=10).retry_after(15) == 2
    assert SandboxClock(speed=1000).retry_after(0) == 1


def test_a_fault_rule_with_times_fires_exactly_that_often() -> None:
    plan = FaultPlan(seed=3)
    plan.add(
        FaultRule(
            api="xero", method="POST", path="/api.xro/2.0/Contacts", probabilities={"503": 1.0}, times=2
        )
    )
    kinds = [plan.pick("xero", "POST", "/api.xro/2.0/Contacts") for _ in range(5)]
    assert [k.kind if k else None for k in kinds] == ["503", "503", None, None, None]
    assert plan.pick("xero", "GET", "/api.xro/2.0/Contacts") is None


def test_the_same_seed_gives_the_same_faults() -> None:
    def run(seed: int) -> list[str | None]:
        plan = FaultPlan(seed=seed)
        plan.add(FaultRule(path="/x*", probabilities={"429": 0.3, "500": 0.2}))
        return [(f.kind if (f := plan.pick("a", "GET", "/x1")) else None) for _ in range(200)]

    assert run(5) == run(5)
    assert run(5) != run(6)
    kinds = run(5)
    assert 30 <= kinds.count("429") <= 90 and 15 <= kinds.count("500") <= 70


@pytest.mark.parametrize(
    "probabilities",
    [{"teapot": 0.5}, {"429": 0.7, "500": 0.5}, {"500": -0.1}],
    ids=["unknown", "over-one", "negative"],
)
def test_a_fault_rule_refuses_unknown_kinds_and_impossible_probabilities(
    probabilities: dict[str, float],
) -> None:
    with pytest.raises(ValueError):
        FaultRule(probabilities=probabilities)


def test_an_injected_503_answers_for_the_api_and_never_reaches_the_handler(tiny: tuple[TinyApi, str]) -> None:
    api, url = tiny
    api.sandbox.faults.add(FaultRule(api="tiny", method="POST", probabilities={"503": 1.0}, times=1))
    response = httpx.post(f"{url}/api/things", json={"n": 1})
    assert response.status_code == 503 and response.json() == {"fault": "503"}
    assert api.writes == []
    assert httpx.post(f"{url}/api/things", json={"n": 2}).status_code == 201
    assert api.writes == [{"n": 2}]


def test_a_dropped_connection_commits_the_write_but_the_client_never_sees_the_answer(
    tiny: tuple[TinyApi, str],
) -> None:
    api, url = tiny
    api.sandbox.faults.add(FaultRule(api="tiny", method="POST", probabilities={"drop": 1.0}, times=1))
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.post(f"{url}/api/things", json={"n": 1})
    assert api.writes == [{"n": 1}]
    assert httpx.get(f"{url}/api/things").json() == {"things": 1}


def test_a_hang_outlasts_the_client_timeout_and_the_write_still_lands_afterwards(
    tiny: tuple[TinyApi, str],
) -> None:
    api, url = tiny
    api.sandbox.faults.add(
        FaultRule(api="tiny", method="POST", probabilities={"hang": 1.0}, times=1, hang_seconds=1.0)
    )
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{url}/api/things", json={"n": 1}, timeout=0.2)
    assert api.writes == []
    deadline = time.monotonic() + 5
    while not api.writes and time.monotonic() < deadline:
        time.sleep(0.05)
    assert api.writes == [{"n": 1}]


def test_the_call_log_records_status_batch_size_fault_and_peak_concurrency(tiny: tuple[TinyApi, str]) -> None:
    api, url = tiny
    api.sandbox.faults.add(
        FaultRule(api="tiny", method="GET", path="/api/things", probabilities={"429": 1.0}, times=1)
    )
    assert httpx.get(f"{url}/api/things").status_code == 429
    assert httpx.post(f"{url}/api/things", json={}).status_code == 201

    async def burst() -> None:
        async with httpx.AsyncClient() as client:
            await asyncio.gather(*(client.get(f"{url}/api/slow") for _ in range(4)))

    asyncio.run(burst())
    records = api.sandbox.calls.records("tiny")
    assert [(r.method, r.path, r.status, r.fault) for r in records[:2]] == [
        ("GET", "/api/things", 429, "429"),
        ("POST", "/api/things", 201, None),
    ]
    assert records[1].batch_size == 1
    stats = api.sandbox.calls.stats("tiny")
    assert stats["calls"] == 6 and stats["served_429"] == 1 and stats["writes"] == 1
    assert stats["peak_concurrency"]["tiny"] == 4


def test_the_call_log_never_holds_the_credentials_a_client_sent(tiny: tuple[TinyApi, str]) -> None:
    api, url = tiny
    secret = "s3cr3t-access-token-value"
    httpx.get(f"{url}/api/things", headers={"Authorization": f"Bearer {secret}", "xero-tenant-id": "t"})
    dumped = json.dumps([r.as_dict() for r in api.sandbox.calls.records()])
    assert secret not in dumped


def test_the_sandbox_listens_on_loopback_only_and_reports_where(server: SandboxServer) -> None:
    for api in ("xero", "capsule"):
        host, _ = server._sockets[api].getsockname()
        assert host == "127.0.0.1"
    env = server.env()
    assert env["XERO_API_URL"].startswith("http://127.0.0.1:") and env["XERO_API_URL"].endswith(
        "/api.xro/2.0"
    )
    assert env["CAPSULE_API_URL"].startswith("http://127.0.0.1:") and env["CAPSULE_API_URL"].endswith(
        "/api/v2"
    )


def test_faults_and_the_clock_are_controlled_over_the_admin_api(control: SandboxControl) -> None:
    rule = control.add_fault("xero", "POST", "/api.xro/2.0/Contacts", times=2, **{"503": 1.0})
    assert rule["times"] == 2 and rule["probabilities"] == {"503": 1.0}
    with pytest.raises(RuntimeError, match="unknown fault kind"):
        control.add_fault("xero", **{"418": 1.0})
    before = control.set_clock()["now"]
    after = control.set_clock(advance_seconds=3600)["now"]
    assert after > before
    control.clear_faults()
    assert control.http.get("/_sandbox/faults").json() == {"rules": []}
