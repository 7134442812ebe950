"""Crash trials of the apply loop: a generated migration in the sandbox, an apply child process killed
with SIGKILL at chosen points of the sandbox's call log, reruns, and the invariants checked at the end.

Used by tests/reverse_etl/apply/test_crash_trials.py (CI-sized migrations) and bench/apply.py (the full
2,000-party one and the time-scaled throughput figures).

The sandbox runs in the calling process (a server thread); each apply runs in a child process started
with ``subprocess``, so a SIGKILL takes the apply down at an arbitrary instruction while Xero and
Capsule live on. A child is either an ``apply`` of the migration's plan (extract Xero, then
``apply_plan``, as ``capsule-xero apply`` does) or a ``sync`` (extract both, reconcile, make the next
plan, apply it when it needs no approval: ``capsule-xero sync --apply``), the rerun a person makes
after a run died. Time is scaled: the sandbox clock runs ``speed`` times faster and the child's
pacing minute is ``60 / speed`` seconds, so Xero's 60 calls a minute are kept in sandbox time.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import httpx

from capsule_xero.rules.model import Rules
from capsule_xero.settings import Settings
from capsule_xero.xero.auth import XeroAuth, login
from pipelines.capsule import extract_capsule
from pipelines.xero import PacingPolicy, XeroExtractConfig, run_xero_extract
from reverse_etl.apply.result import FINAL_STATUSES
from reverse_etl.ledger.values import group_names
from reverse_etl.plans.approval import approve
from reverse_etl.plans.create import create_plan
from reverse_etl.plans.store import operations_to_apply
from reverse_etl.writers.payloads import SCALAR_FIELDS, contact_element
from sandbox.app import Sandbox
from sandbox.capsule.control import CapsuleControl
from sandbox.control import SandboxControl
from sandbox.generator import Dataset, generate
from sandbox.server import SandboxServer
from sandbox.xero.control import XeroControl
from sandbox.xero.oauth_control import XeroIdentityControl
from tests.support.waiting import wait_for
from transform.stages import reconcile

API = "/api.xro/2.0"
CONTACTS = f"{API}/Contacts"
RULES = Rules.model_validate({"conflicts": {"policy": "xero_wins"}})
ROOT = Path(__file__).resolve().parents[2]

# The apply process, with the pacing minute shortened to match the sped-up sandbox clock: CRASH_MODE
# apply is `capsule-xero apply PLAN` (read Xero, then apply the plan), sync is `capsule-xero sync
# --apply` (read both, reconcile, make the next plan, apply it unless it waits for approval). Prints
# one JSON line with its figures.
CHILD = """
import json, os, resource, sys, time
from datetime import datetime
import duckdb
from transform.stages import reconcile
from capsule_xero.rules.model import Rules
from capsule_xero.settings import Settings
from capsule_xero.xero.auth import XeroAuth
from pipelines.capsule import extract_capsule
from capsule_xero.capsule.pacing import CapsulePacer
from pipelines.xero import PacingPolicy, XeroExtractConfig, run_xero_extract
from reverse_etl.apply.loop import apply_plan
from reverse_etl.writers.capsule import CapsuleWriteBack
from reverse_etl.plans.create import create_plan
from reverse_etl.writers.xero import XeroContactWriter

minute = float(os.environ["CRASH_MINUTE_SECONDS"])
policy = PacingPolicy(
    minute_seconds=minute, read_timeout=float(os.environ["CRASH_READ_TIMEOUT"]), connect_timeout=5.0,
    backoff_initial=float(os.environ["CRASH_BACKOFF"]), backoff_max=2.0, backoff_jitter=0.0,
)
settings = Settings.from_env()
sync = os.environ["CRASH_MODE"] == "sync"
started = time.perf_counter()
if sync:
    extract_capsule(settings)
run_xero_extract(settings, options=XeroExtractConfig(pacing=PacingPolicy(minute_seconds=minute)))
extracted = time.perf_counter()
rules = Rules.model_validate(json.loads(os.environ["CRASH_RULES"]))
stages = {}
def progress(event):
    stages.setdefault(event.stage, [time.perf_counter() - started, 0.0])[1] = time.perf_counter() - started
