"""Datasets shared by the generator tests (built once per session: generation is deterministic)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from sandbox.generator import Dataset, generate
from tests.support.xero_schemas import specs_dir

SEED = 7


@pytest.fixture(scope="session")
def ds1k() -> Dataset:
    return generate(1000, seed=SEED)


@pytest.fixture(scope="session")
def timed10k() -> tuple[Dataset, float]:
    started = time.perf_counter()
    dataset = generate(10_000, seed=SEED)
    return dataset, time.perf_counter() - started


@pytest.fixture(scope="session")
def ds10k(timed10k: tuple[Dataset, float]) -> Dataset:
    return timed10k[0]


@pytest.fixture(scope="session")
def examples() -> dict[str, Any]:
    """The Capsule example payloads; a missing specs folder fails the test (``specs_dir`` raises)."""
    folder: Path = specs_dir() / "capsule" / "examples"
    if not (folder / "party-person.json").is_file():
        raise FileNotFoundError(f"Capsule examples not found under {folder}; set CAPSULE_XERO_SPECS")
    return {path.stem: json.loads(path.read_text()) for path in folder.glob("*.json")}
