"""Fixtures for the Capsule stand-in: servers, clients and the example world."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest

from sandbox.app import Sandbox
from sandbox.capsule.control import CapsuleControl
from sandbox.generator import Dataset
from sandbox.server import SandboxServer
from tests.sandbox.capsule.world import api_client, example_world


@pytest.fixture
def world() -> Dataset:
    return example_world()


@pytest.fixture
def load(server: SandboxServer, sandbox: Sandbox) -> Callable[[Dataset], None]:
    """Replace the Capsule data (on the server's loop thread, where the state lives)."""

    def run(dataset: Dataset) -> None:
        server.call(sandbox.capsule.load, dataset)

    return run


@pytest.fixture
def token(sandbox: Sandbox) -> str:
    return sandbox.capsule.demo_env()["CAPSULE_API_TOKEN"]


@pytest.fixture
def api(server: SandboxServer, token: str) -> Iterator[httpx.Client]:
    """An empty account, reached with the demo user's personal token."""
    with api_client(server, token) as client:
        yield client


@pytest.fixture
def capsule(api: httpx.Client, load: Callable[[Dataset], None], world: Dataset) -> httpx.Client:
    """The example world loaded, reached with the demo user's personal token."""
    load(world)
    return api


@pytest.fixture
def ctl(server: SandboxServer) -> Iterator[CapsuleControl]:
    client = CapsuleControl(server.capsule_url)
    yield client
    client.close()