pacer = CapsulePacer(backoff_initial=0.05, backoff_max=1.0, backoff_jitter=0.0, max_wait=30.0)
with duckdb.connect(str(settings.duckdb_path)) as con, \\
        XeroContactWriter(settings, XeroAuth(settings), policy=policy) as writer, \\
        CapsuleWriteBack(settings, pacer=pacer, field_name=rules.capsule.xero_contact_id_field) as back:
    plan_id, plan_status, result = int(os.environ["CRASH_PLAN"]), None, None
    if sync:
        reconcile(con, rules, now=datetime.fromisoformat(os.environ["CRASH_NOW"]))
        plan = create_plan(con, rules)
        plan_id, plan_status = plan.plan_id, plan.status
    if plan_status not in ("empty", "pending_approval"):
        result = apply_plan(con, settings, rules, plan_id, writer=writer, capsule=back, on_progress=progress)
print("APPLY-RESULT " + json.dumps({
    "plan": plan_id, "plan_status": plan_status,
    "status": result.status if result else plan_status, "counts": result.counts() if result else {},
    "stopped": result.stopped if result else None, "problems": result.problems[:20] if result else [],
    "extract_seconds": extracted - started,
    "apply_seconds": time.perf_counter() - extracted, "stages": stages,
    "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
}), flush=True)
"""


# ---- what the call log says ------------------------------------------------------------------------


def call_kind(call: dict[str, Any]) -> str | None:
    """The apply step a sandbox call belongs to: contact write, group, note, Capsule write-back."""
    path, method = call["path"], call["method"]
    if call["api"] == "capsule":
        return "capsule" if method == "PUT" else None
    if call["api"] != "xero" or method not in ("PUT", "POST"):
        return None
    if path == CONTACTS:
        return "write"
    if path.startswith(f"{API}/ContactGroups"):
        return "group"
    if path.endswith("/History"):
        return "note"
    return None


def landed(call: dict[str, Any]) -> bool:
    """The server has answered (the status line went out): a write has committed."""
    return bool(call["status"])


@dataclass(frozen=True)
class KillPoint:
    """Where to kill: ``when(calls)`` over the calls since the child started; ``fault`` is injected
    (``add_fault`` arguments) before the child starts and cleared after."""

    label: str
    when: Callable[[list[dict[str, Any]]], bool]
    fault: dict[str, Any] | None = None


def after_landed(kind: str, n: int, label: str | None = None) -> KillPoint:
    def when(calls: list[dict[str, Any]]) -> bool:
        return sum(1 for c in calls if call_kind(c) == kind and landed(c)) >= n

    return KillPoint(label or f"after {kind} call {n} landed", when)


def at_start(kind: str, n: int, label: str | None = None) -> KillPoint:
    def when(calls: list[dict[str, Any]]) -> bool:
        return sum(1 for c in calls if call_kind(c) == kind) >= n

    return KillPoint(label or f"while {kind} call {n} is in flight", when)


def during_fault(kind: str, fault_kind: str, method: str, path: str, hang_seconds: float = 1.5) -> KillPoint:
    """Kill while an injected ``hang`` is held (the write lands later, after the kill), or right after a
    ``drop`` committed the write and cut the connection (the answer is lost with the process)."""

    def when(calls: list[dict[str, Any]]) -> bool:
        return any(c["fault"] == fault_kind and (fault_kind == "hang" or landed(c)) for c in calls)

    fault = {"api": "xero", "method": method, "path": path, "times": 1, "hang_seconds": hang_seconds}
    fault[fault_kind] = 1.0
    verb = "during a hung" if fault_kind == "hang" else "right after Xero committed a dropped"
    return KillPoint(f"{verb} {kind} call", when, fault)


def after_token_rotation() -> KillPoint:
    """Kill right after Xero rotated the refresh token, before its answer reached the token store: the
    token endpoint commits the refresh and drops the connection, and the child dies while it waits to
    ask again. The store still holds the refresh token Xero has just consumed, which Xero's grace
    lets the next run use once more (docs/api-facts.md#xero-oauth-2-sign-in-and-tokens)."""

    def when(calls: list[dict[str, Any]]) -> bool:
        return any(c["api"] == "xero-identity" and c["fault"] == "drop" and landed(c) for c in calls)

    fault = {"api": "xero-identity", "method": "POST", "path": "/connect/token", "times": 1, "drop": 1.0}
    return KillPoint("between Xero's refresh-token rotation and the token store's save", when, fault)


def default_kill_points(plan: dict[str, int]) -> list[KillPoint]:
    """Ten points spread over the apply of a plan with these counts (``create_plan``'s). The writer
    sends the POST batches (archives, updates) first, then the PUT batches (creates); then groups,
    History notes and the Capsule write-back follow."""
    posts = math.ceil((plan["update"] + plan["archive"] + plan["restore"]) / 50)
    puts = math.ceil(plan["create"] / 50)
    if posts < 2 or puts < 4 or plan["notes"] < 10:
        raise ValueError(f"a plan too small for ten kill points: {plan}")
    write_backs = plan["create"] + plan["update"]
    return [
        after_landed("write", 1, "after the first contact batch (POST) landed"),
        during_fault("contact batch (POST: updates, archives)", "drop", "POST", CONTACTS),
        during_fault("contact batch (PUT: creates)", "hang", "PUT", CONTACTS),
        after_landed("write", max(2, puts // 3), f"after {max(2, puts // 3)} more contact batches landed"),
        during_fault("contact batch (PUT: creates)", "drop", "PUT", CONTACTS),
        at_start("group", 1, "between the last contact batch and the first group call"),
        during_fault("History note", "hang", "PUT", f"{CONTACTS}/*/History"),
        after_landed("note", plan["notes"] // 3, f"after {plan['notes'] // 3} History notes landed"),
        after_landed("capsule", 1, "after the first Capsule write-back landed"),
        after_landed(
            "capsule", write_backs // 3, f"after {write_backs // 3} more Capsule write-backs landed"
        ),
    ]


# ---- the migration ---------------------------------------------------------------------------------


@dataclass
class Migration:
    dataset: Dataset
    sandbox: Sandbox
    server: SandboxServer
    settings: Settings
    env: dict[str, str]
    control: SandboxControl
    xero: XeroControl
    capsule: CapsuleControl
    plan_id: int
    counts: dict[str, int]
    minute_seconds: float
    xero_before: list[dict[str, Any]]
    rules: Rules = RULES
    trials: list[dict[str, Any]] = field(default_factory=list)

    def connect(self, read_only: bool = False) -> duckdb.DuckDBPyConnection:
        return duckdb.connect(str(self.settings.duckdb_path), read_only=read_only)


@contextmanager
def migration(
    parties: int,
    home: Path,
    *,
    seed: int = 21,
    speed: float = 600.0,
    capsule_hourly: int | None = None,
    rules: Rules = RULES,
) -> Iterator[Migration]:
    """A generated world in a sandbox served from this process, extracted, reconciled and planned under
    ``rules`` (the plan approved: a first migration waits for approval). ``capsule_hourly`` raises
    Capsule's hourly limit (None: Capsule's own 4,000)."""
    dataset = generate(parties=parties, seed=seed)
    sandbox = Sandbox(seed=seed)  # real time for the sign-in: an authorisation code lives minutes
    sandbox.load(dataset)
    minute = 60.0 / speed
    with SandboxServer(sandbox) as server:
        env = server.env() | {
            "CAPSULE_XERO_HOME": str(home),
            "XERO_TENANT_ID": sandbox.xero.primary_tenant_id,
        }
        settings = Settings.from_env(env)
        browser = lambda url: httpx.get(url, follow_redirects=True, timeout=30)  # noqa: E731
        login(XeroAuth(settings), choose_tenant=lambda c: c[0], open_url=browser)
        control, xero, capsule = (
            SandboxControl(server.xero_url),
            XeroControl(server.xero_url),
            CapsuleControl(server.capsule_url),
        )
        control.set_clock(speed=speed)
        # Any kill may land between Xero's rotation of the refresh token and the token store's save
        # (at 600x the children refresh every 3 real seconds); the rerun then uses the old token
        # within Xero's 30-minute grace. A restart takes real seconds, not sped-up ones: the grace is
        # measured on the wall clock, everything else stays scaled (sandbox/xero/identity.py).
        with XeroIdentityControl(server.xero_url) as identity:
            identity.identity(refresh_grace_clock="wall")
        if capsule_hourly is not None:
            capsule.set_rate_limit(limit=capsule_hourly)
        extract_capsule(settings)
        run_xero_extract(settings, options=XeroExtractConfig(pacing=PacingPolicy(minute_seconds=minute)))
        with duckdb.connect(str(settings.duckdb_path)) as con:
            reconcile(con, rules, now=dataset.now)
            plan = create_plan(con, rules)
            if plan.status == "pending_approval":
                approve(con, plan.plan_id)
        try:
            yield Migration(
                dataset,
                sandbox,
                server,
                settings,
                env,
                control,
                xero,
                capsule,
                plan.plan_id,
                dict(plan.counts),
                minute,
                xero.contacts(),
                rules,
            )
        finally:
            for client in (control, xero, capsule):
                client.close()


def _calls_so_far(
    control: SandboxControl, since: int, seen: dict[int, dict[str, Any]]
) -> list[dict[str, Any]]:
    """The calls since ``since``, fetching again only from the oldest one still in flight."""
    open_calls = [seq for seq, c in seen.items() if not landed(c)]
    cursor = min(open_calls) - 1 if open_calls else max(seen, default=since)
    for call in control.calls(None, cursor):
        seen[call["seq"]] = call
    return list(seen.values())


def run_apply(
    m: Migration,
    kill: KillPoint | None = None,
    *,
    timeout: float = 600.0,
    read_timeout: float = 5.0,
    backoff: float = 0.3,
    mode: str = "apply",
) -> dict[str, Any]:
    """One child, ``apply`` (the migration's plan) or ``sync`` (the next plan, as `sync --apply`);
    killed with SIGKILL at ``kill`` (if it gets there). Returns what happened."""
    if kill is not None and kill.fault is not None:
        m.control.add_fault(**kill.fault)
    since = m.control.last_seq()
    env = {
        **os.environ,
        **m.env,
        "PYTHONPATH": str(ROOT),
        "CRASH_PLAN": str(m.plan_id),
        "CRASH_MINUTE_SECONDS": str(m.minute_seconds),
        "CRASH_READ_TIMEOUT": str(read_timeout),
        "CRASH_BACKOFF": str(backoff),
        "CRASH_RULES": json.dumps(m.rules.model_dump(mode="json")),
        "CRASH_MODE": mode,
        "CRASH_NOW": m.dataset.now.isoformat(),
    }
    started = time.perf_counter()
    killed = False
    seen: dict[int, dict[str, Any]] = {}
    # Files, not pipes: a child logging more than a pipe holds would block while nobody reads.
    with tempfile.TemporaryFile("w+") as stdout, tempfile.TemporaryFile("w+") as stderr:
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD], env=env, cwd=ROOT, stdout=stdout, stderr=stderr, text=True
        )
        try:
            while child.poll() is None:
                if time.perf_counter() - started > timeout:
                    child.kill()
                    raise AssertionError(f"the apply child ran over {timeout} s")
                if kill is not None and kill.when(_calls_so_far(m.control, since, seen)):
                    os.kill(child.pid, signal.SIGKILL)
                    killed = True
                    break
                time.sleep(0.02)
            child.wait(timeout=60)
        finally:
            if kill is not None and kill.fault is not None:
                m.control.clear_faults()
        stdout.seek(0)
        stderr.seek(0)
        out, err = stdout.read(), stderr.read()
    calls = m.control.calls(None, since)
    # A hung write the kill left behind still lands (as on a slow real server): let it, so the
    # next run meets Xero as it will be, not a race with the stand-in's timer.
    wait_for(lambda: all(landed(c) or c["fault"] == "drop" for c in m.control.calls(None, since)), timeout=30)
    report = next(
        (json.loads(line.split(" ", 1)[1]) for line in out.splitlines() if line.startswith("APPLY-RESULT")),
        None,
    )
    if not killed and child.returncode != 0:
        raise AssertionError(f"the apply child failed (exit {child.returncode}):\n{err[-3000:]}")
    trial = {
        "mode": mode,
        "label": kill.label if kill else "to the end",
        "killed": killed,
        "returncode": child.returncode,
        "wall": time.perf_counter() - started,
        "calls": Counter(call_kind(c) for c in calls if call_kind(c)),
        "report": report,
        "since": since,
    }
    m.trials.append(trial)
    return trial


def run_to_the_end(m: Migration, limit: int = 4, mode: str = "apply") -> dict[str, Any]:
    """Apply (or sync) without a kill until the plan is applied and every write-back done (Capsule's
    hourly limit may leave some for the next run: the sandbox hour passes quickly)."""
    for _ in range(limit):
        trial = run_apply(m, mode=mode)
        counts = trial["report"]["counts"]
        if trial["report"]["status"] == "applied" and counts["write_backs_pending"] == 0:
            return trial
        m.control.set_clock(advance_seconds=3600)
    raise AssertionError(f"the plan is not done after {limit} clean runs: {trial['report']}")


def crash_trials(m: Migration, points: list[KillPoint], rerun: str = "apply") -> list[dict[str, Any]]:
    """Kill the migration's apply at the first point, then each rerun (``apply`` of the same plan, or
    ``sync``: the next plan, as `capsule-xero sync --apply`) at the next one; then run to the end."""
    for number, point in enumerate(points):
        run_apply(m, point, mode="apply" if number == 0 else rerun)
    run_to_the_end(m, mode=rerun)
    return m.trials


# ---- the invariants --------------------------------------------------------------------------------


def query(con: duckdb.DuckDBPyConnection, text: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    result = con.execute(text, params or [])
    names = [d[0] for d in result.description]
    return [dict(zip(names, row, strict=True)) for row in result.fetchall()]


def _duplicates(contacts: list[dict[str, Any]], key: Callable[[dict[str, Any]], str | None]) -> Counter[str]:
    counts = Counter(k for c in contacts if (k := key(c)))
    return Counter({k: n for k, n in counts.items() if n > 1})


def _name_key(contact: dict[str, Any]) -> str | None:
    if contact.get("ContactStatus") == "ARCHIVED" or not contact.get("Name"):
        return None
    return contact["Name"].strip().casefold()


def _scalar(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _groups_astray(
    ops: list[Any], outcome: dict[int, dict[str, Any]], by_id: dict[str, dict[str, Any]]
) -> list[Any]:
    """Contacts whose planned group change is not what Xero holds: each group the plan adds is there,
    each it takes away is gone, once (a membership is a set in Xero: twice cannot show, so once is
    the same as present)."""
    astray = []
    for op in ops:
        if op.operation == "archive" or "contact_groups" not in op.changed_fields:
            continue
        contact_id = (outcome.get(op.seq) or {}).get("contact_id") or op.contact_id
        contact = by_id.get(str(contact_id).lower())
        if contact is None:
            continue  # reported as a planned change missing in Xero
        held = {g["Name"].casefold() for g in contact.get("ContactGroups") or []}
        wanted = group_names(op.after.get("contact_groups"))
        before = group_names(op.before_values.get("contact_groups")) if op.operation != "create" else []
        missing = [n for n in wanted if n.casefold() not in held]
        extra = [n for n in before if n not in wanted and n.casefold() in held]
        if missing or extra:
            astray.append((op.seq, contact.get("ContactNumber"), missing, extra))
    return astray


def check_invariants(m: Migration) -> dict[str, Any]:
    """Every invariant of a crash-proof apply, as ``{name: list of violations}`` (empty lists pass),
    plus ``checked``: how many of each thing were looked at.

    Xero (and its stand-in) refuse a second contact with a ContactNumber or an active Name already
    held, so a create resent blindly after a crash shows less as a duplicate than as a ``failed``
    outcome ("already assigned to another contact"): "failed or unexpectedly refused" catches it."""
    contacts = m.xero.contacts()
    by_id = {c["ContactID"].lower(): c for c in contacts}
    by_number: dict[str, list[dict[str, Any]]] = {}
    for contact in contacts:
        if contact.get("ContactNumber"):
            by_number.setdefault(contact["ContactNumber"], []).append(contact)
    problems: dict[str, list[Any]] = {}

    # No duplicates: no ContactNumber or active Name held more often than before the migration.
    for name, key in (
        ("duplicate ContactNumber", lambda c: c.get("ContactNumber")),
        ("duplicate name", _name_key),
    ):
        before, after = _duplicates(m.xero_before, key), _duplicates(contacts, key)
        problems[name] = sorted(k for k, n in after.items() if n > before.get(k, 1))

    with m.connect(read_only=True) as con:
        ops = operations_to_apply(con, m.plan_id)
        # Xero refuses to archive a contact on a repeating invoice (the world's
        # deleted_party_synced_with_repeating_invoice): the one refusal a fault-free apply meets.
        billed = {str(i["Contact"]["ContactID"]).lower() for i in m.dataset.xero_repeating_invoices}
        refusal = {op.seq: op.operation == "archive" and str(op.contact_id).lower() in billed for op in ops}
        outcome = {
            r["seq"]: r
            for r in query(con, "select * from ledger.operation_outcomes where plan_id = ?", [m.plan_id])
        }
        problems["outcome not final"] = [
            (op.seq, (outcome.get(op.seq) or {}).get("status"))
            for op in ops
            if (outcome.get(op.seq) or {}).get("status") not in FINAL_STATUSES
        ]
        # A fault-free apply of this plan fails nothing and is refused only where Xero's state refuses
        # (above): anything else a crash left behind is a loss.
        problems["failed or unexpectedly refused"] = [
            (op.seq, op.operation, outcome[op.seq]["status"], outcome[op.seq]["message"])
            for op in ops
            if op.seq in outcome
            and outcome[op.seq]["status"] in ("failed", "refused", "queued")
            and not (refusal[op.seq] and outcome[op.seq]["status"] == "refused")
        ]
        lost, wrong = [], []
        for op in ops:
            status = (outcome.get(op.seq) or {}).get("status")
            if op.operation == "create":
                held = by_number.get(str(op.contact_number), [])
                if not held:
                    lost.append((op.seq, "create", op.contact_number))
                    continue
                contact = held[0]
            else:
                contact = by_id.get(str(op.contact_id).lower())
                if contact is None:
                    lost.append((op.seq, op.operation, op.contact_id))
                    continue
            if op.operation == "archive":
                wanted = "ACTIVE" if refusal[op.seq] and status == "refused" else "ARCHIVED"
                if contact.get("ContactStatus") != wanted:
                    wrong.append((op.seq, "ContactStatus", wanted, contact.get("ContactStatus")))
                continue
            if contact.get("ContactStatus") != "ACTIVE":
                wrong.append((op.seq, "ContactStatus", "ACTIVE", contact.get("ContactStatus")))
            element = contact_element(op.contact_operation())
            for xero_name in SCALAR_FIELDS.values():
                if xero_name in element and _scalar(element[xero_name]) != _scalar(contact.get(xero_name)):
                    wrong.append((op.seq, xero_name, element[xero_name], contact.get(xero_name)))
        problems["planned change missing in Xero"] = lost
        problems["value not as planned"] = wrong
        problems["groups not as planned"] = _groups_astray(ops, outcome, by_id)
        # Every plan ends final: applied or empty, superseded before anything was sent, or partly
        # applied with a newer plan carrying the rest. None stays "applying", none is left to finish.
        statuses = query(con, "select plan_id, status from ledger.plans order by plan_id")
        problems["plan left open"] = [
            (r["plan_id"], r["status"])
            for r in statuses
            if r["status"] == "applying" or (r is statuses[-1] and r["status"] not in ("applied", "empty"))
        ]
        problems["group change left on its way"] = query(con, "select * from ledger.group_outbox")
        problems["open outbox rows"] = query(con, "select * from ledger.outbox where state <> 'settled'")
        problems["open note outbox rows"] = query(con, "select * from ledger.note_outbox")
        noted = query(con, "select contact_id, count(*) as n from ledger.history_notes group by all")
        notes_planned = query(
            con, "select count(*) as n from ledger.plan_notes where plan_id = ?", [m.plan_id]
        )[0]["n"]
        write_backs = query(con, "select party_id, contact_id, state from ledger.capsule_write_backs")
        contact_ids = {
            r["party_id"]: r["contact_id"]
            for r in query(
                con,
                "select o.seq, p.party_id, o.contact_id from ledger.operation_outcomes o join"
                " ledger.plan_operations p using (plan_id, seq) where o.plan_id = ? and o.contact_id is not null"
                " and p.operation <> 'archive'",
                [m.plan_id],
            )
        }

    dup_notes = []
    for row in noted:
        details = [h["Details"] for h in m.xero.history(row["contact_id"]) if h["Changes"] == "Note"]
        dup_notes += [(row["contact_id"], d[:60]) for d, n in Counter(details).items() if n > 1]
    problems["duplicate History notes"] = dup_notes
    problems["notes not written"] = (
        []
        if sum(r["n"] for r in noted) >= notes_planned
        else [f"{sum(r['n'] for r in noted)} of {notes_planned}"]
    )

    field_name = m.rules.capsule.xero_contact_id_field
    wrong_field = [r for r in write_backs if r["state"] != "written"]
    for party_id, contact_id in contact_ids.items():
        party = m.capsule.get_party(party_id)
        if party is None:
            continue  # deleted in Capsule (its contact is archived): nothing to write back to
        values = [
            f.get("value")
            for f in party.get("fields", [])
            if (f.get("definition") or {}).get("name") == field_name
        ]
        if values != [contact_id]:
            wrong_field.append((party_id, contact_id, values))
    problems["Capsule field not the ContactID"] = wrong_field

    # A final sync (extract both, reconcile, plan) has nothing left to do.
    extract_capsule(m.settings)
    run_xero_extract(
        m.settings, options=XeroExtractConfig(pacing=PacingPolicy(minute_seconds=m.minute_seconds))
    )
    with m.connect() as con:
        reconcile(con, m.rules, now=m.dataset.now)
        final = create_plan(con, m.rules)
    left = {
        k: v
        for k, v in final.counts.items()
        if k in ("create", "update", "archive", "restore", "notes", "write_backs") and v
    }
    problems["final sync plans something"] = (
        [] if final.status == "empty" and not left else [(final.status, left)]
    )
    return {
        "problems": problems,
        "checked": {
            "operations": len(ops),
            "contacts in Xero": len(contacts),
            "History notes": sum(r["n"] for r in noted),
            "Capsule fields": len(contact_ids),
            "group memberships": sum(
                len(group_names(op.after.get("contact_groups")))
                for op in ops
                if op.operation != "archive" and "contact_groups" in op.changed_fields
            ),
        },
    }


def write_calls_minimum(m: Migration) -> dict[str, int]:
    """ceil(n/50) for creates (PUT) and for updates, archives and restores (POST)."""
    with m.connect(read_only=True) as con:
        ops = operations_to_apply(con, m.plan_id)
    puts = sum(1 for op in ops if op.operation == "create")
    posts = len(ops) - puts
    return {"PUT": math.ceil(puts / 50), "POST": math.ceil(posts / 50), "creates": puts, "others": posts}
