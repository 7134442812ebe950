"""The figures of ``capsule-xero tenants overview``: per tenant, what ``capsule-xero status`` says of one
home, cut down to one row (last successful sync, plans waiting, error queue, calls left, token expiry).

A tenant's problem stays in its row: a tenant that never synced says "never", one whose DuckDB file a
sync holds says "busy" (opening the file then would stop that sync from writing it, as in status),
and a damaged file says so; the other rows are read all the same.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from capsule_xero.duckdb_file import (
    DuckDBFileDamaged,
    DuckDBFileProblem,
    damaged_reason,
    open_duckdb,
    problem,
)
from capsule_xero.home_lock import HomeBusy, home_lock
from capsule_xero.settings import Settings, SettingsError
from capsule_xero.tenants import TENANT_VARIABLE, Tenant, Tenants
from capsule_xero.xero.budget import OrganisationBudget, api_origin, budget_file_in, read_budgets
from capsule_xero.xero.token_store import TokenFileError, TokenSet, TokenStore
from cli.status import _ago

OVERVIEW_SQL = Path(__file__).parent / "sql" / "overview.sql"
# Shorter than status's READ_WAIT_SECONDS: every tenant may be syncing at night, and the overview
# waits for each busy one in turn; half a second still rides out a status or report reading the file.
BUSY_WAIT_SECONDS = 0.5


@dataclass
class TenantOverview:
    """One tenant's row. ``state``: ok | never (no DuckDB file yet) | busy (a sync holds it) |
    damaged | unreadable; ``problem`` is the one line saying why and what to do."""

    tenant: str
    state: str = "ok"
    last_sync: datetime | None = None
    plans_waiting: int | None = None
    error_queue: int | None = None
    calls_left: int | None = None
    calls: str = "not recorded"
    token_expires_at: datetime | None = None
    sign_in: str = "not signed in"
    problem: str | None = None
    busy_with: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant,
            "state": self.state,
            "last_successful_sync": _iso(self.last_sync),
            "plans_waiting": self.plans_waiting,
            "error_queue": self.error_queue,
            "calls_left_today": self.calls_left,
            "calls": self.calls,
            "token_refresh_expires_at": _iso(self.token_expires_at),
            "sign_in": self.sign_in,
            "busy_with": self.busy_with,
            "problem": self.problem,
        }


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment is not None else None


def overview(tenants: Tenants, now: datetime | None = None) -> list[TenantOverview]:
    """One row per tenant of the tenants file, in its order; never raises for one tenant's problem."""
    now = now or datetime.now(UTC)
    sign_in = _token_state(tenants.home, now)
    rows = []
    for tenant in tenants.by_name.values():
        row = TenantOverview(tenant.name)
        row.token_expires_at, row.sign_in = sign_in
        try:
            settings: Settings | None = Settings.from_env({**os.environ, TENANT_VARIABLE: tenant.name})
        except SettingsError:
            settings = None  # `tenants check` names it; the figures below need no Capsule setting
        _read_duckdb(tenants.folder(tenant) / "capsule_xero.duckdb", row)
        _budget(tenants.folder(tenant), tenant, settings, row, now)
        rows.append(row)
    return rows


def _read_duckdb(path: Path, row: TenantOverview) -> None:
    import duckdb

    from reverse_etl.sqlfile import SqlFile, has_table

    if not path.exists():
        row.state = "never"
        return
    sql = SqlFile(OVERVIEW_SQL)
    try:
        with (
            home_lock(path.parent, shared=True, wait=BUSY_WAIT_SECONDS),
            open_duckdb(path, read_only=True) as con,
        ):
            try:
                newest = [
                    sql.execute(con, name).fetchone()[0]
                    for name, schema, table in (
                        ("last_load", "raw", "_dlt_loads"),
                        ("last_plan", "ledger", "plans"),
                    )
                    if has_table(con, schema, table)
                ]
                row.last_sync = max((moment for moment in newest if moment is not None), default=None)
                row.plans_waiting = (
                    sql.execute(con, "plans_waiting").fetchone()[0]
                    if has_table(con, "ledger", "plans")
                    else 0
                )
                row.error_queue = (
                    sql.execute(con, "dead_errors").fetchone()[0]
                    if has_table(con, "ledger", "error_queue")
                    else 0
                )
            except duckdb.Error as exc:
                if damaged_reason(exc) is None:
                    raise
                raise problem(path, exc) from None
    except HomeBusy as busy:
        row.state = "busy"
        row.busy_with = busy.holder.describe() if busy.holder is not None else "another capsule-xero command"
    except DuckDBFileProblem as exc:
        row.state = "damaged" if isinstance(exc, DuckDBFileDamaged) else "unreadable"
        row.problem = str(exc)
    except (duckdb.Error, OSError) as exc:
        row.state = "unreadable"
        row.problem = (
            str(problem(path, exc)) if isinstance(exc, duckdb.Error) else f"Cannot read {path}: {exc}"
        )
    if row.state == "ok" and row.last_sync is None:
        row.state = "never"


def _budget(
    folder: Path, tenant: Tenant, settings: Settings | None, row: TenantOverview, now: datetime
) -> None:
    """The organisation's calls left today, from the tenant's budget record (read without a lock:
    status reads it the same way while a sync holds the DuckDB file)."""
    origin = api_origin(settings.xero_api_url) if settings is not None else None
    organisation = tenant.xero_tenant_id.lower()
    entries = [
        entry
        for entry in read_budgets(budget_file_in(folder))
        if entry.tenant == organisation and (origin is None or entry.api == origin)
    ]
    if not entries:
        return
    entry = max(entries, key=lambda e: e.seen_at or datetime.min.replace(tzinfo=UTC))
    row.calls_left, row.calls = _calls_left(entry, now)


def _calls_left(entry: OrganisationBudget, now: datetime) -> tuple[int | None, str]:
    until = f"{entry.resume_after.astimezone(UTC):%Y-%m-%d %H:%M} UTC" if entry.resume_after else ""
    if entry.used_up(now):
        return 0, f"0, used up until {until}"
    if entry.day_remaining is None or entry.seen_at is None:
        return None, "not recorded"
    if entry.figure_is_stale(now):
        return None, "unknown: the figure is older than Xero's 24-hour window"
    left = max(0, entry.day_remaining - entry.calls_since)
    if entry.stopped(now):
        return left, f"{left:,}, kept for writes until {until}"
    return left, f"{left:,} ({_ago(now - entry.seen_at)})"


def _token_state(token_home: Path, now: datetime) -> tuple[datetime | None, str]:
    """When the shared Xero sign-in's refresh token dies if unused, in words; never the token."""
    tokens: TokenSet | None = None
    try:
        tokens = TokenStore(token_home).load()
    except TokenFileError:
        return None, "unusable: run `capsule-xero auth login`"
    if tokens is None:
        return None, "not signed in: run `capsule-xero auth login`"
    expires = tokens.refresh_token_expires_at()
    if expires is None:
        return None, "custom connection (no refresh token)"
    if expires <= now:
        return expires, f"expired {expires.astimezone(UTC):%Y-%m-%d}: run `capsule-xero auth login`"
    return expires, f"{expires.astimezone(UTC):%Y-%m-%d %H:%M} UTC ({_days(expires - now)})"


def _days(left: timedelta) -> str:
    """Whole days left, rounded up: a token dying in 59 days and 23 hours has 60 days left."""
    days = -(-left // timedelta(days=1))
    return f"{days} day{'' if days == 1 else 's'}"
