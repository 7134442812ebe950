"""A long apply says how far it has got: per stage, done of total, the calls it made, the calls left
today and an ETA, as it goes."""

from __future__ import annotations

from pathlib import Path

from capsule_xero.progress import Progress
from sandbox.generator import generate
from tests.support.sync_world import World


def test_the_apply_loop_reports_batches_calls_left_today_and_an_eta_for_a_plan_of_over_fifty_writes(
    tmp_path: Path,
) -> None:
    seen: list[Progress] = []
    with World(generate(parties=110, seed=11), tmp_path / "home") as world:
        run = world.sync(on_progress=seen.append)
    assert run.result is not None and run.result.status == "applied"
    assert run.plan.operations > 50
    contacts = [p for p in seen if p.stage == "contacts"]
    first, last = contacts[0], contacts[-1]
    assert first.done == 0 and first.total == last.total == run.result.batches >= 2
    assert last.done == last.total and last.unit == "batches"
    # One call per batch at least (a retried batch costs more), counted from the stage's start.
    assert [p.calls_used for p in contacts] == sorted(p.calls_used for p in contacts)
    assert last.calls_used >= run.result.batches
    # The sandbox says what is left today on every answer, and it goes down as batches go out.
    lefts = [p.calls_left for p in contacts if p.calls_left is not None]
    assert len(lefts) >= 2 and lefts[-1] < lefts[0]
    assert all(p.eta_seconds is not None and p.eta_seconds > 0 for p in contacts if not p.finished)
    assert last.figures().endswith("ETA done")
    assert {p.stage for p in seen} >= {"contacts", "groups", "write_back"}
