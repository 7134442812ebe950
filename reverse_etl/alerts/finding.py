"""Alerts: a message to a person, only when a person must act, with the command that fixes it.

What alerts (docs/operations.md#alerts-what-each-means-and-what-to-do):

- records dead in ``ledger.error_queue`` (retrying ones do not: the apply loop is still on them);
- the newest plan waiting for approval;
- the Xero refresh token dying within ``alerts.token_expiry_warning_days`` (or dead already);
- Xero's daily call budget used up (a day-limit 429), or nearly (reads stopped at the reserve kept
  for writes): the pacer records each organisation's budget in ``$CAPSULE_XERO_HOME/xero-budget.json``
  (capsule_xero/xero/budget.py), and while its resume time is still to come ``find_alerts`` raises
  ``budget_exhausted(resume_at, tenant)``, even while a run holds the DuckDB file;
- a run that failed after its retries: ``run_failed(run_name, error_summary)``, from a run-failure
  sensor;
- webhook deliveries no sync takes: the spool (capsule_xero/spool.py) full, so the receiver refuses
  deliveries, or a delivery waiting longer than ``SPOOL_STALE_AFTER`` (``webhook_backlog``; the
  receiver also sends it itself when it starts refusing, since a stopped Dagster daemon sends nothing).

``find_alerts`` reads the state; reverse_etl/alerts/delivery.py sends each to the rules file's
channels. Names and Xero's reasons are spelt out (capsule_xero/display.py) so each record stays on its
own line. No dagster import: the Dagster sensors call ``check_and_send`` and ``run_failed`` + ``send``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from capsule_xero.display import spell_out
from capsule_xero.xero.budget import api_origin, budget_file_in, read_budgets
from capsule_xero.xero.token_store import TokenFileError, TokenStore

if TYPE_CHECKING:
    import duckdb

    from capsule_xero.rules.model import Rules
    from capsule_xero.settings import Settings

DEAD_PARTIES_SHOWN = 5
SPOOL_STALE_AFTER = timedelta(hours=1)  # the sensor takes a delivery within seconds while it runs

KINDS = (
    "dead_letters",
    "plan_waiting",
    "token_expiring",
    "budget_exhausted",
    "run_failed",
    "webhook_backlog",
)


@dataclass(frozen=True)
class Alert:
    """One thing a person must do: ``detail`` says what happened, ``fix_command`` what to run."""

    kind: str
    title: str
    detail: str
    fix_command: str
    # Alerts with the same key are one alert for the 24-hour dedupe; it changes when the situation does.
    key: str = ""

    @property
    def dedupe_key(self) -> str:
        return self.key or f"{self.kind}:{self.title}"

    def text(self) -> str:
        return f"{self.title}\n{self.detail}\nTo fix: {self.fix_command}"


# ---- finding what needs a person ------------------------------------------------------------------


def find_alerts(
    con: duckdb.DuckDBPyConnection | None, settings: Settings, rules: Rules, now: datetime
) -> list[Alert]:
    """Everything that needs a person now. ``con`` None (the DuckDB file is busy): the checks that need
    no DuckDB only (the Xero sign-in, the daily API budget)."""
    alerts: list[Alert] = []
    if con is not None:
        alerts.extend(_dead_letters(con))
        alerts.extend(_plan_waiting(con))
    alerts.extend(_token_expiring(settings, rules, now))
    alerts.extend(_budget_stopped(settings, now))
    alerts.extend(_webhook_backlog(settings, now))
    return alerts


def _dead_letters(con: duckdb.DuckDBPyConnection) -> list[Alert]:
    from reverse_etl.sqlfile import has_table

    if not has_table(con, "ledger", "error_queue"):
        return []
    rows = con.execute(
        "select party_id, contact_id, operation, attempts, message from ledger.error_queue"
        " where state = 'dead' order by party_id"
    ).fetchall()
    if not rows:
        return []
    names: dict[int, str] = {}
    if has_table(con, "staging", "capsule_parties"):
        names = dict(
            con.execute(
                "select party_id, display_name from staging.capsule_parties where list_contains($ids, party_id)",
                {"ids": [row[0] for row in rows[:DEAD_PARTIES_SHOWN]]},
            ).fetchall()
        )
    lines = []
    for party_id, contact_id, operation, attempts, message in rows[:DEAD_PARTIES_SHOWN]:
        # One line per record: a line break (or any control) in a name or reason is spelt out.
        who = (
            f"{spell_out(names[party_id])} (Capsule party {party_id})"
            if names.get(party_id)
            else f"Capsule party {party_id}"
        )
        xero = f", Xero contact {spell_out(contact_id)}" if contact_id else ""
        reason = spell_out(message or "no message from Xero")
        lines.append(f"- {who}{xero}: {spell_out(operation or 'write')} refused {attempts} times: {reason}")
    more = len(rows) - DEAD_PARTIES_SHOWN
    if more > 0:
        lines.append(f"- … and {more:,} more")
    count = len(rows)
    ids = ",".join(str(row[0]) for row in rows)
    return [
        Alert(
            kind="dead_letters",
            title=f"{count:,} {'record' if count == 1 else 'records'} stopped syncing to Xero",
            detail=(
                "Xero refused these writes through every retry; they are left out of every plan until a"
                " person fixes them:\n" + "\n".join(lines)
            ),
            fix_command=(
                "`capsule-xero status` lists them with Xero's message; fix each record in Capsule (or the"
                " contact in Xero) and the next sync sends it again"
            ),
            key="dead_letters:" + hashlib.sha256(ids.encode()).hexdigest()[:16],
        )
    ]


def _plan_waiting(con: duckdb.DuckDBPyConnection) -> list[Alert]:
    from reverse_etl.plans.model import PLANNED_OPERATIONS
    from reverse_etl.plans.store import load_plan

    plan = load_plan(con)
    if plan is None or plan.status != "pending_approval":
        return []
    counts = ", ".join(f"{plan.counts[op]:,} {op}" for op in PLANNED_OPERATIONS if plan.counts.get(op))
    reasons = "; ".join(plan.approval_reasons) or "the approval rules"
    made = f"{plan.created_at:%Y-%m-%d %H:%M} UTC" if plan.created_at else "recently"
    return [
        Alert(
            kind="plan_waiting",
            title=f"Plan {plan.plan_id} waits for approval",
            detail=(
                f"Plan {plan.plan_id} (made {made}; {counts or 'no contact writes'}) is not written to Xero"
                f" until a person approves it, because of: {reasons}."
            ),
            fix_command=(f"`capsule-xero plan` to look at it, then `capsule-xero approve {plan.plan_id}`"),
            key=f"plan_waiting:{plan.plan_id}",
        )
    ]


def _token_expiring(settings: Settings, rules: Rules, now: datetime) -> list[Alert]:
    try:
        tokens = TokenStore(settings.xero_token_home).load()
    except TokenFileError as error:  # nothing syncs until someone signs in again: a person must act
        return [
            Alert(
                kind="token_unusable",
                title="The Xero sign-in cannot be read",
                detail=str(error),
                fix_command="`capsule-xero auth login`",
            )
        ]
    if tokens is None:
        return []
    dies = tokens.refresh_token_expires_at()
    if dies is None:  # a custom connection has no refresh token to lose
        return []
    left = dies - now
    if left > timedelta(days=rules.alerts.token_expiry_warning_days):
        return []
    when = f"{dies.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
    if left <= timedelta(0):
        title = "The Xero sign-in has expired"
        detail = (
            f"The Xero refresh token died at {when} (60 days unused): nothing syncs until you sign in again."
        )
    else:
        days = left.total_seconds() / 86400
        title = f"The Xero sign-in expires in {days:.0f} {'day' if round(days) == 1 else 'days'}"
        detail = (
            f"The Xero refresh token dies at {when} unless it is used (every sync renews it). No sync has"
            " renewed it lately; after it dies nothing syncs until someone signs in again."
        )
    return [
        Alert(
            kind="token_expiring",
            title=title,
            detail=detail,
            fix_command="`capsule-xero auth login` (or run a sync, which renews it)",
            key=f"token_expiring:{dies.isoformat()}",
        )
    ]


def _budget_stopped(settings: Settings, now: datetime) -> list[Alert]:
    """Organisations of this installation's Xero API whose recorded stop is still to come."""
    origin = api_origin(settings.xero_api_url)
    return [
        budget_exhausted(
            entry.resume_after, entry.tenant or None, left_for_writes=entry.stop_remaining or None
        )
        for entry in read_budgets(budget_file_in(settings.home))
        if entry.api == origin and entry.resume_after is not None and entry.stopped(now)
    ]


