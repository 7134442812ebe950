"""Latency figures: from a Capsule edit to the change in Xero, through the webhook path and through polling.

    # The product as deployed (default --runner dagster): `capsule-xero ui` (dagster dev: webserver,
    # daemon, code server) and `capsule-xero webhooks serve` as subprocesses, 50 edits per path.
    .venv/bin/python bench/latency.py --paths webhook
    # The webhook fast lane (on by default) against the sensor's runs (WEBHOOK_FAST_LANE=false for
    # the receiver), each on a world of its own, one after the other, compared in one table:
    .venv/bin/python bench/latency.py --paths webhook --fast-lane both
    .venv/bin/python bench/latency.py --paths polling --poll-seconds 15
    .venv/bin/python bench/latency.py --paths polling --edits 10         # CAPSULE_POLL_SECONDS=60, the default
    # What-if: webhook_events_sensor with another minimum_interval_seconds than the product's
    # (bench/latency_defs.py: the product's definitions with only that changed; said in the output):
    .venv/bin/python bench/latency.py --paths webhook --webhook-tick 15
    .venv/bin/python bench/latency.py --paths webhook --webhook-tick 4
    # The sync alone, without Dagster: a thread evaluates the sensors and runs the plain functions.
    .venv/bin/python bench/latency.py --runner inprocess                  # webhook tick 1.5 s, poll 5 s
    .venv/bin/python bench/latency.py --runner inprocess --webhook-tick 15 --poll-seconds 15

Setup (not timed), for each path anew: a generated world is served by the sandbox (in this process, on
127.0.0.1), signed in to, and migrated by one full sync with the first plan approved (sandbox clock x60
with matching Xero pacing, so it takes seconds). Then the sandbox clock is put back to real time and
the Xero pacing to Xero's real 60 calls a minute: everything timed runs at the pace the product runs at.
The migration leaves one archive Xero refuses (the generator's
``deleted_party_synced_with_repeating_invoice`` case) in the error queue, where it waits for a person
and plans leave it out, so later edits reach Xero unattended; should a plan ever wait for approval,
the bench stops the path and says so.

Each edit changes the e-mail of a party already linked to a Xero contact (CapsuleControl, as a user
in the Capsule UI would) at t0; the bench then polls the sandbox's Xero control API (not rate
limited, not the product's calls) every 0.1 s until the contact shows the new address. Edits come at
a random phase of the sensor's interval, one at a time: the next edit waits until the run that
carried the previous one is over and no run is queued or in progress.

Runners:

- ``--runner dagster`` (default): the real thing. The environment the product's processes get is
  the sandbox's URLs and demo credentials, CAPSULE_XERO_HOME (a temporary folder), CAPSULE_XERO_APPLY
  =true, CAPSULE_POLL_SECONDS, CAPSULE_HOOK_TOKEN and WEBHOOK_PORT; DAGSTER_HOME is
  ``$CAPSULE_XERO_HOME/dagster`` with the product's dagster.yaml (cli/ui.py). The
  bench starts ``capsule-xero ui`` (``dagster dev -w workspace.yaml``: webserver, daemon with its
  sensor loop and run queue, a code server; each run is a new run worker process, which executes
  the steps in its own process) or, with ``--dagster-command daemon``, only
  ``dagster-daemon run -w workspace.yaml``. Both sensors are RUNNING by default (``default_status``);
  the first polling tick, with no cursor, starts one sync that the first edit waits out. The webhook
  path switches polling off (``dagster sensor stop``) so webhooks are timed alone; the polling path
  sets the sensor's cursor to Capsule's newest change (``dagster sensor cursor --set``), as a daemon
  that had been running would hold it. Runs,
  their queue and start times, step times and plan metadata are read from the Dagster instance.
  Dagster's sensor daemon evaluates sensors in a loop that sleeps 5 s between iterations and runs a
  sensor once ``minimum_interval_seconds`` have passed since its last tick, so a 15 s sensor ticks
  every 15 to 20 s and a 5 s one every 5 or 10 s (the loop's jitter sometimes finds 4.99 s elapsed);
  the queued run coordinator dequeues every 5 s (dagster 1.13 defaults).
- ``--runner inprocess``: a thread stands in for the daemon: it evaluates the sensor with
  ``dg.build_sensor_context`` (keeping its cursor, skipping a run key it has already run, as Dagster
  does) every tick and, on a RunRequest, runs the incremental sync in-process before the next tick.
  The sync is the plain functions the job's assets run, in their order — Capsule extract, Xero
  extract, ``transform.stages.reconcile``, ``reverse_etl.plans.create_plan``,
  ``reverse_etl.apply.apply_plan`` — with no Dagster overhead (no queue, run worker or event log):
  the floor the Dagster figures sit on.

Paths:
- webhook: the receiver (capsule_xero/webhooks.py; ``capsule-xero webhooks serve`` in a subprocess for
  the dagster runner, a thread for inprocess), a Capsule REST hook (``party/updated``, the sandbox's
  default 1 s batch window) pointed at it, ``webhook_events_sensor``.
- polling: ``capsule_changes_sensor`` every ``--poll-seconds`` (CAPSULE_POLL_SECONDS).

Printed per path: n, p50, p95 and max of edit → visible in Xero, and its breakdown: detection (t0 to
the sensor's request of the run that made the change visible, so a tick that missed it counts
here), for Dagster queue + launch (request → the run worker's RUN_START), and run (that start to
the change being visible); for the webhook path also the hook's delivery (t0 → the event in the
spool). Then the runs (duration, time in steps, plans) and the sensor's real tick gaps.

With the fast lane on, an edit is carried by a pass of the receiver's fast lane (assets/fast_lane.py),
not a run: the bench finds the pass among the runless materialisations of the writer asset in the
Dagster instance (``--runner inprocess``: a ``FastLaneWorker`` in this process recording to a list),
breaks the latency into the hook's delivery (edit → spooled) and the pass (spooled → visible), and
counts edits carried by passes and by runs. Each edit's Xero and Capsule calls are the sandbox's call
log from the edit until its pass or run is over (the next edit waits for that).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

# Run as a script, this file's folder comes first on sys.path and bench/sandbox.py would hide the
# `sandbox` package: put the repository root there instead.
_HERE = Path(__file__).resolve().parent
REPO = _HERE.parent
sys.path[:] = [str(REPO)] + [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import dagster as dg  # noqa: E402
import duckdb  # noqa: E402
import httpx  # noqa: E402
from dagster._core.definitions.run_request import InstigatorType  # noqa: E402 - not in dagster's public API
from pydantic import SecretStr  # noqa: E402

from assets.fast_lane import WRITER_ASSET, FastLane, FastLaneWorker, Pass  # noqa: E402
from capsule_xero.rules.model import Rules  # noqa: E402
from capsule_xero.settings import Settings  # noqa: E402
from capsule_xero.spool import Spool  # noqa: E402
from capsule_xero.webhooks import CAPSULE_PREFIX, HEALTH_PATH, WebhookReceiver  # noqa: E402
from capsule_xero.xero.transports import reset_pacers  # noqa: E402
from cli.ui import prepare_dagster_home  # noqa: E402
from pipelines.capsule import extract_capsule  # noqa: E402
from pipelines.xero import run_xero_extract  # noqa: E402
from reverse_etl.apply.loop import apply_plan  # noqa: E402
from reverse_etl.plans.create import create_plan  # noqa: E402
from sandbox.capsule.control import CapsuleControl  # noqa: E402
from sandbox.generator import generate  # noqa: E402
from sandbox.xero.control import XeroControl  # noqa: E402
from tests.support.sync_world import World  # noqa: E402
from transform.stages import reconcile  # noqa: E402

WATCH_EVERY = 0.1
JOB = "incremental_sync_job"
WRITE_STEP = "xero_contacts_written"
WEBHOOK_SENSOR = "webhook_events_sensor"
POLLING_SENSOR = "capsule_changes_sensor"
BIN = Path(sys.executable).parent
ACTIVE = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]


# ---- a run, whoever ran it ----------------------------------------------------------------------


@dataclass
class Run:
    """Wall-clock times (``time.time()``), comparable with the Dagster instance's."""

    requested: float  # the sensor's tick asked for it (Dagster: the run was created and queued)
    started: float  # the sync began (Dagster: RUN_START, written by the run worker once it is up)
    ended: float = 0.0
    dequeued: float | None = None  # Dagster: the queue daemon launched it (RUN_STARTING)
    run_id: str = ""
    status: str = ""
    plan_status: str = ""
    operations: int = 0
    waited_for_approval: bool = False
    error: str | None = None
    steps_seconds: float | None = None  # Dagster: the steps' own durations, summed
    steps: int = 0
    step_seconds: dict[str, float] = field(default_factory=dict)  # Dagster: each step's duration


