"""Fixtures for the Capsule extractor: a sandbox with generated data, settings, a fast pacer, the DuckDB."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest

from capsule_xero.settings import Settings
from pipelines.capsule import CapsuleExtract, CapsulePacer, extract_capsule
from sandbox.app import Sandbox
from sandbox.capsule.control import CapsuleControl
from sandbox.generator import Dataset, generate
from sandbox.server import SandboxServer

SEED = 5


@pytest.fixture(scope="session")
def small_world() -> Dataset:
    """300 parties: three pages of parties, a few of everything else."""
    return generate(300, seed=SEED)


@pytest.fixture(scope="session")
def big_world() -> Dataset:
    return generate(1500, seed=SEED)


@pytest.fixture
def ctl(server: SandboxServer) -> Iterator[CapsuleControl]:
    client = CapsuleControl(server.capsule_url)
    yield client
    client.close()


@pytest.fixture
def token(sandbox: Sandbox) -> str:
    return sandbox.capsule.demo_env()["CAPSULE_API_TOKEN"]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def settings_for(server: SandboxServer, home: Path, **env: str) -> Settings:
    return Settings.from_env({**server.env(), "CAPSULE_XERO_HOME": str(home), **env})


@pytest.fixture
def settings(server: SandboxServer, home: Path) -> Settings:
    return settings_for(server, home)


def fast_pacer(**options: Any) -> CapsulePacer:
    """The production policy with test-sized backoffs (the reset waits stay real)."""
    defaults: dict[str, Any] = {
        "backoff_initial": 0.02,
        "backoff_max": 0.2,
        "backoff_jitter": 0.0,
        "max_wait": 10.0,
        "reset_margin": 0.05,
    }
    return CapsulePacer(**{**defaults, **options})


@pytest.fixture
def pacer() -> CapsulePacer:
    return fast_pacer()


@dataclass
class Loaded:
    """The sandbox's current records, read on the server's loop thread."""

    parties: dict[int, dict[str, Any]]
    opportunities: dict[int, dict[str, Any]]
    kases: dict[int, dict[str, Any]]
    tasks: dict[int, dict[str, Any]]
    deleted: dict[str, list[dict[str, Any]]]
    restricted: dict[str, list[dict[str, Any]]]
    users: list[dict[str, Any]]
    definitions: list[dict[str, Any]]
    tags: list[dict[str, Any]]


@pytest.fixture
def capsule_state(server: SandboxServer, sandbox: Sandbox) -> Callable[[], Loaded]:
    def read() -> Loaded:
        def snapshot() -> Loaded:
            c = sandbox.capsule
            kinds = {"parties": c.parties, "opportunities": c.opportunities, "kases": c.kases}
            return Loaded(
                parties=dict(c.parties.by_id),
                opportunities=dict(c.opportunities.by_id),
                kases=dict(c.kases.by_id),
                tasks=dict(c.tasks.by_id),
                deleted={k: list(v.tombstones) for k, v in kinds.items()},
                restricted={k: list(v.restricted) for k, v in kinds.items()},
                users=list(c.users),
                definitions=list(c.definitions["parties"]),
                tags=list(c.tags["parties"]),
            )

        return server.call(snapshot)

    return read


@pytest.fixture
def load_world(server: SandboxServer, sandbox: Sandbox) -> Callable[[Dataset], None]:
    def run(dataset: Dataset) -> None:
        server.call(sandbox.capsule.load, dataset)

    return run


@pytest.fixture
def extract(settings: Settings, pacer: CapsulePacer) -> Callable[..., CapsuleExtract]:
    def run(**options: Any) -> CapsuleExtract:
        options.setdefault("pacer", pacer)
        chosen = options.pop("settings", settings)
        return extract_capsule(chosen, **options)

    return run


def query(settings: Settings, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """Rows from the DuckDB file (values as ``?`` parameters)."""
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as con:
        return con.execute(sql, list(params)).fetchall()


def pages(count: int, per_page: int = 100) -> int:
    """Pages a list of ``count`` rows takes (an empty list still costs one call)."""
    return max(1, math.ceil(count / per_page))


def capsule_calls(ctl: CapsuleControl, since: int) -> list[dict[str, Any]]:
    return ctl.calls(api="capsule", since=since)