def budget_exhausted(
    resume_at: datetime, tenant: str | None = None, *, left_for_writes: int | None = None
) -> Alert:
    """Xero's daily call limit is used up (``DailyLimitReached.resume_after``), from the budget record.

    ``left_for_writes``: the calls left when reads stopped at the reserve kept for writes (None or 0:
    Xero refused a call for the day).
    """
    when = f"{resume_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
    org = f"organisation {tenant}" if tenant else "the Xero organisation"
    if left_for_writes:
        state = (
            f"is nearly used up: {left_for_writes:,} calls are left, kept for writes (XERO_DAILY_RESERVE),"
            " so reading stopped cleanly"
        )
    else:
        state = "is used up, so syncing stopped cleanly"
    return Alert(
        kind="budget_exhausted",
        title="Xero's daily API limit is " + ("nearly used up" if left_for_writes else "used up"),
        detail=(
            f"Xero's daily call limit for {org} {state}; what was read is kept. Xero's window resets by"
            f" {when}. If this happens every day, other apps share the limit or the sync runs too often."
        ),
        fix_command=f"nothing before {when}; then `capsule-xero sync` (or wait for the next scheduled run)",
        key=f"budget_exhausted:{tenant or ''}:{resume_at.astimezone(UTC):%Y-%m-%d}",
    )


