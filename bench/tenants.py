"""Many clients on one deployment: the nightly reconciliation of every tenant through the real Dagster
daemon with PostgreSQL storage, against the sandbox, on this machine.

    .venv/bin/python bench/tenants.py                                  # 50 tenants × 2,000 parties
    .venv/bin/python bench/tenants.py --tenants 3 --parties 100        # a quick look
    .venv/bin/python bench/tenants.py --max-concurrent-runs 2
    .venv/bin/python bench/tenants.py --xero-minute-seconds 6          # Xero's minute scaled (what-if)

Setup (not timed): the sandbox (in this process, on 127.0.0.1) with one Capsule account of
``--parties`` parties and ``--tenants`` added Xero organisations, each the Xero side of a generated world
of ``--parties`` parties (seeded from its place in line). Every tenant reads the stand-in's one Capsule
account: the stand-in has one account, a real practice has one per client; this is the stand-in's
limit, not the product's, and its hourly limit is raised so that 50 clients' reads, which Capsule would
count against 50 accounts, are not refused as one account's. A home with a tenants.yaml of the tenants
(one Capsule token variable for all), one shared Xero sign-in at the top-level home granted every
organisation; ``capsule-xero deploy --out`` (PostgreSQL storage, the queued run coordinator: one run per
``capsule_xero/tenant``, ``--max-concurrent-runs`` in all); a real PostgreSQL server
(tests/support/postgres.py) named by DAGSTER_PG_*; the capsule_changes_sensor, webhook_events_sensor and
nightly schedule stopped (so that nothing but the nightly runs is timed, and 02:00 Sydney falling inside
the bench adds no second night); then ``dagster-daemon run`` (no webserver) with DAGSTER_HOME = the
deploy folder and its workspace.yaml, until its backfill and queue daemons beat.

Timed: production's nightly schedule asks at 02:00 Sydney for one ``nightly_reconciliation_job`` run
per client, for its partition and tagged with it (assets/schedules.py); the bench asks for the same
runs as ``dagster job backfill -j nightly_reconciliation_job --all TRUE --noprompt`` (every partition), so
it need not wait for 02:00. That command, like the schedule's tick, creates the runs and submits them to
the queue itself; the daemon's queue launches them. The bench then polls the instance until the
backfill is over and no run is queued or in progress. Every client's run is its first, so both systems
are read in full (a real night reads Capsule's changes since the last run; Xero is read in full either
way): an upper bound for a night. The Xero orgs' contacts are not the Capsule parties (different
seeds), so most records reconcile as one-sided; the nightly job plans and writes nothing either way.

Sampled every 0.5 s: memory of the whole deployment (the daemon and every process under it: the code
server, each run worker; and the PostgreSQL server and its backends), as the sum of RSS and the sum of
PSS (``/proc/<pid>/smaps_rollup``: shared pages split between the processes sharing them; RSS counts
PostgreSQL's shared buffers once per backend), the load average and the CPU's busy share. The
sandbox runs in this process, outside the deployment's figure, but on the same two cores.

Printed: wall time; runs succeeded and failed (a failure's first line); peak memory; the most runs in
progress at once (from the runs' start and end in the instance); each run's queue wait, worker start
(RUN_STARTING → RUN_START) and duration; per organisation the most Xero calls in any one minute
(sliding, on the sandbox clock: stricter than Xero's fixed windows) and the most at once (the
sandbox's own count), their maximum over organisations, flagged if over 60 or 5; 429s; Capsule calls in
all; CPU and load; and what limited the run. Figures only: nothing is asserted.

Last measured (2026-12-07, commit 32164d0, this 2-core machine otherwise quiet: load 1.6 before the
runs): ``bench/tenants.py``, 50 tenants × 2,000 parties (664 Xero contacts each), 4 runs at most, Xero's
real minute. Wall time 887 s (14.8 min) from the backfill's submission to the last run's end; 50 of 50
runs succeeded. The backfill command took 163 s to create and queue the runs; then ~3.4 runs a minute.
Each run: queued p50 376 s (max 695 s), worker start (RUN_STARTING → RUN_START) p50 15.8 s, run p50
44 s (max 75 s), 38 s of it in steps. Most runs in progress at once: 4 (the limit). Peak memory of
the deployment: 1,634 MiB PSS over 30 processes (2,215 MiB summed RSS); 355 MiB at rest (daemon, code
server, PostgreSQL). Xero: 3 calls an organisation (one page of contacts), most in any minute 3, most
at once 1, no 429; 15 a minute across all organisations. Capsule: 41 calls a tenant. CPU 99% busy,
load average mean 6.0 (max 7.9). Limit: CPU. A run is a worker's start-up (16 s, 26% of a run's
time in the queue's slot) and DuckDB/dlt work in its steps, not waiting for Xero, whose limits are
nowhere near reached; 50 runs × 44 s / 4 slots = 748 s had runs never waited on each other. A second
machine running the run workers (the Docker or Kubernetes run launcher,
docs/deploy.md#past-one-machine) should roughly double the runs a minute while CPU is the limit (not
measured); more concurrent runs on this machine would not, since its 2 cores are already full. An
earlier run with the project's test suite running alongside (load ~10) had finished 40 of 50 runs at
its 32-minute limit: the same CPU bound, halved.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# Run as a script, this file's folder comes first on sys.path and bench/sandbox.py would hide the
# `sandbox` package: put the repository root there instead.
_HERE = Path(__file__).resolve().parent
REPO = _HERE.parent
sys.path[:] = [str(REPO)] + [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import dagster as dg  # noqa: E402
import httpx  # noqa: E402

from capsule_xero.settings import Settings  # noqa: E402
from capsule_xero.xero.auth import XeroAuth, login  # noqa: E402
from sandbox.app import Sandbox  # noqa: E402
from sandbox.generator import generate  # noqa: E402
from sandbox.server import SandboxServer  # noqa: E402
from tests.support.postgres import PostgresServer, postgres_server  # noqa: E402

BIN = Path(sys.executable).parent
JOB = "nightly_reconciliation_job"
STOPPED = (("sensor", "capsule_changes_sensor"), ("sensor", "webhook_events_sensor"))
SCHEDULE = "nightly_reconciliation_schedule"
TOKEN_VARIABLE = "BENCH_CAPSULE_TOKEN"
SAMPLE_EVERY = 0.5
XERO_MINUTE_LIMIT, XERO_AT_ONCE_LIMIT = 60, 5
ACTIVE = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]
PAGE = os.sysconf("SC_PAGE_SIZE")


# ---- the deployment's memory and the machine's CPU ----------------------------------------------


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = defaultdict(list)
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            stat = Path(f"/proc/{entry.name}/stat").read_text()
            # The command may hold spaces and parentheses: the fields after its closing one are fixed.
            ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
            tree[ppid].append(int(entry.name))
    return tree


def _tree(roots: list[int]) -> list[int]:
    children, seen, stack = _children(), [], list(roots)
    while stack:
        pid = stack.pop()
        if pid in seen:
            continue
        seen.append(pid)
        stack.extend(children.get(pid, []))
    return seen


def _memory(pid: int) -> tuple[int, int]:
    """(RSS, PSS) in bytes; (0, 0) for a process gone meanwhile."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        rss = int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
        pss = 0
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                pss = int(line.split()[1]) * 1024
                break
        return rss, pss
    return 0, 0


