"""The webhook fast lane: a spooled Capsule or Xero contact change reaches Xero in seconds, without a run.

Through a run, a webhook took ~23 s at p95 (bench/latency.py): Dagster starts a run worker (~7 s
quiet, far more on a busy machine) and the run re-reads eleven Capsule resources and every Xero
list. The fast lane runs inside the long-lived receiver process (``capsule-xero webhooks serve``):
it takes what is pending in the spool out of the sensor's sight (``Spool.claim``) and does the
incremental sync's work, narrowed to what a contact change needs:

- Capsule: ``parties`` and ``deleted_parties`` since their cursors (two requests), so a party
  changed again since its hook, or deleted, is read as it is now, and two hooks for one party are
  one read;
- Xero: ``xero_contacts`` since its ``If-Modified-Since`` cursor (one request), unless the copy in
  DuckDB is as good as a read (``XeroCopy``: Xero's webhooks are on, and nothing but this tool's own
  updates changed Xero since the last read);
- the whole reconcile, a plan, and the same exactly-once apply as the writer asset
  (``CAPSULE_XERO_APPLY`` and the approval limits hold as they do there: a plan that waits for
  approval is stored and waits, as a run's would).

Dagster stays the record: each pass reports a materialisation of ``reverse_etl/xero_contacts_written``
with the plan and what was written (``DagsterInstance.report_runless_asset_event``), for the
client's partition, so the asset's page lists fast-lane writes beside the runs'. The polling sensor
does the same work inside its tick (assets/sensors/polling.py) and returns the materialisation.

What the fast lane does not handle goes back to the queue (``Spool.release``) for the sensor's
incremental run, as before: an event that is not a contact change (an opportunity, an invoice), a
home held by a run, a home no whole sync has read yet, and any failure. A receiver that died mid-pass
leaves its claims, which it gives back when it starts (``Spool.release_stale_claims``). A change whose
webhook was lost is read by the next pass (it reads since the cursor, not by id) or by the polling
sensor (docs/operations.md#the-webhook-fast-lane).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import dagster as dg
import duckdb

from assets.writeback import plan_metadata, plan_table_metadata, why_not_written, written_metadata
from capsule_xero.files import write_private_file
from capsule_xero.home_lock import HomeBusy, home_lock
from capsule_xero.rules.model import Rules
from capsule_xero.settings import Settings
from capsule_xero.spool import Spool
from pipelines.capsule import extract_capsule
from pipelines.xero import run_xero_extract, xero_error
from pipelines.xero.settings import CONTACTS_TABLE
from reverse_etl.apply.echoes import newest_xero_load, writes_since
from reverse_etl.apply.loop import apply_plan
from reverse_etl.apply.result import ApplyResult
from reverse_etl.plans.create import create_plan
from reverse_etl.plans.model import Plan
from reverse_etl.sqlfile import has_table
from transform.stages import reconcile

log = logging.getLogger(__name__)

WRITER_ASSET = dg.AssetKey(["reverse_etl", "xero_contacts_written"])
CAPSULE_RESOURCES = ("parties", "deleted_parties")
# Tables only a whole read makes: a pass reads parties and contacts, never the rest a first sync needs.
FIRST_SYNC_TABLES = ("capsule_users", "capsule_tags", "xero_contacts", "xero_contact_groups")
# Capsule REST hook events a contact needs (docs/api-facts.md#capsule-rest-hooks); any other (an
# opportunity won, a kase) goes to the sensor's run, which reads every resource.
PARTY_EVENTS = frozenset({"party/created", "party/updated", "party/deleted"})
STATE_FILE = "fast-lane.json"
SYNCED_THROUGH_FILE = "fast-lane-capsule-synced-through"
SYNCED_THROUGH_SQL = Path(__file__).resolve().parent / "sql" / "capsule_synced_through.sql"
# A home held by a run is the run's: waiting longer would only delay the sensor's run of these events.
LOCK_WAIT_SECONDS = 2.0
# Deliveries are left a moment to settle, so that a hook's retry or its twin lands in the same pass.
SETTLE_SECONDS = 0.3
# A burst (a bulk edit or import firing hooks) is taken in passes at most this often, so that its
# contacts go to Xero fifty to a request rather than a request each (bench/day.py, the burst).
BURST_EVENTS = 10
BURST_WINDOW_SECONDS = 15.0
BURST_GAP_SECONDS = 15.0
LOOK_SECONDS = 0.2


class Declined(Exception):
    """Why the fast lane left a batch to the sensor's run (its deliveries are pending again)."""


