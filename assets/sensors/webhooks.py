"""``webhook_events_sensor``: spooled webhook deliveries (capsule_xero/spool.py) become ``incremental_sync`` runs.

Events are hints (docs/api-facts.md#capsule-rest-hooks: keep polling with ``since``; Xero events are
thin, docs/api-facts.md#xero-webhooks), so a batch of
any size asks for one incremental run; the run reads what changed itself. The spool holds one file
per delivery (its name gives its source and number of events); the sensor never opens one.

Two phases, so that no delivery leaves the spool before Dagster has recorded the run it asked for:

1. A tick asks for a run for the pending batch (oldest first, up to ``MAX_EVENTS_PER_RUN`` events, at
   least one delivery) under a run key derived from the batch's deliveries, and records the batch in
   its cursor. It moves nothing.
2. A later tick looks the run key up in the instance. Once a run with it exists and was handed to the
   run coordinator, the batch moves to ``spool/done/`` (where it also makes a later replay of the same
   delivery a duplicate; deliveries older than ``WEBHOOK_SPOOL_DAYS`` are deleted from there then) and
   the pending deliveries that arrived meanwhile become the next batch. If no such run exists, the
   same batch is asked for again under the same run key.

This leans on two Dagster guarantees: the cursor is committed with the tick's run requests (a daemon
dying mid-tick either resumes the tick or re-evaluates with the previous cursor, and the events are
still pending in both cases), and a run key is launched at most once per sensor (asking again for a
batch whose run exists is skipped, and a run created but never launched is launched). The worst a
crash can do is one more run over events already synced (a lost cursor while newer events arrived
makes a bigger batch under a new key), which is harmless: the run reads what changed.

While the webhook fast lane watches a spool (assets/fast_lane.py: ``capsule-xero webhooks serve``
syncs contact changes itself, and touches the spool's heartbeat), a tick leaves deliveries younger than
``FAST_LANE_GRACE_SECONDS`` to it: it takes them in well under a second, and gives back what it does
not handle with its arrival time, old enough for the next tick (docs/operations.md#the-webhook-fast-lane).

Evaluated without an instance (``dg.build_sensor_context()`` in a test or bench/latency.py, whose
caller keeps the cursor and runs the request itself), there is nothing to look up and the caller's
cursor is taken as the record of the run.

With tenants (assets/tenancy.py), each client's webhook receiver spools into its own folder, so a tick
does the above for each client's spool, with a batch and a run (for its partition, tagged with the
client) per client; the cursor holds each client's. One client's unreadable spool is skipped with its
reason in the tick's log, and the others still get their runs.
"""

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from assets.tenancy import every_tenants_tick, settings_of_tenant, tenant_tags
from capsule_xero.settings import Settings
from capsule_xero.spool import Spool, SpoolLimits, name_parts

JOB_NAME = "incremental_sync_job"
MAX_EVENTS_PER_RUN = 10_000  # a flood (a bulk import firing thousands of hooks) is still one run per batch
# The cursor names a batch's deliveries by source, the first 64 bits of their digest and their number
# of events (files are ``<source>-<sha256>-<events>.json``), which is all the run's tags need.
EVENT_ID_HEX = 16
# The tag Dagster puts on every run a sensor asked for under a run key (shown as such in the UI).
RUN_KEY_TAG = "dagster/run_key"
# A tick only lists a local folder (no API call), so it can be frequent: at 15 s the edit → Xero
# p95 through Dagster was 31 s, at 5 s 25 s (bench/latency.py), against a 30 s target.
TICK_SECONDS = 5


def _spool(tenant: str = "") -> Spool:
    # Read at evaluation time: CAPSULE_XERO_HOME may differ between the code server and a test.
    settings = settings_of_tenant(tenant) if tenant else Settings.from_env()
    return Spool.at_home(settings.home, SpoolLimits.of(settings))


def event_id(path: Path) -> str:
    """How the cursor names a spooled delivery: ``<source>-<first 16 hex of its digest>-<events>``."""
    source, digest, events = name_parts(path)
    if path.stem.count("-") < 2:  # the one-event layout: named as cursors of that time named it
        return f"{source}-{digest[:EVENT_ID_HEX]}"
    return f"{source}-{digest[:EVENT_ID_HEX]}-{events}"