@dataclass
class LanePass:
    """A webhook fast-lane pass (assets/fast_lane.py): a runless materialisation of the writer asset."""

    ended: float  # wall clock: when it was reported (after its writes)
    seconds: float  # its own duration, from its metadata
    events: int = 0
    plan_status: str = ""
    operations: int = 0
    written: str = ""
    waited_for_approval: bool = False

    @property
    def started(self) -> float:
        return self.ended - self.seconds


class Runner(Protocol):
    """What ``measure`` needs from whatever evaluates the sensor and runs the job."""

    interval: float  # the sensor's nominal interval: edits land at a random phase of it

    def start(self) -> None: ...
    def stop(self) -> None: ...
    def runs(self) -> list[Run]: ...  # runs requested since start, oldest first
    def passes(self) -> list[LanePass]: ...  # fast-lane passes reported since start, oldest first
    def wait_over(self, run: Run, timeout: float) -> None: ...  # run over, nothing queued or running
    def tick_times(self) -> list[float]: ...
    def describe(self) -> str: ...


# ---- the in-process stand-in --------------------------------------------------------------------


def incremental_sync(settings: Settings, rules: Rules, record: Run) -> None:
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
        # The status after the writes, as the write asset's metadata (what the Dagster runner reads) has it.
        record.plan_status = apply_plan(con, settings, rules, plan.plan_id).status


class SerialisedLane(FastLane):
    """A fast lane whose passes wait for ``lock`` (see ``Daemon.sync_lock``)."""

    def __init__(self, settings: Settings, rules: Rules, *, record: Any, lock: threading.Lock) -> None:
        super().__init__(settings, rules, record=record)
        self.lock = lock

    def run_pass(self) -> Pass | None:
        with self.lock:
            return super().run_pass()


class Daemon(threading.Thread):
    """Evaluates ``sensor`` every ``interval`` s; a RunRequest runs the sync before the next tick."""

    def __init__(self, sensor: Any, interval: float, sync: Callable[[Run], None], cursor: str | None):
        super().__init__(daemon=True)
        self.sensor, self.interval, self.sync, self.cursor = sensor, interval, sync, cursor
        self._runs: list[Run] = []
        self._ticks: list[float] = []
        self.run_keys: set[str] = set()
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.lane: FastLaneWorker | None = None
        self._passes: list[LanePass] = []
        # The home lock is re-entrant within a process (capsule_xero/home_lock.py), so it cannot keep
        # this thread's sync and the fast lane's apart as it keeps a run worker and the receiver apart:
        # this lock does (a pass waits for the run, where the receiver's would decline after 2 s).
        self.sync_lock = threading.Lock()

    def with_fast_lane(self, settings: Settings, rules: Rules) -> Daemon:
        """The receiver's fast lane beside the sensor, as `webhooks serve` runs it, recording to a list."""

        def record(done: Pass) -> None:
            meta = done.metadata()
            with self.lock:
                self._passes.append(
                    LanePass(
                        time.time(),
                        done.seconds,
                        done.events,
                        str(meta.get("plan_status", "")),
                        int(meta.get("operations", 0) or 0),
                        str(meta.get("written", "")),
                        str(meta.get("why_not", "")).startswith("waits for approval"),
                    )
                )

        self.lane = FastLaneWorker([SerialisedLane(settings, rules, record=record, lock=self.sync_lock)])
        return self

    def tick(self) -> None:
        # No instance: webhook_events_sensor then takes the cursor we keep as the record of its run
        # (an empty instance of our own would never hold the run, and the sensor would ask for the
        # same batch forever).
        context = dg.build_sensor_context(cursor=self.cursor)
        result = self.sensor.evaluate_tick(context)
        self._ticks.append(time.time())
        if result.cursor is not None:
            self.cursor = result.cursor
        # Dagster launches one run per run key, ever: a re-evaluation of the same batch starts none.
        fresh = [r for r in result.run_requests or [] if r.run_key is None or r.run_key not in self.run_keys]
        self.run_keys.update(r.run_key for r in fresh if r.run_key)
        if fresh:
            now = time.time()
            record = Run(requested=now, started=now)
            with self.lock:
                self._runs.append(record)
            try:
                with self.sync_lock:
                    self.sync(record)
                record.status = "SUCCESS"
            except Exception as exc:  # a failed run is a data point, not the end of the bench
                record.status, record.error = "FAILURE", f"{type(exc).__name__}: {exc}"
            record.ended = time.time()

    def run(self) -> None:
        next_tick = time.perf_counter()
        while not self.stopping.is_set():
            self.tick()
            next_tick += self.interval
            # A run longer than the interval delays the next tick (one run at a time): tick again as
            # soon as it is over.
            next_tick = max(next_tick, time.perf_counter())
            self.stopping.wait(max(0.0, next_tick - time.perf_counter()))

    def start(self) -> None:
        super().start()
        if self.lane is not None:
            self.lane.start()

    # Runner
    def stop(self) -> None:
        if self.lane is not None:
            self.lane.stop()
        self.stopping.set()
        self.join(timeout=600)

    def runs(self) -> list[Run]:
        with self.lock:
            return list(self._runs)

    def passes(self) -> list[LanePass]:
        with self.lock:
            return list(self._passes)

    def wait_over(self, run: Run, timeout: float) -> None:
        deadline = time.time() + timeout
        while not run.ended and time.time() < deadline:
            time.sleep(0.05)

    def tick_times(self) -> list[float]:
        return list(self._ticks)

    def describe(self) -> str:
        lane = ", fast lane on" if self.lane is not None else ""
        return f"in-process stand-in, sensor evaluated every {self.interval:g} s{lane}"


