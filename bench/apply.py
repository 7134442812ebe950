"""Apply figures: a first migration written to Xero with its real limits, time-scaled in the sandbox.

    .venv/bin/python bench/apply.py                          # ~10k contacts (21,500 parties), speed 60
    .venv/bin/python bench/apply.py --parties 5000 --speed 120
    .venv/bin/python bench/apply.py --crash-points 10        # the crash trials at ~2,000 contacts

The sandbox (Xero's limits as Xero sets them: 60 calls a minute, 5 at once, 5,000 a day; Capsule's
4,000 an hour) is served from this process with its clock running ``--speed`` times faster; the apply
runs in a child process (read Xero, then ``apply_plan``, as ``capsule-xero apply``) whose pacing minute
is ``60 / speed`` seconds, so every limit holds in sandbox time. The generated world is extracted,
reconciled and planned first (not timed); the plan of a first migration is approved.

Printed: contact write calls against ceil(n/50) (creates go by PUT, updates and archives by POST),
the Xero call rate the apply achieved in sandbox minutes (average and busiest minute) against the
60/min limit, 429s received, wall time and wall time scaled back to real minutes (wall x speed: an
upper bound, since the child's own CPU time is scaled up with the waits; at speed 60 the run is
partly CPU-bound, a lower --speed shows the pacing more truly), and the apply process's
peak RSS (extract included, it is the same process). A migration bigger than Capsule's hourly limit
leaves write-backs for later runs: those are run (the sandbox clock moved on an hour each) and
counted separately.

``--crash-points N`` runs tests/reverse_etl/apply/test_crash_trials.py's trial at full size instead: the
apply killed with SIGKILL at the first N of its ten kill points, rerun each time, then every
invariant checked and printed.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# Run as a script, this file's folder comes first on sys.path and bench/sandbox.py would hide the
# `sandbox` package: put the repository root there instead.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [str(_HERE.parent)] + [p for p in sys.path if Path(p or ".").resolve() != _HERE]

from tests.support.crash_trials import (  # noqa: E402
    CONTACTS,
    Migration,
    check_invariants,
    crash_trials,
    default_kill_points,
    migration,
    run_apply,
    run_to_the_end,
    write_calls_minimum,
)

# Generated parties per contact written (seed 21): 21,500 parties plan 8,383 creates + 1,584 updates
# (9,967) and 110 archives; 2,000 parties plan 937; 4,300 about 2,000.
TEN_K_PARTIES = 21_500
TWO_K_PARTIES = 4_300


def busiest_minute(calls: list[dict[str, Any]], minute_seconds: float) -> int:
    """Most calls started within any one (sandbox) minute: what Xero's 60/min is counted on."""
    starts = sorted(c["started"] for c in calls)
    most, first = 0, 0
    for last, at in enumerate(starts):
        while at - starts[first] >= minute_seconds:
            first += 1
        most = max(most, last - first + 1)
    return most


def print_plan(m: Migration, setup: float) -> None:
    c = m.counts
    print(
        f"plan {m.plan_id}: {c['create']:,} creates, {c['update']:,} updates, {c['archive']:,} archives,"
        f" {c['restore']:,} restores, {c['notes']:,} History notes"
        f" ({c['create'] + c['update']:,} contacts created or updated; setup {setup:.0f} s, not timed)",
        flush=True,
    )


