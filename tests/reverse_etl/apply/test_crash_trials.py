"""Crash trials: the apply process is killed with SIGKILL at chosen points of a migration, rerun each
time, and the end state is what a fault-free apply leaves — no duplicate, nothing lost, nothing open.

The sandbox is served from this process; every apply runs in a child process (tests/support/
crash_trials.py), and the kill points are found by watching the sandbox's call log, with a ``hang`` or
``drop`` fault where the point is "during a hung request" or "after Xero committed, before the answer
was recorded". Time-scaled: the sandbox clock runs 600x and the child's pacing minute is 0.1 s, so
Xero's 60 calls a minute hold in sandbox time.

- Ten points over a 2,000-party migration (about 950 contacts created, updated or archived, ~300
  History notes, ~940 Capsule write-backs), each rerun applying the same plan as `capsule-xero apply`
  does. About 1.5 minutes on 2 cores. bench/apply.py --crash-points runs the same at ~2,000 contacts.
- Four points in the steps after the contacts — the contact groups and the ContactID write-back —
  of a 300-party migration with people as contacts of their own, each rerun a `capsule-xero sync
  --apply` (read both, reconcile, plan, apply): the interrupted plan must be finished by the plain
  rerun a person makes, without a second approval. About a minute. Before them, a kill between
  Xero's rotation of the refresh token and the token store's save: the rerun must not ask for a new
  sign-in (Xero's 30-minute grace takes the old refresh token once more).

Every kill may land mid-refresh: at 600x an access token lives 3 real seconds, so the children
refresh every few seconds. The sandbox measures the refresh grace on the wall clock for these trials
(tests/support/crash_trials.py, ``migration``): a restarted process takes real seconds to start,
which at 600x would be more than Xero's 30 minutes, a delay no real restart has.
"""

from __future__ import annotations

from pathlib import Path

from capsule_xero.rules.model import Rules
from tests.support.crash_trials import (
    API,
    after_landed,
    after_token_rotation,
    check_invariants,
    crash_trials,
    default_kill_points,
    during_fault,
    migration,
)

PARTIES = 2_000
PEOPLE_AS_CONTACTS = Rules.model_validate(
    {"conflicts": {"policy": "xero_wins"}, "sync": {"people": "contacts"}}
)


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


def test_a_sync_killed_in_the_group_and_write_back_steps_is_finished_by_plain_reruns_once_each(
    tmp_path: Path,
) -> None:
    with migration(300, tmp_path / "home", speed=600, rules=PEOPLE_AS_CONTACTS) as m:
        points = [
            after_token_rotation(),
            after_landed("group", 3, "after 3 contact-group calls landed"),
            during_fault("group membership", "hang", "PUT", f"{API}/ContactGroups/*/Contacts"),
            after_landed("capsule", 60, "after 60 Capsule write-backs landed"),
            after_landed("capsule", 150, "after 150 more Capsule write-backs landed"),
        ]
        trials = crash_trials(m, points, rerun="sync")
        killed = [t["label"] for t in trials if t["killed"]]
        assert killed == [p.label for p in points]
        reruns = [t["report"] for t in trials[1:] if t["report"] is not None]
        # Every rerun finished the killed plan itself, with the approval it had: no new plan, none waiting.
        assert {(r["plan"], r["plan_status"]) for r in reruns} == {(m.plan_id, "partly_applied")}
        final = trials[-1]["report"]
        assert (final["status"], final["counts"]["write_backs_pending"]) == ("applied", 0)
        invariants = check_invariants(m)

    broken = {name: found[:5] for name, found in invariants["problems"].items() if found}
    assert broken == {}
    checked = invariants["checked"]
    assert checked["group memberships"] > 200 and checked["Capsule fields"] >= m.counts["create"]
    assert checked["History notes"] == m.counts["notes"]
