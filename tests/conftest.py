"""Fixtures shared by every test: a sandbox served on 127.0.0.1 from a background thread."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandbox.app import Sandbox
from sandbox.control import SandboxControl
from sandbox.server import SandboxServer


@pytest.fixture
def sandbox() -> Sandbox:
    """An empty sandbox (no generated data) with a fixed seed."""
    return Sandbox(seed=7)


@pytest.fixture
def server(sandbox: Sandbox) -> Iterator[SandboxServer]:
    with SandboxServer(sandbox) as running:
        yield running


@pytest.fixture
def control(server: SandboxServer) -> Iterator[SandboxControl]:
    client = SandboxControl(server.xero_url)
    yield client
    client.close()
