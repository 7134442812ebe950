"""The ASGI layer every stand-in sits behind: call log, concurrency tracking, fault injection."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:
    from sandbox.app import Sandbox

ADMIN_PREFIX = "/_sandbox"

# (kind, scope) -> the API's own answer for an injected 429/500/503.
FaultResponder = Callable[[str, Scope], Response]


class DroppedConnection(Exception):
    """Raised after the headers went out, so uvicorn closes the socket mid-response."""


class SandboxMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        sandbox: Sandbox,
        classify: Callable[[str], str | None],
        fault_responder: FaultResponder,
        tenant_header: str | None = None,
    ) -> None:
        self.app = app
        self.sandbox = sandbox
        self.classify = classify
        self.fault_responder = fault_responder
        self.tenant_header = tenant_header.encode().lower() if tenant_header else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(ADMIN_PREFIX):
            await self.app(scope, receive, send)
            return
        api = self.classify(scope["path"]) or "other"
        method = scope["method"]
        calls = self.sandbox.calls
        record = calls.begin(api, method, scope["path"], scope.get("query_string", b"").decode(), time.time())
        tenant = self._tenant(scope)
        record.tenant = tenant
        calls.enter(record, tenant)
        state: dict[str, Any] = scope.setdefault("state", {})
        state["call"] = record
        try:
            fault = self.sandbox.faults.pick(api, method, scope["path"])
            if fault is not None:
                record.fault = fault.kind
            if fault is not None and fault.kind in {"429", "500", "503"}:
                response = self.fault_responder(fault.kind, scope)
                record.status = response.status_code
                await response(scope, receive, send)
                return
            if fault is not None and fault.kind == "hang":
                # Read the whole request first: the client will have given up by the time the
                # handler runs, and the write must still land, as on a slow real server.
                receive = await self._buffered(receive)
                await asyncio.sleep(fault.hang_seconds)
            if fault is not None and fault.kind == "drop":
                await self._run_then_drop(scope, receive, send, record)
                return
            await self.app(scope, receive, self._capture_status(send, record))
        finally:
            record.duration = time.time() - record.started
            calls.leave(record, tenant)

    @staticmethod
    async def _buffered(receive: Receive) -> Receive:
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return {"type": "http.disconnect"}  # the client gave up long ago

        return replay

    def _tenant(self, scope: Scope) -> str | None:
        if self.tenant_header is None:
            return None
        for name, value in scope.get("headers", []):
            if name.lower() == self.tenant_header:
                return value.decode("latin-1")
        return None

    @staticmethod
    def _capture_status(send: Send, record: Any) -> Callable[[Message], Awaitable[None]]:
        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                record.status = message["status"]
            await send(message)

        return wrapped

    async def _run_then_drop(self, scope: Scope, receive: Receive, send: Send, record: Any) -> None:
        start: Message | None = None

        async def swallow(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                record.status = message["status"]

        await self.app(scope, receive, swallow)
        if start is not None:
            # The write is committed; the client gets the status line and headers, then EOF
            # where the body should be, exactly what a connection lost mid-response looks like.
            await send(start)
        raise DroppedConnection(f"{record.method} {record.path}")
