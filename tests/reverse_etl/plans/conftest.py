"""Fixtures of the plan tests: a fresh ``Scene`` per test."""

from __future__ import annotations

from collections.abc import Iterator

import duckdb
import pytest

from tests.reverse_etl.plans.scene import Scene


@pytest.fixture
def scene() -> Iterator[Scene]:
    with duckdb.connect() as con:
        yield Scene(con)