def _cpu_times() -> tuple[float, float]:
    """(busy, total) jiffies of all CPUs since boot."""
    fields = [float(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def postmaster_pid(port: int) -> int | None:
    """The PostgreSQL server listening on ``port`` (tests/support/postgres.py starts it with -p PORT)."""
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            argv = Path(f"/proc/{entry.name}/cmdline").read_bytes().split(b"\0")
            if argv and argv[0].endswith(b"/postgres") and str(port).encode() in argv:
                return int(entry.name)
    return None


@dataclass
class Sample:
    at: float
    rss: int
    pss: int
    processes: int
    load1: float


@dataclass(eq=False)  # a thread must stay hashable
class Sampler(threading.Thread):
    """Every 0.5 s: the deployment's memory (every process under ``roots``) and the load average."""

    roots: list[int]
    samples: list[Sample] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        super().__init__(daemon=True)

    def run(self) -> None:
        while not self.stopping.is_set():
            pids = _tree(self.roots)
            rss = pss = 0
            for pid in pids:
                r, p = _memory(pid)
                rss, pss = rss + r, pss + p
            self.samples.append(Sample(time.time(), rss, pss, len(pids), os.getloadavg()[0]))
            self.stopping.wait(SAMPLE_EVERY)

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=10)


# ---- processes ----------------------------------------------------------------------------------


class Process:
    """A subprocess of ours in its own process group, its output in a log file."""

    def __init__(self, command: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        self.handle = log.open("ab")
        self.popen = subprocess.Popen(  # noqa: S603 - our own executables, our own arguments
            command, env=env, cwd=REPO, stdout=self.handle, stderr=subprocess.STDOUT, start_new_session=True
        )

    def alive(self) -> bool:
        return self.popen.poll() is None

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def stop(self, grace: float = 60.0) -> None:
        """SIGTERM to its process group (the daemon shuts its code server down on it), then SIGKILL."""
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout=grace)
        # Children that outlived it (a run worker mid-step) are still in its group.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=30)
        self.handle.close()


def run_cli(command: list[str], env: dict[str, str], timeout: float = 600) -> str:
    done = subprocess.run(  # noqa: S603 - our own executables, our own arguments
        command, env=env, cwd=REPO, capture_output=True, text=True, timeout=timeout
    )
    if done.returncode:
        raise SystemExit(
            f"{' '.join(Path(c).name for c in command[:3])} failed:\n{done.stdout}\n{done.stderr}"
        )
    return done.stdout.strip()


# ---- the world ----------------------------------------------------------------------------------


def build_sandbox(tenants: int, parties: int, seed: int, speed: float) -> tuple[Sandbox, list[str]]:
    """One Capsule account of ``parties`` parties; ``tenants`` added organisations of ~parties/3 contacts."""
    sandbox = Sandbox(seed=seed, speed=speed)
    sandbox.load(generate(parties=parties, seed=seed))  # Capsule, and the primary org (no tenant's)
    added = sandbox.xero.add_organisations(tenants, parties=parties)
    return sandbox, [tenant.tenant_id for tenant in added]


def write_tenants(home: Path, capsule_url: str, organisations: list[str]) -> list[str]:
    names = [f"client{number:02d}" for number in range(1, len(organisations) + 1)]
    lines = ["tenants:"]
    for name, organisation in zip(names, organisations, strict=True):
        lines += [
            f"  - name: {name}",
            f"    capsule_api_url: {capsule_url}",
            f"    capsule_token_env: {TOKEN_VARIABLE}",
            f"    xero_tenant_id: {organisation}",
        ]
    (home / "tenants.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return names


def product_environment(server: SandboxServer, home: Path, postgres: PostgresServer) -> dict[str, str]:
    """What the deployment's processes get: the sandbox's URLs and demo credentials, the home, the
    Capsule token under the tenants' variable, and the DAGSTER_PG_* the deploy's dagster.yaml reads."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CAPSULE_", "XERO_", "DAGSTER_"))}
    sandbox_env = server.env()
    env[TOKEN_VARIABLE] = sandbox_env.pop("CAPSULE_API_TOKEN")
    sandbox_env.pop("XERO_TENANT_ID", None)
    return env | sandbox_env | postgres.dagster_environment() | {"CAPSULE_XERO_HOME": str(home)}


def sign_in(env: dict[str, str]) -> None:
    """One Xero sign-in at the top-level home; the sandbox's authorize page grants every organisation."""
    login(
        XeroAuth(Settings.from_env(env)),
        choose_tenant=lambda c: c[0],
        open_url=lambda u: httpx.get(u, follow_redirects=True, timeout=30),
    )


# ---- the instance -------------------------------------------------------------------------------


@dataclass
class RunFigures:
    run_id: str
    tenant: str
    status: str
    created: float
    started: float | None
    ended: float | None
    dequeued: float | None = None
    error: str | None = None
    steps_seconds: float = 0.0


def wait_for_daemons(instance: dg.DagsterInstance, daemon: Process, after: float, timeout: float) -> float:
    """Seconds until the backfill and run-queue daemons have both beaten since ``after``."""
    wanted = {"BACKFILL", "QUEUED_RUN_COORDINATOR"}
    deadline = time.time() + timeout
    while time.time() < deadline:
        if not daemon.alive():
            raise SystemExit(f"dagster-daemon exited ({daemon.popen.returncode}):\n{daemon.tail()}")
        beats = instance.get_daemon_heartbeats()
        if all(name in beats and beats[name].timestamp > after for name in wanted):
            return time.time() - after
        time.sleep(1.0)
    raise SystemExit(
        f"the daemon's backfill and queue daemons did not beat within {timeout:.0f} s:\n{daemon.tail()}"
    )


def read_runs(instance: dg.DagsterInstance, since: float) -> list[RunFigures]:
    records = instance.get_run_records(
        filters=dg.RunsFilter(job_name=JOB, created_after=datetime.fromtimestamp(since, UTC)), ascending=True
    )
    out = []
    for record in records:
        run = record.dagster_run
        out.append(
            RunFigures(
                run_id=run.run_id,
                tenant=run.tags.get("capsule_xero/tenant", run.tags.get("dagster/partition", "")),
                status=run.status.value,
                created=record.create_timestamp.timestamp(),
                started=record.start_time,
                ended=record.end_time,
            )
        )
    return out


def fill_details(instance: dg.DagsterInstance, runs: list[RunFigures]) -> None:
    for figures in runs:
        events = instance.all_logs(
            figures.run_id,
            of_type={
                dg.DagsterEventType.RUN_STARTING,
                dg.DagsterEventType.STEP_FAILURE,
                dg.DagsterEventType.RUN_FAILURE,
            },
        )
        for entry in events:
            kind = entry.dagster_event.event_type if entry.dagster_event else None
            if kind == dg.DagsterEventType.RUN_STARTING and figures.dequeued is None:
                figures.dequeued = entry.timestamp
            elif (
                kind in {dg.DagsterEventType.STEP_FAILURE, dg.DagsterEventType.RUN_FAILURE}
                and not figures.error
            ):
                message = entry.message or kind.value
                if entry.dagster_event and entry.dagster_event.event_specific_data is not None:
                    error = getattr(entry.dagster_event.event_specific_data, "error", None)
                    if error is not None and getattr(error, "message", None):
                        message = f"{message} {error.message}"
                figures.error = " ".join(message.split())[:300]
        stats = instance.get_run_step_stats(figures.run_id)
        figures.steps_seconds = sum(
            (s.end_time or s.start_time) - s.start_time for s in stats if s.start_time
        )


def most_at_once(intervals: list[tuple[float, float]]) -> int:
    edges = sorted([(a, 1) for a, _ in intervals] + [(b, -1) for _, b in intervals])
    now = peak = 0
    for _, step in edges:  # an end at the same instant as a start sorts first: not "at once"
        now += step
        peak = max(peak, now)
    return peak


def most_in_a_window(times: list[float], window: float) -> int:
    times, best, first = sorted(times), 0, 0
    for last, at in enumerate(times):
        while at - times[first] >= window:
            first += 1
        best = max(best, last - first + 1)
    return best


# ---- main ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Config:
    tenants: int
    parties: int
    max_concurrent_runs: int
    minute_seconds: float
    seed: int
    timeout: float
    keep: bool


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=50)
    parser.add_argument("--parties", type=int, default=2_000)
    parser.add_argument("--max-concurrent-runs", type=int, default=4)
    parser.add_argument(
        "--xero-minute-seconds",
        type=float,
        default=60.0,
        help="the sandbox's and the client's Xero minute, in real seconds (60: Xero's own; another value"
        " loads the what-if code location bench/tenants_defs.py and speeds the sandbox's clock to match)",
    )
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds to wait for every run")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs, homes)")
    args = parser.parse_args()
    if args.tenants < 1 or args.parties < 1 or args.max_concurrent_runs < 1 or args.xero_minute_seconds <= 0:
        parser.error("--tenants, --parties, --max-concurrent-runs and --xero-minute-seconds must be positive")
    config = Config(
        args.tenants,
        args.parties,
        args.max_concurrent_runs,
        args.xero_minute_seconds,
        args.seed,
        args.timeout,
        args.keep,
    )
    folder = Path(tempfile.mkdtemp(prefix="capsule-xero-tenants-bench-"))
    try:
        bench(config, folder)
    finally:
        if config.keep:
            print(f"kept {folder}")
        else:
            import shutil

            shutil.rmtree(folder, ignore_errors=True)


