"""Latency figures: from a Capsule edit to the change in Xero, through the webhook path and through polling.

    .venv/bin/python bench/latency.py                        # 300 parties, 20 edits per path, poll every 5 s
    .venv/bin/python bench/latency.py --edits 5 --paths webhook
    .venv/bin/python bench/latency.py --poll-seconds 60      # the default polling interval, measured

Setup (not timed): a generated world is served by the sandbox, signed in to, and migrated by one full
sync with the first plan approved (sandbox clock x60 with matching Xero pacing, so it takes seconds).
Then the sandbox clock is put back to real time and the Xero pacing to Xero's real 60 calls a minute:
everything timed runs at the pace the product runs at.

Each edit changes the e-mail of a party already linked to a Xero contact (CapsuleControl, as a user
in the Capsule UI would) at t0; the bench then polls the sandbox's Xero control API (not rate
limited, not the product's calls) every 0.1 s until the contact shows the new address. Edits come at
a random phase of the sensor's tick, one at a time (the next edit waits for the previous one).

A thread stands in for the Dagster daemon: it evaluates the sensor with ``dg.build_sensor_context``
(keeping its cursor) every tick and, on a RunRequest, runs the incremental sync in-process before the
next tick (Dagster's one-run-at-a-time queue). The sync is the plain functions the job's assets run,
in their order — Capsule extract, Xero extract, ``assets.pipeline.reconcile`` (staging, reconcile,
reports), ``reverse_etl.plans.create_plan``, ``reverse_etl.apply.apply_plan`` — what
``capsule-xero sync --apply`` does (CAPSULE_XERO_APPLY=true: a plan within the approval limits is
applied; one waiting for approval is counted and left, as the job leaves it). It is not
``dg.materialize``: the run launcher's own overhead (a run worker process, the event log) is not
included.

Paths:
- webhook: the receiver (capsule_xero/webhooks.py) serving from a thread, a Capsule REST hook
  (``party/updated``) pointed at it, ``webhook_events_sensor`` evaluated every ``--webhook-tick`` s.
- polling: ``capsule_changes_sensor`` evaluated every ``--poll-seconds`` s.

Printed per path: n, p50, p95 and max of edit → visible in Xero, and its breakdown: detection (t0 to
the start of the run that made the change visible, so a tick that missed it counts here) and sync
(that run's start to the change being visible).
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Run as a script, this file's folder comes first on sys.path and bench/sandbox.py would hide the
# `sandbox` package: put the repository root there instead.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [str(_HERE.parent)] + [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import dagster as dg  # noqa: E402
import duckdb  # noqa: E402
import httpx  # noqa: E402

from assets.pipeline import reconcile  # noqa: E402
from capsule_xero.rules import Rules  # noqa: E402
from capsule_xero.settings import SecretStr, Settings  # noqa: E402
from capsule_xero.spool import Spool  # noqa: E402
from capsule_xero.webhooks import WebhookReceiver  # noqa: E402
from pipelines.capsule import extract_capsule  # noqa: E402
from pipelines.xero import run_xero_extract  # noqa: E402
from pipelines.xero.pacing import reset_pacers  # noqa: E402
from reverse_etl.apply import apply_plan  # noqa: E402
from reverse_etl.plans import create_plan  # noqa: E402
from sandbox.capsule.control import CapsuleControl  # noqa: E402
from sandbox.generator import generate  # noqa: E402
from sandbox.xero.control import XeroControl  # noqa: E402
from tests.support.sync_world import World  # noqa: E402

VISIBLE_TIMEOUT = 300.0  # seconds an edit may take to show before it counts as lost
WATCH_EVERY = 0.1


# ---- the sync a run does --------------------------------------------------------------------------


@dataclass
class RunRecord:
    started: float
    ended: float = 0.0
    plan_status: str = ""
    operations: int = 0
    waited_for_approval: bool = False
    error: str | None = None


def incremental_sync(settings: Settings, rules: Rules, record: RunRecord) -> None:
    """What the job's assets do, in order, with the product's own pacing (real Xero limits)."""
    extract_capsule(settings)
    run_xero_extract(settings)
    with duckdb.connect(str(settings.duckdb_path)) as con:
        reconcile(con, rules)
        plan = create_plan(con, rules)
        record.plan_status, record.operations = plan.status, plan.operations
        if plan.status == "empty":
            return
        if plan.waits_for_approval:
            record.waited_for_approval = True
            return
        apply_plan(con, settings, rules, plan.plan_id)


# ---- the daemon stand-in ------------------------------------------------------------------------


class Daemon(threading.Thread):
    """Evaluates ``sensor`` every ``interval`` s; a RunRequest runs the sync before the next tick."""

    def __init__(self, sensor: Any, interval: float, sync: Callable[[RunRecord], None], cursor: str | None):
        super().__init__(daemon=True)
        self.sensor, self.interval, self.sync, self.cursor = sensor, interval, sync, cursor
        self.runs: list[RunRecord] = []
        self.ticks = 0
        self.stopping = threading.Event()
        self.lock = threading.Lock()

    def tick(self) -> None:
        result = self.sensor.evaluate_tick(dg.build_sensor_context(cursor=self.cursor))
        self.ticks += 1
        if result.cursor is not None:
            self.cursor = result.cursor
        if result.run_requests:
            record = RunRecord(started=time.perf_counter())
            with self.lock:
                self.runs.append(record)
            try:
                self.sync(record)
            except Exception as exc:  # a failed run is a data point, not the end of the bench
                record.error = f"{type(exc).__name__}: {exc}"
            record.ended = time.perf_counter()

    def run(self) -> None:
        next_tick = time.perf_counter()
        while not self.stopping.is_set():
            self.tick()
            next_tick += self.interval
            # A run longer than the interval delays the next tick (the daemon's sensor loop waits for
            # the evaluation, and the run queue holds the next run): tick again as soon as it is over.
            next_tick = max(next_tick, time.perf_counter())
            self.stopping.wait(max(0.0, next_tick - time.perf_counter()))

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=VISIBLE_TIMEOUT)


# ---- the world ----------------------------------------------------------------------------------


def migrated_world(parties: int, seed: int, home: Path) -> World:
    """Generated, served, signed in and migrated (first plan approved and applied), then real time."""
    world = World(generate(parties=parties, seed=seed), home)
    first = world.sync()
    print(
        f"migration: plan {first.plan.plan_id} {first.plan.status}, {first.plan.operations} operations,"
        f" {len(first.xero_writes)} Xero write calls",
        flush=True,
    )
    second = world.sync()
    print(f"second sync (should be empty): plan {second.plan.status}, {second.plan.operations} operations")
    with closing(CapsuleControl(world.server.capsule_url)) as ctl:
        ctl.set_clock(speed=1.0)
    reset_pacers()  # from here on the product's own pacing: Xero's 60 calls a minute, in real minutes
    return world


@dataclass
class Target:
    party_id: int
    contact_number: str
    email_row: int
    domain: str


def linked_parties(world: World, count: int, seed: int) -> list[Target]:
    """Parties whose one e-mail address is what their linked, active Xero contact shows."""
    prefix = world.rules.xero.contact_number_prefix
    with XeroControl(world.server.xero_url) as xero, closing(CapsuleControl(world.server.capsule_url)) as ctl:
        contacts = [
            c
            for c in xero.contacts(include_archived=False)
            if (c.get("ContactNumber") or "").startswith(prefix) and c.get("EmailAddress")
        ]
        random.Random(seed).shuffle(contacts)
        out = []
        for contact in contacts:
            party_id = int(contact["ContactNumber"][len(prefix) :])
            party = ctl.get_party(party_id)
            emails = (party or {}).get("emailAddresses") or []
            if len(emails) != 1 or emails[0]["address"].strip().lower() != contact["EmailAddress"].lower():
                continue
            domain = emails[0]["address"].rsplit("@", 1)[1]
            out.append(Target(party_id, contact["ContactNumber"], emails[0]["id"], domain))
            if len(out) == count:
                return out
    raise SystemExit(f"only {len(out)} linked parties with one e-mail address; generate more parties")


# ---- one path ---------------------------------------------------------------------------------


@dataclass
class Edit:
    t0: float
    visible: float | None = None
    run: RunRecord | None = None
    runs_before: int = 0  # runs started after t0 that did not make it visible

    @property
    def latency(self) -> float:
        return (self.visible or float("nan")) - self.t0


@dataclass
class PathResult:
    name: str
    interval: float
    edits: list[Edit] = field(default_factory=list)
    runs: list[RunRecord] = field(default_factory=list)
    ticks: int = 0
    xero_calls: int = 0
    capsule_calls: int = 0
    xero_429: int = 0


def measure(world: World, name: str, daemon: Daemon, targets: list[Target], rng: random.Random) -> PathResult:
    result = PathResult(name, daemon.interval)
    with closing(CapsuleControl(world.server.capsule_url)) as ctl:
        since = ctl.last_seq()
    daemon.start()
    try:
        with (
            closing(CapsuleControl(world.server.capsule_url)) as ctl,
            XeroControl(world.server.xero_url) as xero,
        ):
            for number, target in enumerate(targets, start=1):
                # Edits land at a random phase of the tick, as a user's would.
                time.sleep(rng.uniform(0, daemon.interval))
                new = f"latency-{name}-{number}-{secrets.token_hex(3)}@{target.domain}"
                t0 = time.perf_counter()
                ctl.update_party(
                    target.party_id, {"emailAddresses": [{"id": target.email_row, "address": new}]}
                )
                edit = Edit(t0)
                while time.perf_counter() - t0 < VISIBLE_TIMEOUT:
                    shown = (xero.contact(target.contact_number).get("EmailAddress") or "").lower()
                    if shown == new.lower():
                        edit.visible = time.perf_counter()
                        break
                    time.sleep(WATCH_EVERY)
                with daemon.lock:
                    after = [r for r in daemon.runs if r.started >= t0]
                if edit.visible is not None:
                    made = [r for r in after if r.started <= edit.visible]
                    edit.run = made[-1] if made else None
                    edit.runs_before = max(0, len(made) - 1)
                result.edits.append(edit)
                print(
                    f"  {name} edit {number:>2}: "
                    + (
                        f"{edit.latency:6.1f} s"
                        + (
                            f" (detected {edit.run.started - t0:5.1f} s, sync {edit.visible - edit.run.started:5.1f} s"
                            f"{', ' + str(edit.runs_before) + ' earlier run(s) missed it' if edit.runs_before else ''})"
                            if edit.run
                            else ""
                        )
                        if edit.visible is not None
                        else f"not visible after {VISIBLE_TIMEOUT:.0f} s"
                    ),
                    flush=True,
                )
                # The next edit starts once the run that carried this one is over.
                while edit.run is not None and not edit.run.ended:
                    time.sleep(0.05)
    finally:
        daemon.stop()
    result.runs, result.ticks = daemon.runs, daemon.ticks
    with closing(CapsuleControl(world.server.capsule_url)) as ctl:
        # The product's calls only: the bench's own edits and checks go to the control routes.
        result.xero_calls = sum("/api.xro/" in c["path"] for c in ctl.calls("xero", since))
        result.capsule_calls = sum("/api/v2/" in c["path"] for c in ctl.calls("capsule", since))
        result.xero_429 = ctl.stats("xero", since).get("served_429", 0)
    return result


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (no interpolation: p95 of 20 values is the 19th)."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.4999)))
    return ordered[rank - 1]


def summarise(result: PathResult) -> None:
    seen = [e for e in result.edits if e.visible is not None and e.run is not None]
    lost = len(result.edits) - len([e for e in result.edits if e.visible is not None])
    print(f"\n{result.name} (sensor evaluated every {result.interval:g} s, {result.ticks} ticks):")
    if not seen:
        print("  no edit became visible")
        return
    rows = {
        "edit → visible in Xero": [e.latency for e in seen],
        "  detection (edit → run start)": [e.run.started - e.t0 for e in seen],  # type: ignore[union-attr]
        "  sync (run start → visible)": [e.visible - e.run.started for e in seen],  # type: ignore[union-attr,operator]
    }
    print(f"  n={len(seen)}" + (f", {lost} never visible" if lost else ""))
    print(f"  {'':32} {'p50':>7} {'p95':>7} {'max':>7}")
    for label, values in rows.items():
        print(
            f"  {label:32} {statistics.median(values):6.1f}s {percentile(values, 95):6.1f}s {max(values):6.1f}s"
        )
    runs = [r for r in result.runs if r.ended]
    durations = [r.ended - r.started for r in runs]
    waited = sum(r.waited_for_approval for r in runs)
    failed = [r.error for r in runs if r.error]
    print(
        f"  runs: {len(runs)}, duration p50 {statistics.median(durations):.1f} s, max {max(durations):.1f} s;"
        f" plans {sorted({(r.plan_status, r.operations) for r in runs})}"
        + (f"; {waited} waited for approval" if waited else "")
        + (f"; {len(failed)} failed, e.g. {failed[0]}" if failed else "")
    )
    print(
        f"  API calls by sensor and runs: Xero {result.xero_calls} ({result.xero_calls / len(runs):.1f} a run,"
        f" {result.xero_429} answered 429), Capsule {result.capsule_calls}"
    )
    missed = sum(1 for e in seen if e.runs_before)
    if missed:
        print(f"  {missed} edit(s) were missed by the first run after them and carried by a later one")


def implied_default(result: PathResult, default: float) -> None:
    """Polling at ``default`` s: detection is uniform on [0, interval], sync adds the same run time."""
    seen = [e for e in result.edits if e.visible is not None and e.run is not None]
    if not seen:
        return
    syncs = [e.visible - e.run.started for e in seen]  # type: ignore[operator,union-attr]
    p95_sync = percentile(syncs, 95)
    print(
        f"  at the default {default:g} s interval: p50 ≈ {default / 2 + statistics.median(syncs):.0f} s,"
        f" p95 ≈ {0.95 * default + p95_sync:.0f} s, max ≈ {default + max(syncs):.0f} s"
        f" (uniform detection delay on [0, {default:g}] s + the sync times measured here)"
    )


# ---- main ---------------------------------------------------------------------------------------


def subscribe_hook(world: World, receiver: WebhookReceiver) -> Callable[[], None]:
    """A ``party/updated`` REST hook to the receiver (the sandbox's default batch window); returns its remover."""
    with closing(CapsuleControl(world.server.capsule_url)) as ctl:
        token = ctl.mint_app_token(client_id="capsule-xero-bench")["access_token"]
    with httpx.Client(
        base_url=f"{world.server.capsule_url}/api/v2",
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
        timeout=10,
    ) as capsule:
        response = capsule.post(
            "/resthooks",
            json={"restHook": {"event": "party/updated", "targetUrl": receiver.capsule_url()}},
        )
        response.raise_for_status()
        hook_id = response.json()["restHook"]["id"]

    def unsubscribe() -> None:
        with httpx.Client(base_url=f"{world.server.capsule_url}/api/v2", timeout=10) as capsule:
            capsule.delete(f"/resthooks/{hook_id}", headers={"Authorization": f"Bearer {token}"})

    return unsubscribe


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parties", type=int, default=300)
    parser.add_argument("--seed", type=int, default=21)
    parser.add_argument("--edits", type=int, default=20)
    parser.add_argument(
        "--paths", default="webhook,polling", help="webhook, polling or both (comma-separated)"
    )
    parser.add_argument(
        "--webhook-tick", type=float, default=1.5, help="seconds between webhook sensor ticks"
    )
    parser.add_argument(
        "--poll-seconds", type=float, default=5.0, help="seconds between polling sensor ticks"
    )
    args = parser.parse_args()
    paths = [p.strip() for p in args.paths.split(",") if p.strip()]
    if not set(paths) <= {"webhook", "polling"}:
        parser.error("--paths takes webhook and/or polling")

    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        started = time.perf_counter()
        world = migrated_world(args.parties, args.seed, home)
        try:
            hook_token = secrets.token_urlsafe(32)
            # The sensors read Settings.from_env(): point them at this world.
            os.environ.update(
                world.server.env()
                | {
                    "CAPSULE_XERO_HOME": str(home),
                    "CAPSULE_XERO_APPLY": "true",
                    "CAPSULE_HOOK_TOKEN": hook_token,
                }
            )
            settings = Settings.from_env()
            rules = world.rules
            targets = linked_parties(world, args.edits * len(paths), args.seed)
            print(
                f"{args.parties:,} generated parties (seed {args.seed}), setup {time.perf_counter() - started:.0f} s;"
                f" {args.edits} edits per path; sandbox clock x1, Xero pacing 60 calls/min",
                flush=True,
            )

            def sync(record: RunRecord) -> None:
                incremental_sync(settings, rules, record)

            from assets.sensors import capsule_changes_sensor
            from assets.webhook_sensor import webhook_events_sensor

            results = []
            for index, path in enumerate(paths):
                chosen = targets[index * args.edits : (index + 1) * args.edits]
                if path == "webhook":
                    spool = Spool.at_home(home)
                    with WebhookReceiver(spool, capsule_token=SecretStr(hook_token)) as receiver:
                        unsubscribe = subscribe_hook(world, receiver)
                        daemon = Daemon(webhook_events_sensor, args.webhook_tick, sync, None)
                        results.append(measure(world, "webhook", daemon, chosen, rng))
                        unsubscribe()  # later edits must not reach the polling runs through the hook
                    spool.mark_done(spool.pending())
                else:
                    # The first check with no cursor asks from the start of time: take its watermark,
                    # as a daemon that has been running would have, without running a sync for it.
                    first = capsule_changes_sensor.evaluate_tick(dg.build_sensor_context(cursor=None))
                    daemon = Daemon(capsule_changes_sensor, args.poll_seconds, sync, first.cursor)
                    results.append(measure(world, "polling", daemon, chosen, rng))
            for result in results:
                summarise(result)
                if result.name == "polling":
                    implied_default(result, 60.0)
            print(f"\ntotal {time.perf_counter() - started:.0f} s")
        finally:
            world.close()


if __name__ == "__main__":
    main()
