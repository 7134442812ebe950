"""``xero_daily_limit_sensor``: a plan whose writing stopped at Xero's daily limit continues by itself
once the organisation's day has turned, with the approval it had.

Xero counts calls per organisation in a 24-hour window (5,000 a day, 1,000 on the Starter tier;
docs/api-facts.md#xero-rate-limits), so a first migration can need more than one day. Its apply then
stops cleanly (reverse_etl/apply/loop.py: the plan is ``partly_applied``, the writes not sent wait in
it) and the pacer records when Xero's day turns (``resume_after`` in xero-budget.json,
capsule_xero/xero/budget.py; what ``capsule-xero status`` shows). This sensor looks, every few minutes,
for a home whose newest plan is interrupted while a recorded stop has passed, and asks for one
``incremental_sync_job`` run of the writer alone with ``finish_interrupted_plan: N``
(assets/writeback.py): what ``capsule-xero apply N`` does. It reads Xero, plans nothing and writes
that plan only, checked against today's Xero: a dry-run install stays a dry run for every other plan.

The run key is the client, the plan and when it stopped: one stop starts one run; a plan that needs a
third day stops again, later, and so gets its next run the day after. The day has turned once the
recorded stop's time has passed, or once a call of the new day lifted the stop (another run read Xero
first); a plan that stopped while a stop was in force stopped at the limit. The budget file is read
first (no lock, no DuckDB); the DuckDB file only for a home with a passed stop, and not while a run
holds it (asked again at the next tick). With tenants (assets/tenancy.py), each client's home is looked
at with its settings and gets its own run, for its partition.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import dagster as dg
import duckdb

from assets.tenancy import settings_of_tenant, tenant_tags
from assets.writeback import xero_contacts_written
from capsule_xero.home_lock import HomeBusy, home_lock
from capsule_xero.settings import Settings, SettingsError
from capsule_xero.xero.budget import api_origin, budget_file_in, read_budgets
from reverse_etl.plans.create import INTERRUPTED
from reverse_etl.plans.model import Plan
from reverse_etl.plans.store import load_plan

SENSOR_NAME = "xero_daily_limit_sensor"
JOB_NAME = "incremental_sync_job"
RUN_KEY_PREFIX = "xero-day-turned-"
CHECK_SECONDS = 300


def now_utc() -> datetime:
    """The sensor's clock; one function, so that a test can move it on by a (sped-up) day."""
    return datetime.now(UTC)


def day_turned(settings: Settings, now: datetime) -> datetime | None:
    """When this home's organisation's day last turned after a stop at Xero's daily limit: the stop's
    time once it has passed, or, once a call of the new day lifted the stop (budget.py ``merge``),
    when it was lifted. None while a stop holds, or when none was ever recorded."""
    origin = api_origin(settings.xero_api_url)
    tenant = (settings.xero_tenant_id or "").lower()
    turns = []
    for entry in read_budgets(budget_file_in(settings.home)):
        if entry.api != origin or (tenant and entry.tenant != tenant):
            continue
        if entry.resume_after is not None:
            if entry.resume_after <= now:
                turns.append(entry.resume_after)
        elif entry.stop_changed_at is not None:
            turns.append(entry.stop_changed_at)
    return max(turns, default=None)


def interrupted_plan(settings: Settings) -> Plan | None:
    """The newest plan, when its apply was interrupted; ``HomeBusy`` while a run holds the file."""
    if not settings.duckdb_path.exists():
        return None
    with home_lock(settings.home, shared=True, wait=0):
        con = duckdb.connect(str(settings.duckdb_path), read_only=True)
        try:
            plan = load_plan(con)
        finally:
            con.close()
    return plan if plan is not None and plan.status in INTERRUPTED else None


def finish_request(settings: Settings, now: datetime, name: str = "") -> dg.RunRequest | str:
    """The run that finishes this home's plan interrupted by Xero's daily limit, or why there is none."""
    who = f"{name}: " if name else ""
    turned = day_turned(settings, now)
    if turned is None:
        return f"{who}no stop at Xero's daily limit that has passed."
    try:
        plan = interrupted_plan(settings)
    except HomeBusy:
        return f"{who}a run holds the DuckDB file; looked at again at the next check."
    # Stopped before the day turned: the stop was in force when it stopped, so it stopped at the limit.
    if plan is None or plan.applied_at is None or plan.applied_at > turned:
        return f"{who}no plan interrupted by Xero's daily limit."
    return dg.RunRequest(
        # The time the plan stopped: one run per stop; a plan that stops again gets a run the day after.
        run_key=f"{RUN_KEY_PREFIX}{name or 'home'}-plan-{plan.plan_id}-{plan.applied_at.isoformat()}",
        partition_key=name or None,
        # The writer alone: with finish_interrupted_plan it reads Xero first, as `capsule-xero apply N` does.
        asset_selection=[xero_contacts_written.key],
        run_config={
            "ops": {
                xero_contacts_written.key.to_python_identifier(): {
                    "config": {"finish_interrupted_plan": plan.plan_id}
                }
            }
        },
        tags={
            "capsule_xero/trigger": SENSOR_NAME,
            "capsule_xero/plan": str(plan.plan_id),
            **(tenant_tags(name) if name else {}),
        },
    )


def check_homes(tenants: Sequence[str] | None) -> Callable[[dg.SensorEvaluationContext], dg.SensorResult]:
    names = None if tenants is None else list(tenants)

    def check(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        now = now_utc()
        requests: list[dg.RunRequest] = []
        reasons: list[str] = []
        for name in names if names is not None else [""]:
            try:
                settings = settings_of_tenant(name) if name else Settings.from_env()
                found = finish_request(settings, now, name)
            # One client's trouble never stops another's run.
            except (SettingsError, OSError, duckdb.Error) as exc:
                found = f"{name + ': ' if name else ''}not looked at: {(str(exc).splitlines() or [''])[0]}"
            if isinstance(found, dg.RunRequest):
                requests.append(found)
            else:
                reasons.append(found)
        if not requests:
            return dg.SensorResult(skip_reason="\n".join(reasons))
        return dg.SensorResult(run_requests=requests)

    return check


def daily_limit_sensor(tenants: Sequence[str] | None = None) -> dg.SensorDefinition:
    """``xero_daily_limit_sensor``; with ``tenants`` (the partitions' names), one run per client."""
    return dg.SensorDefinition(
        name=SENSOR_NAME,
        evaluation_fn=check_homes(tenants),
        job_name=JOB_NAME,
        minimum_interval_seconds=CHECK_SECONDS,
        # On from a fresh install: it only ever finishes a plan a person approved and started applying.
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=(
            "When writing an approved plan to Xero stopped at Xero's daily call limit, starts a sync that "
            "finishes that plan once the organisation's day has turned (what `capsule-xero status` shows "
            "as when it continues). It writes nothing else. Turn it off here to finish such a plan by "
            "hand with `capsule-xero apply`. See docs/operations.md#daily-budget-figures."
        ),
    )