@dataclass
class Pass:
    """What one pass of the fast lane did."""

    deliveries: int
    events: int
    tenant: str = ""
    plan: Plan | None = None
    result: ApplyResult | None = None
    why_not: str | None = None
    read_capsule: bool = False
    read_xero: str | None = None  # why Xero was read (None: the copy and the ledger were enough)
    echoes: int = 0
    seconds: float = 0.0
    declined: str | None = None
    trigger: str = "webhook fast lane (no run)"
    too_large: bool = False
    shown: dict[str, Any] = field(default_factory=dict)  # the plan's tables, as the writer asset shows them

    def metadata(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "trigger": self.trigger,
            "webhook_deliveries": self.deliveries,
            "webhook_events": self.events,
            "read_capsule": "parties changed since the last read" if self.read_capsule else "no",
            "read_xero": f"contacts changed since the last read ({self.read_xero})"
            if self.read_xero
            else "no",
            "echoes_of_own_writes": self.echoes,
            "seconds": round(self.seconds, 2),
        }
        if self.plan is not None:
            out.update({**plan_metadata(self.plan), **self.shown})
        if self.result is not None:
            out.update(written_metadata(self.result))
        elif self.why_not is not None:
            out.update({"written": False, "why_not": self.why_not})
        return out


@dataclass
class XeroCopy:
    """Whether the DuckDB copy of Xero's contacts is as good as a read, so a pass can skip it.

    Xero sends a webhook for every change, this tool's own writes included. Counted, never timed
    (Xero's clock and ours may disagree): since the last Xero read, each write this tool made to a
    contact explains one CONTACT event for it, its echo; an event beyond those is someone's edit in
    Xero, to be read. A contact this tool updated since the read needs no read either: the reconcile
    takes what the ledger says it wrote over the older copy (reconcile/current_contacts.sql). A read
    is due after anything else (a create: the new contact is not in the copy; an archive, a restore),
    without Xero webhooks (no ``XERO_WEBHOOK_KEY``: an edit in Xero would go unseen), before the
    first read, and ``MAX_AGE`` after the last one (Xero delivers webhooks at least once, not surely).
    Kept in ``fast-lane.json`` beside the spool."""

    read_at: datetime | None = None
    seen: Counter[str] = field(default_factory=Counter)
    MAX_AGE: ClassVar[timedelta] = timedelta(hours=1)

    @classmethod
    def load(cls, home: Path) -> XeroCopy:
        try:
            data = json.loads((home / STATE_FILE).read_text())
            return cls(datetime.fromisoformat(data["xero_read_at"]), Counter(data.get("echoes_seen") or {}))
        except (OSError, ValueError, KeyError, TypeError):
            return cls()

    def save(self, home: Path) -> None:
        data = {"xero_read_at": self.read_at.isoformat() if self.read_at else None, "echoes_seen": self.seen}
        write_private_file(home / STATE_FILE, json.dumps(data).encode())

    def judge(
        self, con: duckdb.DuckDBPyConnection | None, events: Sequence[str], webhooks: bool
    ) -> tuple[int, str | None]:
        """Counts Xero's events for ``events`` (contact ids) in as echoes where it can; returns how many
        were echoes and why a read is due (None: the copy will do)."""
        if con is None or self.read_at is None:
            return 0, "no Xero read yet"
        loaded = newest_xero_load(con)
        if loaded is not None and loaded > self.read_at:  # a run read Xero since: its read is the last
            self.read_at, self.seen = loaded, Counter()
        writes = writes_since(con, self.read_at)
        echoes = 0
        for contact_id in events:
            if self.seen[contact_id] < writes.get(contact_id, (0, True))[0]:
                self.seen[contact_id] += 1
                echoes += 1
        if echoes < len(events):
            return echoes, "an edit in Xero"
        if not webhooks:
            return echoes, "no Xero webhooks (XERO_WEBHOOK_KEY)"
        if any(not only_updates for _, only_updates in writes.values()):
            return echoes, "a contact created, archived or restored since the last read"
        if datetime.now(UTC) - self.read_at > self.MAX_AGE:
            return echoes, f"the last read is over {self.MAX_AGE.seconds // 3600} hour old"
        return echoes, None


