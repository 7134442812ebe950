"""What Xero's webhooks will echo back to this tool: the contact writes it made since a moment, and
when its copy of Xero's contacts was last read."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb

from reverse_etl.sqlfile import SqlFile, has_table

SQL = SqlFile(Path(__file__).resolve().parent / "sql" / "echoes.sql")


def writes_since(con: duckdb.DuckDBPyConnection, since: datetime) -> dict[str, tuple[int, bool]]:
    """Contact id → (writes made to it at or after ``since``, whether all were updates); empty before
    the first apply."""
    if not has_table(con, "ledger", "operation_outcomes"):
        return {}
    rows = SQL.rows(con, "writes_since", {"since": since})
    return {row["contact_id"]: (row["writes"], row["only_updates"]) for row in rows}


def newest_xero_load(con: duckdb.DuckDBPyConnection) -> datetime | None:
    """When the newest copy of a Xero contact in ``raw.xero_contacts`` was read; None before any."""
    if not has_table(con, "raw", "xero_contacts"):
        return None
    ((loaded_at,),) = SQL.execute(con, "newest_xero_load").fetchall()
    return loaded_at