# ---- the real Dagster ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Process:
    """A subprocess of ours in its own process group, its output in a log file."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], log: Path) -> None:
        self.name, self.command, self.log = name, command, log
        self.handle = log.open("ab")
        self.popen = subprocess.Popen(  # noqa: S603 - our own executables, our own arguments
            command, env=env, cwd=REPO, stdout=self.handle, stderr=subprocess.STDOUT, start_new_session=True
        )

    def alive(self) -> bool:
        return self.popen.poll() is None

    def tail(self, lines: int = 30) -> str:
        text = self.log.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def stop(self, grace: float = 60.0) -> None:
        """Ctrl-C to its process group (dagster dev shuts its children down on it), then SIGKILL."""
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGINT)
            try:
                self.popen.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout=30)
        # Children that outlived their parent (a run worker mid-step) are still in the group.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.handle.close()


class Deployment:
    """``capsule-xero ui`` (or ``dagster-daemon run``) on this world's home, and what its instance says."""

    def __init__(
        self, env: dict[str, str], home: Path, workspace: Path, command: str, logs: Path, what_if: bool
    ) -> None:
        self.env, self.workspace, self.command, self.logs = env, workspace, command, logs
        self.dagster_home = prepare_dagster_home(home)  # the product's own dagster.yaml
        self.env["DAGSTER_HOME"] = str(self.dagster_home)
        self.what_if = what_if
        self.process: Process | None = None
        self._instance: dg.DagsterInstance | None = None
        self._details: dict[str, Run] = {}

    @property
    def instance(self) -> dg.DagsterInstance:
        if self._instance is None:
            self._instance = dg.DagsterInstance.from_config(str(self.dagster_home))
        return self._instance

    def start(self) -> None:
        if self.command == "daemon":
            command = [str(BIN / "dagster-daemon"), "run", "-w", str(self.workspace)]
        elif self.what_if:
            # What `capsule-xero ui` runs, on the what-if workspace.
            command = [str(BIN / "dagster"), "dev", "-w", str(self.workspace), "-h", "127.0.0.1"]
            command += ["-p", str(free_port())]
        else:
            command = [str(BIN / "capsule-xero"), "ui", "--port", str(free_port())]
        self.process = Process("dagster", command, self.env, self.logs / "dagster.log")
        print(f"dagster: {Path(command[0]).name} {' '.join(command[1:])}", flush=True)

    def cli(self, *args: str) -> str:
        done = subprocess.run(  # noqa: S603 - our own dagster
            [str(BIN / "dagster"), *args, "-w", str(self.workspace)],
            env=self.env,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if done.returncode:
            raise SystemExit(f"dagster {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
        return done.stdout.strip()

    def sensor_state(self, name: str) -> Any | None:
        states = self.instance.all_instigator_state(instigator_type=InstigatorType.SENSOR)
        return next((s for s in states if s.name == name), None)

    def ticks(self, name: str, after: float, before: float | None = None) -> list[float]:
        state = self.sensor_state(name)
        if state is None:
            return []
        ticks = self.instance.get_ticks(
            state.instigator_origin_id, state.selector_id, after=after, before=before
        )
        return sorted(t.timestamp for t in ticks)

    def wait_for_tick(self, name: str, after: float, timeout: float = 300.0) -> float:
        """The first tick of sensor ``name`` after ``after`` (the daemon is up and evaluating it)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.process is not None and not self.process.alive():
                raise SystemExit(f"dagster exited ({self.process.popen.returncode}):\n{self.process.tail()}")
            ticks = self.ticks(name, after)
            if ticks:
                return ticks[0]
            time.sleep(1.0)
        tail = self.process.tail() if self.process else ""
        raise SystemExit(f"no tick of {name} within {timeout:.0f} s:\n{tail}")

    def wait_idle(self, timeout: float = 300.0) -> None:
        deadline = time.time() + timeout
        while self.active() and time.time() < deadline:
            time.sleep(1.0)

    def active(self) -> int:
        return len(self.instance.get_run_records(filters=dg.RunsFilter(job_name=JOB, statuses=ACTIVE)))

    def runs(self, after: float) -> list[Run]:
        records = self.instance.get_run_records(
            filters=dg.RunsFilter(job_name=JOB, created_after=datetime.fromtimestamp(after, UTC)),
            ascending=True,
        )
        return [self._run(record) for record in records]

    def passes(self, after: float) -> list[LanePass]:
        """The fast lane's passes: runless materialisations of the writer asset (``trigger`` says so)."""
        found = self.instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=WRITER_ASSET, after_timestamp=after), limit=10_000, ascending=True
        )
        out = []
        for record in found.records:
            materialization = record.event_log_entry.asset_materialization
            if materialization is None:
                continue
            meta = {k: getattr(v, "value", v) for k, v in materialization.metadata.items()}
            if not str(meta.get("trigger", "")).startswith("webhook fast lane"):
                continue
            out.append(
                LanePass(
                    record.timestamp,
                    float(meta.get("seconds", 0.0) or 0.0),
                    int(meta.get("webhook_events", 0) or 0),
                    str(meta.get("plan_status", "")),
                    int(meta.get("operations", 0) or 0),
                    str(meta.get("written", "")),
                    str(meta.get("why_not", "")).startswith("waits for approval"),
                )
            )
        return out

    def _run(self, record: Any) -> Run:
        run = record.dagster_run
        if run.run_id in self._details:
            return self._details[run.run_id]
        out = Run(
            requested=record.create_timestamp.timestamp(),
            started=record.start_time or float("inf"),
            ended=record.end_time or 0.0,
            run_id=run.run_id,
            status=run.status.value,
        )
        if run.status.value in {"SUCCESS", "FAILURE", "CANCELED"} and record.end_time:
            self._fill(out)
            self._details[run.run_id] = out  # over: its events no longer change
        return out

    def _fill(self, out: Run) -> None:
        events = self.instance.all_logs(
            out.run_id,
            of_type={
                dg.DagsterEventType.RUN_STARTING,
                dg.DagsterEventType.ASSET_MATERIALIZATION,
                dg.DagsterEventType.STEP_FAILURE,
                dg.DagsterEventType.RUN_FAILURE,
            },
        )
        for entry in events:
            kind = entry.dagster_event.event_type if entry.dagster_event else None
            if kind == dg.DagsterEventType.RUN_STARTING and out.dequeued is None:
                out.dequeued = entry.timestamp
            elif kind == dg.DagsterEventType.ASSET_MATERIALIZATION:
                materialization = entry.asset_materialization
                if materialization is None or materialization.asset_key.path[-1] != WRITE_STEP:
                    continue
                meta = {k: getattr(v, "value", v) for k, v in materialization.metadata.items()}
                out.plan_status = str(meta.get("plan_status", ""))
                out.operations = int(meta.get("operations", 0) or 0)
                out.waited_for_approval = str(meta.get("why_not", "")).startswith("waits for approval")
            elif (
                kind in {dg.DagsterEventType.STEP_FAILURE, dg.DagsterEventType.RUN_FAILURE} and not out.error
            ):
                out.error = (entry.message or kind.value).splitlines()[0][:300]
        stats = self.instance.get_run_step_stats(out.run_id)
        out.step_seconds = {s.step_key: (s.end_time or 0) - s.start_time for s in stats if s.start_time}
        out.steps = len(stats)
        out.steps_seconds = sum(out.step_seconds.values())

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
        if self._instance is not None:
            self._instance.dispose()