def bench(config: Config, folder: Path) -> None:
    scaled = config.minute_seconds != 60.0
    speed = 60.0 / config.minute_seconds
    started = time.perf_counter()
    sandbox, organisations = build_sandbox(config.tenants, config.parties, config.seed, speed)
    contacts = [len(sandbox.xero.orgs[o].contacts) for o in organisations]
    print(
        f"sandbox: 1 Capsule account of {config.parties:,} parties shared by every tenant (the stand-in's"
        f" one account, not the product's limit), {config.tenants} Xero organisations"
        + f" of {min(contacts):,}–{max(contacts):,} contacts"
        + f" (built in {time.perf_counter() - started:.0f} s)",
        flush=True,
    )
    home, deploy, logs = folder / "home", folder / "deploy", folder / "logs"
    for made in (home, logs):
        made.mkdir(parents=True)
    with SandboxServer(sandbox) as server, postgres_server() as postgres:
        # 50 clients' reads are one account's to the stand-in; Capsule would count them against 50.
        server.call(lambda: sandbox.capsule.limiter.configure(limit=1_000_000))
        env = product_environment(server, home, postgres)
        names = write_tenants(home, env["CAPSULE_API_URL"], organisations)
        sign_in(env)
        run_cli(
            [
                str(BIN / "capsule-xero"),
                "deploy",
                "--out",
                str(deploy),
                "--max-concurrent-runs",
                str(config.max_concurrent_runs),
            ],
            env,
        )
        workspace = deploy / "workspace.yaml"
        if scaled:
            workspace = folder / "what_if_workspace.yaml"
            workspace.write_text(
                "load_from:\n  - python_module:\n      module_name: bench.tenants_defs\n"
                f"      working_directory: {REPO}\n"
            )
            env["BENCH_XERO_MINUTE_SECONDS"] = f"{config.minute_seconds:g}"
        env["DAGSTER_HOME"] = str(deploy)
        for kind, name in STOPPED:
            run_cli([str(BIN / "dagster"), kind, "stop", name, "-w", str(workspace)], env)
        run_cli([str(BIN / "dagster"), "schedule", "stop", SCHEDULE, "-w", str(workspace)], env)
        print(
            f"deployment: {config.tenants} tenants, capsule-xero deploy --max-concurrent-runs"
            f" {config.max_concurrent_runs} (one run per tenant), PostgreSQL {postgres.host}:{postgres.port};"
            f" sensors and the nightly schedule stopped; setup {time.perf_counter() - started:.0f} s",
            flush=True,
        )
        booted = time.time()
        daemon = Process([str(BIN / "dagster-daemon"), "run", "-w", str(workspace)], env, logs / "daemon.log")
        # This process reads the same instance: its dagster.yaml names the server through DAGSTER_PG_*.
        os.environ.update(postgres.dagster_environment())
        instance = dg.DagsterInstance.from_config(str(deploy))
        sampler: Sampler | None = None
        try:
            up = wait_for_daemons(instance, daemon, booted, timeout=300)
            print(f"dagster-daemon up: backfill and queue daemons beating {up:.0f} s after start", flush=True)
            postmaster = postmaster_pid(postgres.port)
            sampler = Sampler([daemon.popen.pid] + ([postmaster] if postmaster else []))
            sampler.start()
            since_seq = server.call(sandbox.calls.last_seq)
            server.call(sandbox.calls.clear)  # the peaks at once from here on only
            print(
                f"load average before the runs (other work on this machine included): {os.getloadavg()[0]:.1f}",
                flush=True,
            )
            cpu_before = _cpu_times()
            t0 = time.time()
            out = run_cli(
                [
                    str(BIN / "dagster"),
                    "job",
                    "backfill",
                    "-j",
                    JOB,
                    "--all",
                    "TRUE",
                    "--noprompt",
                    "-w",
                    str(workspace),
                ],
                env,
            )
            launched = next((line for line in out.splitlines() if "Launched backfill" in line), "")
            print(
                f"{launched.strip()}: {JOB} over {len(names)} partitions, its runs queued by the command"
                f" itself {time.time() - t0:.0f} s after it started",
                flush=True,
            )
            last_report = 0.0
            while True:
                runs = read_runs(instance, t0 - 1)
                active = [r for r in runs if r.status in {s.value for s in ACTIVE}]
                if not active and len(runs) >= len(names):
                    break
                if not daemon.alive():
                    raise SystemExit(f"dagster-daemon exited ({daemon.popen.returncode}):\n{daemon.tail()}")
                if time.time() - t0 > config.timeout:
                    print(
                        f"timeout after {config.timeout:.0f} s: {len(active)} runs still queued or in progress"
                    )
                    break
                if time.time() - last_report >= 60:
                    last_report = time.time()
                    done = sum(1 for r in runs if r.status in {"SUCCESS", "FAILURE", "CANCELED"})
                    in_progress = sum(1 for r in runs if r.status in {"STARTING", "STARTED"})
                    print(
                        f"  {time.time() - t0:5.0f} s: {len(runs)} runs, {done} over, {in_progress} in progress,"
                        f" load {os.getloadavg()[0]:.1f}",
                        flush=True,
                    )
                time.sleep(1.0)
            finished = not active
            t1 = max([t0] + [r.ended or 0.0 for r in runs]) if finished else time.time()
            cpu_after = _cpu_times()
            sampler.stop()
            fill_details(instance, runs)
            calls = server.call(lambda: sandbox.calls.records(since=since_seq))
            stats = server.call(lambda: sandbox.calls.stats(api="xero"))
            report(
                config,
                names,
                organisations,
                runs,
                sampler.samples,
                calls,
                stats,
                t0,
                t1,
                cpu_before,
                cpu_after,
            )
        finally:
            if sampler is not None and sampler.is_alive():
                sampler.stop()
            daemon.stop()
            instance.dispose()


