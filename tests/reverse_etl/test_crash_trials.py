"""Crash trials: the apply process is killed with SIGKILL at ten points of one migration, rerun each
time, and the end state is what a fault-free apply leaves — no duplicate, nothing lost, nothing open.

The sandbox is served from this process; every apply runs in a child process (tests/support/
crash_trials.py), and the kill points are found by watching the sandbox's call log, with a ``hang`` or
``drop`` fault where the point is "during a hung request" or "after Xero committed, before the answer
was recorded". Sized for CI: 2,000 generated parties (about 950 contacts created, updated or archived,
~300 History notes, ~940 Capsule write-backs), time-scaled: the sandbox clock runs 600x and the
child's pacing minute is 0.1 s, so Xero's 60 calls a minute hold in sandbox time. About 1.5 minutes
on 2 cores. bench/apply.py --crash-points runs the same at ~2,000 contacts.
"""

from __future__ import annotations

from pathlib import Path

from tests.support.crash_trials import check_invariants, crash_trials, default_kill_points, migration

PARTIES = 2_000


def test_an_apply_killed_at_ten_points_of_a_migration_ends_with_every_change_once_and_nothing_open(
    tmp_path: Path,
) -> None:
    with migration(PARTIES, tmp_path / "home", speed=600) as m:
        points = default_kill_points(m.counts)
        assert len(points) == 10
        trials = crash_trials(m, points)
        killed = [t["label"] for t in trials if t["killed"]]
        assert killed == [p.label for p in points]  # every point was reached: each trial proves something
        final = trials[-1]["report"]
        assert (final["status"], final["counts"]["write_backs_pending"]) == ("applied", 0)
        invariants = check_invariants(m)

    broken = {name: found[:5] for name, found in invariants["problems"].items() if found}
    assert broken == {}
    checked = invariants["checked"]
    assert checked["operations"] == sum(m.counts[k] for k in ("create", "update", "archive", "restore"))
    assert checked["History notes"] == m.counts["notes"]
    assert checked["Capsule fields"] >= m.counts["create"]
