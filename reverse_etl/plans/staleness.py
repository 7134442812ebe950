"""Whether a stored plan still fits Xero and the rules (docs/architecture.md#the-ledger-and-the-outbox,
"Refuse a stale plan").

``check_plan_is_current`` (the apply loop calls it after a fresh Xero extract) raises
``StalePlanError`` when a Xero contact changed or appeared after the plan's ``xero_state_at`` (the
plan's own writes excepted, so an interrupted apply can resume), when a newer plan exists, or when the
rules changed.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import duckdb

from reverse_etl.ledger.schema import ensure_ledger
from reverse_etl.plans.approval import plural
from reverse_etl.plans.model import StalePlanError
from reverse_etl.plans.store import load_plan, no_such_plan, query
from reverse_etl.sqlfile import has_table

if TYPE_CHECKING:
    from capsule_xero.rules.model import Rules

# Contact ids shown in a staleness message; the count says how many there are in all.
STALE_IDS_SHOWN = 5
# The apply loop's tables: what a plan already sent (plans/sql/own_*.sql).
OWN_WRITES = {
    "written_contacts": "own_written",
    "operation_outcomes": "own_outcomes",
    "outbox": "own_outbox",
    "history_notes": "own_notes",
}


def own_contact_ids(con: duckdb.DuckDBPyConnection, plan_id: int) -> list[str]:
    """Contacts the plan itself has written or may have written (their UpdatedDateUTC moved because of it)."""
    own: set[str] = set()
    for table, name in OWN_WRITES.items():
        if has_table(con, "ledger", table):
            own.update(row[0] for row in con.execute(query(name), {"plan_id": plan_id}).fetchall())
    return sorted(own)


def check_plan_is_current(con: duckdb.DuckDBPyConnection, plan_id: int, rules: Rules | None = None) -> None:
    """Raise ``StalePlanError`` unless plan ``plan_id`` still fits Xero as extracted now (and ``rules``).

    Call it after a fresh Xero extract into ``raw.xero_contacts``. Stale when: any contact was changed
    or created in Xero after the plan's ``xero_state_at`` — except the plan's own writes (contacts in
    the ledger, the outcomes or the outbox of this plan, and contacts carrying the ContactNumber of one
    of its creates), so a plan whose apply was interrupted can be resumed; or a newer plan superseded
    it or any newer plan exists (it holds what is still to do); or ``rules`` (when given) have another
    fingerprint than the plan was made with.
    """
    ensure_ledger(con)
    plan = load_plan(con, plan_id)
    if plan is None:
        raise no_such_plan(con, plan_id)
    latest = load_plan(con)
    assert latest is not None
    if plan.status == "superseded" or latest.plan_id != plan_id:
        # A newer plan was made from a newer reconcile: it holds whatever of this one is still to do,
        # so sending this one as well would write older values over it.
        raise StalePlanError(
            f"Plan {plan_id} was superseded by plan {latest.plan_id}, made from a newer reconcile; "
            f"`capsule-xero plan` shows it.",
            plan_id=plan_id,
            superseded_by=latest.plan_id,
        )
    problems = []
    rules_changed = rules is not None and rules.fingerprint() != plan.rules_fingerprint
    if rules_changed:
        problems.append("the rules file changed since it was made")
    changed = _changed_contacts(con, plan_id)
    if changed:
        ids = [row[0] for row in changed]
        shown = ", ".join(ids[:STALE_IDS_SHOWN]) + (", …" if len(ids) > STALE_IDS_SHOWN else "")
        since = f"{plan.xero_state_at:%Y-%m-%d %H:%M:%S} UTC" if plan.xero_state_at else "an empty Xero"
        problems.append(
            f"{len(ids):,} Xero {plural(len(ids), 'contact')} changed or appeared after the state it was"
            f" computed against ({since}): {shown}"
        )
    if problems:
        again = "Run `capsule-xero plan --refresh` (or `capsule-xero sync`) to plan again."
        raise StalePlanError(
            f"Plan {plan_id} is out of date and was not applied: {'; '.join(problems)}. {again}",
            plan_id=plan_id,
            changed_contacts=len(changed),
            contact_ids=[row[0] for row in changed],
            rules_changed=rules_changed,
        )


def _changed_contacts(con: duckdb.DuckDBPyConnection, plan_id: int) -> list[tuple[str, str | None, datetime]]:
    """Xero contacts changed after the plan's state that are not its own writes (plans/sql/changed_contacts.sql)."""
    if not has_table(con, "raw", "xero_contacts"):
        return []
    return con.execute(
        query("changed_contacts"),
        {"plan_id": plan_id, "own_contact_ids": own_contact_ids(con, plan_id)},
    ).fetchall()