class DagsterPath:
    """One path's view of the deployment: runs requested and ticks of its sensor since ``start``."""

    def __init__(self, deployment: Deployment, sensor: str, interval: float) -> None:
        self.deployment, self.sensor, self.interval = deployment, sensor, interval
        self.since = self.until = 0.0

    def start(self) -> None:
        self.since = time.time()

    def stop(self) -> None:
        self.until = time.time()

    def runs(self) -> list[Run]:
        return self.deployment.runs(self.since)

    def passes(self) -> list[LanePass]:
        return self.deployment.passes(self.since)

    def wait_over(self, run: Run, timeout: float) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            current = next((r for r in self.runs() if r.run_id == run.run_id), run)
            if current.ended and not self.deployment.active():
                return
            time.sleep(0.5)
        print(f"  (run {run.run_id[:8]} or a later one still going after {timeout:.0f} s)", flush=True)

    def tick_times(self) -> list[float]:
        return self.deployment.ticks(self.sensor, self.since, self.until or None)

    def describe(self) -> str:
        where = "what-if code location bench/latency_defs.py" if self.deployment.what_if else "workspace.yaml"
        return (
            f"Dagster ({self.deployment.command}, {where}), {self.sensor}"
            f" minimum_interval_seconds={self.interval:g}"
        )


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
    run: Run | None = None
    runs_before: int = 0  # runs requested after t0 that did not make it visible
    spooled: float | None = None  # webhook path: the hook's event landed in the spool
    lane: LanePass | None = None  # the fast-lane pass that carried it (no run did)
    xero_calls: int = 0  # the product's calls from this edit until the next one
    capsule_calls: int = 0

    @property
    def latency(self) -> float:
        return (self.visible or float("nan")) - self.t0


@dataclass
class PathResult:
    name: str
    described: str
    interval: float
    edits: list[Edit] = field(default_factory=list)
    runs: list[Run] = field(default_factory=list)
    ticks: list[float] = field(default_factory=list)
    xero_calls: int = 0
    capsule_calls: int = 0
    xero_429: int = 0
    load: tuple[float, float] = (0.0, 0.0)  # 1-minute load average before and after
    passes: list[LanePass] = field(default_factory=list)
    fast_lane: bool | None = None  # webhook path: WEBHOOK_FAST_LANE for the receiver


def first_spooled(spool: Spool | None, after: float) -> float | None:
    """When the first event written after ``after`` landed (pending or already moved to done/)."""
    if spool is None:
        return None
    stamps = []
    # A fast-lane pass holds its deliveries in claimed/ until its writes are over.
    for folder in (spool.root, spool.claimed, spool.done):
        for path in folder.glob("*.json") if folder.is_dir() else []:
            with contextlib.suppress(FileNotFoundError):
                stamp = path.stat().st_mtime
                if stamp >= after:
                    stamps.append(stamp)
    return min(stamps) if stamps else None


