"""REST hooks: who may subscribe, where to, delivery, batching, retries and unsubscribing."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from sandbox.capsule.control import CapsuleControl
from sandbox.server import SandboxServer
from tests.sandbox.capsule.world import api_client, example


class Receiver:
    """A tiny webhook receiver on 127.0.0.1 answering a scripted list of statuses, then ``default``."""

    def __init__(self, statuses: list[int] | None = None, default: int = 200) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.statuses = list(statuses or [])
        self.default = default
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                receiver.bodies.append(json.loads(self.rfile.read(length)))
                status = receiver.statuses.pop(0) if receiver.statuses else receiver.default
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/capsule-hook"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver()
    yield running
    running.close()


@pytest.fixture
def app(server: SandboxServer, ctl: CapsuleControl, capsule: httpx.Client) -> Iterator[httpx.Client]:
    """The example world, reached with an OAuth app's token (hooks need one); batches of 0.1 s."""
    ctl.set_hook_batch_window(0.1)
    token = ctl.mint_app_token(client_id="xero-sync")["access_token"]
    with api_client(server, token) as client:
        yield client


def subscribe(
    client: httpx.Client, event: str, url: str, embed: str | None = "tags,fields"
) -> dict[str, Any]:
    body: dict[str, Any] = {"restHook": {"event": event, "targetUrl": url, "description": "test"}}
    if embed:
        body["restHook"]["embed"] = embed
    response = client.post("/resthooks", json=body)
    assert response.status_code == 201, response.text
    return response.json()["restHook"]


def wait_until(predicate: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


def test_a_personal_token_cannot_subscribe(capsule: httpx.Client, receiver: Receiver) -> None:
    response = capsule.post(
        "/resthooks", json={"restHook": {"event": "party/updated", "targetUrl": receiver.url}}
    )
    assert response.status_code == 403
    assert "OAuth" in response.json()["message"]
    assert capsule.get("/resthooks").status_code == 403


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.example.com/capsule",
        "http://10.0.0.8/hook",
        "http://127.0.0.1.nip.io/hook",
        "ftp://127.0.0.1/hook",
        "http://user@evil.example/hook",
    ],
)
def test_only_loopback_target_urls_are_accepted(app: httpx.Client, url: str) -> None:
    response = app.post("/resthooks", json={"restHook": {"event": "party/updated", "targetUrl": url}})
    assert response.status_code == 422
    error = response.json()["errors"][0]
    assert error["field"] == "targetUrl" and "127.0.0.1" in error["message"]


@pytest.mark.parametrize("url", ["http://localhost:9/x", "http://[::1]:9/x", "https://127.0.0.1/x"])
def test_loopback_spellings_are_accepted(app: httpx.Client, url: str) -> None:
    assert subscribe(app, "party/created", url)["targetUrl"] == url


def test_hooks_are_listed_shown_and_deleted_by_the_app_that_made_them(
    app: httpx.Client, ctl: CapsuleControl, server: SandboxServer, receiver: Receiver
) -> None:
    hook = subscribe(app, "party/updated", receiver.url)
    assert {
        "id",
        "event",
        "targetUrl",
        "embed",
        "batched",
        "user",
        "clientId",
        "createdAt",
        "updatedAt",
    } <= set(hook)
    assert hook["clientId"] == "xero-sync" and hook["embed"] == "tags,fields"
    assert app.get("/resthooks").json()["restHooks"] == [hook]
    assert app.get(f"/resthooks/{hook['id']}").json() == {"restHook": hook}
    other = ctl.mint_app_token(client_id="someone-else")["access_token"]
    with api_client(server, other) as stranger:
        assert stranger.get("/resthooks").json() == {"restHooks": []}
        assert stranger.get(f"/resthooks/{hook['id']}").status_code == 404
    assert app.delete(f"/resthooks/{hook['id']}").status_code == 204
    assert app.get("/resthooks").json() == {"restHooks": []}


def test_an_account_has_at_most_20_hooks(app: httpx.Client, receiver: Receiver) -> None:
    for _ in range(20):
        subscribe(app, "party/updated", receiver.url)
    response = app.post(
        "/resthooks", json={"restHook": {"event": "party/updated", "targetUrl": receiver.url}}
    )
    assert response.status_code == 422


def test_an_unknown_event_is_refused(app: httpx.Client, receiver: Receiver) -> None:
    response = app.post(
        "/resthooks", json={"restHook": {"event": "party/exploded", "targetUrl": receiver.url}}
    )
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "event"


def test_changes_close_together_arrive_as_one_batch_of_full_records(
    app: httpx.Client, ctl: CapsuleControl, receiver: Receiver
) -> None:
    subscribe(app, "party/updated", receiver.url)
    app.put("/parties/254700201", json={"party": {"jobTitle": "General Manager"}})
    app.put("/parties/254700103", json={"party": {"about": "Reef and wreck dives"}})
    app.put("/parties/254700201", json={"party": {"jobTitle": "Managing Director"}})
    wait_until(lambda: receiver.bodies)
    time.sleep(0.3)
    assert len(receiver.bodies) == 1
    body = receiver.bodies[0]
    assert body["event"] == "party/updated"
    assert [p["id"] for p in body["payload"]] == [254700201, 254700103]
    person = body["payload"][0]
    assert person["jobTitle"] == "Managing Director"  # as it is at delivery time
    assert set(person) == set(example("resthook-party-updated.json")["payload"][0])
    wait_until(lambda: ctl.deliveries())  # recorded once the receiver's answer is back
    assert ctl.deliveries()[-1]["outcome"] == "delivered"


