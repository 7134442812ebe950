"""The generator is a pure function of (parties, seed, now) and makes exactly the parties asked for."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sandbox.generator import Dataset, generate, iter_blocks
from tests.sandbox.generator.invariants import ts

REPO = Path(__file__).resolve().parents[3]


def test_the_same_seed_and_size_give_a_byte_identical_dataset(ds1k: Dataset) -> None:
    assert generate(1000, seed=7).to_json() == ds1k.to_json()


def test_another_seed_gives_a_different_dataset(ds1k: Dataset) -> None:
    other = generate(1000, seed=8)
    assert other.to_json() != ds1k.to_json()
    names = {p.get("name") for p in ds1k.capsule_parties} - {None}
    other_names = {p.get("name") for p in other.capsule_parties} - {None}
    assert len(names & other_names) < len(names) / 10, "a new seed is a new world, not a shuffle"


def test_the_output_does_not_depend_on_python_hash_randomisation() -> None:
    code = "import hashlib;from sandbox.generator import generate;print(hashlib.sha256(generate(600, 3).to_json().encode()).hexdigest())"
    digests = set()
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        out = subprocess.run(
            [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, check=True
        )
        digests.add(out.stdout.strip())
    assert digests == {hashlib.sha256(generate(600, 3).to_json().encode()).hexdigest()}


def test_streamed_blocks_merge_into_exactly_the_generated_dataset() -> None:
    merged = Dataset(seed=5, size=2500)
    fragments = list(iter_blocks(2500, seed=5))
    assert len(fragments) == 3 and all(len(f.capsule_parties) <= 1000 for f in fragments)
    for fragment in fragments:
        merged.extend(fragment)
        merged.now, merged.previous_sync_at = fragment.now, fragment.previous_sync_at
    merged.finish()
    assert merged.to_json() == generate(2500, seed=5).to_json()


@pytest.mark.parametrize("parties", [1, 7, 199, 1000])
def test_exactly_the_requested_number_of_parties_is_made(parties: int) -> None:
    dataset = generate(parties, seed=parties)
    assert len(dataset.capsule_parties) == parties == dataset.size


def test_ten_thousand_parties_are_exactly_ten_thousand_and_take_seconds_not_minutes(timed10k) -> None:
    dataset, seconds = timed10k
    assert len(dataset.capsule_parties) == 10_000
    assert seconds < 20, f"10k parties took {seconds:.1f} s"


def test_a_size_below_one_is_refused() -> None:
    with pytest.raises(ValueError):
        generate(0, seed=1)


def test_timestamps_follow_the_chosen_now_not_the_wall_clock() -> None:
    now = datetime(2030, 1, 1, tzinfo=UTC)
    dataset = generate(300, seed=2, now=now)
    assert dataset.now == now
    latest = max(ts(p["updatedAt"]) for p in dataset.capsule_parties)
    assert latest <= now and (now - latest).days < 30
    assert max(c["UpdatedDateUTC"] for c in dataset.xero_contacts) <= now


def test_editing_one_datasets_records_in_place_does_not_change_the_next_dataset() -> None:
    first = generate(300, seed=4)
    expected = first.to_json()
    for party in first.capsule_parties:  # a store that edits shared reference objects in place
        for ref in [
            party["owner"],
            party["team"],
            *party["tags"],
            *(f["definition"] for f in party["fields"]),
        ]:
            if ref is not None:
                ref["name"] = "changed"
    assert generate(300, seed=4).to_json() == expected