def describe_edit(name: str, number: int, edit: Edit, timeout: float) -> str:
    if edit.visible is None:
        return f"  {name} edit {number:>2}: not visible after {timeout:.0f} s"
    line = f"  {name} edit {number:>2}: {edit.latency:6.1f} s"
    run = edit.run
    if run is None and edit.lane is not None:
        parts = [f"spooled {edit.spooled - edit.t0:4.1f} s"] if edit.spooled is not None else []
        parts.append(f"fast lane: pass {edit.visible - (edit.spooled or edit.t0):5.1f} s")
        parts.append(f"{edit.xero_calls} Xero, {edit.capsule_calls} Capsule calls")
        return f"{line} ({', '.join(parts)})"
    if run is None:
        return line
    parts = [f"detected {run.requested - edit.t0:5.1f} s"]
    if edit.spooled is not None:
        parts.insert(0, f"spooled {edit.spooled - edit.t0:4.1f} s")
    if run.started != run.requested:
        parts.append(f"queue+launch {run.started - run.requested:5.1f} s")
    parts.append(f"run {edit.visible - run.started:5.1f} s")
    if edit.runs_before:
        parts.append(f"{edit.runs_before} earlier run(s) missed it")
    return f"{line} ({', '.join(parts)})"


def carried_by(runner: Runner, edit: Edit, timeout: float) -> LanePass | None:
    """The fast-lane pass that wrote ``edit`` (it is reported just after its writes), if one did."""
    assert edit.visible is not None
    deadline = time.time() + timeout
    while True:
        found = [p for p in runner.passes() if p.ended >= edit.t0 and p.started <= edit.visible]
        if found or time.time() > deadline:
            return found[0] if found else None
        time.sleep(0.2)


def product_calls(ctl: CapsuleControl, since: int) -> tuple[int, int, int]:
    """Xero and Capsule calls the product made since call ``since`` (the bench's own edits and checks go
    to the control routes), and Xero's 429s."""
    xero = sum("/api.xro/" in c["path"] for c in ctl.calls("xero", since))
    capsule = sum("/api/v2/" in c["path"] for c in ctl.calls("capsule", since))
    return xero, capsule, ctl.stats("xero", since).get("served_429", 0)


def measure(
    world: World,
    name: str,
    runner: Runner,
    targets: list[Target],
    rng: random.Random,
    timeout: float,
    spool: Spool | None = None,
) -> PathResult:
    result = PathResult(name, runner.describe(), runner.interval)
    result.load = (os.getloadavg()[0], 0.0)
    with closing(CapsuleControl(world.server.capsule_url)) as ctl:
        since = ctl.last_seq()
    runner.start()
    try:
        with (
            closing(CapsuleControl(world.server.capsule_url)) as ctl,
            XeroControl(world.server.xero_url) as xero,
        ):
            for number, target in enumerate(targets, start=1):
                # Edits land at a random phase of the sensor's interval, as a user's would.
                time.sleep(rng.uniform(0, runner.interval))
                new = f"latency-{name.split()[0]}-{number}-{secrets.token_hex(3)}@{target.domain}"
                calls_before = ctl.last_seq()
                t0 = time.time()
                ctl.update_party(
                    target.party_id, {"emailAddresses": [{"id": target.email_row, "address": new}]}
                )
                edit = Edit(t0)
                while time.time() - t0 < timeout:
                    shown = (xero.contact(target.contact_number).get("EmailAddress") or "").lower()
                    if shown == new.lower():
                        edit.visible = time.time()
                        break
                    time.sleep(WATCH_EVERY)
                edit.spooled = first_spooled(spool, t0)
                if edit.visible is not None:
                    made = [r for r in runner.runs() if t0 <= r.requested and r.started <= edit.visible]
                    edit.run = made[-1] if made else None
                    edit.runs_before = max(0, len(made) - 1)
                    if edit.run is None:
                        # No run: a fast-lane pass wrote it, and is reported as soon as its writes are over.
                        edit.lane = carried_by(runner, edit, timeout=30.0)
                result.edits.append(edit)
                if edit.lane is not None:
                    # The pass is over (reported); a run the sensor asked for meanwhile is waited out.
                    for run in [r for r in runner.runs() if r.requested >= t0]:
                        runner.wait_over(run, timeout)
                # Calls up to here are this edit's: the next one starts only once its work is over.
                edit.xero_calls, edit.capsule_calls, _ = product_calls(ctl, calls_before)
                print(describe_edit(name, number, edit, timeout), flush=True)
                waiting = [r for r in runner.runs() if r.requested >= t0 and r.waited_for_approval]
                if edit.visible is None and waiting:
                    # Every later plan carries what this one waits for: no later edit can get through.
                    print(
                        f"  stopped: {len(waiting)} run(s) since the edit made a plan that waits for approval"
                        " (capsule-xero plan shows why); the world no longer syncs unattended",
                        flush=True,
                    )
                    break
                # The next edit starts once the run that carried this one (and any other) is over.
                if edit.run is not None:
                    runner.wait_over(edit.run, timeout)
                    edit.xero_calls, edit.capsule_calls, _ = product_calls(ctl, calls_before)
    finally:
        runner.stop()
    result.load = (result.load[0], os.getloadavg()[0])
    result.ticks = runner.tick_times()
    runs = runner.runs()
    # The run each edit counted is the one whose details (filled once it was over) are reported.
    by_id = {r.run_id: r for r in runs if r.run_id}
    for edit in result.edits:
        if edit.run is not None and edit.run.run_id in by_id:
            edit.run = by_id[edit.run.run_id]
    result.runs = runs
    result.passes = runner.passes()
    with closing(CapsuleControl(world.server.capsule_url)) as ctl:
        result.xero_calls, result.capsule_calls, result.xero_429 = product_calls(ctl, since)
    return result


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (no interpolation: p95 of 20 values is the 19th)."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.4999)))
    return ordered[rank - 1]


def row(label: str, values: list[float]) -> str:
    return (
        f"  {label:36} {statistics.median(values):6.1f}s {percentile(values, 95):6.1f}s {max(values):6.1f}s"
    )