def _webhook_backlog(settings: Settings, now: datetime) -> list[Alert]:
    from capsule_xero.spool import Spool, SpoolLimits

    limits = SpoolLimits.of(settings)
    spool = Spool.at_home(settings.home, limits)
    age = spool.oldest_pending_age(now.timestamp())
    if age is None:
        return []
    pending = spool.pending_bytes()
    if pending < limits.max_pending_bytes and age < SPOOL_STALE_AFTER.total_seconds():
        return []
    return [webhook_backlog(pending, limits.max_pending_bytes, timedelta(seconds=age), str(spool.root))]


def webhook_backlog(pending_bytes: int, limit_bytes: int, oldest: timedelta, where: str) -> Alert:
    """Webhook deliveries wait in the spool and no sync takes them (full: they are refused too)."""
    full = pending_bytes >= limit_bytes
    hours = oldest.total_seconds() / 3600
    state = (
        f"is full ({pending_bytes / 1e6:,.0f} MB, WEBHOOK_SPOOL_MAX_MB): `capsule-xero webhooks serve` answers"
        " new deliveries 503. Xero retries them for 24 hours; Capsule retries five times, then drops the"
        " hook, which must then be subscribed again"
        if full
        else f"holds deliveries that have waited {hours:,.1f} hours ({pending_bytes / 1e6:,.1f} MB)"
    )
    return Alert(
        kind="webhook_backlog",
        title="Webhook events are not turned into syncs" + (": deliveries refused" if full else ""),
        detail=(
            f"The webhook spool {where} {state}. Nothing takes its events: the Dagster daemon is stopped"
            " or webhook_events_sensor is off. Capsule changes still sync through polling."
        ),
        fix_command=(
            "`capsule-xero ui`, then turn webhook_events_sensor on under Automation (and keep the Dagster"
            " daemon running)"
        ),
        key=f"webhook_backlog:{'full' if full else 'stale'}",
    )


def run_failed(run_name: str, error_summary: str, run_id: str | None = None) -> Alert:
    """A run that failed after its retries (from a Dagster run-failure sensor)."""
    first_line = (error_summary.strip().splitlines() or ["no error message"])[0]
    where = f" (run {run_id})" if run_id else ""
    return Alert(
        kind="run_failed",
        title=f"The {run_name} run failed",
        detail=f"{run_name}{where} failed after its retries: {first_line}",
        fix_command=(
            "`capsule-xero ui` shows the run's log; fix the cause it names, then `capsule-xero sync`"
            " (or re-run it from the UI)"
        ),
        key="run_failed:" + run_name + ":" + hashlib.sha256(first_line.encode()).hexdigest()[:16],
    )