def _events(spool: Spool, paths: Sequence[Path]) -> tuple[int, list[str], int]:
    """Capsule party events, the Xero contact ids of Xero's events, and the number of events."""
    capsule, xero, count = 0, [], 0
    for path in paths:
        delivery = spool.read(path)
        count += len(delivery.events)
        for event in delivery.events:
            if delivery.source == "capsule" and event.get("event") in PARTY_EVENTS:
                capsule += 1
            elif delivery.source == "xero" and event.get("eventCategory") == "CONTACT":
                xero.append(str(event.get("resourceId")))
            else:
                kind = event.get("event") or event.get("eventCategory")
                raise Declined(f"a {delivery.source} {kind} event needs the whole incremental sync")
    return capsule, xero, count


class FastLane:
    """One client's fast lane (or the install's, without tenants): ``run_pass`` syncs what is pending."""

    def __init__(
        self,
        settings: Settings,
        rules: Rules,
        *,
        tenant: str = "",
        record: Callable[[Pass], None] | None = None,
    ) -> None:
        self.settings, self.rules, self.tenant = settings, rules, tenant
        self.spool = Spool.at_home(settings.home)
        self.record = record

    def run_pass(self) -> Pass | None:
        """Claim every pending delivery and sync it; None when nothing was pending."""
        pending = self.spool.pending()
        if not pending:
            return None
        started = time.monotonic()
        claimed = self.spool.claim(pending)
        if not claimed:
            return None
        try:
            done = self._sync(claimed)
        except Exception as exc:
            self.spool.release(claimed)
            reason = (
                str(xero_error(exc) or exc).strip().splitlines()[0]
                if str(exc).strip()
                else type(exc).__name__
            )
            log.warning(
                "%sfast lane left %d deliveries to the sensor's run: %s", self._who, len(claimed), reason
            )
            return Pass(len(claimed), 0, self.tenant, declined=reason, seconds=time.monotonic() - started)
        self.spool.finish(claimed)
        done.seconds = time.monotonic() - started
        if self.record is not None and (done.plan is not None):
            self.record(done)
        return done

    @property
    def _who(self) -> str:
        return f"{self.tenant}: " if self.tenant else ""

    def _sync(self, claimed: Sequence[Path]) -> Pass:
        capsule_events, xero_contacts, count = _events(self.spool, claimed)
        return self.sync(Pass(len(claimed), count, self.tenant), capsule_events, xero_contacts)

    def sync_capsule_change(self, max_operations: int) -> Pass:
        """What a pass does for a party change the polling sensor found (assets/sensors/polling.py),
        inside its tick; a plan of more than ``max_operations`` is stored and left unwritten
        (``Pass.too_large``) for the incremental run the sensor then starts. Raises ``Declined`` when a
        run holds the home."""
        started = time.monotonic()
        done = self.sync(
            Pass(0, 1, self.tenant, trigger="capsule_changes_sensor (no run)"), 1, [], max_operations
        )
        done.seconds = time.monotonic() - started
        return done

    def sync(
        self, done: Pass, capsule_events: int, xero_contacts: Sequence[str], max_operations: int | None = None
    ) -> Pass:
        settings = self.settings
        try:
            with home_lock(settings.home, "webhook fast lane", wait=LOCK_WAIT_SECONDS):
                copy = XeroCopy.load(settings.home)
                with _ledger(settings) as con:
                    if con is None or not all(has_table(con, "raw", table) for table in FIRST_SYNC_TABLES):
                        raise Declined("no sync has read everything yet: the first is a run")
                    done.echoes, read_due = copy.judge(
                        con, xero_contacts, bool(settings.xero_webhook_key.get_secret_value())
                    )
                if not capsule_events and len(xero_contacts) == done.echoes:
                    copy.save(settings.home)
                    return done  # only echoes of this tool's own writes: nothing to read or write
                if capsule_events:
                    extract_capsule(settings, resources=CAPSULE_RESOURCES)
                    done.read_capsule = True
                if read_due is not None:
                    read_at = datetime.now(UTC)
                    run_xero_extract(settings, rules=self.rules, resources=(CONTACTS_TABLE,))
                    done.read_xero, copy = read_due, XeroCopy(read_at)
                copy.save(settings.home)
                with duckdb.connect(str(settings.duckdb_path)) as con:
                    reconcile(con, self.rules)
                    done.plan = create_plan(con, self.rules)
                    done.shown = plan_table_metadata(con, done.plan)
                    done.why_not = why_not_written(done.plan, settings.apply_writes)
                    if (
                        done.why_not is None
                        and max_operations is not None
                        and done.plan.operations > max_operations
                    ):
                        done.why_not = f"{done.plan.operations} operations: left to an incremental run"
                        done.too_large = True
                    if done.why_not is None:
                        done.result = apply_plan(con, settings, self.rules, done.plan.plan_id)
                    if done.read_capsule:
                        _save_synced_through(settings.home, con)
        except HomeBusy as exc:
            raise Declined(f"a run holds the home ({exc})") from None
        return done