def summarise(result: PathResult) -> None:
    seen = [e for e in result.edits if e.visible is not None and e.run is not None]
    visible = [e for e in result.edits if e.visible is not None]
    lost = len(result.edits) - len(visible)
    print(f"\n{result.name} ({result.described}):")
    if not visible:
        print("  no edit became visible")
        return
    print(
        f"  n={len(visible)}"
        + (f", {lost} never visible" if lost else "")
        + (f", {len(visible) - len(seen)} visible with no run found" if len(seen) < len(visible) else "")
        + f"; 1-min load average {result.load[0]:.1f} before, {result.load[1]:.1f} after (2 cores, shared)"
    )
    laned = [e for e in visible if e.lane is not None]
    if result.fast_lane is not None:
        print(
            f"  carried by the fast lane: {len(laned)}, by runs: {len(seen)}"
            + (
                f", by neither found: {len(visible) - len(laned) - len(seen)}"
                if len(laned) + len(seen) < len(visible)
                else ""
            )
            + f"; fast-lane passes reported to Dagster: {len(result.passes)}"
        )
    print(f"  {'':36} {'p50':>7} {'p95':>7} {'max':>7}")
    print(row("edit → visible in Xero", [e.latency for e in visible]))
    if laned:
        print(row("  fast lane: edit → visible", [e.latency for e in laned]))
        delivered = [e.spooled - e.t0 for e in laned if e.spooled is not None]
        if delivered:
            print(row("    hook delivered (edit → spooled)", delivered))
        print(row("    pass (spooled → visible)", [e.visible - (e.spooled or e.t0) for e in laned]))  # type: ignore[operator]
        print(row("    pass's own duration", [e.lane.seconds for e in laned]))  # type: ignore[union-attr]
    if seen and laned:
        print(row("  runs: edit → visible", [e.latency for e in seen]))
    spooled = [e.spooled - e.t0 for e in seen if e.spooled is not None]
    if spooled:
        print(row("  hook delivered (edit → spooled)", spooled))
    if seen:
        print(row("  detection (edit → run requested)", [e.run.requested - e.t0 for e in seen]))  # type: ignore[union-attr]
        if any(e.run.started != e.run.requested for e in seen):  # type: ignore[union-attr]
            print(row("  queue + launch (→ run started)", [e.run.started - e.run.requested for e in seen]))  # type: ignore[union-attr]
            dequeued = [e.run.dequeued - e.run.requested for e in seen if e.run.dequeued]  # type: ignore[union-attr,operator]
            if dequeued:
                print(row("    of which queue (→ dequeued)", dequeued))
                worker = [e.run.started - e.run.dequeued for e in seen if e.run.dequeued]  # type: ignore[union-attr,operator]
                print(row("    worker start (→ RUN_START)", worker))
        print(row("  run (run start → visible)", [e.visible - e.run.started for e in seen]))  # type: ignore[union-attr,operator]
    runs = [r for r in result.runs if r.ended]
    if runs:
        durations = [r.ended - r.started for r in runs]
        waited = sum(r.waited_for_approval for r in runs)
        failed = [r.error or r.status for r in runs if r.status not in {"SUCCESS", ""}]
        in_steps = [r.steps_seconds for r in runs if r.steps_seconds is not None]
        print(
            f"  runs: {len(runs)}, start → end p50 {statistics.median(durations):.1f} s, max {max(durations):.1f} s"
            + (
                f"; time inside steps p50 {statistics.median(in_steps):.1f} s ({runs[0].steps} steps;"
                " the rest is Dagster's own work between them)"
                if in_steps
                else ""
            )
        )
        steps: dict[str, list[float]] = {}
        for r in runs:
            for key, seconds in r.step_seconds.items():
                steps.setdefault(key, []).append(seconds)
        if steps:
            slowest = sorted(steps.items(), key=lambda kv: -statistics.median(kv[1]))[:5]
            print(
                "  slowest steps (p50): "
                + ", ".join(f"{key} {statistics.median(values):.1f} s" for key, values in slowest)
            )
        print(
            f"  plans {sorted({(r.plan_status, r.operations) for r in runs})}"
            + (f"; {waited} waited for approval" if waited else "")
            + (f"; {len(failed)} failed, e.g. {failed[0]}" if failed else "")
        )
        if not result.passes:  # with passes, the per-edit line below counts both
            print(
                f"  API calls by sensor and runs: Xero {result.xero_calls} ({result.xero_calls / len(runs):.1f} a run,"
                f" {result.xero_429} answered 429), Capsule {result.capsule_calls}"
            )
    if result.passes:
        print(
            f"  fast-lane passes: {len(result.passes)}, plans"
            f" {sorted({(p.plan_status, p.operations) for p in result.passes})},"
            f" events per pass p50 {statistics.median(p.events for p in result.passes):g}"
        )
    if result.edits:
        n = len(result.edits)
        print(
            f"  API calls per edit: Xero {result.xero_calls / n:.1f}, Capsule {result.capsule_calls / n:.1f}"
            f" (all {n} edits: Xero {result.xero_calls}, Capsule {result.capsule_calls}, {result.xero_429} Xero 429s)"
        )
    if len(result.ticks) > 1:
        gaps = [b - a for a, b in zip(result.ticks, result.ticks[1:], strict=False)]
        print(
            f"  sensor ticks: {len(result.ticks)}, gap p50 {statistics.median(gaps):.1f} s,"
            f" min {min(gaps):.1f} s, max {max(gaps):.1f} s (minimum_interval {result.interval:g} s)"
        )
    missed = sum(1 for e in seen if e.runs_before)
    if missed:
        print(f"  {missed} edit(s) were missed by the first run after them and carried by a later one")


def compare(old: PathResult, new: PathResult) -> None:
    """The webhook path with the fast lane off (old: the sensor's runs) and on (new), side by side."""

    def figures(result: PathResult) -> list[str]:
        visible = [e.latency for e in result.edits if e.visible is not None]
        n = len(result.edits) or 1
        laned = sum(e.lane is not None for e in result.edits)
        by_runs = sum(e.run is not None for e in result.edits)
        if not visible:
            return ["-"] * 9
        return [
            f"{len(visible)}/{len(result.edits)}",
            f"{statistics.median(visible):.1f} s",
            f"{percentile(visible, 95):.1f} s",
            f"{max(visible):.1f} s",
            f"{laned} / {by_runs}",
            f"{result.xero_calls / n:.1f}",
            f"{result.capsule_calls / n:.1f}",
            str(result.xero_429),
            f"{result.load[0]:.1f} → {result.load[1]:.1f}",
        ]

    labels = [
        "edits visible",
        "edit → Xero p50",
        "edit → Xero p95",
        "edit → Xero max",
        "carried by fast lane / runs",
        "Xero calls per edit",
        "Capsule calls per edit",
        "Xero 429s",
        "1-min load before → after",
    ]
    print("\nwebhook path, old (WEBHOOK_FAST_LANE=false: the sensor's runs) vs new (the fast lane):")
    print(f"  {'':30} {'old':>14} {'new':>14}")
    for label, a, b in zip(labels, figures(old), figures(new), strict=True):
        print(f"  {label:30} {a:>14} {b:>14}")


