"""Fixtures of the apply tests: Capsule parties to write, a ledger file, the Capsule write-back client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from capsule_xero.settings import Settings
from reverse_etl.writers.capsule import CapsuleWriteBack
from sandbox.app import Sandbox
from sandbox.server import SandboxServer
from tests.reverse_etl.conftest import fast_capsule_pacer
from tests.reverse_etl.plans_by_hand import load_parties, open_ledger


@pytest.fixture
def parties(server: SandboxServer, sandbox: Sandbox) -> list[int]:
    return load_parties(server, sandbox)


@pytest.fixture
def con(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    with open_ledger(tmp_path / "apply.duckdb") as connection:
        yield connection


@pytest.fixture
def back(settings: Settings) -> Iterator[CapsuleWriteBack]:
    with CapsuleWriteBack(settings, pacer=fast_capsule_pacer()) as client:
        yield client
