"""Fixtures of transform tests: the generated world (tests/support/generated_world.py)."""

from tests.support.generated_world import sql_params, world

__all__ = ["sql_params", "world"]