def _save_synced_through(home: Path, con: duckdb.DuckDBPyConnection) -> None:
    (row,) = con.execute(SYNCED_THROUGH_SQL.read_text()).fetchall()
    if row[0] is not None:
        write_private_file(home / SYNCED_THROUGH_FILE, row[0].astimezone(UTC).isoformat().encode())


def capsule_synced_through(home: Path) -> datetime | None:
    """Capsule's newest party change or deletion a fast-lane pass has synced (Capsule's clock), or None.

    The polling sensor (assets/sensors/polling.py) starts no run for a change at or before it: the pass
    that read it reconciled it, planned it and, when allowed, wrote it."""
    try:
        return datetime.fromisoformat((home / SYNCED_THROUGH_FILE).read_text().strip())
    except (OSError, ValueError):
        return None


class _ledger:
    """The DuckDB file for a moment, or None before the first sync made one."""

    def __init__(self, settings: Settings) -> None:
        self.path = settings.duckdb_path
        self.con: duckdb.DuckDBPyConnection | None = None

    def __enter__(self) -> duckdb.DuckDBPyConnection | None:
        if self.path.exists():
            self.con = duckdb.connect(str(self.path))
        return self.con

    def __exit__(self, *exc: object) -> None:
        if self.con is not None:
            self.con.close()


def materialisation(done: Pass) -> dg.AssetMaterialization:
    """A pass as a materialisation of the writer asset, for the client's partition."""
    plan = done.plan
    return dg.AssetMaterialization(
        asset_key=WRITER_ASSET,
        partition=done.tenant or None,
        description=f"{done.trigger}: plan {plan.plan_id if plan else '-'}",
        metadata=done.metadata(),
    )


def dagster_recorder(instance: dg.DagsterInstance) -> Callable[[Pass], None]:
    """Reports each pass to ``instance`` (the receiver runs outside Dagster's processes)."""

    def record(done: Pass) -> None:
        instance.report_runless_asset_event(materialisation(done))

    return record


class FastLaneWorker(threading.Thread):
    """Watches the spools and runs the fast lanes' passes, one at a time across clients.

    A pass starts once the newest delivery is ``SETTLE_SECONDS`` old; in a burst (``BURST_EVENTS``
    in ``BURST_WINDOW_SECONDS``), passes start at most every ``BURST_GAP_SECONDS``."""

    def __init__(self, lanes: Sequence[FastLane], on_pass: Callable[[Pass], None] | None = None) -> None:
        super().__init__(name="webhook-fast-lane", daemon=True)
        self.lanes = list(lanes)
        self.on_pass = on_pass
        self.stopping = threading.Event()
        self._arrivals: dict[str, list[tuple[float, int]]] = {}
        self._last_pass: dict[str, float] = {}
        for lane in self.lanes:
            released = lane.spool.release_stale_claims()
            if released:
                log.warning("%sfast lane gave %d unfinished claims back to the queue", lane._who, released)

    def _due(self, lane: FastLane, now: float) -> bool:
        pending = lane.spool.pending()
        if not pending:
            return False
        newest = max(path.stat().st_mtime for path in pending if path.exists())
        if time.time() - newest < SETTLE_SECONDS:
            return False
        arrivals = [(t, n) for t, n in self._arrivals.get(lane.tenant, []) if now - t < BURST_WINDOW_SECONDS]
        self._arrivals[lane.tenant] = arrivals
        in_burst = sum(n for _, n in arrivals) >= BURST_EVENTS
        return not in_burst or now - self._last_pass.get(lane.tenant, 0.0) >= BURST_GAP_SECONDS

    def run(self) -> None:
        while not self.stopping.wait(LOOK_SECONDS):
            for lane in self.lanes:
                now = time.monotonic()
                try:
                    lane.spool.beat()
                    if not self._due(lane, now):
                        continue
                    self._last_pass[lane.tenant] = now
                    done = lane.run_pass()
                except Exception:  # a pass never stops the receiver; its deliveries wait for the sensor
                    log.exception("%sfast lane pass failed", lane._who)
                    continue
                if done is None:
                    continue
                self._arrivals.setdefault(lane.tenant, []).append((now, done.events))
                if self.on_pass is not None:
                    self.on_pass(done)

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=60)