def test_created_and_deleted_events_carry_the_record(app: httpx.Client, receiver: Receiver) -> None:
    subscribe(app, "party/created", receiver.url, embed=None)
    subscribe(app, "party/deleted", receiver.url, embed=None)
    created = app.post("/parties", json={"party": {"type": "organisation", "name": "Hook Test Pty Ltd"}})
    party_id = created.json()["party"]["id"]
    wait_until(lambda: len(receiver.bodies) == 1)
    app.delete(f"/parties/{party_id}")
    wait_until(lambda: len(receiver.bodies) == 2)
    assert [b["event"] for b in receiver.bodies] == ["party/created", "party/deleted"]
    assert all(b["payload"][0]["id"] == party_id for b in receiver.bodies)
    assert "tags" not in receiver.bodies[0]["payload"][0]  # no embed on the hook


def test_edits_in_the_ui_are_delivered_too(
    app: httpx.Client, ctl: CapsuleControl, receiver: Receiver
) -> None:
    subscribe(app, "party/updated", receiver.url)
    ctl.update_party(254700103, {"about": "edited in the browser"})
    wait_until(lambda: receiver.bodies)
    assert receiver.bodies[0]["payload"][0]["about"] == "edited in the browser"


def test_a_failed_delivery_is_retried_on_the_sandbox_clock(
    app: httpx.Client, ctl: CapsuleControl, receiver: Receiver
) -> None:
    receiver.statuses = [500, 503]
    subscribe(app, "party/updated", receiver.url)
    app.put("/parties/254700103", json={"party": {"about": "retry me"}})
    wait_until(lambda: len(receiver.bodies) == 1)
    time.sleep(0.3)
    assert len(receiver.bodies) == 1  # the first retry waits 5 s of sandbox time
    ctl.set_clock(advance_seconds=5)
    wait_until(lambda: len(receiver.bodies) == 2)
    time.sleep(0.3)
    assert len(receiver.bodies) == 2  # the second waits a minute
    ctl.set_clock(advance_seconds=60)
    wait_until(lambda: len(receiver.bodies) == 3)
    # The receiver has the body a moment before the sandbox has recorded the answer it got.
    wait_until(lambda: len(ctl.deliveries()) == 3)
    attempts = [(d["attempt"], d["status"], d["outcome"]) for d in ctl.deliveries()]
    assert attempts == [(1, 500, "retrying"), (2, 503, "retrying"), (3, 200, "delivered")]
    stamps = [datetime.fromisoformat(d["at"]) for d in ctl.deliveries()]
    assert 5 <= (stamps[1] - stamps[0]).total_seconds() <= 7
    assert 60 <= (stamps[2] - stamps[1]).total_seconds() <= 62
    assert receiver.bodies[0] == receiver.bodies[2]
    assert len(app.get("/resthooks").json()["restHooks"]) == 1


def test_a_receiver_that_keeps_failing_is_unsubscribed_after_five_retries(
    app: httpx.Client, ctl: CapsuleControl, receiver: Receiver
) -> None:
    receiver.default = 500
    subscribe(app, "party/updated", receiver.url)
    ctl.set_clock(speed=20000)  # 5 s, 1 m, 5 m, 15 m, 15 m of sandbox time: about 0.1 s
    app.put("/parties/254700103", json={"party": {"about": "nobody listens"}})
    wait_until(lambda: any(d["outcome"] == "unsubscribed" for d in ctl.deliveries()))
    ctl.set_clock(speed=1)
    assert [d["attempt"] for d in ctl.deliveries()] == [1, 2, 3, 4, 5, 6]
    assert len(receiver.bodies) == 6
    assert app.get("/resthooks").json() == {"restHooks": []}


def test_an_unreachable_receiver_counts_as_a_failure(app: httpx.Client, ctl: CapsuleControl) -> None:
    gone = Receiver()
    url = gone.url
    gone.close()  # nothing listens on that port any more
    subscribe(app, "party/updated", url)
    app.put("/parties/254700103", json={"party": {"about": "into the void"}})
    wait_until(lambda: ctl.deliveries())
    first = ctl.deliveries()[0]
    assert first["status"] is None and first["error"] and first["outcome"] == "retrying"


def test_410_gone_unsubscribes_at_once(app: httpx.Client, ctl: CapsuleControl, receiver: Receiver) -> None:
    receiver.default = 410
    subscribe(app, "party/updated", receiver.url)
    app.put("/parties/254700103", json={"party": {"about": "go away"}})
    wait_until(lambda: ctl.deliveries())
    time.sleep(0.2)
    assert [(d["attempt"], d["status"], d["outcome"]) for d in ctl.deliveries()] == [(1, 410, "gone")]
    assert app.get("/resthooks").json() == {"restHooks": []}
    app.put("/parties/254700103", json={"party": {"about": "still there?"}})
    time.sleep(0.3)
    assert len(receiver.bodies) == 1
