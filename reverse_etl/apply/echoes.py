"""The contact writes this tool made since a moment: what Xero's webhooks will echo back to it."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb

from reverse_etl.sqlfile import SqlFile, has_table

SQL = SqlFile(Path(__file__).resolve().parent / "sql" / "echoes.sql")


def writes_since(con: duckdb.DuckDBPyConnection, since: datetime) -> dict[str, int]:
    """Contact id → writes made to it at or after ``since``; empty before the first apply."""
    if not has_table(con, "ledger", "operation_outcomes"):
        return {}
    return {row["contact_id"]: row["writes"] for row in SQL.rows(con, "writes_since", {"since": since})}