def bench_apply(parties: int, speed: float, seed: int) -> None:
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as home, migration(parties, Path(home), seed=seed, speed=speed) as m:
        print(
            f"{parties:,} generated parties, sandbox clock x{speed:g} (a sandbox minute is {m.minute_seconds:g} s)"
        )
        print(f"Xero limits in the sandbox: {m.xero.limits()}")
        print_plan(m, time.perf_counter() - started)
        minimum = write_calls_minimum(m)
        trial = run_apply(m, timeout=6 * 3600)
        report = trial["report"]
        xero_calls = m.control.calls("xero", trial["since"])
        stats = m.control.stats("xero", trial["since"])
        puts = sum(1 for c in xero_calls if c["path"] == CONTACTS and c["method"] == "PUT")
        posts = sum(1 for c in xero_calls if c["path"] == CONTACTS and c["method"] == "POST")
        kinds = dict(trial["calls"])
        reads = sum(1 for c in xero_calls if c["method"] == "GET")
        span = max(c["started"] + c["duration"] for c in xero_calls) - min(c["started"] for c in xero_calls)
        sandbox_minutes = span / m.minute_seconds
        wall = trial["wall"]
        counts = report["counts"]
        print(f"apply: {report['status']}, {counts}")
        print(
            f"  contact write calls: PUT {puts:,} vs ceil({minimum['creates']:,}/50) = {minimum['PUT']:,};"
            f" POST {posts:,} vs ceil({minimum['others']:,}/50) = {minimum['POST']:,}"
        )
        print(
            f"  Xero calls by the apply process: {len(xero_calls):,} ({reads:,} reads; groups {kinds.get('group', 0):,},"
            f" History notes {kinds.get('note', 0):,}); Capsule write-backs {kinds.get('capsule', 0):,}"
        )
        print(
            f"  Xero call rate: {len(xero_calls) / sandbox_minutes:.1f}/min on average over {sandbox_minutes:.1f}"
            f" sandbox minutes, busiest minute {busiest_minute(xero_calls, m.minute_seconds)} (limit 60/min);"
            f" peak concurrency {max(stats['peak_concurrency'].values(), default=0)} (limit 5)"
        )
        print(f"  429s received: {stats['served_429']} (all Xero responses by status: {stats['by_status']})")
        print(
            f"  wall time {wall:.1f} s (extract {report['extract_seconds']:.1f} s, apply {report['apply_seconds']:.1f} s)"
            f" = {wall * speed / 60:.1f} real minutes scaled back (x{speed:g}: an upper bound, the CPU"
            f" time is scaled up too)"
        )
        floor = len(xero_calls) / 60
        print(
            f"  pacing floor at Xero's real pace: {floor:.1f} minutes ({len(xero_calls):,} calls at 60/min)"
        )
        print(
            f"  stages (s from start): { {k: [round(v[0], 1), round(v[1], 1)] for k, v in report['stages'].items()} }"
        )
        print(f"  peak RSS of the apply process: {report['peak_rss_mib']:.0f} MiB")
        if counts["write_backs_pending"]:
            m.control.set_clock(advance_seconds=3600)
            before = len(m.trials)
            final = run_to_the_end(m)
            runs = m.trials[before:]
            print(
                f"  Capsule's hourly limit left {counts['write_backs_pending']:,} write-backs: done by"
                f" {len(runs)} later run(s) ({sum(t['wall'] for t in runs):.1f} s), status {final['report']['status']}"
            )


def bench_crash(points: int, parties: int, speed: float, seed: int) -> None:
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as home, migration(parties, Path(home), seed=seed, speed=speed) as m:
        print(f"crash trials: {parties:,} generated parties, sandbox clock x{speed:g}")
        print_plan(m, time.perf_counter() - started)
        chosen = default_kill_points(m.counts)[:points]
        trials = crash_trials(m, chosen)
        for number, trial in enumerate(trials, start=1):
            calls = ", ".join(f"{k} {v}" for k, v in sorted(trial["calls"].items()))
            outcome = "killed" if trial["killed"] else f"finished: {trial['report']['status']}"
            print(
                f"  run {number:>2}: {trial['label']}: {outcome} after {trial['wall']:.1f} s ({calls or 'no writes'})"
            )
        checked = time.perf_counter()
        invariants = check_invariants(m)
        print(f"invariants ({time.perf_counter() - checked:.0f} s; checked {invariants['checked']}):")
        for name, found in invariants["problems"].items():
            print(
                f"  {'ok  ' if not found else 'FAIL'} no {name}"
                + (f": {len(found)} e.g. {found[:3]}" if found else "")
            )
        broken = sum(1 for found in invariants["problems"].values() if found)
        killed = sum(1 for t in trials if t["killed"])
        print(
            f"{killed} of {len(chosen)} kill points reached; {broken} invariant(s) broken;"
            f" total {time.perf_counter() - started:.0f} s"
        )
        if broken or killed != len(chosen):
            raise SystemExit(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--parties",
        type=int,
        default=None,
        help=f"default {TEN_K_PARTIES:,} ({TWO_K_PARTIES:,} with --crash-points)",
    )
    parser.add_argument(
        "--speed", type=float, default=60.0, help="sandbox clock speed-up (60: a minute is 1 s)"
    )
    parser.add_argument("--seed", type=int, default=21)
    parser.add_argument(
        "--crash-points", type=int, default=0, metavar="N", help="run the crash trials (N <= 10)"
    )
    args = parser.parse_args()
    if args.crash_points:
        if not 1 <= args.crash_points <= 10:
            parser.error("--crash-points takes 1 to 10")
        bench_crash(args.crash_points, args.parties or TWO_K_PARTIES, args.speed, args.seed)
    else:
        bench_apply(args.parties or TEN_K_PARTIES, args.speed, args.seed)


if __name__ == "__main__":
    main()
