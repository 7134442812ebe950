"""Property: whatever the seed and (small) size, the generated world keeps every invariant."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sandbox.generator import generate
from tests.sandbox.generator.invariants import check


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(min_value=0, max_value=2**32), parties=st.integers(min_value=1, max_value=450))
def test_any_seed_and_small_size_gives_a_world_whose_invariants_hold(seed: int, parties: int) -> None:
    dataset = generate(parties, seed=seed)
    check(dataset)
    if parties >= 200:
        assert all(dataset.cases.values()), "every case appears from 200 parties up"