def _events_in(delivery_id: str) -> int:
    """The events a cursor entry stands for (an entry of the one-event layout has no count: 1)."""
    count = delivery_id.split("-")[2:3]
    return int(count[0]) if count and count[0].isdigit() else 1


def _batch_paths(pending: list[Path]) -> list[Path]:
    """The oldest deliveries up to ``MAX_EVENTS_PER_RUN`` events; always at least one."""
    batch, events = [], 0
    for path in pending:
        count = name_parts(path)[2]
        if batch and events + count > MAX_EVENTS_PER_RUN:
            break
        batch.append(path)
        events += count
    return batch


@dataclass(frozen=True)
class Batch:
    """Deliveries asked for in one run, under a run key that is a function of the deliveries alone."""

    run_key: str
    events: tuple[str, ...]
    # The client whose spool holds the deliveries ("" without tenants): its run is for its partition.
    tenant: str = ""

    @classmethod
    def of(cls, paths: list[Path], tenant: str = "") -> "Batch":
        events = tuple(sorted(event_id(path) for path in paths))
        digest = hashlib.sha256("\n".join(events).encode("utf-8")).hexdigest()
        # Two clients sharing a Capsule account can spool the same delivery: each is its own run.
        prefix = f"webhooks-{tenant}-" if tenant else "webhooks-"
        return cls(run_key=f"{prefix}{digest[:32]}", events=events, tenant=tenant)

    @property
    def event_count(self) -> int:
        return sum(_events_in(delivery) for delivery in self.events)

    def run_request(self) -> dg.RunRequest:
        sources: dict[str, int] = {}
        for delivery in self.events:
            source = delivery.split("-", 1)[0]
            sources[source] = sources.get(source, 0) + _events_in(delivery)
        return dg.RunRequest(
            run_key=self.run_key,
            partition_key=self.tenant or None,
            tags={
                "capsule_xero/trigger": "webhooks",
                "capsule_xero/webhook_events": str(self.event_count),
                "capsule_xero/webhook_deliveries": str(len(self.events)),
                "capsule_xero/webhook_sources": ",".join(f"{s}:{n}" for s, n in sorted(sources.items())),
                **(tenant_tags(self.tenant) if self.tenant else {}),
            },
        )


@dataclass(frozen=True)
class Cursor:
    """The batch asked for and not yet seen as a run, and events turned into runs so far (informational)."""

    batch: Batch | None = None
    total: int = 0

    @classmethod
    def parse(cls, text: str | None, tenant: str = "") -> "Cursor":
        try:
            data = json.loads(text or "{}")
        except ValueError:
            return cls()
        return cls.of(data, tenant)

    @classmethod
    def of(cls, data: object, tenant: str = "") -> "Cursor":
        try:
            total = int(data.get("total", 0))  # type: ignore[union-attr]
        except (ValueError, TypeError, AttributeError):
            return cls()
        batch = data.get("batch")  # type: ignore[union-attr]
        # A cursor from before the two phases has no batch: its events were moved to done/ already.
        if not isinstance(batch, dict) or not batch.get("run_key"):
            return cls(total=total)
        return cls(Batch(str(batch["run_key"]), tuple(batch.get("events") or ()), tenant), total)

    def data(self) -> dict[str, object]:
        data: dict[str, object] = {"total": self.total}
        if self.batch is not None:
            data["batch"] = {"run_key": self.batch.run_key, "events": list(self.batch.events)}
        return data

    def dump(self) -> str:
        return json.dumps(self.data(), separators=(",", ":"))


def _run_recorded(context: dg.SensorEvaluationContext, run_key: str) -> bool:
    """Whether a run with ``run_key`` exists and was submitted (so its events can leave the spool)."""
    try:
        instance = context.instance
    except dg.DagsterInvariantViolationError:
        if context.instance_ref is not None:
            raise
        return True  # no instance: the caller keeps the cursor and runs the request itself
    runs = instance.get_runs(filters=dg.RunsFilter(tags={RUN_KEY_TAG: run_key}))
    # NOT_STARTED: created, but the daemon stopped before submitting it; asking again launches it.
    return any(run.status != dg.DagsterRunStatus.NOT_STARTED for run in runs)


