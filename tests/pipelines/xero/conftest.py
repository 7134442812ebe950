"""Fixtures for the Xero extractor: a signed-in home, a loaded sandbox, quick pacing, DuckDB reads."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pytest

from capsule_xero.settings import Settings
from capsule_xero.xero.auth import XeroAuth, login
from pipelines.xero import PacingPolicy, XeroExtractConfig, XeroRun, reset_pacers, run_xero_extract
from sandbox.app import Sandbox
from sandbox.control import SandboxControl
from sandbox.generator import Dataset, generate
from sandbox.server import SandboxServer
from sandbox.xero.control import XeroControl

API = "/api.xro/2.0"

# Production limits, but waits short enough for tests: a hang is given up after 1 s, backoff
# starts at 50 ms. The minute window stays 60 s unless a test speeds the sandbox clock.
QUICK = PacingPolicy(
    read_timeout=1.0,
    connect_timeout=1.0,
    backoff_initial=0.05,
    backoff_max=0.5,
    backoff_jitter=0.05,
)


def browser(url: str) -> None:
    """The user's browser: follow the consent redirect to the loopback callback."""
    httpx.get(url, follow_redirects=True, timeout=10)


@pytest.fixture(autouse=True)
def _fresh_pacers() -> Iterator[None]:
    reset_pacers()
    yield
    reset_pacers()


@pytest.fixture
def tenant(sandbox: Sandbox) -> str:
    return sandbox.xero.primary_tenant_id


@pytest.fixture
def settings(server: SandboxServer, tmp_path: Path, tenant: str) -> Settings:
    env = server.env() | {"CAPSULE_XERO_HOME": str(tmp_path / "home"), "XERO_TENANT_ID": tenant}
    return Settings.from_env(env)


@pytest.fixture
def auth(settings: Settings) -> XeroAuth:
    auth = XeroAuth(settings)
    login(auth, choose_tenant=lambda connections: connections[0], open_url=browser)
    return auth


@pytest.fixture
def xero(server: SandboxServer) -> Iterator[XeroControl]:
    client = XeroControl(server.xero_url)
    yield client
    client.close()


@pytest.fixture
def dataset(server: SandboxServer, sandbox: Sandbox) -> Dataset:
    """A generated world (~330 Xero contacts, archived ones included) loaded into the sandbox."""
    data = generate(1000, seed=3)
    server.call(lambda: sandbox.load(data))
    return data


def options(**changes: Any) -> XeroExtractConfig:
    changes.setdefault("pacing", QUICK)
    return XeroExtractConfig(**changes)


@pytest.fixture
def extract(settings: Settings, auth: XeroAuth) -> Callable[..., XeroRun]:
    """``extract(**options)`` runs the extractor once and returns what it did."""

    def run(full_refresh: bool = False, **changes: Any) -> XeroRun:
        report = XeroRun()
        run_xero_extract(settings, full_refresh=full_refresh, options=options(**changes), run=report)
        return report

    return run


def api_calls(control: SandboxControl, since: int = 0) -> list[dict[str, Any]]:
    return control.calls("xero", since)


def token_refreshes(control: SandboxControl, since: int = 0) -> list[dict[str, Any]]:
    return [
        c
        for c in control.calls("xero-identity", since)
        if c["path"] == "/connect/token" and c["notes"].get("grant_type") == "refresh_token"
    ]


def query(settings: Settings, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as db:
        return db.execute(sql, list(params)).fetchall()