def implied_interval(result: PathResult, interval: float) -> None:
    """At ``interval`` s: detection uniform on [0, interval], the rest (after the request) as measured here."""
    seen = [e for e in result.edits if e.visible is not None and e.run is not None]
    if not seen:
        return
    after = [e.visible - e.run.requested for e in seen]  # type: ignore[operator,union-attr]
    print(
        f"  at a {interval:g} s interval: p50 ≈ {interval / 2 + statistics.median(after):.0f} s,"
        f" p95 ≈ {0.95 * interval + percentile(after, 95):.0f} s, max ≈ {interval + max(after):.0f} s"
        f" (detection uniform on [0, {interval:g}] s + request → visible as measured here)"
    )


# ---- main ---------------------------------------------------------------------------------------


def subscribe_hook(world: World, target_url: str) -> None:
    """A ``party/updated`` REST hook to ``target_url`` (the sandbox's default batch window); the world
    lives one path only, so the hook is never removed."""
    with closing(CapsuleControl(world.server.capsule_url)) as ctl:
        token = ctl.mint_app_token(client_id="capsule-xero-bench")["access_token"]
    with httpx.Client(
        base_url=f"{world.server.capsule_url}/api/v2",
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
        timeout=10,
    ) as capsule:
        response = capsule.post(
            "/resthooks", json={"restHook": {"event": "party/updated", "targetUrl": target_url}}
        )
        response.raise_for_status()


@contextlib.contextmanager
def receiver_process(env: dict[str, str], logs: Path) -> Iterator[str]:
    """``capsule-xero webhooks serve`` in a subprocess; yields its Capsule URL (which holds the token)."""
    port = int(env["WEBHOOK_PORT"])
    process = Process(
        "webhooks", [str(BIN / "capsule-xero"), "webhooks", "serve"], env, logs / "webhooks.log"
    )
    try:
        deadline = time.time() + 120
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{port}{HEALTH_PATH}", timeout=2).status_code == 200:
                    break
            if not process.alive() or time.time() > deadline:
                raise SystemExit(f"`capsule-xero webhooks serve` did not come up:\n{process.tail()}")
            time.sleep(0.3)
        yield f"http://127.0.0.1:{port}{CAPSULE_PREFIX}{env['CAPSULE_HOOK_TOKEN']}"
    finally:
        process.stop(grace=10)


def first_polling_cursor() -> str | None:
    """The polling sensor's watermark now: a daemon that had been running would hold it."""
    from assets.sensors.polling import capsule_changes_sensor

    return capsule_changes_sensor.evaluate_tick(dg.build_sensor_context(cursor=None)).cursor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runner", choices=["dagster", "inprocess"], default="dagster")
    parser.add_argument("--parties", type=int, default=300)
    parser.add_argument("--seed", type=int, default=21)
    parser.add_argument("--edits", type=int, default=50, help="edits per path (the issue's figure: >= 50)")
    parser.add_argument(
        "--paths", default="webhook,polling", help="webhook, polling or both (comma-separated)"
    )
    parser.add_argument(
        "--webhook-tick",
        type=float,
        default=None,
        help="seconds between webhook sensor ticks (inprocess default 1.5; dagster: the product's"
        " minimum_interval_seconds, another value loads the what-if code location)",
    )
    parser.add_argument(
        "--poll-seconds",
        type=float,
        default=None,
        help="CAPSULE_POLL_SECONDS: seconds between polling sensor ticks (inprocess default 5; dagster"
        " default 60, the product's default)",
    )
    parser.add_argument(
        "--fast-lane",
        choices=["on", "off", "both"],
        default="on",
        help="webhook path: the receiver's fast lane (on, the product's default), off (WEBHOOK_FAST_LANE"
        "=false: the sensor's runs carry every edit), or both: on (new) then off (old), each on a world"
        " of its own, compared",
    )
    parser.add_argument(
        "--dagster-command",
        choices=["ui", "daemon"],
        default="ui",
        help="ui: `capsule-xero ui` (dagster dev: webserver + daemon); daemon: `dagster-daemon run` only",
    )
    parser.add_argument(
        "--visible-timeout", type=float, default=300.0, help="seconds before an edit counts as lost"
    )
    parser.add_argument(
        "--logs", type=Path, default=None, help="folder for the Dagster and receiver logs (kept)"
    )
    args = parser.parse_args()
    paths = [p.strip() for p in args.paths.split(",") if p.strip()]
    if not set(paths) <= {"webhook", "polling"}:
        parser.error("--paths takes webhook and/or polling")

    from assets.sensors.webhooks import webhook_events_sensor

    product_webhook_seconds = float(webhook_events_sensor.minimum_interval_seconds or 0)
    dagster = args.runner == "dagster"
    webhook_tick = args.webhook_tick or (product_webhook_seconds if dagster else 1.5)
    poll_seconds = args.poll_seconds or (60.0 if dagster else 5.0)
    what_if = dagster and webhook_tick != product_webhook_seconds
    if dagster and (webhook_tick % 1 or poll_seconds % 1 or poll_seconds < 1 or webhook_tick < 1):
        parser.error("with --runner dagster, --webhook-tick and --poll-seconds are whole seconds")

    # Started in the background (`cmd &`, nohup), this process and every child would ignore SIGINT, and
    # dagster dev maps SIGTERM to SIGINT's handler: give both back their default so Ctrl-C and our own
    # shutdown of dagster work.
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    config = PathConfig(
        runner=args.runner,
        parties=args.parties,
        seed=args.seed,
        edits=args.edits,
        webhook_tick=webhook_tick,
        poll_seconds=poll_seconds,
        what_if=what_if,
        dagster_command=args.dagster_command,
        timeout=args.visible_timeout,
        logs=args.logs,
    )
    rng = random.Random(args.seed)
    started = time.perf_counter()
    lanes = {"on": [True], "off": [False], "both": [True, False]}[args.fast_lane]
    runs = [(path, lane) for path in paths for lane in (lanes if path == "webhook" else [None])]
    results = [run_path(config, path, rng, lane) for path, lane in runs]
    for result in results:
        summarise(result)
        if result.name == "polling" and result.interval != 60:
            implied_interval(result, 60.0)
        if result.name == "webhook":
            for interval in sorted({5.0, 10.0, result.interval} - {result.interval}):
                implied_interval(result, interval)
    old = next((r for r in results if r.name == "webhook" and r.fast_lane is False), None)
    new = next((r for r in results if r.name == "webhook" and r.fast_lane is True), None)
    if old is not None and new is not None:
        compare(old, new)
    print(f"\ntotal {time.perf_counter() - started:.0f} s")