def _tick(
    context: dg.SensorEvaluationContext, spool: Spool, cursor: Cursor, tenant: str = ""
) -> tuple[list[dg.RunRequest], Cursor, str]:
    """One spool's part of a tick: its run requests, its next cursor, and why it asks for none."""
    total = cursor.total
    previous = cursor.batch
    who = f"{tenant}: " if tenant else ""
    if previous is not None:
        if not _run_recorded(context, previous.run_key):
            context.log.info(
                f"{who}no run recorded yet for {previous.event_count} webhook event(s) (run key "
                f"{previous.run_key}): asking again under the same key"
            )
            return [previous.run_request()], cursor, ""
        consumed = set(previous.events)
        spool.mark_done([path for path in spool.pending() if event_id(path) in consumed])
        spool.prune_done()
        total += previous.event_count

    fresh = spool.fresh_for_fast_lane()
    batch_paths = _batch_paths([path for path in spool.pending() if path not in fresh])
    if not batch_paths:
        if fresh:
            return [], Cursor(total=total), f"{who}{len(fresh)} new deliveries are the webhook fast lane's"
        return [], Cursor(total=total), f"{who}no new webhook events in {spool.root}"
    batch = Batch.of(batch_paths, tenant)
    run = batch.run_request()
    context.log.info(
        f"{who}{batch.event_count} webhook event(s) in {len(batch.events)} deliveries → one {JOB_NAME} run "
        f"({run.tags['capsule_xero/webhook_sources']}, run key {batch.run_key})"
    )
    return [run], Cursor(batch, total), ""


def turn_spooled_events_into_runs(context: dg.SensorEvaluationContext) -> dg.SensorResult | dg.SkipReason:
    """One tick: the batch asked for last time leaves the spool once its run exists; the next is asked for."""
    cursor = Cursor.parse(context.cursor)
    requests, after, skip = _tick(context, _spool(), cursor)
    if requests:
        return dg.SensorResult(run_requests=requests, cursor=after.dump())
    if cursor.batch is None:
        return dg.SkipReason(skip)
    return dg.SensorResult(skip_reason=skip, cursor=after.dump())


def every_tenants_spool(
    names: Sequence[str],
) -> Callable[[dg.SensorEvaluationContext], dg.SensorResult]:
    """A tick over each client's spool; the cursor is ``{client: that spool's cursor}``."""
    names = list(names)

    def turn_each_tenants_events_into_runs(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        try:
            saved = json.loads(context.cursor or "{}")
        except ValueError:
            saved = {}
        saved = saved if isinstance(saved, dict) else {}
        cursors: dict[str, object] = {}
        requests: list[dg.RunRequest] = []
        skipped: list[str] = []
        for name in names:
            cursor = Cursor.of(saved.get(name, {}), name)
            try:
                asked, after, skip = _tick(context, _spool(name), cursor, name)
            except Exception as exc:  # one client's spool never stops another's runs
                first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                skipped.append(f"{name}: spool not read: {first}")
                cursors[name] = cursor.data()
                continue
            requests += asked
            cursors[name] = after.data()
            if skip:
                skipped.append(skip)
        return every_tenants_tick(requests, skipped, cursors, context.log.info)

    return turn_each_tenants_events_into_runs


def webhook_sensor(
    tick_seconds: int = TICK_SECONDS, tenants: Sequence[str] | None = None
) -> dg.SensorDefinition:
    """``webhook_events_sensor``, ticking every ``tick_seconds``; on by default. With ``tenants``, it
    reads each client's spool."""
    return dg.SensorDefinition(
        name="webhook_events_sensor",
        evaluation_fn=turn_spooled_events_into_runs if tenants is None else every_tenants_spool(tenants),
        job_name=JOB_NAME,
        minimum_interval_seconds=tick_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="On by default: turns the Xero webhooks and Capsule REST hooks that `capsule-xero "
        "webhooks serve` received into incremental sync runs, except the contact changes its fast lane "
        "syncs itself in seconds. See docs/operations.md#the-webhook-fast-lane.",
    )


webhook_events_sensor = webhook_sensor()