def report(
    config: Config,
    names: list[str],
    organisations: list[str],
    runs: list[RunFigures],
    samples: list[Sample],
    calls: list[Any],
    stats: dict[str, Any],
    t0: float,
    t1: float,
    cpu_before: tuple[float, float],
    cpu_after: tuple[float, float],
) -> None:
    wall = t1 - t0
    scaled = config.minute_seconds != 60.0
    minute = config.minute_seconds
    print(
        f"\n== {config.tenants} tenants × {config.parties:,} parties, {config.max_concurrent_runs} runs at most =="
    )
    print(
        "Xero's minute: "
        + (
            f"SCALED to {minute:g} s (sandbox clock ×{60 / minute:g}, client pacer's minute {minute:g} s,"
            " what-if code location bench/tenants_defs.py)"
            if scaled
            else "real (60 s), sandbox clock ×1"
        )
    )
    succeeded = [r for r in runs if r.status == "SUCCESS"]
    failed = [r for r in runs if r.status not in {"SUCCESS"}]
    over_all = all(r.ended for r in runs) and len(runs) >= len(names)
    print(
        f"wall time (backfill submitted → {'last run over' if over_all else 'TIMEOUT, runs still to go'}):"
        f" {wall:.0f} s ({wall / 60:.1f} min)"
    )
    print(f"runs: {len(runs)} for {len(names)} tenants, {len(succeeded)} succeeded, {len(failed)} not")
    for run in failed[:10]:
        print(f"  {run.tenant} {run.status}: {run.error or '(no error event)'}")
    tenants_done = {r.tenant for r in succeeded}
    missing = [n for n in names if n not in tenants_done]
    if missing:
        print(
            f"  tenants without a successful run: {', '.join(missing[:10])}{' …' if len(missing) > 10 else ''}"
        )
    if samples:
        peak_rss = max(samples, key=lambda s: s.rss)
        peak_pss = max(samples, key=lambda s: s.pss)
        print(
            f"peak memory of the deployment: {peak_pss.pss / 2**20:,.0f} MiB PSS ({peak_pss.processes} processes),"
            f" {peak_rss.rss / 2**20:,.0f} MiB summed RSS; daemon + code server + PostgreSQL at rest"
            f" {samples[0].pss / 2**20:,.0f} MiB PSS ({len(samples)} samples every {SAMPLE_EVERY:g} s)"
        )
        print(
            f"load average (1 min): max {max(s.load1 for s in samples):.1f},"
            f" mean {statistics.mean(s.load1 for s in samples):.1f} on {os.cpu_count()} cores"
        )
    busy = (cpu_after[0] - cpu_before[0]) / max(1.0, cpu_after[1] - cpu_before[1])
    print(f"CPU busy (whole machine, all processes incl. the sandbox): {busy:.0%}")
    spans = [(r.started, r.ended) for r in runs if r.started and r.ended]
    admitted = [(r.dequeued, r.ended or t1) for r in runs if r.dequeued]
    print(
        f"most runs in progress at once (RUN_START → end): {most_at_once(spans)}"  # type: ignore[arg-type]
        f"; admitted by the queue at once (RUN_STARTING → end, worker start-up included):"
        f" {most_at_once(admitted)}"  # type: ignore[arg-type]
    )
    over = [r for r in runs if r.started and r.ended]
    if over:
        queue = [(r.dequeued or r.started) - r.created for r in over]  # type: ignore[operator]
        worker = [r.started - r.dequeued for r in over if r.dequeued]  # type: ignore[operator]
        duration = [r.ended - r.started for r in over]  # type: ignore[operator]
        in_steps = [r.steps_seconds for r in over]
        print(
            f"per run: queued p50 {statistics.median(queue):.0f} s max {max(queue):.0f} s; worker start"
            f" (RUN_STARTING → RUN_START) p50 {statistics.median(worker) if worker else 0:.1f} s;"
            f" run p50 {statistics.median(duration):.0f} s max {max(duration):.0f} s, of which in steps p50"
            f" {statistics.median(in_steps):.0f} s"
        )
        print(
            f"throughput: {len(over) / wall * 60:.1f} runs a minute, {wall / len(over):.1f} s a run overall"
        )
    xero = [c for c in calls if c.api == "xero" and c.tenant]
    capsule = [c for c in calls if c.api == "capsule"]
    window = minute  # real seconds in one sandbox minute
    per_org: dict[str, list[float]] = defaultdict(list)
    for call in xero:
        per_org[call.tenant].append(call.started)
    peaks = stats.get("peak_concurrency", {})
    label = dict(zip(organisations, names, strict=True))
    rows = []
    for organisation in organisations:
        times = per_org.get(organisation, [])
        rows.append(
            (
                label[organisation],
                len(times),
                most_in_a_window(times, window) if times else 0,
                int(peaks.get(f"xero:{organisation}", 0)),
            )
        )
    served_429 = sum(1 for c in xero if c.status == 429)
    print(
        f"Xero calls: {len(xero):,} in all ({len(xero) / max(1, len(organisations)):.0f} an organisation),"
        f" {served_429} answered 429"
    )
    worst_minute = max(rows, key=lambda r: r[2])
    worst_at_once = max(rows, key=lambda r: r[3])
    print(
        f"  most Xero calls to one organisation in any one minute: {worst_minute[2]} ({worst_minute[0]})"
        + ("  OVER 60" if worst_minute[2] > XERO_MINUTE_LIMIT else "  (≤ 60)")
    )
    print(
        f"  most Xero calls to one organisation at once: {worst_at_once[3]} ({worst_at_once[0]})"
        + ("  OVER 5" if worst_at_once[3] > XERO_AT_ONCE_LIMIT else "  (≤ 5)")
    )
    all_minute = most_in_a_window([c.started for c in xero], window) if xero else 0
    print(f"  Xero calls across all organisations in any one minute: {all_minute} (the app's limit: 10,000)")
    print("  per organisation (calls, most in a minute, most at once):")
    for start in range(0, len(rows), 5):
        print("    " + "   ".join(f"{n} {c:>3} {m:>2} {a}" for n, c, m, a in rows[start : start + 5]))
    print(
        f"Capsule calls: {len(capsule):,} in all ({len(capsule) / max(1, len(names)):.0f} a tenant, one account)"
    )
    bottleneck(config, runs, samples, busy, rows, wall)


