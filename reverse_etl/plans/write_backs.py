"""Which Xero ContactIDs the Capsule field should hold and (as far as this tool knows) does not.

The apply loop writes them (reverse_etl/apply/write_back.py); a new plan counts them
(reverse_etl/plans/create.py), so a plan with nothing else to do still carries write-backs an earlier
run left pending (Capsule's hourly limit, a kill) and is not "empty". SQL: ``plans/sql/write_backs.sql``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb

from reverse_etl.sqlfile import fetch, has_table

WRITE_BACKS_SQL = Path(__file__).resolve().parent / "sql" / "write_backs.sql"


def write_backs_wanted(
    con: duckdb.DuckDBPyConnection,
    plan_id: int | None = None,
    *,
    updated_before: dict[int, Any] | None = None,
) -> dict[int, str]:
    """{party: ContactID}: plan ``plan_id``'s contacts first, then write-backs an earlier run left
    pending, then every matched party; minus parties deleted in Capsule, parties whose field already
    holds the ContactID (as last extracted), and ones written (or refused) already that Capsule has
    not changed since.

    ``updated_before`` receives each wanted party's Capsule ``updatedAt`` as staged: the write bumps
    it, and staging must not read this tool's own write as somebody's edit."""
    if not has_table(con, "ledger", "capsule_write_backs"):
        return {}
    candidates: dict[int, str] = {}
    if plan_id is not None and has_table(con, "ledger", "operation_outcomes"):
        for r in fetch(con, WRITE_BACKS_SQL, "plan_contacts", {"plan_id": plan_id}):
            candidates.setdefault(int(r["party_id"]), r["contact_id"])
    for r in fetch(con, WRITE_BACKS_SQL, "pending_write_backs"):
        candidates.setdefault(int(r["party_id"]), r["contact_id"])
    if has_table(con, "reconcile", "contact_matches") and has_table(con, "reconcile", "sync_scope"):
        for r in fetch(con, WRITE_BACKS_SQL, "matched_parties"):
            candidates.setdefault(int(r["party_id"]), r["contact_id"])
    if not candidates:
        return {}
    query = (
        "write_back_state"
        if has_table(con, "staging", "capsule_parties")
        else "write_back_state_without_staging"
    )
    states = {r["party_id"]: r for r in fetch(con, WRITE_BACKS_SQL, query, {"party_ids": list(candidates)})}
    wanted: dict[int, str] = {}
    for party_id, contact_id in candidates.items():
        state = states.get(party_id) or {}
        if state.get("is_deleted"):
            continue  # gone from Capsule: nothing to write into
        if (state.get("capsule_value") or "") == contact_id.lower():
            continue
        if state.get("written_id") == contact_id and state.get("written_state") in ("written", "failed"):
            changed_since = state.get("capsule_updated_at")
            if changed_since is None or changed_since <= state["written_at"]:
                continue  # written (or refused) already; Capsule has not changed the party since
        wanted[party_id] = contact_id
        if updated_before is not None:
            updated_before[party_id] = state.get("capsule_updated_at")
    return wanted
