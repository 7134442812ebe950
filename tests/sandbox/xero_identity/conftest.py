"""Fixtures for the identity, /connections and webhook stand-ins: an OAuth client and a receiver."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sandbox.server import SandboxServer
from sandbox.xero.oauth_control import Pkce, XeroIdentityControl, pkce_pair
from tests.support.waiting import wait_for

REDIRECT = "http://localhost:8765/callback"
SCOPES = "openid profile email offline_access accounting.contacts accounting.settings.read"


class OAuthClient:
    """What an app does against the identity stand-in, with plain httpx (no SDK)."""

    def __init__(self, base_url: str, client_id: str, client_secret: str | None) -> None:
        self.base_url = base_url
        self.client_id = client_id
        self.client_secret = client_secret
        self.http = httpx.Client(base_url=base_url, timeout=30, trust_env=False)

    def post_token(self, basic: bool = True, **form: str) -> httpx.Response:
        if self.client_secret is not None and basic:
            return self.http.post("/connect/token", data=form, auth=(self.client_id, self.client_secret))
        form = {"client_id": self.client_id, **form}
        if self.client_secret is not None:
            form["client_secret"] = self.client_secret
        return self.http.post("/connect/token", data=form)

    def exchange(
        self, code: str, verifier: str | None = None, redirect_uri: str = REDIRECT
    ) -> httpx.Response:
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
        if verifier is not None:
            form["code_verifier"] = verifier
        return self.post_token(**form)

    def refresh(self, refresh_token: str) -> httpx.Response:
        return self.post_token(grant_type="refresh_token", refresh_token=refresh_token)

    def connections(self, access_token: str, **params: str) -> httpx.Response:
        return self.http.get(
            "/connections", params=params, headers={"Authorization": f"Bearer {access_token}"}
        )

    def close(self) -> None:
        self.http.close()


@dataclass
class Login:
    """The outcome of a complete authorisation-code login."""

    tokens: dict[str, Any]
    pkce: Pkce
    redirect_query: dict[str, str]


@pytest.fixture
def idc(server: SandboxServer) -> Iterator[XeroIdentityControl]:
    client = XeroIdentityControl(server.xero_url)
    yield client
    client.close()


@pytest.fixture
def demo(server: SandboxServer, idc: XeroIdentityControl) -> Iterator[OAuthClient]:
    app = idc.app("web")
    client = OAuthClient(server.xero_url, app["client_id"], app["client_secret"])
    yield client
    client.close()


@pytest.fixture
def custom(server: SandboxServer, idc: XeroIdentityControl) -> Iterator[OAuthClient]:
    app = idc.app("custom")
    client = OAuthClient(server.xero_url, app["client_id"], app["client_secret"])
    yield client
    client.close()


@pytest.fixture
def login(idc: XeroIdentityControl, demo: OAuthClient) -> Callable[..., Login]:
    def run(scope: str = SCOPES, state: str = "st-1") -> Login:
        pkce = pkce_pair()
        query = idc.authorize(demo.client_id, REDIRECT, scope, state=state, pkce=pkce)
        response = demo.exchange(query["code"], pkce.verifier)
        assert response.status_code == 200, response.text
        return Login(response.json(), pkce, query)

    return run


# ---- a webhook receiver on 127.0.0.1 ----------------------------------------------------------
@dataclass
class Received:
    body: bytes
    signature: str
    valid: bool
    status: int

    @property
    def payload(self) -> dict[str, Any]:
        return json.loads(self.body)


@dataclass
class WebhookReceiver:
    """A receiver written as the docs ask: verify the signature on the raw body, answer 200 or 401.

    ``mode``: "verify" (correct), "always_200" (never checks, so fails Intent to Receive), "fail"
    (500 to every event delivery). ``fail_events`` answers 500 to that many event deliveries first;
    ``event_delay`` makes it slow to answer event deliveries.
    """

    key: str | None = None
    mode: str = "verify"
    fail_events: int = 0
    event_delay: float = 0.0  # real seconds to sit on each event delivery before answering
    url: str = ""
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def verify(self, body: bytes, signature: str) -> bool:
        if not self.key:
            return False
        expected = base64.b64encode(hmac.new(self.key.encode(), body, hashlib.sha256).digest()).decode()
        return hmac.compare_digest(expected, signature)

    async def handle(self, request: Request) -> Response:
        body = await request.body()
        signature = request.headers.get("x-xero-signature", "")
        valid = self.verify(body, signature)
        is_event = bool(json.loads(body)["events"])
        if is_event and self.event_delay:
            await asyncio.sleep(self.event_delay)
        with self.lock:
            if self.mode == "always_200":
                status = 200
            elif is_event and (self.mode == "fail" or self.fail_events > 0):
                self.fail_events = max(0, self.fail_events - 1)
                status = 500
            else:
                status = 200 if valid else 401
            self.received.append(Received(body, signature, valid, status))
        return Response(status_code=status)

    def events(self) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.payload["events"]]

    def intent_to_receive(self) -> list[Received]:
        with self.lock:
            return [r for r in self.received if not r.payload["events"]]


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    hook = WebhookReceiver(key="test-webhook-key-" + "k" * 40)
    app = Starlette(routes=[Route("/xero/webhook", hook.handle, methods=["POST"])])
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    sock.setblocking(False)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off"))
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])), daemon=True)
    thread.start()
    wait_for(lambda: server.started)
    hook.url = f"http://127.0.0.1:{sock.getsockname()[1]}/xero/webhook"
    yield hook
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()


# ---- calling the accounting API's gatekeeper directly -------------------------------------------
def check_access(
    server: SandboxServer, access_token: str, tenant_id: str | None = None, scope: str = "accounting.contacts"
) -> tuple[int, Any]:
    """What ``IdentityState.authenticate`` says to an Accounting call: (200, AuthContext) or (status, body).

    Goes through the function the Accounting routes call, on the server's loop thread, so these
    tests do not depend on the Accounting routes being there.
    """
    from starlette.requests import Request as StarletteRequest

    headers = [(b"authorization", f"Bearer {access_token}".encode())]
    if tenant_id is not None:
        headers.append((b"xero-tenant-id", tenant_id.encode()))
    request = StarletteRequest(
        {
            "type": "http",
            "method": "GET",
            "path": "/api.xro/2.0/Contacts",
            "query_string": b"",
            "headers": headers,
        }
    )
    identity = server.sandbox.xero.identity
    outcome = server.call(identity.authenticate, request, frozenset({scope}))
    if isinstance(outcome, Response):
        return outcome.status_code, json.loads(bytes(outcome.body))
    return 200, outcome