def bottleneck(
    config: Config,
    runs: list[RunFigures],
    samples: list[Sample],
    busy: float,
    rows: list[tuple[str, int, int, int]],
    wall: float,
) -> None:
    over = [r for r in runs if r.started and r.ended and r.dequeued]
    if not over:
        return
    worker = statistics.median([r.started - r.dequeued for r in over])  # type: ignore[operator]
    duration = statistics.median([r.ended - r.started for r in over])  # type: ignore[operator]
    in_steps = statistics.median([r.steps_seconds for r in over])
    mean_load = statistics.mean(s.load1 for s in samples) if samples else 0.0
    cores = os.cpu_count() or 1
    worst_minute = max(r[2] for r in rows) if rows else 0
    print("what limited it:")
    print(
        f"  CPU: {busy:.0%} busy, load {mean_load:.1f} on {cores} cores"
        + (" → CPU-bound" if busy > 0.85 or mean_load > cores * 1.5 else " → not CPU-bound")
    )
    print(
        f"  run start-up: {worker:.0f} s of each run's {worker + duration:.0f} s from dequeue to end is the worker"
        f" starting ({worker / (worker + duration):.0%}); outside the steps: {duration - in_steps:.0f} s"
    )
    print(
        f"  Xero minute: at most {worst_minute} calls to one organisation in a minute of the 60 allowed"
        + (" → the pacer held runs back" if worst_minute >= 55 else " → not the limit")
    )
    print(
        f"  queue: {config.max_concurrent_runs} runs at most; {len(over)} runs × {duration:.0f} s /"
        f" {config.max_concurrent_runs} = {len(over) * (worker + duration) / config.max_concurrent_runs:.0f} s"
        f" if runs never waited on each other, against {wall:.0f} s measured"
    )


if __name__ == "__main__":
    main()