@dataclass(frozen=True)
class PathConfig:
    runner: str
    parties: int
    seed: int
    edits: int
    webhook_tick: float
    poll_seconds: float
    what_if: bool
    dagster_command: str
    timeout: float
    logs: Path | None


def run_path(config: PathConfig, path: str, rng: random.Random, fast_lane: bool | None = None) -> PathResult:
    result = _run_path(config, path, rng, fast_lane)
    result.fast_lane = fast_lane
    if fast_lane is not None:
        result.described += f"; fast lane {'on' if fast_lane else 'off (WEBHOOK_FAST_LANE=false)'}"
    return result


def _run_path(config: PathConfig, path: str, rng: random.Random, fast_lane: bool | None) -> PathResult:
    """One path on a world of its own: generated, migrated, and (dagster) a deployment of its own,
    so neither path's sensor cursors, runs or error queue are the other's."""
    from assets.sensors.polling import capsule_changes_sensor
    from assets.sensors.webhooks import webhook_events_sensor

    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        variant = path if fast_lane is None else f"{path}-fast-lane-{'on' if fast_lane else 'off'}"
        logs = config.logs / variant if config.logs else home
        logs.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        lane = "" if fast_lane is None else f", fast lane {'on' if fast_lane else 'off'}"
        print(f"\n== {path}{lane} ==", flush=True)
        world = migrated_world(config.parties, config.seed, home)
        deployment: Deployment | None = None
        try:
            hook_token = secrets.token_urlsafe(32)
            env = world.server.env() | {
                "CAPSULE_XERO_HOME": str(home),
                "CAPSULE_XERO_APPLY": "true",
                "CAPSULE_HOOK_TOKEN": hook_token,
                "CAPSULE_POLL_SECONDS": str(int(config.poll_seconds)),
            }
            # The sensors evaluated here (inprocess, and the first polling cursor) read Settings.from_env().
            os.environ.update(env)
            settings = Settings.from_env()
            rules = world.rules
            targets = linked_parties(world, config.edits, config.seed)
            spool = Spool.at_home(home)
            # The fast lane's start (FastLaneWorker: Spool.release_stale_claims) fails on a home whose
            # spool folder is not there yet, as before the first delivery: made here, reported to the lead.
            spool.root.mkdir(mode=0o700, parents=True, exist_ok=True)
            full_env = {**os.environ, **env, "WEBHOOK_PORT": str(free_port())}
            full_env["WEBHOOK_FAST_LANE"] = "false" if fast_lane is False else "true"
            if config.runner == "dagster":
                workspace = REPO / "workspace.yaml"
                if config.what_if:
                    full_env["BENCH_WEBHOOK_SENSOR_SECONDS"] = str(int(config.webhook_tick))
                    workspace = home / "bench_workspace.yaml"
                    workspace.write_text(
                        "load_from:\n  - python_module:\n      module_name: bench.latency_defs\n"
                        f"      working_directory: {REPO}\n"
                    )
                deployment = Deployment(
                    full_env, home, workspace, config.dagster_command, logs, config.what_if
                )
                print(
                    f"sensors' default status: {WEBHOOK_SENSOR} {webhook_events_sensor.default_status.value},"
                    f" {POLLING_SENSOR} {capsule_changes_sensor.default_status.value}",
                    flush=True,
                )
                booted = time.time()
                deployment.start()
                first = deployment.wait_for_tick(WEBHOOK_SENSOR, after=booted)
                print(
                    f"dagster up: first {WEBHOOK_SENSOR} tick {first - booted:.0f} s after start", flush=True
                )

            def sync(record: Run) -> None:
                incremental_sync(settings, rules, record)

            if path == "polling":
                cursor = first_polling_cursor()
                if deployment is not None:
                    if cursor:
                        deployment.cli("sensor", "cursor", POLLING_SENSOR, "--set", cursor)
                    moved = time.time()
                    deployment.wait_for_tick(POLLING_SENSOR, after=moved)
            elif deployment is not None:
                # The webhook path is timed alone: the polling sensor (running by default) is off.
                deployment.cli("sensor", "stop", POLLING_SENSOR)
            if deployment is not None:
                # The polling sensor's first tick, with no cursor yet, started one sync of the migrated
                # world's changes: the first edit waits until it is over, as every later one does.
                deployment.wait_idle()
            print(
                f"{config.parties:,} generated parties (seed {config.seed}), setup"
                f" {time.perf_counter() - started:.0f} s; {config.edits} edits; sandbox clock x1, Xero pacing"
                f" 60 calls/min; runner {config.runner}",
                flush=True,
            )
            if path == "polling":
                runner: Runner = (
                    DagsterPath(deployment, POLLING_SENSOR, config.poll_seconds)
                    if deployment is not None
                    else Daemon(capsule_changes_sensor, config.poll_seconds, sync, cursor)
                )
                return measure(world, "polling", runner, targets, rng, config.timeout)
            if deployment is not None:
                with receiver_process(full_env, logs) as hook_url:
                    subscribe_hook(world, hook_url)
                    runner = DagsterPath(deployment, WEBHOOK_SENSOR, config.webhook_tick)
                    return measure(world, "webhook", runner, targets, rng, config.timeout, spool)
            with WebhookReceiver(spool, capsule_token=SecretStr(hook_token)) as receiver:
                subscribe_hook(world, receiver.capsule_url())
                runner = Daemon(webhook_events_sensor, config.webhook_tick, sync, None)
                if fast_lane:
                    runner = runner.with_fast_lane(settings, rules)
                return measure(world, "webhook", runner, targets, rng, config.timeout, spool)
        finally:
            if deployment is not None:
                deployment.stop()
            world.close()


if __name__ == "__main__":
    main()
