"""Serve the stand-ins on 127.0.0.1 from a background thread (tests) or the foreground (CLI).

Both APIs share one asyncio loop, so every handler runs on one thread and the in-memory state
needs no locks. Code outside the loop reaches the state through ``SandboxServer.call``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import socket
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import uvicorn

from sandbox.app import Sandbox
from sandbox.middleware import DroppedConnection

HOST = "127.0.0.1"  # never anything else: the stand-ins hold fake credentials and accept any client
T = TypeVar("T")


class _QuietDrops(logging.Filter):
    """Injected connection drops are intended; keep their tracebacks out of the logs."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, DroppedConnection):
            return False
        return "returned without completing response" not in record.getMessage()


logging.getLogger("uvicorn.error").addFilter(_QuietDrops())


def _bind(port: int) -> socket.socket:
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets it knows are TCP, and without
    # it every small response waits ~40 ms for a delayed ACK (Nagle).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, port))
    sock.listen(512)
    sock.setblocking(False)
    return sock


class SandboxServer:
    def __init__(
        self, sandbox: Sandbox, *, xero_port: int = 0, capsule_port: int = 0, log_level: str = "warning"
    ) -> None:
        self.sandbox = sandbox
        self._sockets = {"xero": _bind(xero_port), "capsule": _bind(capsule_port)}
        self._log_level = log_level
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._servers: list[uvicorn.Server] = []
        self._started = threading.Event()

    # ---- addresses -------------------------------------------------------------------------
    def port(self, api: str) -> int:
        return self._sockets[api].getsockname()[1]

    @property
    def xero_url(self) -> str:
        return f"http://{HOST}:{self.port('xero')}"

    @property
    def capsule_url(self) -> str:
        return f"http://{HOST}:{self.port('capsule')}"

    def env(self) -> dict[str, str]:
        """The environment lines that point capsule-xero at this sandbox."""
        env = {
            "CAPSULE_API_URL": f"{self.capsule_url}/api/v2",
            "XERO_API_URL": f"{self.xero_url}/api.xro/2.0",
            "XERO_IDENTITY_URL": self.xero_url,
            "XERO_LOGIN_URL": f"{self.xero_url}/identity/connect/authorize",
            "XERO_CONNECTIONS_URL": f"{self.xero_url}/connections",
        }
        env.update(self.sandbox.capsule.demo_env())
        env.update(self.sandbox.xero.demo_env())
        return env

    # ---- running ---------------------------------------------------------------------------
    def _make_servers(self) -> list[tuple[uvicorn.Server, socket.socket]]:
        pairs = []
        for api, app in (("xero", self.sandbox.xero_app()), ("capsule", self.sandbox.capsule_app())):
            config = uvicorn.Config(
                app, log_level=self._log_level, access_log=False, lifespan="off", timeout_keep_alive=30
            )
            pairs.append((uvicorn.Server(config), self._sockets[api]))
        return pairs

    async def serve(self) -> None:
        """Serve until ``stop`` (or Ctrl-C in the foreground)."""
        self._loop = asyncio.get_running_loop()
        pairs = self._make_servers()
        self._servers = [server for server, _ in pairs]
        tasks = [asyncio.create_task(server.serve(sockets=[sock])) for server, sock in pairs]
        while not all(server.started for server in self._servers):
            if any(task.done() for task in tasks):
                break
            await asyncio.sleep(0.01)
        self._started.set()
        await asyncio.gather(*tasks)

    def start(self) -> SandboxServer:
        """Serve from a daemon thread; returns once both APIs accept connections."""

        def run() -> None:
            asyncio.run(self.serve())

        self._thread = threading.Thread(target=run, name="capsule-xero-sandbox", daemon=True)
        self._thread.start()
        if not self._started.wait(timeout=30):
            raise RuntimeError("sandbox did not start within 30 s")
        return self

    def stop(self) -> None:
        for server in self._servers:
            server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        for sock in self._sockets.values():
            sock.close()

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``fn`` on the server's loop thread (where the state lives) and return its result."""
        if self._loop is None:
            return fn(*args, **kwargs)
        future: concurrent.futures.Future[T] = concurrent.futures.Future()

        def run() -> None:
            try:
                future.set_result(fn(*args, **kwargs))
            except BaseException as exc:
                future.set_exception(exc)

        self._loop.call_soon_threadsafe(run)
        return future.result(timeout=60)
